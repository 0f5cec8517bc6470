package finding

import (
	"net/netip"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/rules"
)

// OCSFVersion is the OCSF version of the Detection Finding written.
// Security Lake takes custom sources' events in OCSF, one class per source
// (Security Lake user guide, "Open Cybersecurity Schema Framework (OCSF) in
// Security Lake",
// https://docs.aws.amazon.com/security-lake/latest/userguide/open-cybersecurity-schema-framework.html):
// its version 1 AWS sources write metadata.version 1.0.0-rc.2, and its
// version 2 sources a later version, 1.1.0 as we read it (the excerpt
// checked here showed the version 2 table's heading, not its rows:
// unverified). 1.1.0 is the first OCSF version with the Detection Finding
// class (2004), which replaced Security Finding (2001, "deprecated since
// v1.1.0", schema.ocsf.io), and the oldest Security Lake's version 2
// sources can hold; a consumer of a later 1.x reads it (minor versions add).
const OCSFVersion = "1.1.0"

// OCSF class and type identifiers (OCSF 1.1.0, Findings category).
const (
	ocsfCategoryFindings = 2
	ocsfClassDetection   = 2004
	ocsfActivityCreate   = 1
	ocsfActivityUpdate   = 2
	ocsfStatusNew        = 1
	ocsfAnalyticRule     = 1
	ocsfAccountAWS       = 10 // account.type_id: AWS Account
)

// OCSF renders the finding as an OCSF 1.1.0 Detection Finding (class_uid
// 2004) with the cloud profile, as one JSON object. Times are milliseconds
// since the epoch; what OCSF has no attribute for is under unmapped.
func (f *Finding) OCSF() map[string]any {
	r := f.Record
	created, last := f.eventTime(), f.lastSeen()
	activity := ocsfActivityCreate
	if f.Count > 1 {
		activity = ocsfActivityUpdate
	}
	sevID, sevName := ocsfSeverity(f.Severity)
	account, region := f.Account(), f.Region()

	cloud := obj{"provider": "AWS"}
	cloud.set("region", region)
	if account != "" {
		cloud["account"] = obj{"uid": account, "type_id": ocsfAccountAWS, "type": "AWS Account"}
	}

	info := obj{
		"uid":             f.ID,
		"title":           clip(f.title(), maxTitle),
		"desc":            clip(f.description(), maxOCSFText),
		"types":           []string{string(f.Kind)},
		"created_time":    created.UnixMilli(),
		"first_seen_time": created.UnixMilli(),
		"last_seen_time":  last.UnixMilli(),
		"modified_time":   f.Updated.UnixMilli(),
		"analytic":        obj{"type_id": ocsfAnalyticRule, "type": "Rule", "name": "s3xguard allowlist"},
		"data_sources":    []string{"CloudTrail"},
	}
	if f.Decision.Rule != "" {
		info["analytic"].(obj)["uid"] = f.Decision.Rule
	}

	evidence := obj{}
	if a := f.api(); a != nil {
		evidence["api"] = a
	}
	if a := f.actor(); len(a) > 0 {
		evidence["actor"] = a
	}
	if e := f.srcEndpoint(); len(e) > 0 {
		evidence["src_endpoint"] = e
	}

	out := obj{
		"class_uid":     ocsfClassDetection,
		"class_name":    "Detection Finding",
		"category_uid":  ocsfCategoryFindings,
		"category_name": "Findings",
		"activity_id":   activity,
		"activity_name": map[int]string{ocsfActivityCreate: "Create", ocsfActivityUpdate: "Update"}[activity],
		"type_uid":      ocsfClassDetection*100 + activity,
		"time":          last.UnixMilli(),
		"severity_id":   sevID,
		"severity":      sevName,
		"status_id":     ocsfStatusNew,
		"status":        "New",
		"count":         max(f.Count, 1),
		"message":       clip(f.title(), maxTitle),
		"metadata": obj{
			"version":  OCSFVersion,
			"profiles": []string{"cloud"},
			"product":  obj{"name": "s3xguard", "vendor_name": "s3xguard", "feature": obj{"name": f.Source}},
			"uid":      f.ID,
		},
		"cloud":        cloud,
		"finding_info": info,
	}
	if t, err := time.Parse(time.RFC3339Nano, r.EventTime); err == nil {
		out["metadata"].(obj)["original_time"] = r.EventTime
		out["start_time"] = t.UnixMilli()
		out["end_time"] = last.UnixMilli()
	}
	if a := f.api(); a != nil {
		out["api"] = a
	}
	if len(evidence) > 0 {
		out["evidences"] = []obj{evidence}
	}
	if res := f.ocsfResources(region, account); len(res) > 0 {
		out["resources"] = res
	}
	out["remediation"] = obj{"desc": remediation(f.Kind)}
	if u := f.unmapped(); len(u) > 0 {
		out["unmapped"] = u
	}
	return out
}

// obj is a JSON object under construction.
type obj map[string]any

