// Package release tests the release recipe, .ci/release, and the go
// install line the CLI's README gives.
package release

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const version = "v1.2.3-rc.1"

var targets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func release(t *testing.T, out string) {
	t.Helper()
	cmd := exec.Command("./.ci/release", version, out)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1764547200") // 2025-12-01, a fixed date for the test
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf(".ci/release: %v\n%s", err, b)
	}
}

// TestRelease runs .ci/release into a temporary directory: an archive and
// a bill of materials per platform, SHA256SUMS that verifies them, the
// archives' entries dated SOURCE_DATE_EPOCH and owned by root, binaries
// built for their platform with -trimpath and the version set, the bill
// listing exactly the modules `go version -m` finds in the binary, the
// host's binary saying the version; and a second run gives the same
// bytes.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles four binaries")
	}
	dist := t.TempDir()
	release(t, dist)

	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	var want []string
	for _, target := range targets {
		name := "s3xguard_" + version + "_" + strings.ReplaceAll(target, "/", "_")
		want = append(want, name+".tar.gz", name+".cdx.json")
	}
	got := make([]string, 0, len(sums))
	for name, sum := range sums {
		got = append(got, name)
		data, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS: %s is %s; the file's SHA-256 is %x", name, sum, h)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("SHA256SUMS lists %q; want %q", got, want)
	}

	for _, target := range targets {
		goos, goarch, _ := strings.Cut(target, "/")
		name := "s3xguard_" + version + "_" + goos + "_" + goarch
		bin := checkArchive(t, filepath.Join(dist, name+".tar.gz"), name)
		path := filepath.Join(t.TempDir(), "s3xguard")
		if err := os.WriteFile(path, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		checkBinary(t, path, goos, goarch)
		checkSBOM(t, filepath.Join(dist, name+".cdx.json"), path, bin)
		if goos == runtime.GOOS && goarch == runtime.GOARCH {
			out, err := exec.Command(path, "--version").CombinedOutput()
			if err != nil {
				t.Fatalf("%s --version: %v\n%s", name, err, out)
			}
			if first, _, _ := strings.Cut(string(out), "\n"); !strings.HasPrefix(first, "s3xguard "+version+" (go") {
				t.Errorf("%s --version: %q; want s3xguard %s (go…)", name, out, version)
			}
		}
	}

	again := t.TempDir()
	release(t, again)
	a, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	b, _ := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
	if !bytes.Equal(a, b) {
		t.Errorf("not reproducible: the second run's SHA256SUMS differs\nfirst:\n%s\nsecond:\n%s", a, b)
	}
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS: line %q: want SUM  NAME", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

// checkArchive checks the archive's entries and returns the binary.
func checkArchive(t *testing.T, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("%s: gzip header has name %q, time %v; want neither", path, zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var entries []string
	var bin []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		entries = append(entries, h.Name)
		if h.ModTime.Unix() != 1764547200 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" {
			t.Errorf("%s: %s: time %v, owner %d:%d %q; want SOURCE_DATE_EPOCH, 0:0", path, h.Name, h.ModTime, h.Uid, h.Gid, h.Uname)
		}
		if h.Name == name+"/s3xguard" {
			if h.Mode&0o111 == 0 {
				t.Errorf("%s: %s: mode %o, not executable", path, h.Name, h.Mode)
			}
			if bin, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{name + "/", name + "/README.md", name + "/s3xguard"}
	if !slices.Equal(entries, want) {
		t.Errorf("%s: entries %q; want %q", path, entries, want)
	}
	return bin
}

func checkBinary(t *testing.T, path, goos, goarch string) {
	t.Helper()
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["GOOS"] != goos || settings["GOARCH"] != goarch || settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("%s: build settings %v; want GOOS %s, GOARCH %s, -trimpath, CGO_ENABLED=0", path, settings, goos, goarch)
	}
	// With -trimpath the build information leaves -ldflags out: the
	// version set by -X is looked for in the binary itself (and run on
	// the host's).
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(version)) {
		t.Errorf("%s: the version %s is nowhere in the binary", path, version)
	}
	if bi.Path != "github.com/s3xguard/s3xguard/lambda/cmd/s3xguard" {
		t.Errorf("%s: package %s", path, bi.Path)
	}
}

