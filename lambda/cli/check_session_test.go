package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

var sessT0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// createSession is a CreateSession record of the etl role (path pipelines/)
// returning key, made at minute min from ip.
func createSession(id, key string, min int, ip string) string {
	return fmt.Sprintf(`{"eventID":%q,"eventTime":%q,"eventSource":"s3express.amazonaws.com","eventName":"CreateSession","sourceIPAddress":%q,`+
		`"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/etl-loader/j","accountId":"111122223333","accessKeyId":"ASIAIAMKEY",`+
		`"sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/pipelines/etl-loader"}}},`+
		`"requestParameters":{"bucketName":"analytics--use1-az4--x-s3","x-amz-create-session-mode":"ReadOnly"},`+
		`"responseElements":{"credentials":{"accessKeyId":%q,"expiration":"x"}}}`,
		id, sessT0.Add(time.Duration(min)*time.Minute).Format(time.RFC3339), ip, key)
}

// getObject is a zonal call of the etl role signed with key.
func getObject(id, key string, min int, ip string) string {
	return fmt.Sprintf(`{"eventID":%q,"eventTime":%q,"eventSource":"s3express.amazonaws.com","eventName":"GetObject","sourceIPAddress":%q,`+
		`"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/etl-loader/j","accountId":"111122223333","accessKeyId":%q},`+
		`"requestParameters":{"bucketName":"analytics--use1-az4--x-s3","key":"k"}}`,
		id, sessT0.Add(time.Duration(min)*time.Minute).Format(time.RFC3339), ip, key)
}

// inRegion puts rec in account 111122223333's region.
func inRegion(region, rec string) string {
	return `{"awsRegion":"` + region + `","recipientAccountId":"111122223333",` + rec[1:]
}

func trail(records ...string) string { return `{"Records":[` + strings.Join(records, ",\n") + "]}\n" }

