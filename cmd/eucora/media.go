package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/eucora/eucora/transfer"
)

// Media reused round after round: a stick or transfer folder that holds the
// volumes of several bundles. Exports say what is already there and
// --replace removes it; imports sort the bundles out (edge.ImportMedia on
// the edge, runHubImport at the hub).

// mediaBundle is the volumes of one bundle found on media, as the output
// lists them. The fields come from the manifest as read, not verified:
// they describe, never decide.
type mediaBundle struct {
	BundleID string   `json:"bundle_id"`
	Digest   string   `json:"digest"`
	Source   string   `json:"source"`
	Target   string   `json:"target"`
	Sequence uint64   `json:"sequence"`
	Files    []string `json:"volumes"`
}

// readMedia groups volume files by bundle (transfer.FindBundles), in
// (source, sequence, digest) order; files that are not readable volumes
// are returned apart.
func readMedia(files []string) ([]*mediaBundle, []transfer.VolumeError) {
	found, bad := transfer.FindBundles(files)
	groups := make([]*mediaBundle, len(found))
	for i, f := range found {
		s := f.Signed
		groups[i] = &mediaBundle{BundleID: s.BundleID, Digest: string(s.Digest), Source: s.Source, Target: s.Target, Sequence: s.Sequence, Files: f.Files}
	}
	return groups, bad
}

// bundlesIn returns the eucora bundles whose volumes dir holds (none when
// dir does not exist). Files that are not eucora volumes are not listed.
func bundlesIn(dir string) ([]*mediaBundle, error) {
	files, err := transfer.VolumeFilesIn(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	groups, _ := readMedia(files)
	return groups, nil
}

// removeBundles deletes the volume files of bundles, except those in keep
// (the volumes just written), and returns the paths removed. Only files
// read as eucora volumes are ever listed in bundles.
func removeBundles(bundles []*mediaBundle, keep []string) ([]string, error) {
	kept := map[string]bool{}
	for _, k := range keep {
		kept[filepath.Clean(k)] = true
	}
	removed := []string{}
	for _, b := range bundles {
		for _, f := range b.Files {
			if kept[filepath.Clean(f)] {
				continue
			}
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return removed, fmt.Errorf("--replace: %w", err)
			}
			removed = append(removed, f)
		}
	}
	return removed, nil
}

// exportMedia is what an export found and did in its target directory.
type exportMedia struct {
	Others  []*mediaBundle `json:"other_bundles"`     // bundles the directory held before the export
	Removed []string       `json:"removed,omitempty"` // their volumes, removed by --replace
}

// prepareExportMedia lists the bundles dir holds before an export writes
// into it.
func prepareExportMedia(dir string) (*exportMedia, error) {
	others, err := bundlesIn(dir)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	return &exportMedia{Others: append([]*mediaBundle{}, others...)}, nil
}

// finish removes the earlier bundles when replace is set, once the new
// volumes (written) are in place.
func (em *exportMedia) finish(replace bool, written []string) error {
	if !replace || len(em.Others) == 0 {
		return nil
	}
	removed, err := removeBundles(em.Others, written)
	em.Removed = removed
	return err
}

// print says what else the directory holds, or what --replace removed.
func (em *exportMedia) print(w io.Writer, dir, importer string) {
	if len(em.Others) == 0 {
		return
	}
	var names []string
	for _, b := range em.Others {
		names = append(names, fmt.Sprintf("sequence %d from %s for %s (%s)", b.Sequence, b.Source, b.Target, b.BundleID))
	}
	if len(em.Removed) > 0 {
		fmt.Fprintf(w, "replaced: removed %d volume(s) of %d earlier bundle(s) from %s: %s\n", len(em.Removed), len(em.Others), dir, strings.Join(names, ", "))
		return
	}
	fmt.Fprintf(w, "note: %s also holds %d earlier bundle(s): %s;\n  '%s' applies what is new and reports the rest; --replace removes them (eucora volumes only)\n",
		dir, len(em.Others), strings.Join(names, ", "), importer)
}
