package edge

import (
	"context"
	"fmt"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// FetchFunc writes the bytes of object o into w, starting at offset
// w.Written() (a resumed partial download holds the bytes before it).
// It must not write past o.Size; the store verifies size and digest at
// commit. An error keeps what was written for the next attempt.
type FetchFunc func(ctx context.Context, o transfer.Object, w *cas.Writer) error

// ApplyManifest is Import for the network flow: envelope is a hub bundle's
// signed manifest (the DSSE JSON every volume carries) and fetch gets each
// object the store lacks. The manifest is verified with the hub key and
// checked (target, sequence, expiry) first; only then are missing objects
// fetched, into the store's resumable partials (cas.Store.Resume), without
// the edge lock held. The rest — records, references, audit event, atomic
// commit, APT installs — is the same code path as Import. A fetch error
// is a failed attempt (audit event "failed"); the partials stay, so the
// next attempt resumes each object from where it stopped.
func (e *Edge) ApplyManifest(ctx context.Context, envelope []byte, fetch FetchFunc, opts ImportOptions) (*ImportResult, error) {
	src := &netSource{size: len(envelope)}
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	src.signed, src.openErr = transfer.ReadSigned(envelope, e.trust(st))
	if src.openErr == nil {
		// A bundle that would be refused or is a duplicate downloads
		// nothing; apply records the verdict.
		if dup, err := e.checkHeader(st, src.signed, opts.ResetTrustedTime); err == nil && !dup {
			src.fresh, src.fetchErr = e.download(ctx, src.signed.Manifest, fetch, opts)
		}
	}
	return e.apply(ctx, src, opts)
}

// download fetches every object of m the store lacks and returns those it
// stored.
func (e *Edge) download(ctx context.Context, m *transfer.Manifest, fetch FetchFunc, opts ImportOptions) ([]digest.Digest, error) {
	if opts.OnPlanned != nil {
		opts.OnPlanned(m.TotalSize())
	}
	var fresh []digest.Digest
	for _, o := range m.Objects {
		if err := ctx.Err(); err != nil {
			return fresh, err
		}
		if ok, _ := e.store.Has(o.Digest); ok {
			continue
		}
		if err := e.fetchOne(ctx, o, fetch); err != nil {
			return fresh, fmt.Errorf("fetch object %s (%d bytes): %w", o.Digest.Short(), o.Size, err)
		}
		fresh = append(fresh, o.Digest)
		if opts.Progress != nil {
			opts.Progress(o.Size)
		}
	}
	return fresh, nil
}

// fetchOne resumes (or starts) object o's partial, lets fetch fill it and
// commits it, verified against its digest and size.
func (e *Edge) fetchOne(ctx context.Context, o transfer.Object, fetch FetchFunc) error {
	w, n, err := e.store.Resume(o.Digest, o.Size)
	if err != nil {
		return err
	}
	defer w.Abort()
	if n < o.Size {
		if err := fetch(ctx, o, w); err != nil {
			return err
		}
	}
	_, err = w.Commit()
	return err
}

// netSource is a bundle whose manifest came over the network and whose
// objects ApplyManifest already fetched (before taking the lock).
type netSource struct {
	size     int
	signed   *transfer.Signed
	openErr  error
	fresh    []digest.Digest
	fetchErr error
}

func (n *netSource) label() string { return fmt.Sprintf("manifest from the hub (%d bytes)", n.size) }

func (n *netSource) open(signing.Trust) (*transfer.Signed, error) { return n.signed, n.openErr }

func (n *netSource) load(context.Context, *cas.Store, ImportOptions) ([]digest.Digest, error) {
	return n.fresh, n.fetchErr
}
