package doctor

import "testing"

func TestFieldSelectorOperators(t *testing.T) {
	for _, tt := range []struct {
		f    FieldSelector
		v    string
		want bool
	}{
		{FieldSelector{Equals: []string{"a", "b"}}, "b", true},
		{FieldSelector{Equals: []string{"a"}}, "ab", false},
		{FieldSelector{StartsWith: []string{"ar"}}, "arn", true},
		{FieldSelector{EndsWith: []string{"rn"}}, "arn", true},
		{FieldSelector{EndsWith: []string{"ar"}}, "arn", false},
		{FieldSelector{Equals: []string{"x"}, StartsWith: []string{"a"}}, "abc", true}, // includes OR
		{FieldSelector{NotEquals: []string{"a"}}, "b", true},
		{FieldSelector{NotEquals: []string{"a"}}, "a", false},
		{FieldSelector{NotStartsWith: []string{"a"}, NotEndsWith: []string{"z"}}, "bcz", false}, // excludes AND
		{FieldSelector{NotStartsWith: []string{"a"}, NotEndsWith: []string{"z"}}, "bcd", true},
		{FieldSelector{StartsWith: []string{"a"}, NotEndsWith: []string{"z"}}, "abz", false},
	} {
		if got := tt.f.Matches(tt.v); got != tt.want {
			t.Errorf("%+v matches %q = %v; want %v", tt.f, tt.v, got, tt.want)
		}
	}
}

func TestSelects(t *testing.T) {
	object := FieldSelector{Field: "resources.type", Equals: []string{"AWS::S3Express::Object"}}
	data := FieldSelector{Field: "eventCategory", Equals: []string{"Data"}}
	bucket := FieldSelector{Field: "resources.ARN", StartsWith: []string{"arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3/"}}
	rec := func(typ, arn string, viaARN bool) *Record {
		r := &Record{EventCategory: "Data"}
		res := Resource{Type: typ, ARNPrefix: arn}
		if viaARN {
			res = Resource{Type: typ, ARN: arn}
		}
		r.Resources = []Resource{{Type: "AWS::S3Express::DirectoryBucket", ARN: "arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3"}, res}
		return r
	}
	key := "arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3/k"
	for _, tt := range []struct {
		name string
		s    Selector
		r    *Record
		want bool
	}{
		{"object ARNPrefix", Selector{FieldSelectors: []FieldSelector{data, object, bucket}}, rec("AWS::S3Express::Object", key, false), true},
		{"object ARN (access point request)", Selector{FieldSelectors: []FieldSelector{data, object, bucket}}, rec("AWS::S3Express::Object", key, true), true},
		// Only a resource of the selected type counts: the bucket's and the
		// access point's entries do not make an object data event.
		{"no object resource", Selector{FieldSelectors: []FieldSelector{data, object}}, rec("AWS::S3::AccessPoint", key, true), false},
		{"management event", Selector{FieldSelectors: []FieldSelector{data, object}}, &Record{EventCategory: "Management", Resources: []Resource{{Type: "AWS::S3Express::Object"}}}, false},
		{"unknown field", Selector{FieldSelectors: []FieldSelector{data, object, {Field: "tlsDetails.tlsVersion", Equals: []string{"TLSv1.3"}}}}, rec("AWS::S3Express::Object", key, false), false},
		{"no resources.type", Selector{FieldSelectors: []FieldSelector{data}}, rec("AWS::S3Express::Object", key, false), true},
	} {
		if got := Logs([]Selector{tt.s}, tt.r); got != tt.want {
			t.Errorf("%s: logs = %v; want %v", tt.name, got, tt.want)
		}
	}
}
