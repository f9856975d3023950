package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
)

// Fetcher downloads upstream files over HTTP with an idle timeout, retries
// with backoff for transient failures, and per-object resume.
type Fetcher struct {
	Client *http.Client
	// IdleTimeout aborts a request that receives no byte (headers or body)
	// for this long. Default 30s.
	IdleTimeout time.Duration
	// Retries is how many times a transient failure is retried: 0 means
	// the default (3), a negative value none.
	Retries int
	// Backoff is the first retry delay (doubling). Default 500ms.
	Backoff time.Duration
	// UserAgent is sent with every request.
	UserAgent string

	once sync.Once
	dflt *http.Client
	// fsMu serialises creating and renaming objects. Parallel workers that
	// create files in the store's one partial/ (or tmp/) directory at once
	// contend on the directory's lock, and the kernel spins on it:
	// measured, creation then cost more CPU than the whole download. One at
	// a time is faster. Spreading the temporary files over 16 directories
	// to create them in parallel was measured too: no faster, more CPU
	// (allocating the inode is itself CPU work on the file system).
	fsMu sync.Mutex
}

func (f *Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	// One client per Fetcher, so connections are kept alive and reused.
	f.once.Do(func() {
		f.dflt = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	})
	return f.dflt
}

func (f *Fetcher) idle() time.Duration {
	if f.IdleTimeout > 0 {
		return f.IdleTimeout
	}
	return 30 * time.Second
}

// retry runs op, retrying transient failures.
func (f *Fetcher) retry(ctx context.Context, op func() error) error {
	retries := f.Retries
	switch {
	case retries < 0:
		retries = 0 // none
	case retries == 0:
		retries = 3 // the default
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = f.Backoff
	if b.InitialInterval <= 0 {
		b.InitialInterval = 500 * time.Millisecond
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := op()
		if err != nil && !transient(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(retries+1)), backoff.WithMaxElapsedTime(0))
	return err
}

// transient reports failures worth retrying: 5xx, 408, 429, transport
// errors, stalls and truncated bodies. Hash mismatches and 4xx are final.
func transient(err error) bool {
	var fe *FetchError
	if errors.As(err, &fe) {
		if fe.Status != 0 {
			return fe.Status >= 500 || fe.Status == 408 || fe.Status == 429
		}
		return !errors.Is(err, context.Canceled)
	}
	return false
}

// response is an open download whose body reads reset the idle timer.
type response struct {
	*http.Response
	body io.Reader
	stop func()
}

func (f *Fetcher) open(ctx context.Context, url string, offset int64) (*response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	idle := f.idle()
	timer := time.AfterFunc(idle, func() { cancel(ErrStalled) })
	stop := func() { timer.Stop(); cancel(context.Canceled) }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		stop()
		return nil, &FetchError{URL: url, Reason: err.Error(), Err: ErrInvalid}
	}
	if f.UserAgent != "" {
		req.Header.Set("User-Agent", f.UserAgent)
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := f.client().Do(req)
	if err != nil {
		stop()
		return nil, f.transportError(ctx, url, err)
	}
	timer.Reset(idle)
	ok := resp.StatusCode == http.StatusOK || (offset > 0 && resp.StatusCode == http.StatusPartialContent)
	if !ok {
		resp.Body.Close()
		stop()
		return nil, &FetchError{URL: url, Status: resp.StatusCode, Reason: http.StatusText(resp.StatusCode)}
	}
	r := &response{Response: resp, stop: func() { resp.Body.Close(); stop() }}
	r.body = &idleReader{r: resp.Body, timer: timer, idle: idle, ctx: ctx, url: url, f: f}
	return r, nil
}

func (f *Fetcher) transportError(ctx context.Context, url string, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) {
		return &FetchError{URL: url, Reason: fmt.Sprintf("no data for %s: server stalled", f.idle()), Err: ErrStalled}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &FetchError{URL: url, Reason: err.Error(), Err: err}
}

type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
	ctx   context.Context
	url   string
	f     *Fetcher
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	if err != nil && err != io.EOF {
		return n, r.f.transportError(r.ctx, r.url, err)
	}
	return n, err
}

// errTooLarge is the Err of the FetchError Bytes returns for a body over
// its limit; Verified reports it as a size mismatch.
var errTooLarge = fmt.Errorf("larger than the limit: %w", ErrInvalid)

