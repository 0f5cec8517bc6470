package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/rules/query"
)

const sqlUsage = `usage: s3xguard sql --allowlist FILE --engine athena|lake [--table NAME] [--since T] [--until T] [--verdict V]

Prints one Trino SQL query whose rows are the records 'check' gives verdict V,
with check's JSON columns (eventID, verdict, rule, eventTime, eventName,
bucket, principal, arn, sourceIPAddress, vpcEndpointId, errorCode).

  --engine athena  the CloudTrail table of the README's DDL (--table, default
                   cloudtrail_logs); --since/--until also bound its timestamp
                   partition, so only those days are read
  --engine lake    a CloudTrail Lake event data store (--table: its ID)
  --since, --until RFC 3339 times or dates (2026-11-01); since inclusive,
                   until exclusive
  --verdict        findings (unauthorized and invalid; the default),
                   unauthorized, allowed, invalid or all (ignored records of
                   other services are never returned)
`

// runSQL is the `sql` command.
func runSQL(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, sqlUsage) }
	allowlist := fs.String("allowlist", "", "allowlist `FILE`")
	engine := fs.String("engine", "", "athena or lake")
	table := fs.String("table", "", "table or event data store ID")
	since := fs.String("since", "", "first time (inclusive)")
	until := fs.String("until", "", "end time (exclusive)")
	verdict := fs.String("verdict", query.VerdictFindings, "verdict to select")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case *allowlist == "":
		errorf(stderr, "sql: --allowlist is required")
		return exitUsage
	case *engine == "":
		errorf(stderr, "sql: --engine is required (athena or lake)")
		return exitUsage
	case fs.NArg() > 0:
		errorf(stderr, "sql: unexpected argument %q", fs.Arg(0))
		return exitUsage
	}
	o := query.Options{Engine: query.Engine(*engine), Table: *table, Verdict: *verdict}
	var err error
	if o.Since, err = parseTime("since", *since); err != nil {
		errorf(stderr, "sql: %v", err)
		return exitUsage
	}
	if o.Until, err = parseTime("until", *until); err != nil {
		errorf(stderr, "sql: %v", err)
		return exitUsage
	}
	al, ok := loadAllowlist(*allowlist, stderr)
	if !ok {
		return exitUsage
	}
	q, err := query.Build(al, o)
	if err != nil {
		errorf(stderr, "sql: %v", err)
		return exitUsage
	}
	fmt.Fprint(stdout, q)
	return exitOK
}

// parseTime reads an RFC 3339 time or a date (midnight UTC); "" is the zero time.
func parseTime(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01)", flagName, s)
}

// loadAllowlist loads and compiles an allowlist, printing every problem.
func loadAllowlist(path string, stderr io.Writer) (*rules.Allowlist, bool) {
	al, err := rules.Load(path)
	if err != nil {
		// Problems quote the file's values: escaped, as all of check's output.
		var le *rules.LoadError
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				errorf(stderr, "%s", escapeText(p))
			}
		} else {
			errorf(stderr, "%s", escapeText(err.Error()))
		}
		return nil, false
	}
	return al, true
}
