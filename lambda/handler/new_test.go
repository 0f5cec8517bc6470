package handler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3xguard/s3xguard/lambda/config"
)

// The cold start runs the allowlist the stack bundled, or none: a file
// whose hash is not ALLOWLIST_SHA256 fails, naming both hashes.
func TestLoadAllowlistChecksTheHash(t *testing.T) {
	bundled := []byte("version: 1\nallow:\n  - name: etl\n    principals: [\"arn:aws:iam::123456789012:role/etl\"]\n")
	changed := append([]byte(nil), bundled...)
	changed = append(changed, "  - name: all\n    principals: [\"arn:aws:iam::123456789012:role/*\"]\n"...)
	path := filepath.Join(t.TempDir(), "allowlist.yaml")
	want := config.AllowlistDigest(bundled)

	if err := os.WriteFile(path, bundled, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{want, ""} {
		if a, err := LoadAllowlist(path, w); err != nil || len(a.Entries) != 1 {
			t.Fatalf("ALLOWLIST_SHA256=%q, the bundled file: %v", w, err)
		}
	}

	if err := os.WriteFile(path, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadAllowlist(path, want)
	if err == nil || !strings.Contains(err.Error(), config.AllowlistDigest(changed)) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Fatalf("a changed allowlist: got %v; want an error naming the file and both hashes", err)
	}
	if a, err := LoadAllowlist(path, ""); err != nil || len(a.Entries) != 2 {
		t.Fatalf("without ALLOWLIST_SHA256 the file is loaded as it is: %v", err)
	}
}

// Only a call that was sent and got no answer may have taken effect.
func TestMaybeDelivered(t *testing.T) {
	sent := &smithyhttp.RequestSendError{Err: errors.New("read: connection reset by peer")}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"answer lost", fmt.Errorf("publish: %w", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{}}, Err: sent}), true},
		{"attempt timed out", fmt.Errorf("publish: %w", context.DeadlineExceeded), true},
		{"never connected", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, false},
		{"throttled", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}}, Err: errors.New("Throttling")}, false},
		{"500", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}}, Err: errors.New("InternalError")}, false},
	} {
		if got := MaybeDelivered(c.err); got != c.want {
			t.Errorf("%s: MaybeDelivered = %v; want %v", c.name, got, c.want)
		}
	}
}
