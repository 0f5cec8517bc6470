package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/ownrole"
	"github.com/s3xguard/s3xguard/rules"
)

// input is one file to check, or standard input.
type input struct {
	name  string // as shown in locations
	path  string // "" for stdin
	stdin io.Reader
}

// logSuffixes are the names a directory walk picks up. Files named on the
// command line are read whatever their name.
var logSuffixes = []string{".json", ".jsonl", ".json.gz", ".jsonl.gz"}

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allowlist := fs.String("allowlist", "", "allowlist `FILE` (YAML)")
	format := fs.String("format", "text", "output `format`: text or json")
	show := fs.String("show", "findings", "text format: list `which` records: findings (unauthorized, invalid) or all")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "files checked at once")
	selfRole := fs.String("self-role", "", "the guard function's execution role `ARN`: its own Get/Put/DeleteBucketPolicy calls are allowed (rule "+ownrole.Rule+")")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: s3xguard check --allowlist FILE [--format text|json] [--show findings|all] [PATH ...]\n\n"+
			"PATH is a file, a directory (walked for %s) or - for standard input (the default).\n\n", strings.Join(logSuffixes, ", "))
		fs.PrintDefaults()
	}
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case *allowlist == "":
		errorf(stderr, "check: --allowlist is required")
		return exitUsage
	case *format != "text" && *format != "json":
		errorf(stderr, "check: --format %q: want text or json", *format)
		return exitUsage
	case *show != "findings" && *show != "all":
		errorf(stderr, "check: --show %q: want findings or all", *show)
		return exitUsage
	case *jobs < 1:
		errorf(stderr, "check: --jobs %d: want at least 1", *jobs)
		return exitUsage
	}
	own, err := ownrole.Parse(*selfRole)
	if err != nil {
		errorf(stderr, "check: --self-role: %v", err)
		return exitUsage
	}
	al, err := rules.Load(*allowlist)
	if err != nil {
		var le *rules.LoadError
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				errorf(stderr, "%s", p)
			}
		} else {
			errorf(stderr, "%v", err)
		}
		return exitUsage
	}
	inputs, err := collectInputs(paths, stdin)
	if err != nil {
		errorf(stderr, "%v", err)
		return exitUsage
	}
	c := &checker{
		allowlist: al,
		own:       own,
		json:      *format == "json",
		showAll:   *show == "all",
		out:       stdout,
	}
	start := time.Now()
	c.checkAll(inputs, *jobs)
	elapsed := time.Since(start)

	sum := c.summary(len(inputs), elapsed)
	if c.json {
		fmt.Fprintln(stderr, sum)
	} else {
		fmt.Fprintln(stdout, sum)
	}
	for _, e := range c.readErrors {
		errorf(stderr, "%v", e)
	}
	switch {
	case len(c.readErrors) > 0:
		return exitUsage
	case c.counts[rules.Unauthorized].Load() > 0 || c.counts[rules.Invalid].Load() > 0:
		return exitFindings
	}
	return exitOK
}

// parseInterleaved parses flags that may follow positional arguments, as
// in "check logs/ --format json".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// collectInputs expands directories and checks that every path exists
// before any work starts: a typo in a path is a usage error, not an empty
// clean report.
func collectInputs(paths []string, stdin io.Reader) ([]input, error) {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	var out []input
	for _, p := range paths {
		if p == "-" {
			out = append(out, input{name: "-", stdin: stdin})
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, input{name: p, path: p})
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && hasLogSuffix(d.Name()) {
				out = append(out, input{name: path, path: path})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func hasLogSuffix(name string) bool {
	for _, s := range logSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// checker checks inputs in parallel. Each worker buffers its input's lines
// and writes them in chunks, so lines of one input keep their order while
// chunks of different inputs may interleave (every line carries its
// location). With --jobs 1 the output is fully ordered.
type checker struct {
	allowlist *rules.Allowlist
	own       ownrole.Role
	json      bool
	showAll   bool
	out       io.Writer

	mu         sync.Mutex // serializes writes to out and readErrors
	readErrors []error

	counts  [4]atomic.Int64 // by rules.Verdict
	records atomic.Int64
	bytes   atomic.Int64
}

// flushAt is the size at which a worker writes its buffered output.
const flushAt = 256 << 10

func (c *checker) checkAll(inputs []input, jobs int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(jobs, len(inputs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rec cloudtrail.Record
			var buf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(inputs) {
					return
				}
				buf = c.checkInput(inputs[i], &rec, buf[:0])
			}
		}()
	}
	wg.Wait()
}

func (c *checker) checkInput(in input, rec *cloudtrail.Record, buf []byte) []byte {
	r := in.stdin
	if r == nil {
		f, err := os.Open(in.path)
		if err != nil {
			c.readError(err)
			return buf
		}
		defer f.Close()
		r = f
	}
	s, err := cloudtrail.NewStream(r)
	if err != nil {
		// The gzip header itself is broken: report it as an unreadable record.
		buf = c.report(buf, in.name, cloudtrail.Item{Line: 1, Index: -1, Err: err}, nil, rules.Decision{Verdict: rules.Invalid})
		c.write(buf)
		return buf[:0]
	}
	defer s.Close()
	for {
		it, ok := s.Next(rec)
		if !ok {
			break
		}
		var d rules.Decision
		if it.Err != nil {
			d = rules.Decision{Verdict: rules.Invalid}
			buf = c.report(buf, in.name, it, nil, d)
		} else {
			d = c.allowlist.Decide(rec)
			if d.Verdict == rules.Unauthorized && c.own.Allows(rec, d.Principal) {
				d = rules.Decision{Verdict: rules.Allowed, Rule: ownrole.Rule, Principal: d.Principal}
			}
			buf = c.report(buf, in.name, it, rec, d)
		}
		if len(buf) >= flushAt {
			c.write(buf)
			buf = buf[:0]
		}
	}
	c.bytes.Add(s.BytesRead())
	c.write(buf)
	return buf[:0]
}

// report counts one record and appends its output line, if any.
func (c *checker) report(buf []byte, name string, it cloudtrail.Item, rec *cloudtrail.Record, d rules.Decision) []byte {
	c.records.Add(1)
	c.counts[d.Verdict].Add(1)
	if c.json {
		return appendJSON(buf, name, it, rec, d)
	}
	if c.showAll || d.Verdict == rules.Unauthorized || d.Verdict == rules.Invalid {
		return appendText(buf, name, it, rec, d)
	}
	return buf
}

func (c *checker) write(buf []byte) {
	if len(buf) == 0 {
		return
	}
	c.mu.Lock()
	c.out.Write(buf)
	c.mu.Unlock()
}

func (c *checker) readError(err error) {
	c.mu.Lock()
	c.readErrors = append(c.readErrors, err)
	c.mu.Unlock()
}

func (c *checker) summary(files int, elapsed time.Duration) string {
	n := c.records.Load()
	rate := float64(n) / elapsed.Seconds()
	return fmt.Sprintf("%d records in %d files: %d allowed, %d unauthorized, %d invalid, %d ignored; %.1f MB in %s (%.0f records/s)",
		n, files,
		c.counts[rules.Allowed].Load(), c.counts[rules.Unauthorized].Load(),
		c.counts[rules.Invalid].Load(), c.counts[rules.Ignored].Load(),
		float64(c.bytes.Load())/1e6, elapsed.Round(time.Millisecond), rate)
}
