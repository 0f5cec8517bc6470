// Package corpus builds the events that the coverage tests match against the
// EventBridge rule (test/eventruler) and the trail's event selectors
// (infra/stack): every fixture, every sample log record in its EventBridge
// envelope, and generated events over every identity type, operation, error
// shape, access point request and bucket-field placement.
package corpus

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Event is one EventBridge event of the corpus.
type Event struct {
	// Name says where the event comes from: a fixture file, a sample log
	// location (FILE#INDEX), or the generated shape.
	Name string
	// JSON is the whole EventBridge event, envelope and detail.
	JSON []byte
}

// The account, region and buckets of the generated events and the samples.
const (
	Account = "111122223333"
	Region  = "us-east-1"
	// AccessPoint is an access point for directory buckets, attached to the
	// bucket of the request that names it.
	AccessPoint = "reports--use1-az4--xa-s3"
)

// Buckets are the directory buckets the samples and the generated events
// touch; deployments in the tests guard some of them.
var Buckets = []string{"analytics--use1-az4--x-s3", "logs-app--use1-az4--x-s3", "scratch--use1-az5--x-s3"}

// Envelope values of CloudTrail events on EventBridge.
const (
	DetailType = "AWS API Call via CloudTrail"
	source     = "aws.s3express"
)

// Load returns the whole corpus: the fixtures of test/testdata/records, the
// records of test/testdata/sample-logs (each wrapped in the envelope
// EventBridge would give it), then Generated. root is the repository root.
func Load(root string) ([]Event, error) {
	var out []Event
	fixtures, err := filepath.Glob(filepath.Join(root, "test/testdata/records/*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(fixtures)
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ev, err := envelope(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, Event{Name: "fixture " + filepath.Base(f), JSON: ev})
	}
	logs := filepath.Join(root, "test/testdata/sample-logs")
	err = filepath.WalkDir(logs, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		recs, err := readLog(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		for i, r := range recs {
			ev, err := envelope(r)
			if err != nil {
				return fmt.Errorf("%s#%d: %w", path, i, err)
			}
			out = append(out, Event{Name: fmt.Sprintf("sample %s#%d", rel, i), JSON: ev})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, Generated()...), nil
}

// readLog reads a trail log file, gzipped or not: {"Records": [...]}.
func readLog(path string) ([]json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var f struct{ Records []json.RawMessage }
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return f.Records, nil
}

// envelope returns an EventBridge event as is, and wraps a bare CloudTrail
// record in the envelope EventBridge gives it: source "aws." and the
// service, detail-type "AWS API Call via CloudTrail".
func envelope(b []byte) ([]byte, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if _, ok := v["detail-type"]; ok {
		return compact(b)
	}
	var r struct {
		EventSource string `json:"eventSource"`
		EventID     string `json:"eventID"`
		EventTime   string `json:"eventTime"`
	}
	json.Unmarshal(b, &r) // a field of the wrong type leaves it empty: the record goes in as it is
	src := "aws." + strings.TrimSuffix(r.EventSource, ".amazonaws.com")
	return json.Marshal(map[string]any{
		"version": "0", "id": r.EventID, "detail-type": DetailType, "source": src,
		"account": Account, "time": r.EventTime, "region": Region, "resources": []any{},
		"detail": json.RawMessage(b),
	})
}

func compact(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	err := json.Compact(&buf, b)
	return buf.Bytes(), err
}
