// Package query writes an allowlist as one Trino SQL query over CloudTrail
// records, for Amazon Athena (engine v3, over the CloudTrail table AWS
// documents) and AWS CloudTrail Lake (over an event data store). The query's
// rows are the records `s3xguard check` gives the same verdict, with the
// same rule: every semantic of rules.Decide is carried over, and what cannot
// be is refused with an error rather than approximated. The tests in
// test/trino prove the equivalence on a real Trino.
package query

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/rules"
)

// Engine names the SQL dialect and table schema a query targets.
type Engine string

const (
	// Athena is Amazon Athena over the CloudTrail table of the Athena user
	// guide ("Querying AWS CloudTrail logs"): userIdentity a STRUCT,
	// requestParameters JSON text, resources ARRAY<STRUCT<arn, accountid,
	// type>>, eventTime text, and a `timestamp` partition (yyyy/MM/dd)
	// filled by partition projection.
	Athena Engine = "athena"
	// Lake is AWS CloudTrail Lake: userIdentity a ROW, requestParameters a
	// MAP(VARCHAR, VARCHAR), resources ARRAY(ROW(accountid, type, arn,
	// arnprefix)), eventTime a TIMESTAMP; the table is the event data store ID.
	Lake Engine = "lake"
)

// Verdicts a query may select.
const (
	VerdictUnauthorized = "unauthorized"
	VerdictAllowed      = "allowed"
	VerdictInvalid      = "invalid"
	VerdictFindings     = "findings" // unauthorized and invalid, as check reports them
	VerdictAll          = "all"      // every S3 Express record (never the ignored ones of other services)
)

// Options are the choices of one query.
type Options struct {
	Engine  Engine
	Table   string    // Athena: [catalog.][database.]table; Lake: the event data store ID
	Since   time.Time // zero: no lower bound (inclusive)
	Until   time.Time // zero: no upper bound (exclusive)
	Verdict string    // one of the Verdict constants; "" means findings
}

// DefaultAthenaTable is the table name of the README's DDL.
const DefaultAthenaTable = "cloudtrail_logs"

// maxAthenaQuery is Athena's limit on a query string, 262,144 bytes, not
// adjustable (AWS knowledge center, "athena-query-string-length": "Member
// must have length less than or equal to 262144").
const maxAthenaQuery = 262144

// Columns are the query's output columns, in order: those of
// `check --format json` that a table holds.
var Columns = []string{"eventID", "verdict", "rule", "eventTime", "eventName", "bucket", "principal", "arn", "sourceIPAddress", "vpcEndpointId", "errorCode"}

var (
	athenaTableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$`)
	lakeTableRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*){0,2}$`)
)

