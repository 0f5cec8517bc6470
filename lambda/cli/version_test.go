package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/s3xguard/s3xguard/rules"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name     string
		override string
		bi       *debug.BuildInfo
		want     string
	}{
		{"override wins", "v9.9.9", &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}}, "v9.9.9"},
		{"no build info", "", nil, "(unknown)"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs("vcs.revision", "0123456789abcdef")}, "v1.2.3"},
		{"revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-11-25T17:00:00Z", "vcs.modified", "false")},
			"0123456789ab 2026-11-25T17:00:00Z"},
		{"modified", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true")},
			"0123456789ab+dirty"},
		{"no vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("-buildvcs", "false")}, "(devel)"},
	}
	for _, tt := range tests {
		if got := buildVersion(tt.override, tt.bi); got != tt.want {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestVersionAllowlistFormat checks that the format version printed is the
// one the loader accepts, and the next one is refused.
func TestVersionAllowlistFormat(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run([]string{"version"}, nil, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "s3xguard ") {
		t.Fatalf("got %q", out.String())
	}
	v, ok := strings.CutPrefix(lines[1], "allowlist format version ")
	if !ok {
		t.Fatalf("got %q; want allowlist format version N", lines[1])
	}
	if _, err := rules.Parse("a.yaml", []byte("version: "+v+"\nallow: []\n")); err != nil {
		t.Errorf("version %s printed, but the loader refuses it: %v", v, err)
	}
	if _, err := rules.Parse("a.yaml", []byte("version: "+v+"0\nallow: []\n")); err == nil {
		t.Errorf("the loader accepts version %s0 too", v)
	}
	if code := Run([]string{"version", "x"}, nil, &out, &errb); code != exitUsage {
		t.Errorf("version x: exit %d; want %d", code, exitUsage)
	}
}
