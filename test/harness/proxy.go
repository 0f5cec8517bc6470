package harness

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Proxy sits between the function and moto on a loopback port. It counts
// the AWS API calls that pass (service:Action), and can fail a service's
// calls with an HTTP status, as AWS does when throttling or broken.
type Proxy struct {
	URL string

	mu     sync.Mutex
	calls  map[string]int
	faults map[string]int // service -> status to answer with
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
	p := &Proxy{URL: "http://" + l.Addr().String(), calls: map[string]int{}, faults: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service, action := identify(r)
		p.mu.Lock()
		p.calls[service+":"+action]++
		status := p.faults[service]
		p.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, "<ErrorResponse><Error><Code>InjectedFault</Code><Message>injected by the test proxy</Message></Error></ErrorResponse>")
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return p
}

// Fail makes every call to service (the signing name: sns, s3express,
// dynamodb, iam, sts) answer status; 0 stops failing.
func (p *Proxy) Fail(service string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[service] = status
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
