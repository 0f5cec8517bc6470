// Command infra is the s3xguard CDK app: `npx cdk deploy --all` from this
// directory, with the deployment's choices in a config file
// (`-c config=FILE`, default s3xguard.example.json).
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/s3xguard/s3xguard/infra/stack"
)

const usage = `usage: go run . [-c KEY=VALUE ...]    (or: npx cdk synth|deploy [-c config=FILE])

The CDK CLI passes its context (-c) to the app in the environment; run
directly, the app takes the same -c KEY=VALUE (--context) arguments, and
no others.`

// errUsage marks a command line the app does not take.
var errUsage = errors.New("usage")

func main() {
	defer jsii.Close()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "s3xguard infra: error: %v\n", err)
		if errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	context, err := parseArgs(args)
	if err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &context})
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

// parseArgs reads -c KEY=VALUE and --context KEY=VALUE (also -c=KEY=VALUE),
// as the CDK CLI spells them. Anything else is refused: an ignored
// argument would synthesize the example configuration in its place.
func parseArgs(args []string) (map[string]any, error) {
	context := map[string]any{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		var kv string
		switch {
		case arg == "-c" || arg == "--context":
			if i+1 == len(args) {
				return nil, fmt.Errorf("%s needs KEY=VALUE: %w", arg, errUsage)
			}
			i++
			kv = args[i]
		case strings.HasPrefix(arg, "-c="), strings.HasPrefix(arg, "--context="):
			_, kv, _ = strings.Cut(arg, "=")
		default:
			return nil, fmt.Errorf("unknown argument %q: %w", arg, errUsage)
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("context %q: want KEY=VALUE: %w", kv, errUsage)
		}
		context[k] = v
	}
	return context, nil
}
