package digest

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	simd "github.com/minio/sha256-simd"
)

func TestParse(t *testing.T) {
	good := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{good, true},
		{"sha256:" + good, true},
		{strings.ToUpper(good), false},
		{good[:63], false},
		{good + "0", false},
		{"../" + good[3:], false},
		{"", false},
		{"sha512:" + good, false},
		{strings.Repeat("g", 64), false},
	} {
		d, err := Parse(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("Parse(%q) err=%v, want ok=%v", tc.in, err, tc.ok)
		}
		if !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) err=%v, want ErrInvalid", tc.in, err)
		}
		if tc.ok && d.Hex() != good {
			t.Errorf("Parse(%q) = %q", tc.in, d)
		}
	}
}

func TestFromBytesKnownAnswer(t *testing.T) {
	// sha256("abc") from FIPS 180-2.
	if got := FromBytes([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("got %s", got)
	}
}

func TestVerifier(t *testing.T) {
	v := NewVerifier(FromBytes([]byte("hello")), 5)
	v.Write([]byte("hel"))
	v.Write([]byte("lo"))
	if err := v.Verify(); err != nil {
		t.Fatal(err)
	}
	v = NewVerifier(FromBytes([]byte("hello")), 5)
	v.Write([]byte("hellO"))
	var me *MismatchError
	if err := v.Verify(); !errors.As(err, &me) || !strings.Contains(err.Error(), "hash mismatch") {
		t.Fatalf("want hash mismatch, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(strings.Repeat("0", 64))
	f.Add("sha256:" + strings.Repeat("f", 64))
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if len(d) != HexLen || strings.ContainsAny(string(d), "/\\.") {
			t.Fatalf("Parse accepted unsafe %q", d)
		}
	})
}

// BenchmarkSHA256 compares the standard library with minio/sha256-simd on
// this CPU. Run: go test -run x -bench SHA256 ./internal/digest
func BenchmarkSHA256(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.Run("crypto-sha256", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			h := sha256.New()
			h.Write(buf)
			h.Sum(nil)
		}
	})
	b.Run("minio-sha256-simd", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			h := simd.New()
			h.Write(buf)
			h.Sum(nil)
		}
	})
}

func TestCanonical(t *testing.T) {
	hx := strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		hx:                  hx,
		"sha256:" + hx:      hx,
		"SHA256:" + hx:      "SHA256:" + hx, // does not parse: unchanged
		"nope":              "nope",
		"":                  "",
		"sha256:" + hx[:10]: "sha256:" + hx[:10],
	} {
		if got := Canonical(Digest(in)); got != Digest(want) {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}
