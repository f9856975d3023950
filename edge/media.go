package edge

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// Media holds several bundles when a stick is reused round after round:
// ImportMedia sorts them out above the one-bundle Import.

// Reasons a bundle found on media is not imported.
const (
	SkipDuplicate = "duplicate"  // the last applied bundle
	SkipStale     = "stale"      // older than the last applied bundle
	SkipNotForUs  = "not-for-us" // addressed to another site or to the hub
)

// SkippedBundle is a bundle found on media and left alone. Its fields come
// from the manifest as read, not verified: they describe, never decide.
type SkippedBundle struct {
	BundleID string        `json:"bundle_id"`
	Digest   digest.Digest `json:"digest"`
	Source   string        `json:"source"`
	Target   string        `json:"target"`
	Sequence uint64        `json:"sequence"`
	Reason   string        `json:"reason"` // SkipDuplicate, SkipStale or SkipNotForUs
	Detail   string        `json:"detail"`
	Volumes  []string      `json:"volumes"`
}

// MediaResult is what ImportMedia did: each bundle it tried, in sequence
// order, and each it left alone.
type MediaResult struct {
	Imports []*ImportResult `json:"imports"`
	Skipped []SkippedBundle `json:"skipped"`
}

// groupMedia expands paths and groups the volume files by the manifest
// they carry (read, not verified; transfer.FindBundles). Files whose
// manifest cannot be read are returned apart.
func groupMedia(paths []string) ([]*transfer.FoundBundle, []string, error) {
	files, err := transfer.ExpandPaths(paths)
	if err != nil {
		return nil, nil, err
	}
	groups, bad := transfer.FindBundles(files)
	var unreadable []string
	for _, v := range bad {
		unreadable = append(unreadable, v.Path)
	}
	return groups, unreadable, nil
}

// OwnExportError refuses an edge's own export given to edge import: it
// says what the bundle is and where it belongs.
type OwnExportError struct {
	Site     string
	BundleID string
	Sequence uint64
}

func (e *OwnExportError) Error() string {
	return fmt.Sprintf("%v: bundle %s (sequence %d) is %s's export for the hub, not a hub bundle: carry it to the hub and run `eucora hub import PATH`",
		ErrForeignTarget, e.BundleID, e.Sequence, e.Site)
}

func (e *OwnExportError) Unwrap() error { return ErrForeignTarget }

// ImportMedia imports what paths (bundle directories or volume files)
// hold. One bundle is imported as Import does. Volumes of several bundles
// (a stick reused round after round) are sorted out: bundles addressed to
// this site and newer than the last applied one are imported in sequence
// order, each as Import does (one audit event each); the last applied
// bundle (duplicate), older ones (stale) and bundles for another site or
// for the hub (not for us) are reported in Skipped and change nothing.
// When nothing on the media is for this site, the first such bundle is
// refused as Import would. Files that are not readable volumes are
// refused together as one import attempt.
//
// The returned error is the first failure; a refusal of one bundle does
// not stop the next (bundles are cumulative), a local failure (I/O, space,
// interruption) does.
func (e *Edge) ImportMedia(ctx context.Context, paths []string, opts ImportOptions) (*MediaResult, error) {
	out := &MediaResult{Imports: []*ImportResult{}, Skipped: []SkippedBundle{}}
	record := func(r *ImportResult, err error) error {
		if r != nil {
			out.Imports = append(out.Imports, r)
		}
		return err
	}
	groups, unreadable, err := groupMedia(paths)
	if err != nil || len(groups)+min(len(unreadable), 1) <= 1 {
		// One bundle (or nothing readable): Import reports and audits it.
		return out, record(e.importOne(ctx, paths, groups, opts))
	}
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	var todo []*transfer.FoundBundle
	var foreign []*transfer.FoundBundle
	for _, g := range groups {
		m := g.Signed.Manifest
		skip := SkippedBundle{BundleID: m.BundleID, Digest: g.Signed.Digest, Source: m.Source, Target: m.Target, Sequence: m.Sequence, Volumes: g.Files}
		switch {
		case m.Target != e.site:
			skip.Reason, skip.Detail = SkipNotForUs, fmt.Sprintf("for %q, this edge is %q", m.Target, e.site)
			if m.Target == transfer.HubEndpoint && m.Source == e.site {
				skip.Detail = "this edge's own export: carry it to the hub and run `eucora hub import`"
			}
			foreign = append(foreign, g)
		case m.Sequence == st.Applied.Seq && g.Signed.Digest == st.Applied.Digest:
			skip.Reason, skip.Detail = SkipDuplicate, "already applied"
		case m.Sequence < st.Applied.Seq:
			skip.Reason, skip.Detail = SkipStale, fmt.Sprintf("older than sequence %d, already applied here", st.Applied.Seq)
		default:
			todo = append(todo, g)
			continue
		}
		out.Skipped = append(out.Skipped, skip)
	}
	if len(todo) == 0 && len(unreadable) == 0 && len(foreign) == len(groups) {
		// Nothing here is for this site: refuse the first as Import would.
		f := foreign[0]
		out.Skipped = slices.DeleteFunc(out.Skipped, func(s SkippedBundle) bool { return s.Digest == f.Signed.Digest })
		return out, record(e.importOne(ctx, f.Files, []*transfer.FoundBundle{f}, opts))
	}
	slices.SortStableFunc(todo, func(a, b *transfer.FoundBundle) int {
		return cmp.Or(cmp.Compare(a.Signed.Sequence, b.Signed.Sequence), strings.Compare(string(a.Signed.Digest), string(b.Signed.Digest)))
	})
	// The unreadable files are one attempt, then each bundle in order.
	var attempts [][]string
	if len(unreadable) > 0 {
		attempts = append(attempts, unreadable)
	}
	for _, g := range todo {
		attempts = append(attempts, g.Files)
	}
	var first error
	for _, files := range attempts {
		err := record(e.Import(ctx, files, opts))
		if err != nil && !isRefusal(err) {
			return out, err
		}
		if first == nil {
			first = err
		}
	}
	return out, first
}

// importOne imports one bundle's files; an edge's own export is refused
// before verification (the edge does not trust its own key), saying where
// it belongs.
func (e *Edge) importOne(ctx context.Context, paths []string, groups []*transfer.FoundBundle, opts ImportOptions) (*ImportResult, error) {
	if len(groups) == 1 {
		m := groups[0].Signed.Manifest
		if m.Target == transfer.HubEndpoint && m.Source == e.site {
			return e.refuseUnread(groups[0].Signed, &OwnExportError{Site: e.site, BundleID: m.BundleID, Sequence: m.Sequence})
		}
	}
	return e.Import(ctx, paths, opts)
}

// refuseUnread records the refusal of a bundle judged on its manifest
// as read (the refusal holds whatever the signature says) and returns
// the result and cause, as Import does for its refusals.
func (e *Edge) refuseUnread(sg *transfer.Signed, cause error) (*ImportResult, error) {
	unlock, err := e.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	m := sg.Manifest
	res := &ImportResult{BundleID: m.BundleID, Digest: sg.Digest, Sequence: m.Sequence, PreviousSeq: st.Applied.Seq}
	object := fmt.Sprintf("bundle %s seq %d digest %s (source %s, target %s; signature not checked)", m.BundleID, m.Sequence, sg.Digest, m.Source, m.Target)
	return e.recordFailure(st, res, object, cause)
}
