package finding

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/rules"
)

// ASFF is a finding in the AWS Security Finding Format, as
// BatchImportFindings takes it (Security Hub user guide, "AWS Security
// Finding Format (ASFF)",
// https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format.html;
// API reference, AwsSecurityFinding,
// https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html).
// Its member names are the API's, so the JSON decodes into the SDK's
// types.AwsSecurityFinding as it is.
type ASFF struct {
	SchemaVersion         string             `json:"SchemaVersion"`
	Id                    string             `json:"Id"`
	ProductArn            string             `json:"ProductArn"`
	ProductName           string             `json:"ProductName"`
	CompanyName           string             `json:"CompanyName"`
	GeneratorId           string             `json:"GeneratorId"`
	AwsAccountId          string             `json:"AwsAccountId"`
	Region                string             `json:"Region,omitempty"`
	Types                 []string           `json:"Types"`
	CreatedAt             string             `json:"CreatedAt"`
	UpdatedAt             string             `json:"UpdatedAt"`
	FirstObservedAt       string             `json:"FirstObservedAt,omitempty"`
	LastObservedAt        string             `json:"LastObservedAt,omitempty"`
	Severity              ASFFSeverity       `json:"Severity"`
	FindingProviderFields ASFFProviderFields `json:"FindingProviderFields"`
	Title                 string             `json:"Title"`
	Description           string             `json:"Description"`
	Remediation           *ASFFRemediation   `json:"Remediation,omitempty"`
	ProductFields         map[string]string  `json:"ProductFields,omitempty"`
	Action                *ASFFAction        `json:"Action,omitempty"`
	Resources             []ASFFResource     `json:"Resources"`
	RecordState           string             `json:"RecordState"`
}

type ASFFSeverity struct {
	Label    string `json:"Label"`
	Original string `json:"Original,omitempty"`
}

// ASFFProviderFields: finding providers set severity and types here; the
// top-level Severity and Types are the customer's to change
// (BatchImportFindings API reference: "Finding providers also should not
// use BatchImportFindings to update ... Severity, Types ... Instead, finding
// providers use FindingProviderFields").
type ASFFProviderFields struct {
	Severity ASFFSeverity `json:"Severity"`
	Types    []string     `json:"Types"`
}

type ASFFRemediation struct {
	Recommendation struct {
		Text string `json:"Text"`
	} `json:"Recommendation"`
}

type ASFFAction struct {
	ActionType       string             `json:"ActionType"`
	AwsApiCallAction *ASFFApiCallAction `json:"AwsApiCallAction,omitempty"`
}

type ASFFApiCallAction struct {
	Api             string             `json:"Api,omitempty"`
	ServiceName     string             `json:"ServiceName,omitempty"`
	CallerType      string             `json:"CallerType,omitempty"`
	FirstSeen       string             `json:"FirstSeen,omitempty"`
	LastSeen        string             `json:"LastSeen,omitempty"`
	RemoteIpDetails *ASFFRemoteIP      `json:"RemoteIpDetails,omitempty"`
	DomainDetails   *ASFFDomainDetails `json:"DomainDetails,omitempty"`
}

type ASFFRemoteIP struct {
	IpAddressV4 string `json:"IpAddressV4"`
}

type ASFFDomainDetails struct {
	Domain string `json:"Domain"`
}

type ASFFResource struct {
	Type      string               `json:"Type"`
	Id        string               `json:"Id"`
	Partition string               `json:"Partition,omitempty"`
	Region    string               `json:"Region,omitempty"`
	Details   *ASFFResourceDetails `json:"Details,omitempty"`
}

type ASFFResourceDetails struct {
	Other map[string]string `json:"Other,omitempty"`
}

// SchemaVersion is the ASFF version every finding names.
const SchemaVersion = "2018-10-08"

// Limits of the API reference (AwsSecurityFinding, Resource,
// ResourceDetails): Title 256 characters, Description 1024; ProductFields
// at most 50 pairs, keys 128, values 2048; Resources.Details.Other at most
// 50 pairs, keys 128, values 1024.
const (
	maxTitle       = 256
	maxDescription = 1024
	maxFieldKey    = 128
	maxFieldValue  = 2048
	maxOtherValue  = 1024
	maxFields      = 50
)

