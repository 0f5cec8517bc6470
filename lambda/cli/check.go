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
	"unsafe"

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
	// err: the input cannot be read (not a regular file), reported in
	// its place.
	err error
}

// logSuffixes are the names a directory walk picks up. Files named on the
// command line are read whatever their name.
var logSuffixes = []string{".json", ".jsonl", ".json.gz", ".jsonl.gz"}

// What check's --format and --show take (completion offers them too).
var (
	checkFormats = []string{"text", "json", "asff", "ocsf"}
	checkShows   = []string{"findings", "all"}
)

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
	case !slices.Contains(checkFormats, *format):
		errorf(stderr, "check: --format %q: want text, json, asff or ocsf", *format)
		return exitUsage
	case !slices.Contains(checkShows, *show):
		errorf(stderr, "check: --show %q: want findings or all", *show)
		return exitUsage
	case *jobs < 1 || *jobs > maxJobs:
		errorf(stderr, "check: --jobs %d: want 1 to %d", *jobs, maxJobs)
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
	warn := func(msg string) {
		fmt.Fprintf(stderr, "s3xguard: warning: %s\n", escapeText(msg))
	}
	walk, files, size, err := planInputs(paths, stdin, *allowEmpty, warn)
	if err != nil {
		errorf(stderr, "%s", escapeText(err.Error()))
		return exitUsage
	}
	noteTerminalStdin(paths, stdin, stderr)
	c := &checker{
		allowlist: al,
		own:       own,
		tolerance: tol,
		json:      *format == "json",
		findings: newFindingWriter(*format, func(msg string) {
			fmt.Fprintf(stderr, "s3xguard: warning: %s\n", escapeText(msg))
		}),
		showAll:    *show == "all",
		verbose:    *verbose,
		allowEmpty: *allowEmpty,
		out:        stdout,
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
		prog = startProgress(stderr, colorFor(stderr), files, size, &c.read, &c.filesDone)
	}
	defer gcForCheck(*jobs)()
	start := time.Now()
	c.checkAll(walk, *jobs)
	elapsed := time.Since(start)
	if prog != nil {
		prog.clear()
	}

	sum := c.summary(elapsed)
	if c.groups == nil {
		fmt.Fprintln(stderr, sum)
	} else if err := c.printText(stdout, sum); err != nil && c.writeErr == nil {
		c.writeErr = fmt.Errorf("writing the report: %w", err)
	}
	for _, e := range c.readErrors {
		errorf(stderr, "%s", escapeText(e.Error()))
	}
	if c.writeErr != nil {
		errorf(stderr, "%s", escapeText(c.writeErr.Error()))
	}
	switch {
	case len(c.readErrors) > 0 || c.writeErr != nil:
		return exitUsage
	case c.counts[rules.Unauthorized].Load() > 0 || c.counts[rules.Invalid].Load() > 0:
		return exitFindings
	}
	return exitOK
}

