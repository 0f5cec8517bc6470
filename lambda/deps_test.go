package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFunctionHoldsTheFunctionOnly: the deployed bootstrap links none of
// the operator's commands (check's report, the progress bar, doctor's
// clients) and never jsii or the CDK; every byte of it is cold start.
// Built as the stack builds it, with lambda.norpc (net/rpc would bring
// html/template).
func TestFunctionHoldsTheFunctionOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, "github.com/s3xguard/s3xguard/lambda/handler") {
		t.Fatalf("go list output does not look like the function's dependencies:\n%s", out)
	}
	banned := []string{
		"github.com/s3xguard/s3xguard/lambda/cli",
		"github.com/s3xguard/s3xguard/lambda/doctor",
		"github.com/s3xguard/s3xguard/rules/suggest",
		"github.com/schollz/progressbar",
		"golang.org/x/term",
		"jsii", "aws-cdk-go", "constructs-go", "cdk-nag",
		"text/template", "html/template", // reflection on methods keeps every exported method linked
	}
	for _, pkg := range deps {
		for _, b := range banned {
			if strings.Contains(pkg, b) {
				t.Errorf("the function links %s (banned: %s)", pkg, b)
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
