package deb

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

// hostileCount counts the malformed and hostile inputs the tests try, for
// the report (go test -v prints it).
var hostileCount int

func tryHostile(t *testing.T, deb []byte, o facts.Options, parts ...string) {
	t.Helper()
	hostileCount++
	_, err := Inspect(bytes.NewReader(deb), int64(len(deb)), o)
	wantDefect(t, err, parts...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hostileCount > 0 {
		fmt.Printf("malformed and hostile .deb inputs tried: %d\n", hostileCount)
	}
	os.Exit(code)
}

// Every prefix of a real .deb is refused as truncated or malformed.
func TestHostileTruncatedAtEveryByte(t *testing.T) {
	for _, comp := range []string{"gzip", "none"} {
		deb := mustRead(t, buildDeb(t, minimalFiles(), comp))
		for n := 0; n < len(deb); n++ {
			hostileCount++
			_, err := Inspect(bytes.NewReader(deb[:n]), int64(n), facts.Options{})
			wantDefect(t, err)
		}
	}
	// and at each ar member boundary, the message says where
	deb := mustRead(t, buildDeb(t, demoFiles(), "xz"))
	ms, _ := readAr(bytes.NewReader(deb), int64(len(deb)))
	for _, m := range ms {
		hdr := m.off - arHeaderSize
		tryHostile(t, deb[:hdr+10], facts.Options{}, "truncated: ar member header at offset", "10 of 60 bytes")
		tryHostile(t, deb[:m.off], facts.Options{}, fmt.Sprintf("truncated: ar member %q declares %d bytes", m.name, m.size))
		tryHostile(t, deb[:m.off+m.size/2], facts.Options{}, "truncated", m.name)
	}
	tryHostile(t, nil, facts.Options{}, "wrong magic")
	tryHostile(t, []byte("!<ar"), facts.Options{}, "truncated: 4 bytes, shorter than the ar magic")
}

// A member cut short inside its tar or compressed stream, with an ar
// header that agrees, is refused.
func TestHostileTruncatedInsideTar(t *testing.T) {
	for _, comp := range []string{"gzip", "xz", "zstd", "none"} {
		full := arMembers(t, mustRead(t, buildDeb(t, demoFiles(), comp)))
		for _, which := range []int{1, 2} {
			m := full[which]
			end := len(m.data) - 1 // the stream's own end and checksum
			if comp == "none" {
				// a plain tar cut in the zero blocks after its end is whole
				end = bytes.LastIndexFunc(m.data, func(r rune) bool { return r != 0 })
			}
			cuts := []int{1, end / 4, end / 2, end * 3 / 4, end}
			for _, n := range cuts {
				ms := append([]arEntry(nil), full...)
				ms[which] = arEntry{m.name, m.data[:n]}
				t.Run(fmt.Sprintf("%s/%s/%d", comp, m.name, n), func(t *testing.T) {
					tryHostile(t, arBuild(ms...), facts.Options{}, m.name)
				})
			}
		}
	}
}

func TestHostileWrongType(t *testing.T) {
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("debian-binary")
	w.Write([]byte("2.0\n"))
	zw.Close()
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write([]byte("hello"))
	gw.Close()
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"zip renamed .deb", z.Bytes(), "wrong magic: a zip archive, not an ar archive"},
		{"gzip", gz.Bytes(), "wrong magic: a gzip stream"},
		{"msi", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest of a cfb"), "a CFB (MSI) file"},
		{"pe", []byte("MZ\x90\x00 and so on..."), "a PE executable"},
		{"xar", []byte("xar!\x00\x1c\x00\x01...."), "a xar (pkg) archive"},
		{"thin ar", []byte("!<thin>\nxxxx"), "a thin ar archive"},
		{"text", []byte("Package: foo\nVersion: 1\n"), `wrong magic "Package:"`},
		{"empty ar", []byte(arMagic), "empty ar archive"},
		{"static library", arBuild(arEntry{"/", []byte("\x00\x00\x00\x00")}, arEntry{"foo.o", []byte("x")}), "empty or special name"},
		{"other ar", arBuild(arEntry{"foo.o", []byte("\x7fELF")}), `first ar member is "foo.o", not debian-binary`},
	} {
		t.Run(c.name, func(t *testing.T) { tryHostile(t, c.in, facts.Options{}, c.want) })
	}
}

