package harness

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every test uses.
const Region = "us-east-1"

// Account is moto's default account ID.
const Account = "123456789012"

// AWSConfig returns an SDK configuration that sends every client to
// endpoint (moto) with static test credentials.
func AWSConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		// Tests count calls and inject failures themselves.
		RetryMaxAttempts: 1,
		// A fresh connection per request: moto's server may close an idle
		// keep-alive connection just as a request is written on it, which
		// surfaced as a failed setup call ("use of closed network
		// connection") with no retry to absorb it.
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.DisableKeepAlives = true
		}),
	}
}

// SetupConfig is AWSConfig for a test's own setup and reads, which go to
// moto directly (not through the proxy): they retry, since a transient
// failure there says nothing about the code under test.
func SetupConfig(endpoint string) aws.Config {
	cfg := AWSConfig(endpoint)
	cfg.RetryMaxAttempts = 5
	return cfg
}

// FunctionEnv returns the environment that points the function's SDK
// clients at endpoint (moto): the variables the SDK reads itself, plus the
// S3 Express switch that a custom endpoint needs (FACTS section 2).
func FunctionEnv(endpoint string) map[string]string {
	return map[string]string{
		"AWS_REGION":                          Region,
		"ACCOUNT_ID":                          Account,
		"AWS_DEFAULT_REGION":                  Region,
		"AWS_ACCESS_KEY_ID":                   "testing",
		"AWS_SECRET_ACCESS_KEY":               "testing",
		"AWS_ENDPOINT_URL":                    endpoint,
		"AWS_S3_DISABLE_EXPRESS_SESSION_AUTH": "true",
	}
}
