package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// credentialScope is the access key and region of a SigV4 Authorization
// header: Credential=AKID/DATE/REGION/SERVICE/aws4_request.
var credentialScope = regexp.MustCompile(`Credential=([^/]+)/\d+/([^/]+)/`)

// TestAWSFlags: --profile and --region of doctor and quarantine reach the
// requests they sign (the access key and region of SigV4's credential
// scope), over AWS_PROFILE's and AWS_REGION's; without them, the
// environment decides. The server answers every call with an error code
// for doctor to judge: an unknown function is a finding (exit 1), access
// denied means doctor could not run (exit 2).
func TestAWSFlags(t *testing.T) {
	var mu sync.Mutex
	var scopes []string
	errorCode := "ResourceNotFoundException"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
		if m != nil {
			scopes = append(scopes, m[1]+" "+m[2])
		}
		code := errorCode
		mu.Unlock()
		w.Header().Set("X-Amzn-ErrorType", code)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"` + code + `","message":"from the test"}`))
	}))
	defer srv.Close()

	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("AWS_CONFIG_FILE", write("config", "[profile ops]\nregion = eu-west-3\n"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", write("credentials", "[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = s\n"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)

	doctor := []string{"doctor", "--function", "s3xguard"}
	quarantine := []string{"quarantine", "list", "--bucket", "b--use1-az4--x-s3", "--table", "t"}
	for _, tt := range []struct {
		args      []string
		envRegion string
		errorCode string
		code      int
		scope     string
	}{
		{doctor, "us-east-1", "ResourceNotFoundException", exitFindings, "AKIDENV us-east-1"},
		{append(doctor, "--region", "ap-south-2"), "us-east-1", "ResourceNotFoundException", exitFindings, "AKIDENV ap-south-2"},
		// AWS_REGION wins over the profile's region, as in every SDK and the AWS CLI.
		{append(doctor, "--profile", "ops"), "us-east-1", "ResourceNotFoundException", exitFindings, "AKIDOPS us-east-1"},
		{append(doctor, "--profile", "ops"), "", "ResourceNotFoundException", exitFindings, "AKIDOPS eu-west-3"},
		{append(doctor, "--profile", "ops", "--region", "ap-south-2"), "us-east-1", "ResourceNotFoundException", exitFindings, "AKIDOPS ap-south-2"},
		{doctor, "us-east-1", "AccessDeniedException", exitUsage, "AKIDENV us-east-1"},
		{append(quarantine, "--profile", "ops"), "", "AccessDeniedException", exitUsage, "AKIDOPS eu-west-3"},
		{append(quarantine, "--region", "ap-south-2"), "us-east-1", "AccessDeniedException", exitUsage, "AKIDENV ap-south-2"},
	} {
		t.Setenv("AWS_REGION", tt.envRegion)
		mu.Lock()
		scopes, errorCode = nil, tt.errorCode
		mu.Unlock()
		var stdout, stderr bytes.Buffer
		code := Run(tt.args, nil, &stdout, &stderr)
		mu.Lock()
		got := scopes
		mu.Unlock()
		if code != tt.code {
			t.Errorf("%q (%s): exit %d; want %d\nstdout: %s\nstderr: %s", tt.args, tt.errorCode, code, tt.code, stdout.String(), stderr.String())
		}
		if len(got) == 0 || got[0] != tt.scope {
			t.Errorf("%q: signed as %q; want %q first", tt.args, got, tt.scope)
		}
		// S3 answers in XML, not this server's JSON: doctor's reason only.
		if tt.code == exitUsage && tt.args[0] == "doctor" && !strings.Contains(stderr.String(), tt.errorCode) {
			t.Errorf("%q: stderr %q; want the reason, %s", tt.args, stderr.String(), tt.errorCode)
		}
	}
}
