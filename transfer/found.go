package transfer

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/eucora/eucora/internal/digest"
)

// FoundBundle is the volume files of one bundle found among others (a
// stick or transfer folder reused round after round), grouped by the
// manifest they carry. Signed is that manifest as read, not verified: it
// describes the bundle, never decides about it.
type FoundBundle struct {
	Signed *Signed
	Files  []string // in the order given
}

// FindBundles reads the manifest of each volume file without verifying it
// (InspectVolume) and groups the files by bundle (manifest digest), in
// (source, sequence, digest) order. Files that are not readable volumes are
// returned apart, in the order given.
func FindBundles(files []string) ([]*FoundBundle, []VolumeError) {
	byDigest := map[digest.Digest]*FoundBundle{}
	var found []*FoundBundle
	var bad []VolumeError
	for _, f := range files {
		v, err := InspectVolume(f)
		if err != nil {
			bad = append(bad, VolumeError{Path: f, Err: err})
			continue
		}
		b := byDigest[v.Signed.Digest]
		if b == nil {
			b = &FoundBundle{Signed: v.Signed}
			byDigest[v.Signed.Digest] = b
			found = append(found, b)
		}
		b.Files = append(b.Files, f)
	}
	slices.SortFunc(found, func(a, b *FoundBundle) int {
		return cmp.Or(strings.Compare(a.Signed.Source, b.Signed.Source), cmp.Compare(a.Signed.Sequence, b.Signed.Sequence),
			strings.Compare(string(a.Signed.Digest), string(b.Signed.Digest)))
	})
	return found, bad
}

// VolumeFilesIn returns the volume files (*.tar) directly in dir, sorted by
// name. dir is read as a directory, never matched as a pattern: a name
// holding '[', '*' or '?' lists that directory and no other.
func VolumeFilesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tar") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}