// ProductArn is the default product of a custom integration: the account's
// own findings (Security Hub user guide, "Using custom product integrations
// to send findings to Security Hub": arn:PARTITION:securityhub:REGION:
// ACCOUNT:product/ACCOUNT/default).
func ProductArn(region, account string) string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", Partition(region), region, account, account)
}

// ErrNoAccount: a record that names no account or region cannot be an
// ASFF finding (AwsAccountId and ProductArn are required).
var ErrNoAccount = errors.New("the record names no account and region (recipientAccountId, awsRegion)")

// timestamp writes t as ASFF takes it: RFC 3339 with Z, milliseconds
// (Security Hub rounds finer fractions to milliseconds anyway).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ASFF renders the finding in the AWS Security Finding Format.
func (f *Finding) ASFF() (ASFF, error) {
	account, region := f.Account(), f.Region()
	if account == "" || region == "" {
		return ASFF{}, ErrNoAccount
	}
	r := f.Record
	partition := Partition(region)
	sev := ASFFSeverity{Label: severityLabel(f.Severity), Original: f.Severity.String()}
	types := []string{asffType(f.Kind)}
	created, last := f.eventTime(), f.lastSeen()
	a := ASFF{
		SchemaVersion: SchemaVersion,
		Id:            f.ID,
		ProductArn:    ProductArn(region, account),
		ProductName:   "s3xguard",
		CompanyName:   "s3xguard",
		GeneratorId:   "s3xguard-" + string(f.Kind),
		AwsAccountId:  account,
		Region:        region,
		Types:         types,
		CreatedAt:     timestamp(created),
		UpdatedAt:     timestamp(f.Updated),
		// An ended observation is FirstObservedAt..LastObservedAt.
		FirstObservedAt:       timestamp(created),
		LastObservedAt:        timestamp(last),
		Severity:              sev,
		FindingProviderFields: ASFFProviderFields{Severity: sev, Types: types},
		Title:                 clip(f.title(), maxTitle),
		Description:           clip(f.description(), maxDescription),
		ProductFields:         f.productFields(),
		RecordState:           "ACTIVE",
	}
	a.Remediation = &ASFFRemediation{}
	a.Remediation.Recommendation.Text = remediation(f.Kind)
	if r.EventName != "" {
		call := &ASFFApiCallAction{Api: clip(r.EventName, maxOtherValue), ServiceName: clip(r.EventSource, maxOtherValue),
			FirstSeen: timestamp(created), LastSeen: timestamp(last)}
		if ip, err := netip.ParseAddr(r.SourceIPAddress); err == nil && ip.Unmap().Is4() {
			call.CallerType, call.RemoteIpDetails = "remoteip", &ASFFRemoteIP{IpAddressV4: ip.Unmap().String()}
		} else if r.SourceIPAddress != "" && err != nil {
			// An AWS service calling for you: its name, not an IP (FACTS 1).
			call.CallerType, call.DomainDetails = "domain", &ASFFDomainDetails{Domain: clip(r.SourceIPAddress, maxOtherValue)}
		}
		a.Action = &ASFFAction{ActionType: "AWS_API_CALL", AwsApiCallAction: call}
	}
	a.Resources = f.resources(partition, region, account)
	return a, nil
}

// severityLabel maps s3xguard's severities onto Severity.Label's values
// (INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL).
func severityLabel(s alert.Severity) string {
	switch s {
	case alert.Critical:
		return "CRITICAL"
	case alert.High:
		return "HIGH"
	case alert.Medium:
		return "MEDIUM"
	}
	return "LOW"
}

// asffType is the finding's type, namespace/category/classifier, in ASFF's
// taxonomy (Security Hub user guide, "Types taxonomy for ASFF").
func asffType(k Kind) string {
	switch k {
	case SessionMoved:
		return "TTPs/Credential Access/s3xguard-session-moved"
	case Forged:
		return "TTPs/Defense Evasion/s3xguard-forged"
	case Invalid:
		return "Unusual Behaviors/Application/s3xguard-invalid"
	}
	return "Unusual Behaviors/User/s3xguard-unauthorized"
}

func remediation(k Kind) string {
	switch k {
	case Invalid, Forged:
		return "Find who can invoke the s3xguard function or write to its queue, and where the input came from."
	case SessionMoved:
		return "Treat the session's credentials as stolen: quarantine the principal (s3xguard quarantine) and find where the token leaked."
	}
	return "If the call is expected, add an allowlist entry for it; otherwise quarantine the principal and investigate."
}

