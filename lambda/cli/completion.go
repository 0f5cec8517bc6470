package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

const completionUsage = `usage: s3xguard completion bash|zsh|fish

Prints a completion script for the shell: commands, subcommands and flags
(with what each is for, where the shell shows it), the choices of flags that
take one of a set (check --format, --show; sql --engine, --verdict; doctor
--format); files elsewhere.

  bash  source <(s3xguard completion bash)   (in ~/.bashrc)
  zsh   source <(s3xguard completion zsh)    (in ~/.zshrc, after compinit),
        or save it as _s3xguard in a directory of $fpath
  fish  s3xguard completion fish > ~/.config/fish/completions/s3xguard.fish
`

var shells = []string{"bash", "zsh", "fish"}

func runCompletion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, completionUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	var script string
	switch fs.Arg(0) {
	case "bash":
		script = bashCompletion()
	case "zsh":
		script = zshCompletion()
	case "fish":
		script = fishCompletion()
	default:
		errorf(stderr, "completion: shell %q: want bash, zsh or fish", fs.Arg(0))
		return exitUsage
	}
	fmt.Fprint(stdout, script)
	return exitOK
}

// cmdFlag is a flag as a completion script offers it.
type cmdFlag struct {
	name  string
	value bool // takes a value
	usage string
}

// defaultsEntry matches a flag in flag.PrintDefaults' layout: "  -name",
// the value's placeholder if it takes one, then the usage after a tab on
// the same line (one-letter names) or on the next.
var defaultsEntry = regexp.MustCompile(`(?m)^  -(\S+)( \S+)?(?:\t|\n    \t)(.*)$`)

// flagsOf returns the flags of a command (and subcommand) as its -h lists
// them: read from the help the user sees, so the scripts cannot offer a
// flag the command does not take or miss one it does.
func flagsOf(c command, sub string) []cmdFlag {
	args := []string{"-h"}
	if sub != "" {
		args = []string{sub, "-h"}
	}
	var help strings.Builder
	c.run(args, strings.NewReader(""), io.Discard, &help)
	var out []cmdFlag
	for _, m := range defaultsEntry.FindAllStringSubmatch(help.String(), -1) {
		out = append(out, cmdFlag{name: m[1], value: m[2] != "", usage: strings.TrimSpace(m[3])})
	}
	return out
}

// word is the flag as the scripts offer it: -v, --allowlist (the flag
// package takes either spelling; the documentation writes these).
func (f cmdFlag) word() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

// flagWords is the flags of c (sub), space-separated.
func flagWords(c command, sub string) string {
	var w []string
	for _, f := range flagsOf(c, sub) {
		w = append(w, f.word())
	}
	return strings.Join(w, " ")
}

// valueFlags returns c's flags of fixed choices, in order.
func valueFlags(c command) []string {
	return slices.Sorted(maps.Keys(c.values))
}

func commandWords() string {
	var w []string
	for _, c := range commands {
		w = append(w, c.name)
	}
	return strings.Join(w, " ")
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# bash completion for s3xguard: source <(s3xguard completion bash)
_s3xguard() {
	local cur=${COMP_WORDS[COMP_CWORD]} words=""
	COMPREPLY=()
	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "` + commandWords() + ` --help --version" -- "$cur"))
		return
	fi
	case ${COMP_WORDS[1]} in
`)
	for _, c := range commands {
		switch {
		case c.name == "completion":
			fmt.Fprintf(&b, "\tcompletion)\n\t\t((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\t\t;;\n", strings.Join(shells, " "))
		case c.subs != nil:
			fmt.Fprintf(&b, "\t%s)\n\t\tif ((COMP_CWORD == 2)); then\n\t\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\t\treturn\n\t\tfi\n\t\tcase ${COMP_WORDS[2]} in\n", c.name, strings.Join(c.subs, " "))
			for _, s := range c.subs {
				fmt.Fprintf(&b, "\t\t%s) words=%q ;;\n", s, flagWords(c, s))
			}
			b.WriteString("\t\tesac\n\t\t;;\n")
		default:
			fmt.Fprintf(&b, "\t%s) words=%q ;;\n", c.name, flagWords(c, ""))
		}
	}
	b.WriteString(`	esac
	# The choices of a flag that takes one of a set.
	case ${COMP_WORDS[1]}:${COMP_WORDS[COMP_CWORD-1]} in
