package edge

import (
	"context"
	"io"
	"sync"
	"time"
)

// Bucket is a token bucket of bytes: a bandwidth cap shared by every
// reader it wraps. Tokens accrue at Rate bytes per second up to Burst; a
// read that finds too few tokens borrows them (the balance goes negative)
// and sleeps until they would have accrued, so readers are served in turn
// and the long-run throughput never exceeds Rate.
type Bucket struct {
	rate  float64 // bytes per second
	burst float64

	// now and sleep are the clock; tests inject a fake one.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// NewBucket caps throughput at rate bytes per second, with bursts of
// burst bytes (at least one 32 KiB read; 0 picks max(rate/10, 32 KiB)).
func NewBucket(rate, burst int64) *Bucket {
	if burst <= 0 {
		burst = rate / 10
	}
	burst = max(burst, 32<<10)
	b := &Bucket{rate: float64(rate), burst: float64(burst), now: time.Now, sleep: sleepCtx}
	b.tokens, b.last = b.burst, b.now()
	return b
}

// take removes n tokens and waits until the balance would be non-negative.
func (b *Bucket) take(ctx context.Context, n int) error {
	b.mu.Lock()
	now := b.now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	var wait time.Duration
	if b.tokens < 0 {
		wait = time.Duration(-b.tokens / b.rate * float64(time.Second))
	}
	b.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	return b.sleep(ctx, wait)
}

// Reader wraps r so its reads pass through the bucket. Each read asks for
// at most Burst bytes and pays for what it got.
func (b *Bucket) Reader(ctx context.Context, r io.Reader) io.Reader {
	return &limitedReader{ctx: ctx, r: r, b: b}
}

type limitedReader struct {
	ctx context.Context
	r   io.Reader
	b   *Bucket
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if len(p) > int(l.b.burst) {
		p = p[:int(l.b.burst)]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.b.take(l.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
