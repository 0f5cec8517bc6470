package doctor

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

// With revokeSessions, the function's role may write inline policies on
// any role outside the protected ones, and IAM offers nothing narrower:
// no condition key names an inline policy or its content, and a date
// condition (aws:TokenIssueTime, which revocation needs) takes no policy
// variable, so a fixed managed policy cannot carry each role's cut-off
// time. Whoever changes the function's code or configuration, passes its
// role to other code, or edits the role, holds that power. The
// containment is a service control policy, made by the stack for each
// deployment (output ContainmentScp) and checked here: only the CDK
// deployment role may change the function or its role, and no one
// assumes the role but Lambda (SCPs never restrict service principals).

// functionChanges change what the function runs, who may invoke it, or
// stop it.
var functionChanges = []string{
	"lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion",
	"lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteFunction",
	"lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
	"lambda:AddPermission", "lambda:RemovePermission",
	"lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig",
}

// denyPolicyChanges would turn the quarantine deny policy, the one policy
// the function may attach, into an Allow.
var denyPolicyChanges = []string{"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion"}

// roleChanges change what the function's role may do, or who uses it.
var roleChanges = []string{
	"iam:PassRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
	"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
	"iam:DeleteRolePermissionsBoundary", "iam:DeleteRole",
}

// Policy is an IAM policy document as the stack writes it.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy.
type Statement struct {
	Sid       string                         `json:"Sid"`
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// Deployment names what ContainmentSCP keeps in the deployment's hands.
type Deployment struct {
	FunctionARN, RoleARN string
	// DeployRoleARN is the CDK bootstrap's CloudFormation execution role
	// (cdk-QUALIFIER-cfn-exec-role-ACCOUNT-REGION).
	DeployRoleARN string
	// DenyPolicyARN is the quarantine deny policy (iamResponse), or "".
	DenyPolicyARN string
}

// ContainmentSCP is the service control policy that keeps the function and
// its role in the deployment's hands: no IAM principal invokes the
// function (EventBridge, a service principal, still does), only the
// deployment role changes it, its role or the deny policy it attaches, and
// no one assumes its role but Lambda.
func ContainmentSCP(d Deployment) Policy {
	onlyDeploy := map[string]map[string][]string{"ArnNotLike": {"aws:PrincipalArn": {d.DeployRoleARN}}}
	fn := []string{d.FunctionARN, d.FunctionARN + ":*"}
	p := Policy{Version: "2012-10-17", Statement: []Statement{
		{Sid: "S3xguardNoOneInvokes", Effect: "Deny", Action: []string{"lambda:InvokeFunction", "lambda:InvokeAsync"}, Resource: fn},
		{Sid: "S3xguardFunctionOnlyByDeployment", Effect: "Deny", Action: functionChanges, Resource: fn, Condition: onlyDeploy},
		{Sid: "S3xguardRoleOnlyByDeployment", Effect: "Deny", Action: roleChanges, Resource: []string{d.RoleARN}, Condition: onlyDeploy},
		{Sid: "S3xguardRoleOnlyForLambda", Effect: "Deny", Action: []string{"sts:AssumeRole"}, Resource: []string{d.RoleARN}},
	}}
	if d.DenyPolicyARN != "" {
		p.Statement = append(p.Statement, Statement{Sid: "S3xguardDenyPolicyOnlyByDeployment", Effect: "Deny",
			Action: denyPolicyChanges, Resource: []string{d.DenyPolicyARN}, Condition: onlyDeploy})
	}
	return p
}

// CheckSCP reports what the policy doc leaves uncovered of
// ContainmentSCP(d): each action on each resource must be denied by a
// statement with no condition but, where ContainmentSCP has one, an
// exemption by aws:PrincipalArn of named principals (no wildcard).
// exempted lists the principals exempted besides d.DeployRoleARN.
func CheckSCP(doc []byte, d Deployment) (missing, exempted []string, err error) {
	sts, err := parseStatements(doc)
	if err != nil {
		return nil, nil, err
	}
	deployRoleARN := d.DeployRoleARN
	want := ContainmentSCP(d)
	seen := map[string]bool{}
	for _, w := range want.Statement {
		for _, a := range w.Action {
			for _, r := range w.Resource {
				found := false
				for _, st := range sts {
					ok, ex := st.denies(a, r, w.Condition != nil)
					if !ok {
						continue
					}
					found = true
					for _, p := range ex {
						if p != deployRoleARN && !seen[p] {
							seen[p] = true
							exempted = append(exempted, p)
						}
					}
					break
				}
				if !found {
					missing = append(missing, a+" on "+r)
				}
			}
		}
	}
	return missing, exempted, nil
}

// statement is a policy statement in IAM's grammar: Action, Resource and
// condition values as a string or a list.
type statement struct {
	Effect      string
	Action      stringOrList
	NotAction   stringOrList
	Resource    stringOrList
	NotResource stringOrList
	Principal   json.RawMessage
	Condition   map[string]map[string]stringOrList
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*s = list
	return nil
}

func parseStatements(doc []byte) ([]statement, error) {
	var p struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("scp: %w", err)
	}
	var one statement
	if err := json.Unmarshal(p.Statement, &one); err == nil && one.Effect != "" {
		return []statement{one}, nil
	}
	var list []statement
	if err := json.Unmarshal(p.Statement, &list); err != nil {
		return nil, fmt.Errorf("scp: Statement: %w", err)
	}
	return list, nil
}

