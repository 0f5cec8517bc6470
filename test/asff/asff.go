// Package asff checks findings against the AWS Security Finding Format as
// AWS documents it, for the tests: the required top-level attributes, their
// types and formats, and the limits the reference states.
//
// Sources (read 2026-11):
//   - Security Hub user guide, "Required top-level ASFF attributes",
//     https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html
//     (AwsAccountId, CreatedAt, Description, GeneratorId, Id, ProductArn,
//     Resources, SchemaVersion, Severity, Title, Types, UpdatedAt).
//   - "AWS Security Finding Format (ASFF)" syntax,
//     https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format.html
//   - API reference, AwsSecurityFinding,
//     https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html:
//     AwsAccountId 12 characters; Description 1 to 1024; GeneratorId and Id
//     1 to 512; Title 1 to 256; strings match .*\S.*; timestamps
//     YYYY-MM-DDTHH:MM:SS with up to 9 fraction digits, ending in Z or an
//     offset (+HH:MM or -HHMM) within +/-18:00; ProductFields at most 50
//     pairs, keys 128, values 2048.
//   - "Types taxonomy for ASFF": namespace/category/classifier, namespaces
//     Software and Configuration Checks, TTPs, Effects, Unusual Behaviors,
//     Sensitive Data Identifications; at most 50 types.
//   - Resource (API reference): Type and Id required, at most 32 resources
//     per finding; Partition aws, aws-cn or aws-us-gov; Details.Other at
//     most 50 pairs, keys 128, values 1024.
//   - Severity: Label INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL.
//   - ProductArn for a custom integration's own findings:
//     arn:PARTITION:securityhub:REGION:ACCOUNT:product/ACCOUNT/default
//     (user guide, "Using custom product integrations").
//   - BatchImportFindings: a finding is at most 240 KB.
package asff

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	account   = regexp.MustCompile(`^[0-9]{12}$`)
	timestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|([+-])(\d{2}):?(\d{2}))$`)
	nonBlank  = regexp.MustCompile(`\S`)
	product   = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):securityhub:([a-z0-9-]+):([0-9]{12}):product/([0-9]{12})/default$`)
)

var namespaces = map[string]bool{
	"Software and Configuration Checks": true, "TTPs": true, "Effects": true,
	"Unusual Behaviors": true, "Sensitive Data Identifications": true,
}

var labels = map[string]bool{"INFORMATIONAL": true, "LOW": true, "MEDIUM": true, "HIGH": true, "CRITICAL": true}