func TestHostileArHeaders(t *testing.T) {
	good := handDeb(t, simpleControl(t), tarBuild(t, tarEntry{name: "./x", body: "x"}))
	if _, err := Inspect(bytes.NewReader(good), int64(len(good)), facts.Options{}); err != nil {
		t.Fatal(err)
	}
	patch := func(at int, s string) []byte {
		b := append([]byte(nil), good...)
		copy(b[at:], s)
		return b
	}
	h := len(arMagic) // the first member header
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"terminator", patch(h+58, "x\n"), "bad terminator"},
		{"size letter", patch(h+48, "4x        "), `size field "4x        " is not a number`},
		{"size blank", patch(h+48, "          "), "size field"},
		{"size negative", patch(h+48, "-4        "), "size field"},
		{"size huge", patch(h+48, "9999999999"), "declares 9999999999 bytes"},
		{"size inner space", patch(h+48, "4 4       "), "size field"},
		{"mode not octal", patch(h+40, "100694  "), "mode field"},
		{"mtime letter", patch(h+16, "17x         "), "mtime field"},
		{"uid letter", patch(h+28, "0a    "), "uid field"},
		{"gid letter", patch(h+34, "-1    "), "gid field"},
		{"name slash", patch(h, "debian/binary   "), "invalid name"},
		{"name control char", patch(h, "debian\x01binary   "), "invalid name"},
		{"name NUL", patch(h, "debian-binary\x00  "), "invalid name"},
		{"name empty", patch(h, "                "), "empty or special name"},
		{"odd member without padding", good[:len(good)-1], "truncated"},
		{"trailing garbage", append(append([]byte(nil), good...), "garbage"...), "truncated: ar member header at offset"},
	} {
		t.Run(c.name, func(t *testing.T) { tryHostile(t, c.in, facts.Options{}, c.want) })
	}
	var many []arEntry
	many = append(many, arEntry{"debian-binary", []byte("2.0\n")})
	for i := 0; i < 70; i++ {
		many = append(many, arEntry{fmt.Sprintf("_pad%d", i), nil})
	}
	tryHostile(t, arBuild(many...), facts.Options{}, "more than 64 members")
}

