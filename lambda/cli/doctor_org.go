package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	lconfig "github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/doctor"
	"github.com/s3xguard/s3xguard/rules"
)

// runDoctorOrg is `doctor --org-role`: every account and region, one line
// each.
func runDoctorOrg(role, accounts, regions, function, allowlist, format string, stdout, stderr io.Writer, opts ...func(*config.LoadOptions) error) int {
	if !slices.Contains(doctorFormats, format) {
		errorf(stderr, "doctor: --format %q: want text or json", format)
		return exitUsage
	}
	members, err := orgMembers(accounts, regions)
	if err != nil {
		errorf(stderr, "doctor: %v", err)
		return exitUsage
	}
	cfg := doctor.Config{Function: function}
	if allowlist != "" {
		data, err := os.ReadFile(allowlist)
		if err != nil {
			errorf(stderr, "doctor: --allowlist: %v", err)
			return exitUsage
		}
		cfg.Allowlist, cfg.AllowlistSHA256 = allowlist, lconfig.AllowlistDigest(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	base, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		errorf(stderr, "doctor: AWS configuration: %v", err)
		return exitUsage
	}
	stsc := sts.NewFromConfig(base)
	partition := "aws"
	if id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		partition = strings.SplitN(aws.ToString(id.Arn), ":", 3)[1]
	}
	clientsFor := func(ctx context.Context, m doctor.Member) (doctor.Clients, error) {
		arn := fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, m.Account, role)
		c := base.Copy()
		c.Region = m.Region
		c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsc, arn, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "s3xguard-doctor"
		}))
		// Assume now, so a role that cannot be assumed is one clear line,
		// not the first check's error.
		if _, err := c.Credentials.Retrieve(ctx); err != nil {
			return doctor.Clients{}, fmt.Errorf("assume %s: %w", arn, err)
		}
		return doctor.Clients{
			Lambda:     lambda.NewFromConfig(c),
			Events:     eventbridge.NewFromConfig(c),
			CloudTrail: cloudtrail.NewFromConfig(c),
			SNS:        sns.NewFromConfig(c),
		}, nil
	}
	status := exitOK
	enc := json.NewEncoder(stdout)
	for _, l := range doctor.RunOrg(ctx, members, clientsFor, cfg) {
		if l.Status != doctor.OK {
			status = exitFindings
		}
		if format == "json" {
			enc.Encode(l)
			continue
		}
		fmt.Fprintf(stdout, "%-4s  %s  %-14s  %s\n", l.Status, l.Account, l.Region, l.Message)
	}
	return status
}

// orgMembers is every account of accounts (a list, or @FILE) in every
// region of regions.
func orgMembers(accounts, regions string) ([]doctor.Member, error) {
	if strings.HasPrefix(accounts, "@") {
		data, err := os.ReadFile(accounts[1:])
		if err != nil {
			return nil, fmt.Errorf("--accounts: %w", err)
		}
		accounts = string(data)
	}
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
	}
	accts, regs := split(accounts), split(regions)
	if len(accts) == 0 {
		return nil, fmt.Errorf("--org-role needs --accounts (a list, or @FILE)")
	}
	if len(regs) == 0 {
		return nil, fmt.Errorf("--org-role needs --regions")
	}
	for _, a := range accts {
		if !rules.IsAccountID(a) {
			return nil, fmt.Errorf("--accounts: %q: want 12-digit account IDs", a)
		}
	}
	var out []doctor.Member
	for _, a := range accts {
		for _, r := range regs {
			out = append(out, doctor.Member{Account: a, Region: r})
		}
	}
	return out, nil
}
