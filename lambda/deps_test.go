package main

import (
	"os/exec"
	"path/filepath"
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

// TestFunctionLinksNoSDKClientOfItsOwnCalls: the SDK's clients of the
// calls lambda/awscall sends stay out of the function. Security Hub's
// (its operations' serializers and deserializers, and through them every
// ASFF type: 3.6 MiB of the arm64 bootstrap): lambda/securityhub sends the
// ASFF JSON itself. EventBridge's (0.44 MiB for PutEvents alone): the
// alert bus emitter (lambda/handler/bus.go) sends PutEvents itself. Only
// the SDK's endpoint rules of either may be linked. Checked on the linked
// symbols, not the imports: importing a service package for its endpoint
// resolver is fine, linking its client is not.
func TestFunctionLinksNoSDKClientOfItsOwnCalls(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	syms := strings.Split(string(out), "\n")
	if len(syms) < 1000 || !strings.Contains(string(out), "lambda/handler.(*Handler).Invoke") {
		t.Fatalf("%d symbols, without the handler's: not the function's symbol table", len(syms))
	}
	banned := []string{
		"service/securityhub.(*Client)",       // the SDK's client and its operations
		"service/securityhub.awsRestjson1_",   // their (de)serializers
		"service/securityhub.(*awsRestjson1_", // their middlewares
		"service/securityhub/types.",          // the ASFF types
		"service/securityhub/document.",
		"service/eventbridge.(*Client)",   // the SDK's client and its operations
		"service/eventbridge.(*PutEvents", // PutEvents' input and output (de)serializers
		"service/eventbridge.serialize",   // the operations' members
		"service/eventbridge.deserialize",
	}
	found := map[string]int{}
	for _, s := range syms {
		for _, b := range banned {
			if strings.Contains(s, b) {
				found[b]++
			}
		}
	}
	for b, n := range found {
		t.Errorf("the function links %d symbols of %s", n, b)
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
