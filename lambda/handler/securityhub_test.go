package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/securityhub"
	"github.com/s3xguard/s3xguard/lambda/state"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/test/asff"
)

// fakeHub is Security Hub behind SecurityHubAPI: it keeps findings by ID
// as the JSON imported, refuses the IDs in refuse (FailedFindings in a 200
// answer) and fails every call with err.
type fakeHub struct {
	mu       sync.Mutex
	findings map[string]json.RawMessage
	refuse   map[string]bool
	err      error
	imports  []int // findings per BatchImportFindings call
	gets     int
	// edit, when set, changes each BatchImportFindings answer.
	edit func(*securityhub.BatchImportFindingsOutput)
}

func newFakeHub() *fakeHub {
	return &fakeHub{findings: map[string]json.RawMessage{}, refuse: map[string]bool{}}
}

// hubFinding is what the tests read of a finding.
type hubFinding struct {
	ID                        string `json:"Id"`
	ProductFields             map[string]string
	UpdatedAt, LastObservedAt string
	Workflow, Note            json.RawMessage
}

func (f *fakeHub) finding(t *testing.T, id string) hubFinding {
	t.Helper()
	var h hubFinding
	if err := json.Unmarshal(f.findings[id], &h); err != nil {
		t.Fatalf("finding %s: %v", id, err)
	}
	return h
}

func (f *fakeHub) BatchImportFindings(_ context.Context, in []json.RawMessage) (*securityhub.BatchImportFindingsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imports = append(f.imports, len(in))
	if f.err != nil {
		return nil, f.err
	}
	out := &securityhub.BatchImportFindingsOutput{}
	for _, x := range in {
		var h hubFinding
		if err := json.Unmarshal(x, &h); err != nil || h.ID == "" {
			return nil, fmt.Errorf("InvalidInputException: not a finding: %s", x)
		}
		if f.refuse[h.ID] {
			out.FailedFindings = append(out.FailedFindings, securityhub.ImportFindingsError{ID: h.ID, ErrorCode: "InvalidInput", ErrorMessage: "refused"})
			continue
		}
		f.findings[h.ID] = x
	}
	failed, ok := len(out.FailedFindings), len(in)-len(out.FailedFindings)
	out.FailedCount, out.SuccessCount = &failed, &ok
	if f.edit != nil {
		f.edit(out)
	}
	return out, nil
}

func (f *fakeHub) GetFindings(_ context.Context, in *securityhub.GetFindingsInput) (*securityhub.GetFindingsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return nil, f.err
	}
	// API reference, AwsSecurityFindingFilters: at most 20 values per
	// filter field.
	if len(in.IDs) > 20 {
		return nil, fmt.Errorf("InvalidInputException: %d Id filters; at most 20", len(in.IDs))
	}
	out := &securityhub.GetFindingsOutput{}
	for _, id := range in.IDs {
		if x, ok := f.findings[id]; ok {
			out.Findings = append(out.Findings, x)
		}
	}
	return out, nil
}

func hubHandler(hub *fakeHub) (*Handler, *bytes.Buffer) {
	var log bytes.Buffer
	return &Handler{
		Config:      &config.Config{AccountID: "123456789012", Region: "us-east-1", Mode: config.ModeAlert},
		Log:         slog.New(slog.NewJSONHandler(&log, nil)),
		SecurityHub: hub,
	}, &log
}

func sentAlert(i int) *alert.Alert {
	rec := here
	rec.EventID, rec.EventName, rec.EventSource, rec.Bucket = fmt.Sprintf("e%d", i), "GetObject", "s3express.amazonaws.com", "a--use1-az4--x-s3"
	rec.EventTime = "2026-11-20T10:00:00Z"
	return &alert.Alert{Kind: alert.KindUnauthorized, Severity: alert.Medium, Record: &rec,
		Decision: rules.Decision{Verdict: rules.Unauthorized, Reasons: []string{"no entry"}},
		Response: alert.Response{Action: alert.ActionAlertOnly}}
}

