package harness

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Proxy sits between the function and moto on a loopback port. It counts
// the AWS API calls that pass (service:Action), and injects faults: an HTTP
// error, the service's throttling error, a hang until the caller gives up,
// a lost response (the call reaches moto and takes effect, then the
// connection is reset before the answer), or a late one (it takes effect,
// and the answer is held until the caller gives up).
type Proxy struct {
	URL string

	mu     sync.Mutex
	calls  map[string]int
	faults []*Fault
	hung   chan struct{} // closed by Clear: releases hanging requests
}

// Fault is one injected failure. Service is the signing name (sns,
// s3express, dynamodb, iam, sts); Action, when set, narrows it to one action
// as the proxy names it (Publish, PutItem, "PUT?policy", "GET?policy").
// Exactly one of Status, Throttle, Hang, Lost, Late says what happens.
type Fault struct {
	Service, Action string
	Status          int // answer this HTTP status, without forwarding
	// Code and Message, with Status, answer as S3 does (an <Error> with
	// that code and message), e.g. MalformedPolicy "Invalid principal in
	// policy" for a policy naming a deleted principal, which moto accepts.
	Code, Message string
	// BodyContains narrows the fault to requests whose body contains it.
	BodyContains string
	Throttle     bool // answer the service's own throttling error
	Hang         bool // hold the request until the caller gives up
	Lost         bool // forward, then reset the connection: the answer is lost
	Late         bool // forward, then hold the answer until the caller gives up
	// Times is how many matching calls it hits; 0 means until cleared.
	Times int
	hits  int
}

// Hits is how many calls the fault has hit so far.
func (f *Fault) Hits(p *Proxy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return f.hits
}

// StartProxy starts a proxy to target (moto's URL), stopped when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{URL: "http://" + l.Addr().String(), calls: map[string]int{}, hung: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service, action := identify(r)
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		p.mu.Lock()
		p.calls[service+":"+action]++
		f := p.match(service, action, body)
		var fault Fault
		if f != nil {
			f.hits++
			fault = *f
		}
		hung := p.hung
		p.mu.Unlock()
		switch {
		case fault.Status != 0 && fault.Code != "":
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(fault.Status)
			fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message><RequestId>injected</RequestId></Error>", fault.Code, fault.Message)
		case fault.Status != 0:
			w.WriteHeader(fault.Status)
			fmt.Fprintf(w, "<ErrorResponse><Error><Code>InjectedFault</Code><Message>injected by the test proxy</Message></Error></ErrorResponse>")
		case fault.Throttle:
			throttle(w, r)
		case fault.Hang:
			select {
			case <-r.Context().Done():
			case <-hung:
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case fault.Late:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			select {
			case <-r.Context().Done():
			case <-hung:
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
			}
		case fault.Lost:
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						tc.SetLinger(0) // RST, not FIN
					}
					conn.Close()
				}
			}
		default:
			rp.ServeHTTP(w, r)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() {
		p.Clear()
		srv.Close()
	})
	return p
}

// match is the first live fault for a call; p.mu is held.
func (p *Proxy) match(service, action string, body []byte) *Fault {
	for _, f := range p.faults {
		if f.Service == service && (f.Action == "" || f.Action == action) && (f.Times == 0 || f.hits < f.Times) &&
			(f.BodyContains == "" || bytes.Contains(body, []byte(f.BodyContains))) {
			return f
		}
	}
	return nil
}

// throttle answers as the service does when it throttles, so the SDK sees
// a throttling error (and its retryer treats it as one).
func throttle(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Header.Get("X-Amz-Target") != "": // JSON protocols (DynamoDB)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}`)
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"): // query protocols (SNS, IAM, STS)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>injected</RequestId></ErrorResponse>`)
	default: // REST XML (S3)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}
}

// Inject adds a fault; earlier faults win when several match a call.
func (p *Proxy) Inject(f *Fault) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
	return f
}

// Clear removes every fault and releases hanging requests.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
	close(p.hung)
	p.hung = make(chan struct{})
}

// Fail makes every call to service (the signing name: sns, s3express,
// dynamodb, iam, sts) answer status; 0 stops failing that service.
func (p *Proxy) Fail(service string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.faults[:0]
	for _, f := range p.faults {
		if f.Service != service {
			kept = append(kept, f)
		}
	}
	p.faults = kept
	if status != 0 {
		p.faults = append(p.faults, &Fault{Service: service, Status: status})
	}
}

// Calls returns the calls counted since the last Reset, by service:Action.
func (p *Proxy) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.calls))
	for k, v := range p.calls {
		out[k] = v
	}
	return out
}

// Reset zeroes the counts.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = map[string]int{}
}

// FormatCalls renders counts sorted, e.g. "dynamodb:GetItem=1 sns:Publish=1".
func FormatCalls(c map[string]int) string {
	var parts []string
	for k, v := range c {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/`)
var formAction = regexp.MustCompile(`(?:^|&)Action=([A-Za-z]+)`)

// identify names a request by its signing service and API action.
func identify(r *http.Request) (service, action string) {
	service = "unknown"
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		service = m[1]
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return service, t[strings.LastIndexByte(t, '.')+1:]
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if m := formAction.FindSubmatch(body); m != nil {
			return service, string(m[1])
		}
	}
	// REST (S3): the method and the subresource.
	sub := ""
	for k := range r.URL.Query() {
		if k != "x-id" {
			sub = k
			break
		}
	}
	if id := r.URL.Query().Get("x-id"); id != "" {
		return service, id
	}
	return service, r.Method + "?" + sub
}
