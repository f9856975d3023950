package xar

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// cpio modes.
const (
	cpioTypeMask = 0o170000
	cpioRegular  = 0o100000
	cpioDir      = 0o040000
	cpioSymlink  = 0o120000
	cpioSetuid   = 0o4000
	cpioSetgid   = 0o2000
)

// maxCpioName bounds one member name (macOS PATH_MAX is 1024).
const maxCpioName = 4096

// errNotCpio: the stream is not an odc or newc cpio archive.
var errNotCpio = errors.New("not a cpio archive")

// cpioEntry is one member's header.
type cpioEntry struct {
	Name string
	Mode uint32
	Size int64
}

// cpioReader reads the members of a POSIX "odc" (070707) or SVR4 "newc"
// (070701, 070702 with CRC) cpio archive from a stream. The caller bounds
// the stream; cpioReader bounds each header and name, and a member that
// declares more data than the stream holds is an error.
type cpioReader struct {
	r      *bufio.Reader
	what   string // for messages: "Payload of foo.pkg"
	left   int64  // unread data of the current member
	pad    int64  // padding after the current member's data
	cur    *cpioEntry
	format string // "odc" or "newc", from the first header
	done   bool
}

func newCpioReader(r io.Reader, what string) *cpioReader {
	return &cpioReader{r: bufio.NewReaderSize(r, 64<<10), what: what}
}

// Next skips what is left of the current member and returns the next
// header; io.EOF after the TRAILER!!! member.
func (c *cpioReader) Next() (*cpioEntry, error) {
	if c.done {
		return nil, io.EOF
	}
	if c.cur != nil {
		if _, err := io.CopyN(io.Discard, c.r, c.left+c.pad); err != nil {
			return nil, c.short(err, "member %q declares %d bytes", c.cur.Name, c.cur.Size)
		}
		c.left, c.pad, c.cur = 0, 0, nil
	}
	magic := make([]byte, 6)
	if _, err := io.ReadFull(c.r, magic); err != nil {
		if err == io.EOF && c.format == "" {
			return nil, fmt.Errorf("%s: empty: %w", c.what, errNotCpio)
		}
		return nil, c.short(err, "the archive ends without its TRAILER!!! member")
	}
	format := map[string]string{"070707": "odc", "070701": "newc", "070702": "newc"}[string(magic)]
	switch {
	case format == "" && c.format == "":
		return nil, fmt.Errorf("%s: starts with %q: %w", c.what, magic, errNotCpio)
	case c.format != "" && format != c.format:
		return nil, fmt.Errorf("%s: member header with magic %q after %s members", c.what, magic, c.format)
	}
	c.format = format
	var e *cpioEntry
	var nameSize int64
	var err error
	if format == "odc" {
		e, nameSize, err = c.odc()
	} else {
		e, nameSize, err = c.newc()
	}
	if err != nil {
		return nil, err
	}
	if nameSize < 1 || nameSize > maxCpioName {
		return nil, fmt.Errorf("%s: member name of %d bytes (limit %d)", c.what, nameSize, maxCpioName)
	}
	name := make([]byte, nameSize)
	if _, err := io.ReadFull(c.r, name); err != nil {
		return nil, c.short(err, "a member name")
	}
	if name[nameSize-1] != 0 {
		return nil, fmt.Errorf("%s: member name %q is not NUL-terminated", c.what, name)
	}
	e.Name = string(name[:nameSize-1])
	if c.format == "newc" {
		if _, err := io.CopyN(io.Discard, c.r, pad4(110+nameSize)); err != nil {
			return nil, c.short(err, "member %q's name padding", e.Name)
		}
		c.pad = pad4(e.Size)
	}
	if e.Name == "TRAILER!!!" {
		c.done = true
		return nil, io.EOF
	}
	c.cur, c.left = e, e.Size
	return e, nil
}

// Read reads the current member's data.
func (c *cpioReader) Read(p []byte) (int, error) {
	if c.cur == nil || c.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err == io.EOF && c.left > 0 {
		return n, c.short(io.ErrUnexpectedEOF, "member %q declares %d bytes", c.cur.Name, c.cur.Size)
	}
	if err != nil && err != io.EOF {
		return n, err
	}
	return n, nil
}

func (c *cpioReader) short(err error, format string, args ...any) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: truncated: %s, the archive ends first", c.what, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %w", c.what, err)
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

// odc: 70 more bytes of octal fields after the magic.
func (c *cpioReader) odc() (*cpioEntry, int64, error) {
	var h [70]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, 0, c.short(err, "a member header")
	}
	// dev 6, ino 6, mode 6, uid 6, gid 6, nlink 6, rdev 6, mtime 11, namesize 6, filesize 11
	var f [10]int64
	at := 0
	for i, w := range []int{6, 6, 6, 6, 6, 6, 6, 11, 6, 11} {
		n, err := octal(h[at : at+w])
		if err != nil {
			return nil, 0, fmt.Errorf("%s: odc member header: %v", c.what, err)
		}
		f[i], at = n, at+w
	}
	return &cpioEntry{Mode: uint32(f[2]), Size: f[9]}, f[8], nil
}

// newc: 104 more bytes of hex fields after the magic.
func (c *cpioReader) newc() (*cpioEntry, int64, error) {
	var h [104]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, 0, c.short(err, "a member header")
	}
	// ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check: 8 hex each
	var f [13]int64
	for i := range f {
		n, err := hex8(h[i*8 : i*8+8])
		if err != nil {
			return nil, 0, fmt.Errorf("%s: newc member header: %v", c.what, err)
		}
		f[i] = n
	}
	return &cpioEntry{Mode: uint32(f[1]), Size: f[6]}, f[11], nil
}

func octal(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 8, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("field %q is not octal", b)
	}
	return n, nil
}

func hex8(b []byte) (int64, error) {
	n, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("field %q is not hex", b)
	}
	return int64(n), nil
}
