package handler

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/s3xguard/s3xguard/lambda/config"
)

// Start runs the function inside AWS Lambda (AWS_LAMBDA_RUNTIME_API set)
// and never returns. Everything that can be checked once is checked here,
// before the first event: a bad configuration or allowlist fails the cold
// start with an error that names it, instead of failing every event.
func Start() {
	ctx := context.Background()
	h, err := fromEnv(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "s3xguard: cold start: %v\n", err)
		os.Exit(1)
	}
	lambda.StartHandler(h)
}

func fromEnv(ctx context.Context) (*Handler, error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	return New(cfg, awsCfg, os.Stdout)
}
