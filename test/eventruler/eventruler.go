// Package eventruler matches EventBridge patterns against events with
// event-ruler (Maven software.amazon.event.ruler:event-ruler), the library
// EventBridge itself matches with. test/tools.sh installs it and compiles
// java/Match.java into .tools/eventruler; EVENT_RULER_CLASSPATH says where.
package eventruler

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ClasspathEnv names the variable that holds the matcher's Java classpath.
const ClasspathEnv = "EVENT_RULER_CLASSPATH"

// Match matches every event against every pattern in one JVM run and
// returns, for each event, the names of the patterns it matches (sorted).
// Events must be single-line JSON. A pattern event-ruler refuses, or an
// event it cannot read, is an error naming it.
func Match(ctx context.Context, classpath string, patterns map[string][]byte, events [][]byte) ([][]string, error) {
	dir, err := os.MkdirTemp("", "eventruler")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{"-cp", classpath, "Match"}
	for name, p := range patterns {
		if strings.ContainsAny(name, "= \n") {
			return nil, fmt.Errorf("pattern name %q: no '=', space or newline", name)
		}
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, p, 0o644); err != nil {
			return nil, err
		}
		args = append(args, name+"="+f)
	}
	var in bytes.Buffer
	for i, e := range events {
		if bytes.ContainsAny(e, "\r\n") {
			return nil, fmt.Errorf("event %d: not a single line", i)
		}
		in.Write(e)
		in.WriteByte('\n')
	}
	cmd := exec.CommandContext(ctx, "java", args...)
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("event-ruler: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(events) == 0 {
		lines = nil
	}
	if len(lines) != len(events) {
		return nil, fmt.Errorf("event-ruler: %d answers for %d events", len(lines), len(events))
	}
	res := make([][]string, len(lines))
	for i, l := range lines {
		if msg, ok := strings.CutPrefix(l, "!error "); ok {
			return nil, fmt.Errorf("event-ruler: event %d: %s", i, msg)
		}
		res[i] = strings.Fields(l)
	}
	return res, nil
}
