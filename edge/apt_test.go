package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/mirrortest"
	"github.com/eucora/eucora/transfer"
)

// hubPublication is a real signed APT publication made the way the hub
// makes one: mirror a real upstream (dpkg-deb, apt-ftparchive, gpg),
// snapshot it, publish it under prefix "ubuntu".
type hubPublication struct {
	repo *mirror.Repo
	id   digest.Digest
	objs []mirror.FileRef // PublicationObjects: the manifest and every file
	pub  *mirror.Publication
}

func newHubPublication(t *testing.T) *hubPublication {
	t.Helper()
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0", Payload: 8192})
	u.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "2.0"})
	u.Index(mirrortest.IndexOpts{Signer: g})
	srv := mirrortest.NewFaultServer(t, u.Dir)
	dir := t.TempDir()
	store, err := cas.Open(filepath.Join(dir, "cas"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := mirror.OpenRepo(filepath.Join(dir, "mirror"), store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := repo.CreateMirror(&mirror.Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.Pub); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sync(ctx, "up", mirror.SyncOptions{Fetcher: &mirror.Fetcher{IdleTimeout: 5 * time.Second, Retries: -1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("up", "s1"); err != nil {
		t.Fatal(err)
	}
	k, err := mirror.GenerateKey(t.TempDir(), "publish", "EUCORA test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := mirror.LoadSigner(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	res, err := repo.Publish(ctx, "s1", mirror.PublishOptions{Prefix: "ubuntu", Signer: signer, NoTree: true})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := repo.PublicationObjects(res.Publication)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := repo.LoadPublication(res.Publication)
	if err != nil {
		t.Fatal(err)
	}
	return &hubPublication{repo: repo, id: res.Publication, objs: objs, pub: pub}
}

// sources are the publication's objects as bundle objects, minus skip.
func (h *hubPublication) sources(skip digest.Digest) []transfer.ObjectSource {
	var out []transfer.ObjectSource
	for _, f := range h.objs {
		if f.SHA256 == skip {
			continue
		}
		out = append(out, transfer.ObjectSource{Digest: f.SHA256, Size: f.Size,
			Open: func() (transfer.ReadAtCloser, error) { return h.repo.Store.Open(f.SHA256) }})
	}
	return out
}

func (h *hubPublication) record(t testing.TB) transfer.RecordSource {
	b, err := json.Marshal(transfer.APTPublication{Prefix: "ubuntu", Dist: h.pub.Dist, Publication: h.id})
	if err != nil {
		t.Fatal(err)
	}
	return transfer.RecordSource{Type: transfer.RecordAPT, Data: b}
}

func (h *hubPublication) file(t testing.TB, suffix string) (mirror.FileRef, []byte) {
	t.Helper()
	for _, f := range h.pub.Files {
		if strings.HasSuffix(f.Path, suffix) {
			b, err := os.ReadFile(h.repo.Store.Path(f.SHA256))
			if err != nil {
				t.Fatal(err)
			}
			return f, b
		}
	}
	t.Fatalf("publication has no file ending in %s", suffix)
	return mirror.FileRef{}, nil
}

// writeAPTBundle writes a hub bundle with the given objects and records.
func writeAPTBundle(t testing.TB, key *signing.PrivateKey, seq uint64, pred digest.Digest, objs []transfer.ObjectSource, recs ...transfer.RecordSource) *transfer.Result {
	t.Helper()
	created := t0.Add(-time.Hour)
	res, err := transfer.Create(context.Background(), filepath.Join(t.TempDir(), "bundle"), key, transfer.Header{
		Source: "hub", Target: "lon", Sequence: seq, Predecessor: pred, Created: created, Expires: created.Add(30 * 24 * time.Hour),
	}, transfer.Content{Objects: objs, Records: recs}, transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestAPTPublicationImportAndServe: a hub bundle carrying an apt record and
// the publication's objects is applied, the prefix is installed, and the
// edge serves the hub's signed repository byte-identical under /apt/ with
// no signing key. A later bundle with the same record and no objects (the
// delta) applies without reinstalling.
func TestAPTPublicationImportAndServe(t *testing.T) {
	h := newHubPublication(t)
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	r1 := writeAPTBundle(t, hub, 1, "", h.sources(""), h.record(t))
	res := mustImport(t, e, r1)
	if res.Records[transfer.RecordAPT] != 1 || len(res.Installed) != 1 || res.InstallEvent == nil || res.InstallEvent.Outcome != OutcomeApplied {
		t.Fatalf("import: records %v, installed %v, install event %+v, warnings %v", res.Records, res.Installed, res.InstallEvent, res.Warnings)
	}
	st := mustState(t, e)
	key := "ubuntu " + h.pub.Dist
	if st.APT[key].Publication != h.id || st.Installed[key] != h.id {
		t.Fatalf("state: apt %v installed %v", st.APT, st.Installed)
	}
	for _, f := range h.objs {
		if _, held := st.Held[f.SHA256]; !held {
			t.Fatalf("publication object %s (%s) not held", f.Path, f.SHA256.Short())
		}
	}

	s, err := NewServer(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, inRelease := h.file(t, "dists/"+h.pub.Dist+"/InRelease")
	if r := get(t, s, "/apt/ubuntu/dists/"+h.pub.Dist+"/InRelease", nil); r.Code != 200 || !bytes.Equal(r.Body.Bytes(), inRelease) {
		t.Fatalf("InRelease: %d, byte-identical %v", r.Code, bytes.Equal(r.Body.Bytes(), inRelease))
	}
	deb, debBytes := h.file(t, "alpha_1.0_amd64.deb")
	r := get(t, s, "/apt/ubuntu/"+deb.Path, map[string]string{"Range": "bytes=100-199"})
	if r.Code != 206 || !bytes.Equal(r.Body.Bytes(), debBytes[100:200]) || r.Header().Get("Content-Type") != "application/vnd.debian.binary-package" {
		t.Fatalf("deb range: %d %q", r.Code, r.Header().Get("Content-Type"))
	}

	r2 := writeAPTBundle(t, hub, 2, r1.Signed.Digest, nil, h.record(t))
	res = mustImport(t, e, r2)
	if res.ObjectsAdded != 0 || len(res.Installed) != 0 || res.InstallEvent != nil {
		t.Fatalf("delta bundle: %d objects added, installed %v", res.ObjectsAdded, res.Installed)
	}
}

// TestAPTIncompleteRefused: an apt record whose publication lists a pool
// file that is neither in the bundle nor held is refused with
// ErrIncomplete naming it; the state and the store are unchanged and the
// refusal is in the audit chain.
func TestAPTIncompleteRefused(t *testing.T) {
	h := newHubPublication(t)
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	deb, _ := h.file(t, "beta_2.0_amd64.deb")
	before := takeSnapshot(t, e)
	r := writeAPTBundle(t, hub, 1, "", h.sources(deb.SHA256), h.record(t))
	res, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{})
	var ie *IncompleteError
	if !errors.As(err, &ie) || ie.Count != 1 || ie.Missing[0] != deb.SHA256 {
		t.Fatalf("want ErrIncomplete naming %s, got %v", deb.SHA256.Short(), err)
	}
	if res.Event.Outcome != OutcomeRefused || !strings.Contains(res.Event.Detail, deb.SHA256.Hex()) {
		t.Fatalf("event %+v", res.Event)
	}
	if after := takeSnapshot(t, e); !after.equal(before) {
		t.Fatal("a refused bundle changed the state or the store")
	}
	// Without the publication manifest, the manifest itself is missing.
	r = writeAPTBundle(t, hub, 1, "", nil, h.record(t))
	if _, err := e.Import(context.Background(), []string{dirOf(r)}, ImportOptions{}); !errors.As(err, &ie) || ie.Missing[0] != h.id {
		t.Fatalf("want the publication manifest named, got %v", err)
	}
}

// TestAPTInstallFailureIsRetried: when the install after the commit fails
// (a held object damaged in the store), the bundle is still applied, the
// failure is a warning and an audit event, nothing is served for the
// prefix, and the server's start-up reconcile installs it once the object
// is repaired.
func TestAPTInstallFailureIsRetried(t *testing.T) {
	h := newHubPublication(t)
	hub := mustKey(t)
	e := newTestEdge(t, "lon", hub)
	// The objects arrive first, without the assignment.
	r1 := writeAPTBundle(t, hub, 1, "", h.sources(""))
	mustImport(t, e, r1)
	deb, debBytes := h.file(t, "alpha_1.0_amd64.deb")
	p := e.store.Path(deb.SHA256)
	os.Chmod(p, 0o644)
	damaged := bytes.Clone(debBytes)
	damaged[len(damaged)-1] ^= 1
	if err := os.WriteFile(p, damaged, 0o644); err != nil {
		t.Fatal(err)
	}

	r2 := writeAPTBundle(t, hub, 2, r1.Signed.Digest, nil, h.record(t))
	res := mustImport(t, e, r2)
	if res.Outcome != OutcomeApplied || len(res.Installed) != 0 || res.InstallEvent == nil || res.InstallEvent.Outcome != OutcomeFailed {
		t.Fatalf("import: %s, installed %v, install event %+v", res.Outcome, res.Installed, res.InstallEvent)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "installing publication") {
		t.Fatalf("no install warning: %v", res.Warnings)
	}
	st := mustState(t, e)
	if st.Applied.Seq != 2 || st.Installed["ubuntu "+h.pub.Dist] != "" {
		t.Fatalf("applied %d, installed %v", st.Applied.Seq, st.Installed)
	}
	if sts, err := e.Status(); err != nil || len(sts.APT) != 1 || sts.APT[0].Installed {
		t.Fatalf("status: %+v, %v", sts, err)
	}
	s, err := NewServer(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, "/apt/ubuntu/dists/"+h.pub.Dist+"/InRelease", nil); r.Code != 404 {
		t.Fatalf("an uninstalled publication is served: %d", r.Code)
	}

	if err := os.WriteFile(p, debBytes, 0o444); err != nil {
		t.Fatal(err)
	}
	rr, err := s.Reconcile(context.Background())
	if err != nil || len(rr.Installed) != 1 || rr.Event == nil || rr.Event.Outcome != OutcomeApplied {
		t.Fatalf("reconcile: %+v, %v", rr, err)
	}
	if r := get(t, s, "/apt/ubuntu/"+deb.Path, nil); r.Code != 200 || !bytes.Equal(r.Body.Bytes(), debBytes) {
		t.Fatalf("after reconcile: %d", r.Code)
	}
	if sts, err := e.Status(); err != nil || !sts.APT[0].Installed || sts.APT[0].Publication != h.id {
		t.Fatalf("status after reconcile: %+v, %v", sts, err)
	}
	// Nothing left to do: a second reconcile records nothing.
	before := mustState(t, e).Chain
	if rr, err := s.Reconcile(context.Background()); err != nil || rr.Event != nil || mustState(t, e).Chain != before {
		t.Fatalf("idle reconcile: %+v, %v", rr, err)
	}
}
