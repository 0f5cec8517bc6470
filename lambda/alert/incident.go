package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
)

// KindReleased is the document of a quarantine released by hand or by
// expiry: the resolve of the incident its alerts opened.
const KindReleased Kind = "quarantine-released"

// IncidentKey is the alert's dedup key for paging tools (PagerDuty's
// dedup_key): one incident per guarded account, region, bucket and
// principal. It is not the state table's window key, which also holds
// the kind and the caller's network: a release knows only the bucket and
// the principal, and must name the same incident to resolve it. Inputs
// that name no principal or bucket (invalid, forged) get one incident per
// alert ID.
func (a *Alert) IncidentKey() string {
	if a.Kind != KindUnauthorized && a.Kind != KindSessionMoved {
		return incidentKey(a.Guarded, string(a.Kind), a.ID)
	}
	who := a.Response.Target
	if who == "" {
		who = a.Decision.Principal.ARN
	}
	if who == "" && a.Record != nil {
		who = a.Record.UserIdentity.PrincipalID
	}
	bucket := ""
	if a.Record != nil {
		bucket = a.Record.Bucket
	}
	return incidentKey(a.Guarded, bucket, principalKey(who))
}

// principalKey names a principal the same way whether it comes from a
// session ARN (no role path), a role ARN with its path, or a bucket
// policy: IAM names are unique in an account and case-insensitive.
func principalKey(arn string) string {
	p := rules.PrincipalOf(cloudtrail.Identity{ARN: arn})
	if p.Kind == rules.KindRole || p.Kind == rules.KindUser {
		return p.Partition + ":" + p.Account + ":" + p.Kind + "/" + strings.ToLower(p.Name)
	}
	return arn
}

// incidentKey stays far below PagerDuty's 255 characters whatever the
// input, keeps the account and region readable, and needs no escaping in
// a URL path (Opsgenie closes an alert by its alias in the path).
func incidentKey(g Place, parts ...string) string {
	sum := sha256.Sum256([]byte(g.Account + "|" + g.Region + "|" + strings.Join(parts, "|")))
	return "s3xguard-" + keyText(g.Account) + "-" + keyText(g.Region) + "-" + hex.EncodeToString(sum[:12])
}

// keyText keeps letters, digits and dashes of s (an account ID or a
// region, so all of it in practice), at most 32.
func keyText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, s)
	return orDash(s[:min(len(s), 32)])
}

// Released is a quarantine lifted: by `s3xguard quarantine release`
// ("released") or by QUARANTINE_TTL ("expired").
type Released struct {
	Guarded   Place
	Bucket    string
	Principal string
	Reason    string
	Time      time.Time
}

// Document is the bus event's detail: the incident key of the alerts that
// quarantined the principal, so a pager resolves their incident.
func (r Released) Document() (string, error) {
	key := incidentKey(r.Guarded, r.Bucket, principalKey(r.Principal))
	title := fmt.Sprintf(":white_check_mark: s3xguard: quarantine %s on %s", r.Reason, orDash(r.Bucket))
	desc := fmt.Sprintf("*Guarded:* %s\n*Principal:* %s\n*Bucket:* %s\n*Why:* %s",
		code(r.Guarded.Account+" "+r.Guarded.Region), code(r.Principal), code(r.Bucket), code(r.Reason))
	b, err := json.Marshal(map[string]any{
		"s3xguard": 1, "kind": KindReleased, "guarded": r.Guarded, "dedupKey": key, "summary": clip(ascii(title[len(":white_check_mark: "):]), maxSubject),
		"bucket": r.Bucket, "principal": r.Principal, "reason": r.Reason,
		"time": r.Time.UTC().Format(time.RFC3339),
		"chat": newChat(title, desc, nil, key, title, string(KindReleased), r.Guarded.Account, r.Guarded.Region, string(KindReleased)),
	})
	return string(b), err
}
