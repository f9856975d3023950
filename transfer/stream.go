package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/progress"
)

// Decoder limits for untrusted input. The writer uses a 4 MiB window, so a
// larger window in a volume is refused rather than allocated.
const (
	MaxDecoderWindow = 8 << 20
	MaxDecoderMemory = 64 << 20
)

func newDecoder() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(MaxDecoderWindow),
		zstd.WithDecoderMaxMemory(MaxDecoderMemory),
	)
}

// entryReader streams one entry's raw bytes and checks, at the end, that the
// stored form held exactly raw bytes and that the tar padding is zero.
type entryReader struct {
	v   *Volume
	f   *os.File
	dec *zstd.Decoder
}

// copyEntry writes entry e's raw bytes to dst. It returns a *CorruptError
// if the stored bytes do not decode to exactly e.raw bytes or the padding
// is not zero. It does not check the digest: dst does.
func (r *entryReader) copyEntry(ctx context.Context, e *entry, dst io.Writer) error {
	bad := func(format string, args ...any) error {
		return &CorruptError{Volume: r.v.Path, Entry: e.name, Offset: e.hdrOff, Reason: fmt.Sprintf(format, args...)}
	}
	if e.storedDigest != "" {
		// Format v2 signs the stored bytes: check them before any of them
		// reach the decoder.
		h := digest.NewVerifier(e.storedDigest, e.stored)
		if _, err := io.Copy(h, ctxReader{ctx, io.NewSectionReader(r.f, e.dataOff, e.stored)}); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return bad("read stored bytes: %v", err)
		}
		if err := h.Verify(); err != nil {
			return &CorruptError{Volume: r.v.Path, Entry: e.name, Offset: e.hdrOff, Reason: "stored bytes: " + err.Error(), Err: err}
		}
	}
	var src io.Reader = io.NewSectionReader(r.f, e.dataOff, e.stored)
	if e.compressed {
		if err := r.dec.Reset(src); err != nil {
			return bad("zstd: %v", err)
		}
		src = r.dec
	}
	src = ctxReader{ctx, src}
	n, err := io.CopyN(dst, src, e.raw)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var me *digest.MismatchError
		if errors.As(err, &me) {
			return &CorruptError{Volume: r.v.Path, Entry: e.name, Offset: e.hdrOff, Reason: me.Error(), Err: me}
		}
		if err == io.EOF {
			return bad("data ends after %d of %d bytes", n, e.raw)
		}
		if isWriteErr(err) {
			return err
		}
		return bad("decode: %v", err)
	}
	if e.compressed {
		// The stored frames must decode to exactly raw bytes: no more.
		var one [1]byte
		if k, err := r.dec.Read(one[:]); k > 0 || err != io.EOF {
			if err != nil && err != io.EOF {
				return bad("zstd data after %d bytes: %v", e.raw, err)
			}
			return bad("decompresses to more than the manifest's %d bytes", e.raw)
		}
	}
	pad := padLen(e.stored)
	if pad > 0 {
		buf := make([]byte, pad)
		if _, err := r.f.ReadAt(buf, e.dataOff+e.stored); err != nil {
			return bad("read padding: %v", err)
		}
		if !isZero(buf) {
			return bad("non-zero bytes in tar padding")
		}
	}
	return nil
}

// writeErr marks errors from the destination (disk full...), which are
// not evidence of a corrupt volume.
type writeErr struct{ error }

func (e writeErr) Unwrap() error { return e.error }

func isWriteErr(err error) bool {
	var w writeErr
	return errors.As(err, &w)
}

type markWrites struct{ w io.Writer }

func (m markWrites) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		var me *digest.MismatchError
		if errors.As(err, &me) {
			return n, err
		}
		return n, writeErr{err}
	}
	return n, nil
}

