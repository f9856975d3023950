// Package cas is EUCORA's content-addressed object store: a directory of
// immutable files, each named by the SHA-256 of its bytes.
//
// Layout under the store root:
//
//	objects/ab/abcdef...   one file per object, read-only (0444)
//	tmp/                   objects being written; cleared by Open
//	partial/<digest>       resumable downloads (see Resume)
//
// Contract:
//   - An object is visible under its name only after its bytes were hashed,
//     matched the expected digest (when one was given), were fsynced, renamed
//     into place and the directory fsynced. A crash leaves at most stray
//     files in tmp/ or partial/, never a wrong object.
//   - Put is idempotent: storing content that is already present succeeds and
//     changes nothing.
//   - A Batch stores many objects with one durability point: none of them
//     is visible before Batch.Commit, which fsyncs their files (in
//     parallel), renames them into place and fsyncs each directory it
//     touched once; only its return acknowledges them. A crash before or
//     during Commit leaves temporary files and at most complete, verified
//     objects nobody was told about, which is harmless in a
//     content-addressed store. See Batch.
//   - Nothing from outside becomes a path: names are digest.Digest values,
//     which Parse has checked to be 64 lowercase hex characters.
package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/digest"
)

var (
	// ErrNotFound is returned when an object is not in the store.
	ErrNotFound = errors.New("object not found")
	// ErrNoSpace is returned by a free-space check that fails.
	ErrNoSpace = errors.New("not enough free space")
	// ErrBatchDone is returned for a Batch that was committed or aborted.
	ErrBatchDone = errors.New("batch already committed or aborted")
)

// SpaceError reports a write refused because the volume lacks room: Need
// bytes for the work plus Reserve kept free, against Free available.
type SpaceError struct {
	Dir                 string
	Need, Reserve, Free uint64
}

func (e *SpaceError) Error() string {
	return fmt.Sprintf("not enough free space in %s: need %s + %s reserve, have %s", e.Dir,
		bytesize.Format(int64(e.Need)), bytesize.Format(int64(e.Reserve)), bytesize.Format(int64(e.Free)))
}

func (e *SpaceError) Unwrap() error { return ErrNoSpace }

// Reserve is the free space Put keeps untouched on the volume.
const Reserve = 64 << 20

// Store is a content-addressed store rooted at a directory. It is safe for
// concurrent use by several goroutines and processes.
type Store struct {
	root   string
	noSync bool

	mu       sync.Mutex
	unsynced []string // NoSync: objects committed since the last Sync
}

// Options tune a Store.
type Options struct {
	// NoSync skips the per-object fsync. Only for scratch stores whose
	// owner calls Sync before relying on them and re-verifies objects after
	// an unclean stop (a power loss can leave unsynced objects damaged).
	NoSync bool
}