// ocsfSeverity maps s3xguard's severities onto severity_id: 2 Low,
// 3 Medium, 4 High, 5 Critical.
func ocsfSeverity(s alert.Severity) (int, string) {
	switch s {
	case alert.Critical:
		return 5, "Critical"
	case alert.High:
		return 4, "High"
	case alert.Medium:
		return 3, "Medium"
	}
	return 2, "Low"
}

func (f *Finding) api() obj {
	r := f.Record
	if r.EventName == "" {
		return nil
	}
	a := obj{"operation": clip(r.EventName, maxFieldValue)}
	if r.EventSource != "" {
		a["service"] = obj{"name": clip(r.EventSource, maxFieldValue)}
	}
	if r.EventID != "" {
		a["request"] = obj{"uid": clip(r.EventID, maxFieldValue)}
	}
	if r.ErrorCode != "" {
		resp := obj{"error": r.ErrorCode}
		(resp).set("error_message", r.ErrorMessage)
		a["response"] = resp
	}
	return a
}

// actor is the caller and, when known, the session whose credentials it
// used.
func (f *Finding) actor() obj {
	r := f.Record
	id := r.UserIdentity
	p := f.Decision.Principal
	user := obj{}
	user.set("uid", id.ARN)
	user.set("uid_alt", id.PrincipalID)
	user.set("name", principalName(p))
	user.set("type", id.Type)
	user.set("credential_uid", id.AccessKeyID)
	if rules.IsAccountID(id.AccountID) {
		user["account"] = obj{"uid": id.AccountID, "type_id": ocsfAccountAWS, "type": "AWS Account"}
	}
	a := obj{}
	if len(user) > 0 {
		a["user"] = user
	}
	a.set("invoked_by", id.InvokedBy)
	if s := f.Session; s != nil {
		sess := obj{}
		sess.set("uid", s.EventID)
		sess.set("credential_uid", id.AccessKeyID)
		sess.set("issuer", s.Issuer)
		if t, err := time.Parse(time.RFC3339Nano, s.EventTime); err == nil {
			sess["created_time"] = t.UnixMilli()
		}
		a["session"] = sess
	}
	return a
}

func principalName(p rules.Principal) string {
	if p.Kind == rules.KindRole || p.Kind == rules.KindUser {
		return p.Name
	}
	return p.Normalized
}

// srcEndpoint is where the call came from: an IP (OCSF's ip type takes
// addresses only), else an AWS service's name; the VPC endpoint's ID is
// the endpoint's uid.
func (f *Finding) srcEndpoint() obj {
	r := f.Record
	e := obj{}
	if ip, err := netip.ParseAddr(r.SourceIPAddress); err == nil && ip.Zone() == "" {
		e["ip"] = ip.Unmap().String()
	} else {
		e.set("name", r.SourceIPAddress)
	}
	e.set("uid", r.VPCEndpointID)
	return e
}

// ocsfResources is the directory bucket, as resource_details.
func (f *Finding) ocsfResources(region, account string) []obj {
	r := f.Record
	if r.Bucket == "" {
		return nil
	}
	b := obj{"name": clip(r.Bucket, maxFieldValue), "type": "AWS::S3Express::DirectoryBucket"}
	if region != "" && account != "" {
		b["uid"] = clip("arn:"+Partition(region)+":s3express:"+region+":"+account+":bucket/"+r.Bucket, maxFieldValue)
		b["cloud_partition"] = Partition(region)
		b["owner"] = obj{"account": obj{"uid": account, "type_id": ocsfAccountAWS, "type": "AWS Account"}}
	}
	b.set("region", region)
	if r.AccessPoint != "" || r.AvailabilityZone != "" {
		d := obj{}
		d.set("access_point", r.AccessPoint)
		d.set("availability_zone_id", r.AvailabilityZone)
		b["data"] = d
	}
	return []obj{b}
}

// unmapped is what OCSF 1.1.0 has no attribute for.
func (f *Finding) unmapped() obj {
	r := f.Record
	u := obj{}
	u.set("kind", string(f.Kind))
	u.set("rule", f.Decision.Rule)
	if len(f.Reasons) > 0 {
		rs := make([]string, 0, min(len(f.Reasons), maxReasons))
		for _, why := range f.Reasons[:min(len(f.Reasons), maxReasons)] {
			rs = append(rs, clip(why, maxFieldValue))
		}
		u["reasons"] = rs
	}
	u.set("user_agent", r.UserAgent)
	u.set("vpc_endpoint_account_id", r.VPCEndpointAccountID)
	u.set("action", f.Action)
	u.set("location", f.Location)
	if s := f.Session; s != nil {
		sess := obj{}
		sess.set("event_id", s.EventID)
		sess.set("source_ip_address", s.SourceIP)
		sess.set("vpc_endpoint_id", s.VPCEndpointID)
		sess.set("event_time", s.EventTime)
		sess.set("mode", s.Mode)
		u["session"] = sess
	}
	return u
}

// set adds a string member unless it is empty, clipped, as valid UTF-8.
func (o obj) set(k, v string) {
	if v != "" {
		o[k] = clip(v, maxFieldValue)
	}
}

// Bounds of what one OCSF finding quotes: OCSF sets none, but a record's
// fields are the caller's to choose.
const (
	maxOCSFText = 8192
	maxReasons  = 10
)