// denies reports whether st denies action on resource to every principal,
// or, with exemptOK, to every principal but the named ones it returns.
func (st statement) denies(action, resource string, exemptOK bool) (bool, []string) {
	if st.Effect != "Deny" || len(st.NotAction) > 0 || len(st.NotResource) > 0 ||
		!slices.ContainsFunc(st.Action, func(p string) bool { return glob(strings.ToLower(p), strings.ToLower(action)) }) ||
		!slices.ContainsFunc(st.Resource, func(p string) bool { return glob(p, resource) }) {
		return false, nil
	}
	if len(st.Condition) == 0 {
		return true, nil
	}
	if !exemptOK || len(st.Condition) != 1 {
		return false, nil
	}
	for op, keys := range st.Condition {
		switch op {
		case "ArnNotLike", "ArnNotEquals", "StringNotLike", "StringNotEquals":
		default:
			return false, nil
		}
		vals, ok := keys["aws:PrincipalArn"]
		if !ok || len(keys) != 1 {
			return false, nil
		}
		for _, v := range vals {
			if strings.ContainsAny(v, "*?") {
				return false, nil
			}
		}
		return true, vals
	}
	return false, nil
}

// glob matches IAM's wildcards: * any run of characters, ? one.
func glob(pattern, s string) bool {
	// path.Match treats / specially and [ as a class: escape both.
	pattern = strings.NewReplacer("[", `\[`, `\`, `\\`).Replace(pattern)
	ok, _ := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return ok
}

// checkContainment reports whether the containment SCP given with --scp
// covers this deployment; without one, it warns when REVOKE_SESSIONS is on,
// the setting that makes the function's role able to write inline role
// policies.
func checkContainment(cfg Config, fnARN, roleARN string, env map[string]string) *Finding {
	revoke := env["REVOKE_SESSIONS"] == "on"
	if cfg.SCP == nil && !revoke {
		return nil
	}
	f := &Finding{Check: "containment"}
	a := strings.SplitN(fnARN, ":", 6)
	if len(a) != 6 {
		f.Status, f.Message = Fail, fmt.Sprintf("function ARN %q is not an ARN", fnARN)
		return f
	}
	qualifier := env["CDK_QUALIFIER"]
	if qualifier == "" {
		qualifier = "hnb659fds"
	}
	deploy := fmt.Sprintf("arn:%s:iam::%s:role/cdk-%s-cfn-exec-role-%s-%s", a[1], a[4], qualifier, a[4], a[3])
	if cfg.SCP == nil {
		f.Status = Warn
		f.Message = fmt.Sprintf("REVOKE_SESSIONS=on: role %s may write any inline policy on roles that are not protected, so whoever changes function %s's code or configuration, or its role, holds that power; no containment policy was given to check", roleARN, fnARN)
		f.Fix = "attach the stack's ContainmentScp output to this account as a service control policy, then run doctor with --scp and that file"
		return f
	}
	missing, exempted, err := CheckSCP(cfg.SCP, Deployment{FunctionARN: fnARN, RoleARN: roleARN, DeployRoleARN: deploy, DenyPolicyARN: env["IAM_DENY_POLICY_ARN"]})
	switch {
	case err != nil:
		f.Status, f.Message = Fail, fmt.Sprintf("%s: %v", cfg.SCPFile, err)
		f.Fix = "pass the service control policy's JSON document"
	case len(missing) > 0:
		f.Status = Fail
		f.Message = fmt.Sprintf("%s does not deny, to all but %s: %s", cfg.SCPFile, deploy, strings.Join(missing, ", "))
		f.Fix = "use the stack's ContainmentScp output as the service control policy"
	case len(exempted) > 0:
		f.Status = Warn
		f.Message = fmt.Sprintf("%s contains function %s and its role, but also exempts %s", cfg.SCPFile, fnARN, strings.Join(exempted, ", "))
		f.Fix = "exempt only the deployment role " + deploy
	default:
		f.Status = OK
		f.Message = fmt.Sprintf("%s keeps function %s and role %s in the hands of %s alone", cfg.SCPFile, fnARN, roleARN, deploy)
	}
	return f
}
