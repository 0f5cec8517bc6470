// Package session ties S3 Express zonal calls to the CreateSession that
// minted their credentials: an index of CreateSession records by the access
// key ID they returned, bounded by event time, and the test of whether a
// session is used from the network it was created from.
package session

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// Window is how far behind the newest CreateSession seen an indexed session
// is kept. A session's credentials last 5 minutes and cannot be extended
// (FACTS: "Session credentials last 5 minutes"); records
// arrive roughly, not strictly, in time order within a trail file, and a
// zonal call may be logged after a later CreateSession. 15 minutes covers
// both with room.
const Window = 15 * time.Minute

// Session is what a CreateSession record says about the session it
// created. Its JSON form is the `session` object of check's JSON output and
// of the function's alerts.
type Session struct {
	EventID       string    `json:"eventID"`                   // the CreateSession's eventID
	Issuer        string    `json:"issuer,omitempty"`          // sessionContext.sessionIssuer.arn: the role ARN with its path
	EventTime     string    `json:"eventTime,omitempty"`       // as the record wrote it
	SourceIP      string    `json:"sourceIPAddress,omitempty"` // sourceIPAddress of the CreateSession
	VPCEndpointID string    `json:"vpcEndpointId,omitempty"`   // vpcEndpointId of the CreateSession
	Mode          string    `json:"mode,omitempty"`            // requestParameters.x-amz-create-session-mode ("" when not requested)
	at            time.Time // EventTime parsed
}

// Created returns the session r created and its access key ID, when r is a
// successful S3 Express CreateSession that returned one. A record whose
// eventTime does not parse creates none: it cannot be placed in time.
func Created(r *cloudtrail.Record) (*Session, string, bool) {
	if r.EventName != "CreateSession" || r.SessionAccessKeyID == "" || r.ErrorCode != "" || !r.IsS3Express() {
		return nil, "", false
	}
	at, err := time.Parse(time.RFC3339, r.EventTime)
	if err != nil {
		return nil, "", false
	}
	s := &Session{
		Issuer:        r.UserIdentity.SessionIssuerARN,
		SourceIP:      r.SourceIPAddress,
		VPCEndpointID: r.VPCEndpointID,
		EventTime:     r.EventTime,
		Mode:          r.SessionMode,
		EventID:       r.EventID,
		at:            at,
	}
	return s, s.detach(r.SessionAccessKeyID), true
}

// Signed reports whether r is a call that a session may have signed: an S3
// Express record with an access key ID, other than CreateSession (signed
// with the caller's own IAM credentials).
func Signed(r *cloudtrail.Record) bool {
	return r.UserIdentity.AccessKeyID != "" && r.EventName != "CreateSession" && r.IsS3Express()
}

// Index holds the sessions created within Window of the newest one seen.
// Memory is bounded by how many sessions are created in Window (plus those
// that arrive out of time order behind them), not by the input's size. An
// Index is not safe for concurrent use.
type Index struct {
	window time.Duration
	byKey  map[string]*Session
	// order is the keys in insertion order; eviction walks it from the
	// front while the oldest is older than newest-window. Records arrive
	// roughly in time order, so the front is (roughly) the oldest.
	order  []entry
	head   int
	newest time.Time
}

type entry struct {
	key string
	s   *Session
}

// NewIndex returns an empty index keeping sessions for window (Window when
// zero).
func NewIndex(window time.Duration) *Index {
	if window <= 0 {
		window = Window
	}
	return &Index{window: window, byKey: map[string]*Session{}}
}

// Len is the number of sessions indexed.
func (x *Index) Len() int { return len(x.byKey) }

// Reset empties the index.
func (x *Index) Reset() {
	clear(x.byKey)
	clear(x.order)
	x.order, x.head, x.newest = x.order[:0], 0, time.Time{}
}

// Add indexes r if it is a successful CreateSession that returned an
// access key ID and reports whether it did. A record with an eventTime that
// does not parse is not indexed: it cannot be placed in the window.
func (x *Index) Add(r *cloudtrail.Record) bool {
	s, key, ok := Created(r)
	if !ok {
		return false
	}
	x.byKey[key] = s
	x.order = append(x.order, entry{key, s})
	if s.at.After(x.newest) {
		x.newest = s.at
	}
	x.evict()
	return true
}

