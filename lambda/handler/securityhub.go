package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/finding"
	"github.com/s3xguard/s3xguard/lambda/securityhub"
	"github.com/s3xguard/s3xguard/lambda/state"
)

// Findings in Security Hub (FINDINGS=securityhub). Each alert sent is also
// a finding, one per dedup window: the window's first alert creates it, and
// the sweep's summary of the window's repeats updates the same finding (its
// ID is the window's: finding.WindowID), with the count in
// ProductFields["s3xguard/Count"] and LastObservedAt. Repeats are never
// imported one by one: the window counts them, and one update carries them
// all.
//
// The page comes first. Findings are queued while the invocation works and
// imported once at its end, after every alert of it is out, in batches of
// up to 100 (BatchImportFindings' limit), within the work deadline: a Security
// Hub that fails, throttles or hangs can delay no page, and cannot make the
// invocation time out. A finding it does not take is logged (ERROR,
// "findings not imported") and counted (FindingsFailed); it is not retried
// past the client's own retries: the alert is out, and failing the invocation
// would not import it again (the retry counts a repeat).

// SecurityHubAPI is what the function calls of Security Hub
// (lambda/securityhub: findings travel as the ASFF JSON lambda/finding
// encodes, never through the SDK's types).
type SecurityHubAPI interface {
	BatchImportFindings(context.Context, []json.RawMessage) (*securityhub.BatchImportFindingsOutput, error)
	GetFindings(context.Context, *securityhub.GetFindingsInput) (*securityhub.GetFindingsOutput, error)
}

// findingQueue is what one invocation (or one message of a batch) has to
// import: new findings, and counts that update findings already imported.
type findingQueue struct {
	created []finding.ASFF
	updates []findingUpdate
}

// findingUpdate is a window's final count.
type findingUpdate struct {
	id       string
	count    int64
	lastSeen time.Time
}

func (q *findingQueue) add(o *findingQueue) {
	q.created = append(q.created, o.created...)
	q.updates = append(q.updates, o.updates...)
}

// maxImport is BatchImportFindings' limit of findings per call (API
// reference, BatchImportFindings: "Array Members: Minimum number of 1 item.
// Maximum number of 100 items"); GetFindings' Id filter takes up to 20
// values.
const (
	maxImport    = 100
	maxIDFilters = 20
)

// queueFinding queues the finding of an alert just sent: key and start
// name its dedup window. prev, when set, is the window the alert's replaced,
// whose repeats it carries: its finding is updated with its count.
func (h *Handler) queueFinding(a *alert.Alert, key string, start time.Time, prev *state.Window, m *tally, log *slog.Logger) {
	if h.SecurityHub == nil {
		return
	}
	cfg := h.Config
	f := finding.FromAlert(a, finding.WindowID(cfg.Region, cfg.AccountID, key, start), time.Now())
	f.OwnerAccount, f.OwnerRegion = cfg.AccountID, cfg.Region
	asff, err := f.ASFF()
	if err != nil {
		m.FindingsFailed++
		log.ErrorContext(context.Background(), "finding not built", "error", err)
		return
	}
	m.findings.created = append(m.findings.created, asff)
	if prev != nil {
		h.queueCount(prev, m)
	}
}

// queueCount queues the update of a window's finding with its count: the
// first alert and the repeats.
func (h *Handler) queueCount(w *state.Window, m *tally) {
	if h.SecurityHub == nil {
		return
	}
	m.findings.updates = append(m.findings.updates, findingUpdate{
		id:    finding.WindowID(h.Config.Region, h.Config.AccountID, w.Key, w.Start),
		count: 1 + w.Repeats, lastSeen: w.LastSeen,
	})
}

// importFindings imports what the invocation queued, within ctx (the work
// context: it ends before the function's deadline).
func (h *Handler) importFindings(ctx context.Context, m *tally) {
	q := m.findings
	if h.SecurityHub == nil || len(q.created)+len(q.updates) == 0 {
		return
	}
	var errs []error
	batch := make([]json.RawMessage, 0, len(q.created)+len(q.updates))
	for _, a := range q.created {
		b, err := json.Marshal(a)
		if err != nil {
			m.FindingsFailed++
			errs = append(errs, fmt.Errorf("finding %s: %w", a.Id, err))
			continue
		}
		batch = append(batch, b)
	}
	updated, err := h.updatedFindings(ctx, q.updates)
	if err != nil {
		m.FindingsFailed += len(q.updates)
		errs = append(errs, err)
	}
	batch = append(batch, updated...)
	for len(batch) > 0 {
		n := min(len(batch), maxImport)
		ok, err := h.batchImport(ctx, batch[:n])
		m.Findings += ok
		m.FindingsFailed += n - ok
		if err != nil {
			errs = append(errs, err)
		}
		batch = batch[n:]
	}
	if err := errors.Join(errs...); err != nil {
		h.Log.ErrorContext(ctx, "findings not imported (the alerts were sent)", "error", err)
	}
}

