package mobile

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/eucora/eucora/packaging/facts"
)

// zipEntry is one file for zipBuild.
type zipEntry struct {
	name  string
	body  []byte
	store bool // no compression
}

func zipBuild(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		m := zip.Deflate
		if e.store {
			m = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: m, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testCert is a self-signed certificate and its key, also written as PEM
// files (and the key as PKCS#8 DER) for openssl and apksigner.
type testCert struct {
	cert            *x509.Certificate
	certPEM, keyPEM string
	certDER, keyPK8 string // files
	notAfter        time.Time
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// sharedRSAKey is one RSA key for every certificate of the test binary
// (generating one is slow under -race).
func sharedRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func newTestCert(t testing.TB, cn, org string, rsaKey bool) *testCert {
	t.Helper()
	var key any
	var pub any
	if rsaKey {
		k := sharedRSAKey(t)
		key, pub = k, &k.PublicKey
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, &k.PublicKey
	}
	notAfter := time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{org}, Country: []string{"EU"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &testCert{cert: cert, notAfter: notAfter,
		certPEM: filepath.Join(dir, "cert.pem"), keyPEM: filepath.Join(dir, "key.pem"),
		certDER: filepath.Join(dir, "cert.der"), keyPK8: filepath.Join(dir, "key.pk8")}
	os.WriteFile(c.certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(c.keyPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), 0o600)
	os.WriteFile(c.certDER, der, 0o600)
	os.WriteFile(c.keyPK8, pk8, 0o600)
	return c
}

func run(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// cmsSign signs content with openssl cms as a DER SignedData; attached
// keeps the content inside (a mobileprovision), else it is detached (a
// JAR signature block).
func cmsSign(t testing.TB, c *testCert, content []byte, attached bool) []byte {
	t.Helper()
	in := filepath.Join(t.TempDir(), "content")
	os.WriteFile(in, content, 0o600)
	args := []string{"cms", "-sign", "-binary", "-outform", "DER", "-in", in, "-signer", c.certPEM, "-inkey", c.keyPEM, "-md", "sha256"}
	if attached {
		args = append(args, "-nodetach")
	} else {
		args = append(args, "-noattr")
	}
	return run(t, nil, "openssl", args...)
}

func wantDefect(t *testing.T, err error, kind facts.Kind, parts ...string) {
	t.Helper()
	var d *facts.DefectError
	if !errors.As(err, &d) || !errors.Is(err, facts.ErrDefect) {
		t.Fatalf("err = %v (%T), want a *facts.DefectError", err, err)
	}
	if d.Kind != kind {
		t.Fatalf("defect kind %q, want %q", d.Kind, kind)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("err = %q, want it to name %q", err, p)
		}
	}
}

// --- a binary plist writer, per the bplist00 format (CFBinaryPList.c) ---

type bplistWriter struct {
	objs [][]byte
}

// encodeBinaryPlist writes v (string, int64, float64, bool, []byte,
// time.Time, []any, map[string]any) as "bplist00", one object per value,
// dict keys sorted.
func encodeBinaryPlist(v any) []byte {
	count := &bplistWriter{}
	count.add(v)
	refSize := 1
	if len(count.objs) > 255 {
		refSize = 2
	}
	w2 := &bplistWriter{}
	w2.encodeWith(v, refSize)
	var out bytes.Buffer
	out.WriteString("bplist00")
	offsets := make([]uint64, len(w2.objs))
	for i, o := range w2.objs {
		offsets[i] = uint64(out.Len())
		out.Write(o)
	}
	tableOff := uint64(out.Len())
	offSize := 1
	for _, o := range offsets {
		for o >= 1<<(8*offSize) {
			offSize++
		}
	}
	for _, o := range offsets {
		b := make([]byte, 8)
		binary.BigEndian.PutUint64(b, o)
		out.Write(b[8-offSize:])
	}
	trailer := make([]byte, 32)
	trailer[6], trailer[7] = byte(offSize), byte(refSize)
	binary.BigEndian.PutUint64(trailer[8:], uint64(len(w2.objs)))
	binary.BigEndian.PutUint64(trailer[16:], 0)
	binary.BigEndian.PutUint64(trailer[24:], tableOff)
	out.Write(trailer)
	return out.Bytes()
}

// add counts objects.
func (w *bplistWriter) add(v any) {
	w.objs = append(w.objs, nil)
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			w.add(e)
		}
	case map[string]any:
		for k, e := range x {
			w.add(k)
			w.add(e)
		}
	}
}

// encodeWith writes the objects, v first (object 0).
func (w *bplistWriter) encodeWith(v any, refSize int) int {
	i := len(w.objs)
	w.objs = append(w.objs, nil)
	ref := func(b *bytes.Buffer, r int) {
		rb := make([]byte, 8)
		binary.BigEndian.PutUint64(rb, uint64(r))
		b.Write(rb[8-refSize:])
	}
	var b bytes.Buffer
	switch x := v.(type) {
	case bool:
		if x {
			b.WriteByte(0x09)
		} else {
			b.WriteByte(0x08)
		}
	case int64:
		switch {
		case x >= 0 && x < 1<<8:
			b.Write([]byte{0x10, byte(x)})
		case x >= 0 && x < 1<<16:
			b.Write([]byte{0x11, byte(x >> 8), byte(x)})
		case x >= 0 && x < 1<<32:
			b.WriteByte(0x12)
			binary.Write(&b, binary.BigEndian, uint32(x))
		default:
			b.WriteByte(0x13)
			binary.Write(&b, binary.BigEndian, x)
		}
	case float64:
		b.WriteByte(0x23)
		binary.Write(&b, binary.BigEndian, math.Float64bits(x))
	case time.Time:
		b.WriteByte(0x33)
		binary.Write(&b, binary.BigEndian, math.Float64bits(x.Sub(plistEpoch).Seconds()))
	case []byte:
		bplistHead(&b, 0x40, len(x))
		b.Write(x)
	case string:
		ascii := true
		for _, r := range x {
			ascii = ascii && r < 0x80
		}
		if ascii {
			bplistHead(&b, 0x50, len(x))
			b.WriteString(x)
		} else {
			u := utf16.Encode([]rune(x))
			bplistHead(&b, 0x60, len(u))
			for _, c := range u {
				binary.Write(&b, binary.BigEndian, c)
			}
		}
	case []any:
		var refs []int
		for _, e := range x {
			refs = append(refs, w.encodeWith(e, refSize))
		}
		bplistHead(&b, 0xa0, len(x))
		for _, r := range refs {
			ref(&b, r)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kr, vr []int
		for _, k := range keys {
			kr = append(kr, w.encodeWith(k, refSize))
		}
		for _, k := range keys {
			vr = append(vr, w.encodeWith(x[k], refSize))
		}
		bplistHead(&b, 0xd0, len(x))
		for _, r := range kr {
			ref(&b, r)
		}
		for _, r := range vr {
			ref(&b, r)
		}
	default:
		panic("bplist: unsupported value")
	}
	w.objs[i] = b.Bytes()
	return i
}

// bplistHead writes a marker with its count: in the low nibble, or 0xF
// then an int object.
func bplistHead(b *bytes.Buffer, marker byte, n int) {
	if n < 15 {
		b.WriteByte(marker | byte(n))
		return
	}
	b.WriteByte(marker | 0x0f)
	switch {
	case n < 1<<8:
		b.Write([]byte{0x10, byte(n)})
	case n < 1<<16:
		b.Write([]byte{0x11, byte(n >> 8), byte(n)})
	default:
		b.WriteByte(0x12)
		binary.Write(b, binary.BigEndian, uint32(n))
	}
}

// encodeXMLPlist writes v as an XML plist, as Xcode does.
func encodeXMLPlist(v any) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n" + `<plist version="1.0">` + "\n")
	var w func(v any, ind string)
	w = func(v any, ind string) {
		switch x := v.(type) {
		case string:
			b.WriteString(ind + "<string>" + xmlEscape(x) + "</string>\n")
		case int64:
			b.WriteString(ind + "<integer>" + big.NewInt(x).String() + "</integer>\n")
		case bool:
			if x {
				b.WriteString(ind + "<true/>\n")
			} else {
				b.WriteString(ind + "<false/>\n")
			}
		case time.Time:
			b.WriteString(ind + "<date>" + x.UTC().Format(time.RFC3339) + "</date>\n")
		case []byte:
			b.WriteString(ind + "<data>" + base64.StdEncoding.EncodeToString(x) + "</data>\n")
		case float64:
			b.WriteString(ind + "<real>" + strconv.FormatFloat(x, 'g', -1, 64) + "</real>\n")
		case []any:
			b.WriteString(ind + "<array>\n")
			for _, e := range x {
				w(e, ind+"\t")
			}
			b.WriteString(ind + "</array>\n")
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteString(ind + "<dict>\n")
			for _, k := range keys {
				b.WriteString(ind + "\t<key>" + xmlEscape(k) + "</key>\n")
				w(x[k], ind+"\t")
			}
			b.WriteString(ind + "</dict>\n")
		default:
			panic("xml plist: unsupported value")
		}
	}
	w(v, "")
	b.WriteString("</plist>\n")
	return []byte(b.String())
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
