package deploy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/charset/charsettest"
)

var (
	identCases = []string{
		"", "a", "Z", "0", "9", "a.b", "a_b", "a+b", "a-b", "a@b", "a:b", "a/b", "a b",
		".a", "_a", "+a", "-a", "abc\n", "\nabc", "é", "aé", "a\xff", "a\x00",
		"a" + strings.Repeat("z", 127), "a" + strings.Repeat("z", 128), strings.Repeat("-", 128),
	}
	scopeCases = []string{
		"", "a", "z", "0", "9", "A", "a.b", "a_b", "a-b", "a+b", "a@b", "aB", ".a", "-a", "_a",
		"abc\n", "é", "aé", "a\xff", "a" + strings.Repeat("z", 62), "a" + strings.Repeat("z", 63),
	}
)

func TestValidIdentifierMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
	in := append(charsettest.Mutations("a"+strings.Repeat("Z", 126)+"-", "0.+_-9"), identCases...)
	charsettest.AgreeAll(t, re, ValidIdentifier, in)
}

func FuzzValidIdentifierMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
	for _, s := range identCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, ValidIdentifier, s) })
}

func TestScopeValueMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	in := append(charsettest.Mutations("a"+strings.Repeat("z", 61)+"-", "0._-9"), scopeCases...)
	charsettest.AgreeAll(t, re, validScopeValue, in)
}

func FuzzScopeValueMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	for _, s := range scopeCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, validScopeValue, s) })
}