// TestImportFindings: batches of at most 100, refused findings counted and
// named, nothing when Security Hub is off.
func TestImportFindings(t *testing.T) {
	hub := newFakeHub()
	h, log := hubHandler(hub)
	var m tally
	start := time.UnixMilli(1795169730000)
	for i := range 150 {
		h.queueFinding(sentAlert(i), fmt.Sprintf("k%d", i), start, nil, &m, h.Log)
	}
	refused := m.findings.created[7].Id
	hub.refuse[refused] = true
	h.importFindings(context.Background(), &m)
	if fmt.Sprint(hub.imports) != "[100 50]" || m.Findings != 149 || m.FindingsFailed != 1 || len(hub.findings) != 149 {
		t.Errorf("imports %v, counted %d ok and %d failed, %d kept; want [100 50], 149, 1, 149", hub.imports, m.Findings, m.FindingsFailed, len(hub.findings))
	}
	if !strings.Contains(log.String(), "findings not imported") || !strings.Contains(log.String(), refused+" refused: InvalidInput") {
		t.Errorf("the refused finding is not logged by ID:\n%s", log.String())
	}

	// An API error: every finding of the call failed.
	hub.err = errors.New("boom")
	m = tally{}
	h.queueFinding(sentAlert(1), "k", start, nil, &m, h.Log)
	h.importFindings(context.Background(), &m)
	if m.Findings != 0 || m.FindingsFailed != 1 {
		t.Errorf("API error: %d ok, %d failed", m.Findings, m.FindingsFailed)
	}

	// Off: nothing queued, nothing called.
	h.SecurityHub = nil
	m = tally{}
	h.queueFinding(sentAlert(1), "k", start, &state.Window{Key: "k"}, &m, h.Log)
	h.importFindings(context.Background(), &m)
	if len(m.findings.created)+len(m.findings.updates) != 0 {
		t.Errorf("Security Hub off, yet %+v queued", m.findings)
	}
}

// TestFindingOfEveryKind: invalid and forged alerts (no record, or
// another account's) are findings of the function's own account, valid by
// the ASFF reference.
func TestFindingOfEveryKind(t *testing.T) {
	hub := newFakeHub()
	h, _ := hubHandler(hub)
	var m tally
	forged := sentAlert(3)
	forged.Kind, forged.Severity = alert.KindForged, alert.High
	forged.Record.RecipientAccountID, forged.Record.AWSRegion = "999999999999", "eu-west-1"
	for i, a := range []*alert.Alert{
		sentAlert(1),
		{Kind: alert.KindInvalid, Severity: alert.Medium, Record: &cloudtrail.Record{}, Raw: "not json",
			Decision: rules.Decision{Verdict: rules.Invalid, Reasons: []string{"malformed JSON"}}},
		forged,
	} {
		h.queueFinding(a, fmt.Sprintf("k%d", i), time.Now(), nil, &m, h.Log)
	}
	if m.FindingsFailed != 0 || len(m.findings.created) != 3 {
		t.Fatalf("%d failed, %d queued", m.FindingsFailed, len(m.findings.created))
	}
	for _, f := range m.findings.created {
		b, _ := json.Marshal(f)
		for _, err := range asff.Validate(b) {
			t.Errorf("%s: %v", f.GeneratorId, err)
		}
		if f.AwsAccountId != "123456789012" || f.Region != "us-east-1" {
			t.Errorf("%s: in %s/%s, not the function's account", f.GeneratorId, f.AwsAccountId, f.Region)
		}
	}
}

