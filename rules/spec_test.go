package rules

import "testing"

// TestSpecCoversEveryField: an entry with every field gives a Spec with
// every field and nothing Unknown. A field added to entryFields without a
// Spec form shows up as Unknown, which makes rules/query refuse the entry.
func TestSpecCoversEveryField(t *testing.T) {
	a, err := Parse("t.yaml", []byte(`version: 1
allow:
  - name: all
    principals: ["arn:aws:iam::111122223333:role/etl-*", "arn:aws:sts::111122223333:assumed-role/r/s?"]
    accounts: ["111122223333"]
    services: ["lifecycle.s3.amazonaws.com"]
    sources: ["::ffff:10.0.0.0/104", "2600:1f18::/32"]
    vpc_endpoints: ["vpce-0a1b2c3d"]
    buckets: ["b*--x-s3"]
    access_points: ["reports--use1-az4--xa-s3"]
    operations: ["Get*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Entries[0].Spec()
	if len(s.Unknown) > 0 {
		t.Fatalf("Unknown = %q", s.Unknown)
	}
	if s.Principals == nil || s.Accounts == nil || s.Services == nil || s.Sources == nil || s.VPCEndpoints == nil || s.Buckets == nil || s.AccessPoints == nil || s.Operations == nil {
		t.Fatalf("a field is missing: %+v", s)
	}
	if got := s.Sources[0].String(); got != "10.0.0.0/8" {
		t.Errorf("mapped prefix = %s; want 10.0.0.0/8 (stored as IPv4)", got)
	}
	want := []PrincipalSpec{
		{Source: "arn:aws:iam::111122223333:role/etl-*", Kind: KindRole, Partition: "aws", Account: "111122223333", Name: "etl-*"},
		{Source: "arn:aws:sts::111122223333:assumed-role/r/s?", Partition: "aws", Account: "111122223333"},
	}
	for i, w := range want {
		if s.Principals[i] != w {
			t.Errorf("principal %d = %+v; want %+v", i, s.Principals[i], w)
		}
	}
	if n := len(entryFields); n != 8 {
		t.Errorf("entryFields has %d fields; Spec describes 8: give the new one a Spec form (and SQL in rules/query)", n)
	}
}
