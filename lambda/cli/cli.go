// Package cli holds the operator's commands of s3xguard (check, suggest,
// sql, doctor, quarantine, version, completion): everything the function
// does not need. The function's own entry is the handler package; the
// binary that joins both is lambda/cmd/s3xguard.
package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/s3xguard/s3xguard/rules/query"
)

// command is one of the commands Run dispatches. The top-level help and
// the shell completion scripts are written from the same table, so neither
// can list a command Run does not run, or miss one it does.
type command struct {
	name, summary string
	run           func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	// subs are the command's subcommands, each with its own flags.
	subs []string
	// values are what the flags of a fixed set of choices take: completion
	// offers them; TestFlagValues runs the command with each, and with one
	// outside the set.
	values map[string][]string
}

// commands is filled in init: completion reads it, and a package-level
// initializer referring to completion would be an initialization cycle.
var commands []command

func init() {
	commands = []command{
		{name: "check", summary: "check CloudTrail records against an allowlist", run: runCheck,
			values: map[string][]string{"format": checkFormats, "show": checkShows}},
		{name: "suggest", summary: "write an allowlist that allows the S3 Express calls seen", run: runSuggest},
		{name: "sql", summary: "print the allowlist as an Athena or CloudTrail Lake query", run: quiet(runSQL),
			values: map[string][]string{"engine": {string(query.Athena), string(query.Lake)},
				"verdict": {query.VerdictFindings, query.VerdictUnauthorized, query.VerdictAllowed, query.VerdictInvalid, query.VerdictAll}}},
		{name: "doctor", summary: "check, read-only, that a deployment sees what it should", run: quiet(runDoctor),
			values: map[string][]string{"format": doctorFormats}},
		{name: "quarantine", summary: "list or release the principals s3xguard denied on a bucket", run: quiet(runQuarantine), subs: []string{"list", "release"}},
		{name: "version", summary: "print the version and the allowlist format version", run: quiet(runVersion)},
		{name: "completion", summary: "print a shell completion script: bash, zsh or fish", run: quiet(runCompletion)},
	}
}

// quiet adapts a command that reads no standard input.
func quiet(run func(args []string, stdout, stderr io.Writer) int) func([]string, io.Reader, io.Writer, io.Writer) int {
	return func(args []string, _ io.Reader, stdout, stderr io.Writer) int { return run(args, stdout, stderr) }
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: s3xguard <command> [flags]\n       s3xguard --version\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 's3xguard <command> -h' (or 's3xguard help <command>') for a command's flags.\n")
	return b.String()
}

// Exit statuses shared by the commands.
const (
	exitOK       = 0
	exitFindings = 1 // something unauthorized or invalid
	exitUsage    = 2 // could not run
)

// Run runs the command line args (without the program name) and returns
// the exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage())
		return exitOK
	case "help":
		if len(args) == 1 {
			fmt.Fprint(stdout, usage())
			return exitOK
		}
		// help COMMAND [SUB]: the command's own -h.
		return Run(append(args[1:], "-h"), stdin, stdout, stderr)
	case "-version", "--version":
		return runVersion(args[1:], stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	errorf(stderr, "unknown command %q", args[0])
	fmt.Fprint(stderr, usage())
	return exitUsage
}

func errorf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "s3xguard: error: "+format+"\n", args...)
}
