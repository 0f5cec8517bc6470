package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/eventruler"
	"github.com/s3xguard/s3xguard/test/golden"
)

const testRoutingKey = "R0UTINGKEYR0UTINGKEYR0UTINGKEY12"

// testRouting routes everything: chat from medium, PagerDuty from high,
// and one webhook of each format.
func testRouting() *Routing {
	return &Routing{
		Chat:      &ChatRoute{MinSeverity: "medium"},
		PagerDuty: &PagerDutyRoute{RoutingKey: testRoutingKey, MinSeverity: "high"},
		Webhooks: []Webhook{
			{Name: "slack", Format: "slack", URL: "https://hooks.slack.com/services/T000/B000/XXXXXXXX"},
			{Name: "opsgenie", Format: "opsgenie", URL: "https://api.eu.opsgenie.com", APIKey: "{{resolve:secretsmanager:s3xguard/opsgenie:SecretString:key}}"},
			{Name: "siem", Format: "document", URL: "https://siem.example.com/ingest"},
		},
	}
}

// busEvent wraps a document as EventBridge delivers a PutEvents entry to
// a rule on the bus.
func busEvent(detailType, doc string) map[string]any {
	var d map[string]any
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		panic(err)
	}
	return map[string]any{"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detailType, "source": "s3xguard",
		"account": "111122223333", "time": "2026-12-06T03:00:00Z", "region": "us-east-1", "resources": []any{}, "detail": d}
}

// alertDoc is a real alert's document, of the given severity.
func alertDoc(t *testing.T, sev alert.Severity) (string, *alert.Alert) {
	t.Helper()
	id := cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/writer/s1", AccountID: "111122223333"}
	r := &cloudtrail.Record{EventName: "PutObject", EventID: "e-1", Bucket: "analytics--use1-az4--x-s3", AWSRegion: "us-east-1",
		RecipientAccountID: "111122223333", SourceIPAddress: "203.0.113.9", UserIdentity: id,
		UserAgent: "agent \"quoted\" \\ <script> `tick`\n*bold*"}
	a := &alert.Alert{Kind: alert.KindUnauthorized, Severity: sev, Record: r, ID: "e-1",
		Guarded:  alert.Place{Account: "111122223333", Region: "us-east-1"},
		Decision: rules.Decision{Verdict: rules.Unauthorized, Principal: rules.PrincipalOf(id), Reasons: []string{`no allow entry matched "writer"`}},
		Response: alert.Response{Action: alert.ActionQuarantined, Mode: "enforce", Target: "arn:aws:iam::111122223333:role/app/writer"}}
	m, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m.Document, a
}

// matches is EventBridge matching for the patterns routing writes: nested
// objects of exact-value lists.
func matches(pattern, event map[string]any) bool {
	for k, p := range pattern {
		v, ok := event[k]
		if !ok {
			return false
		}
		switch p := p.(type) {
		case map[string]any:
			sub, ok := v.(map[string]any)
			if !ok || !matches(p, sub) {
				return false
			}
		case []any:
			found := false
			for _, want := range p {
				found = found || want == v
			}
			if !found {
				return false
			}
		default:
			panic(fmt.Sprintf("pattern member %s: %v is neither a list nor an object", k, p))
		}
	}
	return true
}

// lookup follows a path of the form EventBridge input transformers and
// InputPath take: $.a.b.c.
func lookup(event map[string]any, path string) (any, error) {
	if !strings.HasPrefix(path, "$.") {
		return nil, fmt.Errorf("path %q: want $.a.b", path)
	}
	var v any = event
	for _, p := range strings.Split(path[2:], ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("path %q: %q is not in an object", path, p)
		}
		if v, ok = m[p]; !ok {
			return nil, fmt.Errorf("path %q: no %q in the event", path, p)
		}
	}
	return v, nil
}

