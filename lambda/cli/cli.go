// Package cli holds the operator's commands of s3xguard (check, suggest,
// sql, doctor, quarantine, version): everything the function does not need.
// The function's own entry is the handler package; the binary that joins
// both is lambda/cmd/s3xguard.
package cli

import (
	"fmt"
	"io"
)

const usage = `usage: s3xguard <command> [flags]

commands:
  check       check CloudTrail records against an allowlist
              s3xguard check --allowlist FILE [--format text|json|asff|ocsf] [--show findings|all] [-v] [--quiet] [--allow-empty] [PATH ...]

  doctor      check, read-only, that a deployment sees what it should
              s3xguard doctor --function NAME [--buckets B,...] [--format text|json]

  sql         print the allowlist as an Athena or CloudTrail Lake query
              s3xguard sql --allowlist FILE --engine athena|lake [--table NAME] [--since T] [--until T]

  suggest     write an allowlist that allows the S3 Express calls seen
              s3xguard suggest [--group-by principal[,bucket][,operation]] [--against FILE] [PATH ...]

  quarantine  list or release the principals s3xguard denied on a bucket
              s3xguard quarantine list --bucket BUCKET
              s3xguard quarantine release --bucket BUCKET (--principal ARN | --all)

  version     print the version and the allowlist format version

Run 's3xguard <command> -h' for a command's flags.
`

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
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return runCheck(args[1:], stdin, stdout, stderr)
	case "quarantine":
		return runQuarantine(args[1:], stdout, stderr)
	case "doctor":
		return runDoctor(args[1:], stdout, stderr)
	case "sql":
		return runSQL(args[1:], stdout, stderr)
	case "suggest":
		return runSuggest(args[1:], stdin, stdout, stderr)
	case "version":
		return runVersion(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	errorf(stderr, "unknown command %q", args[0])
	fmt.Fprint(stderr, usage)
	return exitUsage
}

func errorf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "s3xguard: error: "+format+"\n", args...)
}
