package doctor

import (
	"strconv"
	"strings"
)

// This file evaluates CloudTrail advanced event selectors, written from the
// CloudTrail documentation (there is no CloudTrail to ask offline):
//
//   - CloudTrail API Reference, AdvancedFieldSelector: Equals, StartsWith
//     and EndsWith include events whose field matches the value exactly, by
//     its first or by its last characters; NotEquals, NotStartsWith and
//     NotEndsWith exclude them.
//   - CloudTrail user guide, "Filtering data events by using advanced event
//     selectors" (FACTS §5): the include operators of one field OR together,
//     the exclude operators AND together; every field selector of a
//     selector must match (AND); an event is logged when any selector
//     matches (OR). resources.type and resources.ARN are matched against
//     the event's resources: a resource of the selected type whose ARN
//     passes the resources.ARN condition. The logs write an S3 Express
//     object's ARN as ARNPrefix, and as ARN in access point requests (S3
//     user guide, "Monitoring and logging access points for directory
//     buckets"): both are the resource's ARN here.

// FieldSelector is one condition of an advanced event selector, with the
// JSON names of CloudTrail's API and of CloudFormation.
type FieldSelector struct {
	Field         string
	Equals        []string `json:",omitempty"`
	StartsWith    []string `json:",omitempty"`
	EndsWith      []string `json:",omitempty"`
	NotEquals     []string `json:",omitempty"`
	NotStartsWith []string `json:",omitempty"`
	NotEndsWith   []string `json:",omitempty"`
}

// Selector is an advanced event selector.
type Selector struct {
	Name           string `json:",omitempty"`
	FieldSelectors []FieldSelector
}

// Record is what selectors read of a CloudTrail record (JSON names of the
// record).
type Record struct {
	EventCategory string `json:"eventCategory"`
	EventName     string `json:"eventName"`
	EventSource   string `json:"eventSource"`
	EventType     string `json:"eventType"`
	ReadOnly      bool   `json:"readOnly"`
	UserIdentity  struct {
		ARN string `json:"arn"`
	} `json:"userIdentity"`
	Resources []Resource `json:"resources"`
}

// Resource is one entry of a record's resources.
type Resource struct {
	Type      string `json:"type"`
	ARN       string `json:"ARN,omitempty"`
	ARNPrefix string `json:"ARNPrefix,omitempty"`
}

// Matches reports whether v passes the field selector.
func (f *FieldSelector) Matches(v string) bool {
	include := len(f.Equals)+len(f.StartsWith)+len(f.EndsWith) == 0
	for _, x := range f.Equals {
		include = include || v == x
	}
	for _, x := range f.StartsWith {
		include = include || strings.HasPrefix(v, x)
	}
	for _, x := range f.EndsWith {
		include = include || strings.HasSuffix(v, x)
	}
	if !include {
		return false
	}
	for _, x := range f.NotEquals {
		if v == x {
			return false
		}
	}
	for _, x := range f.NotStartsWith {
		if strings.HasPrefix(v, x) {
			return false
		}
	}
	for _, x := range f.NotEndsWith {
		if strings.HasSuffix(v, x) {
			return false
		}
	}
	return true
}

// Logs reports whether any of the selectors logs the record.
func Logs(sels []Selector, r *Record) bool {
	for i := range sels {
		if sels[i].Selects(r) {
			return true
		}
	}
	return false
}

// Selects reports whether every field selector of s matches the record. A
// field this evaluator does not know never matches, so an unknown selector
// reads as "not logged", the side a check should err on.
func (s *Selector) Selects(r *Record) bool {
	var types, arns *FieldSelector
	for i := range s.FieldSelectors {
		f := &s.FieldSelectors[i]
		var v string
		switch f.Field {
		case "resources.type":
			types = f
			continue
		case "resources.ARN":
			arns = f
			continue
		case "eventCategory":
			v = r.EventCategory
		case "eventName":
			v = r.EventName
		case "eventSource":
			v = r.EventSource
		case "eventType":
			v = r.EventType
		case "readOnly":
			v = strconv.FormatBool(r.ReadOnly)
		case "userIdentity.arn":
			v = r.UserIdentity.ARN
		default:
			return false
		}
		if !f.Matches(v) {
			return false
		}
	}
	if types == nil {
		return arns == nil
	}
	for _, res := range r.Resources {
		arn := res.ARN
		if arn == "" {
			arn = res.ARNPrefix
		}
		if types.Matches(res.Type) && (arns == nil || arns.Matches(arn)) {
			return true
		}
	}
	return false
}
