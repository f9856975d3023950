package packaging

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

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/intunewin"
)

func openStore(t *testing.T) *cas.Store {
	t.Helper()
	st, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func objects(t *testing.T, st *cas.Store) int {
	t.Helper()
	n := 0
	if err := st.Walk(func(digest.Digest, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func intunewinFile(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "setup.exe"), []byte("MZ not really a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := intunewin.Build(&buf, dir, "setup.exe", intunewin.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIntakeStoresWhatItRead(t *testing.T) {
	st := openStore(t)
	b := intunewinFile(t)
	f, err := Intake(context.Background(), st, bytes.NewReader(b), "dir/setup.intunewin", int64(len(b)), facts.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != facts.KindIntunewin || f.Name != "setup.intunewin" || f.Size != int64(len(b)) || f.SHA256 != digest.FromBytes(b).String() {
		t.Errorf("facts: kind %s name %s size %d sha %s", f.Kind, f.Name, f.Size, f.SHA256)
	}
	if f.Identity.Name != "setup.exe" || f.Signature == nil || f.Signature.State != facts.SigUnsigned || len(f.NotInspected) == 0 {
		t.Errorf("facts: %+v", f)
	}
	if ok, _ := st.Has(digest.FromBytes(b)); !ok || objects(t, st) != 1 {
		t.Errorf("stored: %v, %d objects", ok, objects(t, st))
	}
}

// TestIntakeRefusalsStoreNothing: a wrong type, a type claimed by a
// foreign container, truncation and garbage each name the file and the
// defect, and leave the store empty.
func TestIntakeRefusalsStoreNothing(t *testing.T) {
	good := intunewinFile(t)
	cases := []struct {
		name, file string
		body       []byte
		defect     bool
		want       string
	}{
		{"unknown extension", "notes.txt", []byte("hello"), false, "the factory reads"},
		{"no extension", "setup", good, false, "unknown package type"},
		{"ar named intunewin", "x.intunewin", []byte("!<arch>\ndebian-binary   "), true, "its bytes are an ar archive"},
		{"garbage", "x.intunewin", []byte("hello, world"), true, "none of the package formats"},
		{"empty", "x.intunewin", nil, true, "none of the package formats"},
		{"truncated", "x.intunewin", good[:len(good)/2], true, "x.intunewin"},
		{"truncated to the header", "x.intunewin", good[:30], true, "not a valid intunewin file"},
		{"one byte of the encrypted content flipped", "x.intunewin", flip(good, 150), true, "x.intunewin"},
	}
	for _, c := range cases {
		st := openStore(t)
		_, err := Intake(context.Background(), st, bytes.NewReader(c.body), c.file, int64(len(c.body)), facts.Options{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, facts.ErrDefect) != c.defect {
			t.Errorf("%s: %v, want an error containing %q (defect %v)", c.name, err, c.want, c.defect)
		}
		if n := objects(t, st); n != 0 {
			t.Errorf("%s: %d objects stored", c.name, n)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]facts.Kind{"a.INTUNEWIN": facts.KindIntunewin, "dir.d/x.intunewin": facts.KindIntunewin} {
		if k, err := KindOf(name); err != nil || k != want {
			t.Errorf("%s: %s %v", name, k, err)
		}
	}
}

func TestIntakeCheckRefusalStoresNothing(t *testing.T) {
	st := openStore(t)
	b := intunewinFile(t)
	var seen string
	_, err := Intake(context.Background(), st, bytes.NewReader(b), "setup.intunewin", int64(len(b)), facts.Options{}, func(f *facts.Facts) error {
		seen = f.SHA256
		return errors.New("detection rule names another product")
	})
	if err == nil || !strings.Contains(err.Error(), "another product") || seen != digest.FromBytes(b).String() {
		t.Errorf("%v, check saw %q", err, seen)
	}
	if n := objects(t, st); n != 0 {
		t.Errorf("%d objects stored", n)
	}
}

// An intake batch stores nothing before Commit, then every file Add
// accepted; a file Add refuses (a defect, a check) is no part of it.
func TestIntakeBatch(t *testing.T) {
	st := openStore(t)
	ib := NewIntakeBatch(st)
	var want []digest.Digest
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 4 {
		b := intunewinFile(t)
		wg.Add(1)
		go func() { // Add is safe for concurrent use
			defer wg.Done()
			f, err := ib.Add(context.Background(), bytes.NewReader(b), fmt.Sprintf("app%d.intunewin", i), int64(len(b)), facts.Options{}, nil)
			if err != nil || f.SHA256 != digest.FromBytes(b).String() {
				t.Errorf("Add %d: %v", i, err)
				return
			}
			mu.Lock()
			want = append(want, digest.FromBytes(b))
			mu.Unlock()
		}()
	}
	wg.Wait()
	good := intunewinFile(t)
	if _, err := ib.Add(context.Background(), bytes.NewReader(good[:len(good)/2]), "cut.intunewin", int64(len(good)/2), facts.Options{}, nil); !errors.Is(err, facts.ErrDefect) {
		t.Fatalf("truncated file: %v", err)
	}
	refuse := func(*facts.Facts) error { return errors.New("no documentation") }
	if _, err := ib.Add(context.Background(), bytes.NewReader(good), "undocumented.intunewin", int64(len(good)), facts.Options{}, refuse); err == nil {
		t.Fatal("a file the check refused was added")
	}
	if n := objects(t, st); n != 0 {
		t.Fatalf("%d objects stored before Commit", n)
	}
	if err := ib.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := objects(t, st); n != 4 {
		t.Fatalf("%d objects stored, want 4", n)
	}
	for _, d := range want {
		if err := st.Verify(d); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := st.Has(digest.FromBytes(good)); ok {
		t.Fatal("a refused file was stored")
	}
}

// Commit names the files it could not store; an aborted batch stores
// nothing.
func TestIntakeBatchFailures(t *testing.T) {
	st := openStore(t)
	ib := NewIntakeBatch(st)
	for _, name := range []string{"a.intunewin", "b.intunewin"} {
		b := intunewinFile(t)
		if _, err := ib.Add(context.Background(), bytes.NewReader(b), name, int64(len(b)), facts.Options{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Another process opening the store clears tmp/ under the batch.
	if _, err := cas.Open(st.Root()); err != nil {
		t.Fatal(err)
	}
	err := ib.Commit()
	var be *cas.BatchError
	if !errors.As(err, &be) || len(be.Objects) != 2 || !strings.Contains(err.Error(), "not stored: a.intunewin, b.intunewin") {
		t.Fatalf("Commit = %v", err)
	}
	if n := objects(t, st); n != 0 {
		t.Fatalf("%d objects stored", n)
	}

	ib = NewIntakeBatch(st)
	b := intunewinFile(t)
	if _, err := ib.Add(context.Background(), bytes.NewReader(b), "c.intunewin", int64(len(b)), facts.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	ib.Abort()
	if err := ib.Commit(); !errors.Is(err, cas.ErrBatchDone) {
		t.Fatalf("Commit after Abort = %v", err)
	}
	if n := objects(t, st); n != 0 {
		t.Fatalf("%d objects stored by an aborted batch", n)
	}
}
