package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/ownrole"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

// input is one file to check, or standard input.
type input struct {
	name  string // as shown in locations
	path  string // "" for stdin
	stdin io.Reader
	// size is the file's size when walked, for progress; -1 when not
	// known ahead (standard input, a pipe or device named as a path).
	size int64
	// digest: the path or name is a CloudTrail digest file's; it is
	// counted, not checked, once its content confirms it.
	digest bool
}

// logSuffixes are the names a directory walk picks up. Files named on the
// command line are read whatever their name.
var logSuffixes = []string{".json", ".jsonl", ".json.gz", ".jsonl.gz"}

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	allowlist := fs.String("allowlist", "", "allowlist `FILE` (YAML)")
	format := fs.String("format", "text", "output `format`: text, json, or asff or ocsf (findings only, as Security Hub and Security Lake take them)")
	show := fs.String("show", "findings", "text format: list `which` records: findings (unauthorized, invalid) or all")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "files checked at once")
	allowEmpty := fs.Bool("allow-empty", false, "a directory without log files is not an error")
	tolerance := fs.String("session-tolerance", "24,64", "session-moved tolerance: `V4,V6` prefix lengths; a call from the IPv4 /V4 or IPv6 /V6 its session was created from, or through its VPC endpoint, is not moved")
	selfRole := fs.String("self-role", "", "the guard function's execution role `ARN`: its own Get/Put/DeleteBucketPolicy calls are allowed (rule "+ownrole.Rule+")")
	verbose := fs.Bool("v", false, "text format: why lists every allowlist entry, not only the closest; the summary shows every group and value")
	quiet := fs.Bool("quiet", false, "no progress on standard error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: s3xguard check --allowlist FILE [--format text|json|asff|ocsf] [--show findings|all] [-v] [--quiet] [--allow-empty] [--self-role ARN] [--session-tolerance V4,V6] [--jobs N] [PATH ...]\n\n"+
			"PATH is a file, a directory (walked for %s, following symlinks) or - for standard input (the default).\n\n", strings.Join(logSuffixes, ", "))
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
	case *format != "text" && *format != "json" && newFindingWriter(*format, nil) == nil:
		errorf(stderr, "check: --format %q: want text, json, asff or ocsf", *format)
		return exitUsage
	case *show != "findings" && *show != "all":
		errorf(stderr, "check: --show %q: want findings or all", *show)
		return exitUsage
	case *jobs < 1:
		errorf(stderr, "check: --jobs %d: want at least 1", *jobs)
		return exitUsage
	}
	tol, err := session.ParseTolerance(*tolerance)
	if err != nil {
		errorf(stderr, "check: --session-tolerance %v", err)
		return exitUsage
	}
	own, err := ownrole.Parse(*selfRole)
	if err != nil {
		errorf(stderr, "check: --self-role: %v", err)
		return exitUsage
	}
	al, ok := loadAllowlist(*allowlist, stderr)
	if !ok {
		return exitUsage
	}
	inputs, err := collectInputs(paths, stdin, *allowEmpty, func(msg string) {
		fmt.Fprintf(stderr, "s3xguard: warning: %s\n", escapeText(msg))
	})
	if err != nil {
		errorf(stderr, "%s", escapeText(err.Error()))
		return exitUsage
	}
	c := &checker{
		allowlist: al,
		own:       own,
		tolerance: tol,
		json:      *format == "json",
		findings: newFindingWriter(*format, func(msg string) {
			fmt.Fprintf(stderr, "s3xguard: warning: %s\n", escapeText(msg))
		}),
		showAll: *show == "all",
		verbose: *verbose,
		out:     stdout,
	}
	if *format == "text" {
		c.style = textStyle{color: colorFor(stdout)}
		c.groups = newGroups()
		// The per-record lines wait on disk while the summary, printed
		// above them, is summed up.
		sp, err := newSpill()
		if err != nil {
			fmt.Fprintf(stderr, "s3xguard: warning: %s: the summary follows the records\n", escapeText(err.Error()))
		} else {
			defer sp.close()
			c.spill = sp
			c.out = sp
		}
	}
	var prog *progress
	// Not over records streaming to the same screen (JSON, or text
	// without a spill, on a terminal): they would break the line up.
	streaming := c.out == stdout && isTerminal(stdout)
	if !*quiet && !streaming && isTerminal(stderr) {
		prog = startProgress(stderr, colorFor(stderr), len(inputs), totalSize(inputs), &c.read, &c.filesDone)
	}
	defer gcForCheck(*jobs)()
	start := time.Now()
	c.checkAll(inputs, *jobs)
	elapsed := time.Since(start)
	if prog != nil {
		prog.clear()
	}

	sum := c.summary(elapsed)
	if c.groups == nil {
		fmt.Fprintln(stderr, sum)
	} else {
		c.printText(stdout, sum)
	}
	for _, e := range c.readErrors {
		errorf(stderr, "%s", escapeText(e.Error()))
	}
	switch {
	case len(c.readErrors) > 0:
		return exitUsage
	case c.counts[rules.Unauthorized].Load() > 0 || c.counts[rules.Invalid].Load() > 0:
		return exitFindings
	}
	return exitOK
}

