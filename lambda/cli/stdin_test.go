package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// TestCheckSaysItReadsTerminal: a bare check on a terminal says it is
// reading standard input, then reads it to the end (Ctrl-D); from a pipe
// or a file it says nothing.
func TestCheckSaysItReadsTerminal(t *testing.T) {
	allowlist := filepath.Join(t.TempDir(), "a.yaml")
	if err := os.WriteFile(allowlist, []byte("version: 1\nallow: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const note = "reading CloudTrail records from standard input, the terminal"

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	// Typed before check reads: the line discipline keeps it, and the
	// Ctrl-D at the start of a line is the end of input.
	if _, err := ptmx.Write([]byte("[]\n\x04")); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"check", "--allow-empty", "--allowlist", allowlist}, tty, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), note) {
		t.Errorf("on a terminal: stderr %q; want %q", stderr.String(), note)
	}

	// A terminal as stdin, but a file to check: nothing is read from it.
	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := Run([]string{"check", "--allow-empty", "--allowlist", allowlist, empty}, tty, &stdout, &stderr); code != exitOK {
		t.Fatalf("a file: exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), note) {
		t.Errorf("a file named: stderr %q; want no note", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := Run([]string{"check", "--allow-empty", "--allowlist", allowlist}, strings.NewReader("[]"), &stdout, &stderr); code != exitOK {
		t.Fatalf("from a pipe: exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), note) {
		t.Errorf("from a pipe: stderr %q; want no note", stderr.String())
	}
}
