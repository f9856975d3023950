// Package charsettest helps tests check a hand-written charset matcher
// against the regular expression it replaces: it builds edge-case inputs and
// compares the two. Only tests import it.
package charsettest

import (
	"regexp"
	"strings"
	"testing"
)

// Mutations returns strings close to each of the valid examples: every
// prefix, the example with each byte 0-255 substituted at each position,
// inserted before it and appended after it, the example doubled, with a
// trailing or leading newline, and with non-ASCII and invalid UTF-8 added.
// Giving a maximum-length example covers max and max+1.
func Mutations(valid ...string) []string {
	out := []string{"", "\n", "é", "\xff", "\x00"}
	for _, v := range valid {
		out = append(out, v, v+v, v+"\n", "\n"+v, v+"\r\n", v+"é", "é"+v, v+"\xff", v+"\x00")
		for i := 0; i < len(v); i++ {
			out = append(out, v[:i], v[i+1:])
			for b := 0; b < 256; b++ {
				m := []byte(v)
				m[i] = byte(b)
				out = append(out, string(m))
			}
			out = append(out, v[:i]+"é"+v[i+1:])
		}
		for b := 0; b < 256; b++ {
			c := string([]byte{byte(b)})
			out = append(out, c+v, v+c)
		}
		if len(v) > 0 {
			out = append(out, strings.Repeat(v[len(v)-1:], len(v)+1))
		}
	}
	return out
}

// Agree fails tb if match and re disagree on s.
func Agree(tb testing.TB, re *regexp.Regexp, match func(string) bool, s string) {
	tb.Helper()
	if got, want := match(s), re.MatchString(s); got != want {
		tb.Errorf("matcher(%q) = %v, regexp %s says %v", s, got, re, want)
	}
}

// AgreeAll checks Agree on every input and fails tb unless the inputs hold
// both a string re accepts and one it rejects, so a table cannot pass by
// exercising only one side.
func AgreeAll(tb testing.TB, re *regexp.Regexp, match func(string) bool, inputs []string) {
	tb.Helper()
	var accepted, rejected int
	for _, s := range inputs {
		Agree(tb, re, match, s)
		if re.MatchString(s) {
			accepted++
		} else {
			rejected++
		}
	}
	if accepted == 0 || rejected == 0 {
		tb.Errorf("table for %s: %d accepted, %d rejected; want both", re, accepted, rejected)
	}
}
