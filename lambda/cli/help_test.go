package cli

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// synopsisFlag is a flag named in a usage line: -v, --allowlist.
var synopsisFlag = regexp.MustCompile(`(?:^|[\s\[(])--?([a-z][a-z0-9-]*)`)

// TestHelpMatchesFlags: every command's (and subcommand's) -h exits 0, and
// its usage line names exactly the flags it parses, which the list below
// it shows (flag.PrintDefaults). The usage lines are written by hand: this
// is what keeps them true.
func TestHelpMatchesFlags(t *testing.T) {
	for _, c := range commands {
		subs := c.subs
		if subs == nil {
			subs = []string{""}
		}
		for _, sub := range subs {
			name := strings.TrimSpace(c.name + " " + sub)
			args := append(strings.Fields(name), "-h")
			var stdout, stderr bytes.Buffer
			if code := Run(args, nil, &stdout, &stderr); code != exitOK {
				t.Errorf("%s -h: exit %d; want 0\n%s", name, code, stderr.String())
				continue
			}
			// Its usage lines (doctor has two forms): the flags they name
			// together.
			var line string
			for _, l := range strings.Split(stderr.String(), "\n") {
				l = strings.TrimSpace(strings.TrimPrefix(l, "usage:"))
				if l == "s3xguard "+name || strings.HasPrefix(l, "s3xguard "+name+" ") {
					line += " " + strings.TrimPrefix(l, "s3xguard "+name)
				}
			}
			if line == "" && name != "version" {
				t.Errorf("%s -h: no usage line for it:\n%s", name, stderr.String())
				continue
			}
			var named, parsed []string
			for _, m := range synopsisFlag.FindAllStringSubmatch(line, -1) {
				if !slices.Contains(named, m[1]) {
					named = append(named, m[1])
				}
			}
			for _, f := range flagsOf(c, sub) {
				parsed = append(parsed, f.name)
			}
			slices.Sort(named)
			slices.Sort(parsed)
			if !slices.Equal(named, parsed) {
				t.Errorf("%s: the usage line names %q; the command parses %q", name, named, parsed)
			}
		}
	}
}

// TestHelpListsWhatRunDispatches: the top-level help lists the commands in
// the table Run dispatches from, each runs (its -h exits 0), and a name
// outside the table is an unknown command.
func TestHelpListsWhatRunDispatches(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"--help"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("--help: exit %d", code)
	}
	listed := regexp.MustCompile(`(?m)^  ([a-z]+) +(.+)$`).FindAllStringSubmatch(stdout.String(), -1)
	if len(listed) != len(commands) {
		t.Fatalf("help lists %d commands; Run dispatches %d:\n%s", len(listed), len(commands), stdout.String())
	}
	for i, m := range listed {
		if m[1] != commands[i].name || m[2] != commands[i].summary {
			t.Errorf("help line %d: %q %q; want %q %q", i, m[1], m[2], commands[i].name, commands[i].summary)
		}
		if code := Run([]string{m[1], "-h"}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != exitOK {
			t.Errorf("%s -h: exit %d", m[1], code)
		}
	}
	stderr.Reset()
	if code := Run([]string{"chek"}, nil, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), `unknown command "chek"`) {
		t.Errorf("chek: exit %d, %q; want 2, unknown command", code, stderr.String())
	}
}