func TestHostileLayout(t *testing.T) {
	db := arEntry{"debian-binary", []byte("2.0\n")}
	ct := arEntry{"control.tar", simpleControl(t)}
	dt := arEntry{"data.tar", tarBuild(t, tarEntry{name: "./x", body: "x"})}
	var sigs []arEntry
	for i := 0; i < 9; i++ {
		sigs = append(sigs, arEntry{fmt.Sprintf("_gpg%d", i), []byte("x")})
	}
	for _, c := range []struct {
		name string
		ms   []arEntry
		want string
	}{
		{"no control", []arEntry{db, dt}, "data.tar comes before any control.tar member"},
		{"no data", []arEntry{db, ct}, "no data.tar member"},
		{"only debian-binary", []arEntry{db}, "no control.tar member"},
		{"data first", []arEntry{db, dt, ct}, "data.tar comes before any control.tar"},
		{"debian-binary second", []arEntry{ct, db, dt}, `first ar member is "control.tar"`},
		{"unknown member before control", []arEntry{db, {"extra", nil}, ct, dt}, `unexpected ar member "extra" before control.tar`},
		{"unknown member before data", []arEntry{db, ct, {"extra", nil}, dt}, `unexpected ar member "extra" before data.tar`},
		{"two controls", []arEntry{db, ct, {"control.tar.gz", nil}, dt}, "second control member"},
		{"two debian-binary", []arEntry{db, db, ct, dt}, "second debian-binary member"},
		{"control.tar.bz2", []arEntry{db, {"control.tar.bz2", nil}, dt}, `control.tar compression ".bz2" is not one dpkg reads`},
		{"data.tar.7z", []arEntry{db, ct, {"data.tar.7z", nil}}, `data.tar compression ".7z" is not one dpkg reads`},
		{"too many signatures", append([]arEntry{db, ct, dt}, sigs...), "more than 8 _gpg* signature members"},
		{"version 3.0", []arEntry{{"debian-binary", []byte("3.0\n")}, ct, dt}, "format version 3.0: major version 3 is not supported"},
		{"version 1.0", []arEntry{{"debian-binary", []byte("1.0\n")}, ct, dt}, "major version 1"},
		{"version junk", []arEntry{{"debian-binary", []byte("hello\n")}, ct, dt}, `debian-binary is "hello\n"`},
		{"version empty", []arEntry{{"debian-binary", nil}, ct, dt}, "debian-binary is"},
		{"version huge", []arEntry{{"debian-binary", bytes.Repeat([]byte("2"), 5000)}, ct, dt}, `"debian-binary" is 5000 bytes, limit 4096`},
		{"signature over MaxMetadata", []arEntry{db, ct, dt, {"_gpgorigin", make([]byte, 2000)}}, `"_gpgorigin" is 2000 bytes, limit 1024`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tryHostile(t, arBuild(c.ms...), facts.Options{Limits: facts.Limits{MaxMetadata: 1024}}, c.want)
		})
	}
	// a newer minor version with more lines is read
	ok := arBuild(arEntry{"debian-binary", []byte("2.1\nmore\n")}, ct, dt)
	if _, err := Inspect(bytes.NewReader(ok), int64(len(ok)), facts.Options{}); err != nil {
		t.Fatalf("2.1: %v", err)
	}
}

