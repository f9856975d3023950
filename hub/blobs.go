package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
)

// Blob replication (see DESIGN.md, "Blobs"):
//
//  1. PUT reaches the leader (forwarded if needed), which streams the body
//     into its content store, verifying the digest; a mismatch is 422 and
//     nothing is kept.
//  2. The leader asks every other voter to fetch the blob from it
//     (POST /internal/v1/blobs/{hex}/fetch); each fetches, verifies by
//     digest, fsyncs and answers.
//  3. Once the leader plus the confirmations make a majority of voters,
//     the leader commits a blob.register command naming the holders, and
//     only then answers 201. Without a majority it answers 503 and
//     registers nothing; a retry is idempotent.
//  4. Every node's duty loop fetches registered blobs it lacks from any
//     peer, verified by digest, so the remaining nodes converge.

func parseBlobDigest(w http.ResponseWriter, r *http.Request) (digest.Digest, bool) {
	d, err := digest.Parse(r.PathValue("hex"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "digest: %v", err)
		return "", false
	}
	return d, true
}

func (s *Server) handleBlobPut(w http.ResponseWriter, r *http.Request, p *Principal) {
	d, ok := parseBlobDigest(w, r)
	if !ok {
		return
	}
	size := r.ContentLength
	_, n, err := s.cas.Put(r.Context(), r.Body, d, size)
	var mm *digest.MismatchError
	switch {
	case errors.As(err, &mm):
		writeError(w, http.StatusUnprocessableEntity, "body: %v; nothing was stored", err)
		return
	case errors.Is(err, cas.ErrNoSpace):
		writeError(w, http.StatusInsufficientStorage, "%v", err)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading body: %v; nothing was stored", err)
		return
	}
	prior, perr := s.store.State().Blob(d.Hex())
	holders, total, err := s.replicate(r.Context(), d, n)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "blob %s stored on %d of %d nodes, not yet on a majority: %v; retry", d, len(holders), total, err)
		return
	}
	rec := store.Blob{Digest: d.Hex(), Size: n, Holders: holders, CreatedAt: store.NowUTC()}
	raw, ok := s.apply(w, r, p, store.CmdBlobRegister, "blob/"+d.String(), rec, 0)
	if !ok {
		return
	}
	status := http.StatusCreated
	if perr == nil && prior.Size == n {
		status = http.StatusOK
	}
	var out store.Blob
	json.Unmarshal(raw, &out)
	writeJSON(w, status, out)
}

// holdBlob makes a majority of voters hold d, which this node's content
// store holds, and registers it: after it returns the blob survives the
// loss of any minority of nodes. what names the blob in errors.
func (s *Server) holdBlob(ctx context.Context, d digest.Digest, size int64, what string) error {
	d = digest.Canonical(d)
	holders, _, err := s.replicate(ctx, d, size)
	if err != nil {
		return fmt.Errorf("%s %s not on a majority: %w", what, d, err)
	}
	cmd, err := store.NewCommand(store.CmdBlobRegister, store.Blob{Digest: d.Hex(), Size: size, Holders: holders, CreatedAt: store.NowUTC()}, nil)
	if err != nil {
		return err
	}
	_, err = s.store.Apply(ctx, cmd)
	return err
}

// putBlob stores b in this node's content store and holds it (holdBlob).
func (s *Server) putBlob(ctx context.Context, b []byte, what string) (digest.Digest, error) {
	d, err := s.cas.PutBytes(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return d, s.holdBlob(ctx, d, int64(len(b)), what)
}

// readBlob reads a small blob whole, verified, refusing one over max bytes.
func (s *Server) readBlob(d digest.Digest, max int64, what string) ([]byte, error) {
	d = digest.Canonical(d)
	if n, err := s.cas.Size(d); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, d, err)
	} else if n > max {
		return nil, fmt.Errorf("%s %s is %d bytes, limit %d", what, d, n, max)
	}
	rc, err := s.cas.OpenVerified(d)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, d, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// replicate makes a majority of voters hold d and returns the holders.
func (s *Server) replicate(ctx context.Context, d digest.Digest, size int64) ([]string, int, error) {
	servers, err := s.store.Servers()
	if err != nil {
		return nil, 0, err
	}
	voters := 0
	var peers []store.Node
	for _, sv := range servers {
		if sv.Suffrage != raft.Voter {
			continue
		}
		voters++
		if string(sv.ID) == s.cfg.NodeID {
			continue
		}
		if n, err := s.store.State().Node(string(sv.ID)); err == nil {
			peers = append(peers, n)
		}
	}
	need := voters/2 + 1
	holders := []string{s.cfg.NodeID}
	if len(holders) >= need {
		return holders, voters, nil
	}
	type result struct {
		id  string
		err error
	}
	results := make(chan result, len(peers))
	// Fetches run to completion in the background even after a majority
	// answered, so the remaining peers converge sooner.
	bg, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	var wg sync.WaitGroup
	for _, n := range peers {
		wg.Add(1)
		go func(n store.Node) {
			defer wg.Done()
			body := map[string]any{"sources": []string{s.self}, "size": size}
			err := s.cluster.peerJSON(bg, "POST", n.HTTPAddr+"/internal/v1/blobs/"+d.Hex()+"/fetch", body, nil)
			results <- result{n.ID, err}
		}(n)
	}
	go func() { wg.Wait(); cancel() }()
	var errs []error
	for range peers {
		select {
		case res := <-results:
			if res.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", res.id, res.err))
				continue
			}
			holders = append(holders, res.id)
			if len(holders) >= need {
				return holders, voters, nil
			}
		case <-ctx.Done():
			return holders, voters, ctx.Err()
		}
	}
	return holders, voters, errors.Join(errs...)
}