// transform applies an input transformer as EventBridge does: each
// <name> outside a JSON string is replaced by the value as JSON; inside a
// string, by the value's text, which must then need no escaping.
func transform(event map[string]any, paths map[string]any, template string) ([]byte, error) {
	values := map[string]any{}
	for name, p := range paths {
		v, err := lookup(event, p.(string))
		if err != nil {
			return nil, err
		}
		values[name] = v
	}
	var out strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(template); i++ {
		c := template[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case c == '<':
			end := strings.IndexByte(template[i:], '>')
			name := ""
			if end > 0 {
				name = template[i+1 : i+end]
			}
			if v, ok := values[name]; ok {
				if inString {
					s, ok := v.(string)
					if !ok || strings.ContainsAny(s, "\"\\\n\r\t") {
						return nil, fmt.Errorf("<%s> inside a string takes %q, which needs escaping", name, v)
					}
					out.WriteString(s)
				} else {
					b, _ := json.Marshal(v)
					out.Write(b)
				}
				i += end
				continue
			}
		}
		out.WriteByte(c)
	}
	if !json.Valid([]byte(out.String())) {
		return nil, fmt.Errorf("result is not JSON: %s", out.String())
	}
	return []byte(out.String()), nil
}

// delivery is what one routing rule sends for one event.
type delivery struct {
	rule, endpoint, target string
	body                   []byte
	path                   []string
}

// deliveries runs event through every rule on the alert bus.
func (s *synthesized) deliveries(t *testing.T, event map[string]any) []delivery {
	t.Helper()
	var out []delivery
	dests := s.resources("AWS::Events::ApiDestination")
	for id, r := range s.resources("AWS::Events::Rule") {
		if r["EventBusName"] == nil {
			continue
		}
		if !matches(r["EventPattern"].(map[string]any), event) {
			continue
		}
		for _, tg := range r["Targets"].([]any) {
			tg := tg.(map[string]any)
			d := delivery{rule: id, target: js(tg["Arn"])}
			for did, dp := range dests {
				if strings.Contains(d.target, did) {
					d.endpoint = dp["InvocationEndpoint"].(string)
				}
			}
			switch {
			case tg["InputTransformer"] != nil:
				tr := tg["InputTransformer"].(map[string]any)
				body, err := transform(event, tr["InputPathsMap"].(map[string]any), tr["InputTemplate"].(string))
				if err != nil {
					t.Fatalf("rule %s: %v", id, err)
				}
				d.body = body
			case tg["InputPath"] != nil:
				v, err := lookup(event, tg["InputPath"].(string))
				if err != nil {
					t.Fatalf("rule %s: %v", id, err)
				}
				d.body, _ = json.Marshal(v)
			default:
				t.Fatalf("rule %s sends the whole event", id)
			}
			if hp, ok := tg["HttpParameters"].(map[string]any); ok {
				for _, p := range hp["PathParameterValues"].([]any) {
					v, err := lookup(event, p.(string))
					if err != nil {
						t.Fatalf("rule %s: %v", id, err)
					}
					d.path = append(d.path, v.(string))
				}
			}
			out = append(out, d)
		}
	}
	return out
}

// validatePagerDuty checks an Events API v2 body (PagerDuty developer
// docs, "Send an Alert Event" / "Resolve"): routing_key (32 characters),
// event_action, dedup_key up to 255 (required to resolve); a trigger's
// payload with summary (up to 1024), source and a severity of critical,
// error, warning or info.
func validatePagerDuty(body []byte) (map[string]any, error) {
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	if k, _ := e["routing_key"].(string); len(k) != 32 {
		return nil, fmt.Errorf("routing_key %v: want 32 characters", e["routing_key"])
	}
	key, _ := e["dedup_key"].(string)
	if len(key) > 255 {
		return nil, fmt.Errorf("dedup_key of %d characters", len(key))
	}
	switch e["event_action"] {
	case "trigger":
		p, ok := e["payload"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("trigger without payload")
		}
		if s, _ := p["summary"].(string); s == "" || len(s) > 1024 {
			return nil, fmt.Errorf("payload.summary %v: want 1 to 1024 characters", p["summary"])
		}
		if s, _ := p["source"].(string); s == "" {
			return nil, fmt.Errorf("payload.source %v: want a string", p["source"])
		}
		switch p["severity"] {
		case "critical", "error", "warning", "info":
		default:
			return nil, fmt.Errorf("payload.severity %v", p["severity"])
		}
		if cd, ok := p["custom_details"]; ok {
			if _, ok := cd.(map[string]any); !ok {
				return nil, fmt.Errorf("payload.custom_details is not an object")
			}
		}
	case "resolve", "acknowledge":
		if key == "" {
			return nil, fmt.Errorf("%s without dedup_key", e["event_action"])
		}
	default:
		return nil, fmt.Errorf("event_action %v", e["event_action"])
	}
	return e, nil
}