func TestHostileControl(t *testing.T) {
	data := tarBuild(t, tarEntry{name: "./x", body: "x"})
	ctl := "Package: p\nVersion: 1\n"
	lim := facts.Options{Limits: facts.Limits{MaxMetadata: 1024, MaxEntries: 10}}
	many := []tarEntry{{name: "./control", body: ctl}}
	for i := 0; i < 11; i++ {
		many = append(many, tarEntry{name: fmt.Sprintf("./extra%d", i), body: "x"})
	}
	for _, c := range []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"missing control file", []tarEntry{{name: "./md5sums", body: "x"}}, "control.tar has no control file"},
		{"empty control.tar", nil, "control.tar has no control file"},
		{"no Package", []tarEntry{{name: "./control", body: "Version: 1\n"}}, "control file has no Package field"},
		{"no Version", []tarEntry{{name: "./control", body: "Package: p\n"}}, "control file has no Version field"},
		{"bad line", []tarEntry{{name: "./control", body: "Package: p\nnonsense\n"}}, `control file: line 2: "nonsense" is not a field`},
		{"control twice", []tarEntry{{name: "./control", body: ctl}, {name: "control", body: ctl}}, `member "control" twice`},
		{"control is a symlink", []tarEntry{{name: "./control", typ: tar.TypeSymlink}}, `member "control" is not a regular file`},
		{"member over MaxMetadata", []tarEntry{{name: "./control", body: ctl}, {name: "./md5sums", body: strings.Repeat("x", 2000)}}, `member "md5sums" is 2000 bytes, over MaxMetadata (1024)`},
		{"control over MaxMetadata", []tarEntry{{name: "./control", body: ctl + "X-Big: " + strings.Repeat("x", 2000) + "\n"}}, `member "control" is 2030 bytes, over MaxMetadata`},
		{"escaping name", []tarEntry{{name: "../control", body: ctl}}, "escapes the package root"},
		{"too many members", many, "control.tar has more than 10 members (MaxEntries)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tryHostile(t, handDeb(t, tarBuild(t, c.entries...), data), lim, c.want)
		})
	}
	tryHostile(t, handDeb(t, []byte("not a tar at all, just text that goes on and on"), data), lim, "control.tar")
	tryHostile(t, arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar.gz", []byte("not gzip")}, arEntry{"data.tar", data}), lim, "control.tar.gz")
	tryHostile(t, arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar.xz", []byte("not xz")}, arEntry{"data.tar", data}), lim, "control.tar.xz")
	tryHostile(t, arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar.zst", []byte("not zstd")}, arEntry{"data.tar", data}), lim, "control.tar.zst")
}

func TestHostileData(t *testing.T) {
	ctl := simpleControl(t)
	lim := facts.Options{Limits: facts.Limits{MaxMetadata: 1024}}
	for _, c := range []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"escaping path", []tarEntry{{name: "./../../etc/passwd", body: "x"}}, `"./../../etc/passwd" escapes the package root`},
		{"unit over MaxMetadata", []tarEntry{{name: "./lib/systemd/system/x.service", body: strings.Repeat("#", 2000)}}, `unit file "lib/systemd/system/x.service" is 2000 bytes, over MaxMetadata (1024)`},
	} {
		t.Run(c.name, func(t *testing.T) { tryHostile(t, handDeb(t, ctl, tarBuild(t, c.entries...)), lim, c.want) })
	}
	whole := tarBuild(t, tarEntry{name: "./a", body: "a"}, tarEntry{name: "./b", body: strings.Repeat("b", 600)})
	for _, cut := range []int{1024, 512, 700, 1500} { // no end marker, half of it, inside b's padding, inside b
		tryHostile(t, handDeb(t, ctl, whole[:len(whole)-cut]), lim, "data.tar: truncated")
	}
	for _, suffix := range []string{"", ".gz", ".xz", ".zst", ".bz2", ".lzma"} {
		garbage := bytes.Repeat([]byte("garbage!"), 100)
		tryHostile(t, arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar", ctl}, arEntry{"data.tar" + suffix, garbage}), lim, "data.tar"+suffix)
	}
}

// Compression bombs in data.tar, built by dpkg-deb from a package holding
// a file of zeros: refused by the ratio limit, and by MaxUncompressed
// when the ratio limit is out of the way.
func TestHostileBombs(t *testing.T) {
	files := append(minimalFiles(), pkgFile{path: "usr/share/tiny/zeros", mode: 0o644, body: string(make([]byte, 3<<20))})
	for _, comp := range []string{"gzip", "xz", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			deb := mustRead(t, buildDeb(t, files, comp))
			name := "data.tar." + map[string]string{"gzip": "gz", "xz": "xz", "zstd": "zst"}[comp]
			tryHostile(t, deb, facts.Options{}, name, "expands more than 200 times", "compression bomb")
			tryHostile(t, deb, facts.Options{Limits: facts.Limits{MaxUncompressed: 2 << 20, MaxRatio: 1 << 40}}, name, "decompresses past MaxUncompressed (2097152 bytes in total)")
			if _, err := Inspect(bytes.NewReader(deb), int64(len(deb)), facts.Options{Limits: facts.Limits{MaxRatio: 1 << 40}}); err != nil {
				t.Fatalf("within limits: %v", err)
			}
		})
	}
}

