package session

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func create(id, key string, at time.Time, ip, vpce string) *cloudtrail.Record {
	return &cloudtrail.Record{
		EventID: id, EventName: "CreateSession", EventSource: cloudtrail.EventSource,
		EventTime: at.Format(time.RFC3339), SourceIPAddress: ip, VPCEndpointID: vpce,
		SessionMode: "ReadOnly", SessionAccessKeyID: key,
		UserIdentity: cloudtrail.Identity{AccessKeyID: "AKIAIAM", SessionIssuerARN: "arn:aws:iam::111122223333:role/pipelines/etl"},
	}
}

func call(key, ip, vpce string) *cloudtrail.Record {
	return &cloudtrail.Record{
		EventName: "GetObject", EventSource: cloudtrail.EventSource, SourceIPAddress: ip, VPCEndpointID: vpce,
		UserIdentity: cloudtrail.Identity{AccessKeyID: key},
	}
}

func TestIndexAttributes(t *testing.T) {
	x := NewIndex(0)
	if !x.Add(create("c1", "ASIA1", t0, "10.0.0.5", "")) {
		t.Fatal("CreateSession not indexed")
	}
	s := x.Lookup(call("ASIA1", "10.0.0.5", ""))
	want := Session{Issuer: "arn:aws:iam::111122223333:role/pipelines/etl", SourceIP: "10.0.0.5", EventTime: "2026-11-20T10:00:00Z", Mode: "ReadOnly", EventID: "c1", at: t0}
	if s == nil || *s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	if x.Lookup(call("ASIA2", "10.0.0.5", "")) != nil {
		t.Error("unknown key attributed")
	}
	// The CreateSession is signed with the caller's IAM key, never a session's.
	cs := create("c2", "ASIA3", t0, "10.0.0.5", "")
	cs.UserIdentity.AccessKeyID = "ASIA1"
	if x.Lookup(cs) != nil {
		t.Error("a CreateSession attributed to a session")
	}
	for name, r := range map[string]*cloudtrail.Record{
		"failed": func() *cloudtrail.Record {
			r := create("f", "ASIA9", t0, "", "")
			r.ErrorCode = "AccessDenied"
			return r
		}(),
		"no key":     create("n", "", t0, "", ""),
		"bad time":   func() *cloudtrail.Record { r := create("b", "ASIA9", t0, "", ""); r.EventTime = "yesterday"; return r }(),
		"not create": call("ASIA9", "", ""),
	} {
		if x.Add(r) {
			t.Errorf("%s: indexed", name)
		}
	}
}

// TestIndexBounded feeds a day of sessions, one a second, and checks the
// index never holds more than the window's worth.
func TestIndexBounded(t *testing.T) {
	x := NewIndex(Window)
	perWindow := int(Window / time.Second)
	maxLen, maxCap := 0, 0
	for i := range 24 * 3600 {
		at := t0.Add(time.Duration(i) * time.Second)
		// Roughly in time order: every tenth record is two minutes late.
		if i%10 == 0 {
			at = at.Add(-2 * time.Minute)
		}
		x.Add(create(fmt.Sprint(i), fmt.Sprint("ASIA", i), at, "10.0.0.1", ""))
		maxLen, maxCap = max(maxLen, x.Len()), max(maxCap, cap(x.order))
	}
	// A late record can keep a few older ones behind it a little longer.
	if maxLen > perWindow+perWindow/10 {
		t.Errorf("index held %d sessions; the window holds %d", maxLen, perWindow+1)
	}
	if maxCap > 4*perWindow {
		t.Errorf("order grew to %d entries for a window of %d", maxCap, perWindow)
	}
	// The newest are still there, the oldest gone.
	if x.Lookup(call(fmt.Sprint("ASIA", 24*3600-1), "", "")) == nil || x.Lookup(call("ASIA5", "", "")) != nil {
		t.Error("wrong sessions kept")
	}
	x.Reset()
	if x.Len() != 0 {
		t.Error("Reset kept sessions")
	}
}