`)
	for _, c := range commands {
		for _, f := range valueFlags(c) {
			fmt.Fprintf(&b, "\t%s:-%s | %s:--%s)\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\t\t;;\n", c.name, f, c.name, f, strings.Join(c.values[f], " "))
		}
	}
	b.WriteString(`	esac
	# Flags when the word starts with -; otherwise (-o default) file names.
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
	fi
}
complete -o default -F _s3xguard s3xguard
`)
	return b.String()
}

// zshQuote quotes s for zsh, in single quotes.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func zshSpecs(b *strings.Builder, indent string, specs []string) {
	fmt.Fprintf(b, "%sspecs=(", indent)
	for i, s := range specs {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(zshQuote(s))
	}
	b.WriteString(")\n")
}

func zshFlagSpecs(c command, sub string) []string {
	var specs []string
	for _, f := range flagsOf(c, sub) {
		specs = append(specs, f.word()+":"+f.usage)
	}
	return specs
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString(`#compdef s3xguard
# zsh completion for s3xguard: source <(s3xguard completion zsh) after
# compinit, or save as _s3xguard in a directory of $fpath.
_s3xguard() {
	local -a specs
	if ((CURRENT == 2)); then
`)
	var cmds []string
	for _, c := range commands {
		cmds = append(cmds, c.name+":"+c.summary)
	}
	zshSpecs(&b, "\t\t", cmds)
	b.WriteString("\t\t_describe -t commands command specs\n\t\treturn\n\tfi\n\tcase ${words[2]} in\n")
	for _, c := range commands {
		switch {
		case c.name == "completion":
			b.WriteString("\tcompletion)\n\t\tif ((CURRENT == 3)); then\n")
			zshSpecs(&b, "\t\t\t", shells)
			b.WriteString("\t\t\t_describe -t shells shell specs\n\t\tfi\n\t\treturn\n\t\t;;\n")
		case c.subs != nil:
			fmt.Fprintf(&b, "\t%s)\n\t\tif ((CURRENT == 3)); then\n", c.name)
			zshSpecs(&b, "\t\t\t", c.subs)
			b.WriteString("\t\t\t_describe -t commands subcommand specs\n\t\t\treturn\n\t\tfi\n\t\tcase ${words[3]} in\n")
			for _, s := range c.subs {
				fmt.Fprintf(&b, "\t\t%s)\n", s)
				zshSpecs(&b, "\t\t\t", zshFlagSpecs(c, s))
				b.WriteString("\t\t\t;;\n")
			}
			b.WriteString("\t\tesac\n\t\t;;\n")
		default:
			fmt.Fprintf(&b, "\t%s)\n", c.name)
			zshSpecs(&b, "\t\t", zshFlagSpecs(c, ""))
			b.WriteString("\t\t;;\n")
		}
	}
	b.WriteString("\tesac\n\t# The choices of a flag that takes one of a set.\n\tcase ${words[2]}:${words[CURRENT-1]} in\n")
	for _, c := range commands {
		for _, f := range valueFlags(c) {
			fmt.Fprintf(&b, "\t%s:-%s | %s:--%s)\n", c.name, f, c.name, f)
			zshSpecs(&b, "\t\t", c.values[f])
			b.WriteString("\t\t_describe -t values value specs\n\t\treturn\n\t\t;;\n")
		}
	}
	b.WriteString(`	esac
	if [[ $PREFIX == -* ]]; then
		_describe -t flags flag specs
	else
		_files
	fi
}
if [[ ${funcstack[1]} == _s3xguard ]]; then
	_s3xguard "$@"
else
	compdef _s3xguard s3xguard
fi
`)
	return b.String()
}

// fishQuote quotes s for fish, in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# fish completion for s3xguard: s3xguard completion fish > ~/.config/fish/completions/s3xguard.fish\n")
	b.WriteString("complete -c s3xguard -e\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "complete -c s3xguard -f -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	fishFlags := func(cond string, flags []cmdFlag, values map[string][]string) {
		for _, f := range flags {
			opt := "-l " + f.name
			if len(f.name) == 1 {
				opt = "-s " + f.name
			}
			if f.value {
				opt += " -r"
			}
			if vs := values[f.name]; vs != nil {
				opt += " -f -a " + fishQuote(strings.Join(vs, " "))
			}
			fmt.Fprintf(&b, "complete -c s3xguard -n %s %s -d %s\n", fishQuote(cond), opt, fishQuote(f.usage))
		}
	}
	for _, c := range commands {
		switch {
		case c.name == "completion":
			fmt.Fprintf(&b, "complete -c s3xguard -f -n %s -a %s\n", fishQuote("__fish_seen_subcommand_from completion; and not __fish_seen_subcommand_from "+strings.Join(shells, " ")), fishQuote(strings.Join(shells, " ")))
		case c.subs != nil:
			subs := strings.Join(c.subs, " ")
			fmt.Fprintf(&b, "complete -c s3xguard -f -n %s -a %s\n", fishQuote("__fish_seen_subcommand_from "+c.name+"; and not __fish_seen_subcommand_from "+subs), fishQuote(subs))
			for _, s := range c.subs {
				fishFlags("__fish_seen_subcommand_from "+c.name+"; and __fish_seen_subcommand_from "+s, flagsOf(c, s), c.values)
			}
		default:
			fishFlags("__fish_seen_subcommand_from "+c.name, flagsOf(c, ""), c.values)
		}
	}
	return b.String()
}
