package cas

import (
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/eucora/eucora/internal/digest"
)

// VerifiedFiles remembers which open files were verified against which
// digest, by file identity (device, inode, size, modification and change
// times), so a server hashes each object once, not on every request, and a
// file that changed in any of those is verified again. The zero value is
// ready to use and safe for concurrent use.
type VerifiedFiles struct {
	mu   sync.Mutex
	seen map[verifiedKey]struct{}
}

type verifiedKey struct {
	d              digest.Digest
	dev, ino       uint64
	size           int64
	mtimeNs, ctime int64
}

// Check returns nil when f holds content with digest d and, if size >= 0,
// exactly size bytes: at once when this file identity was verified
// against d before, else after hashing f from its current offset and
// seeking back to its start. A mismatch is a *digest.MismatchError and is
// not remembered.
func (v *VerifiedFiles) Check(f *os.File, d digest.Digest, size int64) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	k := verifiedKey{d: d, size: info.Size(), mtimeNs: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		k.dev, k.ino, k.ctime = uint64(st.Dev), st.Ino, st.Ctim.Nano()
	}
	v.mu.Lock()
	_, ok := v.seen[k]
	v.mu.Unlock()
	if ok && (size < 0 || size == k.size) {
		return nil
	}
	h := digest.NewVerifier(d, size)
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if err := h.Verify(); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	v.mu.Lock()
	if v.seen == nil {
		v.seen = map[verifiedKey]struct{}{}
	}
	v.seen[k] = struct{}{}
	v.mu.Unlock()
	return nil
}
