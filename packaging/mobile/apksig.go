package mobile

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The APK Signing Block (source.android.com/docs/security/features/
// apksigning/v2): just before the zip central directory,
//
//	uint64 size of the block, not counting this field
//	repeated: uint64 length, uint32 ID, value (length-4 bytes)
//	uint64 size of the block (again)
//	"APK Sig Block 42"
const (
	apkSigMagic = "APK Sig Block 42"
	apkSigV2    = 0x7109871a
	apkSigV3    = 0xf05368c0
	apkSigV31   = 0x1b93ad61
)

// signingBlock is the APK Signing Block: its ID-value pairs.
type signingBlock struct {
	pairs map[uint32][]byte
	ids   []uint32
}

// centralDirectoryOffset finds the zip's end of central directory record
// (and the zip64 one it points to) and returns where the central
// directory starts.
func centralDirectoryOffset(r io.ReaderAt, size int64) (int64, error) {
	const eocdLen, maxComment = 22, 0xffff
	n := min(size, eocdLen+maxComment)
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return 0, err
	}
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if string(tail[i:i+4]) != "PK\x05\x06" {
			continue
		}
		if int(binary.LittleEndian.Uint16(tail[i+20:])) != len(tail)-i-eocdLen {
			continue // a signature inside the comment
		}
		cd := int64(binary.LittleEndian.Uint32(tail[i+16:]))
		if cd != 0xffffffff {
			return cd, nil
		}
		// zip64: the locator stands just before the record
		eocd := size - n + int64(i)
		if eocd < 20 {
			return 0, errors.New("zip64 end of central directory locator missing")
		}
		loc := make([]byte, 20)
		if _, err := r.ReadAt(loc, eocd-20); err != nil {
			return 0, err
		}
		if string(loc[:4]) != "PK\x06\x07" {
			return 0, errors.New("zip64 end of central directory locator missing")
		}
		at := int64(binary.LittleEndian.Uint64(loc[8:]))
		rec := make([]byte, 56)
		if at < 0 || at > size-56 {
			return 0, errors.New("zip64 end of central directory record outside the file")
		}
		if _, err := r.ReadAt(rec, at); err != nil {
			return 0, err
		}
		if string(rec[:4]) != "PK\x06\x06" {
			return 0, errors.New("zip64 end of central directory record has a bad signature")
		}
		return int64(binary.LittleEndian.Uint64(rec[48:])), nil
	}
	return 0, errors.New("no end of central directory record")
}

// readSigningBlock returns the APK Signing Block before the central
// directory, nil when there is none. A block whose sizes disagree, or
// that is over max bytes, is an error.
func readSigningBlock(r io.ReaderAt, size, max int64) (*signingBlock, error) {
	cd, err := centralDirectoryOffset(r, size)
	if err != nil {
		return nil, err
	}
	if cd < 32 || cd > size {
		return nil, nil
	}
	foot := make([]byte, 24)
	if _, err := r.ReadAt(foot, cd-24); err != nil {
		return nil, err
	}
	if string(foot[8:]) != apkSigMagic {
		return nil, nil
	}
	bsize := binary.LittleEndian.Uint64(foot)
	if bsize < 24 || bsize > uint64(cd-8) {
		return nil, fmt.Errorf("APK Signing Block declares %d bytes, %d before the central directory", bsize, cd)
	}
	if int64(bsize) > max {
		return nil, fmt.Errorf("APK Signing Block is %d bytes, over MaxMetadata (%d)", bsize, max)
	}
	start := cd - int64(bsize) - 8
	b := make([]byte, bsize+8)
	if _, err := r.ReadAt(b, start); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint64(b) != bsize {
		return nil, fmt.Errorf("APK Signing Block sizes disagree (%d at its start, %d at its end)", binary.LittleEndian.Uint64(b), bsize)
	}
	blk := &signingBlock{pairs: map[uint32][]byte{}}
	for p := b[8 : len(b)-24]; len(p) > 0; {
		if len(p) < 12 {
			return nil, fmt.Errorf("APK Signing Block: truncated pair (%d bytes)", len(p))
		}
		n := binary.LittleEndian.Uint64(p)
		if n < 4 || n > uint64(len(p)-8) {
			return nil, fmt.Errorf("APK Signing Block: pair of %d bytes with %d left", n, len(p)-8)
		}
		id := binary.LittleEndian.Uint32(p[8:])
		if _, dup := blk.pairs[id]; !dup {
			blk.pairs[id] = p[12 : 8+n]
			blk.ids = append(blk.ids, id)
		}
		p = p[8+n:]
	}
	return blk, nil
}

// lp reads a uint32 length-prefixed value.
func lp(b []byte) (val, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("truncated length prefix")
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("length %d with %d bytes left", n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// schemeSigner reads the first signer's first certificate of a v2 or v3
// block: signers { signer { signed data { digests, certificates, ... } ... } }.
func schemeSigner(v []byte) (*x509.Certificate, error) {
	signers, _, err := lp(v)
	if err != nil {
		return nil, fmt.Errorf("signers: %v", err)
	}
	signer, _, err := lp(signers)
	if err != nil {
		return nil, fmt.Errorf("first signer: %v", err)
	}
	sd, _, err := lp(signer)
	if err != nil {
		return nil, fmt.Errorf("signed data: %v", err)
	}
	_, rest, err := lp(sd) // digests
	if err != nil {
		return nil, fmt.Errorf("digests: %v", err)
	}
	certs, _, err := lp(rest)
	if err != nil {
		return nil, fmt.Errorf("certificates: %v", err)
	}
	cert, _, err := lp(certs)
	if err != nil {
		return nil, fmt.Errorf("first certificate: %v", err)
	}
	c, err := x509.ParseCertificate(bytes.Clone(cert))
	if err != nil {
		return nil, fmt.Errorf("first certificate: %v", err)
	}
	return c, nil
}
