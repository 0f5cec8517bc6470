package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/finding"
	"github.com/s3xguard/s3xguard/test/asff"
	"github.com/s3xguard/s3xguard/test/harness"
)

// findingInputs hold every kind of finding: unauthorized (cross-account,
// failed, IPv6 through a VPC endpoint, an AWS service's name as source),
// session-moved with its session, invalid (no userIdentity, duplicate
// names, broken JSON), and records naming no account or region.
var findingInputs = []string{"testdata/findings", "../../test/testdata/records"}

// runFindings runs check with format over findingInputs.
func runFindings(t *testing.T, format string) (stdout []byte, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	args := append([]string{"check", "--allowlist", "../../rules/allowlist.example.yaml", "--format", format, "--jobs", "1"}, findingInputs...)
	code = Run(args, strings.NewReader(""), &out, &errb)
	return out.Bytes(), errb.String(), code
}

func lines(b []byte) [][]byte {
	var ls [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ls = append(ls, bytes.Clone(sc.Bytes()))
	}
	return ls
}

// TestFindingFormatsMatchJSON: --format asff and ocsf write one line per
// finding (unauthorized or invalid, never allowed or ignored), with the
// exit status and summary of --format json.
func TestFindingFormatsMatchJSON(t *testing.T) {
	js, jsErr, jsCode := runFindings(t, "json")
	want := map[string]int{} // kinds of the findings --format json reports
	var findings int
	for _, l := range lines(js) {
		var rec struct {
			Verdict string   `json:"verdict"`
			Reasons []string `json:"reasons"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Verdict == "unauthorized" || rec.Verdict == "invalid" {
			findings++
			k := rec.Verdict
			for _, r := range rec.Reasons {
				if strings.HasPrefix(r, "session-moved:") {
					k = "session-moved"
				}
			}
			want[k]++
		}
	}
	for _, k := range []string{"unauthorized", "invalid", "session-moved"} {
		if want[k] == 0 {
			t.Fatalf("the inputs hold no %s finding: %v", k, want)
		}
	}
	summary := func(s string) string { return s[:strings.Index(s, "; ")] }

	ocsf, ocsfErr, ocsfCode := runFindings(t, "ocsf")
	if ocsfCode != jsCode || jsCode != exitFindings || summary(ocsfErr) != summary(jsErr) {
		t.Fatalf("ocsf: exit %d, stderr %q; json: exit %d, stderr %q", ocsfCode, ocsfErr, jsCode, jsErr)
	}
	got := map[string]int{}
	ids := map[string]string{} // finding ID -> its record's event ID (or location)
	for _, l := range lines(ocsf) {
		var ev struct {
			API struct {
				Request struct {
					UID string `json:"uid"`
				} `json:"request"`
			} `json:"api"`
			Unmapped struct {
				Location string `json:"location"`
			} `json:"unmapped"`
			Info struct {
				UID   string   `json:"uid"`
				Types []string `json:"types"`
			} `json:"finding_info"`
		}
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatal(err)
		}
		got[ev.Info.Types[0]]++
		// The same event read twice is the same finding (a re-import
		// updates it); different events never share an ID.
		src := ev.API.Request.UID
		if src == "" {
			src = ev.Unmapped.Location
		}
		if prev, ok := ids[ev.Info.UID]; ok && prev != src {
			t.Errorf("finding ID %s for %s and %s", ev.Info.UID, prev, src)
		}
		ids[ev.Info.UID] = src
	}
	if len(got) != len(want) || got["unauthorized"] != want["unauthorized"] || got["invalid"] != want["invalid"] || got["session-moved"] != want["session-moved"] {
		t.Errorf("ocsf findings by kind %v; json's %v", got, want)
	}

	// ASFF: every finding whose record names its account and region; the
	// others are warned about, and counted in the exit status.
	as, asErr, asCode := runFindings(t, "asff")
	if asCode != exitFindings {
		t.Fatalf("asff: exit %d, stderr %q", asCode, asErr)
	}
	skipped := strings.Count(asErr, "no ASFF finding for this")
	if n := len(lines(as)); n+skipped != findings || n == 0 {
		t.Errorf("asff: %d findings and %d warned about; json has %d findings", n, skipped, findings)
	}
	// Allowed records only, even with --show all: no output, exit 0.
	for _, format := range []string{"asff", "ocsf"} {
		var out, errb bytes.Buffer
		if code := Run([]string{"check", "--allowlist", "../../rules/allowlist.example.yaml", "--format", format, "--show", "all", "../../test/testdata/records/zonal-getobject-etl.json"}, nil, &out, &errb); code != exitOK || out.Len() != 0 {
			t.Errorf("%s, an allowed record: exit %d, output %q", format, code, out.String())
		}
	}
}

// TestCheckASFFValid runs the ASFF validator (written from AWS's
// reference, test/asff) over every finding check writes.
func TestCheckASFFValid(t *testing.T) {
	out, _, _ := runFindings(t, "asff")
	for i, l := range lines(out) {
		for _, err := range asff.Validate(l) {
			t.Errorf("finding %d: %v\n%s", i+1, err, l)
		}
		if bytes.ContainsRune(l, '\u202e') {
			t.Errorf("finding %d: a bidi override written raw: %s", i+1, l)
		}
	}
}

// TestCheckOCSFValid validates check's OCSF output against the Detection
// Finding schema the OCSF project publishes for finding.OCSFVersion
// (test/ocsf/validate.py), and proves the validation can fail.
func TestCheckOCSFValid(t *testing.T) {
	python := harness.Tool(t, "S3XGUARD_PYTHON")
	out, _, _ := runFindings(t, "ocsf")
	validate := func(data []byte) (string, error) {
		path := filepath.Join(t.TempDir(), "findings.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command(python, "../../test/ocsf/validate.py", finding.OCSFVersion, path).CombinedOutput()
		return string(b), err
	}
	if msg, err := validate(out); err != nil {
		t.Fatalf("check's OCSF output breaks the schema: %v\n%s", err, msg)
	}
	// The same output with one field broken must fail.
	for _, c := range []struct{ from, to string }{
		{`"severity_id":3`, `"severity_id":7`},
		{`"class_uid":2004`, `"class_uid":"2004"`},
		{`"ip":"203.0.113.9"`, `"ip":"AWS Internal"`},
		{`"type_uid":200401`, `"type_uid":200402`},
	} {
		broken := bytes.Replace(out, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(broken, out) {
			t.Fatalf("%s not in the output", c.from)
		}
		if msg, err := validate(broken); err == nil {
			t.Errorf("%s -> %s passed the schema:\n%s", c.from, c.to, msg)
		}
	}
}
