package authenticode_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
)

// mutate returns a copy of b changed by f.
func mutate(b []byte, f func(b []byte) []byte) []byte {
	return f(append([]byte(nil), b...))
}

func put32(off int) func(v uint32) func([]byte) []byte {
	return func(v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	}
}

func put16(off int, v uint16) func([]byte) []byte {
	return func(b []byte) []byte { binary.LittleEndian.PutUint16(b[off:], v); return b }
}

// TestVerifyPEHostile feeds broken and hostile PE files: each is a
// DefectError naming the defect (or, where the PE is sound and only the
// signature is broken, SigInvalid), never a panic.
func TestVerifyPEHostile(t *testing.T) {
	p := signtest.NewPKI(t)
	signed, err := os.ReadFile(signtest.Sign(t, unsignedExe(t), p.Leaf))
	if err != nil {
		t.Fatal(err)
	}
	h, err := authenticode.ParsePEHeaders(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	lfanew := int(le.Uint32(signed[0x3c:]))
	coff, opt := lfanew+4, lfanew+24
	secDir := opt + 112 + 8*authenticode.DirSecurity // PE32+
	sec := h.Dir(authenticode.DirSecurity)
	certOff := int(sec.VirtualAddress)
	firstSec := int(h.Sections[0].PointerToRawData)

	defects := []struct {
		name, want string
		b          []byte
	}{
		{"empty", "truncated", nil},
		{"63 bytes", "truncated", signed[:63]},
		{"no MZ", "no MZ signature", mutate(signed, put16(0, 0x5a4e))},
		{"a zip named .exe", "no MZ signature", zipBytes(t)},
		{"a CFB named .exe", "no MZ signature", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + strings.Repeat("\x00", 600))},
		{"e_lfanew past the end", "outside the file", mutate(signed, put32(0x3c)(uint32(len(signed))))},
		{"e_lfanew huge", "outside the file", mutate(signed, put32(0x3c)(0xFFFFFFF0))},
		{"no PE signature", "no PE signature", mutate(signed, put32(lfanew)(0x00004550^0xff))},
		{"optional header too short", "too short", mutate(signed, put16(coff+16, 10))},
		{"optional header huge", "limit", mutate(signed, put16(coff+16, 0xFFFF))},
		{"65535 sections", "section headers", mutate(signed, put16(coff+2, 0xFFFF))},
		{"bad optional magic", "magic", mutate(signed, put16(opt, 0x1234))},
		{"SizeOfHeaders past the end", "SizeOfHeaders", mutate(signed, put32(opt+60)(uint32(len(signed)+1)))},
		{"section table past SizeOfHeaders", "past SizeOfHeaders", mutate(signed, put32(opt+60)(uint32(lfanew+30)))},
		{"section data past the end", "runs past the end", mutate(signed, put32(opt+int(le.Uint16(signed[coff+16:]))+16)(uint32(len(signed))))},
		{"certificate table past the end", "outside the file", mutate(signed, put32(secDir)(uint32(len(signed)-4)))},
		{"certificate table offset huge", "outside the file", mutate(signed, put32(secDir)(0xFFFFFF00))},
		{"certificate table absurdly large", "limit", mutate(signed, put32(secDir+4)(0xFFFFFFF0))},
		{"certificate table smaller than a header", "smaller than a WIN_CERTIFICATE", mutate(signed, put32(secDir+4)(4))},
		{"certificate table in the headers", "outside the file's data", mutate(signed, put32(secDir)(16))},
		{"certificate table over a section", "overlaps section", mutate(signed, put32(secDir)(uint32(firstSec+16)))},
		{"WIN_CERTIFICATE length past the table", "past the table", mutate(signed, put32(certOff)(uint32(sec.Size+8)))},
		{"WIN_CERTIFICATE length below its header", "declares 4 bytes", mutate(signed, put32(certOff)(4))},
	}
	// Truncated at every structural boundary.
	for _, cut := range []struct {
		name string
		at   int
	}{
		{"in the DOS header", 0x3c}, {"in the PE signature", lfanew + 2}, {"in the COFF header", coff + 10},
		{"in the optional header", opt + 40}, {"in the section table", opt + int(le.Uint16(signed[coff+16:])) + 20},
		{"at the first section", firstSec}, {"in the sections", firstSec + 4096}, {"at the certificate table", certOff},
		{"in the certificate table", certOff + 100}, {"one byte short", len(signed) - 1},
	} {
		defects = append(defects, struct {
			name, want string
			b          []byte
		}{"truncated " + cut.name, "", signed[:cut.at]})
	}
	for _, c := range defects {
		t.Run(c.name, func(t *testing.T) {
			sig, err := authenticode.VerifyPE(bytes.NewReader(c.b), int64(len(c.b)), facts.Options{Trust: p.Trust()})
			if !isDefect(err) {
				t.Fatalf("got %+v, %v; want a DefectError", sig, err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a valid exe file") {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}

	// Sound PE, broken signature: SigInvalid with the reason.
	invalid := []struct {
		name, want string
		b          []byte
	}{
		{"WIN_CERTIFICATE of another revision", "no PKCS#7 WIN_CERTIFICATE", mutate(signed, put16(certOff+4, 0x0100))},
		{"WIN_CERTIFICATE of type X.509", "no PKCS#7 WIN_CERTIFICATE", mutate(signed, put16(certOff+6, 0x0001))},
		{"garbage PKCS#7", "does not parse", mutate(signed, func(b []byte) []byte {
			copy(b[certOff+8:], bytes.Repeat([]byte{0x30, 0x82, 0xff}, 40))
			return b
		})},
		{"bytes appended after the certificate table", "follow the certificate table", append(append([]byte(nil), signed...), "appended payload"...)},
		{"CheckSum changed", "", mutate(signed, put32(opt+64)(0xdeadbeef))},
	}
	for _, c := range invalid {
		t.Run(c.name, func(t *testing.T) {
			sig, err := authenticode.VerifyPE(bytes.NewReader(c.b), int64(len(c.b)), facts.Options{Trust: p.Trust()})
			if err != nil {
				t.Fatal(err)
			}
			want := facts.SigInvalid
			if c.name == "CheckSum changed" { // the image hash skips the CheckSum field
				want = facts.SigTrusted
			}
			if sig.State != want || !strings.Contains(sig.Detail, c.want) {
				t.Errorf("got %s %q, want %s %q", sig.State, sig.Detail, want, c.want)
			}
		})
	}
	t.Logf("%d malformed PE files refused as defects, %d judged invalid", len(defects), len(invalid))
}

func zipBytes(t *testing.T) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("AppxManifest.xml")
	w.Write([]byte("<Package/>"))
	zw.Close()
	return b.Bytes()
}

// cfbHostile returns broken variants of a real MSI (built by wixl).
func cfbHostile(t *testing.T, msi []byte) []struct {
	name, want string
	b          []byte
} {
	le := binary.LittleEndian
	dirStart := int(le.Uint32(msi[0x30:]))
	dir := (dirStart + 1) * 512
	fat0 := int(le.Uint32(msi[0x4c:]))
	fatEntry := func(sector int) int { return (fat0+1)*512 + 4*sector }
	rootChild := int(le.Uint32(msi[dir+0x4c:]))
	// 1 KiB: a header that declares the world, and one sector.
	kib := make([]byte, 1024)
	copy(kib, msi[:512])
	le.PutUint32(kib[0x2c:], 1)
	le.PutUint32(kib[0x4c:], 0)
	le.PutUint32(kib[0x30:], 0)
	le.PutUint32(kib[512:], 0) // FAT[0] = 0: the directory chain loops on itself
	return []struct {
		name, want string
		b          []byte
	}{
		{"empty", "truncated", nil},
		{"511 bytes", "truncated", msi[:511]},
		{"wrong magic", "no compound file", mutate(msi, put16(0, 0))},
		{"a zip named .msi", "no compound file", zipBytes(t)},
		{"a PE named .msi", "no compound file", append([]byte("MZ"), make([]byte, 1000)...)},
		{"version 5", "version", mutate(msi, put16(0x1a, 5))},
		{"version 3 with 4 KiB sectors", "sector shift", mutate(msi, put16(0x1e, 12))},
		{"mini sector shift 7", "mini sector shift", mutate(msi, put16(0x20, 7))},
		{"mini stream cutoff 0", "cutoff", mutate(msi, put32(0x38)(0))},
		{"2^32-1 FAT sectors", "FAT sectors", mutate(msi, put32(0x2c)(0xFFFFFFFF))},
		{"no FAT sectors", "FAT sectors", mutate(msi, put32(0x2c)(0))},
		{"2^32-1 DIFAT sectors", "DIFAT sectors", mutate(msi, put32(0x48)(0xFFFFFFFF))},
		{"FAT sector outside the file", "outside the file", mutate(msi, put32(0x4c)(0x7FFFFFFF))},
		{"directory start outside the file", "outside the file", mutate(msi, put32(0x30)(0x00FFFFFF))},
		{"directory chain loops", "longer than", mutate(msi, put32(fatEntry(dirStart))(uint32(dirStart)))},
		{"root entry not a root", "not the root storage", mutate(msi, func(b []byte) []byte { b[dir+0x42] = 1; return b })},
		{"child link out of range", "directory link", mutate(msi, put32(dir+0x4c)(0x00FFFFFF))},
		{"tree loops back to the root", "twice", mutate(msi, put32(dir+128*rootChild+0x4c)(0))},
		{"tree loops on itself", "twice", mutate(msi, put32(dir+128*rootChild+0x44)(uint32(rootChild)))},
		{"name length 0", "name length", mutate(msi, put16(dir+128*rootChild+0x40, 0))},
		{"name length 66", "name length", mutate(msi, put16(dir+128*rootChild+0x40, 66))},
		{"stream larger than the file", "more than the file", mutate(msi, func(b []byte) []byte {
			for i := 1; i < 16; i++ { // the first stream entry
				e := dir + 128*i
				if b[e+0x42] == 2 {
					le.PutUint32(b[e+0x78:], uint32(len(b)*4))
					break
				}
			}
			return b
		})},
		{"1 KiB declaring a looping directory", "", kib},
		{"truncated after the header", "", msi[:512]},
		{"truncated at the directory", "", msi[:dir]},
		{"truncated one byte short", "", msi[:len(msi)-1]},
		{"truncated at half", "", msi[:len(msi)/2]},
	}
}

func TestVerifyMSIHostile(t *testing.T) {
	p := signtest.NewPKI(t)
	msi, err := os.ReadFile(signtest.Sign(t, signtest.BuildMSI(t, signtest.MinimalWXS), p.Leaf))
	if err != nil {
		t.Fatal(err)
	}
	cases := cfbHostile(t, msi)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	defects := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sig, err := authenticode.VerifyMSI(bytes.NewReader(c.b), int64(len(c.b)), facts.Options{Trust: p.Trust()})
			if err == nil && strings.HasPrefix(c.name, "truncated") && sig.State == facts.SigInvalid {
				return // a cut that leaves the structure readable but the content short
			}
			if !isDefect(err) {
				t.Fatalf("got %+v, %v; want a DefectError", sig, err)
			}
			defects++
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a valid msi file") {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("%d hostile MSIs allocated %d MiB", len(cases), alloc>>20)
	}
	t.Logf("%d malformed MSI files tried, %d refused as defects", len(cases), defects)
}
