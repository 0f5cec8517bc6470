package cli

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// Bounds of the grouped summary, so its memory does not grow with the
// input: at most maxGroups (principal, bucket) pairs per worker and in the
// merged summary, maxValues distinct operations and sources per group, and
// maxValueLen bytes of any value kept (a normalized principal, a bucket
// name, an operation, an address are far shorter). Worst case: 1,000
// groups of 2 keys and 32 values of 256 bytes, about 10 MB per worker.
const (
	maxGroups   = 1000
	maxValues   = 16
	maxValueLen = 256
	// shownGroups and shownValues bound what the summary prints, unless -v.
	shownGroups = 20
	shownValues = 4
)

// groupKey is what findings are grouped by.
type groupKey struct{ principal, bucket string }

// group sums up the findings of one principal on one bucket.
type group struct {
	key          groupKey
	unauthorized int64
	invalid      int64
	first, last  time.Time // event times; zero when none parsed
	ops, sources valueSet
}

func (g *group) findings() int64 { return g.unauthorized + g.invalid }

// valueSet counts up to maxValues distinct values; more are counted as
// overflow only.
type valueSet struct {
	vals     []string
	counts   []int64
	overflow bool // a value beyond maxValues was seen
}

func (s *valueSet) add(v string, n int64) {
	if v == "" {
		return
	}
	for i, x := range s.vals {
		if x == v {
			s.counts[i] += n
			return
		}
	}
	if len(s.vals) == maxValues {
		s.overflow = true
		return
	}
	s.vals = append(s.vals, strings.Clone(v)) // see groups.add
	s.counts = append(s.counts, n)
}

func (s *valueSet) merge(o *valueSet) {
	for i, v := range o.vals {
		s.add(v, o.counts[i])
	}
	s.overflow = s.overflow || o.overflow
}

// groups sums up findings by principal and bucket. Each worker has its
// own (no lock on the per-record path); they are merged at the end.
type groups struct {
	m map[groupKey]*group
	// ungrouped counts the findings of pairs past maxGroups.
	ungrouped int64
}

func newGroups() *groups { return &groups{m: map[groupKey]*group{}} }

// clip bounds a value kept by the summary. A cut value is marked, so it is
// not taken for the whole.
func clip(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	return s[:maxValueLen] + "…"
}

// source is where a call came from: its VPC endpoint when it has one (the
// IP is then a private address of the VPC), else its source IP (or the
// service name CloudTrail logs there).
func source(r *cloudtrail.Record) string {
	if r.VPCEndpointID != "" {
		return r.VPCEndpointID
	}
	return r.SourceIPAddress
}

// add counts one finding. rec is nil for a value that could not be read.
func (g *groups) add(rec *cloudtrail.Record, d rules.Decision) {
	if rec == nil {
		rec = &cloudtrail.Record{}
	}
	k := groupKey{orDash(clip(d.Principal.Normalized)), orDash(clip(rec.Bucket))}
	gr := g.m[k]
	if gr == nil {
		if len(g.m) >= maxGroups {
			g.ungrouped++
			return
		}
		// A record's strings share one allocation (cloudtrail's
		// decoder): kept as they are, one short value would keep the
		// whole record's, up to 8 MiB, alive.
		k = groupKey{strings.Clone(k.principal), strings.Clone(k.bucket)}
		gr = &group{key: k}
		g.m[k] = gr
	}
	if d.Verdict == rules.Invalid {
		gr.invalid++
	} else {
		gr.unauthorized++
	}
	// CloudTrail writes eventTime as 2006-01-02T15:04:05Z; a value that
	// does not parse is shown in the record's line, not here.
	if t, err := time.Parse(time.RFC3339, rec.EventTime); err == nil {
		gr.seen(t, t)
	}
	gr.ops.add(clip(rec.EventName), 1)
	gr.sources.add(clip(source(rec)), 1)
}

func (gr *group) seen(first, last time.Time) {
	if first.IsZero() {
		return
	}
	if gr.first.IsZero() || first.Before(gr.first) {
		gr.first = first
	}
	if last.After(gr.last) {
		gr.last = last
	}
}

// merge adds o's groups to g.
func (g *groups) merge(o *groups) {
	g.ungrouped += o.ungrouped
	for k, og := range o.m {
		gr := g.m[k]
		if gr == nil {
			if len(g.m) >= maxGroups {
				g.ungrouped += og.findings()
				continue
			}
			g.m[k] = og
			continue
		}
		gr.unauthorized += og.unauthorized
		gr.invalid += og.invalid
		gr.seen(og.first, og.last)
		gr.ops.merge(&og.ops)
		gr.sources.merge(&og.sources)
	}
}

