package eventruler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/eventruler"
	"github.com/s3xguard/s3xguard/test/eventruler/corpus"
)

// deployments are the bucket lists a deployment can give rules.EventPattern.
func deployments(t *testing.T) []deployment {
	return []deployment{
		{"all", nil},
		{"star", []string{"*"}},
		{"named", []string{corpus.Buckets[0]}},
		{"wildcard", []string{"logs-*--x-s3"}},
		{"mixed", []string{corpus.Buckets[0], "logs-*--x-s3"}},
		{"many", manyBuckets(t)},
	}
}

type deployment struct {
	name    string
	buckets []string
}

// manyBuckets is the longest list of 63-character names (the longest a
// bucket name can be) with corpus.Buckets[0] first that EventPattern
// accepts: the largest named-bucket pattern a deployment can have.
func manyBuckets(t *testing.T) []string {
	list := []string{corpus.Buckets[0]}
	for i := 0; ; i++ {
		b := fmt.Sprintf("team-%02d-%s--use1-az4--x-s3", i, strings.Repeat("x", 63-len("team-00---use1-az4--x-s3")))
		if len(b) != 63 {
			t.Fatalf("bucket name %q is %d characters", b, len(b))
		}
		if _, err := rules.EventPattern(append(list, b)); err != nil {
			return list
		}
		list = append(list, b)
	}
}

func root(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func classpath(t *testing.T) string {
	cp := os.Getenv(eventruler.ClasspathEnv)
	if cp == "" {
		if os.Getenv("S3XGUARD_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is not set: run ./test/run, which installs event-ruler", eventruler.ClasspathEnv)
		}
		t.Skipf("%s is not set (./test/run installs event-ruler)", eventruler.ClasspathEnv)
	}
	return cp
}

func allowlists(t *testing.T) []*rules.Allowlist {
	empty, err := rules.Parse("empty.yaml", []byte("version: 1\nallow: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := rules.Load(filepath.Join(root(t), "rules/allowlist.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return []*rules.Allowlist{empty, example}
}

// TestRuleSeesEveryAlert is the rule's coverage property, checked with
// event-ruler, the matcher EventBridge runs: for every pattern the project
// can generate, every event of the corpus that the decision calls
// unauthorized or invalid, on a guarded bucket or on no known bucket, is
// matched; no event that is not an S3 Express CloudTrail event is; and
// without buckets the pattern matches exactly the S3 Express events.
func TestRuleSeesEveryAlert(t *testing.T) {
	cp := classpath(t)
	events, err := corpus.Load(root(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := corpus.Classify(events, allowlists(t)...)
	deps := deployments(t)
	patterns := map[string][]byte{}
	for _, d := range deps {
		p, err := rules.EventPattern(d.buckets)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		patterns[d.name] = p
	}
	raw := make([][]byte, len(events))
	for i, e := range events {
		raw[i] = e.JSON
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	matched, err := eventruler.Match(ctx, cp, patterns, raw)
	if err != nil {
		t.Fatal(err)
	}

	var s3x, alerted, byExample int
	for _, c := range cases {
		if c.S3Express {
			s3x++
			if c.Alerted {
				alerted++
			}
			if v := c.Verdicts[1]; v == rules.Unauthorized || v == rules.Invalid {
				byExample++
			}
		}
	}
	t.Logf("corpus: %d events, %d S3 Express (unauthorized or invalid: %d with no allow entry, %d under the example allowlist), %d others",
		len(cases), s3x, alerted, byExample, len(cases)-s3x)
	for _, d := range deps {
		var must, hit, over int
		var missed, wrong []string
		for i, c := range cases {
			m := slices.Contains(matched[i], d.name)
			switch {
			case !c.S3Express && m:
				wrong = append(wrong, c.Name)
			case d.buckets == nil || slices.Equal(d.buckets, []string{"*"}):
				// Every S3 Express event, allowed ones included.
				if c.S3Express {
					must++
					if m {
						hit++
					} else {
						missed = append(missed, c.Name)
					}
				}
			case c.S3Express && c.Alerted && c.OnGuarded(d.buckets):
				must++
				if m {
					hit++
				} else {
					missed = append(missed, fmt.Sprintf("%s (buckets %q)", c.Name, c.Buckets))
				}
			case m && c.S3Express && !c.OnGuarded(d.buckets):
				over++
			}
		}
		t.Logf("%-8s %4d-character pattern, %d buckets: %d of %d events that must reach the function matched; %d events on other buckets let through (no bucketName, or an access point's)",
			d.name, len(compact(patterns[d.name])), len(d.buckets), hit, must, over)
		report(t, d.name, "missed (the function would never see them)", missed)
		report(t, d.name, "matched, yet not S3 Express CloudTrail events", wrong)
	}
}

func report(t *testing.T, dep, what string, names []string) {
	t.Helper()
	if len(names) == 0 {
		return
	}
	const show = 15
	more, n := "", len(names)
	if n > show {
		more = fmt.Sprintf("\n\t... and %d more", n-show)
		names = names[:show]
	}
	t.Errorf("pattern %s: %d events %s:\n\t%s%s", dep, n, what, strings.Join(names, "\n\t"), more)
}

func compact(b []byte) string {
	return strings.Join(strings.Fields(string(b)), "")
}
