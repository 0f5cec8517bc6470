package stack

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/s3xguard/s3xguard/rules"
)

// The IAM response's actions. Attach and detach are conditioned on the one
// managed policy the stack creates (iam:PolicyARN; IAM user guide,
// "Controlling access to managed policies"), so the function can never
// attach anything else, least of all an Allow. Revocation needs inline role
// policies, and IAM has no condition key for an inline policy's name or
// content: those two are granted only with revokeSessions, on roles outside
// the exclusions below.
var (
	attachActions = []string{"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:AttachUserPolicy", "iam:DetachUserPolicy"}
	revokeActions = []string{"iam:PutRolePolicy", "iam:DeleteRolePolicy"}
)

// quarantineDenyPolicy is the customer managed policy the IAM response
// attaches to an offending role or user: Deny s3express:* on the guarded
// buckets. All of s3express, not only CreateSession: the principal must not
// be able to rewrite or delete the bucket policy that quarantines it either.
func quarantineDenyPolicy(stack awscdk.Stack, cfg *Config) awsiam.ManagedPolicy {
	return awsiam.NewManagedPolicy(stack, jsii.String("QuarantineDeny"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("s3xguard quarantine: attached by the guard to a principal that used a guarded S3 Express bucket without being allowed"),
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("S3xguardQuarantine"),
			Effect:    awsiam.Effect_DENY,
			Actions:   jsii.Strings("s3express:*"),
			Resources: bucketARNs(stack, cfg),
		})},
	})
}

// bucketARNs are the guarded buckets' ARNs, or bucket/* when all are.
func bucketARNs(stack awscdk.Stack, cfg *Config) *[]*string {
	partition, region, account := *stack.Partition(), *stack.Region(), *stack.Account()
	if len(cfg.Buckets) == 0 {
		return jsii.Strings(fmt.Sprintf("arn:%s:s3express:%s:%s:bucket/*", partition, region, account))
	}
	var out []*string
	for _, b := range cfg.Buckets {
		out = append(out, jsii.String(fmt.Sprintf("arn:%s:s3express:%s:%s:bucket/%s", partition, region, account, b)))
	}
	return &out
}

// permissions grants the function what its responses call, on named
// resources wherever AWS allows naming them.
func permissions(stack awscdk.Stack, role awsiam.Role, cfg *Config, al *rules.Allowlist, deny awsiam.ManagedPolicy) {
	partition, account := *stack.Partition(), *stack.Account()
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("QuarantineBucketPolicy"),
		Actions:   jsii.Strings("s3express:GetBucketPolicy", "s3express:PutBucketPolicy", "s3express:DeleteBucketPolicy"),
		Resources: bucketARNs(stack, cfg),
	}))
	roles := fmt.Sprintf("arn:%s:iam::%s:role/*", partition, account)
	users := fmt.Sprintf("arn:%s:iam::%s:user/*", partition, account)
	// Zonal calls log the session ARN without the role path; a bucket
	// policy must name the role by its full ARN, so the path is looked up.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ResolveRolePath"),
		Actions:   jsii.Strings("iam:GetRole"),
		Resources: jsii.Strings(roles),
	}))
	reasons := []string{"role/* for iam:GetRole: the offending role is known only at run time, and its path must be looked up."}
	if len(cfg.Buckets) == 0 {
		reasons = append(reasons, "bucket/* for the bucket policy actions: the deployment guards every directory bucket of the account (buckets: [\"*\"]).")
	}
	if cfg.IAMResponse {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("QuarantineIAM"),
			Actions:    jsii.Strings(attachActions...),
			Resources:  jsii.Strings(roles, users),
			Conditions: &map[string]any{"ArnEquals": map[string]any{"iam:PolicyARN": deny.ManagedPolicyArn()}},
		}))
		// Never on protected principals, the function's own role, the
		// break-glass role nor the deployment's: an explicit deny wins over
		// the allow above, whatever the function decides.
		neverActions := attachActions
		if cfg.RevokeSessions {
			neverActions = append(append([]string{}, attachActions...), revokeActions...)
		}
		never := []*string{role.RoleArn()}
		for _, a := range neverQuarantined(al.Protected(), cfg.BreakGlassRoleArn, cfg.CdkQualifier, partition, account) {
			never = append(never, jsii.String(a))
		}
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("NeverQuarantineProtected"),
			Effect:    awsiam.Effect_DENY,
			Actions:   jsii.Strings(neverActions...),
			Resources: &never,
		}))
		reasons = append(reasons, "role/* and user/* for attaching the stack's own deny policy (condition iam:PolicyARN): the offending principal is known only at run time; protected roles and users, the function's own role and the CDK bootstrap roles are denied explicitly.")
	}
	if cfg.Findings == "securityhub" {
		// The account's own findings go to its default product; the sweep
		// reads a finding back from the hub to update its count (Service
		// Authorization Reference, "Actions, resources, and condition keys
		// for AWS Security Hub": BatchImportFindings on the product
		// resource, GetFindings on the hub).
		region := *stack.Region()
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ImportFindings"),
			Actions:   jsii.Strings("securityhub:BatchImportFindings"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", partition, region, account, account)),
		}))
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadFindingsToUpdate"),
			Actions:   jsii.Strings("securityhub:GetFindings"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:securityhub:%s:%s:hub/default", partition, region, account)),
		}))
	}
	if cfg.RevokeSessions {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("RevokeSessions"),
			Actions:   jsii.Strings(revokeActions...),
			Resources: jsii.Strings(roles),
		}))
		// Roles whose sessions are never revoked: AWS-managed ones (service
		// linked, Identity Center) and the organization's way in.
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("NeverRevoke"),
			Effect:  awsiam.Effect_DENY,
			Actions: jsii.Strings(revokeActions...),
			Resources: jsii.Strings(
				fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/*", partition, account),
				fmt.Sprintf("arn:%s:iam::%s:role/aws-reserved/*", partition, account),
				fmt.Sprintf("arn:%s:iam::%s:role/OrganizationAccountAccessRole", partition, account),
				fmt.Sprintf("arn:%s:iam::%s:role/*/OrganizationAccountAccessRole", partition, account),
			),
		}))
		reasons = append(reasons, "role/* for iam:Put/DeleteRolePolicy (revokeSessions): session revocation is an inline role policy, IAM has no condition key on its name, and the role is known only at run time; AWS-managed, organization, protected and bootstrap roles are denied explicitly.")
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String(strings.Join(reasons, " ") + " log-group:*: CloudWatch Logs names streams at run time. kms GenerateDataKey*/ReEncrypt*: the SNS and SQS grants on the topic and queue keys."),
	}}, jsii.Bool(true))
}