// xz and zstd streams that ask for more decoder memory than the caps are
// refused before the decoder allocates it; xz streams the guard must walk
// (every check type, several blocks, several streams, incompressible
// chunks) decode as the xz tool wrote them.
func TestXZAndZstdMemoryCaps(t *testing.T) {
	testtool.Need(t, "apt-get install xz-utils zstd", "xz", "zstd")
	ctl := simpleControl(t)
	body := make([]byte, 100<<10)
	for i := range body {
		body[i] = byte(i * i >> 3) // some repetition, some not
	}
	copy(body[50<<10:], bytes.Repeat([]byte{0}, 30<<10))
	rnd := make([]byte, 40<<10)
	for i := range rnd {
		rnd[i] = byte((i*2654435761)>>13 ^ i>>5)
	}
	data := tarBuild(t, tarEntry{name: "./a", body: string(body)}, tarEntry{name: "./b", body: string(rnd)})
	compress := func(args ...string) []byte {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin = bytes.NewReader(data)
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return b
	}
	deb := func(suffix string, z []byte) []byte {
		return arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar", ctl}, arEntry{"data.tar" + suffix, z})
	}
	for _, args := range [][]string{
		{"xz", "-c", "--check=none"},
		{"xz", "-c", "--check=crc32"},
		{"xz", "-c", "--check=crc64"},
		{"xz", "-c", "--check=sha256"},
		{"xz", "-c", "-T2", "--block-size=20KiB"},
		{"xz", "-c", "-0"},
		{"xz", "-c", "-9"},
	} {
		d := deb(".xz", compress(args...))
		f, err := Inspect(bytes.NewReader(d), int64(len(d)), facts.Options{})
		if err != nil || f.Files.Count != 2 || f.Files.Bytes != int64(len(body)+len(rnd)) {
			t.Fatalf("%v: %v %+v", args, err, f)
		}
	}
	// two streams with stream padding between them: the tar spans both
	half := len(data) / 2
	s1 := exec.Command("xz", "-c")
	s1.Stdin = bytes.NewReader(data[:half])
	z1, _ := s1.Output()
	s2 := exec.Command("xz", "-c", "--check=sha256")
	s2.Stdin = bytes.NewReader(data[half:])
	z2, _ := s2.Output()
	multi := append(append(append([]byte(nil), z1...), 0, 0, 0, 0, 0, 0, 0, 0), z2...)
	if d := deb(".xz", multi); true {
		if _, err := Inspect(bytes.NewReader(d), int64(len(d)), facts.Options{}); err != nil {
			t.Fatalf("multi-stream: %v", err)
		}
		bad := append(append(append([]byte(nil), z1...), 0, 0, 0), z2...)
		tryHostile(t, deb(".xz", bad), facts.Options{}, "stream padding of 3 bytes")
	}
	tryHostile(t, deb(".xz", compress("xz", "-c", "--x86", "--lzma2")), facts.Options{}, "data.tar.xz: xz: filter chain of 2 filters")
	tryHostile(t, deb(".xz", compress("xz", "-c", "--delta", "--lzma2")), facts.Options{}, "filter chain of 2 filters")
	tryHostile(t, deb(".zst", compress("zstd", "-c", "--long=28")), facts.Options{}, "data.tar.zst")
	if d := deb(".zst", compress("zstd", "-c", "-19")); true {
		if _, err := Inspect(bytes.NewReader(d), int64(len(d)), facts.Options{}); err != nil {
			t.Fatalf("zstd -19: %v", err)
		}
	}
	// A real stream whose block header asks for a bigger dictionary (what
	// xz --lzma2=dict=256MiB writes; the encoder would need gigabytes),
	// its header CRC fixed, so only the size is wrong with it.
	z := compress("xz", "-c", "--check=crc32")
	patched := append([]byte(nil), z...)
	// stream header (12), block header: size, flags, filter id 0x21, props size 1, dict code
	if patched[12+2] != 0x21 || patched[12+3] != 1 {
		t.Fatalf("unexpected block header % x", patched[12:24])
	}
	hlen := (int(patched[12]) + 1) * 4
	patched[12+4] = 32 // 256 MiB
	binary.LittleEndian.PutUint32(patched[12+hlen-4:], crc32.ChecksumIEEE(patched[12:12+hlen-4]))
	tryHostile(t, deb(".xz", patched), facts.Options{}, "data.tar.xz: xz: block asks for a 256 MiB LZMA2 dictionary, limit 64 MiB")
	patched[12+4] = 40
	tryHostile(t, deb(".xz", patched), facts.Options{}, "asks for a 4095 MiB LZMA2 dictionary")
	patched[12+4] = 41
	tryHostile(t, deb(".xz", patched), facts.Options{}, "dictionary size code 41 out of range")
}

