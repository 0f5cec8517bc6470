// Command s3xguard guards data in Amazon S3 Express One Zone directory
// buckets. Inside AWS Lambda it serves S3 Express CloudTrail events;
// anywhere else it is a command-line tool that checks CloudTrail log files
// offline against the same allowlist, and undoes quarantines.
package main

import (
	"fmt"
	"io"
	"os"
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

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		serve()
		return
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit statuses shared by the commands.
const (
	exitOK       = 0
	exitFindings = 1 // something unauthorized or invalid
	exitUsage    = 2 // could not run
)

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
