package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The test binary is also the app: with S3XGUARD_INFRA_MAIN set it runs
// main, so the tests see its exit status and output.
func TestMain(m *testing.M) {
	if os.Getenv("S3XGUARD_INFRA_MAIN") != "" {
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("S3XGUARD_INFRA_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runApp(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "S3XGUARD_INFRA_MAIN=1", "S3XGUARD_INFRA_ARGS="+strings.Join(args, " "))
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run the app: %v", err)
	}
	return cmd.ProcessState.ExitCode(), errb.String()
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args    []string
		want    map[string]any
		wantErr string
	}{
		{nil, map[string]any{}, ""},
		{[]string{"-c", "config=prod.json"}, map[string]any{"config": "prod.json"}, ""},
		{[]string{"--context", "config=a.json", "-c=x=1=2", "--context=y="}, map[string]any{"config": "a.json", "x": "1=2", "y": ""}, ""},
		{[]string{"config=prod.json"}, nil, `unknown argument "config=prod.json"`},
		{[]string{"-c", "config=prod.json", "--profile", "p"}, nil, `unknown argument "--profile"`},
		{[]string{"-c"}, nil, "-c needs KEY=VALUE"},
		{[]string{"-c", "config"}, nil, `context "config": want KEY=VALUE`},
		{[]string{"--context", "=v"}, nil, `context "=v": want KEY=VALUE`},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errUsage) {
				t.Errorf("parseArgs(%q): error %v; want %q, a usage error", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseArgs(%q) = %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}

// TestUnknownArgumentRefused: `go run . --config prod.json` once
// synthesized the example configuration without a word.
func TestUnknownArgumentRefused(t *testing.T) {
	for _, args := range [][]string{{"--config", "prod.json"}, {"-c", "config=prod.json", "extra"}} {
		code, stderr := runApp(t, args...)
		if code != 2 || !strings.Contains(stderr, "unknown argument") || !strings.Contains(stderr, "usage: go run . [-c KEY=VALUE ...]") {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2, the unknown argument named and the usage", args, code, stderr)
		}
	}
}

// TestContextArgumentReachesConfig: -c config=FILE on the app's own command
// line is the file loaded (the CDK CLI's -c reaches it through the
// environment instead).
func TestContextArgumentReachesConfig(t *testing.T) {
	requireNode(t)
	missing := filepath.Join(t.TempDir(), "missing.json")
	code, stderr := runApp(t, "-c", "config="+missing)
	if code != 1 || !strings.Contains(stderr, missing) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming %s", code, stderr, missing)
	}
}

// TestNodeMeetsEngines: the node on PATH (test/tools.sh puts the one
// infra/package.json pins first) is one package.json's engines accept;
// the CDK's Go library and CLI both run on it.
func TestNodeMeetsEngines(t *testing.T) {
	requireNode(t)
	data, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Engines struct{ Node string } `json:"engines"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	min, ok := strings.CutPrefix(pkg.Engines.Node, ">=")
	minMajor, err := strconv.Atoi(strings.Split(min, ".")[0])
	if !ok || err != nil {
		t.Fatalf("package.json engines.node %q: want >=MAJOR", pkg.Engines.Node)
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	major, err := strconv.Atoi(strings.Split(strings.TrimPrefix(v, "v"), ".")[0])
	if err != nil {
		t.Fatalf("node --version %q: %v", v, err)
	}
	if major < minMajor {
		p, _ := exec.LookPath("node")
		msg := fmt.Sprintf("node %s (%s) is older than package.json's engines %q: source test/tools.sh", v, p, pkg.Engines.Node)
		if os.Getenv("S3XGUARD_REQUIRE_TOOLS") == "" {
			t.Skip(msg) // an old node is a missing tool, as node missing is
		}
		t.Error(msg)
	}
}

func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("S3XGUARD_REQUIRE_TOOLS") != "" {
			t.Fatal("node is not on PATH")
		}
		t.Skip("node is not on PATH (source test/tools.sh)")
	}
}
