package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/rules"
)

// suggestLogs are the shared fixtures, the sample trail and a generated tree.
func suggestLogs(t *testing.T) []string {
	t.Helper()
	gen := t.TempDir()
	if out, err := exec.Command("go", "run", "../../test/gen", "-out", gen, "-records", "3000", "-files", "3", "-seed", "5").CombinedOutput(); err != nil {
		t.Fatalf("test/gen: %v\n%s", err, out)
	}
	return []string{"../../test/testdata/records", "../../test/testdata/sample-logs", gen}
}

type checkLine struct {
	EventID, Verdict, Rule, ErrorCode, Location string
	Reasons                                     []string
}

// sessionMoved reports whether the finding is a session used from another
// network: the fixtures share one session key across files, used from
// several networks, and no allowlist entry can (or should) allow that.
func (l checkLine) sessionMoved() bool {
	return slices.ContainsFunc(l.Reasons, func(r string) bool { return strings.HasPrefix(r, "session-moved:") })
}

func checkJSON(t *testing.T, allowlist string, logs []string) []checkLine {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(append([]string{"check", "--format", "json", "--allowlist", allowlist}, logs...), nil, &stdout, &stderr)
	if code == exitUsage {
		t.Fatalf("check: exit %d\n%s", code, stderr.String())
	}
	var out []checkLine
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l checkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// TestSuggestRoundTrip: suggest's output passes the strict loader, and
// check with it on the same logs finds every successful call allowed; what
// it calls unauthorized is only failed calls (errorCode), each listed in
// the output's failed-calls block (unless a successful call of the same
// caller made an entry that covers it).
func TestSuggestRoundTrip(t *testing.T) {
	logs := suggestLogs(t)
	var stdout, stderr bytes.Buffer
	if code := Run(append([]string{"suggest"}, logs...), nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("suggest: exit %d\n%s", code, stderr.String())
	}
	path := filepath.Join(t.TempDir(), "suggested.yaml")
	if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Load(path); err != nil {
		t.Fatalf("the suggestion does not load: %v\n%s", err, stdout.String())
	}
	var allowed, denied int
	for _, l := range checkJSON(t, path, logs) {
		switch l.Verdict {
		case "allowed":
			allowed++
		case "unauthorized":
			if l.ErrorCode == "" && !l.sessionMoved() {
				t.Errorf("successful call unauthorized: %+v", l)
			}
			denied++
		}
	}
	if allowed < 1000 {
		t.Fatalf("%d allowed: the logs do not exercise suggest", allowed)
	}
	if !strings.Contains(stdout.String(), "# Failed calls (errorCode set)") {
		t.Errorf("no failed-calls block:\n%s", stdout.String())
	}
	t.Logf("%d calls allowed by the suggestion, %d failed calls left unauthorized", allowed, denied)
}

// TestSuggestAgainst: against the example allowlist, the entries that saw
// no traffic are named, and the example plus the suggested additions allow
// every successful call.
func TestSuggestAgainst(t *testing.T) {
	logs := suggestLogs(t)
	dir := t.TempDir()
	// The example, plus an entry no record matches.
	example, err := os.ReadFile("../../rules/allowlist.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	unused := strings.Replace(string(example), "allow:\n", "allow:\n  - name: never-used\n    accounts: [\"000000000000\"]\n", 1)
	existing := filepath.Join(dir, "existing.yaml")
	if err := os.WriteFile(existing, []byte(unused), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run(append([]string{"suggest", "--against", existing}, logs...), nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("suggest --against: exit %d\n%s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "# Entries that saw no traffic (candidates to remove):\n#   never-used (") {
		t.Errorf("never-used is not listed as unused:\n%s", out)
	}
	if !strings.Contains(out, "#   etl (") {
		t.Errorf("etl is not listed with its traffic:\n%s", out)
	}
	additions := filepath.Join(dir, "additions.yaml")
	if err := os.WriteFile(additions, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Load(additions); err != nil {
		t.Fatalf("the additions do not load: %v\n%s", err, out)
	}
	after := map[string]checkLine{}
	for _, l := range checkJSON(t, additions, logs) {
		after[l.Location] = l
	}
	newly := 0
	for _, b := range checkJSON(t, existing, logs) {
		if b.Verdict == "unauthorized" && b.ErrorCode == "" && !b.sessionMoved() {
			if a := after[b.Location]; a.Verdict != "allowed" {
				t.Errorf("not allowed by the example nor by the additions: %+v (additions: %+v)", b, a)
			}
			newly++
		}
	}
	if newly == 0 {
		t.Fatal("the example allows every call: the test proves nothing")
	}
	t.Logf("%d calls newly allowed by the additions", newly)
}
