package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/s3xguard/s3xguard/lambda/config"
	"github.com/s3xguard/s3xguard/rules"
)

// BuildFunction builds the function from lambda/ into a new directory under
// dir: bootstrap for linux/arm64 (provided.al2023 on Graviton) and the
// allowlist beside it as allowlist.yaml, validated first so a bad allowlist
// fails the synth instead of the cold start. The allowlist's digest is
// linked into the bootstrap (config.PinFlag): the function then loads that
// allowlist or none, whatever its configuration says. repoRoot is the
// module root.
func BuildFunction(repoRoot, allowlist, dir string) (string, error) {
	data, err := os.ReadFile(allowlist)
	if err != nil {
		return "", fmt.Errorf("allowlist: %w", err)
	}
	if _, err := rules.Parse(allowlist, data); err != nil {
		return "", fmt.Errorf("allowlist: %w", err)
	}
	out, err := os.MkdirTemp(dir, "s3xguard-function-")
	if err != nil {
		return "", err
	}
	ldflags := "-s -w " + config.PinFlag(config.AllowlistDigest(data))
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(out, "bootstrap"), "./lambda")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./lambda: %v\n%s", err, strings.TrimSpace(string(msg)))
	}
	if err := os.WriteFile(filepath.Join(out, "allowlist.yaml"), data, 0o644); err != nil {
		return "", err
	}
	return out, nil
}

// RepoRoot finds the module root (the directory holding go.mod) from dir up.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// Builder returns Functions that compile the function once and bundle
// each allowlist beside a copy of it, under dir.
func Builder(repoRoot, dir string) Functions {
	var bootstrap string
	built := map[string]string{}
	return func(allowlist string) (string, error) {
		if d, ok := built[allowlist]; ok {
			return d, nil
		}
		var out string
		var err error
		if bootstrap == "" {
			out, err = BuildFunction(repoRoot, allowlist, dir)
			if err != nil {
				return "", err
			}
			bootstrap = filepath.Join(out, "bootstrap")
		} else {
			out, err = bundleWith(bootstrap, allowlist, dir)
			if err != nil {
				return "", err
			}
		}
		built[allowlist] = out
		return out, nil
	}
}

// bundleWith copies a built bootstrap into a new directory under dir with
// allowlist beside it.
func bundleWith(bootstrap, allowlist, dir string) (string, error) {
	if _, err := rules.Load(allowlist); err != nil {
		return "", fmt.Errorf("allowlist: %w", err)
	}
	out, err := os.MkdirTemp(dir, "s3xguard-function-")
	if err != nil {
		return "", fmt.Errorf("bundle %s: %w", allowlist, err)
	}
	for src, dst := range map[string]string{bootstrap: "bootstrap", allowlist: "allowlist.yaml"} {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("bundle: %w", err)
		}
		mode := os.FileMode(0o644)
		if dst == "bootstrap" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(out, dst), data, mode); err != nil {
			return "", fmt.Errorf("bundle: %w", err)
		}
	}
	return out, nil
}
