package mirror

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/ulikunitz/xz"
)

// TestXZBytesDecodes: the parallel multi-block stream decodes to the input
// with ulikunitz/xz and, when installed, with xz(1) (liblzma, as apt).
func TestXZBytesDecodes(t *testing.T) {
	var big bytes.Buffer
	for i := 0; big.Len() < 3*xzMinBlock+12345; i++ {
		fmt.Fprintf(&big, "Package: pkg-%05d\nVersion: 1.%d\nDescription: test %d\n\n", i, i%7, i*i)
	}
	xzBin, _ := exec.LookPath("xz")
	if xzBin == "" && testtool.InCI() {
		t.Fatal("xz not installed; CI=true requires it to check our xz output with liblzma")
	}
	for _, in := range [][]byte{nil, []byte("x"), big.Bytes()[:xzMinBlock-1], big.Bytes()} {
		out, err := xzBytes(in)
		if err != nil {
			t.Fatal(err)
		}
		r, err := xz.NewReader(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%d bytes: %v", len(in), err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%d bytes: ulikunitz/xz decoded %d bytes, err %v", len(in), len(got), err)
		}
		if xzBin == "" {
			continue
		}
		cmd := exec.Command(xzBin, "-dc")
		cmd.Stdin = bytes.NewReader(out)
		got, err = cmd.Output()
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%d bytes: xz -dc decoded %d bytes, err %v", len(in), len(got), err)
		}
	}
}

func BenchmarkXZBytes(b *testing.B) {
	var in bytes.Buffer
	for i := 0; in.Len() < 700<<10; i++ {
		fmt.Fprintf(&in, "Package: pkg-%05d\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Bench <bench@example.invalid>\nInstalled-Size: %d\nSection: utils\nPriority: optional\nDescription: benchmark package\nFilename: pool/main/p/%016x_pkg-%05d_1.0_amd64.deb\nSize: %d\nSHA256: %064x\n\n", i, i%9, i*7919, i, i*13, i*104729)
	}
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		if _, err := xzBytes(in.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
