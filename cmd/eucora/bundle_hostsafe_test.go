package main

import (
	"regexp"
	"testing"
)

var hostSafeCases = []string{
	"", "host", "host.example.com", "build_01@lab-2", "a b", "a/b", "a:b", "a+b", "a\n", "\n",
	"héllo", "日本", "a\xffb", "\xff\xfe", "\xef\xbf\xbd", "a\x00", "a\x7f", "-._@", "ÿ",
}

func TestHostSafeMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`[^A-Za-z0-9._@-]`)
	in := append([]string(nil), hostSafeCases...)
	for b := 0; b < 256; b++ {
		in = append(in, "a"+string([]byte{byte(b)})+"z", string(rune(b)))
	}
	changed := 0
	for _, s := range in {
		want := re.ReplaceAllString(s, "-")
		if got := hostSafe(s); got != want {
			t.Errorf("hostSafe(%q) = %q, regexp gives %q", s, got, want)
		}
		if want != s {
			changed++
		}
	}
	if changed == 0 || changed == len(in) {
		t.Errorf("%d of %d inputs changed; want some of each", changed, len(in))
	}
}

func FuzzHostSafeMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`[^A-Za-z0-9._@-]`)
	for _, s := range hostSafeCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hostSafe(s), re.ReplaceAllString(s, "-"); got != want {
			t.Errorf("hostSafe(%q) = %q, regexp gives %q", s, got, want)
		}
	})
}
