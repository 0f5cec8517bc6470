// Command sbom writes a CycloneDX 1.5 JSON bill of materials for a Go
// binary, from the build information the Go toolchain records in it (what
// `go version -m` prints): the main module, every module linked in with
// its go.sum hash, the Go standard library, and the build settings.
// Nothing in it depends on when it runs, so the same binary always gets
// the same bill.
//
//	go run ./.ci/sbom -version v1.2.3 s3xguard > s3xguard.cdx.json
package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

type bom struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	Version      int          `json:"version"`
	Metadata     metadata     `json:"metadata"`
	Components   []component  `json:"components"`
	Dependencies []dependency `json:"dependencies"`
}

type metadata struct {
	Tools     tools     `json:"tools"`
	Component component `json:"component"`
}

type tools struct {
	Components []component `json:"components"`
}

type component struct {
	BOMRef     string     `json:"bom-ref,omitempty"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Hashes     []hash     `json:"hashes,omitempty"`
	Properties []property `json:"properties,omitempty"`
}

type hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

func main() {
	version := flag.String("version", "", "the release `version` (default: the main module's, from the build information)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: sbom [-version V] BINARY")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout, flag.Arg(0), *version); err != nil {
		fmt.Fprintf(os.Stderr, "sbom: error: %v\n", err)
		os.Exit(1)
	}
}

func run(w io.Writer, path, version string) error {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("build information of %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	b := describe(bi, version, hex.EncodeToString(sum[:]))
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

func purl(path, version string) string {
	return "pkg:golang/" + path + "@" + version + "?type=module"
}

func describe(bi *debug.BuildInfo, version, sha256hex string) bom {
	if version == "" {
		version = bi.Main.Version
	}
	var goos, goarch string
	var props []property
	for _, s := range bi.Settings {
		props = append(props, property{"go:build:" + s.Key, s.Value})
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	props = append(props, property{"go:main:version", bi.Main.Version})
	main := component{
		Type:       "application",
		Name:       bi.Path,
		Version:    version,
		PURL:       purl(bi.Main.Path, version) + "&goos=" + goos + "&goarch=" + goarch,
		Hashes:     []hash{{"SHA-256", sha256hex}},
		Properties: props,
	}
	main.BOMRef = main.PURL
	stdlib := component{Type: "library", Name: "stdlib", Version: bi.GoVersion, PURL: "pkg:golang/stdlib@" + bi.GoVersion}
	stdlib.BOMRef = stdlib.PURL
	comps := []component{stdlib}
	refs := []string{stdlib.BOMRef}
	for _, m := range bi.Deps {
		c := component{Type: "library", Name: m.Path, Version: m.Version, PURL: purl(m.Path, m.Version)}
		if m.Sum != "" {
			c.Properties = append(c.Properties, property{"go:module:sum", m.Sum})
		}
		if r := m.Replace; r != nil {
			c.Name, c.Version, c.PURL = r.Path, r.Version, purl(r.Path, r.Version)
			c.Properties = []property{{"go:module:replaces", m.Path + "@" + m.Version}}
			if r.Sum != "" {
				c.Properties = append(c.Properties, property{"go:module:sum", r.Sum})
			}
		}
		c.BOMRef = c.PURL
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	return bom{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.5",
		Version:     1,
		Metadata: metadata{
			Tools:     tools{Components: []component{{Type: "application", Name: "s3xguard .ci/sbom"}}},
			Component: main,
		},
		Components:   comps,
		Dependencies: []dependency{{Ref: main.BOMRef, DependsOn: refs}},
	}
}
