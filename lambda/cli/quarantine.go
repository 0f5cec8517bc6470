package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/handler"
	"github.com/s3xguard/s3xguard/lambda/quarantine"
	"github.com/s3xguard/s3xguard/lambda/state"
)

const quarantineUsage = `usage: s3xguard quarantine list --bucket BUCKET [--table TABLE] [--profile P] [--region R]
       s3xguard quarantine release --bucket BUCKET (--principal ARN ... | --all) [--table TABLE] [--deny-policy ARN] [--bus BUS] [--profile P] [--region R]

Lists or releases the principals s3xguard denied on a directory bucket,
against the real AWS APIs (credentials and region from --profile and
--region, else the environment). --table defaults to $STATE_TABLE,
--deny-policy to $IAM_DENY_POLICY_ARN, --bus to $ALERT_BUS: each principal
released is announced there ("s3xguard quarantine released"), so pagers
resolve the incident. Release removes the principal from the bucket
policy's S3xguardQuarantine statement and, once no bucket quarantines it
any more, detaches the managed deny policy (the one named by --deny-policy,
never a name from the records) and deletes S3xguardRevokeOlderSessions if
s3xguard wrote it.
`

// runQuarantine is the `quarantine` command.
func runQuarantine(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help"):
		fmt.Fprint(stderr, quarantineUsage)
		fmt.Fprint(stderr, "\nRun 's3xguard quarantine list -h' or 's3xguard quarantine release -h' for the flags.\n")
		return exitOK
	case len(args) == 0 || (args[0] != "list" && args[0] != "release"):
		fmt.Fprint(stderr, quarantineUsage)
		return exitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("quarantine "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, quarantineUsage)
		fmt.Fprintf(stderr, "\nflags of quarantine %s:\n", sub)
		fs.PrintDefaults()
	}
	bucket := fs.String("bucket", "", "directory bucket `name`")
	table := fs.String("table", os.Getenv("STATE_TABLE"), "state `table`")
	var principals multiFlag
	all := false
	var deny string
	bus := os.Getenv("ALERT_BUS")
	if sub == "release" {
		fs.StringVar(&deny, "deny-policy", os.Getenv("IAM_DENY_POLICY_ARN"), "the stack's managed deny policy `ARN`")
		fs.StringVar(&bus, "bus", bus, "event `bus` to announce releases on")
		fs.Var(&principals, "principal", "principal `ARN` to release (repeatable)")
		fs.BoolVar(&all, "all", false, "release every principal of the bucket")
	}
	var awsf awsFlags
	awsf.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case *bucket == "":
		errorf(stderr, "quarantine %s: --bucket is required", sub)
		return exitUsage
	case *table == "":
		errorf(stderr, "quarantine %s: --table (or STATE_TABLE) is required", sub)
		return exitUsage
	case sub == "release" && all == (len(principals) > 0):
		errorf(stderr, "quarantine release: give --principal ARN or --all (not both)")
		return exitUsage
	case fs.NArg() > 0:
		errorf(stderr, "quarantine %s: unexpected argument %q", sub, fs.Arg(0))
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	awsCfg, err := handler.LoadAWS(ctx, awsf.options()...)
	if err != nil {
		errorf(stderr, "quarantine %s: %v", sub, err)
		return exitUsage
	}
	q := handler.NewQuarantiner(awsCfg, &state.Store{DB: dynamodb.NewFromConfig(awsCfg), Table: *table})
	q.DenyPolicyARN = deny

	if sub == "list" {
		entries, err := q.List(ctx, *bucket)
		if err != nil {
			errorf(stderr, "quarantine list: bucket %s: %v", *bucket, err)
			return exitUsage
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PRINCIPAL\tIN POLICY\tSINCE\tUNTIL\tIAM\tPENDING\tREASON")
		for _, e := range quarantine.Printable(entries) {
			in := "no"
			if e.InPolicy {
				in = "yes"
			}
			if r := e.Record; r != nil {
				until := "never"
				if !r.Until.IsZero() {
					until = r.Until.UTC().Format(time.RFC3339)
				}
				var iam []string
				if r.Attached {
					iam = append(iam, "deny attached to "+r.Entity)
				}
				if !r.Revoked.IsZero() {
					iam = append(iam, "sessions revoked")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Principal, in, r.At.UTC().Format(time.RFC3339), until,
					orNone(strings.Join(iam, ", ")), orNone(strings.Join(r.Pending, ",")), r.Reason)
			} else {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\tno s3xguard record (the sweep adopts it)\n", e.Principal, in)
			}
		}
		tw.Flush()
		return exitOK
	}
	released, err := q.Release(ctx, *bucket, principals, all)
	for _, p := range released {
		fmt.Fprintf(stdout, "released %s on %s\n", p, *bucket)
	}
	if err != nil {
		errorf(stderr, "quarantine release: bucket %s: %v", *bucket, err)
		return exitUsage
	}
	if len(released) == 0 {
		fmt.Fprintf(stdout, "nothing to release on %s\n", *bucket)
	}
	if err := announceReleased(ctx, awsCfg, q, bus, *bucket, released); err != nil {
		errorf(stderr, "quarantine release: released, not announced: %v", err)
		return exitUsage
	}
	return exitOK
}

// announceReleased puts the releases on the bus, if any: the quarantine
// is lifted either way, and the error says the pager was not told.
func announceReleased(ctx context.Context, awsCfg aws.Config, q *quarantine.Quarantiner, bus, bucket string, released []string) error {
	e, err := handler.NewEmitter(awsCfg, bus)
	if err != nil || e == nil || len(released) == 0 {
		return err
	}
	me, err := q.Identify(ctx)
	if err != nil {
		return err
	}
	_, err = e.Released(ctx, alert.Place{Account: me.Account, Region: awsCfg.Region}, bucket, released, "released")
	return err
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
