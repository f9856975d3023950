package edge_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/hubtest"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// The tests in this file run the edge's network sync (Syncer) against a
// real in-process hub, through a proxy that misbehaves like a bad link
// on one large object of the hub's export.

const (
	site      = "lon"
	bigSize   = 4 << 20 // payload of the large .deb the hub's export carries
	cutAfter  = 1 << 20 // bytes of the large object a fault lets through
	aptPrefix = "corp"
)

var siteScope = deploy.Scope{Acquisition: "acme", BU: "ops", Site: site}

// syncFixture is a hub serving site "lon" an APT publication that holds
// a multi-MiB .deb, an edge for the site enrolled at the hub, and the
// link between them.
type syncFixture struct {
	hub   *client.Client // platform-admin
	token string         // the edge's endpoint-ops token
	edge  *edge.Edge
	link  *link
	big   digest.Digest // the large .deb, as the hub's export lists it
	deb   []byte        // its bytes
}

// newSyncFixture starts the hub, publishes, enrols and assigns.
func newSyncFixture(t *testing.T) *syncFixture {
	t.Helper()
	ctx := ctxT(t)
	dir, base, admin := hubtest.Start(t)
	hc := client.New(base, admin)
	bigDeb := publishAPT(t, dir)

	k, err := hc.HubKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hubPub, err := signing.ParsePublic([]byte(k.PublicPEM), "hub key")
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.Init(filepath.Join(t.TempDir(), "edge"), site, hubPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.CreateSite(ctx, api.SiteRequest{Name: site, Class: "intermittent", Scope: siteScope,
		EdgeKeyPEM: string(signing.EncodePublic(e.PublicKey()))}); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.AssignAPT(ctx, site, []api.APTAssignment{{Prefix: aptPrefix, Dist: "test"}}); err != nil {
		t.Fatal(err)
	}
	// The edge syncs with a token of its own, as in production.
	tok, err := hc.CreateToken(ctx, api.TokenRequest{Name: "edge-" + site, Role: deploy.RoleEndpointOps, Scope: siteScope})
	if err != nil {
		t.Fatal(err)
	}
	f := &syncFixture{hub: hc, token: tok.Token, edge: e, big: digest.FromBytes(bigDeb), deb: bigDeb}
	f.link = newLink(t, base, f.big)
	return f
}

// syncer returns a Syncer for the edge that reaches the hub through the
// link.
func (f *syncFixture) syncer() *edge.Syncer {
	return edge.NewSyncer(f.edge, f.link.URL, f.token)
}

// partial is the size of the large object's resumable partial download
// (DIR/cas/partial/HEX), or -1 when there is none.
func (f *syncFixture) partial(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(f.edge.Store().Root(), "partial", f.big.Hex()))
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// status reads the edge's state summary.
func (f *syncFixture) status(t *testing.T) *edge.Status {
	t.Helper()
	st, err := f.edge.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// assertApplied checks the round applied the hub's export: the edge's
// state names it, the large object is held byte for byte, the publication
// is installed, and the hub, after one more round (the push of the
// receipt), records the site as up to date with nothing pending.
func (f *syncFixture) assertApplied(t *testing.T, s *edge.Syncer, res *edge.RoundResult) {
	t.Helper()
	if res.Export == nil || res.Imported == nil || res.Imported.Outcome != edge.OutcomeApplied || res.Imported.Sequence != res.Export.Sequence {
		t.Fatalf("round did not apply the hub's export: export %+v, import %+v", res.Export, res.Imported)
	}
	st := f.status(t)
	if st.Applied.Seq != res.Export.Sequence || st.Applied.Digest != res.Export.Digest {
		t.Fatalf("edge applied %d (%s), the hub's export is %d (%s)", st.Applied.Seq, st.Applied.Digest.Short(), res.Export.Sequence, res.Export.Digest.Short())
	}
	if len(st.APT) != 1 || !st.APT[0].Installed || st.APT[0].Prefix != aptPrefix {
		t.Fatalf("APT publication not installed: %+v", st.APT)
	}
	got, err := os.ReadFile(f.edge.Store().Path(f.big))
	if err != nil || string(got) != string(f.deb) {
		t.Fatalf("the large object in the edge's store is not the hub's (%d of %d bytes): %v", len(got), len(f.deb), err)
	}
	if n := f.partial(t); n != -1 {
		t.Fatalf("a partial of %d bytes is left after the commit", n)
	}
	next, err := s.Round(ctxT(t))
	if err != nil || next.Imported != nil || next.Pushed == nil || next.Pushed.Outcome != "applied" {
		t.Fatalf("round after the apply: pushed %+v, imported %+v, %v", next.Pushed, next.Imported, err)
	}
	ss, err := f.hub.SiteSyncState(ctxT(t), site)
	if err != nil {
		t.Fatal(err)
	}
	if ss.LastAppliedSeq != res.Export.Sequence || ss.PendingObjects != 0 || !ss.ChainOK || ss.EventsReceived == 0 {
		t.Fatalf("hub's view of the site after the sync: %+v", ss)
	}
	// Nothing changed since: the next round neither pushes (no export
	// sequence spent, nothing written at the hub) nor imports.
	idle, err := s.Round(ctxT(t))
	if err != nil || idle.Pushed != nil || idle.Imported != nil {
		t.Fatalf("idle round: pushed %+v, imported %+v, %v", idle.Pushed, idle.Imported, err)
	}
	if again, _ := f.hub.SiteSyncState(ctxT(t), site); again.LastImportSeq != ss.LastImportSeq {
		t.Fatalf("an idle round reached the hub: import sequence %d -> %d", ss.LastImportSeq, again.LastImportSeq)
	}
}

// TestSyncResumesCutDownload: the link drops the large object's download
// after cutAfter bytes. The round fails (a "failed" import, nothing
// applied) and keeps the partial; the next round asks for the rest with
// "Range: bytes=N-" from the partial's size N > 0, applies the export,
// and in all fewer than twice the object's bytes crossed the link.
func TestSyncResumesCutDownload(t *testing.T) {
	f := newSyncFixture(t)
	f.link.arm(fault{kind: faultCut, after: cutAfter})
	s := f.syncer()
	s.Bucket = edge.NewBucket(1<<30, 0) // downloads pass through the bandwidth cap

	res, err := s.Round(ctxT(t))
	if err == nil {
		t.Fatal("first round: want a failed download, got none")
	}
	if res.Pushed == nil || res.Pushed.Outcome != "applied" {
		t.Fatalf("first round: the push was not applied by the hub: %+v", res.Pushed)
	}
	if res.Imported == nil || res.Imported.Outcome != edge.OutcomeFailed || res.Imported.Event.Outcome != edge.OutcomeFailed {
		t.Fatalf("first round: import %+v, %v", res.Imported, err)
	}
	if st := f.status(t); st.Applied.Seq != 0 {
		t.Fatalf("applied sequence %d after a failed download", st.Applied.Seq)
	}
	n := f.partial(t)
	if n <= 0 || n >= int64(len(f.deb)) {
		t.Fatalf("partial holds %d of %d bytes after the cut", n, len(f.deb))
	}

	res, err = s.Round(ctxT(t))
	if err != nil {
		t.Fatalf("second round: %v", err)
	}
	gets := f.link.gets()
	if len(gets) != 2 || gets[0].rng != "" || gets[1].rng != rangeFrom(n) {
		t.Fatalf("GETs of the large object (Range sent): %+v; want none, then %q", gets, rangeFrom(n))
	}
	if crossed := f.link.crossed(); crossed >= 2*int64(len(f.deb)) {
		t.Fatalf("%d bytes of a %d-byte object crossed the link: the download restarted", crossed, len(f.deb))
	}
	f.assertApplied(t, s, res)
}

// TestSyncResumesWhenRangeIgnored: after a cut, the link drops the Range
// header, so the hub sends the whole object (200). The edge still
// completes the object from its partial (skipping the bytes it holds)
// and applies the export.
func TestSyncResumesWhenRangeIgnored(t *testing.T) {
	f := newSyncFixture(t)
	f.link.arm(fault{kind: faultCut, after: cutAfter})
	s := f.syncer()
	if _, err := s.Round(ctxT(t)); err == nil {
		t.Fatal("first round: want a failed download, got none")
	}
	n := f.partial(t)
	if n <= 0 {
		t.Fatalf("no partial after the cut (%d)", n)
	}
	f.link.setStripRange(true)
	res, err := s.Round(ctxT(t))
	if err != nil {
		t.Fatalf("second round: %v", err)
	}
	gets := f.link.gets()
	if len(gets) < 2 || gets[1].rng != rangeFrom(n) || gets[1].status != http.StatusOK {
		t.Fatalf("GETs of the large object: %+v; want a resume from %d answered 200", gets, n)
	}
	f.assertApplied(t, s, res)
}

// TestSyncAbortsStalledDownload: the link stops sending mid-object. The
// round fails with the stall error once the Syncer's idle timeout passes
// (no hang), and a later round resumes from the partial and applies.
func TestSyncAbortsStalledDownload(t *testing.T) {
	f := newSyncFixture(t)
	f.link.arm(fault{kind: faultStall, after: cutAfter})
	s := f.syncer()
	s.IdleTimeout = 300 * time.Millisecond

	res, err := s.Round(ctxT(t))
	if !errors.Is(err, edge.ErrStalled) {
		t.Fatalf("first round: want the stall error, got %v", err)
	}
	if res.Imported == nil || res.Imported.Outcome != edge.OutcomeFailed {
		t.Fatalf("first round: import %+v", res.Imported)
	}
	if st := f.status(t); st.Applied.Seq != 0 {
		t.Fatalf("applied sequence %d after a stalled download", st.Applied.Seq)
	}
	n := f.partial(t)
	if n <= 0 {
		t.Fatalf("no partial kept after the stall (%d)", n)
	}

	res, err = s.Round(ctxT(t))
	if err != nil {
		t.Fatalf("second round: %v", err)
	}
	if gets := f.link.gets(); len(gets) != 2 || gets[1].rng != rangeFrom(n) {
		t.Fatalf("GETs of the large object (Range sent): %+v; want the second from %q", gets, rangeFrom(n))
	}
	f.assertApplied(t, s, res)
}

// TestSyncRefusesCorruptObject: the link flips bytes of the large object
// in flight. The import is refused (digest mismatch): nothing is applied,
// no object the attempt fetched stays in the store, the partial is
// dropped. A later clean round applies the export.
func TestSyncRefusesCorruptObject(t *testing.T) {
	f := newSyncFixture(t)
	f.link.arm(fault{kind: faultCorrupt, after: cutAfter})
	s := f.syncer()

	res, err := s.Round(ctxT(t))
	var me *digest.MismatchError
	if !errors.As(err, &me) || me.Want != string(f.big) {
		t.Fatalf("first round: want a digest mismatch of %s, got %v", f.big.Short(), err)
	}
	if res.Imported == nil || res.Imported.Outcome != edge.OutcomeRefused || res.Imported.Event.Outcome != edge.OutcomeRefused {
		t.Fatalf("first round: import %+v", res.Imported)
	}
	st := f.status(t)
	if st.Applied.Seq != 0 || st.Objects != 0 || len(st.APT) != 0 {
		t.Fatalf("a refused import changed the state: applied %d, %d objects, apt %+v", st.Applied.Seq, st.Objects, st.APT)
	}
	if left := storeObjects(t, f.edge.Store()); len(left) != 0 {
		t.Fatalf("the refused attempt left %d objects in the store: %v", len(left), left)
	}
	if n := f.partial(t); n != -1 {
		t.Fatalf("the corrupt partial (%d bytes) was kept", n)
	}

	res, err = s.Round(ctxT(t))
	if err != nil {
		t.Fatalf("second round: %v", err)
	}
	if gets := f.link.gets(); len(gets) != 2 || gets[1].rng != "" {
		t.Fatalf("GETs of the large object: %+v; want the second from the start", gets)
	}
	f.assertApplied(t, s, res)
}

// rangeFrom is the Range header asking for everything from byte n.
func rangeFrom(n int64) string { return "bytes=" + strconv.FormatInt(n, 10) + "-" }

// storeObjects lists the objects in s (short digests).
func storeObjects(t *testing.T, s *cas.Store) []string {
	t.Helper()
	var out []string
	if err := s.Walk(func(d digest.Digest, _ int64) error {
		out = append(out, d.Short())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// ctxT bounds a test step: a hang fails the test instead of blocking.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// publishAPT publishes an APT repository under prefix "corp", dist
// "test", in the hub's data directory, the way 'eucora mirror apt' does:
// mirror a real signed upstream (dpkg-deb, apt-ftparchive, gpg), snapshot
// it, publish it signed. It returns the bytes of the large .deb.
func publishAPT(t *testing.T, hubDir string) []byte {
	t.Helper()
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	u.AddDeb(mirrortest.DebSpec{Name: "hello", Version: "1.0"})
	big := u.AddDeb(mirrortest.DebSpec{Name: "bigtool", Version: "2.0", Payload: bigSize}) // stored uncompressed
	u.Index(mirrortest.IndexOpts{Signer: g})
	up := mirrortest.NewFaultServer(t, u.Dir)

	d := datadir.Dir{Root: hubDir}
	st, err := cas.Open(d.CAS())
	if err != nil {
		t.Fatal(err)
	}
	repo, err := mirror.OpenRepo(d.Mirror(), st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := repo.CreateMirror(&mirror.Mirror{Name: "up", URL: up.URL, Dist: "test"}, g.Pub); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sync(ctx, "up", mirror.SyncOptions{Fetcher: &mirror.Fetcher{IdleTimeout: 10 * time.Second, Retries: -1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("up", "s1"); err != nil {
		t.Fatal(err)
	}
	k, err := mirror.GenerateKey(t.TempDir(), "corp", "EUCORA test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := mirror.LoadSigner(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Publish(ctx, "s1", mirror.PublishOptions{Prefix: aptPrefix, Signer: signer, NoTree: true}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(u.Path(big))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < bigSize {
		t.Fatalf("the large .deb is %d bytes, want at least %d", len(b), bigSize)
	}
	return b
}

// faultKind is what the link does to one download of the large object.
type faultKind int

const (
	faultNone    faultKind = iota // pass everything on
	faultCut                      // drop the connection after `after` bytes
	faultStall                    // send `after` bytes, then nothing until the edge gives up
	faultCorrupt                  // flip the byte at offset `after`
)

// fault is a faultKind and where in the body it strikes.
type fault struct {
	kind  faultKind
	after int64
}

// link is a reverse proxy to the hub. The next GET of object target after
// arm suffers the armed fault, once. It records every GET of target and
// counts the object bytes it passed on; with stripRange it drops the
// Range header of requests for target, as some proxies do.
type link struct {
	*httptest.Server
	target digest.Digest

	mu         sync.Mutex
	armed      fault
	stripRange bool
	log        []objectGet
	passed     int64
}

// objectGet is one GET of the target object: the Range the edge sent and
// the status the hub answered.
type objectGet struct {
	rng    string
	status int
}

func newLink(t *testing.T, hubURL string, target digest.Digest) *link {
	t.Helper()
	u, err := url.Parse(hubURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // aborted copies are the point
	l := &link{target: target}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/objects/"+target.Hex()) {
			rp.ServeHTTP(w, r)
			return
		}
		l.mu.Lock()
		f := l.armed
		l.armed = fault{}
		i := len(l.log)
		l.log = append(l.log, objectGet{rng: r.Header.Get("Range")})
		if l.stripRange {
			r.Header.Del("Range")
		}
		l.mu.Unlock()
		rp.ServeHTTP(&faultyWriter{ResponseWriter: w, l: l, i: i, f: f, done: r.Context().Done()}, r)
	}))
	t.Cleanup(l.Close)
	return l
}

// arm makes the next GET of the target object suffer f.
func (l *link) arm(f fault) {
	l.mu.Lock()
	l.armed = f
	l.mu.Unlock()
}

// setStripRange makes the link drop (or pass on) the Range header of
// requests for the target object.
func (l *link) setStripRange(on bool) {
	l.mu.Lock()
	l.stripRange = on
	l.mu.Unlock()
}

// gets returns the GETs of the target object so far, in order.
func (l *link) gets() []objectGet {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]objectGet(nil), l.log...)
}

// crossed is how many bytes of the target object the link passed on.
func (l *link) crossed() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.passed
}

// faultyWriter passes the hub's answer on, counting body bytes, and
// applies fault f.
type faultyWriter struct {
	http.ResponseWriter
	l    *link
	i    int
	f    fault
	done <-chan struct{}
	n    int64 // body bytes passed on
}

func (w *faultyWriter) WriteHeader(code int) {
	w.l.mu.Lock()
	w.l.log[w.i].status = code
	w.l.mu.Unlock()
	w.ResponseWriter.WriteHeader(code)
}

func (w *faultyWriter) Write(p []byte) (int, error) {
	switch w.f.kind {
	case faultCut, faultStall:
		if w.n+int64(len(p)) > w.f.after {
			w.pass(p[:w.f.after-w.n])
			w.Flush()
			if w.f.kind == faultStall {
				<-w.done // send nothing more until the edge gives up
			}
			panic(http.ErrAbortHandler)
		}
	case faultCorrupt:
		if at := w.f.after - w.n; at >= 0 && at < int64(len(p)) {
			q := append([]byte(nil), p...)
			q[at] ^= 0xff
			return w.pass(q)
		}
	}
	return w.pass(p)
}

func (w *faultyWriter) pass(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	w.l.mu.Lock()
	w.l.passed += int64(n)
	w.l.mu.Unlock()
	return n, err
}

func (w *faultyWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
