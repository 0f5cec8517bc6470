package handler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/s3xguard/s3xguard/lambda/alert"
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

// EventBridgeAPI is the part of the EventBridge client the emitter uses.
type EventBridgeAPI interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Emitter puts s3xguard events on one bus.
type Emitter struct {
	API EventBridgeAPI
	// Bus is the event bus name or ARN.
	Bus string
}

// NewEmitter returns an emitter for bus, or nil when bus is empty.
func NewEmitter(awsCfg aws.Config, bus string) *Emitter {
	if bus == "" {
		return nil
	}
	return &Emitter{API: eventbridge.NewFromConfig(awsCfg), Bus: bus}
}

// Put puts one event. PutEvents answers 200 with a failed entry (e.g.
// throttled, too large): that is an error too.
func (e *Emitter) Put(ctx context.Context, detailType, detail string) error {
	ctx, cancel := context.WithTimeout(ctx, BusTimeout)
	defer cancel()
	out, err := e.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(e.Bus), Source: aws.String(BusSource), DetailType: aws.String(detailType), Detail: aws.String(detail),
	}}})
	if err != nil {
		return fmt.Errorf("put %q event on bus %q: %w", detailType, e.Bus, err)
	}
	if out.FailedEntryCount > 0 {
		code, msg := "", ""
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
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