// neverQuarantined turns the allowlist's protected patterns, the
// break-glass role and the CDK bootstrap roles into the IAM resource ARNs
// the function may never change. Paths are ignored when principals are
// matched, so each role or user is denied with and without a path; a
// protected role session protects its role (the IAM response acts on the
// role). Patterns of other accounts protect nothing here. IAM compares a
// Resource's user or role name case-sensitively (IAM user guide, "IAM JSON
// policy elements: Resource") though names are unique regardless of case:
// the deny names each principal as the allowlist spells it, and the
// function's own check, which ignores case, covers other spellings.
func neverQuarantined(patterns []string, breakGlass, qualifier, partition, account string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(kind, name string) {
		for _, a := range []string{
			fmt.Sprintf("arn:%s:iam::%s:%s/%s", partition, account, kind, name),
			fmt.Sprintf("arn:%s:iam::%s:%s/*/%s", partition, account, kind, name),
		} {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	// The CDK bootstrap roles: the deployment pipeline, protected by default.
	add("role", "cdk-"+qualifier+"-*")
	if breakGlass != "" {
		add("role", breakGlass[strings.LastIndexByte(breakGlass, '/')+1:])
	}
	for _, p := range patterns {
		kind, name, ok := principalName(p, account)
		if ok {
			add(kind, name)
		}
	}
	return out
}

// principalName is the IAM entity a protected pattern names in account:
// ("role", NAME) for a role or a role session, ("user", NAME) for a user.
func principalName(pattern, account string) (kind, name string, ok bool) {
	f := strings.SplitN(pattern, ":", 6)
	if len(f) != 6 {
		return "", "", false
	}
	if acct := f[4]; acct != account && acct != "*" && !strings.Contains(acct, "?") {
		return "", "", false
	}
	res := f[5]
	switch {
	case f[2] == "iam" && (strings.HasPrefix(res, "role/") || strings.HasPrefix(res, "user/")):
		kind = res[:strings.IndexByte(res, '/')]
		return kind, res[strings.LastIndexByte(res, '/')+1:], true
	case f[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		parts := strings.Split(res, "/")
		if len(parts) >= 2 && parts[1] != "" {
			return "role", parts[1], true
		}
	}
	return "", "", false
}

// iamName is the character set IAM allows in role and user names, plus the
// allowlist's wildcards.
var iamName = regexp.MustCompile(`^[\w+=,.@*?-]+$`)

// protectedWarnings explains, at deploy time, the protected patterns the
// stack cannot turn into an IAM deny in this account and partition: they
// still keep the function from quarantining the principal, but a typo
// there protects nobody, silently.
func protectedWarnings(patterns []string, partition, account string) []string {
	var out []string
	for _, p := range patterns {
		f := strings.SplitN(p, ":", 6)
		if len(f) != 6 {
			out = append(out, fmt.Sprintf("protected %q is not an ARN", p))
			continue
		}
		if partition != "" && f[1] != partition && f[1] != "*" {
			out = append(out, fmt.Sprintf("protected %q is in partition %s, but this target is in %s: it matches no principal here", p, f[1], partition))
			continue
		}
		if acct := f[4]; !strings.HasPrefix(account, "${Token") && acct != account && acct != "*" && !strings.Contains(acct, "?") {
			out = append(out, fmt.Sprintf("protected %q is in account %s, not this target's (%s): it protects nobody here", p, acct, account))
			continue
		}
		kind, name, ok := principalName(p, f[4])
		switch {
		case f[2] == "iam" && f[5] == "root":
			// The root user: never quarantined, and no policy attaches to it.
		case !ok:
			out = append(out, fmt.Sprintf("protected %q is not an IAM role, user or role session ARN (arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, ...:user/..., arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION): the stack cannot deny IAM changes to it; only the function's own check protects it", p))
		case !iamName.MatchString(name):
			out = append(out, fmt.Sprintf("protected %q: %s name %q has characters IAM never allows in a name: it matches nobody", p, kind, name))
		}
	}
	return out
}

// partitionOf is the partition of a region, "" when the region is not
// known at synth time.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "${Token"):
		return ""
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
