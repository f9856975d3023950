package mirror

import (
	"regexp"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/charset/charsettest"
)

var nameCases = []string{
	"", "a", "Z", "0", "9", "a.b", "a_b", "a+b", "a-b", "a@b", "a:b", "a/b", "a b",
	".a", "_a", "+a", "-a", "bookworm\n", "é", "aé", "a\xff", "a\x00",
	"a" + strings.Repeat("z", 127), "a" + strings.Repeat("z", 128),
}

func TestNameMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
	in := append(charsettest.Mutations("a"+strings.Repeat("Z", 126)+"+", "0.+_-9"), nameCases...)
	charsettest.AgreeAll(t, re, validName, in)
}

func FuzzNameMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
	for _, s := range nameCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, validName, s) })
}
