package trino

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/s3xguard/s3xguard/rules/query"
)

// AthenaDDL creates a table with the column types of the CloudTrail table
// in the Athena user guide ("Create the table for CloudTrail logs in Athena
// using partition projection"): Hive STRING is VARCHAR, STRUCT is ROW, and
// the `timestamp` partition column (yyyy/MM/dd) is an ordinary VARCHAR
// column, since the memory connector has no partitions.
const AthenaDDL = `CREATE TABLE %s (
  eventversion VARCHAR,
  useridentity ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR,
    accesskeyid VARCHAR, username VARCHAR, onbehalfof ROW(userid VARCHAR, identitystorearn VARCHAR),
    sessioncontext ROW(attributes ROW(mfaauthenticated VARCHAR, creationdate VARCHAR),
      sessionissuer ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR),
      ec2roledelivery VARCHAR,
      webidfederationdata ROW(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR)))),
  eventtime VARCHAR, eventsource VARCHAR, eventname VARCHAR, awsregion VARCHAR, sourceipaddress VARCHAR,
  useragent VARCHAR, errorcode VARCHAR, errormessage VARCHAR, requestparameters VARCHAR,
  responseelements VARCHAR, additionaleventdata VARCHAR, requestid VARCHAR, eventid VARCHAR, readonly VARCHAR,
  resources ARRAY(ROW(arn VARCHAR, accountid VARCHAR, type VARCHAR)),
  eventtype VARCHAR, apiversion VARCHAR, recipientaccountid VARCHAR, serviceeventdetails VARCHAR,
  sharedeventid VARCHAR, vpcendpointid VARCHAR, vpcendpointaccountid VARCHAR, eventcategory VARCHAR,
  addendum ROW(reason VARCHAR, updatedfields VARCHAR, originalrequestid VARCHAR, originaleventid VARCHAR),
  sessioncredentialfromconsole VARCHAR, edgedevicedetails VARCHAR,
  tlsdetails ROW(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR),
  "timestamp" VARCHAR
)`

// LakeDDL creates a table with the column types of a CloudTrail Lake event
// data store (CloudTrail user guide, "Supported SQL schemas for event data
// stores"): STRUCT is ROW, map<string,string> MAP(VARCHAR, VARCHAR),
// timestamp TIMESTAMP(3).
const LakeDDL = `CREATE TABLE %s (
  eventversion VARCHAR,
  useridentity ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, accesskeyid VARCHAR,
    username VARCHAR,
    sessioncontext ROW(attributes ROW(creationdate TIMESTAMP(3), mfaauthenticated VARCHAR),
      sessionissuer ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR),
      webidfederationdata ROW(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR)),
      sourceidentity VARCHAR, ec2roledelivery VARCHAR, ec2issuedinvpc VARCHAR),
    onbehalfof ROW(userid VARCHAR, identitystorearn VARCHAR),
    inscopeof ROW(sourcearn VARCHAR, sourceaccount VARCHAR, issuertype VARCHAR, credentialsissuedto VARCHAR),
    invokedby VARCHAR, identityprovider VARCHAR),
  eventtime TIMESTAMP(3), eventsource VARCHAR, eventname VARCHAR, awsregion VARCHAR, sourceipaddress VARCHAR,
  useragent VARCHAR, errorcode VARCHAR, errormessage VARCHAR,
  requestparameters MAP(VARCHAR, VARCHAR), responseelements MAP(VARCHAR, VARCHAR),
  additionaleventdata MAP(VARCHAR, VARCHAR), requestid VARCHAR, eventid VARCHAR, readonly BOOLEAN,
  resources ARRAY(ROW(accountid VARCHAR, type VARCHAR, arn VARCHAR, arnprefix VARCHAR)),
  eventtype VARCHAR, apiversion VARCHAR, managementevent BOOLEAN, recipientaccountid VARCHAR,
  sharedeventid VARCHAR, annotation VARCHAR, vpcendpointid VARCHAR, serviceeventdetails MAP(VARCHAR, VARCHAR),
  addendum MAP(VARCHAR, VARCHAR), edgedevicedetails MAP(VARCHAR, VARCHAR), insightdetails MAP(VARCHAR, VARCHAR),
  eventcategory VARCHAR, tlsdetails ROW(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR),
  sessioncredentialfromconsole VARCHAR, eventjson VARCHAR, eventjsonchecksum VARCHAR
)`