// Open opens (creating if needed) the store rooted at dir and removes
// temporary files left by a crash.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith is Open with options.
func OpenWith(dir string, opts Options) (*Store, error) {
	for _, sub := range []string{"objects", "tmp", "partial"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	s := &Store{root: dir, noSync: opts.NoSync}
	// Stale temp files are safe to drop: nothing refers to them.
	ents, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	for _, e := range ents {
		os.Remove(filepath.Join(dir, "tmp", e.Name()))
	}
	return s, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

// Path returns the file path of object d (which may not exist).
func (s *Store) Path(d digest.Digest) string {
	h := d.Hex()
	return filepath.Join(s.root, "objects", h[:2], h)
}

// Has reports whether object d is present.
func (s *Store) Has(d digest.Digest) (bool, error) {
	_, err := os.Stat(s.Path(d))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// Size returns the size of object d, or ErrNotFound.
func (s *Store) Size(d digest.Digest) (int64, error) {
	st, err := os.Stat(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s: %w", d, ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Open returns object d for reading (with Seek and ReadAt, for HTTP Range).
// It does not verify; use Verify or OpenVerified when the bytes will be
// trusted.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	f, err := os.Open(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", d, ErrNotFound)
	}
	return f, err
}

// OpenVerified returns a reader over object d that hashes as it reads and
// returns a *digest.MismatchError instead of io.EOF if the stored bytes no
// longer match their name.
func (s *Store) OpenVerified(d digest.Digest) (io.ReadCloser, error) {
	f, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	return &verifyingReader{f: f, v: digest.NewVerifier(d, -1)}, nil
}

// Verify re-hashes object d and reports a *digest.MismatchError on damage.
func (s *Store) Verify(d digest.Digest) error {
	r, err := s.OpenVerified(d)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err
}

type verifyingReader struct {
	f *os.File
	v *digest.Verifier
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.v.Write(p[:n])
	if err == io.EOF {
		if verr := r.v.Verify(); verr != nil {
			return n, verr
		}
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.f.Close() }

// Put streams r into the store. If want is non-empty the content must hash
// to it, and if size >= 0 it must be exactly size bytes; otherwise a
// *digest.MismatchError is returned and nothing is stored. When size is known
// the free space is checked before writing.
func (s *Store) Put(ctx context.Context, r io.Reader, want digest.Digest, size int64) (digest.Digest, int64, error) {
	return s.put(ctx, r, want, size, s.Create)
}

// put is Put with the writer made by create (Store.Create, Batch.Create).
func (s *Store) put(ctx context.Context, r io.Reader, want digest.Digest, size int64, create func(digest.Digest, int64) (*Writer, error)) (digest.Digest, int64, error) {
	if want != "" {
		if ok, _ := s.Has(want); ok {
			// Still consume and check the stream so callers see the
			// same errors whether or not the object was present.
			n, err := io.Copy(io.Discard, ctxReader{ctx, r})
			if err != nil {
				return "", n, err
			}
			if size >= 0 && n != size {
				return "", n, &digest.MismatchError{Object: want.String(), Want: string(want), Got: string(want), WantSize: size, GotSize: n}
			}
			return want, n, nil
		}
	}
	w, err := create(want, size)
	if err != nil {
		return "", 0, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, ctxReader{ctx, r}); err != nil {
		return "", w.n, err
	}
	d, err := w.Commit()
	return d, w.n, err
}

// PutBytes stores b.
func (s *Store) PutBytes(b []byte) (digest.Digest, error) {
	d, _, err := s.Put(context.Background(), bytes.NewReader(b), "", int64(len(b)))
	return d, err
}

// Writer streams one object into the store. Commit publishes it; Abort
// discards it. `defer w.Abort()` after Create is always safe.
type Writer struct {
	s    *Store
	f    *os.File
	v    *digest.Verifier
	want digest.Digest
	size int64
	n    int64
	done bool
	// partial is set when the writer resumes a partial download: Abort
	// keeps the file so a later Resume continues from it.
	partial bool
	// readOnly is set when the temporary file was created 0444 (CreateKnown):
	// commit needs no chmod.
	readOnly bool
	// writebackMin is the smallest object CommitNoSync gives the early
	// writeback hint (StartWriteback): 0 (every object) for Create and
	// Resume, 1 MiB for CreateKnown.
	writebackMin int64
	// hinted is how much of the file Write has handed to early writeback.
	hinted int64
	// err is the error of a failed write: the writer can only be aborted.
	err error
	// batch, when set, takes the verified object at commit (Batch.Create).
	batch *Batch
}

// Create starts an object. want may be empty when the digest is not known in
// advance; size may be -1.
func (s *Store) Create(want digest.Digest, size int64) (*Writer, error) {
	if size > 0 {
		if err := s.CheckSpace(uint64(size)); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "obj-*")
	if err != nil {
		return nil, err
	}
	return &Writer{s: s, f: f, v: digest.NewVerifier(want, size), want: want, size: size}, nil
}

// CreateKnown starts object want of exactly size bytes, like Create, with
// fewer system calls per object for callers that store many small objects
// in a row (a mirror sync stores thousands):
//   - free space is not checked: the caller checks the whole batch once
//     (CheckSpace) before it starts;
//   - the temporary file in tmp/ is created read-only (0444 less the
//     umask, like the store's directories), so committing needs no chmod,
//     and without registering it with the runtime's poller;
//   - committing renames straight into the shard directory and creates
//     that directory only when the rename reports it missing;
//   - CommitNoSync asks for early writeback (StartWriteback) only for
//     objects of 1 MiB or more: for small files the hint costs more than
//     the caller's final SyncFS saves.
//
// Verification and the commit contract are Create's: the bytes must hash to
// want and be exactly size long, or nothing is stored.
func (s *Store) CreateKnown(want digest.Digest, size int64) (*Writer, error) {
	if want == "" || size < 0 {
		return nil, errors.New("cas: CreateKnown needs a digest and a size")
	}
	f, err := createTemp(filepath.Join(s.root, "tmp"), "k-"+want.Hex()[:16])
	if err != nil {
		return nil, err
	}
	return &Writer{s: s, f: f, v: digest.NewVerifier(want, size), want: want, size: size, readOnly: true, writebackMin: 1 << 20}, nil
}

var (
	tmpSeq atomic.Uint64
	pid    = strconv.Itoa(os.Getpid()) // os.Getpid is a system call
)

// createTemp creates a new read-only temporary file in dir named after
// tag, the process and a counter (O_EXCL: never an existing file), open
// for reading too (Writer.ReadAt).
func createTemp(dir, tag string) (*os.File, error) {
	prefix := filepath.Join(dir, tag+"-"+pid+"-")
	for {
		name := prefix + strconv.FormatUint(tmpSeq.Add(1), 36)
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o444)
		if err == unix.EINTR || err == unix.EEXIST {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		// NewFile, unlike OpenFile, does not try to add a regular file to
		// the network poller (which always fails for one, after four fcntl
		// calls and an epoll_ctl).
		return os.NewFile(uintptr(fd), name), nil
	}
}

// Resume opens (or starts) a resumable partial object with known digest and
// size. It returns the writer and the number of bytes already held, which the
// caller skips in its source (an HTTP Range request, say). Bytes already held
// are re-hashed, so a resumed object is verified end to end. Abort keeps the
// partial file; Commit verifies and publishes it.
func (s *Store) Resume(want digest.Digest, size int64) (*Writer, int64, error) {
	if want == "" || size < 0 {
		return nil, 0, errors.New("cas: Resume needs a digest and a size")
	}
	p := filepath.Join(s.root, "partial", want.Hex())
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, err
	}
	w := &Writer{s: s, f: f, v: digest.NewVerifier(want, size), want: want, size: size, partial: true}
	n, err := io.Copy(w.v, f)
	if err != nil || n > size {
		// A partial longer than the object, or unreadable: start over.
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, 0, err
		}
		f.Seek(0, io.SeekStart)
		w.v = digest.NewVerifier(want, size)
		n = 0
	}
	w.n, w.hinted = n, n
	if err := s.CheckSpace(uint64(size - n)); err != nil {
		f.Close()
		return nil, 0, err
	}
	return w, n, nil
}

// Streaming tuning: a large object is copied through bigger buffers than
// io.Copy's 32 KiB (fewer system calls per byte) and its dirty pages are
// handed to the disk as it grows, so writing overlaps hashing and the
// closing fsync finds little left to write.
const (
	// copyBuffer is the buffer ReadFrom (and so io.Copy into a Writer)
	// fills before each write. Each byte passes through it three times
	// (read, write, hash): 128 KiB stays in the CPU's cache where 1 MiB
	// measured no faster.
	copyBuffer = 128 << 10
	// writebackEvery is how much an object grows between early-writeback
	// hints (StartWriteback of the range just written).
	writebackEvery = 8 << 20
)

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBuffer); return &b }}