// Validate returns every way the finding js breaks the format; none when it
// is valid.
func Validate(js []byte) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(js) > 240*1024 {
		bad("(finding)", "%d bytes, over BatchImportFindings' 240 KB", len(js))
	}
	var f map[string]any
	if err := json.Unmarshal(js, &f); err != nil {
		return []error{fmt.Errorf("not a JSON object: %w", err)}
	}
	str := func(m map[string]any, field, path string, min, max int, required bool) string {
		v, ok := m[field]
		if !ok {
			if required {
				bad(path, "required, missing")
			}
			return ""
		}
		s, ok := v.(string)
		if !ok {
			bad(path, "want a string, got %T", v)
			return ""
		}
		n := utf8.RuneCountInString(s)
		switch {
		case !nonBlank.MatchString(s):
			bad(path, "%q: want a non-blank string (pattern .*\\S.*)", s)
		case n < min || (max > 0 && n > max):
			bad(path, "%d characters: want %d to %d", n, min, max)
		}
		return s
	}
	ts := func(m map[string]any, field, path string, required bool) {
		s := str(m, field, path, 1, 0, required)
		if s == "" {
			return
		}
		sm := timestamp.FindStringSubmatch(s)
		if sm == nil {
			bad(path, "%q: not an ASFF timestamp (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HHMM))", s)
			return
		}
		if sm[4] != "" && (sm[4] > "18" || sm[4] == "18" && sm[5] != "00") {
			bad(path, "%q: offset beyond +/-18:00", s)
		}
	}

	if v := str(f, "SchemaVersion", "SchemaVersion", 1, 0, true); v != "" && v != "2018-10-08" {
		bad("SchemaVersion", "%q: want 2018-10-08", v)
	}
	str(f, "Id", "Id", 1, 512, true)
	str(f, "GeneratorId", "GeneratorId", 1, 512, true)
	acct := str(f, "AwsAccountId", "AwsAccountId", 12, 12, true)
	if acct != "" && !account.MatchString(acct) {
		bad("AwsAccountId", "%q: want 12 digits", acct)
	}
	if p := str(f, "ProductArn", "ProductArn", 1, 0, true); p != "" {
		if m := product.FindStringSubmatch(p); m == nil {
			bad("ProductArn", "%q: want arn:PARTITION:securityhub:REGION:ACCOUNT:product/ACCOUNT/default", p)
		} else if m[3] != acct || m[4] != acct {
			bad("ProductArn", "%q: the account is not AwsAccountId %q (the default product takes the account's own findings)", p, acct)
		}
	}
	str(f, "Title", "Title", 1, 256, true)
	str(f, "Description", "Description", 1, 1024, true)
	ts(f, "CreatedAt", "CreatedAt", true)
	ts(f, "UpdatedAt", "UpdatedAt", true)
	ts(f, "FirstObservedAt", "FirstObservedAt", false)
	ts(f, "LastObservedAt", "LastObservedAt", false)

	severity := func(v any, path string, required bool) {
		if v == nil {
			if required {
				bad(path, "required, missing")
			}
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			bad(path, "want an object, got %T", v)
			return
		}
		if l := str(m, "Label", path+".Label", 1, 0, true); l != "" && !labels[l] {
			bad(path+".Label", "%q: want INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL", l)
		}
		str(m, "Original", path+".Original", 1, 0, false)
	}
	types := func(v any, path string, required bool) {
		if v == nil {
			if required {
				bad(path, "required, missing")
			}
			return
		}
		list, ok := v.([]any)
		if !ok || len(list) == 0 || len(list) > 50 {
			bad(path, "want a list of 1 to 50 types, got %v", v)
			return
		}
		for i, t := range list {
			s, ok := t.(string)
			parts := strings.Split(s, "/")
			if !ok || len(parts) < 2 || len(parts) > 3 || !namespaces[parts[0]] || slicesHasEmpty(parts) {
				bad(fmt.Sprintf("%s[%d]", path, i), "%v: want namespace/category/classifier with a known namespace", t)
			}
		}
	}
	severity(f["Severity"], "Severity", true)
	types(f["Types"], "Types", true)
	if fp, ok := f["FindingProviderFields"]; ok {
		m, ok := fp.(map[string]any)
		if !ok {
			bad("FindingProviderFields", "want an object")
		} else {
			severity(m["Severity"], "FindingProviderFields.Severity", false)
			types(m["Types"], "FindingProviderFields.Types", false)
		}
	}
	pairs := func(v any, path string, maxValue int) {
		if v == nil {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			bad(path, "want an object of strings")
			return
		}
		if len(m) > 50 {
			bad(path, "%d pairs: at most 50", len(m))
		}
		for k, x := range m {
			if utf8.RuneCountInString(k) > 128 {
				bad(path, "key %q: over 128 characters", k)
			}
			s, ok := x.(string)
			if !ok {
				bad(path+"."+k, "want a string, got %T", x)
				continue
			}
			if utf8.RuneCountInString(s) > maxValue {
				bad(path+"."+k, "over %d characters", maxValue)
			}
		}
	}
	pairs(f["ProductFields"], "ProductFields", 2048)
	pairs(f["UserDefinedFields"], "UserDefinedFields", 1024)

	rs, ok := f["Resources"].([]any)
	switch {
	case f["Resources"] == nil:
		bad("Resources", "required, missing")
	case !ok || len(rs) == 0 || len(rs) > 32:
		bad("Resources", "want a list of 1 to 32 resources")
	}
	for i, r := range rs {
		path := fmt.Sprintf("Resources[%d]", i)
		m, ok := r.(map[string]any)
		if !ok {
			bad(path, "want an object")
			continue
		}
		str(m, "Type", path+".Type", 1, 256, true)
		str(m, "Id", path+".Id", 1, 0, true)
		if p, ok := m["Partition"]; ok && p != "aws" && p != "aws-cn" && p != "aws-us-gov" {
			bad(path+".Partition", "%v: want aws, aws-cn or aws-us-gov", p)
		}
		str(m, "Region", path+".Region", 1, 0, false)
		if d, ok := m["Details"].(map[string]any); ok {
			pairs(d["Other"], path+".Details.Other", 1024)
		}
	}
	if s, ok := f["RecordState"]; ok && s != "ACTIVE" && s != "ARCHIVED" {
		bad("RecordState", "%v: want ACTIVE or ARCHIVED", s)
	}
	return errs
}

func slicesHasEmpty(parts []string) bool {
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return true
		}
	}
	return false
}
