package xar

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errPbzxCompressed: a pbzx chunk is compressed (xz/LZMA), which the
// standard library does not decode.
var errPbzxCompressed = errors.New("pbzx chunk is xz-compressed")

// pbzx chunks: "pbzx", a big-endian u64 of flags, then while the flags
// have bit 24 set: u64 flags, u64 length, length bytes of chunk. A chunk
// is an xz stream, or the raw bytes when it was not worth compressing.
const (
	pbzxMore     = 1 << 24
	maxPbzxChunk = 64 << 20
)

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// pbzxReader passes the raw chunks of a pbzx stream through and fails
// with errPbzxCompressed at the first xz chunk.
type pbzxReader struct {
	r     *bufio.Reader
	flags uint64
	left  int64
	err   error
}

func newPbzxReader(r *bufio.Reader) (*pbzxReader, error) {
	var h [12]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pbzx header: %w", io.ErrUnexpectedEOF)
	}
	if string(h[:4]) != "pbzx" {
		return nil, errors.New("no pbzx magic")
	}
	return &pbzxReader{r: r, flags: binary.BigEndian.Uint64(h[4:])}, nil
}

func (p *pbzxReader) Read(b []byte) (int, error) {
	for p.left == 0 {
		if p.err != nil {
			return 0, p.err
		}
		if p.flags&pbzxMore == 0 {
			p.err = io.EOF
			return 0, io.EOF
		}
		var h [16]byte
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			p.err = fmt.Errorf("pbzx chunk header: %w", io.ErrUnexpectedEOF)
			return 0, p.err
		}
		p.flags = binary.BigEndian.Uint64(h[:8])
		n := binary.BigEndian.Uint64(h[8:])
		if n > maxPbzxChunk {
			p.err = fmt.Errorf("pbzx chunk of %d bytes, limit %d", n, maxPbzxChunk)
			return 0, p.err
		}
		if head, _ := p.r.Peek(len(xzMagic)); bytes.Equal(head, xzMagic) {
			p.err = errPbzxCompressed
			return 0, p.err
		}
		p.left = int64(n)
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.r.Read(b)
	p.left -= int64(n)
	if err == io.EOF && p.left > 0 {
		p.err = fmt.Errorf("pbzx chunk: %w", io.ErrUnexpectedEOF)
		return n, p.err
	}
	if err != nil && err != io.EOF {
		p.err = err
		return n, err
	}
	return n, nil
}