// Build writes the query for the allowlist a.
func Build(a *rules.Allowlist, o Options) (string, error) {
	if o.Verdict == "" {
		o.Verdict = VerdictFindings
	}
	var verdicts []string
	switch o.Verdict {
	case VerdictUnauthorized, VerdictAllowed, VerdictInvalid:
		verdicts = []string{o.Verdict}
	case VerdictFindings:
		verdicts = []string{VerdictUnauthorized, VerdictInvalid}
	case VerdictAll:
		verdicts = []string{VerdictAllowed, VerdictUnauthorized, VerdictInvalid}
	default:
		return "", fmt.Errorf("verdict %q: want unauthorized, allowed, invalid, findings or all", o.Verdict)
	}
	switch o.Engine {
	case Athena:
		if o.Table == "" {
			o.Table = DefaultAthenaTable
		}
		if !athenaTableRE.MatchString(o.Table) {
			return "", fmt.Errorf("table %q: want [catalog.][database.]table (letters, digits, _)", o.Table)
		}
	case Lake:
		if o.Table == "" {
			return "", errors.New("the lake engine needs the event data store ID as the table")
		}
		if !lakeTableRE.MatchString(o.Table) {
			return "", fmt.Errorf("table %q: want an event data store ID (letters, digits, -)", o.Table)
		}
	default:
		return "", fmt.Errorf("engine %q: want athena or lake", o.Engine)
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Since.Before(o.Until) {
		return "", fmt.Errorf("--since %s is not before --until %s", o.Since.Format(time.RFC3339), o.Until.Format(time.RFC3339))
	}
	var rules []string
	for _, e := range a.Entries {
		s := e.Spec()
		if len(s.Unknown) > 0 {
			return "", fmt.Errorf("%s:%d: entry %q: field %s has no SQL form; refusing to write a query that would ignore it", a.Source, s.Line, s.Name, strings.Join(s.Unknown, ", "))
		}
		rules = append(rules, "WHEN "+entryCond(s)+" THEN "+Quote(s.Name))
	}
	q := write(a, o, verdicts, rules)
	if o.Engine == Athena && len(q) > maxAthenaQuery {
		return "", fmt.Errorf("the query is %d bytes, over Athena's limit of %d: split the allowlist", len(q), maxAthenaQuery)
	}
	return q, nil
}

// write assembles the query in layers, innermost first:
//
//	r: the table's columns, normalized (absent and "" alike, as the decoder
//	   reads them), the bucket, and why a record is invalid;
//	a: the caller's ARN split as rules.PrincipalOf splits it;
//	p: the principal's kind, name and normalized form, the source address;
//	m: the first matching entry;
//	v: the verdict, then the selection.
func write(a *rules.Allowlist, o Options, verdicts, ruleCases []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- s3xguard sql: %s (%d entries), engine %s, verdict %s\n", sanitizeComment(a.Source), len(a.Entries), o.Engine, o.Verdict)
	b.WriteString(`SELECT "eventID", verdict, rule, "eventTime", "eventName", bucket, principal, arn, "sourceIPAddress", "vpcEndpointId", "errorCode"
FROM (
SELECT m.*,
  CASE WHEN invalid THEN 'invalid' WHEN rule IS NOT NULL THEN 'allowed' ELSE 'unauthorized' END AS verdict
FROM (
SELECT p.*,
  CASE WHEN NOT invalid THEN CASE
`)
	if len(ruleCases) == 0 {
		b.WriteString("    WHEN FALSE THEN ''\n")
	}
	for _, c := range ruleCases {
		b.WriteString("    ")
		b.WriteString(c)
		b.WriteByte('\n')
	}
	b.WriteString(`  END END AS rule
FROM (
SELECT a.*,
  CASE
    WHEN itype = 'AWSService' THEN 'service'
    WHEN NOT isarn THEN CASE WHEN itype = 'AWSAccount' AND accountid <> '' THEN 'account' ELSE 'unknown' END
    WHEN aservice = 'sts' AND aresource LIKE 'assumed-role/%' THEN 'role'
    WHEN aservice = 'sts' AND aresource LIKE 'federated-user/%' THEN 'federated'
    WHEN aservice = 'iam' AND aresource = 'root' THEN 'root'
    WHEN aservice = 'iam' AND aresource LIKE 'role/%' THEN 'role'
    WHEN aservice = 'iam' AND aresource LIKE 'user/%' THEN 'user'
    ELSE 'unknown'
  END AS pkind,
  CASE
    WHEN aservice = 'sts' AND aresource LIKE 'assumed-role/%' THEN split_part(substr(aresource, 14), '/', 1)
    WHEN aservice = 'iam' THEN element_at(split(aresource, '/'), -1)
    ELSE ''
  END AS pname,
  CASE
    WHEN early THEN NULL
    WHEN itype = 'AWSService' THEN invokedby
    WHEN NOT isarn THEN CASE WHEN itype = 'AWSAccount' AND accountid <> '' THEN accountid WHEN arn = '' THEN principalid ELSE arn END
    WHEN aservice = 'sts' AND aresource LIKE 'assumed-role/%' THEN 'arn:' || apartition || ':iam::' || aaccount || ':role/' || split_part(substr(aresource, 14), '/', 1)
    ELSE arn
  END AS principal,
  CASE WHEN regexp_like(src, '`)
	b.WriteString(ipSyntax)
	b.WriteString(`') THEN try_cast(src AS IPADDRESS) END AS ip
FROM (
SELECT r.*,
  cardinality(split(arn, ':')) >= 6 AND arn LIKE 'arn:%' AS isarn,
  split_part(arn, ':', 2) AS apartition,
  split_part(arn, ':', 3) AS aservice,
  split_part(arn, ':', 5) AS aaccount,
  array_join(slice(split(arn, ':'), 6, 2147483647), ':') AS aresource
FROM (
`)
	b.WriteString(rowSource(o))
	b.WriteString(`) r
) a
) p
) m
) v
WHERE verdict IN (`)
	for i, v := range verdicts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Quote(v))
	}
	b.WriteString(")\n")
	return b.String()
}

