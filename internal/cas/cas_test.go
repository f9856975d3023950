package cas

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/eucora/eucora/internal/digest"
)

func mustOpen(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutHasOpenWalk(t *testing.T) {
	s := mustOpen(t)
	data := []byte("hello, air gap")
	want := digest.FromBytes(data)
	d, n, err := s.Put(context.Background(), bytes.NewReader(data), "", -1)
	if err != nil || d != want || n != int64(len(data)) {
		t.Fatalf("Put = %s %d %v", d, n, err)
	}
	// Idempotent.
	if d2, _, err := s.Put(context.Background(), bytes.NewReader(data), want, int64(len(data))); err != nil || d2 != want {
		t.Fatalf("second Put = %s %v", d2, err)
	}
	if ok, _ := s.Has(want); !ok {
		t.Fatal("Has = false")
	}
	r, err := s.OpenVerified(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %q %v", got, err)
	}
	var seen []digest.Digest
	s.Walk(func(d digest.Digest, size int64) error { seen = append(seen, d); return nil })
	if len(seen) != 1 || seen[0] != want {
		t.Fatalf("Walk saw %v", seen)
	}
	if _, err := s.Open(digest.FromBytes([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open absent: %v", err)
	}
}

func TestPutMismatchStoresNothing(t *testing.T) {
	s := mustOpen(t)
	wrong := digest.FromBytes([]byte("other"))
	_, _, err := s.Put(context.Background(), strings.NewReader("payload"), wrong, -1)
	var me *digest.MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("want MismatchError, got %v", err)
	}
	_, _, err = s.Put(context.Background(), strings.NewReader("payload"), "", 3)
	if !errors.As(err, &me) {
		t.Fatalf("size: want MismatchError, got %v", err)
	}
	assertEmpty(t, s)
}

func assertEmpty(t *testing.T, s *Store) {
	t.Helper()
	n := 0
	s.Walk(func(digest.Digest, int64) error { n++; return nil })
	tmp, _ := os.ReadDir(filepath.Join(s.Root(), "tmp"))
	if n != 0 || len(tmp) != 0 {
		t.Fatalf("store holds %d objects and %d temp files", n, len(tmp))
	}
}

func TestVerifyDetectsDamage(t *testing.T) {
	s := mustOpen(t)
	d, err := s.PutBytes([]byte("original bytes"))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Path(d)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("Original bytes"), 0o644)
	var me *digest.MismatchError
	if err := s.Verify(d); !errors.As(err, &me) {
		t.Fatalf("Verify damaged: %v", err)
	}
}

func TestResume(t *testing.T) {
	s := mustOpen(t)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	want := digest.FromBytes(data)
	w, off, err := s.Resume(want, int64(len(data)))
	if err != nil || off != 0 {
		t.Fatal(off, err)
	}
	w.Write(data[:4321])
	w.Abort() // link dropped
	w, off, err = s.Resume(want, int64(len(data)))
	if err != nil || off != 4321 {
		t.Fatalf("resume offset %d %v", off, err)
	}
	w.Write(data[off:])
	if d, err := w.Commit(); err != nil || d != want {
		t.Fatalf("commit %s %v", d, err)
	}
	if err := s.Verify(want); err != nil {
		t.Fatal(err)
	}
	// Too many bytes are refused.
	w, _, _ = s.Resume(digest.FromBytes([]byte("ab")), 2)
	if _, err := w.Write([]byte("abc")); err == nil {
		t.Fatal("overlong write accepted")
	}
	w.Abort()
}

func TestOpenClearsTemp(t *testing.T) {
	dir := t.TempDir()
	Open(dir)
	os.WriteFile(filepath.Join(dir, "tmp", "obj-crash"), []byte("x"), 0o644)
	s, _ := Open(dir)
	assertEmpty(t, s)
}

func TestCheckSpace(t *testing.T) {
	s := mustOpen(t)
	var se *SpaceError
	if err := s.CheckSpace(1 << 62); !errors.As(err, &se) || !errors.Is(err, ErrNoSpace) {
		t.Fatalf("want SpaceError, got %v", err)
	}
	if _, err := s.Create("", 1<<62); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Create huge: %v", err)
	}
}