// The API-destination templates, applied to real s3xguard events, give
// what each tool takes: one PagerDuty trigger per alert at or above the
// route's severity (mapped to PagerDuty's), keyed by the alert's dedupKey,
// and a resolve with the same key on release; Slack text; an Opsgenie
// alert aliased by the key and closed by it; chat's custom notification;
// the document itself.
func TestRoutingPayloads(t *testing.T) {
	s := synth(t, "routing")
	wantPD := map[alert.Severity]string{alert.High: "error", alert.Critical: "critical"}
	for _, sev := range []alert.Severity{alert.Low, alert.Medium, alert.High, alert.Critical} {
		doc, a := alertDoc(t, sev)
		got := map[string]delivery{}
		for _, d := range s.deliveries(t, busEvent("s3xguard alert", doc)) {
			kind := d.endpoint
			if d.endpoint == "" {
				kind = "chat"
			}
			if _, dup := got[kind]; dup {
				t.Errorf("%s: two rules deliver to %s", sev, kind)
			}
			got[kind] = d
		}
		pd, ok := got["https://events.pagerduty.com/v2/enqueue"]
		if want := wantPD[sev]; ok != (want != "") {
			t.Errorf("%s: PagerDuty triggered = %v; want %v (route from high)", sev, ok, want != "")
		} else if ok {
			e, err := validatePagerDuty(pd.body)
			if err != nil {
				t.Errorf("%s: PagerDuty: %v\n%s", sev, err, pd.body)
			} else if e["dedup_key"] != a.IncidentKey() || e["payload"].(map[string]any)["severity"] != want || e["routing_key"] != testRoutingKey {
				t.Errorf("%s: PagerDuty event %s; want dedup_key %s, severity %s", sev, pd.body, a.IncidentKey(), want)
			}
		}
		if sl, ok := got["https://hooks.slack.com/services/T000/B000/XXXXXXXX"]; !ok {
			t.Errorf("%s: Slack not called", sev)
		} else {
			var m struct {
				Text        string
				Attachments []struct{ Text string }
			}
			if err := json.Unmarshal(sl.body, &m); err != nil || m.Text == "" || len(m.Attachments) != 1 || !strings.Contains(m.Attachments[0].Text, "Runbook") {
				t.Errorf("%s: Slack body %s", sev, sl.body)
			}
		}
		if og, ok := got["https://api.eu.opsgenie.com/v2/alerts"]; !ok {
			t.Errorf("%s: Opsgenie not called", sev)
		} else {
			var m struct {
				Message, Alias, Description, Priority string
				Tags                                  []string
			}
			if err := json.Unmarshal(og.body, &m); err != nil || m.Message == "" || len(m.Message) > 130 || m.Alias != a.IncidentKey() ||
				len(m.Description) > 15000 || m.Priority != opsgeniePriority[sev.String()] || len(m.Tags) != 4 {
				t.Errorf("%s: Opsgenie body %s", sev, og.body)
			}
		}
		if doc2, ok := got["https://siem.example.com/ingest"]; !ok {
			t.Errorf("%s: document webhook not called", sev)
		} else {
			var x, y any
			json.Unmarshal(doc2.body, &x)
			json.Unmarshal([]byte(doc), &y)
			if js(x) != js(y) {
				t.Errorf("%s: document webhook got %s; want the document", sev, doc2.body)
			}
		}
		if ch, ok := got["chat"]; ok != (sev >= alert.Medium) {
			t.Errorf("%s: chat = %v; want from medium", sev, ok)
		} else if ok {
			var n struct {
				Version, Source string
				Content         struct{ Description string }
			}
			if json.Unmarshal(ch.body, &n); n.Version != "1.0" || n.Source != "custom" || n.Content.Description == "" {
				t.Errorf("%s: chat payload %s", sev, ch.body)
			}
		}
	}

	_, a := alertDoc(t, alert.High)
	rel, err := alert.Released{Guarded: a.Guarded, Bucket: a.Record.Bucket, Principal: a.Response.Target, Reason: "expired", Time: time.Now()}.Document()
	if err != nil {
		t.Fatal(err)
	}
	var resolved, closed bool
	for _, d := range s.deliveries(t, busEvent("s3xguard quarantine released", rel)) {
		switch d.endpoint {
		case "https://events.pagerduty.com/v2/enqueue":
			e, err := validatePagerDuty(d.body)
			if err != nil || e["event_action"] != "resolve" || e["dedup_key"] != a.IncidentKey() {
				t.Errorf("PagerDuty on release: %v %s; want resolve of %s", err, d.body, a.IncidentKey())
			}
			resolved = true
		case "https://api.eu.opsgenie.com/v2/alerts/*/close":
			if len(d.path) != 1 || d.path[0] != a.IncidentKey() {
				t.Errorf("Opsgenie close path %q; want the alias %s", d.path, a.IncidentKey())
			}
			closed = true
		}
	}
	if !resolved || !closed {
		t.Errorf("release: PagerDuty resolved %v, Opsgenie closed %v; want both", resolved, closed)
	}
}

