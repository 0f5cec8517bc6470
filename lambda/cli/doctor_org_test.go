package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/s3xguard/s3xguard/lambda/doctor"
	"github.com/s3xguard/s3xguard/test/harness"
)

// TestDoctorOrg runs `doctor --org-role` against moto, which keeps each
// account's resources apart and switches account on AssumeRole: a correct
// deployment in one account, a disabled rule in a second, nothing in a
// third. Each gets its own line with its own account's finding.
func TestDoctorOrg(t *testing.T) {
	moto := harness.StartMoto(t)
	for k, v := range harness.FunctionEnv(moto.URL) {
		t.Setenv(k, v)
	}
	const good, broken, empty = "111111111111", "222222222222", "333333333333"
	ctx := context.Background()
	in := func(account string) aws.Config {
		cfg := harness.SetupConfig(moto.URL)
		out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + account + ":role/setup"), RoleSessionName: aws.String("setup")})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		cfg.Credentials = credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
		return cfg
	}
	deployment{account: good}.setUp(t, in(good))
	deployment{account: broken, ruleDisabled: true}.setUp(t, in(broken))

	list := filepath.Join(t.TempDir(), "accounts")
	if err := os.WriteFile(list, []byte(good+"\n"+broken+"\n"+empty+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Run([]string{"doctor", "--format", "json", "--org-role", "s3xguard-doctor", "--accounts", "@" + list, "--regions", harness.Region}, nil, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d; want 1 (two accounts not ok)\nstderr: %s", code, stderr.String())
	}
	var lines []doctor.Line
	for dec := json.NewDecoder(&stdout); dec.More(); {
		var l doctor.Line
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines; want one per account and region (3): %+v", len(lines), lines)
	}
	for i, want := range []struct {
		account string
		status  doctor.Status
		message string
	}{
		{good, doctor.OK, "function arn:aws:lambda:us-east-1:" + good + ":function:s3xguard"},
		{broken, doctor.Fail, "rule: "},
		{empty, doctor.Fail, "function: function s3xguard"},
	} {
		l := lines[i]
		if l.Account != want.account || l.Region != harness.Region || l.Status != want.status || !strings.Contains(l.Message, want.message) {
			t.Errorf("line %d: %s %s %s %q; want %s %s %s containing %q", i, l.Status, l.Account, l.Region, l.Message, want.status, want.account, harness.Region, want.message)
		}
	}
	// The text format: the same verdicts, one line each.
	var text bytes.Buffer
	if c := Run([]string{"doctor", "--org-role", "s3xguard-doctor", "--accounts", good + "," + broken + "," + empty, "--regions", harness.Region}, nil, &text, &stderr); c != 1 {
		t.Errorf("text format: exit %d; want 1", c)
	}
	t.Logf("text:\n%s", text.String())
	got := strings.Split(strings.TrimSpace(text.String()), "\n")
	if len(got) != 3 || !strings.HasPrefix(got[0], "ok    "+good+"  us-east-1") || !strings.HasPrefix(got[1], "fail  "+broken+"  us-east-1") || !strings.HasPrefix(got[2], "fail  "+empty+"  us-east-1") {
		t.Errorf("text:\n%s", text.String())
	}
	// Only the good account: exit 0.
	text.Reset()
	if c := Run([]string{"doctor", "--org-role", "s3xguard-doctor", "--accounts", good, "--regions", harness.Region}, nil, &text, &stderr); c != 0 {
		t.Errorf("one good account: exit %d; want 0\n%s", c, text.String())
	}
}

func TestDoctorOrgUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--org-role", "r", "--regions", "us-east-1"}, "--org-role needs --accounts"},
		{[]string{"--org-role", "r", "--accounts", "111111111111"}, "--org-role needs --regions"},
		{[]string{"--org-role", "r", "--accounts", "1111", "--regions", "us-east-1"}, `--accounts: "1111": want 12-digit account IDs`},
		{[]string{"--org-role", "r", "--accounts", "@/nonexistent/accounts", "--regions", "us-east-1"}, "/nonexistent/accounts"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(append([]string{"doctor"}, tt.args...), nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}
