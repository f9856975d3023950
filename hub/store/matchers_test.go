package store

import (
	"regexp"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/charset/charsettest"
)

var nameCases = []string{
	"", "a", "z", "0", "9", "A", "a.b", "a_b", "a-b", "a+b", "a@b", "aB", ".a", "-a", "_a",
	"hub", "abc\n", "é", "aé", "a\xff", "a" + strings.Repeat("z", 62), "a" + strings.Repeat("z", 63),
}

func TestValidNameMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	in := append(charsettest.Mutations("a"+strings.Repeat("z", 61)+"-", "0._-9"), nameCases...)
	charsettest.AgreeAll(t, re, ValidName, in)
}

func FuzzValidNameMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	for _, s := range nameCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, ValidName, s) })
}
