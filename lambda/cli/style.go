package cli

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/s3xguard/s3xguard/rules"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorFor reports whether text written to w may be coloured: w is a
// terminal, NO_COLOR is unset or empty (https://no-color.org) and TERM is
// not dumb.
func colorFor(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" && isTerminal(w)
}

// SGR sequences (ECMA-48 Select Graphic Rendition). Only these constants
// ever reach the terminal: values from records are escaped first.
const (
	sgrReset  = "\x1b[0m"
	sgrBold   = "\x1b[1m"
	sgrDim    = "\x1b[2m"
	sgrRed    = "\x1b[1;31m"
	sgrYellow = "\x1b[33m"
	sgrGreen  = "\x1b[32m"
)

var verdictSGR = [...]string{
	rules.Invalid:      sgrYellow,
	rules.Allowed:      sgrGreen,
	rules.Unauthorized: sgrRed,
	rules.Ignored:      sgrDim,
}

// textStyle says how text output is dressed.
type textStyle struct {
	color bool
}

// paint appends s, trusted text of our own, in colour sgr.
func (st textStyle) paint(b []byte, sgr, s string) []byte {
	if !st.color {
		return append(b, s...)
	}
	b = append(b, sgr...)
	b = append(b, s...)
	return append(b, sgrReset...)
}

// paintEscaped appends s escaped (appendEscaped), in colour sgr: the codes
// go around the escaped value, so the value cannot end or change them.
func (st textStyle) paintEscaped(b []byte, sgr, s string) []byte {
	if !st.color {
		return appendEscaped(b, s)
	}
	b = append(b, sgr...)
	b = appendEscaped(b, s)
	return append(b, sgrReset...)
}
