package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

type orgSynth struct {
	org       *Org
	outdir    string
	central   map[string]any
	assets    []map[string]any
	functions map[string]string // allowlist -> bundle dir
}

var (
	orgOnce sync.Once
	orgS    *orgSynth
	orgErr  error
)

// synthOrg synthesizes infra/s3xguard.org.example.json's rollout once.
func synthOrg(t *testing.T) *orgSynth {
	t.Helper()
	synth(t, "minimal") // builds the function
	orgOnce.Do(func() {
		var cfg *Config
		if cfg, orgErr = Load("../s3xguard.org.example.json"); orgErr != nil {
			return
		}
		// The target bundles its own allowlist: two zips, two keys.
		cfg.Targets[0].Allowlist = "stack/testdata/protected.yaml"
		cfg.Findings = "securityhub"
		if orgErr = cfg.Validate(); orgErr != nil {
			return
		}
		s := &orgSynth{functions: map[string]string{}}
		s.outdir, _ = os.MkdirTemp(scratch, "cdk.out-org-")
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(s.outdir)})
		fns := func(allowlist string) (string, error) {
			if d, ok := s.functions[allowlist]; ok {
				return d, nil
			}
			d, err := bundleWith(filepath.Join(functionDir, "bootstrap"), allowlist, scratch)
			s.functions[allowlist] = d
			return d, err
		}
		if s.org, orgErr = AddOrganization(app, cfg, fns, scratch); orgErr != nil {
			return
		}
		app.Synth(nil)
		s.central = templateOf(s.org.Central.Stack)
		for _, a := range s.org.Assets {
			s.assets = append(s.assets, templateOf(a))
		}
		orgS = s
	})
	if orgErr != nil {
		t.Fatal(orgErr)
	}
	return orgS
}

func templateOf(stack awscdk.Stack) map[string]any {
	var m map[string]any
	b, _ := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	json.Unmarshal(b, &m)
	return m
}

func ofType(tmpl map[string]any, typ string) map[string]map[string]any {
	return (&synthesized{template: tmpl}).resources(typ)
}

