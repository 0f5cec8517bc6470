//go:build unix

package cloudtrail

import (
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// BenchmarkLadder reads every file of the tree test/bench generates
// ($S3XGUARD_BENCH_TREE, else .tools/bench-tree-1GB-32), as many files at
// once as GOMAXPROCS, three ways, each a rung above the one before:
//
//   - decompress: the gzip package alone, bytes discarded (test/bench's
//     decompression floor);
//   - validate: decompress each file whole into memory and validate it
//     as strict JSON (the scanner alone: no record, no framing), the
//     least a strict reader does;
//   - decode: the Stream reading every record, read-ahead on, as check
//     reads them (without deciding or writing them).
//
// Each reports its CPU time (user + system) per run as cpu-s/op beside
// ns/op: what separates check from the floor, step by step.
func BenchmarkLadder(b *testing.B) {
	files := benchTree(b)
	var size atomic.Int64
	// Each worker keeps its read buffer and its decompressor, reset for each
	// file, as check does (a new decompressor per file costs its tables).
	type worker struct {
		buf []byte
		zr  *gzip.Reader
	}
	open := func(b *testing.B, w *worker, f *os.File) *gzip.Reader {
		var err error
		if w.zr == nil {
			w.zr, err = gzip.NewReader(f)
		} else {
			err = w.zr.Reset(f)
		}
		if err != nil {
			b.Fatalf("%s: %v", f.Name(), err)
		}
		return w.zr
	}
	rung := func(name string, read func(b *testing.B, f *os.File, w *worker)) {
		b.Run(name, func(b *testing.B) {
			workers := make([]worker, runtime.GOMAXPROCS(0))
			var cpu time.Duration
			for b.Loop() {
				size.Store(0)
				c0 := cpuTime()
				var next atomic.Int64
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for {
							i := int(next.Add(1) - 1)
							if i >= len(files) {
								return
							}
							f, err := os.Open(files[i])
							if err != nil {
								b.Error(err)
								return
							}
							read(b, f, &workers[w])
							f.Close()
						}
					})
				}
				wg.Wait()
				cpu += cpuTime() - c0
			}
			b.SetBytes(size.Load())
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
	rung("decompress", func(b *testing.B, f *os.File, w *worker) {
		n, err := io.Copy(io.Discard, open(b, w, f))
		if err != nil {
			b.Fatal(err)
		}
		size.Add(n)
	})
	rung("validate", func(b *testing.B, f *os.File, w *worker) {
		zr := open(b, w, f)
		data := w.buf[:0]
		for {
			if len(data) == cap(data) {
				data = append(data, 0)[:len(data)]
			}
			n, err := zr.Read(data[len(data):cap(data)])
			data = data[:len(data)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		w.buf = data
		size.Add(int64(len(data)))
		var s scanner
		s.reset(data, true, 0)
		if s.value(s.ws(0)) < 0 {
			b.Fatalf("%s: %s", f.Name(), s.errMsg)
		}
	})
	rung("decode", func(b *testing.B, f *os.File, _ *worker) {
		s, err := NewStreamOptions(f, StreamOptions{ReadAhead: true})
		if err != nil {
			b.Fatal(err)
		}
		var r Record
		for {
			if _, ok := s.Next(&r); !ok {
				break
			}
		}
		size.Add(s.BytesRead())
		s.Close()
	})
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