// virtualFile is a file made of byte slices and generated regions, so a
// test can hand Inspect a huge .deb without holding it.
type virtualFile struct {
	parts []vpart
	size  int64
}

type vpart struct {
	off, size int64
	fill      func(p []byte, off int64) // off within the part
}

func (v *virtualFile) add(size int64, fill func(p []byte, off int64)) {
	v.parts = append(v.parts, vpart{v.size, size, fill})
	v.size += size
}

func (v *virtualFile) bytes(b []byte) {
	v.add(int64(len(b)), func(p []byte, off int64) { copy(p, b[off:]) })
}

func (v *virtualFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= v.size {
		return 0, io.EOF
	}
	n := 0
	for _, part := range v.parts {
		if n == len(p) {
			break
		}
		at := off + int64(n)
		if at < part.off || at >= part.off+part.size {
			continue
		}
		k := int(min(int64(len(p)-n), part.off+part.size-at))
		part.fill(p[n:n+k], at-part.off)
		n += k
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// virtualDeb is a .deb whose data.tar (uncompressed, dataSize bytes) is
// generated by fill.
func virtualDeb(t testing.TB, dataSize int64, fill func(p []byte, off int64)) *virtualFile {
	v := &virtualFile{}
	ctl := simpleControl(t)
	head := arBuild(arEntry{"debian-binary", []byte("2.0\n")}, arEntry{"control.tar", ctl})
	v.bytes(head)
	v.bytes([]byte(fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", "data.tar", 0, 0, 0, 0o100644, dataSize)))
	v.add(dataSize, fill)
	if dataSize%2 == 1 {
		v.bytes([]byte("\n"))
	}
	return v
}

// tarHeaderBlock returns the 512-byte header of a regular file.
func tarHeaderBlock(t testing.TB, name string, size int64, mode int64) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: mode, Typeflag: tar.TypeReg, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	tw.Flush()
	return b.Bytes()[:512]
}

// A tar of a million tiny entries stops at MaxEntries, having read only
// that many headers.
func TestHostileMillionEntries(t *testing.T) {
	const n = 1_000_000
	tmpl := tarHeaderBlock(t, "./f0000000", 0, 0o644)
	block := make([]byte, 512)
	last := int64(-1)
	header := func(i int64) []byte {
		if i == last {
			return block
		}
		copy(block, tmpl)
		copy(block[3:10], fmt.Sprintf("%07d", i))
		for j := 148; j < 156; j++ {
			block[j] = ' '
		}
		sum := 0
		for _, c := range block {
			sum += int(c)
		}
		copy(block[148:], fmt.Sprintf("%06o\x00 ", sum))
		last = i
		return block
	}
	size := int64(n)*512 + 1024
	reads := int64(0)
	v := virtualDeb(t, size, func(p []byte, off int64) {
		reads += int64(len(p))
		for len(p) > 0 {
			i := off / 512
			k := min(int64(len(p)), 512-off%512)
			if i < n {
				copy(p[:k], header(i)[off%512:])
			} else {
				clear(p[:k])
			}
			p, off = p[k:], off+k
		}
	})
	hostileCount++
	_, err := Inspect(v, v.size, facts.Options{Limits: facts.Limits{MaxEntries: 5000}})
	wantDefect(t, err, "data.tar has more than 5000 members (MaxEntries)")
	if reads > 5100*512+(64<<10) {
		t.Errorf("read %d bytes of data.tar to refuse it", reads)
	}
	if DefaultLimits := facts.DefaultLimits; DefaultLimits.MaxEntries >= n {
		t.Errorf("the default MaxEntries (%d) lets a million entries through", DefaultLimits.MaxEntries)
	}
}

// Peak memory does not grow with the size of data.tar: inspecting a .deb
// holding one 1 GiB file allocates about what a 1 MiB one does, and reads
// about as much (the file's contents are skipped, not read).
func TestMemoryDoesNotGrowWithSize(t *testing.T) {
	alloc := func(fileSize int64) uint64 {
		hdr := tarHeaderBlock(t, "./usr/share/big", fileSize, 0o644)
		pad := (512 - fileSize%512) % 512
		dataSize := 512 + fileSize + pad + 1024
		var read int64
		v := virtualDeb(t, dataSize, func(p []byte, off int64) {
			read += int64(len(p))
			clear(p)
			if off < 512 {
				copy(p, hdr[off:])
			}
		})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f, err := Inspect(v, v.size, facts.Options{})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if f.Files.Bytes != fileSize {
			t.Fatalf("bytes %d, want %d", f.Files.Bytes, fileSize)
		}
		// A stored data.tar: the headers are read, the file's contents
		// skipped (a buffer's worth at each end at most).
		if read > 3*(64<<10) {
			t.Fatalf("read %d bytes of a %d-byte stored data.tar", read, dataSize)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, big := alloc(1<<20), alloc(1<<30)
	t.Logf("allocated %d bytes for 1 MiB, %d for 1 GiB", small, big)
	if big > small+(1<<20) {
		t.Errorf("allocated %d bytes for a 1 GiB data.tar, %d for 1 MiB: memory grows with size", big, small)
	}
}

// A stored data.tar's file contents are skipped, not read; the skip is
// checked as the reading was: a header claiming more than the member
// holds is truncation, skipped bytes count against MaxUncompressed, and
// the header after a skipped file is read where it is.
func TestStoredDataSkipIsChecked(t *testing.T) {
	// entries lays out regular files of the given sizes and the end
	// marker, in dataSize bytes (cut short when dataSize is smaller).
	layout := func(names []string, sizes []int64) (fill func(p []byte, off int64), total int64) {
		type hdr struct {
			off int64
			b   []byte
		}
		var hs []hdr
		for i, sz := range sizes {
			hs = append(hs, hdr{total, tarHeaderBlock(t, names[i], sz, 0o644)})
			total += 512 + sz + (512-sz%512)%512
		}
		total += 1024
		return func(p []byte, off int64) {
			clear(p)
			for _, h := range hs {
				lo, hi := max(off, h.off), min(off+int64(len(p)), h.off+512)
				if lo < hi {
					copy(p[lo-off:hi-off], h.b[lo-h.off:hi-h.off])
				}
			}
		}, total
	}
	t.Run("header after a skipped file", func(t *testing.T) {
		fill, size := layout([]string{"./usr/share/big", "./usr/bin/after"}, []int64{5<<20 + 3, 10})
		v := virtualDeb(t, size, fill)
		f, err := Inspect(v, v.size, facts.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if f.Files.Count != 2 || f.Files.Bytes != 5<<20+13 || !slices.Contains(f.Files.Sample, "usr/bin/after") {
			t.Fatalf("files %+v", f.Files)
		}
	})
	t.Run("header claims more than the member holds", func(t *testing.T) {
		hostileCount++
		fill, _ := layout([]string{"./usr/share/big"}, []int64{1 << 30})
		v := virtualDeb(t, 512+4096, fill)
		_, err := Inspect(v, v.size, facts.Options{})
		wantDefect(t, err, "data.tar", "truncated")
	})
	t.Run("skipped bytes count against MaxUncompressed", func(t *testing.T) {
		hostileCount++
		fill, size := layout([]string{"./usr/share/big"}, []int64{4 << 20})
		v := virtualDeb(t, size, fill)
		_, err := Inspect(v, v.size, facts.Options{Limits: facts.Limits{MaxUncompressed: 1 << 20}})
		wantDefect(t, err, "data.tar", "MaxUncompressed")
	})
}
