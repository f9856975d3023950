package transfer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eucora/eucora/internal/signing"
)

var (
	// ErrBadSignature: the manifest's signature does not verify.
	ErrBadSignature = signing.ErrBadSignature
	// ErrUnknownKey: the manifest is signed only by untrusted keys.
	ErrUnknownKey = signing.ErrUnknownKey
	// ErrCorrupt: a volume is damaged, truncated, malformed or hostile.
	ErrCorrupt = errors.New("corrupt bundle")
	// ErrExpired: the bundle's expiry time has passed.
	ErrExpired = errors.New("bundle expired")
	// ErrMissingVolume: a volume needed for the work was not given.
	ErrMissingVolume = errors.New("missing volume")
	// ErrMixedBundles: volumes of different bundles were given where one
	// bundle was expected.
	ErrMixedBundles = errors.New("volumes of more than one bundle")
	// ErrNotEmpty: the extraction target exists and is not empty.
	ErrNotEmpty = errors.New("target directory is not empty")
	// ErrUnsupported: the source tree holds something a bundle cannot carry.
	ErrUnsupported = errors.New("unsupported file type")
)

// CorruptError describes damage found in a volume: which volume, which
// entry (if any) and what was wrong.
type CorruptError struct {
	Volume string // volume file path
	Entry  string // tar entry name, or "" for the volume as a whole
	Offset int64  // byte offset of the entry header in the volume, -1 if unknown
	Reason string
	Err    error // underlying cause, if any (for example a *digest.MismatchError)
}

func (e *CorruptError) Error() string {
	s := e.Volume
	if e.Entry != "" {
		s += ": entry " + e.Entry
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (offset %d)", e.Offset)
	}
	return s + ": " + e.Reason
}

// Unwrap lets errors.Is match ErrCorrupt and the cause.
func (e *CorruptError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}

// MissingVolumesError names the volumes that were needed but not given.
type MissingVolumesError struct {
	BundleID string
	Missing  []int // 1-based volume numbers
	Total    int
}

// Files returns the file names the missing volumes carry when written by
// the writer (VolumeFileName).
func (e *MissingVolumesError) Files() []string {
	out := make([]string, len(e.Missing))
	for i, n := range e.Missing {
		out[i] = VolumeFileName(e.BundleID, n, e.Total)
	}
	return out
}

func (e *MissingVolumesError) Error() string {
	files := e.Files()
	const show = 5
	list := strings.Join(files[:min(len(files), show)], ", ")
	if len(files) > show {
		list += fmt.Sprintf(" and %d more", len(files)-show)
	}
	return fmt.Sprintf("bundle %s: missing volume(s) %s of %d (files %s)", e.BundleID, joinInts(e.Missing), e.Total, list)
}

func (e *MissingVolumesError) Unwrap() error { return ErrMissingVolume }

func joinInts(v []int) string {
	s := ""
	for i, n := range v {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(n)
	}
	return s
}
