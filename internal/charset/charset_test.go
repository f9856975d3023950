package charset

import (
	"regexp"
	"strings"
	"testing"
)

// TestOfAgreesWithRegexp checks every byte against the same bracket
// expression compiled by regexp.
func TestOfAgreesWithRegexp(t *testing.T) {
	for _, spec := range []string{
		"A-Za-z0-9._+-", "a-z0-9._-", "A-Za-z0-9._:-", "A-Za-z0-9._@-",
		"0-9A-HJKMNP-TV-Z", "0-9a-f", "a-z", "-a", "a-", "-", "x", "\x00-\x7f", "",
	} {
		set := Of(spec)
		var re *regexp.Regexp
		if spec != "" {
			re = regexp.MustCompile(`^[` + strings.ReplaceAll(spec, "\x00", `\x00`) + `]$`)
		}
		for b := 0; b < 256; b++ {
			want := re != nil && re.MatchString(string([]byte{byte(b)}))
			if got := set.Contains(byte(b)); got != want {
				t.Errorf("Of(%q).Contains(%#x) = %v, regexp says %v", spec, b, got, want)
			}
		}
	}
}

func TestOfPanics(t *testing.T) {
	for _, spec := range []string{"z-a", "a-\x80", "\xff", "é"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Of(%q) did not panic", spec)
				}
			}()
			Of(spec)
		}()
	}
}

func TestOfDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Of("A-Za-z0-9._+-") }); n != 0 {
		t.Errorf("Of allocates %v times", n)
	}
}

func TestMatch(t *testing.T) {
	alnum, word := Of("A-Za-z0-9"), Of("A-Za-z0-9._-")
	for _, c := range []struct {
		s        string
		min, max int
		want     bool
	}{
		{"", 0, 3, true},
		{"", 1, 3, false},
		{"a", 1, 3, true},
		{"abc", 1, 3, true},
		{"abcd", 1, 3, false},
		{"a.b", 1, 3, true},
		{".ab", 1, 3, false},
		{"a_", 1, 3, true},
		{"ab", 3, 3, false},
		{"a\n", 1, 3, false},
		{"aé", 1, 3, false},
		{"a\xff", 1, 3, false},
		{"a b", 1, 3, false},
	} {
		if got := Match(c.s, c.min, c.max, alnum, word); got != c.want {
			t.Errorf("Match(%q, %d, %d) = %v, want %v", c.s, c.min, c.max, got, c.want)
		}
	}
}

func FuzzMatchMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,7}$`)
	first, rest := Of("A-Za-z0-9"), Of("A-Za-z0-9._-")
	for _, s := range []string{"", "a", "abcdefgh", "abcdefghi", "-a", "a-", "a\n", "aé", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Match(s, 1, 8, first, rest), re.MatchString(s); got != want {
			t.Errorf("Match(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