// rowSource is the innermost SELECT: the engine's columns read as the Go
// decoder reads the JSON (a missing or null string is "", so is an empty
// one), the bucket, and the invalid verdict. Only S3 Express records and
// records without an eventSource (invalid) are read.
func rowSource(o Options) string {
	// On Athena requestparameters is the object's JSON text; on Lake a map.
	// Both engines name every other column alike.
	rp := `json_extract_scalar(requestparameters, '$.bucketName')`
	if o.Engine == Lake {
		rp = `element_at(requestparameters, 'bucketName')`
	}
	// bucketFromARN as in lambda/cloudtrail.BucketFromARN: arn:P:s3express:R:A:NAME
	// or …:bucket/NAME, NAME non-empty and without '/'.
	bucketOf := `x -> CASE WHEN x.arn LIKE 'arn:%' AND cardinality(split(x.arn, ':')) >= 6 AND split_part(x.arn, ':', 3) = 's3express'
        THEN (CASE WHEN array_join(slice(split(x.arn, ':'), 6, 2147483647), ':') LIKE 'bucket/%'
          THEN substr(array_join(slice(split(x.arn, ':'), 6, 2147483647), ':'), 8)
          ELSE array_join(slice(split(x.arn, ':'), 6, 2147483647), ':') END) END`
	// accessPointFromARN as in lambda/cloudtrail: arn:P:s3express:R:A:accesspoint/NAME.
	// A bucketName that names an access point (NAME--ZONEID--xa-s3 or its
	// ARN) is not the bucket: the bucket comes from resources, as the
	// decoder takes it.
	accessPointOf := `x -> CASE WHEN x.arn LIKE 'arn:%' AND cardinality(split(x.arn, ':')) >= 6 AND split_part(x.arn, ':', 3) = 's3express'
          AND array_join(slice(split(x.arn, ':'), 6, 2147483647), ':') LIKE 'accesspoint/%'
        THEN substr(array_join(slice(split(x.arn, ':'), 6, 2147483647), ':'), 13) END`
	var b strings.Builder
	fmt.Fprintf(&b, `SELECT
  coalesce(eventid, '') AS "eventID",
  eventtime AS "eventTime",
  coalesce(eventname, '') AS "eventName",
  coalesce(eventsource, '') = '' OR coalesce(eventname, '') = '' OR useridentity IS NULL
    OR (coalesce(useridentity.arn, '') = '' AND coalesce(useridentity.type, '') <> 'AWSService'
        AND coalesce(useridentity.accountid, '') = '') AS invalid,
  -- invalid before the caller is read: check reports no principal for these
  coalesce(eventsource, '') = '' OR coalesce(eventname, '') = '' OR useridentity IS NULL AS early,
  coalesce(useridentity.type, '') AS itype,
  coalesce(useridentity.arn, '') AS arn,
  coalesce(useridentity.accountid, '') AS accountid,
  coalesce(useridentity.invokedby, '') AS invokedby,
  coalesce(useridentity.principalid, '') AS principalid,
  coalesce(sourceipaddress, '') AS src,
  sourceipaddress AS "sourceIPAddress",
  coalesce(vpcendpointid, '') AS vpce,
  vpcendpointid AS "vpcEndpointId",
  errorcode AS "errorCode",
  coalesce(nullif(CASE WHEN %[1]s LIKE '%%--xa-s3' OR strpos(%[1]s, ':accesspoint/') > 0 THEN '' ELSE %[1]s END, ''),
    element_at(filter(transform(filter(resources, x -> x.type = 'AWS::S3Express::DirectoryBucket'),
      %[2]s), n -> n <> '' AND strpos(n, '/') = 0), 1), '') AS bucket,
  coalesce(element_at(filter(transform(filter(resources, x -> x.type = 'AWS::S3::AccessPoint'),
      %[3]s), n -> n <> '' AND strpos(n, '/') = 0), 1), '') AS accesspoint
FROM %[4]s
WHERE (eventsource = 's3express.amazonaws.com' OR coalesce(eventsource, '') = '')%[5]s
`, rp, bucketOf, accessPointOf, o.Table, timeFilter(o.Engine, o.Since, o.Until))
	return b.String()
}

