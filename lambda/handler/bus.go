package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/awscall"
	"github.com/s3xguard/s3xguard/lambda/quarantine"
)

// The bus event contract (ALERT_BUS): rules on the bus route alerts to
// chat, PagerDuty and webhooks (infra/stack/routing.go), and an
// organization's central account consumes them.
const (
	BusSource = "s3xguard"
	// DetailTypeAlert carries the alert's JSON document, the one SNS
	// subscribers get (alert.Message.Document).
	DetailTypeAlert = "s3xguard alert"
	// DetailTypeReleased carries alert.Released's document, with the
	// dedupKey of the alerts it resolves.
	DetailTypeReleased = "s3xguard quarantine released"
)

// BusTimeout bounds one PutEvents, retries included: the bus is a copy of
// the page, never a reason to hold the invocation.
const BusTimeout = 2 * time.Second

// EventBridgeAPI is the PutEvents the emitter uses.
type EventBridgeAPI interface {
	PutEvents(context.Context, []BusEntry) (*PutEventsOutput, error)
}

// BusEntry is one entry of a PutEvents request.
type BusEntry struct {
	EventBusName string `json:"EventBusName"`
	Source       string `json:"Source"`
	DetailType   string `json:"DetailType"`
	Detail       string `json:"Detail"`
}

// PutEventsOutput is PutEvents' answer: 200 even when entries failed;
// FailedEntryCount says how many, and each failed entry its error.
type PutEventsOutput struct {
	FailedEntryCount int              `json:"FailedEntryCount"`
	Entries          []BusEntryResult `json:"Entries"`
}

// BusEntryResult is one entry's outcome, in the order of the request.
type BusEntryResult struct {
	EventID      string `json:"EventId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// EventBridgeService is EventBridge to lambda/awscall: AWS_ENDPOINT_URL_EVENTBRIDGE,
// SigV4 name events, the SDK's endpoint rules.
var EventBridgeService = awscall.Service{SDKID: "EventBridge", SigningName: "events", Endpoint: eventBridgeEndpoint}

// eventBridgeEndpoint is the SDK's EventBridge endpoint rules without an
// EndpointId: the emitter puts on a bus, never through a global endpoint.
func eventBridgeEndpoint(ctx context.Context, p awscall.EndpointParams) (string, error) {
	ep, err := eventbridge.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, eventbridge.EndpointParameters{
		Region: aws.String(p.Region), Endpoint: p.Endpoint, UseFIPS: p.UseFIPS, UseDualStack: p.UseDualStack,
	})
	if err != nil {
		return "", err
	}
	return ep.URI.String(), nil
}

// EventBridge is PutEvents over AWS JSON 1.1, without the SDK's client
// (0.44 MiB of the bootstrap for this one call).
type EventBridge struct {
	*awscall.Client
}

// PutEvents puts entries (at most 10 a call).
func (c *EventBridge) PutEvents(ctx context.Context, entries []BusEntry) (*PutEventsOutput, error) {
	body, err := json.Marshal(struct {
		Entries []BusEntry `json:"Entries"`
	}{entries})
	if err != nil {
		return nil, fmt.Errorf("PutEvents of %d entries: %w", len(entries), err)
	}
	var out PutEventsOutput
	err = c.Do(ctx, awscall.Request{Op: "PutEvents", Path: "/", ContentType: "application/x-amz-json-1.1", Target: "AWSEvents.PutEvents", Body: body}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Emitter puts s3xguard events on one bus.
type Emitter struct {
	API EventBridgeAPI
	// Bus is the event bus name or ARN.
	Bus string
}

// NewEmitter returns an emitter for bus, or nil when bus is empty.
func NewEmitter(awsCfg aws.Config, bus string) (*Emitter, error) {
	if bus == "" {
		return nil, nil
	}
	c, err := awscall.New(awsCfg, EventBridgeService)
	if err != nil {
		return nil, fmt.Errorf("alert bus %q: %w", bus, err)
	}
	return &Emitter{API: &EventBridge{c}, Bus: bus}, nil
}

// Put puts one event. PutEvents answers 200 with a failed entry (e.g.
// throttled, too large): that is an error too.
func (e *Emitter) Put(ctx context.Context, detailType, detail string) error {
	ctx, cancel := context.WithTimeout(ctx, BusTimeout)
	defer cancel()
	out, err := e.API.PutEvents(ctx, []BusEntry{{EventBusName: e.Bus, Source: BusSource, DetailType: detailType, Detail: detail}})
	if err != nil {
		return fmt.Errorf("put %q event on bus %q: %w", detailType, e.Bus, err)
	}
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = out.Entries[0].ErrorCode, out.Entries[0].ErrorMessage
		}
		return fmt.Errorf("put %q event on bus %q: entry failed: %s: %s", detailType, e.Bus, code, msg)
	}
	return nil
}

// Released puts one "quarantine released" event per principal.
func (e *Emitter) Released(ctx context.Context, g alert.Place, bucket string, principals []string, reason string) (int, error) {
	now := time.Now()
	for i, p := range principals {
		doc, err := alert.Released{Guarded: g, Bucket: bucket, Principal: p, Reason: reason, Time: now}.Document()
		if err == nil {
			err = e.Put(ctx, DetailTypeReleased, doc)
		}
		if err != nil {
			return i, err
		}
	}
	return len(principals), nil
}

// emitAlert copies a sent page to the bus. A failure is counted and
// logged, never returned: the page went out, and a retry would repeat it.
func (h *Handler) emitAlert(ctx context.Context, msg alert.Message, m *tally, log *slog.Logger) {
	if h.Bus == nil {
		return
	}
	if err := h.Bus.Put(ctx, DetailTypeAlert, msg.Document); err != nil {
		m.BusFailed++
		log.WarnContext(ctx, "alert sent; its bus event was not", "error", err)
		return
	}
	m.BusEvents++
}

// emitReleased tells the bus of quarantines the sweep let expire, so the
// incidents their alerts opened are resolved.
func (h *Handler) emitReleased(ctx context.Context, n quarantine.Notice, m *tally, log *slog.Logger) {
	if h.Bus == nil || n.Kind != quarantine.NoticeExpired {
		return
	}
	done, err := h.Bus.Released(ctx, alert.Place{Account: h.Config.AccountID, Region: h.Config.Region}, n.Bucket, n.Principals, "expired")
	m.BusEvents += done
	if err != nil {
		m.BusFailed += len(n.Principals) - done
		log.WarnContext(ctx, "quarantine expired; its bus event was not sent", "bucket", n.Bucket, "error", err)
	}
}
