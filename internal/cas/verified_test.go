package cas

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
)

func writeOpen(t *testing.T, p string, data []byte) *os.File {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestVerifiedFilesOncePerIdentity(t *testing.T) {
	var v VerifiedFiles
	p := filepath.Join(t.TempDir(), "obj")
	data := []byte("verified once")
	d := digest.FromBytes(data)
	f := writeOpen(t, p, data)
	if err := v.Check(f, d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(f); err != nil || string(got) != string(data) {
		t.Fatalf("after Check the file reads %q %v, want it from its start", got, err)
	}
	// Remembered: the file (now at its end) is not read again.
	if err := v.Check(f, d, int64(len(data))); err != nil {
		t.Fatalf("second Check of an unchanged file: %v", err)
	}
	if err := v.Check(f, d, int64(len(data))+1); err == nil {
		t.Fatal("Check with another size passed")
	}

	// Rewritten in place with bytes of the same size and another mtime:
	// verified again, and refused.
	other := []byte("verified twice")[:len(data)]
	if err := os.WriteFile(p, other, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	f2, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	var me *digest.MismatchError
	if err := v.Check(f2, d, int64(len(data))); !errors.As(err, &me) {
		t.Fatalf("Check of a changed file = %v, want a *digest.MismatchError", err)
	}
}

func TestVerifiedFilesRefusesCorrupt(t *testing.T) {
	var v VerifiedFiles
	want := []byte("the right bytes")
	f := writeOpen(t, filepath.Join(t.TempDir(), "obj"), []byte("the wrong bytes"))
	var me *digest.MismatchError
	for i := range 2 { // a mismatch is not remembered
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if err := v.Check(f, digest.FromBytes(want), int64(len(want))); !errors.As(err, &me) {
			t.Fatalf("Check %d of a corrupt file = %v, want a *digest.MismatchError", i, err)
		}
	}
	if me.Want != string(digest.FromBytes(want)) {
		t.Fatalf("mismatch wants %s", me.Want)
	}
}
