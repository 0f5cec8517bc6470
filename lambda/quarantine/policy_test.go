package quarantine

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const bucketARN = "arn:aws:s3express:us-east-1:123456789012:bucket/data--use1-az4--x-s3"

const other = `{"Sid":"AllowAccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3express:CreateSession","Resource":"*"}`

func statements(t *testing.T, doc string) []map[string]any {
	t.Helper()
	var p struct{ Statement []map[string]any }
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("policy %s: %v", doc, err)
	}
	return p.Statement
}

func TestAddPrincipals(t *testing.T) {
	for _, tc := range []struct {
		name, doc   string
		add         []string
		wantChanged bool
		wantArns    []string
		wantOthers  int
	}{
		{"no policy", "", []string{"arn:aws:iam::123456789012:role/a"}, true, []string{"arn:aws:iam::123456789012:role/a"}, 0},
		{"beside another statement", `{"Version":"2012-10-17","Statement":[` + other + `]}`, []string{"arn:aws:iam::123456789012:role/a"}, true, []string{"arn:aws:iam::123456789012:role/a"}, 1},
		{"single statement object", `{"Version":"2012-10-17","Statement":` + other + `}`, []string{"arn:aws:iam::123456789012:role/a"}, true, []string{"arn:aws:iam::123456789012:role/a"}, 1},
		{"extends, sorted", `{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/b"},"Action":"s3express:CreateSession","Resource":"` + bucketARN + `"},` + other + `]}`,
			[]string{"arn:aws:iam::123456789012:role/a"}, true, []string{"arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b"}, 1},
		{"idempotent", `{"Version":"2012-10-17","Statement":[{"Sid":"S3xguardQuarantine","Effect":"Deny","Principal":{"AWS":["arn:aws:iam::123456789012:role/a"]},"Action":"s3express:CreateSession","Resource":"` + bucketARN + `"}]}`,
			[]string{"arn:aws:iam::123456789012:role/a"}, false, []string{"arn:aws:iam::123456789012:role/a"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := AddPrincipals(tc.doc, bucketARN, tc.add...)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.wantChanged {
				t.Errorf("changed = %v; want %v", changed, tc.wantChanged)
			}
			got, _ := Principals(out)
			if !reflect.DeepEqual(got, tc.wantArns) {
				t.Errorf("principals = %q; want %q", got, tc.wantArns)
			}
			var others int
			for _, s := range statements(t, out) {
				if s["Sid"] == Sid {
					if s["Effect"] != "Deny" || s["Action"] != "s3express:CreateSession" || s["Resource"] != bucketARN {
						t.Errorf("our statement = %v", s)
					}
					continue
				}
				others++
				if b, _ := json.Marshal(s); !strings.Contains(string(b), `"Sid":"AllowAccount"`) {
					t.Errorf("other statement changed: %s", b)
				}
			}
			if others != tc.wantOthers {
				t.Errorf("other statements = %d; want %d", others, tc.wantOthers)
			}
		})
	}
}

func TestAddPrincipalsStopsAt20KB(t *testing.T) {
	doc := ""
	var n int
	for ; ; n++ {
		out, _, err := AddPrincipals(doc, bucketARN, fmt.Sprintf("arn:aws:iam::123456789012:role/some-fairly-long-role-name-%04d", n))
		if errors.Is(err, ErrPolicyFull) {
			if out != doc {
				t.Fatal("a full policy was changed")
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > MaxPolicyBytes {
			t.Fatalf("policy of %d bytes accepted", len(out))
		}
		doc = out
	}
	// Aggregation: one statement, about 60 bytes per principal.
	if n < 300 {
		t.Fatalf("only %d principals fit in 20 KB", n)
	}
	if len(statements(t, doc)) != 1 {
		t.Fatal("principals not aggregated into one statement")
	}
}

func TestRemovePrincipals(t *testing.T) {
	doc, _, _ := AddPrincipals(`{"Version":"2012-10-17","Statement":[`+other+`]}`, bucketARN,
		"arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b")

	out, changed, err := RemovePrincipals(doc, false, "arn:aws:iam::123456789012:role/a")
	if err != nil || !changed {
		t.Fatalf("remove a: changed=%v err=%v", changed, err)
	}
	if got, _ := Principals(out); !reflect.DeepEqual(got, []string{"arn:aws:iam::123456789012:role/b"}) {
		t.Fatalf("after removing a: %q", got)
	}
	if _, changed, _ := RemovePrincipals(out, false, "arn:aws:iam::123456789012:role/a"); changed {
		t.Fatal("removing an absent principal changed the policy")
	}
	out, _, _ = RemovePrincipals(out, false, "arn:aws:iam::123456789012:role/b")
	if s := statements(t, out); len(s) != 1 || s[0]["Sid"] != "AllowAccount" {
		t.Fatalf("last principal removed: statements %v; want only the other one", s)
	}
	all, _, _ := RemovePrincipals(doc, true)
	if s := statements(t, all); len(s) != 1 || s[0]["Sid"] != "AllowAccount" {
		t.Fatalf("remove all: statements %v", s)
	}
	alone, _, _ := AddPrincipals("", bucketARN, "arn:aws:iam::123456789012:role/a")
	if out, changed, _ := RemovePrincipals(alone, true); out != "" || !changed {
		t.Fatalf("removing the only statement: got %q, %v; want \"\" (delete the policy)", out, changed)
	}
}

func FuzzAddRemove(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[`+other+`]}`, "arn:aws:iam::1:role/x")
	f.Add("", "arn:aws:iam::1:user/y")
	f.Fuzz(func(t *testing.T, doc, arn string) {
		out, _, err := AddPrincipals(doc, bucketARN, arn)
		if err != nil {
			return
		}
		if got, err := Principals(out); err != nil || !slices.Contains(got, arn) {
			t.Fatalf("added %q, principals now %q (%v)", arn, got, err)
		}
		back, _, err := RemovePrincipals(out, false, arn)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := Principals(back); slices.Contains(got, arn) {
			t.Fatalf("removed %q, still there", arn)
		}
	})
}