// The function may put s3xguard events on its bus and nothing else, and
// learns the bus from ALERT_BUS; the chat topic takes only its rules.
func TestRoutingWiring(t *testing.T) {
	s := synth(t, "routing")
	env := js(s.one(t, "AWS::Lambda::Function")["Environment"])
	if !strings.Contains(env, `"ALERT_BUS":{"Ref":"AlertBus`) && !strings.Contains(env, `"ALERT_BUS":"`) {
		t.Errorf("function environment without ALERT_BUS: %s", env)
	}
	if st := find(s.statements(t), `"Sid":"PutAlertEvents"`); !strings.Contains(st, `"events:source":"s3xguard"`) || !strings.Contains(st, "AlertBus") {
		t.Errorf("PutEvents statement = %s", st)
	}
	for _, name := range []string{"minimal", "full"} {
		if n := len(synth(t, name).resources("AWS::Events::EventBus")); n != 0 {
			t.Errorf("%s: %d buses without routing", name, n)
		}
	}
	if a := s.alarmsByID()["BusFailedAlarm"]; a == nil || a["MetricName"] != "BusFailed" || a["Namespace"] != "s3xguard" ||
		!strings.Contains(js(a["AlarmActions"]), `"Ref":"Health`) {
		t.Errorf("BusFailedAlarm = %s; want an alarm on BusFailed paging the health topic", js(a))
	}
	if synth(t, "full").alarmsByID()["BusFailedAlarm"] != nil {
		t.Error("full: BusFailedAlarm without routing")
	}
	tp := js(s.resources("AWS::SNS::TopicPolicy"))
	if !strings.Contains(tp, "TheChatRulesPublish") || !strings.Contains(tp, "aws:SourceArn") {
		t.Errorf("chat topic policy: %s", tp)
	}
	// What a route could not deliver in 24 hours is parked in the
	// dead-letter queue (whose alarm pages), never dropped; the queue
	// admits exactly the routing rules.
	qp := js(s.resources("AWS::SQS::QueuePolicy"))
	routes := 0
	for id, r := range s.resources("AWS::Events::Rule") {
		if !strings.HasPrefix(id, "Route") {
			continue
		}
		routes++
		for _, tg := range r["Targets"].([]any) {
			dl := js(tg.(map[string]any)["DeadLetterConfig"])
			if !strings.Contains(dl, "DeadLetters") {
				t.Errorf("route %s: target without the dead-letter queue (DeadLetterConfig %s)", id, dl)
			}
		}
		if !strings.Contains(qp, `{"Fn::GetAtt":["`+id+`","Arn"]}`) {
			t.Errorf("route %s may not send to the dead-letter queue: %s", id, qp)
		}
	}
	if routes == 0 || !strings.Contains(qp, "RoutingRulesParkUndelivered") {
		t.Errorf("%d routes; queue policy %s", routes, qp)
	}
}

