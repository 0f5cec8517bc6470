package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	lconfig "github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/doctor"
)

const doctorUsage = `usage: s3xguard doctor --function NAME [--buckets B,...] [--rule NAME] [--allowlist FILE] [--scp FILE] [--format text|json]
       s3xguard doctor --org-role NAME --accounts A,... --regions R,... [--function NAME] [--allowlist FILE] [--format text|json]

Checks, read-only, that a deployed s3xguard sees what it should (credentials
and region from the environment): the function and the buckets it guards;
with --allowlist, that the function was built from that allowlist (its
ALLOWLIST_SHA256); with --scp, that the service control policy in FILE
keeps the function and its role in the deployment's hands (the stack's
ContainmentScp output; needed with revokeSessions); the EventBridge rule that feeds it (enabled, default bus, s3xguard's
pattern, the function or its queue as target); a logging trail whose
advanced event selectors log the S3 Express data events of every guarded
bucket; the alert topic, its confirmed subscriptions, and the SMS spend
limit where SMS is used. One line per finding: ok, warn or fail, and what
to do. Exit status: 0 all ok, 1 a warning or a failure, 2 could not run.

With --org-role, checks every account (a list, or @FILE with one a line)
in every region by assuming the read-only role NAME that the organization's
StackSet gives each member (default function name: s3xguard), and prints
one line per account and region: its worst finding. An account whose role
cannot be assumed is a failure.
`

// runDoctor is the `doctor` command.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, doctorUsage) }
	function := fs.String("function", "", "the s3xguard function's `name` or ARN")
	buckets := fs.String("buckets", "", "comma-separated `buckets` it should guard (default: its GUARDED_BUCKETS)")
	rule := fs.String("rule", "", "the EventBridge rule's `name` (default: found by its target)")
	allowlist := fs.String("allowlist", "", "an allowlist `file` the function should have been built from")
	scp := fs.String("scp", "", "the containment service control policy `file` attached to the account (the stack's ContainmentScp output)")
	format := fs.String("format", "text", "output `format`: text or json")
	orgRole := fs.String("org-role", "", "check an organization's members through this read-only `role` name")
	accounts := fs.String("accounts", "", "with --org-role: the member `accounts`, comma or space separated, or @FILE")
	regions := fs.String("regions", "", "with --org-role: the `regions` to check in each account")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		errorf(stderr, "doctor: unexpected argument %q", fs.Arg(0))
		return exitUsage
	case *orgRole != "":
		if *function == "" {
			*function = "s3xguard"
		}
		return runDoctorOrg(*orgRole, *accounts, *regions, *function, *allowlist, *format, stdout, stderr)
	case *function == "":
		errorf(stderr, "doctor: --function is required")
		return exitUsage
	case *format != "text" && *format != "json":
		errorf(stderr, "doctor: --format %q: want text or json", *format)
		return exitUsage
	}
	cfg := doctor.Config{Function: *function, Rule: *rule}
	if *buckets != "" {
		cfg.Buckets = strings.Split(*buckets, ",")
	}
	if *allowlist != "" {
		data, err := os.ReadFile(*allowlist)
		if err != nil {
			errorf(stderr, "doctor: --allowlist: %v", err)
			return exitUsage
		}
		cfg.Allowlist, cfg.AllowlistSHA256 = *allowlist, lconfig.AllowlistDigest(data)
	}
	if *scp != "" {
		data, err := os.ReadFile(*scp)
		if err != nil {
			errorf(stderr, "doctor: --scp: %v", err)
			return exitUsage
		}
		cfg.SCP, cfg.SCPFile = data, *scp
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		errorf(stderr, "doctor: AWS configuration: %v", err)
		return exitUsage
	}
	findings := doctor.Run(ctx, doctor.Clients{
		Lambda:     lambda.NewFromConfig(awsCfg),
		Events:     eventbridge.NewFromConfig(awsCfg),
		CloudTrail: cloudtrail.NewFromConfig(awsCfg),
		SNS:        sns.NewFromConfig(awsCfg),
	}, cfg)
	status := exitOK
	enc := json.NewEncoder(stdout)
	for _, f := range findings {
		if f.Status != doctor.OK {
			status = exitFindings
		}
		if *format == "json" {
			enc.Encode(f)
			continue
		}
		fmt.Fprintf(stdout, "%-4s  %-13s  %s\n", f.Status, f.Check, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(stdout, "%-4s  %-13s  fix: %s\n", "", "", f.Fix)
		}
	}
	return status
}
