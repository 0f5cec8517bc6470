package cli

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/s3xguard/s3xguard/rules"
)

// version overrides the version read from the build information:
// go build -ldflags "-X github.com/s3xguard/s3xguard/lambda/cli.version=v1.2.3" ./lambda/cmd/s3xguard
var version string

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: s3xguard version") }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fmt.Fprintf(stdout, "s3xguard %s (%s)\nallowlist format version %s\n", buildVersion(version, bi), runtime.Version(), rules.FormatVersion)
	return exitOK
}

// buildVersion names the build: the -X override, else the main module's
// version (a release tag with go install, or the version Go derives from
// the repository's tags), else the VCS revision with its time and
// "+dirty" when the work tree had changes, else "(devel)": a build without
// VCS information (-buildvcs=false, or outside a repository).
func buildVersion(override string, bi *debug.BuildInfo) string {
	if override != "" {
		return override
	}
	if bi == nil {
		return "(unknown)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "(devel)"
	}
	v := rev[:min(12, len(rev))]
	if modified == "true" {
		v += "+dirty"
	}
	if at != "" {
		v += " " + at
	}
	return v
}
