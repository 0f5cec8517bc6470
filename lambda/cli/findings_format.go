package cli

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/finding"
	"github.com/s3xguard/s3xguard/lambda/session"
	"github.com/s3xguard/s3xguard/rules"
)

// findingWriter writes check's findings (unauthorized and invalid records,
// whatever --show says) as ASFF or OCSF Detection Findings, one JSON
// object per line, for Security Hub and Security Lake.
type findingWriter struct {
	asff bool // else OCSF
	// now is the run's start: every finding's UpdatedAt/modified_time.
	now time.Time
	// warn reports a finding that cannot be written (a record without
	// account or region in ASFF); it is still counted in the exit status.
	warn    func(string)
	mu      sync.Mutex // serializes warn: workers write at once
	skipped atomic.Int64
}

// newFindingWriter returns the writer of format, or nil for text and json.
func newFindingWriter(format string, warn func(string)) *findingWriter {
	switch format {
	case "asff", "ocsf":
		return &findingWriter{asff: format == "asff", now: time.Now().UTC(), warn: warn}
	}
	return nil
}

// append appends the finding of one record, if it is one.
func (w *findingWriter) append(b []byte, name string, it cloudtrail.Item, r *cloudtrail.Record, d rules.Decision, s *session.Session) []byte {
	if d.Verdict != rules.Unauthorized && d.Verdict != rules.Invalid {
		return b
	}
	if r == nil {
		r = &cloudtrail.Record{}
	}
	loc := string(it.AppendLocation(nil, name))
	k := finding.KindOf(d)
	f := &finding.Finding{
		Kind: k, Severity: finding.SeverityOf(k, r), Record: r, Decision: d, Reasons: reasons(it, d),
		Session: s, Count: 1, Updated: w.now, Location: loc, Source: "check",
	}
	f.ID = finding.EventID(f.Region(), f.Account(), k, r.EventID, loc)
	var v any
	if w.asff {
		a, err := f.ASFF()
		if err != nil {
			w.skipped.Add(1)
			w.mu.Lock()
			defer w.mu.Unlock()
			w.warn(fmt.Sprintf("%s: no ASFF finding for this %s record: %v (it is counted; see --format json)", loc, d.Verdict, err))
			return b
		}
		v = a
	} else {
		v = f.OCSF()
	}
	line, err := json.Marshal(v)
	if err != nil {
		// Only strings, numbers and maps of them: cannot happen.
		panic(fmt.Sprintf("finding %s: %v", loc, err))
	}
	return append(appendPrintable(b, line), '\n')
}

// appendPrintable appends JSON text with every code point that is not
// printable (C1 controls, bidi overrides, separators) written as \uXXXX,
// as --format json does: the same values, safe on a terminal. Such code
// points can only stand inside strings, where the escape means the same.
func appendPrintable(b, js []byte) []byte {
	start := 0
	for i := 0; i < len(js); {
		if js[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(js[i:])
		if unicode.IsPrint(r) {
			i += size
			continue
		}
		b = append(b, js[start:i]...)
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			b = appendU4(appendU4(b, r1), r2)
		} else {
			b = appendU4(b, r)
		}
		i += size
		start = i
	}
	return append(b, js[start:]...)
}
