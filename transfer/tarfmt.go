package transfer

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/eucora/eucora/internal/charset"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// blockSize is the tar block size.
const blockSize = 512

// entryOverhead is the most a tar entry adds to its data: header plus padding.
const entryOverhead = 2 * blockSize

var lowerHex = charset.Of("0-9a-f")

// entryName returns the tar name of an entry.
func entryName(d digest.Digest, compressed bool) string {
	if compressed {
		return "objects/" + d.Hex() + ".zst"
	}
	return "objects/" + d.Hex()
}

// parseEntryName splits a tar name into digest and encoding, refusing any
// name that is not exactly an object entry. Nothing else may appear in a
// volume.
func parseEntryName(name string) (digest.Digest, bool, bool) {
	hex, zst, ok := splitEntryName(name)
	if !ok {
		return "", false, false
	}
	return digest.Digest(hex), zst, true
}

// splitEntryName matches `^objects/([0-9a-f]{64})(\.zst)?$`, returning the
// hex and whether the entry is zstd-compressed.
func splitEntryName(name string) (hex string, zst, ok bool) {
	rest, ok := strings.CutPrefix(name, "objects/")
	if !ok {
		return "", false, false
	}
	hex, zst = strings.CutSuffix(rest, ".zst")
	if !charset.Match(hex, 64, 64, lowerHex, lowerHex) {
		return "", false, false
	}
	return hex, zst, true
}

// ustarHeader encodes a POSIX ustar header for a regular file with fixed
// owner 0/0, mode 0444 and the given mtime. Names are at most 100 bytes.
func ustarHeader(name string, size int64, mtime int64) ([]byte, error) {
	if len(name) > 100 {
		return nil, fmt.Errorf("tar name %q longer than 100 bytes", name)
	}
	if size < 0 || size >= 1<<33 {
		return nil, fmt.Errorf("tar entry size %d out of ustar range", size)
	}
	h := make([]byte, blockSize)
	copy(h[0:100], name)
	octal(h[100:108], 0o444)
	octal(h[108:116], 0)
	octal(h[116:124], 0)
	octal(h[124:136], size)
	octal(h[136:148], mtime)
	h[156] = '0'
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	copy(h[265:297], "root")
	copy(h[297:329], "root")
	octal(h[329:337], 0)
	octal(h[337:345], 0)
	// Checksum: sum of all bytes with the checksum field as spaces.
	copy(h[148:156], "        ")
	var sum int64
	for _, b := range h {
		sum += int64(b)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return h, nil
}

// octal writes n as zero-padded octal digits followed by NUL, filling b.
func octal(b []byte, n int64) {
	s := fmt.Sprintf("%0*o", len(b)-1, n)
	copy(b, s)
	b[len(b)-1] = 0
}

func padLen(n int64) int64 { return (blockSize - n%blockSize) % blockSize }

func isSigErr(err error) bool {
	return errors.Is(err, signing.ErrBadSignature) || errors.Is(err, signing.ErrUnknownKey)
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
