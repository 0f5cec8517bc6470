package cli

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressEvery is how often the progress line is redrawn.
const progressEvery = 150 * time.Millisecond

// progress draws check's progress on a terminal: files done of the total,
// bytes read of the total size of the inputs (as stored: compressed bytes
// for .gz files), the rate and the time left. The workers only add to
// atomic counters, once per read buffer (64 KiB), never per record; a
// ticker reads them and redraws.
type progress struct {
	bar  *progressbar.ProgressBar
	stop chan struct{}
	done chan struct{}
}

// startProgress draws on w until stop is called. total is the size of the
// inputs, -1 when unknown (standard input, a pipe): then the line shows
// the bytes read and the rate only.
func startProgress(w io.Writer, color bool, files int, total int64, read, filesDone *atomic.Int64) *progress {
	desc := func() string { return fmt.Sprintf("%d/%d files", filesDone.Load(), files) }
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc()),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(0), // the ticker paces the redraws
		progressbar.OptionSetRenderBlankState(true),
		// Once the total is read the line goes: the library's final
		// frame would otherwise be drawn at a width clear does not know,
		// and with no input at all, not be cleared.
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
		// No timer of the library's own (it starts one for the spinner
		// when the size is unknown, which would draw after clear): the
		// spinner turns on our redraws.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionEnableColorCodes(color),
	}
	// ASCII, the same with colour or without.
	theme := progressbar.Theme{Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}
	if color {
		theme.Saucer, theme.SaucerHead = "[green]=[reset]", "[green]>[reset]"
	}
	opts = append(opts, progressbar.OptionSetTheme(theme))
	p := &progress{
		bar:  progressbar.NewOptions64(total, opts...),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				// Both redraw: the description last, so the frame
				// that stays has both new.
				p.bar.Set64(read.Load())
				p.bar.Describe(desc())
			}
		}
	}()
	return p
}

// clear stops the redraws and erases the line, so what is printed next
// starts on a clean line.
func (p *progress) clear() {
	close(p.stop)
	<-p.done
	p.bar.Clear()
}
