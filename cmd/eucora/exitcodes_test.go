package main

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/eucora/eucora/internal/cas"
)

// TestNoSpaceExitCode: a free-space refusal and a disk that fills up while
// writing (ENOSPC, EDQUOT, however wrapped) both exit 11; other I/O errors
// do not.
func TestNoSpaceExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{&cas.SpaceError{Dir: "/media/usb", Need: 195 << 10, Reserve: cas.Reserve, Free: 20 << 20}, exitNoSpace},
		{&os.PathError{Op: "write", Path: "/media/usb/x.tar.tmp", Err: syscall.ENOSPC}, exitNoSpace},
		{fmt.Errorf("export sequence 3: %w", &os.PathError{Op: "write", Path: "state.json.tmp", Err: syscall.ENOSPC}), exitNoSpace},
		{fmt.Errorf("materialise: %w", &os.LinkError{Op: "link", Old: "a", New: "b", Err: syscall.EDQUOT}), exitNoSpace},
		{fmt.Errorf("copy: %w", &os.PathError{Op: "write", Path: "f", Err: syscall.EIO}), exitError},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.err, got, c.want)
		}
	}
}
