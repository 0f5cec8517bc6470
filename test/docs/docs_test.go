// Package docs checks the READMEs against the code they describe: every
// link lands, every command they show exists with the flags they give it,
// and the front door stays a front door.
package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/s3xguard/s3xguard/test/harness"
)

// readmes are the module's README files, relative to its root.
func readmes(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".tools" || d.Name() == ".git" || d.Name() == "cdk.out" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() == "README.md" {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("found %d READMEs (%v); want the front door and the per-area ones", len(out), out)
	}
	return out
}

var (
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// slug is GitHub's anchor for a heading.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func anchors(text string) map[string]bool {
	m := map[string]bool{}
	for _, h := range headingRE.FindAllStringSubmatch(text, -1) {
		m[slug(h[1])] = true
	}
	return m
}

// TestLinks: every relative link of every README names a file that exists
// and, with a #fragment, a heading of that file.
func TestLinks(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range readmes(t, root) {
		text, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRE.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := filepath.Join(root, filepath.Dir(rel), file)
			if file == "" {
				path = filepath.Join(root, rel)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				if fi, serr := os.Stat(path); serr == nil && fi.IsDir() && frag == "" {
					continue
				}
				t.Errorf("%s: link %q: %v", rel, target, err)
				continue
			}
			if frag != "" && !anchors(string(b))[frag] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", rel, target, file, frag)
			}
		}
	}
}

// TestFrontDoor: the README stays a front door, and its first command
// runs as written.
func TestFrontDoor(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(text, []byte("\n")); n > 300 {
		t.Errorf("README.md has %d lines; the front door is a few hundred at most: move reference to the README next to the code", n)
	}
	for _, want := range []string{"## The two commands", "## Quick start", "./test/run", "go install github.com/s3xguard/s3xguard/lambda/cmd/s3xguard@"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	// .ci/run must call exactly the test command the README gives.
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^exec \./test/run$`).Match(ci) {
		t.Errorf(".ci/run does not exec ./test/run, the README's test command:\n%s", ci)
	}
}

// s3xguardLine finds command lines of the READMEs: `s3xguard CMD ...` at
// the start of a code line or after `go run ./lambda/cmd/s3xguard`.
var s3xguardLine = regexp.MustCompile(`(?m)^\s*(?:\$ )?(?:go run \./lambda/cmd/s3xguard|s3xguard) ([a-z][a-z-]*)((?: [^#\n]*)?)`)

// TestCommandsExist: every `s3xguard CMD --flag` a README shows in a code
// line is a command of the binary with that flag in its help.
func TestCommandsExist(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "s3xguard")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "lambda", "cmd", "s3xguard")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	helps := map[string]string{}
	help := func(cmd string) string {
		if h, ok := helps[cmd]; ok {
			return h
		}
		var out bytes.Buffer
		c := exec.Command(bin, strings.Fields(cmd+" -h")...)
		c.Stdout, c.Stderr = &out, &out
		_ = c.Run() // the status is the CLI tests' business; the text is ours
		helps[cmd] = out.String()
		return helps[cmd]
	}
	flagRE := regexp.MustCompile(`(?:^|\s)(--?[a-z][a-z0-9-]*)`)
	seen := 0
	for _, rel := range readmes(t, root) {
		text, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		fenced := false
		for _, line := range strings.Split(string(text), "\n") {
			if strings.HasPrefix(line, "```") {
				fenced = !fenced
				continue
			}
			if !fenced && !strings.HasPrefix(line, "    ") {
				continue // commands are shown as code
			}
			m := s3xguardLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			cmd, rest := m[1], m[2]
			if sub := strings.Fields(rest); cmd == "quarantine" && len(sub) > 0 && !strings.HasPrefix(sub[0], "-") {
				cmd += " " + sub[0]
			}
			h := help(cmd)
			if strings.Contains(h, "unknown command") {
				t.Errorf("%s: %q: no such command %q", rel, strings.TrimSpace(line), cmd)
				continue
			}
			seen++
			for _, f := range flagRE.FindAllStringSubmatch(rest, -1) {
				name := strings.TrimLeft(f[1], "-")
				if !regexp.MustCompile(`(?m)-{1,2}` + regexp.QuoteMeta(name) + `\b`).MatchString(h) {
					t.Errorf("%s: %q: %s's help does not list --%s:\n%s", rel, strings.TrimSpace(line), cmd, name, h)
				}
			}
		}
	}
	if seen < 5 {
		t.Errorf("found %d command lines in the READMEs; the matcher is broken", seen)
	}
}
