package quarantine

import "github.com/s3xguard/s3xguard/lambda/printable"

// Printable returns entries with every text of theirs and of their
// records escaped (printable.Escape), for `s3xguard quarantine list`: a record's
// text comes from the state table and from CloudTrail, and either may
// carry what an attacker wrote.
func Printable(entries []Entry) []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		e.Principal = printable.Escape(e.Principal)
		if e.Record != nil {
			r := *e.Record
			r.Principal, r.Reason, r.EventID, r.Entity = printable.Escape(r.Principal), printable.Escape(r.Reason), printable.Escape(r.EventID), printable.Escape(r.Entity)
			r.LastError, r.Note, r.Gone = printable.Escape(r.LastError), printable.Escape(r.Note), printable.Escape(r.Gone)
			r.Pending, r.Dropped = printable.All(r.Pending), printable.All(r.Dropped)
			e.Record = &r
		}
		out[i] = e
	}
	return out
}
