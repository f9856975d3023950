package msi

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// FuzzInspect: any input gives facts or a *facts.DefectError of kind msi,
// never a panic, another error, or a hang; a file that inspects cleanly
// opens again, lists its detection candidates and reads every stream.
// Seeds: the Go-written databases (both sector sizes, both reference
// widths, a .doc-like compound file) and, where msitools is installed,
// the wixl fixtures.
func FuzzInspect(f *testing.F) {
	for _, ss := range []int{512, 4096} {
		for _, refs := range []int{2, 3} {
			db := minimalDB()
			db.refs = refs
			f.Add(db.file(ss).bytes())
		}
	}
	small := minimalDB()
	small.extra = nil
	f.Add(small.file(512).bytes())
	f.Add(writeCFB([]cfbStream{{raw: u16("WordDocument"), data: bytes.Repeat([]byte{1}, 5000)},
		{raw: u16("\x05SummaryInformation"), data: summaryStream(map[uint32]any{pidTitle: "x"})}}, 512, [16]byte{}).bytes())
	have := true
	for _, tool := range []string{"wixl", "msiinfo", "msibuild", "osslsigncode", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			have = false
		}
	}
	if have {
		for _, p := range buildFixtures(f) {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	lim := facts.Limits{MaxEntries: 2000, MaxMetadata: 1 << 20, MaxUncompressed: 16 << 20, MaxRows: 20000}
	f.Fuzz(func(t *testing.T, b []byte) {
		isDefect := func(err error) {
			t.Helper()
			var de *facts.DefectError
			if !errors.As(err, &de) || de.Kind != facts.KindMSI {
				t.Fatalf("not a msi DefectError: %v", err)
			}
		}
		fa, err := Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{Limits: lim})
		if err != nil {
			isDefect(err)
			return
		}
		if fa.Kind != facts.KindMSI || fa.Signature == nil || fa.Identity.ID == "" {
			t.Fatalf("facts %+v", fa)
		}
		d, err := Open(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			t.Fatalf("inspected, then did not open: %v", err)
		}
		if _, err := d.DetectionCandidates(); err != nil {
			isDefect(err)
		}
		for _, e := range d.Entries() {
			if e.Storage {
				continue
			}
			rd, err := d.OpenEntry(e)
			if err != nil {
				t.Fatalf("entry %q of a valid file: %v", e.Name, err)
			}
			n, err := io.Copy(io.Discard, rd)
			if err != nil || n != e.Size {
				t.Fatalf("entry %q: read %d of %d: %v", e.Name, n, e.Size, err)
			}
		}
	})
}
