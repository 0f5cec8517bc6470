package handler

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzRoute holds routing to the strict reader's view, with jsontext (which
// rejects duplicate names and invalid UTF-8 by default) as the oracle: a
// payload it refuses is always one input for classify, never the sweep nor
// a batch; and only exact names make a sweep or a batch.
func FuzzRoute(f *testing.F) {
	ev := event("writer", "PutObject", nil)
	for _, s := range []string{
		string(ev),
		`{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`,
		`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{}"}]}`,
		`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{}"}],"Records":[]}`,
		`{"records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{}"}]}`,
		`{"source":"aws.events","Source":"x","detail-type":"Scheduled Event","detail":{}}`,
		string(ev[:len(ev)-1]) + `,"source":"aws.events","detail-type":"Scheduled Event"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, sq := route(payload)
		if r == routeEvent {
			return
		}
		d := jsontext.NewDecoder(bytes.NewReader(payload))
		if _, err := d.ReadValue(); err != nil {
			t.Fatalf("route %d for a payload the oracle refuses (%v): %q", r, err, payload)
		}
		switch r {
		case routeSweep:
			if !bytes.Contains(payload, []byte(`"source"`)) || !bytes.Contains(payload, []byte(`"detail-type"`)) {
				t.Fatalf("a sweep without the exact names: %q", payload)
			}
		case routeSQS:
			if !bytes.Contains(payload, []byte(`"Records"`)) || len(sq.Records) == 0 {
				t.Fatalf("a batch without the exact name Records, or no message: %q", payload)
			}
			for _, m := range sq.Records {
				if m.EventSource != "aws:sqs" {
					t.Fatalf("a batch message from %q: %q", m.EventSource, payload)
				}
			}
		}
	})
}