func TestMoved(t *testing.T) {
	for _, tt := range []struct {
		name             string
		fromIP, fromVPCE string
		useIP, useVPCE   string
		tol              Tolerance
		moved            bool
	}{
		{"same ip", "10.0.0.5", "", "10.0.0.5", "", DefaultTolerance, false},
		{"same /24", "10.0.0.5", "", "10.0.0.200", "", DefaultTolerance, false},
		{"other /24", "10.0.0.5", "", "10.0.1.5", "", DefaultTolerance, true},
		{"other /24 within /16", "10.0.0.5", "", "10.0.1.5", "", Tolerance{16, 64}, false},
		{"stolen to public", "10.1.2.3", "", "203.0.113.9", "", DefaultTolerance, true},
		{"same vpce, other ip", "10.0.0.5", "vpce-1", "10.9.9.9", "vpce-1", DefaultTolerance, false},
		{"same /24, other vpce", "10.0.0.5", "vpce-1", "10.0.0.6", "vpce-2", DefaultTolerance, true},
		{"vpce to public", "10.0.0.5", "vpce-1", "203.0.113.9", "", DefaultTolerance, true},
		{"same /64", "2600:1f18::1", "", "2600:1f18::ffff:1", "", DefaultTolerance, false},
		{"other /64", "2600:1f18::1", "", "2600:1f18:0:1::1", "", DefaultTolerance, true},
		{"v4 to v6", "10.0.0.5", "", "2600:1f18::1", "", DefaultTolerance, true},
		{"mapped v4", "10.0.0.5", "", "::ffff:10.0.0.9", "", DefaultTolerance, false},
		{"same service name", "s3express.amazonaws.com", "", "s3express.amazonaws.com", "", DefaultTolerance, false},
		{"service to ip", "s3express.amazonaws.com", "", "203.0.113.9", "", DefaultTolerance, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{SourceIP: tt.fromIP, VPCEndpointID: tt.fromVPCE, EventID: "c1"}
			why, moved := tt.tol.Moved(s, call("ASIA1", tt.useIP, tt.useVPCE))
			if moved != tt.moved {
				t.Fatalf("moved = %v (%q), want %v", moved, why, tt.moved)
			}
			if moved && why == "" {
				t.Fatal("no reason")
			}
		})
	}
	why, _ := DefaultTolerance.Moved(&Session{SourceIP: "10.1.2.3", VPCEndpointID: "vpce-1", EventID: "c1"}, call("ASIA1", "203.0.113.9", ""))
	if want := "session-moved: session c1 created from 10.1.2.3 via vpce-1, used from 203.0.113.9"; why != want {
		t.Errorf("reason %q, want %q", why, want)
	}
}

func TestParseTolerance(t *testing.T) {
	if got, err := ParseTolerance("16,48"); err != nil || got != (Tolerance{16, 48}) {
		t.Errorf("16,48: %v %v", got, err)
	}
	for _, bad := range []string{"", "24", "24,", ",64", "33,64", "24,129", "-1,64", "24,64,1", "a,b"} {
		if _, err := ParseTolerance(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestIndexKeepsNoRecord: an indexed session (check's index, the function's
// cache) holds copies of its strings,
// not the CreateSession record's memory (a hostile record is up to 8 MiB).
func TestIndexKeepsNoRecord(t *testing.T) {
	big := strings.Repeat("x", 4<<20)
	r := &cloudtrail.Record{EventName: "CreateSession", EventSource: cloudtrail.EventSource,
		EventTime: "2026-11-20T10:00:00Z", SourceIPAddress: "10.1.2.3", EventID: "cs-1", SessionAccessKeyID: "KEY1"}
	r.UserIdentity.SessionIssuerARN = "arn:aws:iam::123456789012:role/etl"
	// Every string a part of one big allocation, as the decoder hands
	// them out.
	r.SourceIPAddress = (big + r.SourceIPAddress)[len(big):]
	x := NewIndex(0)
	if !x.Add(r) {
		t.Fatal("not indexed")
	}
	s := x.byKey["KEY1"]
	if s == nil || s.SourceIP != "10.1.2.3" {
		t.Fatalf("indexed %+v", s)
	}
	if unsafe.StringData(s.SourceIP) == unsafe.StringData(r.SourceIPAddress) {
		t.Error("the session shares the record's string memory")
	}
}
