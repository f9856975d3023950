package dmg

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// FuzzInspect: whatever the bytes, Inspect returns facts or a DefectError
// and never panics. A signed seed (CMS by openssl) is in
// testdata/fuzz/FuzzInspect; TestWriteFuzzSeed (DMG_WRITE_SEED=1) remakes it.
func FuzzInspect(f *testing.F) {
	small := bytes.Repeat([]byte("sector "), 600)
	f.Add(buildDMG(f, dmgOpts{data: small}))
	f.Add(buildDMG(f, dmgOpts{data: small, adhoc: true, pageShift: 9}))
	f.Add(buildDMG(f, dmgOpts{data: small, zlib: true, adhoc: true, ticket: []byte("ticket")}))
	f.Add(append([]byte("encrcdsa"), small...))
	lim := facts.Limits{MaxEntries: 1000, MaxMetadata: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{Limits: lim})
		if err != nil {
			if !errors.Is(err, facts.ErrDefect) {
				t.Fatalf("error is not a DefectError: %v", err)
			}
			return
		}
		if fs == nil || fs.Kind != facts.KindDMG {
			t.Fatalf("facts %+v", fs)
		}
	})
}

func TestWriteFuzzSeed(t *testing.T) {
	if os.Getenv("DMG_WRITE_SEED") == "" {
		t.Skip("set DMG_WRITE_SEED=1 to rewrite testdata/fuzz/FuzzInspect/signed")
	}
	b := buildDMG(t, dmgOpts{data: bytes.Repeat([]byte("sector "), 600), sign: pki(t).valid, zlib: true, ticket: []byte("ticket")})
	os.MkdirAll("testdata/fuzz/FuzzInspect", 0o755)
	var out bytes.Buffer
	out.WriteString("go test fuzz v1\n[]byte(")
	out.WriteString(goQuote(b))
	out.WriteString(")\n")
	if err := os.WriteFile("testdata/fuzz/FuzzInspect/signed", out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func goQuote(b []byte) string {
	const hexd = "0123456789abcdef"
	var s bytes.Buffer
	s.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			s.WriteString(`\x`)
			s.WriteByte(hexd[c>>4])
			s.WriteByte(hexd[c&15])
		}
	}
	s.WriteByte('"')
	return s.String()
}
