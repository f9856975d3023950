package clip

import (
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 3, "abc"},
		{"abcdef", 3, "abc"},
		{"", 0, ""},
		{"abc", 0, ""},
		{"aé", 2, "a"}, // é is 2 bytes: never cut inside it
		{"aé", 3, "aé"},
		{"a\xffb", 5, "a?b"},
		{"€€", 4, "€"}, // € is 3 bytes
	} {
		got := String(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || len(got) > c.n {
			t.Errorf("String(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
