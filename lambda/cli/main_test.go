package cli

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"s3xguard": func() { os.Exit(Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts drives the command end to end from testdata/script/*.txtar.
// $FIXTURES holds the shared CloudTrail records, $EXAMPLE the example
// allowlist.
func TestScripts(t *testing.T) {
	fixtures, _ := filepath.Abs("../../test/testdata/records")
	example, _ := filepath.Abs("../../rules/allowlist.example.yaml")
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("FIXTURES", fixtures)
			e.Setenv("EXAMPLE", example)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// truncate FILE SIZE: cut FILE to SIZE bytes.
			"truncate": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: truncate FILE SIZE")
				}
				size, err := strconv.Atoi(args[1])
				ts.Check(err)
				ts.Check(os.Truncate(ts.MkAbs(args[0]), int64(size)))
			},
			// gzip FILE: compress FILE to FILE.gz and remove FILE.
			"gzip": func(ts *testscript.TestScript, neg bool, args []string) {
				for _, name := range args {
					path := ts.MkAbs(name)
					data, err := os.ReadFile(path)
					ts.Check(err)
					f, err := os.Create(path + ".gz")
					ts.Check(err)
					w := gzip.NewWriter(f)
					_, err = w.Write(data)
					ts.Check(err)
					ts.Check(w.Close())
					ts.Check(f.Close())
					ts.Check(os.Remove(path))
				}
			},
		},
	})
}
