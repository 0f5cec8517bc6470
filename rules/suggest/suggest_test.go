package suggest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

var (
	arns = []string{
		"arn:aws:sts::111122223333:assumed-role/etl-loader/s1", "arn:aws:sts::111122223333:assumed-role/etl-loader/s2",
		"arn:aws:iam::111122223333:role/team/etl-loader", "arn:aws:iam::111122223333:user/people/bob",
		"arn:aws:iam::111122223333:root", "arn:aws:sts::111122223333:federated-user/carol",
		"arn:aws:sts:us-east-1:111122223333:federated-user/dave", "arn:aws-cn:sts::444455556666:assumed-role/r*x/s",
		"arn:aws:sts::444455556666:assumed-role/partner/s", "arn:aws:s3:::weird", "",
	}
	types   = []string{"AssumedRole", "IAMUser", "Root", "FederatedUser", "AWSService", "AWSAccount", ""}
	buckets = []string{"analytics--use1-az4--x-s3", "logs-app--use1-az4--x-s3", "", "Bad_Bucket"}
	ops     = []string{"GetObject", "PutObject", "CreateSession", "ListDirectoryBuckets", "Get*"}
	srcs    = []string{"10.1.2.3", "10.1.9.9", "::ffff:10.1.2.3", "2600:1f18:abcd::1", "2600:1f18:abcd:1::1", "AWS Internal", "fe80::1%eth0", "lifecycle.s3.amazonaws.com", ""}
	vpces   = []string{"", "vpce-0a1b2c3d", "vpce-0a1b2c3d4e5f60718", "vpce-BAD"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func randomRecord(r *rand.Rand, i int) *cloudtrail.Record {
	rec := &cloudtrail.Record{
		EventID:         fmt.Sprint(i),
		EventTime:       fmt.Sprintf("2026-11-%02dT00:00:00Z", 1+r.IntN(28)),
		EventSource:     cloudtrail.EventSource,
		EventName:       pick(r, ops),
		SourceIPAddress: pick(r, srcs),
		VPCEndpointID:   pick(r, vpces),
		Bucket:          pick(r, buckets),
		HasUserIdentity: true,
		UserIdentity: cloudtrail.Identity{
			Type: pick(r, types), ARN: pick(r, arns), AccountID: pick(r, []string{"111122223333", "", "12"}),
			InvokedBy: pick(r, []string{"", "lifecycle.s3.amazonaws.com", "AWS Internal"}),
		},
	}
	if r.IntN(8) == 0 {
		rec.ErrorCode = "AccessDenied"
	}
	if r.IntN(30) == 0 {
		rec.EventSource = "s3.amazonaws.com"
	}
	return rec
}

// TestRoundTrip is the property suggest promises: its output passes the
// strict loader, and with it every call that succeeded is allowed, unless
// the output lists it as one no entry can name; failed calls are never
// allowed by an entry made for them.
func TestRoundTrip(t *testing.T) {
	for _, groupBy := range [][]string{{"principal"}, {"principal", "bucket"}, {"principal", "bucket", "operation"}} {
		for seed := range uint64(20) {
			r := rand.New(rand.NewPCG(seed, 7))
			o := DefaultOptions
			o.GroupBy = groupBy
			o.IPv4Bits = 16 + r.IntN(17)
			o.IPv6Bits = 32 + r.IntN(97)
			b, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			var recs []*cloudtrail.Record
			for i := range 300 {
				rec := randomRecord(r, i)
				recs = append(recs, rec)
				b.Add(rec, fmt.Sprintf("f.json#%d", i), nil)
			}
			var out strings.Builder
			if err := b.Write(&out, []string{"test"}); err != nil {
				t.Fatal(err)
			}
			a, err := rules.Parse("suggested.yaml", []byte(out.String()))
			if err != nil {
				t.Fatalf("group by %v, seed %d: the output does not load: %v\n%s", groupBy, seed, err, out.String())
			}
			for _, rec := range recs {
				d := a.Decide(rec)
				if d.Verdict != rules.Unauthorized {
					continue
				}
				if rec.ErrorCode != "" {
					continue // failed calls are listed, not allowed
				}
				_, _, _, why := callerOf(rec, d.Principal)
				if why == "" && !operationRE.MatchString(rec.EventName) {
					why = "operation"
				}
				if why == "" && rec.Bucket != "" && !bucketRE.MatchString(rec.Bucket) {
					why = "bucket"
				}
				if why == "" {
					t.Fatalf("group by %v, seed %d: a successful call is unauthorized: %+v\nreasons: %q\n%s", groupBy, seed, rec, d.Reasons, out.String())
				}
			}
		}
	}
}

func TestNeverEverything(t *testing.T) {
	b, _ := New(DefaultOptions)
	for i, rec := range []*cloudtrail.Record{
		{EventSource: cloudtrail.EventSource, EventName: "GetObject", HasUserIdentity: true, SourceIPAddress: "AWS Internal",
			UserIdentity: cloudtrail.Identity{Type: "AWSService", InvokedBy: "lifecycle.s3.amazonaws.com"}},
		{EventSource: cloudtrail.EventSource, EventName: "GetObject", HasUserIdentity: true, Bucket: "b--x-s3",
			UserIdentity: cloudtrail.Identity{Type: "AWSAccount", AccountID: "111122223333"}},
	} {
		b.Add(rec, fmt.Sprint(i), nil)
	}
	var out strings.Builder
	b.Write(&out, nil)
	a, err := rules.Parse("s.yaml", []byte(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	stranger := &cloudtrail.Record{EventSource: cloudtrail.EventSource, EventName: "GetObject", HasUserIdentity: true, Bucket: "b--x-s3",
		UserIdentity: cloudtrail.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::999988887777:assumed-role/x/y", AccountID: "999988887777"}}
	if d := a.Decide(stranger); d.Verdict != rules.Unauthorized {
		t.Fatalf("a stranger is %s by %s:\n%s", d.Verdict, d.Rule, out.String())
	}
	for _, want := range []string{"services: [\"lifecycle.s3.amazonaws.com\"]", "accounts: [\"111122223333\"]", "# sources not narrowed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{GroupBy: []string{"bucket"}, IPv4Bits: 24, IPv6Bits: 64},
		{GroupBy: []string{"principal", "source"}, IPv4Bits: 24, IPv6Bits: 64},
		{GroupBy: []string{"principal", "bucket", "bucket"}, IPv4Bits: 24, IPv6Bits: 64},
		{GroupBy: []string{"principal"}, IPv4Bits: 40, IPv6Bits: 64},
		{GroupBy: []string{"principal"}, IPv4Bits: 24, IPv6Bits: 8},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
}
