// Package golden keeps generated samples in the READMEs: a test renders a
// sample and Section checks that the README holds exactly it, between
// markers, so the docs cannot drift from the code. With
// S3XGUARD_UPDATE_DOCS=1 it writes the sample instead.
package golden

import (
	"bytes"
	"os"
	"testing"
)

// Section checks (or, with S3XGUARD_UPDATE_DOCS=1, writes) the text
// between "<!-- generated: NAME -->" and "<!-- end generated: NAME -->" in
// the file at path.
func Section(t testing.TB, path, name, content string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin := []byte("<!-- generated: " + name + " -->\n")
	end := []byte("<!-- end generated: " + name + " -->")
	i, j := bytes.Index(data, begin), bytes.Index(data, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no section %q (markers %q ... %q)", path, name, begin, end)
	}
	i += len(begin)
	if string(data[i:j]) == content {
		return
	}
	if os.Getenv("S3XGUARD_UPDATE_DOCS") != "1" {
		t.Fatalf("%s: generated section %q is stale: run the test with S3XGUARD_UPDATE_DOCS=1 and commit the result\n--- in the file:\n%s\n--- generated:\n%s", path, name, data[i:j], content)
	}
	out := append(append(append([]byte{}, data[:i]...), content...), data[j:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