// Bytes downloads url whole into memory. At most max bytes are accepted.
func (f *Fetcher) Bytes(ctx context.Context, url string, max int64) ([]byte, error) {
	var out []byte
	err := f.retry(ctx, func() error {
		r, err := f.open(ctx, url, 0)
		if err != nil {
			return err
		}
		defer r.stop()
		b, err := io.ReadAll(io.LimitReader(r.body, max+1))
		if err != nil {
			return err
		}
		if int64(len(b)) > max {
			return &FetchError{URL: url, Reason: fmt.Sprintf("larger than the %d-byte limit", max), Err: errTooLarge}
		}
		if r.ContentLength >= 0 && int64(len(b)) != r.ContentLength {
			return &FetchError{URL: url, Reason: fmt.Sprintf("truncated: got %d of %d bytes", len(b), r.ContentLength), Err: io.ErrUnexpectedEOF}
		}
		out = b
		return nil
	})
	return out, err
}

// Verified downloads url expecting exactly size bytes with SHA-256 want,
// into memory. name is the file named in errors.
func (f *Fetcher) Verified(ctx context.Context, url, name string, want digest.Digest, size int64) ([]byte, error) {
	b, err := f.Bytes(ctx, url, size)
	if err != nil {
		var fe *FetchError
		if errors.As(err, &fe) && errors.Is(err, errTooLarge) {
			return nil, &digest.MismatchError{Object: name, Want: string(want), Got: "(not computed)", WantSize: size, GotSize: size + 1}
		}
		return nil, err
	}
	got := digest.FromBytes(b)
	if got != want || int64(len(b)) != size {
		return nil, &digest.MismatchError{Object: name + " (" + url + ")", Want: string(want), Got: string(got), WantSize: size, GotSize: int64(len(b))}
	}
	return b, nil
}

// ToStore downloads url into the content store as object want of size
// bytes, resuming a partial download of resumeMin bytes or more with an
// HTTP Range request. progress (may be nil) is called with byte counts as
// they arrive. Free space is checked only for resumable downloads: the
// caller checks the batch's total first (Store.CheckSpace). The object is
// committed without its own fsync (cas.Writer.CommitNoSync): the caller
// must call Store.SyncFS before it records anything that refers to it, and
// keep an intent log so a crash before that is detected (see Repo.Sync).
func (f *Fetcher) ToStore(ctx context.Context, store *cas.Store, url, name string, want digest.Digest, size int64, progress func(int64)) error {
	return f.retry(ctx, func() error {
		var w *cas.Writer
		var have int64
		var err error
		f.fsMu.Lock()
		if size < resumeMin {
			w, err = store.CreateKnown(want, size)
		} else {
			w, have, err = store.Resume(want, size)
		}
		f.fsMu.Unlock()
		if err != nil {
			return err
		}
		defer w.Abort()
		if have < size {
			r, err := f.open(ctx, url, have)
			if err != nil {
				return err
			}
			defer r.stop()
			if have > 0 && r.StatusCode == http.StatusOK {
				// The server ignored Range: skip what we hold.
				if n, err := io.CopyN(io.Discard, r.body, have); err != nil {
					if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
						return &FetchError{URL: url, Reason: fmt.Sprintf("truncated: connection closed after %d of %d bytes", n, size), Err: io.ErrUnexpectedEOF}
					}
					return err
				}
			}
			var dst io.Writer = w
			if progress != nil {
				dst = progressWriter{w, progress}
			}
			buf := copyBufs.Get().(*[]byte)
			n, err := io.CopyBuffer(dst, r.body, *buf)
			copyBufs.Put(buf)
			if err != nil {
				var me *digest.MismatchError
				if errors.As(err, &me) {
					me.Object = name + " (" + url + ")"
					return me
				}
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return &FetchError{URL: url, Reason: fmt.Sprintf("truncated: connection closed after %d of %d bytes", have+n, size), Err: io.ErrUnexpectedEOF}
				}
				return err
			}
			if have+n < size {
				return &FetchError{URL: url, Reason: fmt.Sprintf("truncated: got %d of %d bytes", have+n, size), Err: io.ErrUnexpectedEOF}
			}
		}
		f.fsMu.Lock()
		_, err = w.CommitNoSync()
		f.fsMu.Unlock()
		if err != nil {
			var me *digest.MismatchError
			if errors.As(err, &me) {
				me.Object = name + " (" + url + ")"
			}
			return err
		}
		return nil
	})
}

// resumeMin is the smallest download kept resumable (cas.Resume, a file in
// partial/ that survives a failure). A smaller one restarts from zero on a
// retry, which costs less than the extra work a resumable file needs on
// every success: re-hashing what it holds, a free-space check per object, a
// chmod before the rename (cas.CreateKnown does none of these).
const resumeMin = 64 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n))
	return n, err
}
