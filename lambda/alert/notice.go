package alert

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/printable"
)

// KindHealth marks pages about the guard itself, sent to the health topic.
const KindHealth Kind = "health"

// Notice is a page about the guard itself, for the health topic: the
// circuit breaker tripped, a quarantine expired and was released, a deny had
// drifted out of a policy and was re-applied, a deny without a record was
// adopted, a pending quarantine still fails or now holds, unique IDs of
// deleted principals were dropped. None of these may happen silently.
type Notice struct {
	// Kind is breaker, expired, drift, adopted, pending, resolved or dropped.
	Kind       string
	Bucket     string
	Principals []string
	Detail     string
	Time       time.Time
}

// maxNoticePrincipals bounds the principals a notice lists; the count is
// always given.
const maxNoticePrincipals = 20

// Build renders the notice as one SNS publish (MessageStructure json).
func (n Notice) Build() (Message, error) {
	who := n.Principals
	more := 0
	if len(who) > maxNoticePrincipals {
		who, more = who[:maxNoticePrincipals], len(who)-maxNoticePrincipals
	}
	subject := fmt.Sprintf("[s3xguard HEALTH] %s on %s: %d principal(s)", n.Kind, orDash(n.Bucket), len(n.Principals))
	doc := map[string]any{
		"s3xguard": 1, "kind": KindHealth, "notice": n.Kind, "bucket": n.Bucket,
		"principals": who, "count": len(n.Principals), "detail": clip(n.Detail, 2000),
		"time": n.Time.UTC().Format(time.RFC3339),
	}
	if more > 0 {
		doc["clipped"] = fmt.Sprintf("%d more principals not listed", more)
	}
	machine, err := json.Marshal(doc)
	if err != nil {
		return Message{}, err
	}
	var email strings.Builder
	fmt.Fprintf(&email, "s3xguard health notice: %s\n\nBUCKET      %s\nPRINCIPALS  %s\nDETAIL      %s\nTIME        %s\n",
		printable.Escape(n.Kind), printable.Escape(orDash(n.Bucket)), strings.Join(printable.All(who), "\n            "), printable.Escape(clip(n.Detail, 2000)), n.Time.UTC().Format(time.RFC3339))
	if more > 0 {
		fmt.Fprintf(&email, "(%d more principals not listed)\n", more)
	}
	sms := clip(printable.Escape(fmt.Sprintf("s3xguard HEALTH %s on %s: %s", n.Kind, orDash(n.Bucket), n.Detail)), 140)
	body, err := json.Marshal(map[string]string{"default": string(machine), "email": email.String(), "sms": sms})
	if err != nil {
		return Message{}, err
	}
	m := Message{Subject: clip(ascii(subject), maxSubject), Body: string(body),
		Attributes: map[string]string{"kind": string(KindHealth), "notice": n.Kind, "severity": High.String()}}
	if n.Bucket != "" {
		m.Attributes["bucket"] = n.Bucket
	}
	return m, nil
}
