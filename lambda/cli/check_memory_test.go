package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCheckMemoryFlat: memory does not grow with the number of files. The
// same tree layout (CloudTrail's: directories of 100 files) with N and 10N
// files is checked in a child process each, and their peak resident sizes
// compared. Nothing is timed.
func TestCheckMemoryFlat(t *testing.T) {
	if args := os.Getenv("S3XGUARD_CHECK_CHILD"); args != "" {
		os.Exit(runCheck(strings.Split(args, "\n"), nil, devNull{}, devNull{}))
	}
	if testing.Short() {
		t.Skip("writes 22,000 files")
	}
	if raceEnabled {
		// test/run runs it without the detector first.
		t.Skip("under the race detector sync.Pool drops what it holds at random: the peak heap would measure the detector")
	}
	rec := `{"Records":[{"eventID":"%d","eventTime":"2026-11-20T10:00:00Z","eventSource":"s3express.amazonaws.com","eventName":"GetObject","sourceIPAddress":"10.1.2.3",` +
		`"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/etl-loader/j","accountId":"111122223333","accessKeyId":"ASIAK%d"},` +
		`"requestParameters":{"bucketName":"analytics--use1-az4--x-s3","key":"k"}}]}`
	tree := func(n int) string {
		dir := filepath.Join(t.TempDir(), "AWSLogs")
		for i := range n {
			sub := filepath.Join(dir, fmt.Sprintf("%03d", i/100))
			if i%100 == 0 {
				must(t, os.MkdirAll(sub, 0o755))
			}
			name := filepath.Join(sub, fmt.Sprintf("111122223333_CloudTrail_us-east-1_20261120T1000Z_%06d.json", i))
			must(t, os.WriteFile(name, []byte(fmt.Sprintf(rec, i, i)), 0o644))
		}
		return dir
	}
	// The peak live heap: the largest heap left after a collection, as
	// the runtime's GC trace reports it. Resident size would measure how
	// lazily the collector runs (check lets the heap grow to a limit).
	peak := func(dir string, jobs int) int {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckMemoryFlat$")
		args := []string{"--allowlist", "../../rules/allowlist.example.yaml", "--format", "json", "--quiet", "--jobs", fmt.Sprint(jobs), dir}
		cmd.Env = append(os.Environ(), "S3XGUARD_CHECK_CHILD="+strings.Join(args, "\n"), "GODEBUG=gctrace=1",
			// Collect often, so the trace samples the live heap all
			// along the run (GOGC set, check leaves the collector be).
			"GOGC=5")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("check: %v\n%s", err, stderr.String())
		}
		live, gcs := 0, 0
		for _, m := range gcLive.FindAllStringSubmatch(stderr.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			live, gcs = max(live, n), gcs+1
		}
		if gcs < 3 {
			t.Fatalf("%d collections traced: the heap was not measured\n%s", gcs, stderr.String())
		}
		return live
	}
	small, large := tree(2000), tree(20000)
	for _, jobs := range []int{1, 2} {
		s, l := peak(small, jobs), peak(large, jobs)
		t.Logf("--jobs %d: peak live heap %d MB at 2,000 files, %d MB at 20,000", jobs, s, l)
		// Flat, with 2 MB to spare: the trace rounds to whole MB, and the
		// larger run's peak is the maximum of ten times as many
		// collections, so it samples more of the per-job buffers' highs
		// (4 and 5 MB with --jobs 2, run after run). A list of the inputs
		// alone would add some 4 MB, a set of their FileInfos 5; the code
		// before went from 7 to 14 MB.
		if l > s+2 {
			t.Errorf("--jobs %d: peak live heap %d MB at 20,000 files, %d MB at 2,000: grows with the number of files", jobs, l, s)
		}
	}
}

// gcLive finds the live heap after each collection in a GODEBUG=gctrace=1
// line: "gc 7 @0.1s 2%: ..., 4->5->1 MB, ...".
var gcLive = regexp.MustCompile(`\d+->\d+->(\d+) MB`)

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }
