package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror"
)

// Distribution-point channels: /dp/sccm/... serves Windows packages,
// /dp/jamf/... macOS ones; /dp/sha256/HEX any held object.
const (
	ChannelSCCM = deploy.ChannelSCCM
	ChannelJamf = deploy.ChannelJamf
)

// dpChannel is the channel serving platform p ("" for none).
func dpChannel(p deploy.Platform) string { return p.Channel() }

// contentTypes are the media types served per platform (octet-stream for
// the rest).
var contentTypes = map[deploy.Platform]string{
	deploy.PlatformMSI:  "application/x-msi",
	deploy.PlatformMSIX: "application/msix",
	deploy.PlatformDMG:  "application/x-apple-diskimage",
	deploy.PlatformPKG:  "application/x-newton-compatible-pkg",
	deploy.PlatformDeb:  "application/vnd.debian.binary-package",
	deploy.PlatformAPK:  "application/vnd.android.package-archive",
	deploy.PlatformIPA:  "application/octet-stream",
}

func contentType(p deploy.Platform) string {
	if ct, ok := contentTypes[p]; ok {
		return ct
	}
	return "application/octet-stream"
}

// Server is the edge's HTTP face (`eucora edge serve`):
//
//	/apt/PREFIX/...                       installed APT publications (mirror handler), byte-identical to the hub's
//	/dp/sccm/APP/VERSION/NAME             Windows artifacts (msi, msix, intunewin)
//	/dp/jamf/APP/VERSION/NAME             macOS artifacts (pkg, dmg)
//	/dp/sha256/HEX                        any held object
//	/healthz, /readyz, /metrics
//
// Every object is verified against its digest before its first byte is
// served; the verdict is cached by digest and file identity (device,
// inode, size, mtime, ctime), so a changed file is verified again and a
// corrupt one is answered 500, never served. GET and HEAD, Range and
// conditional requests (ETag, and Last-Modified / If-Modified-Since) are
// supported.
type Server struct {
	e       *Edge
	apt     http.Handler
	log     *slog.Logger
	Metrics *Metrics
	ready   atomic.Bool

	smu sync.Mutex
	sig string
	st  *state
	dp  *dpIndex // of st
	// dpSince is the Last-Modified of each /dp/CHANNEL/... path: when this
	// server first saw the path name its current object (whole seconds,
	// rounded up). It moves at least one second whenever the path's object
	// changes, and entries of paths that went are kept, so
	// If-Modified-Since never hides a change; after a restart every path
	// starts again at the start time.
	dpSince map[dpPath]dpStamp

	verified cas.VerifiedFiles
}

// NewServer returns the server of e. log may be nil. It is not ready
// until Reconcile has run.
func NewServer(e *Edge, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	repo, err := e.mirrorRepo()
	if err != nil {
		return nil, err
	}
	s := &Server{e: e, apt: http.StripPrefix("/apt", mirror.NewHandler(repo, log)), log: log}
	if _, err := s.view(); err != nil {
		return nil, err
	}
	s.Metrics = newMetrics(s.view)
	return s, nil
}

// Reconcile installs the APT publications whose install failed after an
// import (ReconcileAPT) and marks the server ready once it ran.
func (s *Server) Reconcile(ctx context.Context) (*ReconcileResult, error) {
	r, err := s.e.ReconcileAPT(ctx)
	if err != nil {
		return r, err
	}
	s.ready.Store(true)
	return r, nil
}

// dpIndex finds the artifacts /dp serves without scanning them all. A path
// that several different artifacts match (a state written before names
// were checked on import) is ambiguous and served by none of them.
type dpIndex struct {
	platform  map[digest.Digest]deploy.Platform // the object's platform, for its content type
	byPath    map[dpPath]deploy.Artifact
	ambiguous map[dpPath][]digest.Digest
}

// dpPath is /dp/CHANNEL/APP/VERSION/NAME.
type dpPath struct{ channel, app, version, name string }

// dpStamp is the object a /dp path named and since when.
type dpStamp struct {
	d     digest.Digest
	since time.Time
}

// stampDP updates dpSince for index x, seen at now.
func (s *Server) stampDP(x *dpIndex, now time.Time) {
	if s.dpSince == nil {
		s.dpSince = map[dpPath]dpStamp{}
	}
	t := now.UTC().Truncate(time.Second)
	if t.Before(now) {
		t = t.Add(time.Second) // rounded up: later than anything served before now
	}
	for p, a := range x.byPath {
		old, ok := s.dpSince[p]
		switch {
		case ok && old.d == a.SHA256:
		case ok && !t.After(old.since):
			s.dpSince[p] = dpStamp{a.SHA256, old.since.Add(time.Second)}
		default:
			s.dpSince[p] = dpStamp{a.SHA256, t}
		}
	}
}

