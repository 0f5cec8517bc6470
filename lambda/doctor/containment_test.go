package doctor

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	fnARN     = "arn:aws:lambda:us-east-1:111122223333:function:Guard-Function-ABC"
	roleARN   = "arn:aws:iam::111122223333:role/Guard-FunctionRole-ABC"
	deployARN = "arn:aws:iam::111122223333:role/cdk-hnb659fds-cfn-exec-role-111122223333-us-east-1"
	denyARN   = "arn:aws:iam::111122223333:policy/Guard-QuarantineDeny-ABC"
)

var dep = Deployment{FunctionARN: fnARN, RoleARN: roleARN, DeployRoleARN: deployARN, DenyPolicyARN: denyARN}

// TestCheckSCP: the policy ContainmentSCP writes covers itself; every way
// of leaving a change to the function or its role open is caught.
func TestCheckSCP(t *testing.T) {
	good, _ := json.Marshal(ContainmentSCP(dep))
	edit := func(f func(p *Policy)) []byte {
		p := ContainmentSCP(dep)
		f(&p)
		b, _ := json.Marshal(p)
		return b
	}
	for _, tt := range []struct {
		name     string
		doc      []byte
		missing  string // one of the missing, "" for none
		exempted string
	}{
		{"the stack's policy", good, "", ""},
		{"wildcard actions and resources", []byte(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Deny","Action":["lambda:*"],"Resource":"arn:aws:lambda:*:111122223333:function:Guard-*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"` + deployARN + `"}}},
			{"Effect":"Deny","Action":["iam:*"],"Resource":"arn:aws:iam::111122223333:role/Guard-*","Condition":{"ArnNotLike":{"aws:PrincipalArn":["` + deployARN + `"]}}},
			{"Effect":"Deny","Action":"lambda:Invoke*","Resource":"*"},
			{"Effect":"Deny","Action":["iam:*PolicyVersion"],"Resource":"arn:aws:iam::111122223333:policy/Guard-*","Condition":{"ArnNotEquals":{"aws:PrincipalArn":["` + deployARN + `"]}}},
			{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}`), "", ""},
		{"one statement object", []byte(`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`), "", ""},
		{"no role statement", edit(func(p *Policy) { p.Statement = p.Statement[:2] }), "iam:PassRole on " + roleARN, ""},
		{"no invoke statement", edit(func(p *Policy) { p.Statement = p.Statement[1:] }), "lambda:InvokeFunction on " + fnARN, ""},
		{"deny policy versions left open", edit(func(p *Policy) { p.Statement = p.Statement[:4] }), "iam:CreatePolicyVersion on " + denyARN, ""},
		{"code updates left open", edit(func(p *Policy) { p.Statement[1].Action = p.Statement[1].Action[1:] }), "lambda:UpdateFunctionCode on " + fnARN, ""},
		{"versions left open", edit(func(p *Policy) { p.Statement[1].Resource = p.Statement[1].Resource[:1] }), "lambda:PublishVersion on " + fnARN + ":*", ""},
		{"exemption by pattern", edit(func(p *Policy) {
			p.Statement[2].Condition["ArnNotLike"]["aws:PrincipalArn"] = []string{"arn:aws:iam::111122223333:role/cdk-*"}
		}), "iam:PutRolePolicy on " + roleARN, ""},
		{"exemption by another key", edit(func(p *Policy) {
			p.Statement[1].Condition = map[string]map[string][]string{"StringNotEquals": {"aws:RequestedRegion": {"us-east-1"}}}
		}), "lambda:UpdateFunctionConfiguration on " + fnARN, ""},
		{"assume role only by some", edit(func(p *Policy) { p.Statement[3].Condition = p.Statement[1].Condition }), "sts:AssumeRole on " + roleARN, ""},
		{"an allow, not a deny", edit(func(p *Policy) { p.Statement[2].Effect = "Allow" }), "iam:UpdateAssumeRolePolicy on " + roleARN, ""},
		{"another principal exempted", edit(func(p *Policy) {
			p.Statement[1].Condition = map[string]map[string][]string{"ArnNotLike": {"aws:PrincipalArn": {deployARN, "arn:aws:iam::111122223333:role/Admin"}}}
		}), "", "arn:aws:iam::111122223333:role/Admin"},
		{"NotAction", []byte(`{"Statement":[{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}`), "lambda:UpdateFunctionCode on " + fnARN, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			missing, exempted, err := CheckSCP(tt.doc, dep)
			if err != nil {
				t.Fatal(err)
			}
			if tt.missing == "" && len(missing) > 0 || tt.missing != "" && !strings.Contains(strings.Join(missing, "\n"), tt.missing) {
				t.Errorf("missing %q; want %q", missing, tt.missing)
			}
			if strings.Join(exempted, ",") != tt.exempted {
				t.Errorf("exempted %q; want %q", exempted, tt.exempted)
			}
		})
	}
	if _, _, err := CheckSCP([]byte(`{"Statement":`), dep); err == nil {
		t.Error("truncated document accepted")
	}
}

// TestCheckContainment: with REVOKE_SESSIONS=on and no policy to check,
// doctor warns; a policy given is checked against the function's own
// role and the deployment role of its CDK_QUALIFIER.
func TestCheckContainment(t *testing.T) {
	good, _ := json.Marshal(ContainmentSCP(dep))
	custom, _ := json.Marshal(ContainmentSCP(Deployment{FunctionARN: fnARN, RoleARN: roleARN, DeployRoleARN: strings.Replace(deployARN, "hnb659fds", "guard7", 1)}))
	for _, tt := range []struct {
		name string
		scp  []byte
		env  map[string]string
		want Status // "" for no finding
	}{
		{"revoke off, no policy", nil, map[string]string{}, ""},
		{"revoke on, no policy", nil, map[string]string{"REVOKE_SESSIONS": "on"}, Warn},
		{"revoke on, the stack's policy", good, map[string]string{"REVOKE_SESSIONS": "on"}, OK},
		{"another qualifier's deployment role exempted", custom, map[string]string{"REVOKE_SESSIONS": "on"}, Warn},
		{"custom qualifier", custom, map[string]string{"REVOKE_SESSIONS": "on", "CDK_QUALIFIER": "guard7"}, OK},
		{"iam response on, deny policy versions left open", good, map[string]string{"REVOKE_SESSIONS": "on", "IAM_DENY_POLICY_ARN": "arn:aws:iam::111122223333:policy/Other"}, Fail},
		{"policy of another role", []byte(strings.ReplaceAll(string(good), "Guard-FunctionRole-ABC", "Other")), map[string]string{}, Fail},
	} {
		f := checkContainment(Config{SCP: tt.scp, SCPFile: "scp.json"}, fnARN, roleARN, tt.env)
		switch {
		case tt.want == "" && f != nil:
			t.Errorf("%s: %+v; want no finding", tt.name, *f)
		case tt.want != "" && (f == nil || f.Status != tt.want):
			t.Errorf("%s: %+v; want %s", tt.name, f, tt.want)
		}
	}
}
