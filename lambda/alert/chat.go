package alert

import (
	"fmt"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/lambda/printable"
)

// Chat is a notification in the custom-notification schema of Amazon Q
// Developer in chat applications (formerly AWS Chatbot), which renders
// nothing else from SNS. It travels inside the alert's document ("chat"),
// and a rule on ALERT_BUS sends $.detail.chat, unchanged, to the chat
// topic: the alert topic's subscribers keep the document.
type Chat struct {
	Version  string       `json:"version"`
	Source   string       `json:"source"`
	Content  ChatContent  `json:"content"`
	Metadata ChatMetadata `json:"metadata"`
}

// ChatContent is what the chat client shows.
type ChatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// ChatMetadata threads the alerts of one incident, and its release, in
// one conversation.
type ChatMetadata struct {
	ThreadID  string `json:"threadId"`
	Summary   string `json:"summary"`
	EventType string `json:"eventType"`
}

// chatText bounds the chat message: a chat post is read, not parsed.
const chatText = 1000

func newChat(title, description string, steps []string, key, summary, eventType string, keywords ...string) Chat {
	var kw []string
	for _, k := range keywords {
		if k != "" {
			kw = append(kw, clip(printable.Escape(k), 100))
		}
	}
	var st []string
	for _, s := range steps {
		st = append(st, clip(md(s), chatText))
	}
	return Chat{Version: "1.0", Source: "custom",
		Content: ChatContent{TextType: "client-markdown", Title: clip(md(title), 250), Description: clip(description, 4*chatText),
			NextSteps: st, Keywords: kw},
		Metadata: ChatMetadata{ThreadID: key, Summary: clip(md(summary), 250), EventType: eventType}}
}

func (a *Alert) chat(r *cloudtrail.Record, steps []string) Chat {
	who := principalName(a.Decision.Principal, r)
	title := fmt.Sprintf(":rotating_light: s3xguard %s: %s %s on %s", strings.ToUpper(a.Severity.String()), a.Kind, orDash(r.EventName), orDash(r.Bucket))
	var d strings.Builder
	field := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&d, "*%s:* %s\n", label, code(v))
		}
	}
	field("Guarded", a.Guarded.Account+" "+a.Guarded.Region)
	field("Principal", who)
	field("Operation", r.EventName)
	field("Bucket", r.Bucket)
	field("Source IP", r.SourceIPAddress)
	field("Event ID", r.EventID)
	field("Response", a.Response.Action)
	if len(a.Decision.Reasons) > 0 {
		field("Why", a.Decision.Reasons[0])
	}
	fmt.Fprintf(&d, "*Runbook:* %s", a.Runbook())
	return newChat(title, d.String(), steps, a.IncidentKey(), title, string(a.Kind),
		a.Guarded.Account, a.Guarded.Region, string(a.Kind), a.Severity.String(), r.Bucket)
}

// code quotes a caller-written value as inline code, so that chat shows it
// as written rather than as markup (links, mentions, emphasis).
func code(s string) string {
	return "`" + strings.ReplaceAll(clip(printable.Escape(s), chatText), "`", "'") + "`"
}

// md keeps a line of s3xguard's own text (holding values already checked
// or escaped) from breaking out of its line.
func md(s string) string { return printable.Escape(s) }