// timeFilter bounds eventTime: on Athena, also the `timestamp` partition
// (yyyy/MM/dd), so only the days needed are read, with eventTime compared as
// text (CloudTrail writes yyyy-MM-ddTHH:mm:ssZ, so text order is time
// order); on CloudTrail Lake eventTime is a TIMESTAMP.
func timeFilter(e Engine, since, until time.Time) string {
	var f []string
	bound := func(t time.Time, op string) {
		t = t.UTC()
		if e == Lake {
			f = append(f, "eventtime "+op+" TIMESTAMP "+Quote(t.Format("2006-01-02 15:04:05.000")))
			return
		}
		day := t
		if op == "<" {
			day = t.Add(-time.Nanosecond) // until is exclusive: midnight does not read the next day
		}
		f = append(f, `"timestamp" `+op[:1]+"= "+Quote(day.Format("2006/01/02")), "eventtime "+op+" "+Quote(t.Format("2006-01-02T15:04:05Z")))
	}
	if !since.IsZero() {
		bound(since, ">=")
	}
	if !until.IsZero() {
		bound(until, "<")
	}
	if len(f) == 0 {
		return ""
	}
	return "\n  AND " + strings.Join(f, "\n  AND ")
}

// entryCond is one entry as a condition: every field it has (AND), any of
// a field's values (OR), in the order rules.Decide checks them.
func entryCond(s rules.Spec) string {
	var and []string
	if s.Principals != nil {
		var or []string
		for _, p := range s.Principals {
			or = append(or, principalCond(p))
		}
		and = append(and, group(or))
	}
	if s.Accounts != nil {
		and = append(and, in("accountid", s.Accounts))
	}
	if s.Services != nil {
		and = append(and, "(itype = 'AWSService' AND "+in("invokedby", s.Services)+")")
	}
	if s.Sources != nil {
		var or []string
		for _, p := range s.Sources {
			or = append(or, prefixCond(p))
		}
		and = append(and, group(or))
	}
	if s.VPCEndpoints != nil {
		and = append(and, in("vpce", s.VPCEndpoints))
	}
	if s.Buckets != nil {
		and = append(and, "(bucket <> '' AND "+globSet("bucket", s.Buckets)+")")
	}
	if s.AccessPoints != nil {
		and = append(and, "(accesspoint <> '' AND "+globSet("accesspoint", s.AccessPoints)+")")
	}
	if s.Operations != nil {
		and = append(and, globSet(`"eventName"`, s.Operations))
	}
	// Every part is a comparison of non-null values, so the AND is never
	// NULL; coalesce keeps it so should a NULL slip in.
	return "coalesce(" + strings.Join(and, "\n      AND ") + ", FALSE)"
}

// principalCond is rules' principalPattern.match: role and user patterns
// compare partition, account and name of a parsed role or user ARN; other
// patterns are globs over the whole ARN. Callers without an ARN never match.
func principalCond(p rules.PrincipalSpec) string {
	if p.Kind == "" {
		return "(arn <> '' AND " + glob("arn", p.Source) + ")"
	}
	parts := []string{"arn <> ''", "pkind = " + Quote(p.Kind)}
	for _, c := range [...]struct{ expr, g string }{{"apartition", p.Partition}, {"aaccount", p.Account}, {"pname", p.Name}} {
		if c.g != "*" {
			parts = append(parts, glob(c.expr, c.g))
		}
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// prefixCond is netip.Prefix.Contains on the unmapped address. Trino holds
// IPv4 addresses as IPv4-mapped IPv6 ones, so an IPv6 prefix such as ::/0
// would contain them: the address family is checked too (an IPv4 address
// prints without ':').
func prefixCond(p netip.Prefix) string {
	c := "contains(" + Quote(p.String()) + ", ip)"
	if p.Addr().Is4() {
		return c
	}
	return "(" + c + " AND strpos(CAST(ip AS VARCHAR), ':') > 0)"
}

func in(expr string, vals []string) string {
	if len(vals) == 1 {
		return expr + " = " + Quote(vals[0])
	}
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = Quote(v)
	}
	return expr + " IN (" + strings.Join(q, ", ") + ")"
}

func globSet(expr string, globs []string) string {
	var exact, other []string
	for _, g := range globs {
		if strings.ContainsAny(g, "*?") {
			other = append(other, glob(expr, g))
		} else {
			exact = append(exact, g)
		}
	}
	var or []string
	if exact != nil {
		or = append(or, in(expr, exact))
	}
	return group(append(or, other...))
}

func group(or []string) string {
	if len(or) == 1 {
		return or[0]
	}
	return "(" + strings.Join(or, " OR ") + ")"
}
