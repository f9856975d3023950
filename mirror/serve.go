package mirror

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/digest"
)

// Handler serves every published prefix over HTTP: GET and HEAD, Range,
// conditional requests and content types. Each object is verified against
// its digest before its first byte is served; the result is cached by file
// identity (device, inode, size, modification and change times) so a large
// repository is hashed once, not on every request.
//
// The handler reads the publication state on each request (cheaply: it
// re-reads only when a state file changed), so a publish is visible at
// once and atomically: one request sees one publication.
type Handler struct {
	repo *Repo
	log  *slog.Logger

	mu     sync.Mutex
	sig    string
	routes map[string]route // URL path (without leading /) -> object
	// pubCache holds the current and retired publications of the last reload.
	pubCache map[digest.Digest]*Publication

	verified cas.VerifiedFiles
}

type route struct {
	ref FileRef
	// modified is the Last-Modified served: the publication time for
	// immutable paths (by-hash, pool), the dist's switch time for the
	// others (zero: none).
	modified time.Time
}

// NewHandler returns the handler serving repo's publications. log may be nil.
func NewHandler(repo *Repo, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Handler{repo: repo, log: log, pubCache: map[digest.Digest]*Publication{}}
}

var _ http.Handler = (*Handler)(nil)

// stateSignature summarises the publish/ directory's files: name, size,
// modification time and inode, so a state file replaced by an atomic
// rename with one of equal size within one mtime tick is seen.
func (h *Handler) stateSignature() (string, error) {
	dir := h.repo.Dir + "/publish"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d", e.Name(), info.Size(), info.ModTime().UnixNano())
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			fmt.Fprintf(&b, ":%d", st.Ino)
		}
		b.WriteByte(';')
	}
	return b.String(), nil
}

func (h *Handler) lookup(p string) (route, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sig, err := h.stateSignature()
	if err != nil {
		return route{}, false, err
	}
	if sig != h.sig || h.routes == nil {
		if err := h.reload(); err != nil {
			return route{}, false, err
		}
		h.sig = sig
	}
	rt, ok := h.routes[p]
	return rt, ok, nil
}

func (h *Handler) publication(id digest.Digest) (*Publication, error) {
	if p, ok := h.pubCache[id]; ok {
		return p, nil
	}
	p, err := h.repo.LoadPublication(id)
	if err != nil {
		return nil, err
	}
	h.pubCache[id] = p
	return p, nil
}

func (h *Handler) reload() error {
	sts, err := h.repo.Prefixes()
	if err != nil {
		return err
	}
	routes := map[string]route{}
	keep := map[digest.Digest]bool{}
	for _, st := range sts {
		// Current publications first: they win every path.
		for _, ds := range st.Dists {
			keep[ds.Publication] = true
			pub, err := h.publication(ds.Publication)
			if err != nil {
				return fmt.Errorf("prefix %s dist: %w", st.Prefix, err)
			}
			for _, f := range pub.Files {
				modified := pub.Published
				if !immutablePath(f.Path) {
					modified = ds.Switched
				}
				routes[st.Prefix+"/"+f.Path] = route{f, modified}
			}
		}
		// Retired ones keep their by-hash indexes and pool files reachable.
		for _, id := range st.Retired {
			keep[id] = true
			pub, err := h.publication(id)
			if err != nil {
				h.log.Warn("retired publication unreadable", "prefix", st.Prefix, "publication", id, "err", err)
				continue
			}
			for _, f := range pub.Files {
				k := st.Prefix + "/" + f.Path
				if _, taken := routes[k]; taken {
					continue
				}
				if immutablePath(f.Path) {
					routes[k] = route{f, pub.Published}
				}
			}
		}
	}
	h.routes = routes
	for id := range h.pubCache {
		if !keep[id] {
			delete(h.pubCache, id) // neither current nor retired: never routed again
		}
	}
	return nil
}