// batchImport imports fs and reports how many Security Hub took. It
// answers 200 even when it refuses findings: each refused one is an error.
func (h *Handler) batchImport(ctx context.Context, fs []json.RawMessage) (int, error) {
	out, err := h.SecurityHub.BatchImportFindings(ctx, fs)
	if err != nil {
		return 0, fmt.Errorf("securityhub: import %d findings: %w", len(fs), err)
	}
	var errs []error
	for _, f := range out.FailedFindings {
		errs = append(errs, fmt.Errorf("securityhub: finding %s refused: %s: %s", f.ID, f.ErrorCode, f.ErrorMessage))
	}
	failed := len(out.FailedFindings)
	if out.FailedCount != nil {
		failed = max(*out.FailedCount, failed)
	}
	if failed > len(errs) {
		errs = append(errs, fmt.Errorf("securityhub: %d findings refused", failed))
	}
	return len(fs) - min(failed, len(fs)), errors.Join(errs...)
}

// updatedFindings reads the findings the updates name and returns them
// with their new count, last observation and UpdatedAt (Security Hub keeps
// an import only when its UpdatedAt is newer). A finding Security Hub does
// not have (its first import failed) is not made up from the count alone.
func (h *Handler) updatedFindings(ctx context.Context, us []findingUpdate) ([]json.RawMessage, error) {
	if len(us) == 0 {
		return nil, nil
	}
	byID := map[string]findingUpdate{}
	for _, u := range us {
		if o, ok := byID[u.id]; !ok || u.count > o.count {
			byID[u.id] = u
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	now := time.Now()
	var out []json.RawMessage
	var errs []error
	for len(ids) > 0 {
		n := min(len(ids), maxIDFilters)
		in := &securityhub.GetFindingsInput{IDs: ids[:n], MaxResults: n}
		ids = ids[n:]
		// Security Hub answers the filter in one page; a server that
		// ignores filters (moto) pages through everything.
		for found := 0; found < n; {
			got, err := h.SecurityHub.GetFindings(ctx, in)
			if err != nil {
				errs = append(errs, fmt.Errorf("securityhub: read %d findings to update: %w", n, err))
				break
			}
			for _, raw := range got.Findings {
				f, id, err := decodeFinding(raw)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if u, ok := byID[id]; ok {
					b, err := withCount(f, u, now)
					if err != nil {
						errs = append(errs, fmt.Errorf("securityhub: finding %s: %w", id, err))
						continue
					}
					out = append(out, b)
					found++
				}
			}
			if got.NextToken == "" {
				break
			}
			in.NextToken = got.NextToken
		}
	}
	return out, errors.Join(errs...)
}

// decodeFinding splits a finding as Security Hub returned it into its
// members, kept as they are, and its ID.
func decodeFinding(raw json.RawMessage) (map[string]json.RawMessage, string, error) {
	var f map[string]json.RawMessage
	var id string
	err := json.Unmarshal(raw, &f)
	if err == nil {
		err = json.Unmarshal(f["Id"], &id)
	}
	if err != nil {
		return nil, "", fmt.Errorf("securityhub: a finding read back (%.80s): %w", raw, err)
	}
	return f, id, nil
}

// ownedByHub are the members of a finding that Security Hub and its users
// own: an import cannot change them, and the provider's copy may be stale.
var ownedByHub = []string{"Note", "UserDefinedFields", "VerificationState", "Workflow", "WorkflowState",
	"Confidence", "Criticality", "RelatedFindings", "ProcessedAt"}

// withCount is f, as its provider may import it again, with u's count.
// Every other member is imported back exactly as it was read.
func withCount(f map[string]json.RawMessage, u findingUpdate, now time.Time) (json.RawMessage, error) {
	for _, k := range ownedByHub {
		delete(f, k)
	}
	var fields map[string]string
	if p, ok := f["ProductFields"]; ok {
		if err := json.Unmarshal(p, &fields); err != nil {
			return nil, fmt.Errorf("ProductFields: %w", err)
		}
	}
	own := map[string]string{}
	for k, v := range fields {
		// aws/securityhub/...: Security Hub's own, written on import.
		if !strings.HasPrefix(k, "aws/") {
			own[k] = v
		}
	}
	own["s3xguard/Count"] = strconv.FormatInt(u.count, 10)
	var err error
	set := func(k string, v any) {
		if err == nil {
			f[k], err = json.Marshal(v)
		}
	}
	set("ProductFields", own)
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	if !u.lastSeen.IsZero() {
		set("LastObservedAt", stamp(u.lastSeen))
	}
	set("UpdatedAt", stamp(now))
	if err != nil {
		return nil, err
	}
	return json.Marshal(f)
}