// Write appends p to the object. After a failed write the writer can
// only be aborted: Commit returns the write's error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.size >= 0 && w.n+int64(len(p)) > w.size {
		return 0, &digest.MismatchError{Object: w.name(), Want: string(w.want), Got: string(w.want), WantSize: w.size, GotSize: w.n + int64(len(p))}
	}
	n, err := w.f.Write(p)
	w.v.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		// Whatever the file holds now, Commit must not publish it.
		w.err = err
		return n, err
	}
	if w.n-w.hinted >= writebackEvery {
		unix.SyncFileRange(int(w.f.Fd()), w.hinted, w.n-w.hinted, unix.SYNC_FILE_RANGE_WRITE)
		w.hinted = w.n
	}
	return n, nil
}

// ReadFrom copies r into the object through a large buffer until r
// returns io.EOF (io.Copy into a Writer uses it). Bytes read before an
// error are written, so a resumable download keeps them.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			m, err := w.Write(buf[:n])
			total += int64(m)
			if err != nil {
				return total, err
			}
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return total, nil
		default:
			return total, rerr
		}
	}
}

// Written returns the number of bytes held so far.
func (w *Writer) Written() int64 { return w.n }

// Sum is the digest of what was written so far.
func (w *Writer) Sum() digest.Digest { return digest.FromHash(w.v.Hash()) }

