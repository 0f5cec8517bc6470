// Package termrun runs a command with its standard output, standard error
// or both on a pseudo-terminal, as a person's shell would, and returns what
// the terminal received: for tests and captures of terminal output.
package termrun

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"syscall"

	"github.com/creack/pty"
)

// Result is what a run left on the terminal and in the pipes.
type Result struct {
	TTY    []byte // bytes written to the terminal, as written
	Stdout []byte // when not on the terminal
	Stderr []byte // when not on the terminal
	Err    error  // from cmd.Wait
}

// Size of the terminal.
const (
	Cols = 120
	Rows = 40
)

// Run runs cmd with stdout and/or stderr on one pseudo-terminal of
// Cols x Rows (the others on pipes) and waits for it. Standard input is
// left as cmd has it.
func Run(cmd *exec.Cmd, stdoutTTY, stderrTTY bool) (*Result, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: Cols, Rows: Rows}); err != nil {
		tty.Close()
		return nil, err
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdoutTTY {
		cmd.Stdout = tty
	}
	if stderrTTY {
		cmd.Stderr = tty
	}
	// A session of its own, with the terminal as its controlling
	// terminal, as a shell starts a command.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: stdoutTTY || stderrTTY, Ctty: ctty(stdoutTTY, stderrTTY)}
	if err := cmd.Start(); err != nil {
		tty.Close()
		return nil, err
	}
	tty.Close() // the child holds it; reads end when the child exits
	var screen bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&screen, ptmx)
		// Linux returns EIO once the last holder of the terminal is gone.
		if errors.Is(err, syscall.EIO) {
			err = nil
		}
		done <- err
	}()
	werr := cmd.Wait()
	if err := <-done; err != nil {
		return nil, err
	}
	return &Result{TTY: screen.Bytes(), Stdout: out.Bytes(), Stderr: errb.Bytes(), Err: werr}, nil
}

// ctty is the child's descriptor of the terminal.
func ctty(stdoutTTY, stderrTTY bool) int {
	if stdoutTTY {
		return 1
	}
	if stderrTTY {
		return 2
	}
	return 0
}
