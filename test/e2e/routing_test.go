package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// Forged routing through the real bootstrap: a payload that carries an S3
// Express event plus names meant to make the function take it for the
// sweep or for an SQS batch is reported, never dropped nor handled as
// something else. Duplicate names make it an invalid input; names in
// another case are ignored, and the event is judged as what it is.
func TestForgedRoutingReported(t *testing.T) {
	withMembers := func(e []byte, members string) []byte {
		return append(append(append([]byte{}, e[:len(e)-1]...), ","+members...), '}')
	}
	body, _ := json.Marshal(string(ev{principal: session("writer")}.json()))
	for _, tt := range []struct {
		name    string
		payload []byte
		kind    string
	}{
		{"event with a second source and detail-type of the sweep", withMembers(ev{principal: session("writer")}.json(), `"source":"aws.events","detail-type":"Scheduled Event"`), "invalid"},
		{"event with case variants of the sweep's names", withMembers(ev{principal: session("writer")}.json(), `"Source":"aws.events","Detail-Type":"Scheduled Event"`), "unauthorized"},
		{"batch named in another case", []byte(`{"records":[{"eventSource":"aws:sqs","messageId":"m1","body":` + string(body) + `}]}`), "invalid"},
		{"batch with two Records members", []byte(`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{}"}],"Records":[{"eventSource":"aws:sqs","messageId":"m2","body":` + string(body) + `}]}`), "invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A world each: two invalid inputs of one class would share a
			// dedup window, the second counted rather than paged.
			w := newWorld(t, nil)
			fn := w.function()
			r := fn.MustInvoke(t, tt.payload)
			if r.Err != "" {
				t.Fatalf("invoke: %s\n%s", r.Err, fn.Log())
			}
			if string(r.Body) != "null" {
				t.Errorf("answered %s; want null (one input, not a batch report)", r.Body)
			}
			got := w.alerts(2 * time.Second)
			if len(got) != 1 || got[0].Attributes["kind"] != tt.kind {
				var kinds []string
				for _, a := range got {
					kinds = append(kinds, a.Attributes["kind"])
				}
				t.Fatalf("alerts %v; want one %s alert\n%s", kinds, tt.kind, fn.Log())
			}
		})
	}
}