// checkSBOM compares the bill of materials with what `go version -m`
// reads from the binary (another reader of the same build information).
func checkSBOM(t *testing.T, path, binPath string, bin []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Metadata    struct {
			Component struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				PURL    string `json:"purl"`
				Hashes  []struct{ Alg, Content string }
			}
		}
		Components []struct {
			Name, Version, PURL string
		}
		Dependencies []struct {
			Ref       string
			DependsOn []string
		}
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m := bom.Metadata.Component
	sum := sha256.Sum256(bin)
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" || m.Version != version ||
		len(m.Hashes) != 1 || m.Hashes[0].Alg != "SHA-256" || m.Hashes[0].Content != hex.EncodeToString(sum[:]) {
		t.Errorf("%s: format %s %s, component %+v; want CycloneDX 1.5, version %s, the binary's SHA-256 %x", path, bom.BOMFormat, bom.SpecVersion, m, version, sum)
	}
	out, err := exec.Command("go", "version", "-m", binPath).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	var want []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "dep":
			want = append(want, f[1]+"@"+f[2])
		case len(f) >= 2 && strings.HasSuffix(f[0], ":") && strings.HasPrefix(f[1], "go1"):
			want = append(want, "stdlib@"+f[1])
		}
	}
	var got, refs []string
	for _, c := range bom.Components {
		got = append(got, c.Name+"@"+c.Version)
		if !strings.HasPrefix(c.PURL, "pkg:golang/"+c.Name+"@"+c.Version) {
			t.Errorf("%s: %s@%s has purl %s", path, c.Name, c.Version, c.PURL)
		}
		refs = append(refs, c.PURL)
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) < 5 || !slices.Equal(got, want) {
		t.Errorf("%s: components %q; go version -m lists %q", path, got, want)
	}
	if len(bom.Dependencies) != 1 || bom.Dependencies[0].Ref != m.PURL || !slices.Equal(bom.Dependencies[0].DependsOn, refs) {
		t.Errorf("%s: dependencies %+v; want the binary depending on every component", path, bom.Dependencies)
	}
}

// TestGoInstallVersion: `go install github.com/s3xguard/s3xguard/lambda/cmd/s3xguard@vX`
// builds a binary whose --version is vX, with no -ldflags: the version
// comes from the build information. The module at HEAD is served as vX
// from a local proxy (GOPROXY=file://), beside the module cache's own
// download directory for its dependencies, into a module cache of its own:
// offline, and the shared cache never holds the made-up version.
func TestGoInstallVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command from a module zip")
	}
	const v = "v0.99.0"
	r := root(t)
	proxy := t.TempDir()
	dir := filepath.Join(proxy, "github.com", "s3xguard", "s3xguard", "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(r, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("list", []byte(v+"\n"))
	write(v+".info", []byte(`{"Version":"`+v+`","Time":"2025-12-01T00:00:00Z"}`))
	write(v+".mod", gomod)
	// The committed tree, as a module zip: every file under
	// MODULE@VERSION/.
	zip := exec.Command("git", "archive", "--format=zip", "--prefix=github.com/s3xguard/s3xguard@"+v+"/", "-o", filepath.Join(dir, v+".zip"), "HEAD")
	zip.Dir = r
	if out, err := zip.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "-C", r, "show", "HEAD:go.mod").Output()
	if err != nil || !bytes.Equal(head, gomod) {
		t.Skip("go.mod differs from HEAD's: commit it first")
	}
	gomodcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	// -trimpath and CGO_ENABLED=0 as .ci/release builds (they do not touch
	// the version): the packages TestRelease compiled are then in the build
	// cache, wherever this module cache puts the source.
	install := exec.Command("go", "install", "-modcacherw", "-trimpath", "github.com/s3xguard/s3xguard/lambda/cmd/s3xguard@"+v)
	install.Dir = t.TempDir()
	install.Env = append(os.Environ(),
		"GOBIN="+bin,
		"GOMODCACHE="+t.TempDir(),
		"GOPROXY=file://"+proxy+",file://"+filepath.Join(strings.TrimSpace(string(gomodcache)), "cache", "download"),
		// Offline: the checksum database is out of reach. The modules
		// come from the local cache, verified when they entered it.
		"GOSUMDB=off",
		"GOFLAGS=",
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
	)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install …@%s: %v\n%s", v, err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "s3xguard"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("s3xguard --version: %v\n%s", err, out)
	}
	if first, _, _ := strings.Cut(string(out), "\n"); !strings.HasPrefix(first, "s3xguard "+v+" (go") {
		t.Errorf("--version of go install …@%s: %q", v, out)
	}
}
