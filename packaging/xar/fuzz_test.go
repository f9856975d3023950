package xar

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// assemble makes a xar file of a TOC and a heap, the SHA-1 of the
// compressed TOC put first in the heap, so that mutations of the TOC and
// the heap get past the TOC checksum.
func assemble(toc, heap []byte) []byte {
	ctoc := zlibBytes(toc)
	out := header("sha1", len(ctoc), len(toc))
	out = append(out, ctoc...)
	out = append(out, sum(crypto.SHA1, ctoc)...)
	return append(out, heap...)
}

// split is the inverse of assemble for a built fixture.
func split(tb testing.TB, b []byte) (toc, heap []byte) {
	clen := binary.BigEndian.Uint64(b[8:])
	toc, err := readZlib(b[28 : 28+clen])
	if err != nil {
		tb.Fatal(err)
	}
	return toc, b[28+clen+20:]
}

// FuzzInspect: whatever the bytes, InspectPkg returns facts or a
// DefectError and never panics. raw is a whole file; toc and heap are
// assembled into a file whose TOC checksum holds, so the fuzzer reaches
// the TOC, metadata and cpio parsers.
func FuzzInspect(f *testing.F) {
	for _, b := range [][]byte{
		productArchive(f, xarOpts{}),
		productArchive(f, xarOpts{cms: true, ticket: []byte("ticket")}),
		componentPkg(f, fixturePayload(newc), xarOpts{}),
		componentPkg(f, gzipBytes(fixturePayload(odc)), xarOpts{}),
	} {
		toc, heap := split(f, b)
		f.Add(b, toc, heap)
	}
	lim := facts.Limits{MaxEntries: 1000, MaxMetadata: 1 << 20, MaxUncompressed: 16 << 20}
	f.Fuzz(func(t *testing.T, raw, toc, heap []byte) {
		for _, b := range [][]byte{raw, assemble(toc, heap)} {
			fs, err := InspectPkg(bytes.NewReader(b), int64(len(b)), facts.Options{Limits: lim})
			if err != nil {
				if !errors.Is(err, facts.ErrDefect) {
					t.Fatalf("error is not a DefectError: %v", err)
				}
				continue
			}
			if fs == nil || fs.Kind != facts.KindPkg {
				t.Fatalf("facts %+v", fs)
			}
		}
	})
}