// gzipMembers writes each part as its own gzip member, concatenated.
func gzipMembers(t *testing.T, parts ...string) string {
	var b bytes.Buffer
	for _, p := range parts {
		w := gzip.NewWriter(&b)
		w.Write([]byte(p))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

type sessionLine struct {
	EventID string   `json:"eventID"`
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons"`
	Session *struct {
		EventID, Issuer, EventTime, SourceIPAddress, VPCEndpointID, Mode string
	} `json:"session"`
}

func TestCheckSessions(t *testing.T) {
	type want struct {
		session string // the CreateSession's eventID, or "" for none
		moved   bool
	}
	for _, tt := range []struct {
		name  string
		files map[string]string // name: content (.gz names are written as given)
		jobs  int
		want  map[string]want // by eventID of the zonal calls
	}{
		{
			name: "one file, session spans records",
			files: map[string]string{"a.json": trail(
				createSession("c1", "ASIAK1", 0, "10.0.0.5"),
				getObject("g1", "ASIAK1", 1, "10.0.0.200"),
				createSession("c2", "ASIAK2", 2, "10.0.0.6"),
				getObject("g2", "ASIAK1", 3, "10.0.0.5"),
				getObject("g3", "ASIAK2", 4, "10.0.0.6"),
				getObject("g4", "ASIAOTHER", 4, "10.0.0.6"),
			)},
			jobs: 2,
			want: map[string]want{"g1": {"c1", false}, "g2": {"c1", false}, "g3": {"c2", false}, "g4": {}},
		},
		{
			// Allowed by the allowlist (10.0.0.0/8) yet from another /24.
			name: "allowed principal, moved network",
			files: map[string]string{"a.json": trail(
				createSession("c1", "ASIAK1", 0, "10.0.0.5"),
				getObject("g1", "ASIAK1", 1, "10.200.7.5"),
			)},
			jobs: 1,
			want: map[string]want{"g1": {"c1", true}},
		},
		{
			name: "call before its CreateSession is not attributed",
			files: map[string]string{"a.json": trail(
				getObject("g1", "ASIAK1", 0, "10.0.0.5"),
				createSession("c1", "ASIAK1", 0, "10.0.0.5"),
			)},
			jobs: 1,
			want: map[string]want{"g1": {}},
		},
		{
			name: "across files with --jobs 1, in name order",
			files: map[string]string{
				"a.json": trail(createSession("c1", "ASIAK1", 0, "10.0.0.5")),
				"b.json": trail(getObject("g1", "ASIAK1", 1, "10.0.0.5")),
				"c.json": trail(getObject("g2", "ASIAK1", 2, "198.51.100.7")),
			},
			jobs: 1,
			want: map[string]want{"g1": {"c1", false}, "g2": {"c1", true}},
		},
		{
			// Trail files roll every few minutes and a session lives 5:
			// attribution must not depend on --jobs.
			name: "across files with --jobs 2, in name order",
			files: map[string]string{
				"a.json": trail(createSession("c1", "ASIAK1", 0, "10.0.0.5")),
				"b.json": trail(getObject("g1", "ASIAK1", 1, "10.9.9.9")),
			},
			jobs: 2,
			want: map[string]want{"g1": {"c1", true}},
		},
		{
			// A trail's tree walks each region in time order, one region
			// after the other: the second region's sessions, a day
			// earlier than the first's, are attributed all the same.
			name: "regions one after the other",
			files: map[string]string{
				"a.json": trail(inRegion("us-east-1", createSession("c1", "ASIAK1", 0, "10.0.0.5"))),
				"b.json": trail(inRegion("us-west-2", createSession("c2", "ASIAK2", -24*60, "10.0.0.5")),
					inRegion("us-west-2", getObject("g1", "ASIAK2", -24*60+1, "198.51.100.7"))),
				"c.json": trail(inRegion("us-west-2", getObject("g2", "ASIAK2", -24*60+2, "10.0.0.5")),
					inRegion("us-east-1", getObject("g3", "ASIAK2", 2, "10.0.0.5"))),
			},
			jobs: 2,
			want: map[string]want{"g1": {"c2", true}, "g2": {"c2", false}, "g3": {}},
		},
		{
			name: "files in the other order",
			files: map[string]string{
				"a.json": trail(getObject("g1", "ASIAK1", 1, "10.0.0.5")),
				"b.json": trail(createSession("c1", "ASIAK1", 0, "10.0.0.5")),
			},
			jobs: 1,
			want: map[string]want{"g1": {}},
		},
		{
			name: "gzip members",
			files: map[string]string{"a.json.gz": gzipMembers(t,
				trail(createSession("c1", "ASIAK1", 0, "10.0.0.5")),
				trail(getObject("g1", "ASIAK1", 1, "10.0.0.9"), createSession("c2", "ASIAK2", 1, "10.1.0.9")),
				trail(getObject("g2", "ASIAK2", 2, "203.0.113.9")),
			)},
			jobs: 1,
			want: map[string]want{"g1": {"c1", false}, "g2": {"c2", true}},
		},
		{
			name: "evicted after the window",
			files: map[string]string{"a.json": trail(
				createSession("c1", "ASIAK1", 0, "10.0.0.5"),
				createSession("c2", "ASIAK2", 16, "10.0.0.5"),
				getObject("g1", "ASIAK1", 16, "10.9.9.9"), // moved, were it attributed
				getObject("g2", "ASIAK2", 17, "10.0.0.5"),
			)},
			jobs: 1,
			want: map[string]want{"g1": {}, "g2": {"c2", false}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out, errs bytes.Buffer
			code := runCheck([]string{"--allowlist", "../../rules/allowlist.example.yaml", "--format", "json", "--jobs", fmt.Sprint(tt.jobs), dir}, nil, &out, &errs)
			lines := map[string]sessionLine{}
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var cl sessionLine
				if err := json.Unmarshal([]byte(l), &cl); err != nil {
					t.Fatalf("%v: %s", err, l)
				}
				lines[cl.EventID] = cl
			}
			anyMoved := false
			for id, w := range tt.want {
				l, ok := lines[id]
				if !ok {
					t.Fatalf("%s not in the output:\n%s", id, out.String())
				}
				got := ""
				if l.Session != nil {
					got = l.Session.EventID
				}
				if got != w.session {
					t.Errorf("%s: session %q, want %q", id, got, w.session)
				}
				moved := strings.Contains(strings.Join(l.Reasons, "\n"), "session-moved")
				if moved != w.moved || (moved && l.Verdict != "unauthorized") {
					t.Errorf("%s: %s %q, want moved %v", id, l.Verdict, l.Reasons, w.moved)
				}
				if !moved && w.session != "" && l.Verdict != "allowed" {
					t.Errorf("%s: %s %q, want allowed", id, l.Verdict, l.Reasons)
				}
				if l.Session != nil && (l.Session.Issuer != "arn:aws:iam::111122223333:role/pipelines/etl-loader" || l.Session.Mode != "ReadOnly" || l.Session.SourceIPAddress == "" || l.Session.EventTime == "") {
					t.Errorf("%s: session %+v", id, *l.Session)
				}
				anyMoved = anyMoved || moved
			}
			if wantCode := map[bool]int{false: 0, true: 1}[anyMoved]; code != wantCode {
				t.Errorf("exit %d, want %d; stderr %s", code, wantCode, errs.String())
			}
		})
	}
}

// TestCheckJobsSameOutput: a tree whose sessions cross files, checked with
// 1 to 8 jobs, gives the same bytes every time, and every run finds the
// stolen tokens; ocsf (the default jobs) writes their findings.
func TestCheckJobsSameOutput(t *testing.T) {
	dir := t.TempDir()
	// 40 files of uneven size, so workers finish out of order; each
	// creates a session used in the next file, from the same network in
	// even files and from elsewhere in odd ones.
	for f := range 40 {
		var recs []string
		if f > 0 {
			ip := "10.0.0.9"
			if f%2 == 1 {
				ip = "198.51.100.7"
			}
			recs = append(recs, getObject(fmt.Sprintf("g%02d", f), fmt.Sprintf("ASIAK%02d", f-1), f, ip))
		}
		for k := range (f % 7) * 300 {
			recs = append(recs, getObject(fmt.Sprintf("n%02d-%d", f, k), "ASIANONE", f, "10.0.0.9"))
		}
		recs = append(recs, createSession(fmt.Sprintf("c%02d", f), fmt.Sprintf("ASIAK%02d", f), f, "10.0.0.5"))
		name := filepath.Join(dir, fmt.Sprintf("%02d.json", f))
		if err := os.WriteFile(name, []byte(trail(recs...)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runs := map[string][]string{}
	for _, format := range []string{"json", "text"} {
		for _, jobs := range []int{1, 2, 3, 8, 2, 3} {
			var out, errs bytes.Buffer
			code := runCheck([]string{"--allowlist", "../../rules/allowlist.example.yaml", "--format", format, "--show", "all", "--jobs", fmt.Sprint(jobs), dir}, nil, &out, &errs)
			if code != exitFindings {
				t.Fatalf("%s, --jobs %d: exit %d; stderr %s", format, jobs, code, errs.String())
			}
			got := out.String()
			if format == "text" {
				// The last line has the run's duration.
				got = got[:strings.LastIndex(strings.TrimSuffix(got, "\n"), "\n")]
			}
			if moved := strings.Count(got, "session-moved: session c"); moved < 19 {
				t.Errorf("%s, --jobs %d: %d session-moved findings, want at least 19", format, jobs, moved)
			}
			runs[format] = append(runs[format], got)
		}
		for i, got := range runs[format][1:] {
			if got != runs[format][0] {
				t.Errorf("%s: run %d differs from the first (--jobs 1)", format, i+1)
			}
		}
	}
	var out, errs bytes.Buffer
	runCheck([]string{"--allowlist", "../../rules/allowlist.example.yaml", "--format", "ocsf", dir}, nil, &out, &errs)
	if n := strings.Count(out.String(), "session-moved"); n < 20 {
		t.Errorf("ocsf: %d lines naming session-moved, want 20 or more:\n%s", n, out.String())
	}
}
