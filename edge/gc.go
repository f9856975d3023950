package edge

import (
	"fmt"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// GCResult is what a collection removed (or, dry, would remove).
type GCResult struct {
	DryRun  bool            `json:"dry_run"`
	Kept    int             `json:"kept"`
	Removed int             `json:"removed"`
	Bytes   int64           `json:"bytes_removed"`
	Objects []digest.Digest `json:"objects,omitempty"`
	Event   *transfer.Event `json:"event,omitempty"`
}

// GC drops the held objects nothing the edge holds refers to any more:
// not an artifact of the current records nor the vulnerability feed file,
// nor an object of an assigned
// APT publication or of one the mirror serves or retired recently (a
// client may still be reading that one by hash). Months of new snapshots at a site with
// no link otherwise fill its disk. The state commits first (the objects
// are no longer held, so the next receipt tells the hub), then the files
// go; a kill in between leaves unheld files a later import reuses. One
// audit event records the collection. dryRun only reports.
func (e *Edge) GC(dryRun bool) (*GCResult, error) {
	unlock, err := e.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	keep, err := e.referenced(st)
	if err != nil {
		return nil, err
	}
	res := &GCResult{DryRun: dryRun}
	for _, d := range st.heldList() {
		if keep[d] {
			res.Kept++
			continue
		}
		res.Removed++
		res.Bytes += st.Held[d]
		res.Objects = append(res.Objects, d)
	}
	if dryRun || res.Removed == 0 {
		return res, nil
	}
	for _, d := range res.Objects {
		delete(st.Held, d)
	}
	ev, err := st.appendEvent(transfer.Event{Time: e.Clock(), Actor: e.actor(), Action: "gc",
		Object: fmt.Sprintf("%d objects", res.Removed), Outcome: OutcomeApplied,
		Detail: fmt.Sprintf("removed %d unreferenced objects (%d bytes), kept %d", res.Removed, res.Bytes, res.Kept)})
	if err != nil {
		return nil, err
	}
	if err := st.save(e.dir.Edge()); err != nil {
		return nil, err
	}
	res.Event = &ev
	for _, d := range res.Objects {
		e.store.Remove(d)
	}
	return res, nil
}

// referenced is every held object the current state refers to.
func (e *Edge) referenced(st *state) (map[digest.Digest]bool, error) {
	keep := map[digest.Digest]bool{}
	for _, a := range st.Artifacts {
		keep[a.SHA256] = true
	}
	if st.VulnFeed != nil {
		keep[st.VulnFeed.SHA256] = true
	}
	pubs := map[digest.Digest]bool{}
	for _, p := range st.APT {
		pubs[p.Publication] = true
	}
	for _, id := range st.Installed {
		pubs[id] = true
	}
	repo, err := e.mirrorRepo()
	if err != nil {
		return nil, err
	}
	// Everything the mirror serves: every prefix's distributions and the
	// publications it retired recently.
	served, err := repo.Prefixes()
	if err != nil {
		return nil, fmt.Errorf("apt prefixes: %w", err)
	}
	for _, ps := range served {
		for _, id := range ps.Retired {
			pubs[id] = true
		}
		for _, ds := range ps.Dists {
			pubs[ds.Publication] = true
		}
	}
	for id := range pubs {
		files, err := repo.PublicationObjects(id)
		if err != nil {
			if _, held := st.Held[id]; held {
				// A held publication that does not load: keep everything
				// rather than guess what it refers to.
				return nil, fmt.Errorf("apt publication %s: %w (nothing collected)", id.Short(), err)
			}
			continue // retired and already gone
		}
		for _, f := range files {
			keep[f.SHA256] = true
		}
	}
	return keep, nil
}
