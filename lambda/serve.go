package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/lambda/handler"
)

// serve runs the function inside AWS Lambda (AWS_LAMBDA_RUNTIME_API set).
// Everything that can be checked once is checked here, before the first
// event: a bad configuration or allowlist fails the cold start with an
// error that names it, instead of failing every event.
func serve() {
	ctx := context.Background()
	h, err := newHandler(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "s3xguard: cold start: %v\n", err)
		os.Exit(1)
	}
	lambda.StartHandler(h)
}

func newHandler(ctx context.Context) (*handler.Handler, error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := handler.LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	return handler.New(cfg, awsCfg, os.Stdout)
}