func newDPIndex(st *state) *dpIndex {
	x := &dpIndex{platform: map[digest.Digest]deploy.Platform{}, byPath: map[dpPath]deploy.Artifact{}, ambiguous: map[dpPath][]digest.Digest{}}
	for _, k := range sortedKeys(st.Artifacts) {
		a := st.Artifacts[k]
		if _, ok := x.platform[a.SHA256]; !ok {
			x.platform[a.SHA256] = a.Platform
		}
		if ch := dpChannel(a.Platform); ch != "" {
			p := dpPath{ch, a.AppID, a.Version, strings.ToLower(a.Name)}
			prev, ok := x.byPath[p]
			switch {
			case !ok && x.ambiguous[p] == nil:
				x.byPath[p] = a
			case ok && prev.SHA256 != a.SHA256:
				delete(x.byPath, p)
				x.ambiguous[p] = []digest.Digest{prev.SHA256, a.SHA256}
			case !ok:
				x.ambiguous[p] = append(x.ambiguous[p], a.SHA256)
			}
		}
	}
	return x
}

// view returns the state, re-read only when state.json changed.
func (s *Server) view() (*state, error) {
	st, _, err := s.viewDP()
	return st, err
}

// viewDP is view with the state's /dp index.
func (s *Server) viewDP() (*state, *dpIndex, error) {
	fi, err := os.Stat(statePath(s.e.dir.Edge()))
	if err != nil {
		return nil, nil, err
	}
	sig := fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		sig += fmt.Sprintf(":%d", st.Ino)
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if sig == s.sig && s.st != nil {
		return s.st, s.dp, nil
	}
	st, err := loadState(s.e.dir.Edge())
	if err != nil {
		return nil, nil, err
	}
	s.sig, s.st, s.dp = sig, st, newDPIndex(st)
	s.stampDP(s.dp, time.Now())
	return st, s.dp, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/healthz":
		io.WriteString(w, "ok\n")
	case p == "/readyz":
		if !s.ready.Load() {
			http.Error(w, "not ready: APT publications not reconciled yet", http.StatusServiceUnavailable)
			return
		}
		if _, err := s.view(); err != nil {
			http.Error(w, "not ready: state unreadable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	case p == "/metrics":
		s.Metrics.handler().ServeHTTP(w, r)
	case strings.HasPrefix(p, "/apt/"):
		s.apt.ServeHTTP(w, r)
	case strings.HasPrefix(p, "/dp/"):
		s.serveDP(w, r)
	default:
		http.NotFound(w, r)
	}
}

var _ http.Handler = (*Server)(nil)

// serveDP answers /dp/CHANNEL/APP/VERSION/NAME and /dp/sha256/HEX.
func (s *Server) serveDP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	st, dp, err := s.viewDP()
	if err != nil {
		s.log.Error("edge state unreadable", "err", err)
		http.Error(w, "edge state unreadable", http.StatusInternalServerError)
		return
	}
	parts := strings.Split(strings.TrimPrefix(path.Clean(r.URL.Path), "/dp/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "sha256":
		d, err := digest.Parse(parts[1])
		if err != nil {
			http.Error(w, "bad digest: want 64 lower-case hex characters", http.StatusBadRequest)
			return
		}
		size, held := st.Held[d]
		if !held {
			http.NotFound(w, r)
			return
		}
		ct := "application/octet-stream"
		if p, ok := dp.platform[d]; ok {
			ct = contentType(p)
		}
		s.serveObject(w, r, d, size, ct, "", time.Time{})
	case len(parts) == 4 && (parts[0] == ChannelSCCM || parts[0] == ChannelJamf):
		p := dpPath{parts[0], parts[1], parts[2], strings.ToLower(parts[3])}
		if a, ok := dp.byPath[p]; ok && a.Name == parts[3] {
			s.smu.Lock()
			since := s.dpSince[p].since
			s.smu.Unlock()
			s.serveObject(w, r, a.SHA256, a.Size, contentType(a.Platform), a.Name, since)
			return
		}
		if ds := dp.ambiguous[p]; ds != nil {
			var hexes []string
			for _, d := range ds {
				hexes = append(hexes, "/dp/sha256/"+d.Hex())
			}
			http.Error(w, fmt.Sprintf("%s names %d different artifacts: fetch one by digest (%s)", r.URL.Path, len(ds), strings.Join(hexes, ", ")), http.StatusConflict)
			return
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveObject serves held object d after verifying it, with Last-Modified
// modified (zero: the object file's modification time, right for
// /dp/sha256/HEX whose content never changes).
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, d digest.Digest, size int64, ct, name string, modified time.Time) {
	f, err := s.e.store.Open(d)
	if err != nil {
		s.log.Error("held object missing from the store", "object", d, "err", err)
		http.Error(w, fmt.Sprintf("object %s missing from the store", d.Short()), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	if err := s.verified.Check(f, d, size); err != nil {
		s.log.Error("refusing to serve a corrupt object", "object", d, "path", r.URL.Path, "err", err)
		http.Error(w, fmt.Sprintf("object %s failed verification: not served", d.Short()), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"`+d.Hex()+`"`)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	if name != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	}
	if modified.IsZero() {
		if fi, err := f.Stat(); err == nil {
			modified = fi.ModTime()
		}
	}
	// ServeContent answers If-None-Match and If-Modified-Since (304),
	// Range and If-Range.
	http.ServeContent(w, r, "", modified, f)
}
