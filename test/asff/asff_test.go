package asff

import (
	"encoding/json"
	"strings"
	"testing"
)

const valid = `{"SchemaVersion":"2018-10-08","Id":"s3xguard/us-east-1/111122223333/unauthorized/e1","ProductArn":"arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default","GeneratorId":"s3xguard-unauthorized","AwsAccountId":"111122223333","Types":["Unusual Behaviors/User/s3xguard-unauthorized"],"CreatedAt":"2026-11-20T10:15:30.000Z","UpdatedAt":"2026-11-20T10:15:31Z","Severity":{"Label":"HIGH","Original":"high"},"Title":"t","Description":"d","Resources":[{"Type":"Other","Id":"arn:aws:s3express:us-east-1:111122223333:bucket/b--use1-az4--x-s3","Partition":"aws"}],"RecordState":"ACTIVE"}`

// TestValidate: the valid finding passes, and each break of the reference
// is caught.
func TestValidate(t *testing.T) {
	if errs := Validate([]byte(valid)); len(errs) > 0 {
		t.Fatalf("valid finding: %v", errs)
	}
	for _, c := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"no Id", func(m map[string]any) { delete(m, "Id") }, "Id: required"},
		{"no Resources", func(m map[string]any) { delete(m, "Resources") }, "Resources: required"},
		{"empty Resources", func(m map[string]any) { m["Resources"] = []any{} }, "Resources: want a list of 1 to 32"},
		{"33 Resources", func(m map[string]any) {
			r := m["Resources"].([]any)
			for len(r) < 33 {
				r = append(r, r[0])
			}
			m["Resources"] = r
		}, "Resources: want a list of 1 to 32"},
		{"resource without Type", func(m map[string]any) { delete(m["Resources"].([]any)[0].(map[string]any), "Type") }, "Resources[0].Type: required"},
		{"bad partition", func(m map[string]any) { m["Resources"].([]any)[0].(map[string]any)["Partition"] = "aws-xx" }, "Partition"},
		{"label", func(m map[string]any) { m["Severity"] = map[string]any{"Label": "SEVERE"} }, "Severity.Label"},
		{"no severity", func(m map[string]any) { delete(m, "Severity") }, "Severity: required"},
		{"type namespace", func(m map[string]any) { m["Types"] = []any{"Bad Things/User/x"} }, "Types[0]"},
		{"type shape", func(m map[string]any) { m["Types"] = []any{"TTPs"} }, "Types[0]"},
		{"no types", func(m map[string]any) { m["Types"] = []any{} }, "Types"},
		{"timestamp space", func(m map[string]any) { m["CreatedAt"] = "2026-11-20 10:15:30Z" }, "CreatedAt"},
		{"timestamp zone", func(m map[string]any) { m["UpdatedAt"] = "2026-11-20T10:15:30" }, "UpdatedAt"},
		{"timestamp fraction", func(m map[string]any) { m["UpdatedAt"] = "2026-11-20T10:15:30.1234567890Z" }, "UpdatedAt"},
		{"offset", func(m map[string]any) { m["UpdatedAt"] = "2026-11-20T10:15:30+19:00" }, "offset"},
		{"title length", func(m map[string]any) { m["Title"] = strings.Repeat("x", 257) }, "Title: 257 characters"},
		{"description length", func(m map[string]any) { m["Description"] = strings.Repeat("é", 1025) }, "Description: 1025"},
		{"blank title", func(m map[string]any) { m["Title"] = "  " }, "Title"},
		{"account", func(m map[string]any) { m["AwsAccountId"] = "11112222333a" }, "AwsAccountId"},
		{"product account", func(m map[string]any) {
			m["ProductArn"] = "arn:aws:securityhub:us-east-1:444455556666:product/444455556666/default"
		}, "ProductArn"},
		{"schema version", func(m map[string]any) { m["SchemaVersion"] = "2019-01-01" }, "SchemaVersion"},
		{"number as string", func(m map[string]any) { m["Title"] = 5 }, "Title: want a string"},
		{"product fields", func(m map[string]any) { m["ProductFields"] = map[string]any{"k": strings.Repeat("v", 2049)} }, "ProductFields.k"},
		{"record state", func(m map[string]any) { m["RecordState"] = "OPEN" }, "RecordState"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(valid), &m); err != nil {
				t.Fatal(err)
			}
			c.edit(m)
			b, _ := json.Marshal(m)
			errs := Validate(b)
			for _, e := range errs {
				if strings.Contains(e.Error(), c.want) {
					return
				}
			}
			t.Errorf("got %v; want an error with %q", errs, c.want)
		})
	}
}