// Load creates the two tables and fills them with records (bare CloudTrail
// records, strict JSON objects): the JSON text goes into a staging table in
// batches of plain string literals, and each table is derived from it in
// Trino, field by field as the Go decoder reads the JSON: a field that is
// not a JSON string is NULL, names are matched exactly, an element of
// resources that is not an object is a NULL element.
func Load(ctx context.Context, s *Server, athenaTable, lakeTable string, records []json.RawMessage) error {
	staging := athenaTable + "_json"
	for _, q := range []string{
		fmt.Sprintf(AthenaDDL, athenaTable),
		fmt.Sprintf(LakeDDL, lakeTable),
		"CREATE TABLE " + staging + " (j VARCHAR)",
	} {
		if _, err := s.Query(ctx, q); err != nil {
			return fmt.Errorf("create: %w", err)
		}
	}
	// Trino takes statements of at most 1,000,000 characters.
	const batch = 800_000
	for start := 0; start < len(records); {
		var vals []string
		size := 0
		for ; start < len(records) && size < batch; start++ {
			v := "(" + query.Quote(string(records[start])) + ")"
			vals = append(vals, v)
			size += len(v) + 2
		}
		if _, err := s.Query(ctx, "INSERT INTO "+staging+" VALUES "+strings.Join(vals, ", ")); err != nil {
			return fmt.Errorf("insert into %s: %w", staging, err)
		}
	}
	for _, q := range []string{
		"INSERT INTO " + athenaTable + " " + athenaSelect + " FROM " + staging,
		"INSERT INTO " + lakeTable + " " + lakeSelect + " FROM " + staging,
	} {
		if _, err := s.Query(ctx, q); err != nil {
			return fmt.Errorf("derive tables: %w\n%s", err, q)
		}
	}
	return nil
}

// jstr is the JSON string at path in json expr, else NULL.
func jstr(expr, path string) string {
	return fmt.Sprintf("IF(json_format(json_extract(%s, %s)) LIKE '\"%%', json_extract_scalar(%s, %s))", expr, query.Quote(path), expr, query.Quote(path))
}

// jobj reports whether the value at path is a JSON object.
func jobj(expr, path string) string {
	return fmt.Sprintf("coalesce(json_format(json_extract(%s, %s)) LIKE '{%%', FALSE)", expr, query.Quote(path))
}

// jarr reports whether the value at path is a JSON array.
func jarr(expr, path string) string {
	return fmt.Sprintf("coalesce(json_format(json_extract(%s, %s)) LIKE '[%%', FALSE)", expr, query.Quote(path))
}

func strs(expr string, paths ...string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = jstr(expr, p)
	}
	return strings.Join(out, ", ")
}

const (
	athenaIdentity = "ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR, accesskeyid VARCHAR, username VARCHAR, onbehalfof ROW(userid VARCHAR, identitystorearn VARCHAR), sessioncontext ROW(attributes ROW(mfaauthenticated VARCHAR, creationdate VARCHAR), sessionissuer ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR), ec2roledelivery VARCHAR, webidfederationdata ROW(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR))))"
	lakeIdentity   = "ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, accesskeyid VARCHAR, username VARCHAR, sessioncontext ROW(attributes ROW(creationdate TIMESTAMP(3), mfaauthenticated VARCHAR), sessionissuer ROW(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR), webidfederationdata ROW(federatedprovider VARCHAR, attributes MAP(VARCHAR, VARCHAR)), sourceidentity VARCHAR, ec2roledelivery VARCHAR, ec2issuedinvpc VARCHAR), onbehalfof ROW(userid VARCHAR, identitystorearn VARCHAR), inscopeof ROW(sourcearn VARCHAR, sourceaccount VARCHAR, issuertype VARCHAR, credentialsissuedto VARCHAR), invokedby VARCHAR, identityprovider VARCHAR)"
)