type fetchRequest struct {
	Sources []string `json:"sources"`
	Size    int64    `json:"size"`
}

func (s *Server) handleInternalFetch(w http.ResponseWriter, r *http.Request) {
	d, ok := parseBlobDigest(w, r)
	if !ok {
		return
	}
	var req fetchRequest
	if err := decodeStrict(w, r, &req, maxSmallBody); err != nil {
		writeInputError(w, err)
		return
	}
	if err := s.fetchBlob(r.Context(), d, req.Size, req.Sources); err != nil {
		writeError(w, http.StatusBadGateway, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"digest": d.String()})
}

// fetchBlob makes the local store hold d, pulling from sources (peer base
// URLs) in order and verifying by digest and size.
func (s *Server) fetchBlob(ctx context.Context, d digest.Digest, size int64, sources []string) error {
	if ok, _ := s.cas.Has(d); ok {
		return nil
	}
	var errs []error
	for _, src := range sources {
		if src == s.self {
			continue
		}
		req, err := s.cluster.peerRequest(ctx, "GET", src+"/internal/v1/blobs/"+d.Hex(), nil)
		if err != nil {
			return err
		}
		resp, err := s.cluster.peer.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			errs = append(errs, fmt.Errorf("%s: %s", src, resp.Status))
			continue
		}
		_, _, err = s.cas.Put(ctx, resp.Body, d, size)
		resp.Body.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		return nil
	}
	if len(errs) == 0 {
		return fmt.Errorf("blob %s: no peer to fetch from", d)
	}
	return fmt.Errorf("blob %s: %w", d, errors.Join(errs...))
}

func (s *Server) handleInternalBlob(w http.ResponseWriter, r *http.Request) {
	d, ok := parseBlobDigest(w, r)
	if !ok {
		return
	}
	f, err := s.cas.Open(d)
	if err != nil {
		writeError(w, http.StatusNotFound, "%v", err)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", time.Time{}, f)
}

// peerSources lists the other members' URLs, holders first.
func (s *Server) peerSources(holders []string) []string {
	nodes, _ := s.store.State().Nodes()
	slices.SortStableFunc(nodes, func(a, b store.Node) int {
		ha, hb := slices.Contains(holders, a.ID), slices.Contains(holders, b.ID)
		switch {
		case ha && !hb:
			return -1
		case hb && !ha:
			return 1
		}
		return 0
	})
	var out []string
	for _, n := range nodes {
		if n.ID != s.cfg.NodeID {
			out = append(out, n.HTTPAddr)
		}
	}
	return out
}

func (s *Server) handleBlobGet(w http.ResponseWriter, r *http.Request, _ *Principal) {
	d, ok := parseBlobDigest(w, r)
	if !ok {
		return
	}
	rec, err := s.store.State().Blob(d.Hex())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "blob %s: not found", d)
			return
		}
		writeStoreError(w, err)
		return
	}
	if ok, _ := s.cas.Has(d); !ok {
		if err := s.fetchBlob(r.Context(), d, rec.Size, s.peerSources(rec.Holders)); err != nil {
			writeError(w, http.StatusServiceUnavailable, "blob %s is registered but not on this node and could not be fetched: %v", d, err)
			return
		}
	}
	// Verify the stored bytes once per process before serving them.
	if _, done := s.verified.Load(d); !done {
		if err := s.cas.Verify(d); err != nil {
			s.log.Error("stored blob is damaged", "digest", d, "err", err)
			writeError(w, http.StatusInternalServerError, "stored copy of %s is damaged: %v", d, err)
			return
		}
		s.verified.Store(d, struct{}{})
	}
	f, err := s.cas.Open(d)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"sha256:`+d.Hex()+`"`)
	http.ServeContent(w, r, "", rec.CreatedAt, f)
}

// blobRecheck bounds how long a clean blob-repair pass is trusted while the
// state does not change.
const blobRecheck = 10 * time.Minute

// repairPass is the last blob-repair pass that left no blob missing.
type repairPass struct {
	applied uint64
	at      time.Time
}

// repairBlobs fetches registered blobs this node lacks. A pass that
// fetched everything it lacked is not repeated until the state changes
// (a new applied index) or blobRecheck has passed (a blob lost on disk);
// a pass with errors is retried on the next duty.
func (s *Server) repairBlobs() {
	st := s.store.State()
	applied, err := st.Applied()
	if err != nil {
		return
	}
	if last := s.blobsRepaired.Load(); last != nil && last.applied == applied && time.Since(last.at) < blobRecheck {
		return
	}
	blobs, err := st.Blobs()
	if err != nil {
		return
	}
	clean := true
	for _, b := range blobs {
		d, err := digest.Parse(b.Digest)
		if err != nil {
			continue
		}
		if ok, _ := s.cas.Has(d); ok {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Minute)
		err = s.fetchBlob(ctx, d, b.Size, s.peerSources(b.Holders))
		cancel()
		if err != nil {
			clean = false
			s.log.Warn("blob repair", "digest", d, "err", err)
		}
		if s.ctx.Err() != nil {
			return
		}
	}
	if clean {
		s.blobsRepaired.Store(&repairPass{applied: applied, at: time.Now()})
	}
}
