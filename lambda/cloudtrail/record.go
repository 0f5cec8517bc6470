// Package cloudtrail holds the CloudTrail record as s3xguard sees it, and the
// decoders that read records from EventBridge events, trail log files and
// JSON lines.
package cloudtrail

// EventSource is the eventSource of every S3 Express One Zone record.
const EventSource = "s3express.amazonaws.com"

// Envelope holds the EventBridge event fields that say where an event came
// from.
type Envelope struct {
	Source, DetailType, Account, Region string
}

// Record is one CloudTrail record, reduced to the fields s3xguard decides on
// or reports. Fields absent from the record are empty.
type Record struct {
	EventVersion         string
	EventID              string
	EventTime            string
	EventSource          string
	EventName            string
	EventType            string
	EventCategory        string
	AWSRegion            string
	SourceIPAddress      string
	UserAgent            string
	ErrorCode            string
	ErrorMessage         string
	ReadOnly             bool
	ManagementEvent      bool
	RecipientAccountID   string
	SharedEventID        string
	VPCEndpointID        string
	VPCEndpointAccountID string

	UserIdentity Identity

	// Bucket is the directory bucket name: requestParameters.bucketName,
	// else taken from the DirectoryBucket entry of resources.
	Bucket string
	// BucketAccount is the account that owns the bucket: the account of the
	// first DirectoryBucket entry of resources whose ARN names a bucket; ""
	// when resources names none. It differs from RecipientAccountID when a
	// principal of this account calls another account's bucket.
	BucketAccount string
	// Key is requestParameters.key (object calls only).
	Key string
	// SessionMode is requestParameters.x-amz-create-session-mode (CreateSession).
	SessionMode string
	// AvailabilityZone is additionalEventData.availabilityZone, e.g. usw2-az1.
	AvailabilityZone string
	// SessionModeApplied is additionalEventData.sessionModeApplied
	// (CreateSession and the zonal calls made with its credentials).
	SessionModeApplied string
	// SessionAccessKeyID is responseElements.credentials.accessKeyId: the
	// key a CreateSession returned, which the zonal calls made with the
	// session show as userIdentity.accessKeyId.
	SessionAccessKeyID string
	// AccessPoint is the access point name (NAME--ZONEID--xa-s3) of a call
	// made through one: the AWS::S3::AccessPoint entry of resources.
	AccessPoint string

	// Envelope is what EventBridge wrapped the record in (FromEventBridge);
	// zero for a bare record. The function acts only on events whose
	// envelope is what EventBridge writes for its own account and region.
	Envelope        Envelope
	FromEventBridge bool

	// HasUserIdentity reports whether the record carried a userIdentity object.
	HasUserIdentity bool
}

// Identity is userIdentity.
type Identity struct {
	Type        string // IAMUser, AssumedRole, Root, FederatedUser, AWSService, AWSAccount, ...
	PrincipalID string
	ARN         string
	AccountID   string
	AccessKeyID string
	UserName    string
	InvokedBy   string
	// SessionIssuerARN is sessionContext.sessionIssuer.arn; absent on zonal
	// calls signed with CreateSession credentials.
	SessionIssuerARN string
}

// IsS3Express reports whether the record comes from S3 Express One Zone.
func (r *Record) IsS3Express() bool { return r.EventSource == EventSource }