// TestSpaceErrorShowsReserve: a refusal names what the work needs and the
// reserve kept free beside it, so "have 100 MiB, need 40 MiB" never reads
// as a contradiction.
func TestSpaceErrorShowsReserve(t *testing.T) {
	for _, c := range []struct {
		e    SpaceError
		want string
	}{
		{SpaceError{Dir: "/media/usb", Need: 195 << 10, Reserve: Reserve, Free: 20 << 20}, "not enough free space in /media/usb: need 195.0 KiB + 64.0 MiB reserve, have 20.0 MiB"},
		{SpaceError{Dir: "d", Need: 10, Reserve: Reserve, Free: 0}, "not enough free space in d: need 10 B + 64.0 MiB reserve, have 0 B"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	var se *SpaceError
	if err := CheckSpace(t.TempDir(), 1<<62); !errors.As(err, &se) || se.Reserve != Reserve || !strings.Contains(err.Error(), "+ 64.0 MiB reserve") {
		t.Fatalf("CheckSpace: %v", err)
	}
}

func TestNoSyncStoreSync(t *testing.T) {
	s, err := OpenWith(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.PutBytes([]byte("a"))
	b, _ := s.PutBytes([]byte("b"))
	s.Remove(b) // a removed object needs no sync
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(a); !ok {
		t.Fatal("object lost")
	}
	if len(s.unsynced) != 0 {
		t.Fatalf("unsynced list not cleared: %v", s.unsynced)
	}
}

func TestCommitNoSyncThenSyncFS(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("deferred durability")
	w, err := s.Create(digest.FromBytes(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	d, err := w.CommitNoSync()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SyncFS(); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(d); err != nil {
		t.Fatal(err)
	}
	// A wrong digest is refused exactly as by Commit.
	w, _ = s.Create(digest.FromBytes([]byte("other")), -1)
	w.Write(data)
	if _, err := w.CommitNoSync(); err == nil {
		t.Fatal("CommitNoSync accepted content that does not match its digest")
	}
}

func TestCreateKnown(t *testing.T) {
	s := mustOpen(t)
	data := []byte("one of many small packages")
	want := digest.FromBytes(data)
	if _, err := s.CreateKnown("", 1); err == nil {
		t.Fatal("CreateKnown without a digest accepted")
	}
	w, err := s.CreateKnown(want, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(want); ok {
		t.Fatal("object visible before commit")
	}
	w.Write(data)
	if d, err := w.CommitNoSync(); err != nil || d != want {
		t.Fatalf("commit %s %v", d, err)
	}
	if err := s.Verify(want); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(s.Path(want)); err != nil || st.Mode().Perm() != 0o444 {
		t.Fatalf("object mode %v %v, want read-only", st.Mode(), err)
	}
	// Same object again (the shard directory exists now): idempotent.
	w, _ = s.CreateKnown(want, int64(len(data)))
	w.Write(data)
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	// Wrong content, short content and overlong content store nothing.
	other := digest.FromBytes([]byte("other"))
	for _, c := range []struct {
		want digest.Digest
		size int64
		data []byte
	}{{other, int64(len(data)), data}, {want, int64(len(data)), data[:3]}, {want, 3, data}} {
		w, err := s.CreateKnown(c.want, c.size)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(c.data)
		if _, err := w.CommitNoSync(); err == nil {
			t.Fatalf("CommitNoSync accepted %q as %s of %d bytes", c.data, c.want.Short(), c.size)
		}
	}
	if ok, _ := s.Has(other); ok {
		t.Fatal("mismatched object stored")
	}
	// Aborted writers leave nothing in tmp/.
	w, _ = s.CreateKnown(other, 5)
	w.Abort()
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(ents) != 0 {
		t.Fatalf("tmp/ holds %d files after commits and aborts", len(ents))
	}
}

// io.Copy into a Writer goes through ReadFrom's large buffer; an object
// larger than the early-writeback step and not a multiple of the buffer
// arrives whole.
func TestLargeObjectThroughReadFrom(t *testing.T) {
	s := mustOpen(t)
	data := make([]byte, writebackEvery+copyBuffer+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	d, n, err := s.Put(context.Background(), iotest.HalfReader(bytes.NewReader(data)), "", int64(len(data)))
	if err != nil || n != int64(len(data)) || d != digest.FromBytes(data) {
		t.Fatalf("Put = %s %d %v", d, n, err)
	}
	if err := s.Verify(d); err != nil {
		t.Fatal(err)
	}
	// A source that fails midway: what was read is written (a resumed
	// download continues from it), the error is the source's.
	want := digest.FromBytes(data)
	s2 := mustOpen(t)
	w, _, err := s2.Resume(want, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("link dropped")
	got, err := io.Copy(w, io.MultiReader(bytes.NewReader(data[:3*copyBuffer/2]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || got != 3*copyBuffer/2 {
		t.Fatalf("copy = %d %v", got, err)
	}
	w.Abort()
	w, off, err := s2.Resume(want, int64(len(data)))
	if err != nil || off != 3*copyBuffer/2 {
		t.Fatalf("resume at %d %v", off, err)
	}
	io.Copy(w, bytes.NewReader(data[off:]))
	if d, err := w.Commit(); err != nil || d != want {
		t.Fatalf("commit %s %v", d, err)
	}
}

// After a failed write the writer publishes nothing.
func TestCommitAfterFailedWrite(t *testing.T) {
	s := mustOpen(t)
	w, err := s.Create("", -1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("first part"))
	w.f.Close() // the next write fails
	if _, err := w.Write([]byte(" second part")); err == nil {
		t.Fatal("write to a closed file succeeded")
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Fatal("a writer went on after a failed write")
	}
	if d, err := w.Commit(); err == nil {
		t.Fatalf("Commit after a failed write published %s", d)
	}
	assertEmpty(t, s)
}
