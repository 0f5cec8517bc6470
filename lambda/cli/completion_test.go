package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// completer returns what the shell offers for line (the words typed so
// far; a trailing space starts an empty word), in dir.
type completer func(t *testing.T, dir, line string) []string

// script writes `s3xguard completion SHELL` into dir.
func script(t *testing.T, dir, shell string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Run([]string{"completion", shell}, nil, &out, &errb); code != exitOK {
		t.Fatalf("completion %s: exit %d: %s", shell, code, errb.String())
	}
	path := filepath.Join(dir, "s3xguard."+shell)
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func shellOutput(t *testing.T, dir string, name string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil || errb.Len() > 0 {
		t.Fatalf("%s %q: %v\nstderr: %s", name, args, err, errb.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	slices.Sort(got)
	return got
}

// bashComplete calls the function the script registers, as bash's
// programmable completion does, and applies its -o default: no reply means
// file names.
func bashComplete(script string) completer {
	return func(t *testing.T, dir, line string) []string {
		return shellOutput(t, dir, "bash", "--norc", "--noprofile", "-c", `
source "$1"
[[ $(complete -p s3xguard) == "complete -o default -F _s3xguard s3xguard" ]] || { echo "not registered: $(complete -p s3xguard)" >&2; exit 1; }
read -ra COMP_WORDS <<<"$2"
[[ $2 == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_s3xguard
if ((${#COMPREPLY[@]} == 0)); then compgen -f -- "${COMP_WORDS[COMP_CWORD]}"; else printf '%s\n' "${COMPREPLY[@]}"; fi
`, "bash", script, line)
	}
}

// zshComplete calls the completion function with compsys's helpers
// replaced by ones that print what they were given (_describe: the names
// of its specs, filtered by $PREFIX as compadd would; _files: the files).
func zshComplete(script string) completer {
	return func(t *testing.T, dir, line string) []string {
		return shellOutput(t, dir, "zsh", "-f", "-c", `
registered=""
compdef() { registered="$*" }
_describe() { local n; for n in "${(@)${(@P)${@[-1]}}%%:*}"; do if [[ $n == ${PREFIX}* ]]; then print -r -- $n; fi; done }
_files() { print -rl -- ${PREFIX}*(N) }
source "$1"
[[ $registered == "_s3xguard s3xguard" ]] || { print -u2 "not registered: $registered"; exit 1 }
words=(${(z)2})
[[ $2 == *" " ]] && words+=("")
CURRENT=${#words}
PREFIX=${words[CURRENT]}
_s3xguard
`, "zsh", script, line)
	}
}

// fishComplete asks fish itself: complete -C prints the candidates (with
// a tab and the description).
func fishComplete(script string) completer {
	return func(t *testing.T, dir, line string) []string {
		got := shellOutput(t, dir, "fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, line)
		for i, g := range got {
			got[i], _, _ = strings.Cut(g, "\t")
		}
		return got
	}
}

// TestCompletion runs each shell on the script s3xguard writes for it: the
// commands, subcommands and shells by name, each command's flags exactly
// as its -h lists them, and files where an argument goes.
func TestCompletion(t *testing.T) {
	for _, shell := range shells {
		t.Run(shell, func(t *testing.T) {
			if _, err := exec.LookPath(shell); err != nil {
				t.Skipf("%s is not installed", shell)
			}
			dir := t.TempDir()
			path := script(t, t.TempDir(), shell)
			if err := os.WriteFile(filepath.Join(dir, "trail.json"), []byte("[]"), 0o644); err != nil {
				t.Fatal(err)
			}
			complete := map[string]func(string) completer{"bash": bashComplete, "zsh": zshComplete, "fish": fishComplete}[shell](path)
			var names []string
			for _, c := range commands {
				names = append(names, c.name)
			}
			if shell == "bash" {
				names = append(names, "--help", "--version")
			}
			slices.Sort(names)
			tests := []struct {
				line string
				want []string
			}{
				{"s3xguard ", names},
				{"s3xguard qu", []string{"quarantine"}},
				{"s3xguard check --al", []string{"--allow-empty", "--allowlist"}},
				{"s3xguard check trail.json -", []string{"--allow-empty", "--allowlist", "--format", "--jobs", "--quiet", "--self-role", "--session-tolerance", "--show", "-v"}},
				{"s3xguard check --allowlist a.yaml ", []string{"trail.json"}},
				{"s3xguard doctor --re", []string{"--region", "--regions"}},
				{"s3xguard quarantine ", []string{"list", "release"}},
				{"s3xguard quarantine release --p", []string{"--principal", "--profile"}},
				{"s3xguard quarantine list --p", []string{"--profile"}},
				{"s3xguard completion ", []string{"bash", "fish", "zsh"}},
			}
			// The choices of every flag that takes one of a set, by
			// either spelling; and a flag's value elsewhere is a file.
			tests = append(tests, struct {
				line string
				want []string
			}{"s3xguard check --allowlist ", []string{"trail.json"}}, struct {
				line string
				want []string
			}{"s3xguard check --format j", []string{"json"}})
			for _, c := range commands {
				for _, f := range valueFlags(c) {
					want := slices.Sorted(slices.Values(c.values[f]))
					dashes := []string{"-", "--"}
					if shell == "fish" {
						// fish's script offers the -- spelling only (-l).
						dashes = dashes[1:]
					}
					for _, dash := range dashes {
						tests = append(tests, struct {
							line string
							want []string
						}{"s3xguard " + c.name + " " + dash + f + " ", want})
					}
				}
			}
			// Every command's flags, as its help lists them.
			for _, c := range commands {
				subs := c.subs
				if subs == nil {
					subs = []string{""}
				}
				for _, s := range subs {
					var want []string
					for _, f := range flagsOf(c, s) {
						want = append(want, f.word())
					}
					if len(want) == 0 {
						continue
					}
					slices.Sort(want)
					tests = append(tests, struct {
						line string
						want []string
					}{strings.Join(strings.Fields("s3xguard "+c.name+" "+s), " ") + " -", want})
				}
			}
			for _, tt := range tests {
				got := complete(t, dir, tt.line)
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: %q: got %q; want %q", shell, tt.line, got, tt.want)
				}
			}
		})
	}
}

// TestFlagsOf: the flags read from the help are the ones the commands
// parse, value or not.
func TestFlagsOf(t *testing.T) {
	var check command
	for _, c := range commands {
		if c.name == "check" {
			check = c
		}
	}
	got := map[string]bool{}
	for _, f := range flagsOf(check, "") {
		got[f.name] = f.value
		if f.usage == "" {
			t.Errorf("--%s: no usage read", f.name)
		}
	}
	want := map[string]bool{"allowlist": true, "format": true, "show": true, "jobs": true, "allow-empty": false, "session-tolerance": true, "self-role": true, "v": false, "quiet": false}
	if len(got) != len(want) {
		t.Errorf("got %v; want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("--%s: got value %v (listed %v); want value %v", k, g, ok, v)
		}
	}
}

// TestFlagValues: every value completion offers for a flag is one the
// command takes, and the command refuses one outside the set, naming it.
func TestFlagValues(t *testing.T) {
	const allowlist = "../../rules/allowlist.example.yaml"
	// Enough for each command to get past its flags without calling AWS:
	// doctor stops at the missing allowlist file.
	base := map[string][]string{
		"check":  {"--allowlist", allowlist, "--allow-empty", "-"},
		"sql":    {"--allowlist", allowlist, "--engine", "athena"},
		"doctor": {"--function", "f", "--allowlist", filepath.Join(t.TempDir(), "missing.yaml")},
	}
	run := func(c command, args []string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := c.run(args, strings.NewReader(""), &stdout, &stderr)
		return code, stderr.String()
	}
	seen := 0
	for _, c := range commands {
		for _, f := range valueFlags(c) {
			args, ok := base[c.name]
			if !ok {
				t.Fatalf("%s --%s: no base arguments to run it with", c.name, f)
			}
			// The flag last: the flag package keeps the last value.
			with := func(v string) []string { return append(slices.Clone(args), "--"+f, v) }
			for _, v := range c.values[f] {
				seen++
				if _, stderr := run(c, with(v)); strings.Contains(stderr, strconvQuote(v)) {
					t.Errorf("%s --%s %s: refused: %s", c.name, f, v, stderr)
				}
			}
			if code, stderr := run(c, with("no-such-value")); code != exitUsage || !strings.Contains(stderr, `"no-such-value"`) {
				t.Errorf("%s --%s no-such-value: exit %d, %q; want a usage error naming the value", c.name, f, code, stderr)
			}
		}
	}
	if seen < 10 {
		t.Errorf("%d values checked: the command table lost its choices", seen)
	}
}

func strconvQuote(s string) string { return `"` + s + `"` }
