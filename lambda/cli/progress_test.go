package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/test/termrun"
)

// progressLine matches a frame of the progress line over the 8 files of
// the test's trail: files done, percent, the bar (colour codes inside),
// bytes read of the total, the rate, time spent:time left.
var progressLine = regexp.MustCompile(`(\d+)/8 files +(\d+)% \[[^\]\r\n]*\] \( *[\d.]+ ?[kMG]?B?/ *([\d.]+) MB(, [\d.]+ [kMG]?B/s)?\) \[\d+s:\d+s\]`)

// stdinLine matches a frame over standard input: a spinner, one input,
// bytes read and the rate, time spent; no total, no time left.
var stdinLine = regexp.MustCompile(`\S 0/1 files \(([\d.]+) ([kMG]?B)(, [\d.]+ [kMG]?B/s)?\) \[\d+s\]`)

// TestTerminal runs the real binary on a pseudo-terminal over a generated
// trail: progress shows on a terminal, with the trail's size as the
// total, and is gone before the summary; colour only on a terminal; and
// neither in a pipe, with --quiet (progress) or with NO_COLOR or TERM=dumb
// (colour).
func TestTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and a trail")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "s3xguard")
	tree := filepath.Join(dir, "trail")
	for _, c := range [][]string{
		{"go", "build", "-o", bin, "../cmd/s3xguard"},
		{"go", "run", "../../test/gen", "-out", tree, "-size", "128MB", "-files", "8"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", c, err, out)
		}
	}
	var size int64
	var first string
	filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fi, _ := d.Info()
			size += fi.Size()
			if first == "" {
				first = p
			}
		}
		return nil
	})
	red := []byte(sgrRed + "unauthorized" + sgrReset)
	tests := []struct {
		name               string
		stdoutTTY, errTTY  bool
		env                []string
		args               []string
		progress, colorOut bool
		noEscape           bool // not a single escape code on the terminal
	}{
		{name: "both on the terminal", stdoutTTY: true, errTTY: true, progress: true, colorOut: true},
		{name: "stderr a pipe", stdoutTTY: true, colorOut: true},
		{name: "stdout a pipe", errTTY: true, progress: true},
		{name: "quiet", stdoutTTY: true, errTTY: true, args: []string{"--quiet"}, colorOut: true},
		{name: "NO_COLOR", stdoutTTY: true, errTTY: true, env: []string{"NO_COLOR=1"}, progress: true, noEscape: true},
		{name: "TERM dumb", stdoutTTY: true, errTTY: true, env: []string{"TERM=dumb", "NO_COLOR="}, progress: true, noEscape: true},
		{name: "NO_COLOR empty", stdoutTTY: true, errTTY: true, env: []string{"NO_COLOR="}, progress: true, colorOut: true},
		// JSON lines stream to stdout as they come: progress on the same
		// screen would break them up.
		{name: "json", stdoutTTY: true, errTTY: true, args: []string{"--format", "json"}},
		{name: "json to a pipe", errTTY: true, args: []string{"--format", "json"}, progress: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"check", "--allowlist", "../../rules/allowlist.example.yaml", "--jobs", "1"}, tt.args...)
			cmd := exec.Command(bin, append(args, tree)...)
			cmd.Env = append(append(os.Environ(), "TERM=xterm-256color"), tt.env...)
			if tt.env == nil {
				cmd.Env = append(cmd.Env, "NO_COLOR=")
			}
			r, err := termrun.Run(cmd, tt.stdoutTTY, tt.errTTY)
			if err != nil {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != exitFindings {
				t.Fatalf("exit %d; want %d\n%s%s", code, exitFindings, r.Stderr, r.TTY)
			}
			frames := progressLine.FindAllSubmatch(r.TTY, -1)
			if got := len(frames) > 0; got != tt.progress {
				t.Errorf("progress on the terminal: %v; want %v\n%q", got, tt.progress, head(r.TTY))
			}
			if len(frames) > 0 {
				// The total is the trail's size on disk (compressed).
				var total float64
				fmt.Sscan(string(frames[0][3]), &total)
				if want := float64(size) / 1e6; total < want*0.95 || total > want*1.05 {
					t.Errorf("total %s MB; want the trail's %.1f MB", frames[0][3], want)
				}
				// Whether a frame is drawn mid-way depends on the speed of
				// the machine; the stdin case below makes sure of it.
			}
			if progressLine.Match(r.Stderr) || bytes.Contains(r.Stderr, []byte("\r")) {
				t.Errorf("progress in the stderr pipe:\n%q", head(r.Stderr))
			}
			stdout := r.Stdout
			if tt.stdoutTTY {
				stdout = r.TTY
			}
			if got := bytes.Contains(stdout, red); got != tt.colorOut {
				t.Errorf("coloured verdicts on stdout: %v; want %v\n%q", got, tt.colorOut, head(stdout))
			}
			if tt.noEscape && bytes.Contains(r.TTY, []byte("\x1b")) {
				t.Errorf("escape codes on the terminal:\n%q", head(r.TTY))
			}
			if !tt.stdoutTTY && bytes.Contains(r.Stdout, []byte("\x1b")) {
				t.Errorf("escape codes in the stdout pipe:\n%q", head(r.Stdout))
			}
			if tt.progress && tt.stdoutTTY && tt.name != "json" {
				// The progress line is cleared (carriage return, blanks,
				// carriage return) before the summary starts.
				at := bytes.Index(r.TTY, []byte("findings by principal and bucket"))
				last := progressLine.FindAllIndex(r.TTY, -1)
				if at < 0 || len(last) == 0 || last[len(last)-1][1] > at {
					t.Fatalf("summary at %d, last progress frame ending at %v", at, last)
				}
				if clear := r.TTY[last[len(last)-1][1]:at]; !regexp.MustCompile(`^[^\n]*\r *\r`).Match(clear) {
					t.Errorf("progress not cleared before the summary: %q", clear)
				}
			}
		})
	}

	// Standard input has no known size: bytes read and the rate. The
	// input comes slowly, so frames are drawn mid-way whatever the speed
	// of the machine.
	t.Run("stdin", func(t *testing.T) {
		data, err := os.ReadFile(first)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "check", "--allowlist", "../../rules/allowlist.example.yaml", "-")
		cmd.Env = append(os.Environ(), "TERM=xterm-256color", "NO_COLOR=1")
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = pr
		go func() {
			defer pw.Close()
			chunk := len(data)/8 + 1
			for i := 0; i < len(data); i += chunk {
				pw.Write(data[i:min(len(data), i+chunk)])
				time.Sleep(2 * progressEvery)
			}
		}()
		r, err := termrun.Run(cmd, false, true)
		pr.Close()
		if err != nil {
			t.Fatal(err)
		}
		frames := stdinLine.FindAllSubmatch(r.TTY, -1)
		mid := false
		for _, f := range frames {
			mid = mid || (string(f[1]) != "0" && len(f[3]) > 0)
		}
		if !mid {
			t.Fatalf("no frame with bytes read and a rate:\n%q", head(r.TTY))
		}
		if progressLine.Match(r.TTY) {
			t.Errorf("a total shown for standard input:\n%q", head(r.TTY))
		}
		// The line is blank at the end: nothing drew after clear.
		if line := screenLine(string(r.TTY)); strings.TrimSpace(line) != "" || bytes.Contains(r.TTY, []byte("\n")) {
			t.Errorf("left on the terminal: %q", r.TTY[max(0, len(r.TTY)-300):])
		}
	})
}

