package alert

import (
	"fmt"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
)

// limits bounds the free-text fields of one alert, in characters.
type limits struct {
	field     int // any one value: ARN, user agent, reason, detail...
	statement int // the bucket policy statement (a policy is at most 20 KB)
	raw       int // the quoted beginning of an undecodable input
	reasons   int // how many reasons are listed
}

// levels are tried in order until the message fits MaxBytes. The first
// keeps every real CloudTrail value whole (the longest, the user agent and
// object keys, are at most about 1 KiB) and a full policy statement.
var levels = []limits{
	{field: 2048, statement: 24 * 1024, raw: 512, reasons: 20},
	{field: 256, statement: 4096, raw: 256, reasons: 5},
	{field: 64, statement: 256, raw: 64, reasons: 2},
}

// clip returns a copy of a with every free-text field within l, and
// Clipped naming each field that was cut (and its full length).
func (a *Alert) clip(l limits) *Alert {
	c := *a
	c.Clipped = nil
	cut := func(name string, s *string, n int) {
		if utf8.RuneCountInString(*s) > n {
			c.Clipped = append(c.Clipped, fmt.Sprintf("%s (%d bytes)", name, len(*s)))
			*s = clip(*s, n)
		}
	}
	r := &cloudtrail.Record{}
	if a.Record != nil {
		*r = *a.Record
	}
	c.Record = r
	for _, f := range []struct {
		name string
		s    *string
	}{
		{"event.name", &r.EventName}, {"event.bucket", &r.Bucket}, {"event.key", &r.Key},
		{"event.errorCode", &r.ErrorCode}, {"event.time", &r.EventTime}, {"event.id", &r.EventID},
		{"event.region", &r.AWSRegion}, {"event.availabilityZone", &r.AvailabilityZone},
		{"event.sourceIP", &r.SourceIPAddress}, {"event.vpcEndpoint", &r.VPCEndpointID},
		{"event.userAgent", &r.UserAgent}, {"event.sessionMode", &r.SessionMode},
		{"principal.identityType", &r.UserIdentity.Type}, {"principal.accessKeyId", &r.UserIdentity.AccessKeyID},
		{"principal.invokedBy", &r.UserIdentity.InvokedBy}, {"principal.arn (logged)", &r.UserIdentity.ARN},
		{"principal.principalId", &r.UserIdentity.PrincipalID},
	} {
		cut(f.name, f.s, l.field)
	}
	p := &c.Decision.Principal
	for _, f := range []struct {
		name string
		s    *string
	}{
		{"principal.arn", &p.ARN}, {"principal.normalized", &p.Normalized}, {"principal.account", &p.Account},
		{"principal.name", &p.Name}, {"principal.session", &p.Session}, {"principal.kind", &p.Kind},
	} {
		cut(f.name, f.s, l.field)
	}
	if n := len(a.Decision.Reasons); n > l.reasons {
		c.Clipped = append(c.Clipped, fmt.Sprintf("decision.reasons (%d of %d listed)", l.reasons, n))
	}
	c.Decision.Reasons = nil
	for i, reason := range a.Decision.Reasons[:min(len(a.Decision.Reasons), l.reasons)] {
		cut(fmt.Sprintf("decision.reasons[%d]", i), &reason, l.field)
		c.Decision.Reasons = append(c.Decision.Reasons, reason)
	}
	c.Decision.Rule = clip(c.Decision.Rule, l.field)
	if a.Session != nil {
		sc := *a.Session
		c.Session = &sc
		for _, f := range []struct {
			name string
			s    *string
		}{
			{"session.eventID", &sc.EventID}, {"session.issuer", &sc.Issuer}, {"session.eventTime", &sc.EventTime},
			{"session.sourceIPAddress", &sc.SourceIP}, {"session.vpcEndpointId", &sc.VPCEndpointID}, {"session.mode", &sc.Mode},
		} {
			cut(f.name, f.s, l.field)
		}
	}
	cut("raw", &c.Raw, l.raw)
	cut("alertId", &c.ID, l.field)
	cut("input", &c.Input, l.field)
	cut("duplicateReason", &c.Duplicate, l.field)
	resp := &c.Response
	cut("response.detail", &resp.Detail, l.field)
	cut("response.statement", &resp.Statement, l.statement)
	cut("response.action", &resp.Action, l.field)
	cut("response.mode", &resp.Mode, l.field)
	cut("response.until", &resp.Until, l.field)
	cut("response.note", &resp.Note, l.field)
	if n := len(a.Response.IAM); n > l.reasons {
		c.Clipped = append(c.Clipped, fmt.Sprintf("response.iam (%d of %d listed)", l.reasons, n))
	}
	resp.IAM = nil
	for i, v := range a.Response.IAM[:min(len(a.Response.IAM), l.reasons)] {
		cut(fmt.Sprintf("response.iam[%d]", i), &v, l.field)
		resp.IAM = append(resp.IAM, v)
	}
	return &c
}