// gcForCheck lets the heap grow to 5x what is live (GOGC=400) below a
// limit of 50 MiB per worker, unless GOGC or GOMEMLIMIT is set, and
// returns the function that restores the settings. check keeps about 3 MB
// live, so with the default GOGC=100 the collector ran about 100 times per
// GB of logs, about 10% of check's CPU with its write barriers. Records
// that keep more live (hostile input) meet the limit first: the heap then
// stays near the limit, or near what is live if that is more.
func gcForCheck(jobs int) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(int64(jobs) * 50 << 20)
	percent := debug.SetGCPercent(400)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
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
// clean report. Symlinks are followed; a file reached by several paths is
// checked once (under the first), a directory link back to an ancestor is
// reported through warn and not followed (its files are checked anyway). A
// directory argument that yields no log file is an error unless allowEmpty.
func collectInputs(paths []string, stdin io.Reader, allowEmpty bool, warn func(string)) ([]input, error) {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	w := &walker{warn: warn, seen: fileSet{}}
	sawStdin := false
	for _, p := range paths {
		if p == "-" {
			// Two workers reading one stream would splice records together.
			if sawStdin {
				return nil, errors.New("check: - (standard input) named more than once")
			}
			sawStdin = true
			w.inputs = append(w.inputs, input{name: "-", stdin: stdin, size: -1})
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			w.file(p, info)
			continue
		}
		if w.seen.has(info) {
			continue // walked already, as or under an earlier argument
		}
		found, err := w.dir(p, info, nil)
		if err != nil {
			return nil, err
		}
		if found == 0 && !allowEmpty {
			return nil, fmt.Errorf("check: %s: no log files (*%s); use --allow-empty if that is expected", p, strings.Join(logSuffixes, ", *"))
		}
	}
	return w.inputs, nil
}

// walker collects the inputs of directory trees, following symlinks.
type walker struct {
	inputs []input
	warn   func(string)
	seen   fileSet // files and directories already taken
}

// fileSet is a set of files by identity. Files are grouped by size and
// modification time, then compared with os.SameFile: portable, and cheap
// since few files share both.
type fileSet map[fileKey][]os.FileInfo

type fileKey struct {
	size  int64
	mtime int64
	dir   bool
}

func keyOf(fi os.FileInfo) fileKey { return fileKey{fi.Size(), fi.ModTime().UnixNano(), fi.IsDir()} }

func (s fileSet) has(fi os.FileInfo) bool {
	for _, o := range s[keyOf(fi)] {
		if os.SameFile(o, fi) {
			return true
		}
	}
	return false
}

// taken reports whether fi was seen before, and marks it seen.
func (w *walker) taken(fi os.FileInfo) bool {
	if w.seen.has(fi) {
		return true
	}
	k := keyOf(fi)
	w.seen[k] = append(w.seen[k], fi)
	return false
}

func (w *walker) file(path string, fi os.FileInfo) {
	if !w.taken(fi) {
		size := int64(-1)
		if fi.Mode().IsRegular() {
			size = fi.Size()
		}
		w.inputs = append(w.inputs, input{name: path, path: path, size: size, digest: isDigestPath(path)})
	}
}

