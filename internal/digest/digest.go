// Package digest names content by SHA-256 and chooses the fastest SHA-256
// implementation measured on this project's machines.
//
// A Digest is the lowercase hex encoding of a SHA-256 sum. Every name that
// reaches EUCORA from outside (a bundle entry, an API path, a manifest field)
// is parsed with Parse before it is used, so a Digest value is always exactly
// 64 lowercase hex characters and safe to use as a file name.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Size is the length in bytes of a SHA-256 sum.
const Size = sha256.Size

// HexLen is the length of a Digest string.
const HexLen = 2 * Size

// ErrInvalid reports a string that is not a lowercase hex SHA-256 digest.
var ErrInvalid = errors.New("invalid sha256 digest")

// Digest is a lowercase hex SHA-256 sum.
type Digest string

// Parse validates s as a Digest. It accepts exactly 64 lowercase hex
// characters, optionally prefixed by "sha256:".
func Parse(s string) (Digest, error) {
	if len(s) == HexLen+7 && s[:7] == "sha256:" {
		s = s[7:]
	}
	if len(s) != HexLen {
		return "", fmt.Errorf("%w: %q has %d characters, want %d", ErrInvalid, clip(s), len(s), HexLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("%w: %q has %q at offset %d", ErrInvalid, clip(s), c, i)
		}
	}
	return Digest(s), nil
}

// MustParse is Parse for constants in tests; it panics on bad input.
func MustParse(s string) Digest {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// FromBytes returns the digest of b.
func FromBytes(b []byte) Digest {
	h := New()
	h.Write(b)
	return FromHash(h)
}

// FromReader hashes r to EOF and returns the digest and byte count.
func FromReader(r io.Reader) (Digest, int64, error) {
	h := New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", n, err
	}
	return FromHash(h), n, nil
}

// FromHash returns the digest of the bytes written to h so far.
func FromHash(h hash.Hash) Digest {
	var sum [Size]byte
	return Digest(hex.EncodeToString(h.Sum(sum[:0])))
}

// String returns the digest in "sha256:<hex>" form.
func (d Digest) String() string { return "sha256:" + string(d) }

// Hex returns the bare hex form.
func (d Digest) Hex() string { return string(d) }

// Canonical returns d in canonical form (bare hex) when it parses, and d
// unchanged otherwise, so a "sha256:" prefix never names one object twice.
func Canonical(d Digest) Digest {
	if p, err := Parse(string(d)); err == nil {
		return p
	}
	return d
}

// Short returns the first 12 hex characters, for humans.
func (d Digest) Short() string {
	if len(d) < 12 {
		return string(d)
	}
	return string(d[:12])
}

// New returns a SHA-256 hash. The standard library is used: on these
// machines (SHA-NI) it measured faster than minio/sha256-simd; see
// BenchmarkSHA256 and docs/design.md.
func New() hash.Hash { return sha256.New() }

// MismatchError reports content whose digest or size is not what was expected.
type MismatchError struct {
	Object   string // what was checked: a digest, a file or entry name
	Want     string
	Got      string
	WantSize int64 // -1 when the size was not checked
	GotSize  int64
}

func (e *MismatchError) Error() string {
	if e.Want != e.Got {
		return fmt.Sprintf("hash mismatch for %s: want sha256 %s, got %s", e.Object, e.Want, e.Got)
	}
	return fmt.Sprintf("size mismatch for %s: want %d bytes, got %d", e.Object, e.WantSize, e.GotSize)
}

// Verifier hashes what passes through it and checks it on Close-like demand.
type Verifier struct {
	h    hash.Hash
	n    int64
	want Digest
	size int64
}

// NewVerifier returns a Verifier expecting content with digest want and, if
// size >= 0, exactly size bytes.
func NewVerifier(want Digest, size int64) *Verifier {
	return &Verifier{h: New(), want: want, size: size}
}

// Write hashes p.
func (v *Verifier) Write(p []byte) (int, error) {
	v.n += int64(len(p))
	return v.h.Write(p)
}

// Hash returns the running hash.
func (v *Verifier) Hash() hash.Hash { return v.h }

// Written returns the number of bytes written.
func (v *Verifier) Written() int64 { return v.n }

// Verify returns a *MismatchError when the bytes written differ from what
// was expected.
func (v *Verifier) Verify() error {
	got := FromHash(v.h)
	if got != v.want || (v.size >= 0 && v.n != v.size) {
		return &MismatchError{Object: v.want.String(), Want: string(v.want), Got: string(got), WantSize: v.size, GotSize: v.n}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
