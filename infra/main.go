// Command infra is the s3xguard CDK app: `npx cdk deploy --all` from this
// directory, with the deployment's choices in a config file
// (`-c config=FILE`, default s3xguard.example.json).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/s3xguard/s3xguard/infra/stack"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "s3xguard infra: error: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	path := "s3xguard.example.json"
	if v, ok := app.Node().TryGetContext(jsii.String("config")).(string); ok && v != "" {
		path = v
	}
	cfg, err := stack.Load(path)
	if err != nil {
		return err
	}
	root, err := stack.RepoRoot(".")
	if err != nil {
		return err
	}
	functions := stack.Builder(root, os.TempDir())
	if _, err := stack.AddStages(app, cfg, functions); err != nil {
		return err
	}
	if cfg.Organization != nil {
		if _, err := stack.AddOrganization(app, cfg, functions, os.TempDir()); err != nil {
			return err
		}
	}
	app.Synth(nil)
	return nil
}
