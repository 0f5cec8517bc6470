package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/s3xguard/s3xguard/lambda/cloudtrail"
	"github.com/s3xguard/s3xguard/rules"
	"github.com/s3xguard/s3xguard/rules/suggest"
)

const suggestUsage = `usage: s3xguard suggest [--group-by principal[,bucket][,operation]] [--ipv4-prefix N] [--ipv6-prefix N] [--max-sources N] [--against FILE] [PATH ...]

Writes an allowlist (YAML, with comments) that would allow the S3 Express
calls seen in PATH (as for check): one entry per principal (a role without
its session, a user, an AWS service), narrowed to the buckets, operations,
networks (aggregated to the prefix lengths, merged, widened past
--max-sources) and VPC endpoints seen, with counts, first and last seen and
example locations. Failed calls (errorCode) are listed in a comment, not
allowed.


--against FILE writes instead what FILE does not allow yet, as entries to
add, and lists the entries of FILE that saw no traffic (candidates to remove).
`

// runSuggest is the `suggest` command.
func runSuggest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("suggest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, suggestUsage); fs.PrintDefaults() }
	o := suggest.DefaultOptions
	groupBy := fs.String("group-by", "principal", "one entry per `fields`: principal, then optionally bucket, operation")
	fs.IntVar(&o.IPv4Bits, "ipv4-prefix", o.IPv4Bits, "aggregate IPv4 sources to this prefix `length`")
	fs.IntVar(&o.IPv6Bits, "ipv6-prefix", o.IPv6Bits, "aggregate IPv6 sources to this prefix `length`")
	fs.IntVar(&o.MaxSources, "max-sources", o.MaxSources, "list at most `N` networks per address family in an entry, widening them past it")
	fs.IntVar(&o.Examples, "examples", o.Examples, "example locations per entry")
	against := fs.String("against", "", "show the difference from this allowlist `FILE`")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	o.GroupBy = strings.Split(*groupBy, ",")
	b, err := suggest.New(o)
	if err != nil {
		errorf(stderr, "suggest: %v", err)
		return exitUsage
	}
	var existing *rules.Allowlist
	if *against != "" {
		var ok bool
		if existing, ok = loadAllowlist(*against, stderr); !ok {
			return exitUsage
		}
	}
	inputs, err := collectInputs(paths, stdin, false, func(msg string) {
		fmt.Fprintf(stderr, "s3xguard: warning: %s\n", escapeText(msg))
	})
	if err != nil {
		errorf(stderr, "%s", escapeText(err.Error()))
		return exitUsage
	}
	start := time.Now()
	var bytes int64
	var rec cloudtrail.Record
	var loc []byte
	for _, in := range inputs {
		n, err := suggestInput(b, in, existing, &rec, loc)
		bytes += n
		if err != nil {
			errorf(stderr, "%v", err)
			return exitUsage
		}
	}
	header := []string{fmt.Sprintf("s3xguard suggest: %d files, %s", len(inputs), time.Now().UTC().Format(time.RFC3339))}
	if existing != nil {
		header = append(header, againstReport(existing, b)...)
		header = append(header, "Below: entries to add for the calls "+*against+" does not allow yet.")
	}
	if err := b.Write(stdout, header); err != nil {
		errorf(stderr, "%v", err)
		return exitUsage
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stderr, "s3xguard suggest: %d S3 Express records (%d ignored) in %d files, %.1f MB in %s\n",
		b.Records, b.Ignored, len(inputs), float64(bytes)/1e6, elapsed.Round(time.Millisecond))
	return exitOK
}

// suggestInput feeds one input's records to the builder and returns the
// bytes read. Unreadable records are counted by the builder as invalid.
func suggestInput(b *suggest.Builder, in input, existing *rules.Allowlist, rec *cloudtrail.Record, loc []byte) (int64, error) {
	r := in.stdin
	if r == nil {
		f, err := os.Open(in.path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		r = f
	}
	s, err := cloudtrail.NewStream(r)
	if err != nil {
		b.Records++
		b.Invalid++
		return 0, nil
	}
	defer s.Close()
	for {
		it, ok := s.Next(rec)
		if !ok {
			break
		}
		if it.Err != nil {
			b.Records++
			b.Invalid++
			continue
		}
		loc = appendLocation(loc[:0], in.name, it)
		b.Add(rec, string(loc), existing)
	}
	return s.BytesRead(), nil
}

// againstReport lists the entries of the existing allowlist by traffic.
func againstReport(a *rules.Allowlist, b *suggest.Builder) []string {
	var used, unused []string
	for _, e := range a.Entries {
		if n := b.Hits[e.Name]; n > 0 {
			used = append(used, fmt.Sprintf("  %s (%s:%d): %d calls", e.Name, a.Source, e.Line, n))
		} else {
			unused = append(unused, fmt.Sprintf("  %s (%s:%d)", e.Name, a.Source, e.Line))
		}
	}
	out := []string{fmt.Sprintf("Against %s: %d of its %d entries saw traffic.", a.Source, len(used), len(a.Entries))}
	if len(unused) > 0 {
		out = append(out, "Entries that saw no traffic (candidates to remove):")
		out = append(out, unused...)
	}
	if len(used) > 0 {
		out = append(out, "Entries that saw traffic:")
		out = append(out, used...)
	}
	return out
}
