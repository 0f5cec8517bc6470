package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A member whose clients cannot be had fails with the reason; the others
// are still checked, and lines keep the members' order.
func TestRunOrgUnreachable(t *testing.T) {
	members := []Member{{"111111111111", "us-east-1"}, {"222222222222", "us-east-1"}, {"111111111111", "eu-west-1"}}
	denied := errors.New("AccessDenied: not authorized to perform sts:AssumeRole")
	lines := RunOrg(context.Background(), members, func(_ context.Context, m Member) (Clients, error) {
		return Clients{}, denied
	}, Config{Function: "s3xguard"})
	if len(lines) != 3 {
		t.Fatalf("%d lines; want 3", len(lines))
	}
	for i, l := range lines {
		if l.Member != members[i] || l.Status != Fail || !strings.Contains(l.Message, "AccessDenied") || !strings.Contains(l.Message, members[i].Account) {
			t.Errorf("line %d: %+v; want a failure of %v naming the denial", i, l, members[i])
		}
	}
}

func TestSummarize(t *testing.T) {
	m := Member{"111111111111", "us-east-1"}
	for _, tt := range []struct {
		name     string
		findings []Finding
		status   Status
		message  string
	}{
		{"all ok", []Finding{{OK, "function", "function F: alert mode", ""}, {OK, "rule", "r", ""}}, OK, "2 checks ok; function F: alert mode"},
		{"worst wins", []Finding{{OK, "function", "f", ""}, {Warn, "sms", "limit", "x"}, {Fail, "trail", "no trail", "y"}}, Fail, "trail: no trail (and 1 more not ok)"},
		{"first of equals", []Finding{{Warn, "sms", "limit", "x"}, {Warn, "subscriptions", "none", "y"}}, Warn, "sms: limit (and 1 more not ok)"},
		{"one warning", []Finding{{OK, "function", "f", ""}, {Warn, "sms", "limit", "x"}}, Warn, "sms: limit"},
		{"nothing", nil, Fail, "no findings"},
	} {
		l := summarize(m, tt.findings)
		if l.Status != tt.status || l.Message != tt.message {
			t.Errorf("%s: %s %q; want %s %q", tt.name, l.Status, l.Message, tt.status, tt.message)
		}
	}
}