// ReadAt reads what was written so far, so a caller can inspect an object
// before it decides to Commit or Abort it.
func (w *Writer) ReadAt(p []byte, off int64) (int, error) {
	if w.done {
		return 0, errors.New("cas: writer already finished")
	}
	if off >= w.n {
		return 0, io.EOF
	}
	if max := w.n - off; int64(len(p)) > max {
		n, err := w.f.ReadAt(p[:max], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return w.f.ReadAt(p, off)
}

func (w *Writer) name() string {
	if w.want != "" {
		return w.want.String()
	}
	return "object"
}

// Commit verifies, syncs and publishes the object and returns its digest.
// On a mismatch nothing is published and the temporary data is removed.
func (w *Writer) Commit() (digest.Digest, error) { return w.commit(true) }

// CommitNoSync is Commit without the fsync of the object and of its
// directory: the object is visible at once but durable only after the
// caller's SyncFS returns. A caller that uses it must remember which
// objects it committed this way until SyncFS succeeds, and re-verify them
// (Verify) after a crash; mirror sync keeps such an intent log. It exists
// because one fsync per object dominates the cost of storing thousands of
// small files.
func (w *Writer) CommitNoSync() (digest.Digest, error) { return w.commit(false) }

func (w *Writer) commit(durable bool) (digest.Digest, error) {
	if w.done {
		return "", errors.New("cas: writer already finished")
	}
	w.done = true
	tmp := w.f.Name()
	if w.err != nil {
		w.f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("cas: %s: an earlier write failed: %w", w.name(), w.err)
	}
	got := digest.FromHash(w.v.Hash())
	if (w.want != "" && got != w.want) || (w.size >= 0 && w.n != w.size) {
		w.f.Close()
		os.Remove(tmp)
		want := string(w.want)
		if want == "" {
			want = string(got)
		}
		return "", &digest.MismatchError{Object: w.name(), Want: want, Got: string(got), WantSize: w.size, GotSize: w.n}
	}
	if w.batch != nil {
		// Durability and the name are the batch's, at its Commit.
		if err := w.batch.add(got, w.f); err != nil {
			return "", err
		}
		return got, nil
	}
	var err error
	if !w.readOnly {
		err = w.f.Chmod(0o444)
	}
	durable = durable && !w.s.noSync
	if err == nil && durable {
		err = w.f.Sync()
	} else if err == nil && w.n >= w.writebackMin {
		StartWriteback(w.f) // so the caller's later sync finds little left
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	final := w.s.Path(got)
	dir := filepath.Dir(final)
	if w.readOnly {
		// Most shard directories exist: try the rename first. rename(2)
		// directly: os.Rename first lstats the target (to refuse a
		// directory, which rename(2) refuses too), one more system call
		// per object.
		err = renameFile(tmp, final)
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(dir, 0o755); err == nil {
				err = renameFile(tmp, final)
			}
		}
	} else if err = os.MkdirAll(dir, 0o755); err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	if !durable {
		w.s.mu.Lock()
		w.s.unsynced = append(w.s.unsynced, final)
		w.s.mu.Unlock()
	} else if err := atomicfile.SyncDir(dir); err != nil {
		return "", err
	}
	return got, nil
}

func renameFile(from, to string) error {
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// Abort discards the object (a resumable partial is kept for Resume).
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.partial {
		w.f.Sync()
		w.f.Close()
		return
	}
	w.f.Close()
	os.Remove(w.f.Name())
}

// Sync makes the objects a NoSync store committed since the last Sync
// durable: their files and directories are fsynced in parallel, which lets
// the device batch the writes.
func (s *Store) Sync() error {
	s.mu.Lock()
	files := s.unsynced
	s.unsynced = nil
	s.mu.Unlock()
	dirs := map[string]bool{}
	for _, f := range files {
		dirs[filepath.Dir(f)] = true
	}
	var present []string
	for _, f := range files {
		if _, err := os.Lstat(f); err == nil {
			present = append(present, f) // removed objects need no sync
		}
	}
	for d := range dirs {
		present = append(present, d)
	}
	return SyncPaths(present)
}

// StartWriteback asks the kernel to start writing f's dirty pages to disk
// now, without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). It is only
// a hint that overlaps disk writes with other work; fsync is what makes
// data durable.
func StartWriteback(f *os.File) {
	unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

// SyncPaths fsyncs files and directories with a few goroutines.
func SyncPaths(paths []string) error {
	const workers = 8
	ch := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for p := range ch {
				if err := syncPath(p); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for _, p := range paths {
		ch <- p
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	return nil
}

// Remove deletes object d. Removing an absent object is not an error.
func (s *Store) Remove(d digest.Digest) error {
	err := os.Remove(s.Path(d))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Walk calls fn for every object in the store, in no particular order.
// Files whose names are not digests are skipped.
func (s *Store) Walk(fn func(d digest.Digest, size int64) error) error {
	top := filepath.Join(s.root, "objects")
	shards, err := os.ReadDir(top)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		if !sh.IsDir() || len(sh.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(top, sh.Name()))
		if err != nil {
			return err
		}
		for _, e := range ents {
			d, err := digest.Parse(e.Name())
			if err != nil || d.Hex()[:2] != sh.Name() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if err := fn(d, info.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// SyncFS flushes the whole file system holding the store (syncfs(2)),
// making every object committed with CommitNoSync durable together with
// any other file the caller wrote there. Sync is the narrower choice when
// only the store's own objects need flushing.
func (s *Store) SyncFS() error {
	d, err := os.Open(s.root)
	if err != nil {
		return err
	}
	defer d.Close()
	s.mu.Lock()
	taken := s.unsynced
	s.unsynced = nil
	s.mu.Unlock()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		// Not durable yet: a later Sync must still know these objects.
		s.mu.Lock()
		s.unsynced = append(taken, s.unsynced...)
		s.mu.Unlock()
		return fmt.Errorf("syncfs %s: %w", s.root, err)
	}
	return nil
}

// CheckSpace returns a *SpaceError when the store's volume has less than
// need bytes free beyond Reserve.
func (s *Store) CheckSpace(need uint64) error {
	return CheckSpace(s.root, need)
}

// CheckSpace returns a *SpaceError when the volume holding dir has less than
// need bytes free beyond Reserve.
func CheckSpace(dir string, need uint64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("check free space in %s: %w", dir, err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < need+Reserve {
		return &SpaceError{Dir: dir, Need: need, Reserve: Reserve, Free: free}
	}
	return nil
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
