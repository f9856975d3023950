package mirror

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestLinkOrCopyAcrossDevices: the tree falls back to copying when the
// store is on another filesystem (hardlinks cannot cross devices).
func TestLinkOrCopyAcrossDevices(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "eucora-test")
	if err != nil {
		t.Skipf("no second filesystem at /dev/shm to test a cross-device copy: %v", err)
	}
	defer os.RemoveAll(other)
	src := filepath.Join(t.TempDir(), "obj")
	data := []byte("package bytes")
	os.WriteFile(src, data, 0o444)
	dst := filepath.Join(other, "pool.deb")
	if err := linkOrCopy(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copied %q, %v", got, err)
	}
	a, _ := os.Stat(src)
	b, _ := os.Stat(dst)
	if os.SameFile(a, b) {
		t.Fatal("expected a copy across devices")
	}
	// Same device: a hardlink.
	dst2 := filepath.Join(filepath.Dir(src), "link.deb")
	if err := linkOrCopy(src, dst2); err != nil {
		t.Fatal(err)
	}
	c, _ := os.Stat(dst2)
	if !os.SameFile(a, c) {
		t.Fatal("expected a hardlink on the same device")
	}
}
