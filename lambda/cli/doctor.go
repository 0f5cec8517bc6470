package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	lconfig "github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/doctor"
)

const doctorUsage = `usage: s3xguard doctor --function NAME [--buckets B,...] [--rule NAME] [--allowlist FILE] [--scp FILE] [--format text|json] [--profile P] [--region R]
       s3xguard doctor --org-role NAME --accounts A,... --regions R,... [--function NAME] [--allowlist FILE] [--format text|json] [--profile P] [--region R]

Checks, read-only, that a deployed s3xguard sees what it should (credentials
and region from --profile and --region, else the environment): the function
and the buckets it guards;
with --allowlist, that the function was built from that allowlist (its
ALLOWLIST_SHA256); with --scp, that the service control policy in FILE
keeps the function and its role in the deployment's hands (the stack's
ContainmentScp output; needed with revokeSessions); the EventBridge rule that feeds it (enabled, default bus, s3xguard's
pattern, the function or its queue as target); a logging trail whose
advanced event selectors log the S3 Express data events of every guarded
bucket; the alert topic, its confirmed subscriptions, and the SMS spend
limit where SMS is used. One line per finding: ok, warn or fail, and what
to do. Exit status: 0 all ok, 1 a warning or a failure, 2 could not run
(no credentials, no answer from AWS, access denied to the function).

With --org-role, checks every account (a list, or @FILE with one a line)
in every region by assuming the read-only role NAME that the organization's
StackSet gives each member (default function name: s3xguard), and prints
one line per account and region: its worst finding. An account whose role
cannot be assumed is a failure. --profile and --region then name the
credentials that assume the roles.

flags:
`

// runDoctor is the `doctor` command.
// What doctor's --format takes (completion offers it too).
var doctorFormats = []string{"text", "json"}

func runDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, doctorUsage); fs.PrintDefaults() }
	function := fs.String("function", "", "the s3xguard function's `name` or ARN")
	buckets := fs.String("buckets", "", "comma-separated `buckets` it should guard (default: its GUARDED_BUCKETS)")
	rule := fs.String("rule", "", "the EventBridge rule's `name` (default: found by its target)")
	allowlist := fs.String("allowlist", "", "an allowlist `file` the function should have been built from")
	scp := fs.String("scp", "", "the containment service control policy `file` attached to the account (the stack's ContainmentScp output)")
	format := fs.String("format", "text", "output `format`: text or json")
	orgRole := fs.String("org-role", "", "check an organization's members through this read-only `role` name")
	accounts := fs.String("accounts", "", "with --org-role: the member `accounts`, comma or space separated, or @FILE")
	regions := fs.String("regions", "", "with --org-role: the `regions` to check in each account")
	var awsf awsFlags
	awsf.register(fs)
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
		return runDoctorOrg(*orgRole, *accounts, *regions, *function, *allowlist, *format, stdout, stderr, awsf.options()...)
	case *function == "":
		errorf(stderr, "doctor: --function is required")
		return exitUsage
	case !slices.Contains(doctorFormats, *format):
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
	awsCfg, err := config.LoadDefaultConfig(ctx, awsf.options()...)
	if err != nil {
		errorf(stderr, "doctor: AWS configuration: %v", err)
		return exitUsage
	}
	if awsCfg.Region == "" {
		errorf(stderr, "doctor: no AWS region: pass --region, or set AWS_REGION or the profile's region")
		return exitUsage
	}
	fn := &firstCall{LambdaAPI: lambda.NewFromConfig(awsCfg)}
	findings := doctor.Run(ctx, doctor.Clients{
		Lambda:     fn,
		Events:     eventbridge.NewFromConfig(awsCfg),
		CloudTrail: cloudtrail.NewFromConfig(awsCfg),
		SNS:        sns.NewFromConfig(awsCfg),
	}, cfg)
	if fn.called && fn.err != nil && !deploymentAnswer(fn.err) {
		// Every finding would blame the deployment for what is the
		// caller's credentials or network: "deploy the stack" is wrong.
		errorf(stderr, "doctor: could not run: %v", fn.err)
		return exitUsage
	}
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

// firstCall is doctor's Lambda client, keeping the answer to the first
// call, GetFunctionConfiguration: the one call every report starts with.
type firstCall struct {
	doctor.LambdaAPI
	called bool
	err    error
}

func (f *firstCall) GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	out, err := f.LambdaAPI.GetFunctionConfiguration(ctx, in, opts...)
	if !f.called {
		f.called, f.err = true, err
	}
	return out, err
}

// deploymentAnswer reports whether err, from GetFunctionConfiguration, is
// AWS saying something about the deployment (no such function, a name
// that cannot be one), rather than that the call could not be made or was
// not allowed.
func deploymentAnswer(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ResourceNotFoundException", "InvalidParameterValueException":
		return true
	}
	return false
}
