package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestOpenCreatesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "eucora-data")
	_, err := Open(root, "eucora edge init --data DIR")
	var ni *NotInitialisedError
	if !errors.As(err, &ni) || !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("Open of a missing directory: %v, want a *NotInitialisedError", err)
	}
	for _, want := range []string{root, "does not exist", "--data", "eucora edge init --data DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
	if exists(root) {
		t.Fatal("Open created the directory")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(file, ""); err == nil || errors.Is(err, ErrNotInitialised) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open of a file: %v", err)
	}
}

func TestDiscardRemovesOnlyWhatCreateMade(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "a", "eucora-data")
	d, err := Create(fresh)
	if err != nil || !d.Created() {
		t.Fatal(d, err)
	}
	os.MkdirAll(filepath.Join(d.Hub(), "fsm"), 0o750)
	os.WriteFile(filepath.Join(d.Hub(), "fsm", "LOCK"), nil, 0o644)
	os.WriteFile(filepath.Join(d.Root, "bootstrap.token"), []byte("x"), 0o600)
	if err := d.Discard(); err != nil || exists(fresh) {
		t.Fatalf("Discard of a fresh directory: %v, still there: %v", err, exists(fresh))
	}

	// A directory that existed before is never removed.
	old := filepath.Join(base, "old")
	os.Mkdir(old, 0o750)
	d, err = Create(old)
	if err != nil || d.Created() {
		t.Fatal(d, err)
	}
	if err := d.Discard(); err != nil || !exists(old) {
		t.Fatalf("Discard removed a directory Create did not make: %v", err)
	}

	// Something EUCORA does not write keeps the directory.
	other := filepath.Join(base, "other")
	d, _ = Create(other)
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644)
	if err := d.Discard(); err == nil || !strings.Contains(err.Error(), "notes.txt") || !exists(filepath.Join(other, "notes.txt")) {
		t.Fatalf("Discard with a foreign file: %v", err)
	}
}

func TestRemoveEmpty(t *testing.T) {
	root := filepath.Join(t.TempDir(), "d")
	os.MkdirAll(filepath.Join(root, "cas", "objects"), 0o750)
	os.MkdirAll(filepath.Join(root, "mirror", "mirrors"), 0o750)
	if !RemoveEmpty(root) || exists(root) {
		t.Fatal("a tree of empty directories was kept")
	}
	os.MkdirAll(filepath.Join(root, "cas", "objects"), 0o750)
	os.WriteFile(filepath.Join(root, "cas", "objects", "x"), []byte("x"), 0o644)
	if RemoveEmpty(root) || !exists(filepath.Join(root, "cas", "objects", "x")) {
		t.Fatal("a tree holding a file was removed")
	}
	if RemoveEmpty(filepath.Join(t.TempDir(), "missing")) {
		t.Fatal("a missing directory reported removed")
	}
}

func TestLockNamesTheHolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "lock")
	release, err := Lock(file)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(file)
	var be *BusyError
	if !errors.As(err, &be) || !errors.Is(err, ErrBusy) {
		t.Fatalf("second Lock: %v, want a *BusyError", err)
	}
	if be.PID != os.Getpid() || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), file) {
		t.Fatalf("BusyError %+v: %v", be, err)
	}
	release()
	release2, err := Lock(file)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	release2()
	if (&BusyError{File: file}).Holder() != "another process" {
		t.Fatal("holder of an unknown pid")
	}
}
