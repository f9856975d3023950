package edge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/transfer"
)

// maxNamedMissing caps the digests an IncompleteError names.
const maxNamedMissing = 10

// mirrorRepo opens the mirror state of the edge's data directory over the
// edge's content store: where APT publications are installed and served.
func (e *Edge) mirrorRepo() (*mirror.Repo, error) {
	return mirror.OpenRepo(e.dir.Mirror(), e.store)
}

// checkReferences refuses a bundle whose records reference an object that
// is neither in the bundle (now in the store) nor held: each artifact's
// bytes, each APT publication's manifest and every file it lists. A
// referenced object known with another size, or a publication that does
// not parse or is for another distribution than its record says, makes
// the bundle malformed (transfer.ErrBadRecord).
func (e *Edge) checkReferences(st *state, m *transfer.Manifest, rs *records) error {
	inBundle := make(map[digest.Digest]int64, len(m.Objects))
	for _, o := range m.Objects {
		inBundle[o.Digest] = o.Size
	}
	// have is the object's size in the bundle, else as held.
	have := func(d digest.Digest) (int64, bool) {
		if n, ok := inBundle[d]; ok {
			return n, true
		}
		n, ok := st.Held[d]
		return n, ok
	}
	missing := map[digest.Digest]bool{}
	need := func(d digest.Digest, size int64, what string) error {
		n, ok := have(d)
		if !ok {
			missing[d] = true
			return nil
		}
		if size >= 0 && n != size {
			return fmt.Errorf("%w: %s names object %s of %d bytes; the object is %d bytes", transfer.ErrBadRecord, what, d.Short(), size, n)
		}
		return nil
	}
	for _, k := range sortedKeys(rs.artifacts) {
		a := rs.artifacts[k]
		if err := need(a.SHA256, a.Size, "artifact "+a.AppID+"/"+a.Version); err != nil {
			return err
		}
	}
	if u := rs.vulnFeed; u != nil {
		if err := need(u.stmt.SHA256, u.stmt.Size, "vuln-feed "+u.stmt.Version); err != nil {
			return err
		}
	}
	var repo *mirror.Repo
	for _, k := range sortedKeys(rs.apt) {
		p := rs.apt[k]
		if _, ok := have(p.Publication); !ok {
			missing[p.Publication] = true
			continue
		}
		if repo == nil {
			var err error
			if repo, err = e.mirrorRepo(); err != nil {
				return err
			}
		}
		pub, err := repo.LoadPublication(p.Publication)
		if errors.Is(err, mirror.ErrInvalid) {
			return fmt.Errorf("%w: apt %s/%s: %v", transfer.ErrBadRecord, p.Prefix, p.Dist, err)
		}
		if err != nil {
			return fmt.Errorf("apt %s/%s: read publication %s: %w", p.Prefix, p.Dist, p.Publication.Short(), err)
		}
		if pub.Dist != p.Dist {
			return fmt.Errorf("%w: apt record assigns %s/%s, but publication %s is for distribution %q",
				transfer.ErrBadRecord, p.Prefix, p.Dist, p.Publication.Short(), pub.Dist)
		}
		for _, f := range pub.Files {
			if err := need(f.SHA256, f.Size, fmt.Sprintf("apt %s/%s file %s", p.Prefix, p.Dist, f.Path)); err != nil {
				return err
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	ds := make([]digest.Digest, 0, len(missing))
	for d := range missing {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return &IncompleteError{BundleID: m.BundleID, Missing: ds[:min(len(ds), maxNamedMissing)], Count: len(ds)}
}

// installAPT switches every assigned APT prefix whose installed
// publication differs from its assignment (mirror.Repo.Install, no tree:
// the edge serves through the mirror handler). Failures become warnings
// and stay pending. When anything was installed or failed, one
// "apt-install" audit event records it and the state is saved. The caller
// holds the lock.
func (e *Edge) installAPT(ctx context.Context, st *state) (installed, warnings []string, ev *transfer.Event, err error) {
	var pending []string
	for _, k := range sortedKeys(st.APT) {
		if st.Installed[k] != st.APT[k].Publication {
			pending = append(pending, k)
		}
	}
	if len(pending) == 0 {
		return nil, nil, nil, nil
	}
	repo, rerr := e.mirrorRepo()
	for _, k := range pending {
		p := st.APT[k]
		if rerr == nil {
			_, err = repo.Install(ctx, p.Prefix, p.Publication, true)
		} else {
			err = rerr
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("apt %s/%s: installing publication %s failed (retried at the next import or serve start): %v",
				p.Prefix, p.Dist, p.Publication.Short(), err))
			continue
		}
		st.Installed[k] = p.Publication
		installed = append(installed, k)
	}
	outcome, detail := OutcomeApplied, "installed: "+strings.Join(installed, ", ")
	if len(warnings) > 0 {
		outcome, detail = OutcomeFailed, strings.Join(warnings, "; ")
		if len(installed) > 0 {
			detail = "installed: " + strings.Join(installed, ", ") + "; " + detail
		}
	}
	sealed, err := st.appendEvent(transfer.Event{Time: e.Clock(), Actor: e.actor(), Action: "apt-install",
		Object: clip.String("apt "+strings.Join(pending, ", "), 1024), Outcome: outcome, Detail: clip.String(detail, 4096)})
	if err != nil {
		return installed, warnings, nil, err
	}
	if err := st.save(e.dir.Edge()); err != nil {
		return installed, warnings, nil, err
	}
	return installed, warnings, &sealed, nil
}

// ReconcileResult is what ReconcileAPT did.
type ReconcileResult struct {
	Installed []string        `json:"installed,omitempty"`
	Warnings  []string        `json:"warnings,omitempty"`
	Event     *transfer.Event `json:"event,omitempty"`
}

// ReconcileAPT installs every assigned APT publication the mirror does not
// serve yet (an install that failed after an import). It does nothing,
// and records nothing, when all are installed. `edge serve` runs it at
// start.
func (e *Edge) ReconcileAPT(ctx context.Context) (*ReconcileResult, error) {
	unlock, err := e.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	installed, warn, ev, err := e.installAPT(ctx, st)
	return &ReconcileResult{Installed: installed, Warnings: warn, Event: ev}, err
}
