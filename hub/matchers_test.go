package hub

import (
	"regexp"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/charset/charsettest"
)

var correlationCases = []string{
	"", "a", "Z", "0", "9", ".", "_", ":", "-", "a.b:c_d-e", "a b", "a/b", "a+b", "a@b",
	"01J9Z8Q6X3:req-1", "abc\n", "é", "aé", "a\xff", "a\x00",
	strings.Repeat("x", 128), strings.Repeat("x", 129), strings.Repeat(":", 128),
}

func TestCorrelationIDMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	in := append(charsettest.Mutations(strings.Repeat("aZ09._:-", 16), "-"), correlationCases...)
	charsettest.AgreeAll(t, re, validCorrelationID, in)
}

func FuzzCorrelationIDMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	for _, s := range correlationCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, validCorrelationID, s) })
}
