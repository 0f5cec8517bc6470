package rules

import (
	"os/exec"
	"strings"
	"testing"
)

// archived modules: no fixes come from them any more, security ones
// included. gopkg.in/yaml.v3 was archived in April 2025; go.yaml.in/yaml/v3
// is its maintained continuation, API for API.
var archived = []string{"gopkg.in/yaml.v3"}

// TestNoArchivedModules: nothing the module builds or tests, the allowlist
// parser first, links an archived module.
func TestNoArchivedModules(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-test", "./...")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, "github.com/s3xguard/s3xguard/rules") {
		t.Fatalf("go list output does not look like the module's dependencies:\n%s", out)
	}
	for _, pkg := range deps {
		for _, a := range archived {
			if pkg == a || strings.HasPrefix(pkg, a+"/") {
				t.Errorf("the module links %s, which is archived", pkg)
			}
		}
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
