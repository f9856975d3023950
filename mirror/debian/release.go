package debian

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FileSum is one line of a Release file's SHA256 section.
type FileSum struct {
	Path   string
	Size   int64
	SHA256 string // lowercase hex
}

// Release is a parsed Release (or InRelease payload) file.
type Release struct {
	Fields Paragraph
	// Files maps a path relative to dists/DIST/ to its SHA256 and size.
	Files map[string]FileSum
	// Date and ValidUntil are zero when absent.
	Date, ValidUntil time.Time
	AcquireByHash    bool
}

// Suite, Codename, Components, Architectures are convenience accessors.
func (r *Release) Suite() string    { return r.Fields.Get("Suite") }
func (r *Release) Codename() string { return r.Fields.Get("Codename") }

// Components lists the Components field.
func (r *Release) Components() []string { return strings.Fields(r.Fields.Get("Components")) }

// Architectures lists the Architectures field.
func (r *Release) Architectures() []string { return strings.Fields(r.Fields.Get("Architectures")) }

// ParseRelease parses a Release file. Only the SHA256 section is trusted:
// weaker hashes are ignored. A Release without SHA256 entries is an error.
func ParseRelease(data []byte, source string) (*Release, error) {
	ps, err := ParseParagraphs(data, source)
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, &SyntaxError{source, 1, fmt.Sprintf("want exactly one paragraph, found %d", len(ps))}
	}
	r := &Release{Fields: ps[0], Files: map[string]FileSum{}}
	sums := r.Fields.Get("SHA256")
	if strings.TrimSpace(sums) == "" {
		return nil, &SyntaxError{source, 1, "no SHA256 section (weaker hashes are not accepted)"}
	}
	for i, line := range strings.Split(sums, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, &SyntaxError{source, 0, fmt.Sprintf("SHA256 entry %d: want \"hash size path\", got %q", i, clip(line))}
		}
		if !isHex64(f[0]) {
			return nil, &SyntaxError{source, 0, fmt.Sprintf("SHA256 entry %d: %q is not a SHA-256", i, clip(f[0]))}
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, &SyntaxError{source, 0, fmt.Sprintf("SHA256 entry %d: bad size %q", i, clip(f[1]))}
		}
		if !CleanRelPath(f[2]) {
			return nil, &SyntaxError{source, 0, fmt.Sprintf("SHA256 entry %d: unsafe path %q", i, clip(f[2]))}
		}
		r.Files[f[2]] = FileSum{Path: f[2], Size: size, SHA256: strings.ToLower(f[0])}
	}
	if v := r.Fields.Get("Date"); v != "" {
		t, err := ParseDate(v)
		if err != nil {
			return nil, &SyntaxError{source, 0, fmt.Sprintf("Date: %v", err)}
		}
		r.Date = t
	}
	if v := r.Fields.Get("Valid-Until"); v != "" {
		t, err := ParseDate(v)
		if err != nil {
			return nil, &SyntaxError{source, 0, fmt.Sprintf("Valid-Until: %v", err)}
		}
		r.ValidUntil = t
	}
	r.AcquireByHash = strings.EqualFold(strings.TrimSpace(r.Fields.Get("Acquire-By-Hash")), "yes")
	return r, nil
}

// DateFormat is the RFC 2822 form Release files use (always UTC).
const DateFormat = "Mon, 02 Jan 2006 15:04:05 UTC"

// ParseDate parses a Release date (RFC 2822, "UTC" or a numeric zone).
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{DateFormat, time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse date %q", clip(s))
}

// FormatDate formats t for a Release file.
func FormatDate(t time.Time) string { return t.UTC().Format(DateFormat) }

// CleanRelPath reports whether p is a relative slash path with no empty,
// "." or ".." element and no control characters: safe to join to a base.
func CleanRelPath(p string) bool {
	if p == "" || len(p) > 4096 || p[0] == '/' {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return false
		}
	}
	return true
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
