package cli

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCollectInputs builds small trees of files and symlinks and checks
// which inputs a walk yields, what it warns about, and what is an error.
func TestCollectInputs(t *testing.T) {
	type link struct{ name, target string }
	tests := []struct {
		name     string
		files    []string
		links    []link
		args     []string
		empty    bool // --allow-empty
		want     []string
		warnings []string
		err      string
	}{
		{name: "plain tree in name order", files: []string{"t/b.json", "t/a/z.jsonl.gz", "t/c.txt"}, args: []string{"t"},
			want: []string{"t/a/z.jsonl.gz", "t/b.json"}},
		{name: "symlinked directory argument", files: []string{"real/a.json"}, links: []link{{"l", "real"}}, args: []string{"l"},
			want: []string{"l/a.json"}},
		{name: "symlinked file inside", files: []string{"x/a.json", "t/k.json"}, links: []link{{"t/a.json", "../x/a.json"}}, args: []string{"t"},
			want: []string{"t/a.json", "t/k.json"}},
		{name: "same file twice through arguments", files: []string{"a.json"}, args: []string{"a.json", "a.json", "."},
			want: []string{"a.json"}},
		{name: "same directory twice as arguments", files: []string{"t/a.json"}, args: []string{"t", "t"},
			want: []string{"t/a.json"}},
		{name: "subdirectory of an earlier argument", files: []string{"t/s/a.json"}, args: []string{"t", "t/s"},
			want: []string{"t/s/a.json"}},
		{name: "same directory through two links", files: []string{"d/a.json"}, links: []link{{"t/one", "../d"}, {"t/two", "../d"}}, args: []string{"t"},
			want: []string{"t/one/a.json"}},
		{name: "loop to parent", files: []string{"t/a.json"}, links: []link{{"t/s/up", ".."}}, args: []string{"t"},
			want: []string{"t/a.json"}, warnings: []string{"t/s/up: symlink loop back to t, not followed"}},
		{name: "loop to itself", files: []string{"t/a.json"}, links: []link{{"t/self", "."}}, args: []string{"t"},
			want: []string{"t/a.json"}, warnings: []string{"t/self: symlink loop back to t, not followed"}},
		{name: "link to link loop is an error", files: []string{"t/a.json"}, links: []link{{"t/p.json", "q.json"}, {"t/q.json", "p.json"}}, args: []string{"t"},
			err: "too many levels of symbolic links"},
		{name: "broken link is an error", files: []string{"t/a.json"}, links: []link{{"t/x", "gone"}}, args: []string{"t"},
			err: "stat t/x: no such file or directory"},
		{name: "empty directory", files: []string{"t/notes.txt"}, args: []string{"t"}, err: "check: t: no log files"},
		{name: "empty directory allowed", files: []string{"t/notes.txt"}, args: []string{"t"}, empty: true, want: []string{}},
		{name: "only a loop is empty", links: []link{{"t/up", "."}}, args: []string{"t"}, err: "no log files",
			warnings: []string{"t/up: symlink loop back to t, not followed"}},
		{name: "only digests is empty", files: []string{"t/CloudTrail-Digest/r/a.json.gz"}, args: []string{"t"}, err: "no log files"},
		{name: "stdin once", args: []string{"-"}, want: []string{"-"}},
		{name: "stdin twice", args: []string{"-", "t", "-"}, files: []string{"t/a.json"}, err: "check: - (standard input) named more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			for _, f := range tt.files {
				must(t, os.MkdirAll(filepath.Dir(f), 0o755))
				must(t, os.WriteFile(f, []byte(f), 0o644))
			}
			for _, l := range tt.links {
				must(t, os.MkdirAll(filepath.Dir(l.name), 0o755))
				must(t, os.Symlink(l.target, l.name))
			}
			var warnings []string
			ins, err := collectInputs(tt.args, strings.NewReader(""), tt.empty, func(m string) { warnings = append(warnings, m) })
			if !slices.Equal(warnings, tt.warnings) {
				t.Errorf("warnings: got %q; want %q", warnings, tt.warnings)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v; want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, in := range ins {
				got = append(got, in.name)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestIsDigestPath(t *testing.T) {
	for path, want := range map[string]bool{
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20261120T010000Z.json.gz": true,
		"elsewhere/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20261120T010000Z.json.gz":                                                   true,
		"CloudTrail-Digest/x.json": true,
		"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T0100Z_aaaa.json.gz": false,
		"CloudTrail-Digest.json":                        false,
		"x/CloudTrail-Digests/a.json":                   false,
		"x/111122223333_CloudTrail-Digest_us-east.json": false,
	} {
		if got := isDigestPath(path); got != want {
			t.Errorf("isDigestPath(%q) = %v; want %v", path, got, want)
		}
	}
}

func TestIsDigest(t *testing.T) {
	const digest = `{"awsAccountId":"111122223333","digestStartTime":"2026-11-20T00:00:00Z","digestEndTime":"2026-11-20T01:00:00Z","previousDigestSignature":null,"logFiles":[{"s3Object":"a","hashValue":"ab"}]}`
	gz := func(s string) string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.String()
	}
	for _, tt := range []struct {
		name, in string
		want     bool
	}{
		{"digest", digest, true},
		{"gzip digest", gz(digest), true},
		{"digest with an empty log file list", `{"digestStartTime":"a","digestEndTime":"b","logFiles":[]}`, true},
		{"records too", `{"digestStartTime":"a","digestEndTime":"b","logFiles":[],"Records":[{}]}`, false},
		{"a trail log file", `{"Records":[]}`, false},
		{"missing logFiles", `{"digestStartTime":"a","digestEndTime":"b"}`, false},
		{"two values", digest + "\n" + `{"eventSource":"s3express.amazonaws.com"}`, false},
		{"duplicate key", `{"digestStartTime":"a","digestEndTime":"b","logFiles":[],"logFiles":[]}`, false},
		{"array", `[` + digest + `]`, false},
		{"truncated", digest[:len(digest)-1], false},
		{"truncated gzip", gz(digest)[:30], false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := isDigest(strings.NewReader(tt.in)); got != tt.want {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// failingWriter fails every write, as a full disk does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestCheckWriteError: a report that could not be written is exit 2 with
// a message in every format, never the exit status of a complete run.
func TestCheckWriteError(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.json")
	rec := `{"eventID":"one","eventSource":"s3express.amazonaws.com","eventName":"DeleteObject","sourceIPAddress":"203.0.113.1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/eve","accountId":"111122223333"},"awsRegion":"us-east-1","recipientAccountId":"111122223333","requestParameters":{"bucketName":"analytics--use1-az4--x-s3","key":"k"}}` + "\n"
	must(t, os.WriteFile(log, []byte(rec), 0o644))
	for _, format := range []string{"json", "asff", "ocsf", "text"} {
		var stderr bytes.Buffer
		code := runCheck([]string{"--allowlist", "../../rules/allowlist.example.yaml", "--format", format, log}, nil, failingWriter{}, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "no space left on device") {
			t.Errorf("%s: exit %d, stderr %q; want exit %d naming the write error", format, code, stderr.String(), exitUsage)
		}
	}
}
