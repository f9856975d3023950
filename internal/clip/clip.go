// Package clip bounds untrusted text before it is stored or shown: audit
// reasons, event fields, names quoted in messages.
package clip

import (
	"strings"
	"unicode/utf8"
)

// String returns s as valid UTF-8 (each invalid sequence replaced by "?")
// cut to at most n bytes on a rune boundary, so the result never grows past
// n when encoded and never ends in a partial rune.
func String(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