// detach copies s's strings, and key, into one allocation of their own and
// returns the copy of key. The decoder hands out a record's strings as parts
// of one shared allocation: kept as they are, a session would keep its whole
// CreateSession record alive (up to 8 MiB when hostile) for the window.
func (s *Session) detach(key string) string {
	fields := []*string{&s.Issuer, &s.SourceIP, &s.VPCEndpointID, &s.EventTime, &s.Mode, &s.EventID, &key}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all, i := b.String(), 0
	for _, f := range fields {
		l := len(*f)
		*f = all[i : i+l]
		i += l
	}
	return key
}

func (x *Index) evict() {
	cut := x.newest.Add(-x.window)
	for x.head < len(x.order) && x.order[x.head].s.at.Before(cut) {
		e := x.order[x.head]
		if x.byKey[e.key] == e.s { // not replaced by a later CreateSession
			delete(x.byKey, e.key)
		}
		x.order[x.head] = entry{}
		x.head++
	}
	// Compact once half the slice is evicted, so it does not grow with
	// the input.
	if x.head > 0 && x.head >= len(x.order)/2 {
		n := copy(x.order, x.order[x.head:])
		clear(x.order[n:])
		x.order, x.head = x.order[:n], 0
	}
}

// Lookup returns the session whose credentials signed r: the indexed
// session of r's userIdentity.accessKeyId, for any record but a
// CreateSession (signed with the caller's own IAM credentials).
func (x *Index) Lookup(r *cloudtrail.Record) *Session {
	if len(x.byKey) == 0 || !Signed(r) {
		return nil
	}
	return x.byKey[r.UserIdentity.AccessKeyID]
}

// Tolerance is how far from its session's network a call may come and still
// be the same network: the same VPC endpoint, or a source IP in the same
// IPv4 /V4 or IPv6 /V6 prefix.
type Tolerance struct{ V4, V6 int }

// DefaultTolerance is the same /24 (IPv4) or /64 (IPv6).
var DefaultTolerance = Tolerance{V4: 24, V6: 64}

// ParseTolerance reads "V4,V6" prefix lengths, e.g. "24,64".
func ParseTolerance(s string) (Tolerance, error) {
	v4, v6, ok := strings.Cut(s, ",")
	var t Tolerance
	var err1, err2 error
	t.V4, err1 = strconv.Atoi(v4)
	t.V6, err2 = strconv.Atoi(v6)
	if !ok || err1 != nil || err2 != nil {
		return Tolerance{}, fmt.Errorf("%q: want IPv4 and IPv6 prefix lengths, as 24,64", s)
	}
	if t.V4 < 0 || t.V4 > 32 || t.V6 < 0 || t.V6 > 128 {
		return Tolerance{}, fmt.Errorf("%q: want an IPv4 prefix length of 0 to 32 and an IPv6 one of 0 to 128", s)
	}
	return t, nil
}

// Moved reports whether r, a call made with s's credentials, comes from
// another network than s was created from, and if so a reason naming both.
// Same network: the same VPC endpoint, or source IPs in the same prefix
// (t), or the same sourceIPAddress string (an AWS service name, say).
func (t Tolerance) Moved(s *Session, r *cloudtrail.Record) (string, bool) {
	if s.VPCEndpointID != "" && s.VPCEndpointID == r.VPCEndpointID {
		return "", false
	}
	if s.SourceIP == r.SourceIPAddress && s.VPCEndpointID == r.VPCEndpointID {
		return "", false
	}
	if t.samePrefix(s.SourceIP, r.SourceIPAddress) && (s.VPCEndpointID == "" || r.VPCEndpointID == "") {
		return "", false
	}
	return fmt.Sprintf("session-moved: session %s created from %s, used from %s",
		s.EventID, network(s.SourceIP, s.VPCEndpointID), network(r.SourceIPAddress, r.VPCEndpointID)), true
}

func (t Tolerance) samePrefix(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return false
	}
	x, y = x.Unmap(), y.Unmap()
	if x.Is4() != y.Is4() {
		return false
	}
	bits := t.V6
	if x.Is4() {
		bits = t.V4
	}
	p, err := x.Prefix(bits)
	return err == nil && p.Contains(y)
}

func network(ip, vpce string) string {
	if ip == "" {
		ip = "-"
	}
	if vpce == "" {
		return ip
	}
	return ip + " via " + vpce
}
