package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/test/harness"
)

// asffImportBlock is the shell block lambda/cli/README.md gives for
// importing `check --format asff` into Security Hub.
func asffImportBlock(t *testing.T) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(root, "lambda", "cli", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(text), "<!-- asff-import -->")
	if !ok {
		t.Fatal("lambda/cli/README.md: no <!-- asff-import --> block")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	block, _, _ := strings.Cut(rest, "```")
	return block
}

// TestASFFImportOneLiner runs the README's import block as written (its
// `s3xguard` is the binary, its `aws` the AWS CLI, pointed at moto) over
// 230 findings: every call imports all of its batch (FailedCount 0), no
// batch exceeds 100, and Security Hub then holds every finding.
func TestASFFImportOneLiner(t *testing.T) {
	// The block's aws and jq are the ones test/tools.sh installs (the AWS
	// CLI from test/requirements.txt, jq from Debian).
	awsCLI, jq := harness.Tool(t, "AWS_CLI"), harness.Tool(t, "JQ")
	w := newWorld(t, nil)
	dir := t.TempDir()
	const n = 230
	var records []json.RawMessage
	for range n {
		var e struct{ Detail json.RawMessage }
		if err := json.Unmarshal(ev{principal: session("writer")}.json(), &e); err != nil {
			t.Fatal(err)
		}
		records = append(records, e.Detail)
	}
	logs := filepath.Join(dir, "trail-logs")
	os.MkdirAll(logs, 0o755)
	body, _ := json.Marshal(map[string]any{"Records": records})
	if err := os.WriteFile(filepath.Join(logs, "123456789012_CloudTrail_us-east-1_20261206T0300Z_x.json"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "rules", "allowlist.yaml"), []byte(allowlist), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	for name, target := range map[string]string{"s3xguard": harness.Build(t, "./lambda/cmd/s3xguard"), "aws": awsCLI, "jq": jq} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	// pipefail off, as in an interactive shell: check exits 1 when it
	// finds something, which is the point here.
	cmd := exec.Command("bash", "-c", asffImportBlock(t))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range harness.FunctionEnv(w.moto.URL) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the README's import block: %v\n%s%s", err, out, stderr.String())
	}
	counts := strings.Fields(string(out))
	if len(counts) != 3 || strings.Join(counts, " ") != "0 0 0" {
		t.Errorf("FailedCount per call = %q; want 0 for each of 3 batches (100, 100, 30)", out)
	}
	if got := len(w.findings()); got != n {
		t.Errorf("Security Hub holds %d findings; want %d", got, n)
	}
}