// sorted returns the groups, most findings first, then by principal and
// bucket.
func (g *groups) sorted() []*group {
	out := make([]*group, 0, len(g.m))
	for _, gr := range g.m {
		out = append(out, gr)
	}
	slices.SortFunc(out, func(a, b *group) int {
		return cmp.Or(cmp.Compare(b.findings(), a.findings()),
			cmp.Compare(a.key.principal, b.key.principal),
			cmp.Compare(a.key.bucket, b.key.bucket))
	})
	return out
}

// appendSummary writes the groups for a person to scan: the groups with
// the most findings first, at most shownGroups of them (all if verbose).
// Every value is escaped (appendEscaped); colour goes around escaped
// values only.
func (g *groups) appendSummary(b []byte, st textStyle, verbose bool) []byte {
	all := g.sorted()
	if len(all) == 0 && g.ungrouped == 0 {
		return b
	}
	b = st.paint(b, sgrBold, "findings by principal and bucket")
	b = append(b, ":\n"...)
	shown := all
	if !verbose && len(shown) > shownGroups {
		shown = shown[:shownGroups]
	}
	for _, gr := range shown {
		b = append(b, '\n')
		b = st.paintEscaped(b, sgrBold, gr.key.principal)
		b = append(b, "  on "...)
		b = st.paintEscaped(b, sgrBold, gr.key.bucket)
		b = append(b, "\n    findings:   "...)
		b = st.paint(b, verdictSGR[rules.Unauthorized], strconv.FormatInt(gr.findings(), 10))
		switch {
		case gr.invalid == 0:
			b = append(b, " unauthorized"...)
		case gr.unauthorized == 0:
			b = append(b, " invalid"...)
		default:
			b = append(b, " ("...)
			b = strconv.AppendInt(b, gr.unauthorized, 10)
			b = append(b, " unauthorized, "...)
			b = strconv.AppendInt(b, gr.invalid, 10)
			b = append(b, " invalid)"...)
		}
		b = append(b, "\n    seen:       "...)
		if gr.first.IsZero() {
			b = append(b, '-')
		} else {
			b = gr.first.UTC().AppendFormat(b, time.RFC3339)
			if !gr.last.Equal(gr.first) {
				b = append(b, " to "...)
				b = gr.last.UTC().AppendFormat(b, time.RFC3339)
			}
		}
		b = append(b, "\n    operations: "...)
		b = gr.ops.appendText(b, verbose)
		b = append(b, "\n    sources:    "...)
		b = gr.sources.appendText(b, verbose)
		b = append(b, '\n')
	}
	if rest := all[len(shown):]; len(rest) > 0 {
		var n int64
		for _, gr := range rest {
			n += gr.findings()
		}
		b = append(b, "\n... "...)
		b = strconv.AppendInt(b, int64(len(rest)), 10)
		b = append(b, " more groups ("...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, " findings); -v shows all\n"...)
	}
	if g.ungrouped > 0 {
		b = append(b, "\n... "...)
		b = strconv.AppendInt(b, g.ungrouped, 10)
		b = append(b, " findings of other principals and buckets, not grouped (the summary keeps "...)
		b = strconv.AppendInt(b, maxGroups, 10)
		b = append(b, " groups)\n"...)
	}
	return b
}

// appendText writes the values most seen first, "GetObject (3), PutObject
// (1)", then how many more there are.
func (s *valueSet) appendText(b []byte, verbose bool) []byte {
	if len(s.vals) == 0 {
		return append(b, '-')
	}
	idx := make([]int, len(s.vals))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(x, y int) int {
		return cmp.Or(cmp.Compare(s.counts[y], s.counts[x]), cmp.Compare(s.vals[x], s.vals[y]))
	})
	shown := idx
	if !verbose && len(shown) > shownValues {
		shown = shown[:shownValues]
	}
	for n, i := range shown {
		if n > 0 {
			b = append(b, ", "...)
		}
		b = appendEscaped(b, s.vals[i])
		b = append(b, " ("...)
		b = strconv.AppendInt(b, s.counts[i], 10)
		b = append(b, ')')
	}
	more := len(s.vals) - len(shown)
	switch {
	case s.overflow && more == 0:
		b = append(b, ", +others"...)
	case s.overflow:
		b = append(b, ", +more than "...)
		b = strconv.AppendInt(b, int64(more), 10)
		b = append(b, " others"...)
	case more > 0:
		b = append(b, ", +"...)
		b = strconv.AppendInt(b, int64(more), 10)
		b = append(b, " more"...)
	}
	return b
}