// dir walks the directory at path (fi) in name order, below the
// directories in stack, and returns how many log files it holds (digests
// not counted, files already taken under another path counted). A
// directory reached again through another link is not walked twice; one
// that is its own ancestor is a loop.
func (w *walker) dir(path string, fi os.FileInfo, stack []os.FileInfo) (int, error) {
	for _, a := range stack {
		if os.SameFile(a, fi) {
			w.warn(fmt.Sprintf("%s: symlink loop back to %s, not followed", path, ancestorPath(path, stack, a)))
			return 0, nil
		}
	}
	if w.taken(fi) {
		return 0, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return 0, err
	}
	stack = append(stack, fi)
	found := 0
	for _, e := range entries {
		p := filepath.Join(path, e.Name())
		var info os.FileInfo
		if e.Type()&fs.ModeSymlink != 0 {
			// A link that resolves to nothing could be a log file we
			// cannot read: an error, not a skip.
			info, err = os.Stat(p)
		} else {
			info, err = e.Info()
		}
		if err != nil {
			return 0, err
		}
		switch {
		case info.IsDir():
			n, err := w.dir(p, info, stack)
			if err != nil {
				return 0, err
			}
			found += n
		case info.Mode().IsRegular() && hasLogSuffix(e.Name()):
			if !isDigestPath(p) {
				found++
			}
			w.file(p, info)
		}
	}
	return found, nil
}

// ancestorPath names the directory of stack that a loop at path returns
// to, by the path it was walked under.
func ancestorPath(path string, stack []os.FileInfo, a os.FileInfo) string {
	up := 0
	for i := len(stack) - 1; i >= 0 && stack[i] != a; i-- {
		up++
	}
	// path is stack[len-1]/name: its parent is the last element.
	p := filepath.Dir(path)
	for range up {
		p = filepath.Dir(p)
	}
	return p
}

// isDigestPath reports whether path names a CloudTrail digest file: under a
// CloudTrail-Digest directory, or named ACCT_CloudTrail-Digest_…json.gz
// (CloudTrail user guide, "CloudTrail digest file structure").
func isDigestPath(path string) bool {
	base := filepath.Base(path)
	if strings.Contains(base, "_CloudTrail-Digest_") && strings.HasSuffix(base, ".json.gz") {
		return true
	}
	return slices.Contains(strings.Split(filepath.ToSlash(filepath.Dir(path)), "/"), "CloudTrail-Digest")
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
//
// Each worker keeps an index of the sessions its records created
// (session.Index): with --jobs 1 one index spans all inputs, in the order
// they were named and walked, so a session created in one file is
// attributed in the next; with more jobs files are checked in parallel and
// in no fixed order, so each file has its own index (attribution within a
// file only, the same output from run to run).
type checker struct {
	allowlist *rules.Allowlist
	own       ownrole.Role
	tolerance session.Tolerance
	perFile   bool // a session index per input, not per run
	json      bool
	findings  *findingWriter // --format asff or ocsf (findings_format.go)
	showAll   bool
	verbose   bool      // text: every entry in why lines, every group
	style     textStyle // text
	out       io.Writer // stdout, or spill in text format
	spill     *spill    // text: the per-record lines, until the summary is out
	groups    *groups   // text: the findings summed up, once the workers are done

	mu         sync.Mutex // serializes writes to out and readErrors
	readErrors []error

	counts  [4]atomic.Int64 // by rules.Verdict
	records atomic.Int64
	bytes   atomic.Int64
	files   atomic.Int64 // log files read
	digests atomic.Int64 // digest files recognised

	// For progress: bytes read of the inputs as stored (compressed for
	// gzip), updated once per read buffer, and inputs done.
	read      atomic.Int64
	filesDone atomic.Int64
}

// flushAt is the size at which a worker writes its buffered output.
const flushAt = 256 << 10

func (c *checker) checkAll(inputs []input, jobs int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	c.perFile = jobs > 1
	workers := min(jobs, len(inputs))
	// Each worker sums up its findings apart: no lock per record.
	gs := make([]*groups, workers)
	for w := range workers {
		if c.groups != nil {
			gs[w] = newGroups()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx := session.NewIndex(session.Window)
			var rec cloudtrail.Record
			var buf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(inputs) {
					return
				}
				if c.perFile {
					idx.Reset()
				}
				buf = c.checkInput(inputs[i], idx, &rec, buf[:0], gs[w])
			}
		}()
	}
	wg.Wait()
	if c.groups != nil {
		for _, g := range gs {
			c.groups.merge(g)
		}
	}
}

