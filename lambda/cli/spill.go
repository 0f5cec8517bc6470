package cli

import (
	"fmt"
	"io"
	"os"
)

// spill holds the per-record lines of a text report in a temporary file
// while the run goes on, so the summary can be printed above them and
// memory stays bounded whatever the number of findings. The file is
// removed as soon as it is open where the system allows it (it lives on
// through its descriptor, and goes even if check is killed), else when
// closed.
type spill struct {
	f    *os.File
	name string // still to remove on close; "" once removed
	size int64
	err  error // the first write error: the report would be incomplete
}

func newSpill() (*spill, error) {
	f, err := os.CreateTemp("", "s3xguard-check-*.txt")
	if err != nil {
		return nil, fmt.Errorf("cannot hold the records for the summary: %w", err)
	}
	s := &spill{f: f, name: f.Name()}
	if os.Remove(s.name) == nil {
		s.name = ""
	}
	return s, nil
}

// Write is called under the checker's lock.
func (s *spill) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.f.Write(p)
	s.size += int64(n)
	if err != nil {
		s.err = fmt.Errorf("holding the records for the summary: %w", err)
	}
	return n, err
}

// copyTo writes what was spilled to w.
func (s *spill) copyTo(w io.Writer) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading back the records: %w", err)
	}
	if _, err := io.Copy(w, s.f); err != nil {
		return fmt.Errorf("copying the records: %w", err)
	}
	return nil
}

func (s *spill) close() {
	s.f.Close()
	if s.name != "" {
		os.Remove(s.name)
	}
}