func TestOrgStackSets(t *testing.T) {
	s := synthOrg(t)
	sets := map[string]map[string]any{}
	for _, p := range ofType(s.central, "AWS::CloudFormation::StackSet") {
		sets[p["StackSetName"].(string)] = p
	}
	if len(sets) != 2 {
		t.Fatalf("StackSets %v; want s3xguard and s3xguard-444455556666-eu-west-1", keys(sets))
	}
	for name, p := range sets {
		if p["PermissionModel"] != "SERVICE_MANAGED" || p["CallAs"] != "DELEGATED_ADMIN" {
			t.Errorf("%s: permission model %v, callAs %v; want SERVICE_MANAGED, DELEGATED_ADMIN", name, p["PermissionModel"], p["CallAs"])
		}
		if ad := js(p["AutoDeployment"]); ad != `{"Enabled":true,"RetainStacksOnAccountRemoval":false}` {
			t.Errorf("%s: auto-deployment %s; want enabled (accounts joining the units are guarded with no manual step)", name, ad)
		}
		url, _ := p["TemplateURL"].(string)
		if p["TemplateBody"] != nil || !strings.HasPrefix(url, "https://s3xguard-assets-999988887777-us-east-1.s3.us-east-1.amazonaws.com/templates/"+name+"-") {
			t.Errorf("%s: template URL %q; want the home region's assets bucket", name, url)
		}
		if _, err := os.Stat(filepath.Join(s.org.Staging, url[strings.Index(url, "/templates/")+1:])); err != nil {
			t.Errorf("%s: the template its URL names is not staged for upload: %v", name, err)
		}
	}
	// The defaults go to every account of the units in both regions,
	// except, in eu-west-1, the account its target overrides; the target's
	// StackSet goes to that account and region only.
	want := `[{"DeploymentTargets":{"OrganizationalUnitIds":["ou-ab12-cdefgh34"]},"Regions":["us-east-1"]},` +
		`{"DeploymentTargets":{"AccountFilterType":"DIFFERENCE","Accounts":["444455556666"],"OrganizationalUnitIds":["ou-ab12-cdefgh34"]},"Regions":["eu-west-1"]}]`
	if got := js(sets["s3xguard"]["StackInstancesGroup"]); got != want {
		t.Errorf("default instances %s; want %s", got, want)
	}
	want = `[{"DeploymentTargets":{"AccountFilterType":"INTERSECTION","Accounts":["444455556666"],"OrganizationalUnitIds":["ou-ab12-cdefgh34"]},"Regions":["eu-west-1"]}]`
	if got := js(sets["s3xguard-444455556666-eu-west-1"]["StackInstancesGroup"]); got != want {
		t.Errorf("target instances %s; want %s", got, want)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestOrgCentral(t *testing.T) {
	s := synthOrg(t)
	buses := ofType(s.central, "AWS::Events::EventBus")
	if len(buses) != 1 {
		t.Fatalf("%d buses; want 1", len(buses))
	}
	for _, b := range buses {
		if b["Name"] != CentralBusName {
			t.Errorf("bus name %v; want %s (members name it by ARN)", b["Name"], CentralBusName)
		}
	}
	pols := ofType(s.central, "AWS::Events::EventBusPolicy")
	if len(pols) != 1 {
		t.Fatalf("%d bus policies; want 1", len(pols))
	}
	for _, p := range pols {
		if pol := js(p); !strings.Contains(pol, `"aws:PrincipalOrgID":"o-abcd123456"`) || !strings.Contains(pol, "events:PutEvents") || !strings.Contains(pol, `"Principal":{"AWS":"*"}`) {
			t.Errorf("bus policy %s; want PutEvents for the organization's accounts only", pol)
		}
	}
	// Findings: the other guarded region linked into the home region.
	if aggs := ofType(s.central, "AWS::SecurityHub::FindingAggregator"); len(aggs) != 1 {
		t.Errorf("%d finding aggregators; want 1 with findings on", len(aggs))
	} else {
		for _, a := range aggs {
			if js(a) != `{"RegionLinkingMode":"SPECIFIED_REGIONS","Regions":["eu-west-1"]}` {
				t.Errorf("finding aggregator %s; want eu-west-1 linked into us-east-1", js(a))
			}
		}
	}
	if n := len(ofType(s.central, "AWS::Events::Archive")); n != 1 {
		t.Errorf("%d archives; want 1", n)
	}
	rules := ofType(s.central, "AWS::Events::Rule")
	var alert, alarm string
	for _, r := range rules {
		p := js(r["EventPattern"])
		switch {
		case strings.Contains(p, `"source":["s3xguard"]`):
			alert = js(r)
		case strings.Contains(p, `"aws.cloudwatch"`):
			alarm = js(r)
		}
	}
	if !strings.Contains(alert, `"Ref":"Alerts`) || !strings.Contains(alert, `"detail-type":["s3xguard alert"]`) {
		t.Errorf("alert rule %s; want the member's alerts to the organization's alert topic", alert)
	}
	// The page: the member's document under the sender EventBridge
	// stamped, which the member cannot forge.
	var rule struct {
		Targets []struct {
			InputTransformer struct {
				InputPathsMap map[string]string
				InputTemplate string
			}
		}
	}
	json.Unmarshal([]byte(alert), &rule)
	if len(rule.Targets) != 1 {
		t.Fatalf("alert rule targets %s", alert)
	}
	it := rule.Targets[0].InputTransformer
	if !reflect.DeepEqual(it.InputPathsMap, map[string]string{"account": "$.account", "region": "$.region", "detail": "$.detail"}) {
		t.Errorf("alert page paths %v", it.InputPathsMap)
	}
	var page struct {
		Sender struct{ Account, Region string }
		Alert  map[string]any
	}
	filled := strings.NewReplacer("<account>", `"111111111111"`, "<region>", `"eu-west-1"`, "<detail>", `{"kind":"unauthorized"}`).Replace(it.InputTemplate)
	if err := json.Unmarshal([]byte(filled), &page); err != nil || page.Sender.Account != "111111111111" || page.Sender.Region != "eu-west-1" || page.Alert["kind"] != "unauthorized" {
		t.Errorf("alert page %s (filled: %s, %v); want {sender: {account, region}, alert: the document}", it.InputTemplate, filled, err)
	}
	for _, field := range []string{`"account":"$.account"`, `"region":"$.region"`, `"$.detail.alarmName"`, `\u003caccount\u003e`, `\u003cregion\u003e`, `"Ref":"Health`} {
		if !strings.Contains(alarm, field) {
			t.Errorf("alarm rule %s; want %s in its page", alarm, field)
		}
	}
	// EventBridge may publish to the central topics and use their keys.
	for _, typ := range []string{"AWS::SNS::TopicPolicy", "AWS::KMS::Key"} {
		for id, p := range ofType(s.central, typ) {
			if doc := js(p); !strings.Contains(doc, "events.amazonaws.com") {
				t.Errorf("%s %s: EventBridge may not publish: %s", typ, id, doc)
			}
		}
	}
}

func TestOrgAssets(t *testing.T) {
	s := synthOrg(t)
	if len(s.assets) != 2 {
		t.Fatalf("%d assets stacks; want one per region (2)", len(s.assets))
	}
	for i, a := range s.assets {
		region := s.org.Cfg().Organization.Regions[i]
		var bucket map[string]any
		for _, p := range ofType(a, "AWS::S3::Bucket") {
			bucket = p
		}
		if bucket["BucketName"] != AssetsBucketName("999988887777", region) {
			t.Errorf("assets bucket %v; want %s", bucket["BucketName"], AssetsBucketName("999988887777", region))
		}
		for _, p := range ofType(a, "AWS::S3::BucketPolicy") {
			doc := js(p)
			if !strings.Contains(doc, `"aws:PrincipalOrgID":"o-abcd123456"`) || !strings.Contains(doc, `/function/*`) || !strings.Contains(doc, `"aws:PrincipalArn":"arn:*:iam::*:role/stacksets-exec-*"`) {
				t.Errorf("%s: assets policy %s; want the organization's StackSet execution roles to read function/*", region, doc)
			}
		}
		if n := len(ofType(a, "Custom::CDKBucketDeployment")); n != 1 {
			t.Errorf("%s: %d bucket deployments; want 1", region, n)
		}
	}
	zips, _ := filepath.Glob(filepath.Join(s.org.Staging, "function", "*.zip"))
	if len(zips) != 2 {
		t.Errorf("staged zips %v; want one per allowlist (2)", zips)
	}
}

func TestOrgMembers(t *testing.T) {
	s := synthOrg(t)
	for name, tmpl := range s.org.Members {
		fns := ofType(tmpl, "AWS::Lambda::Function")
		if len(fns) != 1 {
			t.Fatalf("%s: %d functions", name, len(fns))
		}
		for _, f := range fns {
			if f["FunctionName"] != MemberFunctionName {
				t.Errorf("%s: function name %v; want %s", name, f["FunctionName"], MemberFunctionName)
			}
			code := js(f["Code"])
			if !strings.Contains(code, `"Fn::Sub":"s3xguard-assets-999988887777-${AWS::Region}"`) {
				t.Errorf("%s: code %s; want the member region's assets bucket", name, code)
			}
			var c struct{ S3Key string }
			json.Unmarshal([]byte(code), &c)
			if _, err := os.Stat(filepath.Join(s.org.Staging, c.S3Key)); !strings.HasPrefix(c.S3Key, "function/") || err != nil {
				t.Errorf("%s: code key %q is not a staged zip: %v", name, c.S3Key, err)
			}
			if env := js(f["Environment"]); !strings.Contains(env, `"ALERT_BUS":"default"`) {
				t.Errorf("%s: environment %s; want ALERT_BUS=default", name, env)
			}
		}
		if params, _ := tmpl["Parameters"].(map[string]any); params["BootstrapVersion"] != nil {
			t.Errorf("%s: the template needs a CDK bootstrap; StackSet members have none", name)
		}
		all := js(tmpl)
		if strings.Contains(all, "cdk-hnb659fds-assets") || strings.Contains(all, "AssetParameters") {
			t.Errorf("%s: the template references CDK assets", name)
		}
		// The forward: alerts and this stack's alarms to the central bus,
		// with a DLQ.
		var fwd string
		for _, r := range ofType(tmpl, "AWS::Events::Rule") {
			if strings.Contains(js(r), CentralBusName) {
				fwd = js(r)
			}
		}
		for _, want := range []string{`"arn:`, `:events:us-east-1:999988887777:event-bus/s3xguard-central"`, `"DeadLetterConfig"`, `"detail-type":["s3xguard alert","s3xguard quarantine released"]`, `"prefix":{"Ref":"AWS::StackName"}`} {
			if !strings.Contains(fwd, want) {
				t.Errorf("%s: forward rule %s; want %s", name, fwd, want)
			}
		}
		// Both ways the central account can miss an alert page locally.
		var missed []string
		for _, a := range ofType(tmpl, "AWS::CloudWatch::Alarm") {
			if m := js(a); (a["MetricName"] == "BusFailed" || strings.Contains(m, "CentralUndelivered")) && strings.Contains(js(a["AlarmActions"]), "Health") {
				missed = append(missed, fmt.Sprint(a["MetricName"]))
			}
		}
		if sort.Strings(missed); !reflect.DeepEqual(missed, []string{"ApproximateNumberOfMessagesVisible", "BusFailed"}) {
			t.Errorf("%s: alarms on the central path %v; want BusFailed and the undelivered queue, to the health topic", name, missed)
		}
		if !strings.Contains(all, `"events:PutEvents"`) || !strings.Contains(all, `"events:source":"s3xguard"`) {
			t.Errorf("%s: the function may not put its alert events", name)
		}
		// The StackSet's execution role creates the subscriptions.
		if !strings.Contains(all, ":role/stacksets-exec-*") {
			t.Errorf("%s: topics deny subscriptions to the StackSet execution role", name)
		}
		var doctor map[string]any
		for _, r := range ofType(tmpl, "AWS::IAM::Role") {
			if r["RoleName"] == DefaultDoctorRole {
				doctor = r
			}
		}
		if d := js(doctor); !strings.Contains(d, ":iam::999988887777:root") || !strings.Contains(d, "lambda:GetFunction") || strings.Contains(d, "Put") || strings.Contains(d, "Delete") {
			t.Errorf("%s: doctor role %s; want read-only, assumable by the organization account", name, d)
		}
	}
	target := js(s.org.Members["s3xguard-444455556666-eu-west-1"])
	def := js(s.org.Members["s3xguard"])
	if !strings.Contains(target, `"RESPONSE_MODE":"enforce"`) || !strings.Contains(target, "ledger--euw1-az1--x-s3") || !strings.Contains(target, "arn:aws:iam::444455556666:role/BreakGlass") {
		t.Errorf("the target's member does not carry its overrides")
	}
	if !strings.Contains(def, `"RESPONSE_MODE":"alert"`) || !strings.Contains(def, `"GUARDED_BUCKETS":"*"`) || strings.Contains(def, "ledger") {
		t.Errorf("the default member carries a target's overrides")
	}
}

func TestOrgNag(t *testing.T) {
	s := synthOrg(t)
	stacks := map[string]awscdk.Stack{"central": s.org.Central.Stack}
	for i, a := range s.org.Assets {
		stacks["assets"+string(rune('0'+i))] = a
	}
	for n, m := range s.org.MemberStacks {
		stacks[n] = m
	}
	for name, st := range stacks {
		for _, m := range nagMessages(st) {
			t.Errorf("%s: %s", name, m)
		}
	}
	for _, dir := range []string{s.outdir, filepath.Join(s.org.MembersDir, "s3xguard")} {
		if reports, _ := filepath.Glob(filepath.Join(dir, "AwsSolutions-*NagReport.csv")); len(reports) == 0 {
			t.Errorf("cdk-nag wrote no report in %s: the checks did not run", dir)
		}
	}
}

func TestOrgCfnLint(t *testing.T) {
	lint := cfnLint(t)
	s := synthOrg(t)
	templates, _ := filepath.Glob(filepath.Join(s.outdir, "*.template.json"))
	members, _ := filepath.Glob(filepath.Join(s.org.MembersDir, "*", "*.template.json"))
	if len(templates) < 3 || len(members) != 2 {
		t.Fatalf("templates %v, members %v", templates, members)
	}
	out, err := exec.Command(lint, append([]string{"--ignore-checks", "W3005", "--"}, append(templates, members...)...)...).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
}

// With routing, the function's events go to the routing bus: the member
// forwards from there, and alarms still from the default bus. Members in
// enforce get the break-glass role of organization.breakGlassRoleName in
// their own account.
func TestOrgMemberWithRouting(t *testing.T) {
	synth(t, "minimal") // builds the function
	cfg := orgConfig()
	cfg.Targets = nil
	cfg.Routing = &Routing{Chat: &ChatRoute{}}
	cfg.ResponseMode, cfg.Organization.BreakGlassRoleName = "enforce", "oncall/BreakGlass"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := member{name: "s3xguard", cfg: cfg.For(Target{Region: "us-east-1"})}
	m.cfg.member = &memberCode{account: cfg.Organization.Account, key: "function/test.zip"}
	dir, _ := os.MkdirTemp(scratch, "members-")
	_, tmpl, _, err := memberTemplate(dir, m, functionDir)
	if err != nil {
		t.Fatal(err)
	}
	var forwards []string
	for _, r := range ofType(tmpl, "AWS::Events::Rule") {
		if strings.Contains(js(r), CentralBusName) {
			forwards = append(forwards, js(r["EventBusName"]))
		}
	}
	sort.Strings(forwards)
	if len(forwards) != 2 || forwards[0] != `"s3xguard-alerts"` || forwards[1] != "null" {
		t.Errorf("forward rules on buses %v; want the default bus (alarms) and the routing bus (alerts)", forwards)
	}
	role := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"AWS::AccountId"},":role/oncall/BreakGlass"]]}`
	spared := 0
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::SNS::TopicPolicy"} {
		for id, r := range ofType(tmpl, typ) {
			if typ == "AWS::SNS::TopicPolicy" && !strings.HasPrefix(id, "Alerts") && !strings.HasPrefix(id, "Health") {
				continue // routing's chat topic names no operator
			}
			if !strings.Contains(js(r), role) {
				t.Errorf("%s %s does not spare the member's own break-glass role %s", typ, id, role)
			}
			spared++
		}
	}
	if spared != 3 {
		t.Errorf("%d resource policies checked; want the table's and the two topics'", spared)
	}
	for _, f := range ofType(tmpl, "AWS::Lambda::Function") {
		if env := js(f["Environment"]); !strings.Contains(env, `"ALERT_BUS":"s3xguard-alerts"`) {
			t.Errorf("environment %s; want ALERT_BUS the routing bus", env)
		}
	}
}

// Builder compiles once and bundles each allowlist beside a copy of that
// bootstrap; the same allowlist twice is the same bundle.
func TestBuilder(t *testing.T) {
	fns := Builder("../..", scratch)
	example, protected := "../../rules/allowlist.example.yaml", "testdata/protected.yaml"
	a, err := fns(example)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fns(protected)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := fns(example); again != a || a == b {
		t.Fatalf("bundles %s, %s, again %s; want the same allowlist's bundle reused and two bundles", a, b, again)
	}
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if !bytes.Equal(read(filepath.Join(a, "bootstrap")), read(filepath.Join(b, "bootstrap"))) {
		t.Error("the two bundles hold different bootstraps")
	}
	for dir, src := range map[string]string{a: example, b: protected} {
		if !bytes.Equal(read(filepath.Join(dir, "allowlist.yaml")), read(src)) {
			t.Errorf("%s holds another allowlist than %s", dir, src)
		}
	}
	if _, err := fns("testdata/bad-allowlist.yaml"); err == nil || !strings.Contains(err.Error(), "allowlist: ") {
		t.Errorf("bad allowlist: %v; want the allowlist's error", err)
	}
}