// ContentType returns the media type served for a repository path.
func ContentType(p string) string {
	base := path.Base(p)
	switch {
	case strings.HasSuffix(base, ".deb"), strings.HasSuffix(base, ".udeb"):
		return "application/vnd.debian.binary-package"
	case strings.HasSuffix(base, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(base, ".xz"):
		return "application/x-xz"
	case strings.HasSuffix(base, ".gpg"):
		return "application/pgp-signature"
	case base == "InRelease":
		return "text/plain; charset=utf-8"
	case base == "Release", base == "Packages", strings.HasSuffix(base, ".dsc"):
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(path.Clean("/"+req.URL.Path), "/")
	if p == "" {
		h.index(w)
		return
	}
	rt, ok, err := h.lookup(p)
	if err != nil {
		h.log.Error("publication state unreadable", "err", err)
		http.Error(w, "publication state unreadable", http.StatusInternalServerError)
		return
	}
	if !ok {
		http.NotFound(w, req)
		return
	}
	f, err := h.repo.Store.Open(rt.ref.SHA256)
	if err != nil {
		h.log.Error("object missing", "path", p, "object", rt.ref.SHA256, "err", err)
		http.Error(w, "object missing from the store", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	if err := h.verify(f, rt.ref); err != nil {
		h.log.Error("refusing to serve a corrupt object", "path", p, "err", err)
		http.Error(w, "object failed verification", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType(p))
	w.Header().Set("ETag", `"`+rt.ref.SHA256.Hex()+`"`)
	if immutablePath(rt.ref.Path) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Mutable names (InRelease, Packages...) change with each publish;
		// their Last-Modified is the dist's switch time, which moves at
		// least a second with every switch (DistState.Switched), so
		// If-Modified-Since (what apt sends) is as safe as If-None-Match.
		w.Header().Set("Cache-Control", "no-cache")
	}
	// ServeContent answers If-None-Match, If-Modified-Since (304), Range
	// and If-Range, and sends Last-Modified unless modified is zero.
	http.ServeContent(w, req, "", rt.modified, f)
}

// immutablePath reports whether a publication path names content that
// never changes: by-hash indexes and pool files (named by digest).
func immutablePath(p string) bool {
	return strings.Contains(p, "/by-hash/") || strings.HasPrefix(p, "pool/")
}

// verify checks the open object against ref once per file identity.
func (h *Handler) verify(f *os.File, ref FileRef) error {
	err := h.verified.Check(f, ref.SHA256, ref.Size)
	if me, ok := err.(*digest.MismatchError); ok {
		me.Object = ref.Path + " (object " + ref.SHA256.String() + ")"
	}
	return err
}

func (h *Handler) index(w http.ResponseWriter) {
	sts, err := h.repo.Prefixes()
	if err != nil {
		http.Error(w, "publication state unreadable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var lines []string
	for _, st := range sts {
		for dist, ds := range st.Dists {
			lines = append(lines, fmt.Sprintf("/%s/ dists/%s snapshot %s (%s)", st.Prefix, dist, ds.Snapshot, ds.SnapshotID.Short()))
		}
	}
	sort.Strings(lines)
	io.WriteString(w, strings.Join(lines, "\n")+"\n")
}

// CreateCommand is the command that makes a data directory for mirrors,
// named when one is missing.
const CreateCommand = "eucora mirror apt create NAME --url URL --dist DIST --keyring FILE"

// OpenDataDir opens the mirror state of the data directory dataDir: its
// cas/ store and mirror/ state, as laid out by internal/datadir. The data
// directory must exist (a *datadir.NotInitialisedError naming it and
// CreateCommand otherwise); inside it, missing cas/ and mirror/ parts are
// created empty.
func OpenDataDir(dataDir string) (*Repo, error) {
	d, err := datadir.Open(dataDir, CreateCommand)
	if err != nil {
		return nil, err
	}
	return openRepoIn(d)
}

// CreateDataDir is OpenDataDir that also creates the data directory if it
// does not exist: for 'mirror apt create', which makes the first state.
func CreateDataDir(dataDir string) (*Repo, error) {
	d, err := datadir.Create(dataDir)
	if err != nil {
		return nil, err
	}
	return openRepoIn(d)
}

func openRepoIn(d datadir.Dir) (*Repo, error) {
	st, err := cas.Open(d.CAS())
	if err != nil {
		return nil, err
	}
	return OpenRepo(d.Mirror(), st)
}

// OpenHandler opens the mirror state of the data directory dataDir (see
// OpenDataDir) and returns the handler serving its publications. This is
// what an edge embeds: it needs no signing key, only the publications'
// objects and prefix states.
func OpenHandler(dataDir string, log *slog.Logger) (*Handler, error) {
	repo, err := OpenDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	return NewHandler(repo, log), nil
}