// countingReader counts the bytes read through it, for progress: one
// atomic add per read, and the reads are of whole buffers.
type countingReader struct {
	r     io.Reader
	n     int64
	total *atomic.Int64
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	cr.total.Add(int64(n))
	return n, err
}

// totalSize is the size of the inputs, or -1 when one is not known ahead.
func totalSize(inputs []input) int64 {
	var n int64
	for _, in := range inputs {
		if in.size < 0 {
			return -1
		}
		n += in.size
	}
	return n
}

func (c *checker) checkInput(in input, idx *session.Index, rec *cloudtrail.Record, buf []byte, g *groups) []byte {
	cr := &countingReader{r: in.stdin, total: &c.read}
	defer func() {
		// What was not read through cr (a digest, a file that shrank,
		// a read error) is done too, so the total is reached.
		if rest := in.size - cr.n; rest > 0 {
			c.read.Add(rest)
		}
		c.filesDone.Add(1)
	}()
	if cr.r == nil {
		f, err := os.Open(in.path)
		if err != nil {
			c.readError(err)
			return buf
		}
		defer f.Close()
		if in.digest {
			if isDigest(f) {
				c.digests.Add(1)
				return buf
			}
			// Named like a digest, but not one: its records get verdicts.
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				c.readError(err)
				return buf
			}
		}
		cr.r = f
	}
	c.files.Add(1)
	out := c.output(in.name)
	s, err := cloudtrail.NewStream(cr)
	if err != nil {
		// The gzip header itself is broken: report it as an unreadable record.
		buf = c.report(buf, &out, cloudtrail.Item{Line: 1, Index: -1, Err: err}, nil, rules.Decision{Verdict: rules.Invalid}, nil, false, g)
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
			buf = c.report(buf, &out, it, nil, d, nil, false, g)
		} else {
			d = c.allowlist.Decide(rec)
			if d.Verdict == rules.Unauthorized && c.own.Allows(rec, d.Principal) {
				d = rules.Decision{Verdict: rules.Allowed, Rule: ownrole.Rule, Principal: d.Principal}
			}
			var s *session.Session
			moved := false
			if !idx.Add(rec) {
				s = idx.Lookup(rec)
			}
			if s != nil && (d.Verdict == rules.Allowed || d.Verdict == rules.Unauthorized) {
				// A session token is a bearer credential: used from
				// another network than it was created from, it is a
				// finding even for an allowed principal.
				var why string
				if why, moved = c.tolerance.Moved(s, rec); moved {
					d.Verdict = rules.Unauthorized
					d.Reasons = append(slices.Clip(d.Reasons), why)
				}
			}
			buf = c.report(buf, &out, it, rec, d, s, moved, g)
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

// outName is the name of the input being checked and, for JSON output, that
// name already escaped, since every line of the input repeats it.
type outName struct {
	name  string
	qname []byte
}

func (c *checker) output(name string) outName {
	n := outName{name: name}
	if c.json {
		n.qname = appendJSONString(nil, name)
	}
	return n
}

// report counts one record and appends its output line, if any; in text
// format, a finding is also summed up in g. moved says the last reason is
// session-moved's, appended to the allowlist's.
func (c *checker) report(buf []byte, in *outName, it cloudtrail.Item, rec *cloudtrail.Record, d rules.Decision, s *session.Session, moved bool, g *groups) []byte {
	c.records.Add(1)
	c.counts[d.Verdict].Add(1)
	if c.findings != nil {
		return c.findings.append(buf, in.name, it, rec, d, s)
	}
	if c.json {
		return appendJSON(buf, in.qname, it, rec, d, s)
	}
	finding := d.Verdict == rules.Unauthorized || d.Verdict == rules.Invalid
	if finding && g != nil {
		g.add(rec, d)
	}
	if c.showAll || finding {
		return appendText(buf, c.style, in.name, it, rec, d, s, c.why(it, rec, d, moved))
	}
	return buf
}

// why is what the why lines of a text finding say. Of the allowlist's
// reasons, the closest entry's only (rules: the entry that fails the
// fewest conditions, the first in file order among equals), or with -v
// every entry's, closest first; then session-moved's, if any, and the
// reasons an invalid record is invalid.
func (c *checker) why(it cloudtrail.Item, rec *cloudtrail.Record, d rules.Decision, moved bool) []string {
	rs := reasons(it, d)
	if it.Err != nil || d.Verdict != rules.Unauthorized {
		return rs
	}
	entries, extra := rs, []string(nil)
	if moved {
		entries, extra = rs[:len(rs)-1], rs[len(rs)-1:]
	}
	switch {
	case len(entries) == 0: // allowed by an entry, but the session moved
	case c.verbose:
		entries = c.allowlist.Misses(rec)
	default:
		entries = entries[:1]
	}
	return append(slices.Clip(entries), extra...)
}

// printText prints the text report: the findings summed up by principal
// and bucket, then the per-record lines (from the spill), then sum. Without
// a spill the lines are out already, and the summary follows them.
func (c *checker) printText(stdout io.Writer, sum string) {
	summary := c.groups.appendSummary(nil, c.style, c.verbose)
	if len(summary) > 0 && c.hiddenEntries() {
		summary = append(summary, "\nwhy: the closest allowlist entry (fewest failed conditions); -v lists every entry\n"...)
	}
	before := len(summary) > 0
	if c.spill == nil {
		if before {
			stdout.Write(append([]byte{'\n'}, summary...))
		}
	} else {
		if before && c.spill.size > 0 {
			summary = append(summary, '\n')
			summary = c.style.paint(summary, sgrBold, "records")
			summary = append(summary, ":\n"...)
		}
		stdout.Write(summary)
		if err := c.spill.copyTo(stdout); err != nil {
			c.readError(err)
		}
		before = before || c.spill.size > 0
	}
	if before {
		fmt.Fprintln(stdout)
	}
	fmt.Fprintln(stdout, sum)
}

// hiddenEntries reports whether why lines left entries out: an
// unauthorized finding, without -v, with more than one entry.
func (c *checker) hiddenEntries() bool {
	return !c.verbose && len(c.allowlist.Entries) > 1 && c.counts[rules.Unauthorized].Load() > 0
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

func (c *checker) summary(elapsed time.Duration) string {
	n := c.records.Load()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(n) / elapsed.Seconds()
	}
	return fmt.Sprintf("%d records in %d files: %d allowed, %d unauthorized, %d invalid, %d ignored; %d digests; %.1f MB in %s (%.0f records/s)",
		n, c.files.Load(),
		c.counts[rules.Allowed].Load(), c.counts[rules.Unauthorized].Load(),
		c.counts[rules.Invalid].Load(), c.counts[rules.Ignored].Load(),
		c.digests.Load(),
		float64(c.bytes.Load())/1e6, elapsed.Round(time.Millisecond), rate)
}

// maxDigest bounds the JSON read to confirm a digest file. A digest lists
// the log files of one hour (a few hundred bytes each); past this it is
// checked as a log file.
const maxDigest = 64 << 20

// isDigest reports whether r holds exactly one CloudTrail digest: a JSON
// object with digestStartTime, digestEndTime and logFiles and no Records
// (CloudTrail user guide, "CloudTrail digest file structure"). It reads the
// tokens without keeping them, so memory stays small.
func isDigest(r io.Reader) bool {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return false
		}
		defer gz.Close()
		r = gz
	} else {
		r = br
	}
	dec := json.NewDecoder(io.LimitReader(r, maxDigest))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	keys := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := t.(string)
		if keys[k] {
			return false // a duplicate name: not what CloudTrail writes
		}
		keys[k] = true
		if err := skipValue(dec); err != nil {
			return false
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false
	}
	return keys["digestStartTime"] && keys["digestEndTime"] && keys["logFiles"] && !keys["Records"]
}

// skipValue reads one JSON value token by token.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
