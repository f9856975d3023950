package deploy

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxArtifactNameLen bounds an artifact's file name in bytes (the limit of
// one path component on NTFS, APFS, ext4 and most other file systems).
const MaxArtifactNameLen = 255

// ErrArtifactNameTaken reports an artifact whose name another artifact of
// the same application version already uses on the same distribution
// channel (the hub answers 409).
var ErrArtifactNameTaken = errors.New("artifact name already used")

// Distribution channels: where an edge serves a platform's artifacts by
// name, /dp/CHANNEL/APP/VERSION/NAME.
const (
	ChannelSCCM = "sccm" // Windows packages
	ChannelJamf = "jamf" // macOS packages
)

// Channel is the distribution channel serving p by name, "" for none.
func (p Platform) Channel() string {
	switch p {
	case PlatformMSI, PlatformEXE, PlatformMSIX, PlatformIntuneW:
		return ChannelSCCM
	case PlatformPKG, PlatformDMG:
		return ChannelJamf
	}
	return ""
}

// nameSpace is the name space an artifact's name is unique in within its
// version: its channel, or its platform when no channel serves it.
func (p Platform) nameSpace() string {
	if c := p.Channel(); c != "" {
		return c
	}
	return string(p)
}

// CheckArtifactName accepts exactly one safe file-name component, the same
// on the hub and the edge, so that an artifact's name is a file name on
// every client that stores it and /dp/CHANNEL/APP/VERSION/NAME names it:
//
//   - 1 to MaxArtifactNameLen bytes of valid UTF-8;
//   - no '/' or '\' (path separators), no NUL or other control character
//     (C0, DEL, C1), none of the characters Windows refuses in a file name
//     (< > : " | ? *);
//   - not "." or "..", no leading '-' (it reads as an option to the tools
//     that handle the file), no leading or trailing white space and no
//     trailing '.' (Windows drops them, so two names would become one).
//
// The error is a *FieldError on "name".
func CheckArtifactName(name string) error {
	bad := func(format string, args ...any) error {
		return fieldErrorf("name", "%q: %s (want one file name: EUCORA-architecture.md section 7)", clip(name), fmt.Sprintf(format, args...))
	}
	switch {
	case name == "":
		return fieldErrorf("name", "missing: an artifact needs a file name")
	case len(name) > MaxArtifactNameLen:
		return fieldErrorf("name", "%d bytes: longer than %d bytes", len(name), MaxArtifactNameLen)
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case name == "." || name == "..":
		return bad("a directory reference, not a file name")
	case name[0] == '-':
		return bad("starts with '-'")
	case strings.TrimSpace(name) != name:
		return bad("starts or ends with white space")
	case name[len(name)-1] == '.':
		return bad("ends with '.'")
	}
	for _, r := range name {
		switch {
		case r == '/' || r == '\\':
			return bad("contains a path separator %q", r)
		case unicode.IsControl(r):
			return bad("contains control character %U", r)
		case strings.ContainsRune(`<>:"|?*`, r):
			return bad("contains %q, which Windows refuses in file names", r)
		case r == utf8.RuneError: // valid here: the string passed ValidString
			return bad("contains U+FFFD, the replacement character (a name damaged by a wrong encoding)")
		}
	}
	return nil
}

// CheckArtifactNames checks that no two artifacts of one application
// version share a name on one distribution channel (or, for platforms no
// channel serves, on one platform), so /dp/CHANNEL/APP/VERSION/NAME is
// never ambiguous. Names are compared case-insensitively: the clients'
// file systems (NTFS, APFS) are. The same artifact (same digest) listed
// twice is not a clash. The error wraps ErrArtifactNameTaken and names both
// artifacts.
func CheckArtifactNames(arts []Artifact) error {
	type key struct{ app, version, space, name string }
	seen := map[key]Artifact{}
	for _, a := range arts {
		k := key{a.AppID, a.Version, a.Platform.nameSpace(), strings.ToLower(a.Name)}
		if prev, ok := seen[k]; ok && prev.SHA256 != a.SHA256 {
			return fmt.Errorf("%w: %s %s: artifact %s is named %q, artifact %s %q on %s (names are unique per application, version and channel, ignoring case)",
				ErrArtifactNameTaken, a.AppID, a.Version, prev.SHA256.Short(), prev.Name, a.SHA256.Short(), a.Name, k.space)
		}
		seen[k] = a
	}
	return nil
}