// TestUpdateCount: the window's finding is read back and imported again
// with its count, a newer UpdatedAt, and without what Security Hub and its
// users own; the highest count of a window wins.
func TestUpdateCount(t *testing.T) {
	hub := newFakeHub()
	h, _ := hubHandler(hub)
	var m tally
	start := time.UnixMilli(1795169730000)
	h.queueFinding(sentAlert(1), "k", start, nil, &m, h.Log)
	h.importFindings(context.Background(), &m)
	id := m.findings.created[0].Id
	var stored map[string]any
	if err := json.Unmarshal(hub.findings[id], &stored); err != nil {
		t.Fatal(err)
	}
	stored["ProductFields"].(map[string]any)["aws/securityhub/FindingId"] = "x"
	stored["Workflow"] = map[string]any{"Status": "NOTIFIED"}
	stored["Note"] = map[string]any{"Text": "seen", "UpdatedBy": "u", "UpdatedAt": "2026-11-20T10:00:00.000Z"}
	// A member this code knows nothing of is imported back as it was.
	stored["Compliance"] = map[string]any{"Status": "FAILED"}
	b, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	hub.findings[id] = b
	before := hub.finding(t, id).UpdatedAt

	time.Sleep(2 * time.Millisecond)
	m = tally{}
	w := &state.Window{Key: "k", Start: start, Repeats: 4, LastSeen: start.Add(time.Minute)}
	h.queueCount(w, &m) // the highest count wins, whatever the order
	h.queueCount(&state.Window{Key: "k", Start: start, Repeats: 2}, &m)
	h.importFindings(context.Background(), &m)
	got := hub.finding(t, id)
	if len(hub.findings) != 1 || got.ProductFields["s3xguard/Count"] != "5" || m.Findings != 1 || hub.gets != 1 {
		t.Fatalf("after the update: %d findings, count %q, %d imported, %d reads", len(hub.findings), got.ProductFields["s3xguard/Count"], m.Findings, hub.gets)
	}
	if got.UpdatedAt <= before || got.LastObservedAt != "2026-11-20T10:16:30.000Z" {
		t.Errorf("UpdatedAt %s (before %s), LastObservedAt %s", got.UpdatedAt, before, got.LastObservedAt)
	}
	if got.Workflow != nil || got.Note != nil || got.ProductFields["aws/securityhub/FindingId"] != "" {
		t.Errorf("imported back what Security Hub and its users own: %s", hub.findings[id])
	}
	var after map[string]any
	if err := json.Unmarshal(hub.findings[id], &after); err != nil {
		t.Fatal(err)
	}
	for k, v := range stored {
		switch k {
		case "ProductFields", "UpdatedAt", "LastObservedAt", "Workflow", "Note":
			continue
		}
		if fmt.Sprint(after[k]) != fmt.Sprint(v) {
			t.Errorf("%s imported back as %v; was %v", k, after[k], v)
		}
	}
	for _, err := range asff.Validate(hub.findings[id]) {
		t.Errorf("the updated finding: %v", err)
	}
	// An alert that replaced the window (escalation, or the next window
	// carrying the count) updates the window's finding too.
	m = tally{}
	h.queueFinding(sentAlert(2), "k2", start.Add(time.Hour), &state.Window{Key: "k", Start: start, Repeats: 6}, &m, h.Log)
	h.importFindings(context.Background(), &m)
	if c := hub.finding(t, id).ProductFields["s3xguard/Count"]; c != "7" || len(hub.findings) != 2 {
		t.Errorf("carried count: %q, %d findings; want 7, 2", c, len(hub.findings))
	}
	// A window whose finding Security Hub does not have: nothing made up.
	m = tally{}
	h.queueCount(&state.Window{Key: "other", Start: start, Repeats: 3}, &m)
	h.importFindings(context.Background(), &m)
	if len(hub.findings) != 2 || m.Findings != 0 {
		t.Errorf("a count without its finding imported %d", m.Findings)
	}
}