// head is the start of b, for messages.
func head(b []byte) []byte { return b[:min(len(b), 2000)] }

// TestProgressRedraws: the ticker redraws from the counters the workers
// add to, and clear leaves a blank line.
func TestProgressRedraws(t *testing.T) {
	var w syncBuffer
	var read, done atomic.Int64
	p := startProgress(&w, false, 3, 3<<20, &read, &done)
	read.Store(2 << 20)
	done.Store(2)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.String(), "2/3 files") || !strings.Contains(w.String(), "2.1/3.1 MB") {
		if time.Now().After(deadline) {
			p.clear()
			t.Fatalf("no redraw with 2/3 files and 2.1/3.1 MB:\n%q", w.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.clear()
	if line := screenLine(w.String()); strings.TrimSpace(line) != "" {
		t.Fatalf("left on the terminal: %q", line)
	}
}

// TestProgressCleared: whether the run ends before the first redraw, at
// the total, past it (a file that grew), or with no input at all, the
// line is blank at the end.
func TestProgressCleared(t *testing.T) {
	for _, tt := range []struct {
		name        string
		total, read int64
		files       int
	}{
		{"before a redraw", 3 << 20, 0, 3},
		{"at the total", 3 << 20, 3 << 20, 3},
		{"past the total", 3 << 20, 4 << 20, 3},
		{"no input", 0, 0, 0},
		{"size unknown", -1, 5 << 20, 1},
	} {
		var w syncBuffer
		var read, done atomic.Int64
		p := startProgress(&w, true, tt.files, tt.total, &read, &done)
		read.Store(tt.read)
		done.Store(int64(tt.files))
		if tt.read > 0 {
			time.Sleep(2 * progressEvery)
		}
		p.clear()
		if line := screenLine(w.String()); strings.TrimSpace(line) != "" {
			t.Errorf("%s: left on the terminal: %q (written: %q)", tt.name, line, w.String())
		}
		// Nothing draws after clear: what follows is the report's.
		n := len(w.String())
		time.Sleep(3 * progressEvery)
		if more := w.String()[n:]; more != "" {
			t.Errorf("%s: drawn after clear: %q", tt.name, more)
		}
	}
}

// screenLine is what a terminal shows on the line after out, written on
// one line: each carriage return goes back to the start, and what follows
// overwrites; escape sequences (colour) take no room.
func screenLine(out string) string {
	out = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]").ReplaceAllString(out, "")
	var line []rune
	col := 0
	for _, r := range out {
		if r == '\r' {
			col = 0
			continue
		}
		if col < len(line) {
			line[col] = r
		} else {
			line = append(line, r)
		}
		col++
	}
	return string(line)
}

// syncBuffer is a bytes.Buffer safe for the ticker and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
