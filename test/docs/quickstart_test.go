package docs

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/test/harness"
)

// quickStartStep returns the command lines of the README's quick start
// step that starts with marker (its indented code lines, comments cut).
func quickStartStep(t *testing.T, readme, marker string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, marker)
	if !ok {
		t.Fatalf("README.md: no quick start step %q", marker)
	}
	var lines []string
	started := false
	for _, l := range strings.Split(rest, "\n") {
		if strings.HasPrefix(l, "    ") {
			started = true
			cmd, _, _ := strings.Cut(strings.TrimSpace(l), "#")
			lines = append(lines, strings.Join(strings.Fields(cmd), " "))
		} else if started && strings.TrimSpace(l) != "" {
			break
		}
	}
	return lines
}

// TestQuickStart follows the README's quick start as a new user would, on
// the bundled sample logs and for an account of their own: a first
// allowlist from `suggest`, `check` with it, then step 3's commands in
// infra/ with the real CDK CLI, `deploy` replaced by `synth` (no AWS
// here) and `bootstrap` left out. The synthesized stage is the user's
// account and region, guarding the user's bucket with the user's
// allowlist and paging the user's address.
func TestQuickStart(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	step2 := quickStartStep(t, string(readme), "**2. Check your own logs first.**")
	step3 := quickStartStep(t, string(readme), "**3. Configure and deploy.**")
	for _, want := range []string{"s3xguard suggest logs/ > allowlist.yaml", "s3xguard check --allowlist allowlist.yaml logs/"} {
		if !contains(step2, want) {
			t.Fatalf("README quick start step 2 is %q; the test runs %q: keep them in step", step2, want)
		}
	}
	for _, want := range []string{"cd infra", "npm ci", "cp s3xguard.example.json s3xguard.json", "npx cdk deploy --all -c config=s3xguard.json"} {
		if !contains(step3, want) {
			t.Fatalf("README quick start step 3 is %q; the test runs %q: keep them in step", step3, want)
		}
	}
	npx, err := exec.LookPath("npx")
	if err != nil || !fileExists(filepath.Join(root, "infra", "node_modules", ".bin", "cdk")) {
		if os.Getenv("S3XGUARD_REQUIRE_TOOLS") == "1" {
			t.Fatalf("the CDK CLI is not installed in infra/node_modules (test/run installs it): %v", err)
		}
		t.Skip("the CDK CLI is not installed (test/run installs it)")
	}

	// Step 2, on the bundled sample logs.
	dir := t.TempDir()
	bin := filepath.Join(dir, "s3xguard")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "lambda", "cmd", "s3xguard")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logs := filepath.Join(root, "test", "testdata", "sample-logs")
	allowlist := filepath.Join(dir, "allowlist.yaml")
	suggest := exec.Command(bin, "suggest", logs)
	var stderr bytes.Buffer
	suggest.Stderr = &stderr
	yaml, err := suggest.Output()
	if err != nil {
		t.Fatalf("s3xguard suggest: %v\n%s", err, stderr.String())
	}
	if err := os.WriteFile(allowlist, yaml, 0o644); err != nil {
		t.Fatal(err)
	}
	check := exec.Command(bin, "check", "--allowlist", allowlist, logs)
	out, err := check.CombinedOutput()
	if code := check.ProcessState.ExitCode(); code != 0 && code != 1 {
		t.Fatalf("s3xguard check with the suggested allowlist: exit %d (%v)\n%s", code, err, out)
	}
	if !regexp.MustCompile(`\d+ records`).Match(out) {
		t.Fatalf("s3xguard check says nothing of what it read:\n%s", out)
	}

	// Step 3: the example config, edited as the README says.
	example, err := os.ReadFile(filepath.Join(root, "infra", "s3xguard.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(example, &cfg); err != nil {
		t.Fatal(err)
	}
	const account, region, bucket, email = "444455556666", "eu-west-1", "orders--euw1-az1--x-s3", "oncall@example.org"
	cfg["targets"] = []map[string]string{{"account": account, "region": region}}
	cfg["buckets"] = []string{bucket}
	cfg["allowlist"] = allowlist
	cfg["subscriptions"] = map[string]any{"email": []string{email}}
	delete(cfg, "breakGlassRoleArn") // alert mode needs none; the example's names the example account
	cfg["responseMode"] = "alert"
	edited, _ := json.MarshalIndent(cfg, "", "  ")
	config := filepath.Join(dir, "s3xguard.json")
	if err := os.WriteFile(config, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	assembly := filepath.Join(dir, "cdk.out")
	synth := exec.Command(npx, "cdk", "synth", "-c", "config="+config, "-o", assembly, "--quiet")
	synth.Dir = filepath.Join(root, "infra")
	if out, err := synth.CombinedOutput(); err != nil {
		t.Fatalf("npx cdk synth -c config=%s: %v\n%s", config, err, out)
	}
	templates, _ := filepath.Glob(filepath.Join(assembly, "assembly-s3xguard-"+account+"-"+region, "*.template.json"))
	if len(templates) != 1 {
		t.Fatalf("want one template for the stage of %s/%s, got %v", account, region, templates)
	}
	tpl, err := os.ReadFile(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(tpl, &doc); err != nil {
		t.Fatal(err)
	}
	var guarded, paged bool
	for _, r := range doc.Resources {
		switch r.Type {
		case "AWS::Lambda::Function":
			vars, _ := r.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
			guarded = vars["GUARDED_BUCKETS"] == bucket && vars["RESPONSE_MODE"] == "alert"
		case "AWS::SNS::Subscription":
			paged = paged || (r.Properties["Protocol"] == "email" && r.Properties["Endpoint"] == email)
		}
	}
	if !guarded || !paged {
		t.Errorf("the synthesized stack guards %s in alert mode: %v; pages %s: %v", bucket, guarded, email, paged)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
