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