// forEachEntry runs fn on the volume's entries with up to workers goroutines,
// each with its own decoder. The first error stops the rest.
func (v *Volume) forEachEntry(ctx context.Context, workers int, skip func(*entry) bool, fn func(ctx context.Context, r *entryReader, e *entry) error) error {
	f, err := os.Open(v.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *entry)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec, err := newDecoder()
			if err != nil {
				fail(err)
				return
			}
			defer dec.Close()
			r := &entryReader{v: v, f: f, dec: dec}
			for e := range jobs {
				if err := fn(ctx, r, e); err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for i := range v.entries {
		e := &v.entries[i]
		if skip != nil && skip(e) {
			continue
		}
		select {
		case jobs <- e:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// Verify hashes every entry of the volume and checks it against its name
// and the manifest. It writes nothing. progress receives raw bytes.
func (v *Volume) Verify(ctx context.Context, workers int, prog progress.Func) error {
	prog = serialized(prog)
	return v.forEachEntry(ctx, workers, nil, func(ctx context.Context, r *entryReader, e *entry) error {
		return r.verifyEntry(ctx, e, prog)
	})
}

// verifyEntry reads entry e and checks its bytes against its digest,
// writing nothing.
func (r *entryReader) verifyEntry(ctx context.Context, e *entry, prog progress.Func) error {
	h := digest.NewVerifier(e.digest, e.raw)
	if err := r.copyEntry(ctx, e, progressWriter{h, prog}); err != nil {
		return err
	}
	if err := h.Verify(); err != nil {
		return &CorruptError{Volume: r.v.Path, Entry: e.name, Offset: e.hdrOff, Reason: err.Error(), Err: err}
	}
	return nil
}

// ImportVolume streams the volume's entries into store. Every entry is
// read and hashed, including those whose bytes the store already holds
// (an object held from an earlier bundle, or a part of a split object held
// whole): those are verified and not written again, so a tampered entry is
// a *CorruptError whatever the store holds, and an interrupted import
// resumes without rewriting what it stored. Each written entry is verified
// by the store before it becomes visible.
func (v *Volume) ImportVolume(ctx context.Context, store *cas.Store, workers int, prog progress.Func) error {
	prog = serialized(prog)
	held := v.entriesHeld(store)
	return v.forEachEntry(ctx, workers, nil, func(ctx context.Context, r *entryReader, e *entry) error {
		if held[e.digest] {
			return r.verifyEntry(ctx, e, prog)
		}
		w, err := store.Create(e.digest, e.raw)
		if err != nil {
			return err
		}
		defer w.Abort()
		if err := r.copyEntry(ctx, e, progressWriter{markWrites{w}, prog}); err != nil {
			return err
		}
		if _, err := w.Commit(); err != nil {
			var me *digest.MismatchError
			if errors.As(err, &me) {
				return &CorruptError{Volume: v.Path, Entry: e.name, Offset: e.hdrOff, Reason: me.Error(), Err: me}
			}
			return err
		}
		return nil
	})
}

// entriesHeld is the set of the volume's entries whose bytes need not be
// written: the store holds the entry itself, or every object the entry is
// a part of is held whole. It asks the store only about objects with a
// part in this volume and about entries such an object still needs.
func (v *Volume) entriesHeld(store *cas.Store) map[digest.Digest]bool {
	has := func(d digest.Digest) bool { ok, _ := store.Has(d); return ok }
	needed := map[digest.Digest]bool{} // parts in this volume of an object not held
	for _, o := range v.Signed.Manifest.Objects {
		asked, whole := false, false
		for _, p := range o.Parts {
			if p.Volume != v.Index {
				continue
			}
			if !asked {
				asked, whole = true, has(o.Digest)
			}
			if !whole {
				needed[p.Digest] = true
			}
		}
	}
	held := map[digest.Digest]bool{}
	for _, e := range v.entries {
		if !needed[e.digest] || has(e.digest) {
			held[e.digest] = true
		}
	}
	return held
}

type progressWriter struct {
	w io.Writer
	f progress.Func
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if p.f != nil {
		p.f(int64(n))
	}
	return n, err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// serialized wraps a progress callback so that the worker goroutines never
// call it concurrently; callers need no locking of their own.
func serialized(f progress.Func) progress.Func {
	if f == nil {
		return nil
	}
	var mu sync.Mutex
	return func(n int64) {
		mu.Lock()
		f(n)
		mu.Unlock()
	}
}