// An https subscription that can never confirm is refused at synth, with
// the way that works; routing's own fields are checked.
func TestRoutingConfigRefusals(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Subscriptions.HTTPS = []string{"https://hooks.slack.com/services/T0/B0/secret"} },
			`subscriptions.https[0]: "https://hooks.slack.com/...": hooks.slack.com never confirms an SNS subscription`},
		{func(c *Config) {
			c.HealthSubscriptions = &Subscriptions{HTTPS: []string{"https://events.pagerduty.com/integration/x/enqueue"}}
		}, "routing.pagerDuty"},
		{func(c *Config) { c.Routing = &Routing{PagerDuty: &PagerDutyRoute{RoutingKey: "short"}} }, "routing.pagerDuty.routingKey: (hidden)"},
		{func(c *Config) {
			c.Routing = &Routing{Webhooks: []Webhook{{Name: "og", Format: "opsgenie", URL: "https://api.opsgenie.com", APIKey: "GenieKey abc"}}}
		}, "routing.webhooks[0].apiKey: (hidden): want {{resolve:secretsmanager:...}}"},
		{func(c *Config) {
			c.Routing = &Routing{Webhooks: []Webhook{{Name: "x", Format: "teams", URL: "https://x.example.com"}}}
		}, `routing.webhooks[0].format: "teams"`},
		{func(c *Config) { c.Routing = &Routing{Chat: &ChatRoute{MinSeverity: "urgent"}} }, `routing.chat.minSeverity: "urgent"`},
		{func(c *Config) {
			c.Routing = &Routing{Webhooks: []Webhook{{Name: "a", Format: "slack", URL: "http://hooks.slack.com/x"}}}
		}, `routing.webhooks[0].url: "http://hooks.slack.com/...": want an https:// URL`},
	} {
		cfg := validConfig()
		c.edit(cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v; want it to contain %q", err, c.want)
		}
		for _, secret := range []string{"short", "GenieKey abc", "secret", "T0/B0"} {
			if err != nil && strings.Contains(strings.ReplaceAll(err.Error(), "secretsmanager", ""), secret) {
				t.Errorf("error echoes the secret %q: %v", secret, err)
			}
		}
	}
	if err := validConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	ok := validConfig()
	ok.Subscriptions.HTTPS = []string{"https://hooks.example.com/s3xguard"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a confirming https endpoint refused: %v", err)
	}
}

// readmeDocs returns the alert and release documents of the samples in
// lambda/README.md (TestREADMESamples keeps them what the code renders).
func readmeDocs(t *testing.T) (alertDoc, releaseDoc string) {
	t.Helper()
	text, err := os.ReadFile("../../lambda/README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(after string) string {
		_, rest, ok := strings.Cut(string(text), after)
		if !ok {
			t.Fatalf("lambda/README.md: no %q", after)
		}
		_, rest, _ = strings.Cut(rest, "```json\n")
		body, _, _ := strings.Cut(rest, "```")
		return body
	}
	return block("The document (the SNS `default` member"), block("The `detail` of the bus event \"s3xguard quarantine released\"")
}

