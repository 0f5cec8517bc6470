package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Functions returns the function's directory (BuildFunction) for an
// allowlist path: targets may bundle different allowlists.
type Functions func(allowlist string) (string, error)

// AddStages adds one Stage per target to app, each holding a Guard stack
// built from the target's config (Config.For), and applies cdk-nag's
// AwsSolutions checks to all of them. With an organization, targets
// override members of the StackSet instead (AddOrganization).
func AddStages(app awscdk.App, cfg *Config, functions Functions) ([]*Guard, error) {
	var out []*Guard
	if cfg.Organization != nil {
		return nil, nil
	}
	for _, t := range cfg.Targets {
		tcfg := cfg.For(t)
		functionDir, err := functions(tcfg.AllowlistPath())
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name(), err)
		}
		stage := awscdk.NewStage(app, jsii.String(fmt.Sprintf("s3xguard-%s-%s", t.Account, t.Region)), &awscdk.StageProps{
			Env: &awscdk.Environment{Account: jsii.String(t.Account), Region: jsii.String(t.Region)},
		})
		// Aspects do not cross Stage boundaries: apply the checks per stage.
		awscdk.Aspects_Of(stage).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		g, err := NewGuardStack(stage, "Guard", tcfg, functionDir, &awscdk.StackProps{
			Description: jsii.String("s3xguard: guard for S3 Express One Zone directory buckets"),
		})
		if err != nil {
			return nil, fmt.Errorf("target %s/%s: %w", t.Account, t.Region, err)
		}
		out = append(out, g)
	}
	return out, nil
}
