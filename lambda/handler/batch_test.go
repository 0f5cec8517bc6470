package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/s3xguard/s3xguard/lambda/alert"
	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/state"
)

// downTable is a state table that does not answer: every alert is then
// sent without deduplication, straight to the publisher.
type downTable struct{}

var errDown = errors.New("table down")

func (downTable) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errDown
}
func (downTable) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errDown
}
func (downTable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errDown
}
func (downTable) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errDown
}

// gate is a publisher that counts the publishes in flight, holds each
// until hold returns, and fails the messages named in fail.
type gate struct {
	mu            sync.Mutex
	inFlight, max int
	started       []string
	hold          func(inFlight int)
	fail          map[string]bool
}

var msgName = regexp.MustCompile(`message-\d+`)

func (g *gate) Publish(ctx context.Context, m alert.Message) error {
	name := msgName.FindString(m.Body)
	g.mu.Lock()
	g.inFlight++
	g.max = max(g.max, g.inFlight)
	g.started = append(g.started, name)
	n := g.inFlight
	g.mu.Unlock()
	g.hold(n)
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	if g.fail[name] {
		return fmt.Errorf("publish %s: refused", name)
	}
	return nil
}

// batchHandler is a handler whose every message is an invalid input (a
// different queue each, so a different dedup key) alerted through g.
func batchHandler(g *gate, parallel int, logs *bytes.Buffer) *Handler {
	return &Handler{
		Config: &config.Config{Mode: config.ModeAlert, DedupWindow: time.Minute, AccountID: "123456789012", Region: "us-east-1",
			BatchParallelism: parallel},
		Store:  &state.Store{DB: downTable{}, Table: "t"},
		Alerts: g,
		Log:    slog.New(slog.NewJSONHandler(&syncWriter{w: logs}, nil)),
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func sqsPayload(t *testing.T, n int) []byte {
	var ev events.SQSEvent
	for i := range n {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), EventSource: "aws:sqs",
			EventSourceARN: fmt.Sprintf("arn:aws:sqs:us-east-1:123456789012:q%d", i), Body: fmt.Sprintf("message-%d", i)})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func failures(r events.SQSEventResponse) []string {
	var ids []string
	for _, f := range r.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func errorLines(logs string) []string {
	var ids []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) && strings.Contains(l, "event failed") {
			var v struct {
				MessageID string `json:"messageId"`
			}
			json.Unmarshal([]byte(l), &v)
			ids = append(ids, v.MessageID)
		}
	}
	slices.Sort(ids)
	return ids
}

// Ten messages, three at once: the first three are held until all three
// are in flight (so the bound is reached, not only respected), no fourth
// ever starts beside them, and exactly the failed ones are reported, in
// the batch's order, each with one ERROR line.
func TestBatchBoundedParallelism(t *testing.T) {
	const n, parallel = 10, 3
	full := make(chan struct{})
	var once sync.Once
	g := &gate{fail: map[string]bool{"message-1": true, "message-4": true, "message-9": true}}
	g.hold = func(inFlight int) {
		if inFlight == parallel {
			once.Do(func() { close(full) })
		}
		select {
		case <-full:
		case <-time.After(10 * time.Second):
		}
	}
	var logs bytes.Buffer
	h := batchHandler(g, parallel, &logs)
	var m tally
	r, sq := route(sqsPayload(t, n))
	if r != routeSQS {
		t.Fatal("not read as a batch")
	}
	resp := h.batch(context.Background(), budget{}, sq, &m)
	select {
	case <-full:
	default:
		t.Fatalf("never %d publishes in flight at once (max %d)", parallel, g.max)
	}
	if g.max != parallel {
		t.Errorf("max in flight %d; want %d", g.max, parallel)
	}
	if got, want := failures(resp), []string{"m1", "m4", "m9"}; !slices.Equal(got, want) {
		t.Errorf("batchItemFailures %v; want %v", got, want)
	}
	if got, want := errorLines(logs.String()), []string{"m1", "m4", "m9"}; !slices.Equal(got, want) {
		t.Errorf("ERROR lines for %v; want %v\n%s", got, want, logs.String())
	}
	if len(g.started) != n || m.Events != n || m.Invalid != n || m.Alerts != n-3 {
		t.Errorf("started %d, tally %+v; want %d events, all invalid, %d alerts", len(g.started), m, n, n-3)
	}
}

// When the work time left falls below the reserve while every slot is
// busy, the messages not yet started are reported with the failed one,
// and never started.
func TestBatchStopsAtTheReserve(t *testing.T) {
	const n, parallel = 7, 2
	b := budget{work: time.Now().Add(2 * time.Second), reserve: time.Second}
	g := &gate{fail: map[string]bool{"message-0": true}}
	// The first two hold their slots until less than the reserve is left.
	g.hold = func(int) { time.Sleep(time.Until(b.work.Add(-b.reserve)) + 100*time.Millisecond) }
	var logs bytes.Buffer
	h := batchHandler(g, parallel, &logs)
	var m tally
	_, sq := route(sqsPayload(t, n))
	resp := h.batch(context.Background(), b, sq, &m)
	if got, want := failures(resp), []string{"m0", "m2", "m3", "m4", "m5", "m6"}; !slices.Equal(got, want) {
		t.Errorf("batchItemFailures %v; want %v", got, want)
	}
	slices.Sort(g.started)
	if want := []string{"message-0", "message-1"}; !slices.Equal(g.started, want) {
		t.Errorf("started %v; want %v", g.started, want)
	}
	if got := errorLines(logs.String()); !slices.Equal(got, []string{"m0"}) {
		t.Errorf("ERROR lines for %v; want m0 only", got)
	}
	if m.Events != 2 {
		t.Errorf("tally %+v; want 2 events", m)
	}
}
