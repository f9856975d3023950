package edge

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// TestBackoff: 1 s doubling to 5 min, jitter within [d/2, d).
func TestBackoff(t *testing.T) {
	cases := []struct {
		attempt int
		full    time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {5, 32 * time.Second}, {8, 256 * time.Second}, {9, 5 * time.Minute}, {40, 5 * time.Minute}}
	for _, c := range cases {
		if got := Backoff(c.attempt, 0); got != c.full/2 {
			t.Errorf("attempt %d, jitter 0: %v, want %v", c.attempt, got, c.full/2)
		}
		if got := Backoff(c.attempt, 0.999999); got <= c.full/2 || got > c.full {
			t.Errorf("attempt %d, jitter ~1: %v, want in (%v, %v]", c.attempt, got, c.full/2, c.full)
		}
	}
}

// TestBucketCountsBytes: with an injected clock, reading N bytes through
// a bucket of rate R and burst B sleeps exactly (N-B)/R in all, and no
// read is larger than B.
func TestBucketCountsBytes(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept time.Duration
	b := NewBucket(100_000, 40_000)
	b.now = func() time.Time { return clock }
	b.sleep = func(_ context.Context, d time.Duration) error {
		slept += d
		clock = clock.Add(d)
		return nil
	}
	b.tokens, b.last = b.burst, clock
	const n = 1_000_000
	src := &maxReadRecorder{r: bytes.NewReader(make([]byte, n))}
	got, err := io.Copy(io.Discard, b.Reader(context.Background(), src))
	if err != nil || got != n {
		t.Fatalf("copied %d, %v", got, err)
	}
	want := time.Duration(float64(n-40_000) / 100_000 * float64(time.Second))
	if diff := slept - want; diff < -time.Millisecond || diff > time.Millisecond {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	if src.max > 40_000 {
		t.Fatalf("a read of %d bytes exceeds the burst", src.max)
	}

	// Idle time refills the bucket up to the burst, not beyond.
	slept = 0
	clock = clock.Add(time.Hour)
	io.Copy(io.Discard, b.Reader(context.Background(), bytes.NewReader(make([]byte, 40_000))))
	if slept != 0 {
		t.Fatalf("a burst after idle time slept %v", slept)
	}
	io.Copy(io.Discard, b.Reader(context.Background(), bytes.NewReader(make([]byte, 50_000))))
	if want := 500 * time.Millisecond; slept < want-time.Millisecond || slept > want+time.Millisecond {
		t.Fatalf("after the burst: slept %v, want %v", slept, want)
	}
}

type maxReadRecorder struct {
	r   io.Reader
	max int
}

func (m *maxReadRecorder) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.max = max(m.max, n)
	return n, err
}
