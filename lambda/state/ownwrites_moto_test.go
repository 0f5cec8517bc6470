package state

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A noted digest counts for OwnWriteTTL on its bucket only; past it, it no
// longer counts and is pruned from the item at the next check.
func TestOwnWrites(t *testing.T) {
	s, now := newStore(t)
	ctx := context.Background()
	check := func(bucket, digest string) bool {
		t.Helper()
		ok, err := s.OwnWrite(ctx, bucket, digest)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if check("a", "d1") {
		t.Fatal("nothing noted, yet d1 counts")
	}
	for _, d := range []string{"d1", "d2"} {
		if err := s.NoteOwnWrite(ctx, "a", d); err != nil {
			t.Fatal(err)
		}
	}
	if !check("a", "d1") || !check("a", "d2") || check("a", "d3") || check("b", "d1") {
		t.Fatal("want d1 and d2 on bucket a only")
	}
	now.Add((OwnWriteTTL - time.Minute).Milliseconds())
	if err := s.NoteOwnWrite(ctx, "a", "d3"); err != nil {
		t.Fatal(err)
	}
	now.Add((2 * time.Minute).Milliseconds())
	if check("a", "d1") || !check("a", "d3") {
		t.Fatal("want d1 expired, d3 still counting")
	}
	it, err := s.get(ctx, "ownwrite#a")
	if err != nil {
		t.Fatal(err)
	}
	for name := range it {
		if strings.HasPrefix(name, ownWritePrefix) && name != ownWritePrefix+"d3" {
			t.Errorf("expired digest %s not pruned", name)
		}
	}
}