// maxJobs bounds --jobs: each job is a goroutine and a share of the
// memory limit, and far more jobs than cores only costs memory.
const maxJobs = 1024

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
	limit := debug.SetMemoryLimit(int64(min(jobs, maxJobs)) * 50 << 20)
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
	var ins []input
	var bad error
	err := walkInputs(paths, stdin, allowEmpty, warn, func(in input) {
		if in.err != nil && bad == nil {
			bad = in.err
		}
		ins = append(ins, in)
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	return ins, nil
}

// planInputs walks the paths once as collectInputs does, without holding
// the inputs, so that every error (a typo, a broken link, a directory
// without log files) is found before any work starts; it returns how many
// inputs there are, their total size (-1 when one is not known ahead), and
// the walk that emits them again, in the same order, for the run: memory
// stays flat whatever their number.
func planInputs(paths []string, stdin io.Reader, allowEmpty bool, warn func(string)) (walk func(emit func(input)) error, files int, size int64, err error) {
	err = walkInputs(paths, stdin, allowEmpty, func(string) {}, func(in input) {
		files++
		if in.size < 0 || size < 0 {
			size = -1
		} else {
			size += in.size
		}
	})
	if err != nil {
		return nil, 0, 0, err
	}
	return func(emit func(input)) error {
		return walkInputs(paths, stdin, allowEmpty, warn, emit)
	}, files, size, nil
}

func errNoLogFiles(path string) error {
	return fmt.Errorf("check: %s: no log files (*%s); use --allow-empty if that is expected", path, strings.Join(logSuffixes, ", *"))
}

// walkInputs emits the inputs of paths in order (see collectInputs).
func walkInputs(paths []string, stdin io.Reader, allowEmpty bool, warn func(string), emit func(input)) error {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	w := &walker{emit: emit, warn: warn, seen: fileSet{}}
	sawStdin := false
	for _, p := range paths {
		if p == "-" {
			if sawStdin {
				return errors.New("check: - (standard input) named more than once")
			}
			sawStdin = true
			emit(input{name: "-", stdin: stdin, size: -1})
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !info.IsDir() {
			w.file(p, info, true)
			continue
		}
		if w.seen.has(info) {
			continue // walked already, as or under an earlier argument
		}
		found, err := w.dir(p, info, nil)
		if err != nil {
			return err
		}
		if found == 0 && !allowEmpty {
			return errNoLogFiles(p)
		}
	}
	return nil
}

// walker walks directory trees, following symlinks, and emits their
// inputs as it goes.
type walker struct {
	emit func(input)
	warn func(string)
	// seen holds the directories walked and the files that could be
	// reached again by another path: named as arguments, reached through
	// a symlink, or with more than one hard link. A plain file has one
	// path in the tree, so it needs no entry: the set grows with those,
	// not with the number of files.
	seen fileSet
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

func (s fileSet) add(fi os.FileInfo) {
	k := keyOf(fi)
	s[k] = append(s[k], fi)
}

// taken reports whether fi was seen before, and marks it seen.
func (w *walker) taken(fi os.FileInfo) bool {
	if w.seen.has(fi) {
		return true
	}
	w.seen.add(fi)
	return false
}

// file emits the file at path (fi) unless it was emitted already; other
// marks a file that another path may reach again.
func (w *walker) file(path string, fi os.FileInfo, other bool) {
	if w.seen.has(fi) {
		return
	}
	if other || hardLinks(fi) > 1 {
		w.seen.add(fi)
	}
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	w.emit(input{name: path, path: path, size: size, digest: isDigestPath(path)})
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
		link := e.Type()&fs.ModeSymlink != 0
		if link {
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
		case !hasLogSuffix(e.Name()):
		case info.Mode().IsRegular():
			if !isDigestPath(p) {
				found++
			}
			w.file(p, info, link)
		default:
			// A pipe or device named like a log file: reading it could
			// block or never end, skipping it silently could hide logs.
			found++
			w.emit(input{name: p, path: p, size: -1, err: fmt.Errorf("%s: not a regular file (%s), not read", p, fileKind(info.Mode()))})
		}
	}
	return found, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
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

// checker checks inputs in parallel and reports them in order. Workers
// read, decode and decide whole files at once; one merge stage takes their
// records file by file in walk order (the order the inputs were named and
// walked), ties each zonal call to the CreateSession that minted its key
// (an index per account and region for the whole run, so a session created
// in one trail file is attributed in the next), and writes the output. Attribution and
// output are therefore the same, byte for byte, whatever --jobs is.
type checker struct {
	allowlist  *rules.Allowlist
	own        ownrole.Role
	tolerance  session.Tolerance
	json       bool
	findings   *findingWriter // --format asff or ocsf (findings_format.go)
	showAll    bool
	verbose    bool      // text: every entry in why lines, every group
	allowEmpty bool      // an input with no value at all is not a finding
	style      textStyle // text
	out        io.Writer // stdout, or spill in text format
	spill      *spill    // text: the per-record lines, until the summary is out
	groups     *groups   // text: the findings summed up by the merge stage

	// Written by the merge stage only, read once it is done.
	readErrors []error
	writeErr   error // the first error writing out: the report is incomplete

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

// flushAt is the size at which the merge stage writes its buffered output.
const flushAt = 256 << 10

// batchLen is how many decided records a worker hands the merge stage at
// once: small enough that the batches in flight stay a few MB, large
// enough that a channel operation is rare per record.
const batchLen = 64

// batches holds emptied batches for reuse: a batch is some 60 KB, and
// a tree of small trail files would otherwise allocate one per file.
var batches = sync.Pool{New: func() any { return make([]decided, 0, batchLen) }}

// decided is one value a worker read and decided, waiting for the merge
// stage. rec is filled when the value could be read as a record, or
// partly (it.Partial) when it is invalid nonetheless.
type decided struct {
	it  cloudtrail.Item
	rec cloudtrail.Record
	d   rules.Decision
}

// aheadBudget bounds what a job holds decided ahead of the merge stage: the
// job behind the one being merged decodes this far ahead instead of
// leaving its core idle. Measured on the 1 GB bench tree with 2 jobs:
// two batches ahead (about 100 KB) kept one decoder running at a time.
const aheadBudget = 2 << 20

// decidedSize is what a decided record holds besides its strings.
const decidedSize = int64(unsafe.Sizeof(decided{}))

// maxAheadBatches is the most batches a job can hold within aheadBudget
// (every batch but the last is full), so sending one never blocks on the
// channel.
const maxAheadBatches = int(aheadBudget/(batchLen*decidedSize)) + 2

// decidedBatch is a batch on its way to the merge stage, with its cost
// against the job's look-ahead.
type decidedBatch struct {
	decided []decided
	cost    int64
}

// lookAhead is what a job holds ahead of the merge stage, in bytes.
type lookAhead struct {
	mu   sync.Mutex
	cond sync.Cond
	held int64
}

// acquire waits until n more bytes fit in aheadBudget. A batch larger than
// the budget goes alone.
func (l *lookAhead) acquire(n int64) {
	l.mu.Lock()
	for l.held > 0 && l.held+n > aheadBudget {
		l.cond.Wait()
	}
	l.held += n
	l.mu.Unlock()
}

func (l *lookAhead) release(n int64) {
	l.mu.Lock()
	l.held -= n
	l.cond.Signal()
	l.mu.Unlock()
}

// job is one input in flight between the walk, a worker and the merge
// stage. The worker sets the fields below batches before it closes it.
type job struct {
	in      input
	batches chan decidedBatch
	ahead   lookAhead
	err     error // the input could not be opened or read
	digest  bool  // a digest file, counted not checked
	file    bool  // a log file was read
	bytes   int64
}

func newJob(in input) *job {
	j := &job{in: in, batches: make(chan decidedBatch, maxAheadBatches)}
	j.ahead.cond.L = &j.ahead.mu
	return j
}

// checkAll checks the inputs that walk emits, in order; walk's error, if
// any, is reported after the inputs it emitted.
func (c *checker) checkAll(walk func(emit func(input)) error, jobs int) {
	// Bounded channels keep what is in flight (and so memory) flat
	// whatever the number of inputs: the walk runs at most a few jobs
	// ahead of the merge stage.
	order := make(chan *job, 2*jobs)
	work := make(chan *job, jobs)
	var walkErr error
	go func() {
		defer close(work)
		defer close(order)
		walkErr = walk(func(in input) {
			j := newJob(in)
			// order first: the merge stage waits on it, and a job in
			// order is always handed to a worker next.
			order <- j
			work <- j
		})
	}()
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				// Read-ahead whatever --jobs: a job's decoder and
				// its decompressor keep two cores busy when the other
				// jobs wait on their look-ahead (measured: 3.2 s wall
				// without, 2.2 s with, on the 1 GB bench tree with 2
				// jobs).
				c.decideInput(j, true)
			}
		}()
	}
	c.merge(order)
	wg.Wait()
	if walkErr != nil {
		c.readErrors = append(c.readErrors, walkErr)
	}
}

// merge takes the jobs in walk order and reports their records.
func (c *checker) merge(order <-chan *job) {
	idx := newSessionIndexes()
	var buf []byte
	for j := range order {
		out := c.output(j.in.name)
		for b := range j.batches {
			batch := b.decided
			for k := range batch {
				buf = c.join(buf, &out, idx, &batch[k])
				if len(buf) >= flushAt {
					c.write(buf)
					buf = buf[:0]
				}
			}
			clear(batch) // the records' strings go
			batches.Put(batch[:0])
			j.ahead.release(b.cost)
		}
		c.bytes.Add(j.bytes)
		if j.file {
			c.files.Add(1)
		}
		if j.digest {
			c.digests.Add(1)
		}
		if j.err != nil {
			c.readErrors = append(c.readErrors, j.err)
		}
	}
	c.write(buf)
}

// join ties one decided record to its session and appends its output.
func (c *checker) join(buf []byte, out *outName, idx *sessionIndexes, x *decided) []byte {
	if x.it.Err != nil {
		var rec *cloudtrail.Record
		if x.it.Partial {
			rec = &x.rec
		}
		return c.report(buf, out, x.it, rec, x.d, nil, false)
	}
	rec, d := &x.rec, x.d
	var s *session.Session
	moved := false
	if !idx.add(rec) {
		s = idx.lookup(rec)
	}
	if s != nil && (d.Verdict == rules.Allowed || d.Verdict == rules.Unauthorized) {
		// A session token is a bearer credential: used from another
		// network than it was created from, it is a finding even for
		// an allowed principal.
		var why string
		if why, moved = c.tolerance.Moved(s, rec); moved {
			d.Verdict = rules.Unauthorized
			d.Reasons = append(slices.Clip(d.Reasons), why)
		}
	}
	return c.report(buf, out, x.it, rec, d, s, moved)
}

// sessionIndexes holds a session index per account and region. A session
// is regional, and a trail's tree walks each account's regions one after
// the other, each in time order: one index for all would take the first
// region's newest CreateSession as the clock, and evict the next region's
// sessions, hours earlier, as soon as they were added.
type sessionIndexes struct {
	m map[partition]*partIndex
	// The last partition used: records come a file, an account and a
	// region at a time, so most lookups need no hashing.
	last *partIndex
}

type partition struct{ account, region string }

// partIndex is one partition's index, with its key: the map's copy of the
// strings, so that caching it does not keep a record alive.
type partIndex struct {
	key partition
	idx *session.Index
}

// maxPartitions bounds the indexes: past it (hostile input naming endless
// regions), new partitions share one index, and memory stays flat.
const maxPartitions = 4096

func newSessionIndexes() *sessionIndexes {
	return &sessionIndexes{m: map[partition]*partIndex{}}
}

// add indexes r if it created a session, and reports whether it did.
func (m *sessionIndexes) add(r *cloudtrail.Record) bool {
	if r.EventName != "CreateSession" {
		return false
	}
	p := m.index(r)
	if p == nil {
		k := partition{}
		if len(m.m) < maxPartitions {
			// The record's strings are cut from its one allocation:
			// copied, so the key does not keep the record alive.
			k = partition{strings.Clone(r.RecipientAccountID), strings.Clone(r.AWSRegion)}
		}
		if p = m.m[k]; p == nil {
			p = &partIndex{key: k, idx: session.NewIndex(session.Window)}
			m.m[k] = p
		}
		m.last = p
	}
	return p.idx.Add(r)
}

// lookup returns the session whose key signed r, if indexed.
func (m *sessionIndexes) lookup(r *cloudtrail.Record) *session.Session {
	if p := m.index(r); p != nil {
		return p.idx.Lookup(r)
	}
	return nil
}

// index returns the index of r's account and region, or nil.
func (m *sessionIndexes) index(r *cloudtrail.Record) *partIndex {
	k := partition{r.RecipientAccountID, r.AWSRegion}
	if m.last != nil && m.last.key == k {
		return m.last
	}
	p := m.m[k]
	if p == nil {
		if len(m.m) < maxPartitions {
			return nil
		}
		if p = m.m[partition{}]; p == nil {
			return nil
		}
	}
	m.last = p
	return p
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

// decideInput reads and decides one input, handing its records to the
// merge stage in batches; it closes j.batches when done. readAhead
// decompresses in a goroutine of its own, a second core for the job.
func (c *checker) decideInput(j *job, readAhead bool) {
	in := j.in
	cr := &countingReader{r: in.stdin, total: &c.read}
	batch := batches.Get().([]decided)
	// What a batch holds, for the look-ahead: its records, and the input
	// they were read from (what their strings can take, at most). read is
	// the input offset after the last record read.
	var read, sent int64
	send := func() {
		cost := int64(len(batch))*decidedSize + read - sent
		sent = read
		j.ahead.acquire(cost)
		j.batches <- decidedBatch{batch, cost}
	}
	defer func() {
		if len(batch) > 0 {
			send()
		} else {
			batches.Put(batch)
		}
		close(j.batches)
		// What was not read through cr (a digest, a file that shrank,
		// a read error) is done too, so the total is reached.
		if rest := in.size - cr.n; rest > 0 {
			c.read.Add(rest)
		}
		c.filesDone.Add(1)
	}()
	if in.err != nil {
		j.err = in.err
		return
	}
	if cr.r == nil {
		f, err := os.Open(in.path)
		if err != nil {
			j.err = err
			return
		}
		defer f.Close()
		if in.digest {
			if isDigest(f) {
				j.digest = true
				return
			}
			// Named like a digest, but not one: its records get verdicts.
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				j.err = err
				return
			}
		}
		cr.r = f
	}
	j.file = true
	// Records are decoded in place, in the batch: a record is some 700
	// bytes of pointers, and a copy per record costs write barriers.
	next := func() *decided {
		if len(batch) == batchLen {
			send()
			batch = batches.Get().([]decided)
		}
		batch = batch[:len(batch)+1]
		return &batch[len(batch)-1]
	}
	s, err := cloudtrail.NewStreamOptions(cr, cloudtrail.StreamOptions{ReadAhead: readAhead})
	if err != nil {
		// The gzip header itself is broken: report it as an unreadable record.
		*next() = decided{it: cloudtrail.Item{Line: 1, Index: -1, Err: err}, d: rules.Decision{Verdict: rules.Invalid}}
		return
	}
	defer s.Close()
	values := 0
	for {
		x := next()
		it, ok := s.Next(&x.rec)
		read = s.Offset()
		if !ok {
			batch = batch[:len(batch)-1]
			break
		}
		values++
		x.it = it
		if it.Err != nil {
			// What could be read of it (its eventID, its bucket) lets
			// triage find it; the rest goes.
			x.d = rules.Decision{Verdict: rules.Invalid}
			if !it.Partial {
				x.rec = cloudtrail.Record{}
			}
		} else {
			x.d = c.allowlist.Decide(&x.rec)
			if x.d.Verdict == rules.Unauthorized && c.own.Allows(&x.rec, x.d.Principal) {
				x.d = rules.Decision{Verdict: rules.Allowed, Rule: ownrole.Rule, Principal: x.d.Principal}
			}
		}
	}
	j.bytes = s.BytesRead()
	if values == 0 && !c.allowEmpty {
		// CloudTrail never writes an empty log file: one that holds
		// nothing was emptied, or is not what it is named.
		*next() = decided{it: cloudtrail.Item{Line: 1, Index: -1, Err: errEmptyInput}, d: rules.Decision{Verdict: rules.Invalid}}
	}
}

var errEmptyInput = errors.New("no JSON value: the input is empty (use --allow-empty if that is expected)")

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
// format, a finding is also summed up in c.groups. moved says the last reason is
// session-moved's, appended to the allowlist's.
func (c *checker) report(buf []byte, in *outName, it cloudtrail.Item, rec *cloudtrail.Record, d rules.Decision, s *session.Session, moved bool) []byte {
	c.records.Add(1)
	c.counts[d.Verdict].Add(1)
	if c.findings != nil {
		return c.findings.append(buf, in.name, it, rec, d, s)
	}
	if c.json {
		return appendJSON(buf, in.qname, it, rec, d, s)
	}
	finding := d.Verdict == rules.Unauthorized || d.Verdict == rules.Invalid
	if finding && c.groups != nil {
		c.groups.add(rec, d)
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
func (c *checker) printText(stdout io.Writer, sum string) error {
	w := &stickyWriter{w: stdout}
	summary := c.groups.appendSummary(nil, c.style, c.verbose)
	if len(summary) > 0 && c.hiddenEntries() {
		summary = append(summary, "\nwhy: the closest allowlist entry (fewest failed conditions); -v lists every entry\n"...)
	}
	before := len(summary) > 0
	if c.spill == nil {
		if before {
			w.Write(append([]byte{'\n'}, summary...))
		}
	} else {
		if before && c.spill.size > 0 {
			summary = append(summary, '\n')
			summary = c.style.paint(summary, sgrBold, "records")
			summary = append(summary, ":\n"...)
		}
		w.Write(summary)
		if err := c.spill.copyTo(w); err != nil && w.err == nil {
			c.readError(err)
		}
		before = before || c.spill.size > 0
	}
	if before {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, sum)
	return w.err
}

// stickyWriter keeps the first write error and writes nothing after it.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// hiddenEntries reports whether why lines left entries out: an
// unauthorized finding, without -v, with more than one entry.
func (c *checker) hiddenEntries() bool {
	return !c.verbose && len(c.allowlist.Entries) > 1 && c.counts[rules.Unauthorized].Load() > 0
}

// write writes buf out; the first error is kept, and the run fails with
// it: a report cut short by a full disk must not pass for a clean one.
func (c *checker) write(buf []byte) {
	if len(buf) == 0 || c.writeErr != nil {
		return
	}
	if _, err := c.out.Write(buf); err != nil {
		c.writeErr = fmt.Errorf("writing the report: %w", err)
	}
}

func (c *checker) readError(err error) {
	c.readErrors = append(c.readErrors, err)
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
// object with digestStartTime, digestEndTime and logFiles and no member a
// digest does not have
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
	if !keys["digestStartTime"] || !keys["digestEndTime"] || !keys["logFiles"] {
		return false
	}
	for k := range keys {
		if !digestKeys[k] {
			return false // a record's fields beside a digest's: checked as a log file
		}
	}
	return true
}

// digestKeys are the members of a CloudTrail digest file (CloudTrail user
// guide, "CloudTrail digest file structure"). Any other member makes the
// file a log file to check: the name alone is no hiding place.
var digestKeys = map[string]bool{
	"awsAccountId": true, "digestStartTime": true, "digestEndTime": true,
	"digestS3Bucket": true, "digestS3Object": true, "digestPublicKeyFingerprint": true,
	"digestSignatureAlgorithm": true, "newestEventTime": true, "oldestEventTime": true,
	"previousDigestS3Bucket": true, "previousDigestS3Object": true, "previousDigestHashValue": true,
	"previousDigestHashAlgorithm": true, "previousDigestSignature": true, "logFiles": true,
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
