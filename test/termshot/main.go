// Command termshot runs a command on a pseudo-terminal (stdout and stderr
// both on it, as in a shell) and prints what a person saw, rendered as the
// terminal renders it: carriage returns redraw the line, escape sequences
// (colour) are left out. It prints a frame from the middle of the run
// (the progress line mid-way) and then the terminal's whole output at the
// end, its first -head and last -tail lines (and those around -mark), for
// the README.
//
// With -runs N it times instead, in turns, the command on the terminal and
// with stdout to /dev/null and stderr a pipe, and with -against BASE the
// same arguments run by BASE (another build) the same ways: the best and
// the median wall time and CPU time of each.
//
//	go run ./test/termshot [-head 40] [-tail 4] [-mark REGEXP [-context 3]] [-prompt TEXT] -- BIN ARGS...
//	go run ./test/termshot -runs 5 [-against BASE] -- BIN ARGS...
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/test/termrun"
)

func main() {
	head := flag.Int("head", 40, "lines shown from the top of the final output")
	tail := flag.Int("tail", 4, "lines shown from the bottom of the final output")
	prompt := flag.String("prompt", "", "command line shown after $ (default: the command as run)")
	mark := flag.String("mark", "", "also show the lines around the first line that matches `regexp`")
	context := flag.Int("context", 3, "lines shown before and after the -mark line")
	frame := flag.String("frame", `\d+/\d+ files`, "`regexp` that marks a progress frame")
	runs := flag.Int("runs", 0, "time `N` runs of each way instead of capturing")
	against := flag.String("against", "", "with -runs, also time `BASE` with the same arguments")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: termshot [-head N] [-tail N] [-prompt TEXT] [-runs N [-against BASE]] -- BIN ARGS...")
		os.Exit(2)
	}
	if *runs > 0 {
		if err := timeRuns(*runs, args, *against); err != nil {
			fmt.Fprintf(os.Stderr, "termshot: %v\n", err)
			os.Exit(1)
		}
		return
	}
	cmd := exec.Command(args[0], args[1:]...)
	r, err := termrun.Run(cmd, true, true)
	if err != nil {
		fmt.Fprintf(os.Stderr, "termshot: %v\n", err)
		os.Exit(1)
	}
	if *prompt == "" {
		*prompt = strings.Join(args, " ")
	}
	raw := string(r.TTY)
	// Progress frames end where the next redraw starts, at a carriage
	// return; take the one in the middle of the run.
	re := regexp.MustCompile(*frame)
	var ends []int
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\r' && (i+1 >= len(raw) || raw[i+1] != '\n') {
			if lines := render(raw[:i]); re.MatchString(lines[len(lines)-1]) {
				ends = append(ends, i)
			}
		}
	}
	fmt.Printf("$ %s\n", *prompt)
	if len(ends) > 0 {
		lines := render(raw[:ends[len(ends)/2]])
		fmt.Printf("%s\n\n(%d progress frames; the one in the middle of the run above, the end of the run below)\n\n$ %s\n", lines[len(lines)-1], len(ends), *prompt)
	}
	lines := render(raw)
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	// The spans of lines shown: the head, the lines around the mark,
	// the tail; merged where they meet.
	spans := [][2]int{{0, min(*head, len(lines))}}
	if *mark != "" {
		re := regexp.MustCompile(*mark)
		for i, l := range lines {
			if re.MatchString(l) {
				spans = append(spans, [2]int{max(0, i-*context), min(len(lines), i+*context+1)})
				break
			}
		}
	}
	spans = append(spans, [2]int{max(0, len(lines)-*tail), len(lines)})
	shown := 0
	for _, sp := range spans {
		if sp[0] > shown {
			fmt.Printf("... (%d lines)\n", sp[0]-shown)
		}
		for i := max(sp[0], shown); i < sp[1]; i++ {
			fmt.Println(lines[i])
		}
		shown = max(shown, sp[1])
	}
	if r.Err != nil {
		fmt.Printf("(exit: %v)\n", r.Err)
	}
}

// timeRuns times the command (and base) on the terminal and in pipes, in
// turns, so a load that comes and goes weighs on each alike.
func timeRuns(runs int, args []string, base string) error {
	type way struct {
		name string
		bin  string
		tty  bool
		ds   []time.Duration
		cpu  []time.Duration
	}
	ways := []*way{{name: args[0] + ", on a terminal", bin: args[0], tty: true}, {name: args[0] + ", stdout /dev/null, stderr a pipe", bin: args[0]}}
	if base != "" {
		ways = append(ways, &way{name: base + ", on a terminal", bin: base, tty: true}, &way{name: base + ", stdout /dev/null, stderr a pipe", bin: base})
	}
	for range runs {
		for _, w := range ways {
			cmd := exec.Command(w.bin, args[1:]...)
			start := time.Now()
			var err error
			if w.tty {
				var r *termrun.Result
				if r, err = termrun.Run(cmd, true, true); err == nil {
					err = exitErr(r.Err)
				}
			} else {
				if cmd.Stdout, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
					return err
				}
				cmd.Stderr = io.Discard
				err = exitErr(cmd.Run())
			}
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			w.ds = append(w.ds, time.Since(start))
			w.cpu = append(w.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
	}
	fmt.Printf("%d runs each, in turns: wall time best, median; CPU (user+system) best, median\n", runs)
	for _, w := range ways {
		slices.Sort(w.ds)
		slices.Sort(w.cpu)
		fmt.Printf("  %-56s %7s %7s   %7s %7s\n", w.name, w.ds[0].Round(time.Millisecond), w.ds[len(w.ds)/2].Round(time.Millisecond),
			w.cpu[0].Round(time.Millisecond), w.cpu[len(w.cpu)/2].Round(time.Millisecond))
	}
	return nil
}

// exitErr ignores exit status 1 (check found something).
func exitErr(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return nil
	}
	return err
}

// render plays out to lines of text what a terminal shows for out: \r
// returns to the start of the line, \n (the terminal's \r\n) starts a new
// one, \b steps back, a character overwrites the one under the cursor,
// and CSI sequences (colour, erase) are dropped. Enough for a program
// that redraws one line.
func render(out string) []string {
	lines := [][]rune{nil}
	col := 0
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRuneInString(out[i:])
		i += size
		cur := &lines[len(lines)-1]
		switch {
		case r == '\r':
			col = 0
		case r == '\n':
			lines = append(lines, nil)
			col = 0
		case r == '\b':
			col = max(0, col-1)
		case r == 0x1b && i < len(out) && out[i] == '[':
			// CSI: parameters and intermediates, then a final byte
			// 0x40-0x7e (ECMA-48).
			i++
			for i < len(out) && (out[i] < 0x40 || out[i] > 0x7e) {
				i++
			}
			i++
		default:
			for len(*cur) < col {
				*cur = append(*cur, ' ')
			}
			if col < len(*cur) {
				(*cur)[col] = r
			} else {
				*cur = append(*cur, r)
			}
			col++
		}
	}
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = strings.TrimRight(string(l), " ")
	}
	return s
}