// resources are the directory bucket (ASFF has no type for S3 Express
// directory buckets: AwsS3Bucket is a general purpose bucket, named by an
// arn:aws:s3::: ARN, so the bucket is Other, with its s3express ARN) and
// the caller; an input naming no bucket is about the account.
func (f *Finding) resources(partition, region, account string) []ASFFResource {
	r := f.Record
	var rs []ASFFResource
	if r.Bucket != "" {
		other := map[string]string{"Type": "AWS::S3Express::DirectoryBucket", "Name": clip(r.Bucket, maxOtherValue)}
		if r.AccessPoint != "" {
			other["AccessPoint"] = clip(r.AccessPoint, maxOtherValue)
		}
		if r.AvailabilityZone != "" {
			other["AvailabilityZoneId"] = clip(r.AvailabilityZone, maxOtherValue)
		}
		rs = append(rs, ASFFResource{
			Type: "Other", Id: clip(fmt.Sprintf("arn:%s:s3express:%s:%s:bucket/%s", partition, region, account, r.Bucket), maxFieldValue),
			Partition: partition, Region: region, Details: &ASFFResourceDetails{Other: other},
		})
	}
	p := f.Decision.Principal
	switch {
	case p.Kind == rules.KindRole && p.ARN != "":
		rs = append(rs, ASFFResource{Type: "AwsIamRole", Id: clip(p.Normalized, maxFieldValue), Partition: partition, Region: region})
	case p.Kind == rules.KindUser && p.ARN != "":
		rs = append(rs, ASFFResource{Type: "AwsIamUser", Id: clip(p.ARN, maxFieldValue), Partition: partition, Region: region})
	}
	if k := r.UserIdentity.AccessKeyID; k != "" {
		rs = append(rs, ASFFResource{Type: "AwsIamAccessKey", Id: clip(k, maxFieldValue), Partition: partition, Region: region})
	}
	if r.Bucket == "" {
		rs = append(rs, ASFFResource{Type: "AwsAccount", Id: "AWS::::Account:" + account, Partition: partition, Region: region})
	}
	return rs
}

// productFields carry what ASFF has no place for, under s3xguard/ names.
func (f *Finding) productFields() map[string]string {
	r := f.Record
	p := f.Decision.Principal
	m := map[string]string{}
	add := func(k, v string) {
		if v != "" && len(m) < maxFields {
			m[clip("s3xguard/"+k, maxFieldKey)] = clip(v, maxFieldValue)
		}
	}
	add("Kind", string(f.Kind))
	add("Source", f.Source)
	add("Count", strconv.FormatInt(max(f.Count, 1), 10))
	add("EventID", r.EventID)
	add("EventTime", r.EventTime)
	add("EventName", r.EventName)
	add("Bucket", r.Bucket)
	add("AccessPoint", r.AccessPoint)
	add("Principal", p.Normalized)
	add("PrincipalArn", r.UserIdentity.ARN)
	add("PrincipalId", r.UserIdentity.PrincipalID)
	add("IdentityType", r.UserIdentity.Type)
	add("PrincipalAccount", r.UserIdentity.AccountID)
	add("AccessKeyId", r.UserIdentity.AccessKeyID)
	add("InvokedBy", r.UserIdentity.InvokedBy)
	add("SourceIPAddress", r.SourceIPAddress)
	add("VpcEndpointId", r.VPCEndpointID)
	add("UserAgent", r.UserAgent)
	add("ErrorCode", r.ErrorCode)
	add("Rule", f.Decision.Rule)
	for i, why := range f.Reasons {
		if i == 5 {
			add("Reasons/More", strconv.Itoa(len(f.Reasons)-5))
			break
		}
		add("Reasons/"+strconv.Itoa(i), why)
	}
	if s := f.Session; s != nil {
		add("Session/EventID", s.EventID)
		add("Session/Issuer", s.Issuer)
		add("Session/EventTime", s.EventTime)
		add("Session/SourceIPAddress", s.SourceIP)
		add("Session/VpcEndpointId", s.VPCEndpointID)
		add("Session/Mode", s.Mode)
	}
	add("Action", f.Action)
	add("Location", f.Location)
	return m
}
