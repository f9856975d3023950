package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eucora/eucora/internal/digest"
)

func objectBytes(i int) []byte { return []byte(fmt.Sprintf("batch object %d", i)) }

// putBatch puts objects from..to-1 into b, half through Put and half
// through Create/Write/Commit, and returns their digests.
func putBatch(t *testing.T, b *Batch, from, to int) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	for i := from; i < to; i++ {
		data := objectBytes(i)
		var d digest.Digest
		var err error
		if i%2 == 0 {
			d, _, err = b.Put(context.Background(), bytes.NewReader(data), "", int64(len(data)))
		} else {
			var w *Writer
			if w, err = b.Create(digest.FromBytes(data), -1); err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			// What was written can be read back before it is committed.
			back := make([]byte, len(data))
			if n, err := w.ReadAt(back, 0); n != len(data) || !bytes.Equal(back, data) {
				t.Fatalf("ReadAt = %d %v", n, err)
			}
			d, err = w.Commit()
		}
		if err != nil || d != digest.FromBytes(data) {
			t.Fatalf("object %d: %s %v", i, d, err)
		}
		ds = append(ds, d)
	}
	return ds
}

func storedObjects(t *testing.T, s *Store) map[digest.Digest]bool {
	t.Helper()
	got := map[digest.Digest]bool{}
	if err := s.Walk(func(d digest.Digest, _ int64) error { got[d] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func tmpFiles(t *testing.T, s *Store) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Root(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Nothing of a batch is in the store before Commit; after it, all is,
// verified and read-only, and tmp/ is empty.
func TestBatchVisibleOnlyAfterCommit(t *testing.T) {
	s := mustOpen(t)
	b := s.NewBatch()
	ds := putBatch(t, b, 0, 20)
	putBatch(t, b, 0, 4) // the same bytes again: one object each
	if b.Len() != 20 {
		t.Fatalf("Len = %d, want 20", b.Len())
	}
	for _, d := range ds {
		if ok, _ := s.Has(d); ok {
			t.Fatalf("%s visible before Commit", d.Short())
		}
		if _, err := s.Open(d); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Open before Commit: %v", err)
		}
	}
	if n := len(storedObjects(t, s)); n != 0 {
		t.Fatalf("Walk sees %d objects before Commit", n)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := s.Verify(d); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(s.Path(d)); err != nil || st.Mode().Perm() != 0o444 {
			t.Fatalf("object mode %v %v, want read-only", st.Mode(), err)
		}
	}
	if n := len(storedObjects(t, s)); n != 20 {
		t.Fatalf("%d objects stored, want 20", n)
	}
	if n := tmpFiles(t, s); n != 0 {
		t.Fatalf("tmp/ holds %d files after Commit", n)
	}
}

// A batch larger than the files it keeps open reopens the rest for the
// fsync; objects already in the store are not stored twice.
func TestBatchLargerThanOpenLimit(t *testing.T) {
	s := mustOpen(t)
	pre, err := s.PutBytes(objectBytes(3))
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	ds := putBatch(t, b, 0, maxBatchOpen+40)
	if b.Len() != maxBatchOpen+39 {
		t.Fatalf("Len = %d, want %d (one object was already stored)", b.Len(), maxBatchOpen+39)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	got := storedObjects(t, s)
	for _, d := range append(ds, pre) {
		if !got[d] {
			t.Fatalf("%s not stored", d.Short())
		}
	}
}

// An object refused while it is put (a digest or size mismatch) is
// reported then and is no part of the batch: Commit stores the rest and
// nothing of it.
func TestBatchRefusedObjectStoresNothingOfIt(t *testing.T) {
	s := mustOpen(t)
	b := s.NewBatch()
	ds := putBatch(t, b, 0, 5)
	var me *digest.MismatchError
	wrong := digest.FromBytes([]byte("something else"))
	if _, _, err := b.Put(context.Background(), strings.NewReader("payload"), wrong, -1); !errors.As(err, &me) {
		t.Fatalf("Put with a wrong digest: %v", err)
	}
	if _, _, err := b.Put(context.Background(), strings.NewReader("payload"), "", 3); !errors.As(err, &me) {
		t.Fatalf("Put with a wrong size: %v", err)
	}
	w, _ := b.Create("", -1)
	w.Write([]byte("given up"))
	w.Abort()
	if b.Len() != 5 {
		t.Fatalf("Len = %d, want 5", b.Len())
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	got := storedObjects(t, s)
	if len(got) != 5 {
		t.Fatalf("%d objects stored, want 5", len(got))
	}
	for _, d := range ds {
		if !got[d] {
			t.Fatalf("%s not stored", d.Short())
		}
	}
	if n := tmpFiles(t, s); n != 0 {
		t.Fatalf("tmp/ holds %d files", n)
	}
}

// Objects that fail at Commit (their fsync, their rename) are listed in a
// *BatchError; every other object is stored, and nothing of the failed
// ones is.
func TestBatchCommitReportsWhichFailed(t *testing.T) {
	s := mustOpen(t)
	b := s.NewBatch()
	ds := putBatch(t, b, 0, 10)
	// Object 2's file fails its fsync; object 5's temporary file vanishes
	// (another process opening the store clears tmp/).
	byDigest := map[digest.Digest]*pendingObject{}
	for _, p := range b.pend {
		byDigest[p.d] = p
	}
	byDigest[ds[2]].f.Close()
	os.Remove(byDigest[ds[5]].tmp)

	err := b.Commit()
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Commit = %v, want a *BatchError", err)
	}
	if len(be.Objects) != 2 || be.Objects[ds[2]] == nil || be.Objects[ds[5]] == nil || be.Total != 10 {
		t.Fatalf("BatchError %+v", be)
	}
	if !strings.Contains(err.Error(), "2 of 10 objects not stored") || !strings.Contains(err.Error(), ds[2].Short()) {
		t.Fatalf("message %q", err)
	}
	got := storedObjects(t, s)
	for i, d := range ds {
		if got[d] == (i == 2 || i == 5) {
			t.Fatalf("object %d: stored %v", i, got[d])
		}
	}
	if n := tmpFiles(t, s); n != 0 {
		t.Fatalf("tmp/ holds %d files", n)
	}
}

// A batch abandoned by a crash (never committed) leaves the store as it
// was once reopened, and the same objects can be put again; so can a
// batch that crashed midway through Commit, with some objects renamed
// and others still in tmp/.
func TestBatchCrashLeavesStoreConsistent(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.PutBytes([]byte("already there"))

	// Crash before Commit: the process dies with the batch open.
	b := s.NewBatch()
	ds := putBatch(t, b, 0, 12)
	for _, p := range b.pend {
		if p.f != nil {
			p.f.Close()
		}
	}
	s, err = Open(dir) // the restart
	if err != nil {
		t.Fatal(err)
	}
	if got := storedObjects(t, s); len(got) != 1 || !got[before] {
		t.Fatalf("after an abandoned batch the store holds %v", got)
	}
	if n := tmpFiles(t, s); n != 0 {
		t.Fatalf("tmp/ holds %d files after reopening", n)
	}

	// Crash during Commit: objects 0-5 were fsynced and renamed, 6-11
	// were still temporary files.
	b = s.NewBatch()
	putBatch(t, b, 0, 12)
	for _, p := range b.pend {
		p.f.Sync()
		p.f.Close()
		if i := indexOf(ds, p.d); i < 6 {
			os.MkdirAll(filepath.Dir(s.Path(p.d)), 0o755)
			if err := os.Rename(p.tmp, s.Path(p.d)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := storedObjects(t, s)
	if len(got) != 7 {
		t.Fatalf("after a crash in Commit the store holds %d objects, want 7", len(got))
	}
	for d := range got {
		if err := s.Verify(d); err != nil {
			t.Fatalf("an object left by the crash is wrong: %v", err)
		}
	}
	// Putting the batch again completes it.
	b = s.NewBatch()
	putBatch(t, b, 0, 12)
	if b.Len() != 6 {
		t.Fatalf("Len = %d, want the 6 objects not yet stored", b.Len())
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	got = storedObjects(t, s)
	for _, d := range ds {
		if !got[d] {
			t.Fatalf("%s missing after the batch was put again", d.Short())
		}
	}
}

func indexOf(ds []digest.Digest, d digest.Digest) int {
	for i, x := range ds {
		if x == d {
			return i
		}
	}
	return -1
}

// Goroutines put into one batch at once, with overlapping objects.
func TestBatchConcurrent(t *testing.T) {
	s := mustOpen(t)
	b := s.NewBatch()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				data := objectBytes(g*20 + i) // neighbours overlap by half
				if _, _, err := b.Put(context.Background(), bytes.NewReader(data), digest.FromBytes(data), int64(len(data))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	const distinct = 7*20 + 40
	if b.Len() != distinct {
		t.Fatalf("Len = %d, want %d", b.Len(), distinct)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := len(storedObjects(t, s)); n != distinct {
		t.Fatalf("%d objects stored, want %d", n, distinct)
	}
}

// Commit and Abort end a batch: later use fails with ErrBatchDone and a
// writer still open then stores nothing.
func TestBatchEnds(t *testing.T) {
	s := mustOpen(t)
	b := s.NewBatch()
	putBatch(t, b, 0, 3)
	late, err := b.Create("", -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	late.Write([]byte("too late"))
	if d, err := late.Commit(); !errors.Is(err, ErrBatchDone) || d != "" {
		t.Fatalf("writer committed after its batch: %s %v", d, err)
	}
	if _, err := b.Create("", -1); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("Create after Commit: %v", err)
	}
	if err := b.Commit(); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("second Commit: %v", err)
	}
	b.Abort() // no effect after Commit
	if n := len(storedObjects(t, s)); n != 3 {
		t.Fatalf("%d objects stored, want 3", n)
	}

	b = s.NewBatch()
	putBatch(t, b, 10, 15)
	b.Abort()
	if err := b.Commit(); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("Commit after Abort: %v", err)
	}
	if n := len(storedObjects(t, s)); n != 3 {
		t.Fatalf("%d objects stored after an aborted batch, want 3", n)
	}
	if n := tmpFiles(t, s); n != 0 {
		t.Fatalf("tmp/ holds %d files", n)
	}
}

// A NoSync store's batch defers durability to the store's Sync.
func TestBatchNoSyncStore(t *testing.T) {
	s, err := OpenWith(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	ds := putBatch(t, b, 0, 4)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(s.unsynced) != 4 {
		t.Fatalf("%d objects awaiting Sync, want 4", len(s.unsynced))
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := s.Verify(d); err != nil {
			t.Fatal(err)
		}
	}
}
