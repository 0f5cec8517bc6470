package cli

import (
	"flag"

	"github.com/aws/aws-sdk-go-v2/config"
)

// awsFlags are --profile and --region, for the commands that call AWS.
// Unset, the SDK's own sources decide (AWS_PROFILE, AWS_REGION, the shared
// config files); set, they win over them.
type awsFlags struct{ profile, region string }

func (a *awsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.profile, "profile", "", "the shared config `profile` for credentials and region (default: $AWS_PROFILE, else default)")
	fs.StringVar(&a.region, "region", "", "the AWS `region` (default: $AWS_REGION, else the profile's)")
}

func (a awsFlags) options() []func(*config.LoadOptions) error {
	var opts []func(*config.LoadOptions) error
	if a.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.profile))
	}
	if a.region != "" {
		opts = append(opts, config.WithRegion(a.region))
	}
	return opts
}