// TestImportFindingsFailures: a refused finding counts as failed whichever
// part of the 200 answer says so (the list or the count), and a window
// whose finding cannot be read back is a failed update, not a silent one.
func TestImportFindingsFailures(t *testing.T) {
	start := time.UnixMilli(1795169730000)
	for name, edit := range map[string]func(*securityhub.BatchImportFindingsOutput){
		"FailedFindings only": func(o *securityhub.BatchImportFindingsOutput) { o.FailedCount = nil },
		"FailedCount only":    func(o *securityhub.BatchImportFindingsOutput) { o.FailedFindings = nil },
	} {
		hub := newFakeHub()
		hub.edit = edit
		h, log := hubHandler(hub)
		var m tally
		for i := range 3 {
			h.queueFinding(sentAlert(i), fmt.Sprintf("k%d", i), start, nil, &m, h.Log)
		}
		hub.refuse[m.findings.created[1].Id] = true
		h.importFindings(context.Background(), &m)
		if m.Findings != 2 || m.FindingsFailed != 1 || !strings.Contains(log.String(), "findings not imported") {
			t.Errorf("%s: %d ok, %d failed; want 2, 1, logged:\n%s", name, m.Findings, m.FindingsFailed, log.String())
		}
	}

	hub := newFakeHub()
	h, log := hubHandler(hub)
	var m tally
	h.queueFinding(sentAlert(1), "k", start, nil, &m, h.Log)
	h.importFindings(context.Background(), &m)
	hub.err = errors.New("boom")
	m = tally{}
	h.queueCount(&state.Window{Key: "k", Start: start, Repeats: 2}, &m)
	h.importFindings(context.Background(), &m)
	if m.FindingsFailed != 1 || !strings.Contains(log.String(), "read 1 findings to update") {
		t.Errorf("the read back failed: %d failed; want 1, logged:\n%s", m.FindingsFailed, log.String())
	}
}

// TestUpdateManyCounts: more windows than one GetFindings filter takes
// (20 IDs) are read back in several calls, and every one is updated.
func TestUpdateManyCounts(t *testing.T) {
	hub := newFakeHub()
	h, _ := hubHandler(hub)
	var m tally
	start := time.UnixMilli(1795169730000)
	for i := range 45 {
		h.queueFinding(sentAlert(i), fmt.Sprintf("k%d", i), start, nil, &m, h.Log)
	}
	h.importFindings(context.Background(), &m)
	m = tally{}
	for i := range 45 {
		h.queueCount(&state.Window{Key: fmt.Sprintf("k%d", i), Start: start, Repeats: 2}, &m)
	}
	h.importFindings(context.Background(), &m)
	if m.Findings != 45 || m.FindingsFailed != 0 || hub.gets != 3 {
		t.Fatalf("45 updates: %d imported, %d failed, %d reads; want 45, 0, 3", m.Findings, m.FindingsFailed, hub.gets)
	}
	for id := range hub.findings {
		if f := hub.finding(t, id); f.ProductFields["s3xguard/Count"] != "3" {
			t.Errorf("%s: count %q; want 3", id, f.ProductFields["s3xguard/Count"])
		}
	}
}

// deadlineHub records the deadline of each import's context.
type deadlineHub struct {
	fakeHub
	deadlines []time.Time
}

func (d *deadlineHub) BatchImportFindings(ctx context.Context, in []json.RawMessage) (*securityhub.BatchImportFindingsOutput, error) {
	dl, _ := ctx.Deadline() // zero when none
	d.mu.Lock()
	d.deadlines = append(d.deadlines, dl)
	d.mu.Unlock()
	return d.fakeHub.BatchImportFindings(ctx, in)
}

// TestImportWithinWorkDeadline: an invocation imports its findings after
// its pages, under the work context, which ends the reserve before the
// function's deadline: a hanging Security Hub cannot make it time out.
func TestImportWithinWorkDeadline(t *testing.T) {
	var logs bytes.Buffer
	g := &gate{hold: func(int) {}, fail: map[string]bool{}}
	h := batchHandler(g, 1, &logs)
	hub := &deadlineHub{fakeHub: *newFakeHub()}
	h.SecurityHub, h.Metrics = hub, &Metrics{W: io.Discard, Namespace: "s3xguard", Mode: "alert"}
	deadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := h.Invoke(ctx, sqsPayload(t, 2)); err != nil {
		t.Fatal(err)
	}
	if len(g.started) != 2 || len(hub.deadlines) != 1 || len(hub.findings) != 2 {
		t.Fatalf("%d pages, %d imports, %d findings; want 2 pages, then one import of 2", len(g.started), len(hub.deadlines), len(hub.findings))
	}
	if dl := hub.deadlines[0]; dl.IsZero() || dl.After(deadline.Add(-reserveFor(time.Minute)).Add(time.Second)) {
		t.Errorf("import deadline %v; want the work deadline, %v before the function's %v", dl, reserveFor(time.Minute), deadline)
	}
}
