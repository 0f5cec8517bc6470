package alert

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/s3xguard/s3xguard/lambda/printable"
)

// Summary renders the count of alerts a dedup window did not re-send.
// subject and attrs are those of the window's first alert.
func Summary(subject string, attrs map[string]string, r Repeats) (Message, error) {
	from, to := r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339)
	a := maps.Clone(attrs)
	if a == nil {
		a = map[string]string{}
	}
	a["kind"] = string(KindSummary)
	machine, err := json.Marshal(map[string]any{"s3xguard": 1, "kind": KindSummary, "repeats": r, "first": subject, "attributes": attrs})
	if err != nil {
		return Message{}, err
	}
	text := fmt.Sprintf("%d more alerts like this one were counted between %s and %s, not re-sent:\n%s\n", r.Count, from, to, printable.Escape(subject))
	body, err := json.Marshal(map[string]string{
		"default": string(machine),
		"email":   text,
		"sms":     clip(printable.Escape(fmt.Sprintf("s3xguard: %d repeats of: %s", r.Count, subject)), 140),
	})
	if err != nil {
		return Message{}, err
	}
	return Message{Subject: clip(ascii(fmt.Sprintf("[s3xguard] %d repeats: %s", r.Count, subject)), maxSubject), Body: string(body), Attributes: a}, nil
}