// TestRoutingSamples: infra/README.md shows what each tool receives for
// the README's sample alert and its release (S3XGUARD_UPDATE_DOCS=1
// rewrites it).
func TestRoutingSamples(t *testing.T) {
	s := synth(t, "routing")
	doc, rel := readmeDocs(t)
	show := func(d delivery, drop string) string {
		var m map[string]any
		if err := json.Unmarshal(d.body, &m); err != nil {
			t.Fatal(err)
		}
		if p, ok := m["payload"].(map[string]any); ok && drop != "" {
			delete(p, drop)
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		return string(b)
	}
	var b strings.Builder
	byEndpoint := func(event map[string]any) map[string]delivery {
		out := map[string]delivery{}
		for _, d := range s.deliveries(t, event) {
			out[d.endpoint] = d
		}
		return out
	}
	a, r := byEndpoint(busEvent("s3xguard alert", doc)), byEndpoint(busEvent("s3xguard quarantine released", rel))
	for _, c := range []struct {
		title string
		d     delivery
		drop  string
	}{
		{"PagerDuty, trigger (`custom_details`: the document)", a["https://events.pagerduty.com/v2/enqueue"], "custom_details"},
		{"PagerDuty, resolve on release", r["https://events.pagerduty.com/v2/enqueue"], ""},
		{"Slack", a["https://hooks.slack.com/services/T000/B000/XXXXXXXX"], ""},
		{"Opsgenie, create (`POST /v2/alerts`)", a["https://api.eu.opsgenie.com/v2/alerts"], ""},
		{"Opsgenie, close on release (`POST /v2/alerts/" + strings.Join(r["https://api.eu.opsgenie.com/v2/alerts/*/close"].path, "") + "/close?identifierType=alias`)", r["https://api.eu.opsgenie.com/v2/alerts/*/close"], ""},
	} {
		if c.d.body == nil {
			t.Fatalf("%s: no delivery", c.title)
		}
		fmt.Fprintf(&b, "%s:\n\n```json\n%s\n```\n\n", c.title, show(c.d, c.drop))
	}
	golden.Section(t, "../README.md", "routing-samples", strings.TrimSuffix(b.String(), "\n"))
}

// The routing rules' patterns match, by event-ruler (the library
// EventBridge matches with), exactly the events `matches` says: the
// payload tests pick the rules EventBridge would.
func TestRoutingPatternsByEventRuler(t *testing.T) {
	cp := os.Getenv(eventruler.ClasspathEnv)
	if cp == "" {
		if os.Getenv("S3XGUARD_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is not set: run ./test/run, which installs event-ruler", eventruler.ClasspathEnv)
		}
		t.Skipf("%s is not set (./test/run installs event-ruler)", eventruler.ClasspathEnv)
	}
	s := synth(t, "routing")
	patterns := map[string][]byte{}
	parsed := map[string]map[string]any{}
	for id, r := range s.resources("AWS::Events::Rule") {
		if r["EventBusName"] != nil {
			patterns[id], _ = json.Marshal(r["EventPattern"])
			parsed[id] = r["EventPattern"].(map[string]any)
		}
	}
	var events []map[string]any
	for _, sev := range []alert.Severity{alert.Low, alert.Medium, alert.High, alert.Critical} {
		doc, _ := alertDoc(t, sev)
		events = append(events, busEvent("s3xguard alert", doc))
	}
	_, a := alertDoc(t, alert.High)
	rel, err := alert.Released{Guarded: a.Guarded, Bucket: a.Record.Bucket, Principal: a.Response.Target, Reason: "released"}.Document()
	if err != nil {
		t.Fatal(err)
	}
	events = append(events, busEvent("s3xguard quarantine released", rel), busEvent("something else", rel))
	var lines [][]byte
	for _, e := range events {
		b, _ := json.Marshal(e)
		lines = append(lines, b)
	}
	got, err := eventruler.Match(context.Background(), cp, patterns, lines)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		var want []string
		for id, p := range parsed {
			if matches(p, e) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got[i], want) {
			t.Errorf("event %d (%s): event-ruler matches %q; the tests' matcher %q", i, e["detail-type"], got[i], want)
		}
	}
}