var (
	// resourcesOf is resources as an array of JSON values (NULL when absent
	// or not an array), each object element turned into a ROW by row.
	resourcesOf = func(row string) string {
		return "IF(" + jarr("j", "$.resources") + ", transform(CAST(json_extract(j, '$.resources') AS ARRAY(JSON)), e -> IF(json_format(e) LIKE '{%', " + row + ")))"
	}

	athenaSelect = `SELECT ` + jstr("j", "$.eventVersion") + `,
  IF(` + jobj("j", "$.userIdentity") + `, CAST(ROW(` + strs("j", "$.userIdentity.type", "$.userIdentity.principalId", "$.userIdentity.arn", "$.userIdentity.accountId", "$.userIdentity.invokedBy", "$.userIdentity.accessKeyId", "$.userIdentity.userName") + `, NULL, NULL) AS ` + athenaIdentity + `)),
  ` + strs("j", "$.eventTime", "$.eventSource", "$.eventName", "$.awsRegion", "$.sourceIPAddress", "$.userAgent", "$.errorCode", "$.errorMessage") + `,
  IF(json_format(json_extract(j, '$.requestParameters')) <> 'null', json_format(json_extract(j, '$.requestParameters'))),
  NULL, NULL, ` + strs("j", "$.requestID", "$.eventID") + `, json_format(json_extract(j, '$.readOnly')),
  ` + resourcesOf("CAST(ROW("+strs("e", "$.ARN", "$.accountId", "$.type")+") AS ROW(arn VARCHAR, accountid VARCHAR, type VARCHAR))") + `,
  ` + strs("j", "$.eventType", "$.apiVersion", "$.recipientAccountId") + `, NULL,
  ` + strs("j", "$.sharedEventID", "$.vpcEndpointId", "$.vpcEndpointAccountId", "$.eventCategory") + `,
  NULL, NULL, NULL, NULL,
  replace(substr(` + jstr("j", "$.eventTime") + `, 1, 10), '-', '/')`

	lakeSelect = `SELECT ` + jstr("j", "$.eventVersion") + `,
  IF(` + jobj("j", "$.userIdentity") + `, CAST(ROW(` + strs("j", "$.userIdentity.type", "$.userIdentity.principalId", "$.userIdentity.arn", "$.userIdentity.accountId", "$.userIdentity.accessKeyId", "$.userIdentity.userName") + `, NULL, NULL, NULL, ` + jstr("j", "$.userIdentity.invokedBy") + `, NULL) AS ` + lakeIdentity + `)),
  CAST(try(from_iso8601_timestamp(` + jstr("j", "$.eventTime") + `)) AT TIME ZONE 'UTC' AS TIMESTAMP(3)),
  ` + strs("j", "$.eventSource", "$.eventName", "$.awsRegion", "$.sourceIPAddress", "$.userAgent", "$.errorCode", "$.errorMessage") + `,
  IF(` + jobj("j", "$.requestParameters") + `, transform_values(CAST(json_extract(j, '$.requestParameters') AS MAP(VARCHAR, JSON)),
    (k, v) -> IF(json_format(v) LIKE '"%', json_extract_scalar(v, '$'), IF(json_format(v) <> 'null', json_format(v))))),
  NULL, NULL, ` + strs("j", "$.requestID", "$.eventID") + `,
  CASE json_format(json_extract(j, '$.readOnly')) WHEN 'true' THEN TRUE WHEN '"true"' THEN TRUE WHEN 'false' THEN FALSE WHEN '"false"' THEN FALSE END,
  ` + resourcesOf("CAST(ROW("+strs("e", "$.accountId", "$.type", "$.ARN", "$.ARNPrefix")+") AS ROW(accountid VARCHAR, type VARCHAR, arn VARCHAR, arnprefix VARCHAR))") + `,
  ` + strs("j", "$.eventType", "$.apiVersion") + `, NULL, ` + strs("j", "$.recipientAccountId", "$.sharedEventID") + `, NULL,
  ` + jstr("j", "$.vpcEndpointId") + `, NULL, NULL, NULL, NULL, ` + jstr("j", "$.eventCategory") + `, NULL, NULL, j, NULL`
)

// ReadRecords reads CloudTrail records from files and directories as check
// does (trail log files, bare records, EventBridge events, arrays, JSON
// lines; gzip by magic bytes) and returns each record's JSON.
func ReadRecords(paths ...string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".json.gz") && !strings.HasSuffix(path, ".jsonl") {
				return nil
			}
			recs, err := readFile(path)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, recs...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readFile(path string) ([]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var out []json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	for {
		var v json.RawMessage
		if err := d.Decode(&v); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, unwrap(v)...)
	}
}

// unwrap returns the records in one JSON value.
func unwrap(v json.RawMessage) []json.RawMessage {
	switch bytes.TrimSpace(v)[0] {
	case '[':
		var arr []json.RawMessage
		json.Unmarshal(v, &arr)
		var out []json.RawMessage
		for _, e := range arr {
			out = append(out, unwrap(e)...)
		}
		return out
	case '{':
		var m map[string]json.RawMessage
		json.Unmarshal(v, &m)
		if recs, ok := m["Records"]; ok {
			return unwrap(recs)
		}
		if detail, ok := m["detail"]; ok && m["detail-type"] != nil {
			return []json.RawMessage{detail}
		}
	}
	return []json.RawMessage{v}
}

// Strict reports whether raw is a JSON object that is strictly valid:
// valid UTF-8 and no duplicate names in any object. Only such records can
// be table rows with the same meaning they have for the decoder.
func Strict(raw []byte) bool {
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	ok, err := strictValue(d)
	return ok && err == nil
}

func strictValue(d *json.Decoder) (bool, error) {
	tok, err := d.Token()
	if err != nil {
		return false, err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return false, err
			}
			if seen[k.(string)] {
				return false, nil
			}
			seen[k.(string)] = true
			if ok, err := strictValue(d); !ok || err != nil {
				return false, err
			}
		}
		_, err = d.Token()
		return err == nil, err
	case json.Delim('['):
		for d.More() {
			if ok, err := strictValue(d); !ok || err != nil {
				return false, err
			}
		}
		_, err = d.Token()
		return err == nil, err
	}
	return true, nil
}
