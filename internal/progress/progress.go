// Package progress shows progress of long work on a terminal and stays
// silent otherwise (not a TTY, --quiet, or --output json).
package progress

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar counts bytes or items toward a total. A nil *Bar is valid and silent.
type Bar struct {
	b *progressbar.ProgressBar
}

// Enabled reports whether progress should be drawn on w given the user's
// quiet preference.
func Enabled(w *os.File, quiet bool) bool {
	return !quiet && w != nil && term.IsTerminal(int(w.Fd()))
}

// NewBytes returns a byte-counting bar, or nil when disabled.
func NewBytes(enabled bool, total int64, desc string) *Bar {
	if !enabled {
		return nil
	}
	return &Bar{b: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
	)}
}

// NewCount returns an item-counting bar, or nil when disabled.
func NewCount(enabled bool, total int64, desc string) *Bar {
	if !enabled {
		return nil
	}
	return &Bar{b: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
	)}
}

// Add advances the bar by n.
func (b *Bar) Add(n int64) {
	if b != nil {
		b.b.Add64(n)
	}
}

// Describe changes the bar's label.
func (b *Bar) Describe(s string) {
	if b != nil {
		b.b.Describe(s)
	}
}

// Finish completes and clears the bar.
func (b *Bar) Finish() {
	if b != nil {
		b.b.Finish()
	}
}

// Writer returns w wrapped so that writes advance the bar.
func (b *Bar) Writer(w io.Writer) io.Writer {
	if b == nil {
		return w
	}
	return io.MultiWriter(w, b.b)
}

// Func is a progress callback for packages that do not know about bars:
// it is called with the number of units just completed.
type Func func(n int64)

// Func returns a callback that advances the bar (safe on a nil bar).
func (b *Bar) Func() Func { return b.Add }
