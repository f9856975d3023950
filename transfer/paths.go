package transfer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on paths carried in a manifest. A path is a relative, slash-
// separated name inside the extracted tree; it never comes from a tar header.
const (
	MaxPathLen      = 4096
	MaxComponentLen = 255
	MaxPathDepth    = 128
)

// ValidatePath checks a tree path from a manifest: relative, clean, no "."
// or ".." components, no empty components, no NUL or control characters,
// valid UTF-8, bounded length and depth.
func ValidatePath(p string) error {
	if p == "" {
		return fmt.Errorf("empty path")
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("path of %d bytes exceeds %d", len(p), MaxPathLen)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("path %q is not valid UTF-8", p)
	}
	if p[0] == '/' {
		return fmt.Errorf("path %q is absolute", p)
	}
	parts := strings.Split(p, "/")
	if len(parts) > MaxPathDepth {
		return fmt.Errorf("path %q is deeper than %d", p, MaxPathDepth)
	}
	for _, c := range parts {
		switch {
		case c == "":
			return fmt.Errorf("path %q has an empty component", p)
		case c == "." || c == "..":
			return fmt.Errorf("path %q has a %q component", p, c)
		case len(c) > MaxComponentLen:
			return fmt.Errorf("path %q has a component longer than %d bytes", p, MaxComponentLen)
		}
		for _, r := range c {
			if r < 0x20 || r == 0x7f || r == '\\' {
				return fmt.Errorf("path %q contains control character or backslash %q", p, r)
			}
		}
	}
	return nil
}
