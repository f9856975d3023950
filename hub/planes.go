package hub

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/planes"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/atomicfile"
)

// Plane registry (EUCORA-architecture.md section 14.1). Only a platform
// admin registers, lists and checks planes; no answer, log line or audit
// event carries a plane's credentials.
//
// Credentials at rest: the hub seals each plane's credentials document
// with AES-256-GCM under a 32-byte credentials key, the plane's name the
// additional data, and proposes only the ciphertext (nonce||sealed). The
// key lives in DATA/hub/keys/credentials.key (0600), outside the Raft log,
// the FSM state and backups. The node that handles the first `plane add`
// (the leader: writes are served there) creates it. A node without the
// key (a joined node that became leader) answers plane add and plane check
// with errCredentialsKeyMissing, which says to copy the file from the node
// that has it; the key is not replicated automatically.

// credentialsKeyFile is the key's name under DATA/hub/keys.
const credentialsKeyFile = "credentials.key"

// planeCheckTimeout bounds one plane check.
const planeCheckTimeout = 30 * time.Second

func planeRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/planes", Name: "planes.create", Roles: adminOnly, Write: true, handler: (*Server).handlePlaneCreate},
		{Method: "GET", Pattern: "/v1/planes", Name: "planes.list", Roles: adminOnly, handler: (*Server).handlePlanesList},
		{Method: "POST", Pattern: "/v1/planes/{name}:check", Name: "planes.check", Roles: adminOnly, Write: true, handler: (*Server).handlePlaneCheck},
	}
}

// credentialsKey holds the loaded key of one node.
type credentialsKey struct {
	mu  sync.Mutex
	key []byte
	id  string
}

func (s *Server) credentialsKeyPath() string {
	return filepath.Join(s.dir.Hub(), "keys", credentialsKeyFile)
}

// errCredentialsKeyMissing is returned by a node holding sealed
// credentials but not the key they are sealed with.
type errCredentialsKeyMissing struct{ path, want, have string }

func (e *errCredentialsKeyMissing) Error() string {
	if e.have != "" {
		return fmt.Sprintf("this node's credentials key %s is %s, but the plane's credentials are sealed with %s: copy %s from the node that registered the plane (mode 0600)",
			e.path, e.have, e.want, credentialsKeyFile)
	}
	return fmt.Sprintf("this node has no credentials key %s (the plane's credentials are sealed with %s): copy DATA/hub/keys/%s from the node that registered the plane (mode 0600); EUCORA-architecture.md section 14.1",
		e.path, e.want, credentialsKeyFile)
}

// loadCredentialsKey returns the node's credentials key, creating it when
// create is set and there is none.
func (s *Server) loadCredentialsKey(create bool) ([]byte, string, error) {
	ck := &s.credKey
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if ck.key != nil {
		return ck.key, ck.id, nil
	}
	path := s.credentialsKeyPath()
	key, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, "", err
		}
		if err := atomicfile.WriteFile(path, key, 0o600); err != nil {
			return nil, "", fmt.Errorf("write credentials key: %w", err)
		}
		s.log.Info("created the plane credentials key", "path", path, "key_id", credentialsKeyID(key))
	case err != nil:
		return nil, "", err
	case len(key) != 32:
		return nil, "", fmt.Errorf("credentials key %s: %d bytes, want 32", path, len(key))
	}
	ck.key, ck.id = key, credentialsKeyID(key)
	return ck.key, ck.id, nil
}

// credentialsKeyID names a key without revealing it.
func credentialsKeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("eucora credentials key id\x00"), key...))
	return "ck-" + hex.EncodeToString(sum[:8])
}

func sealCredentials(key []byte, plane string, plain []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte(plane)), nil
}

func openCredentials(key []byte, plane string, sealed []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed credentials too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, sealed[:n], sealed[n:], []byte(plane))
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// planeCredentials returns p's credentials in clear, for its connector
// only.
func (s *Server) planeCredentials(p store.Plane) ([]byte, error) {
	key, id, err := s.loadCredentialsKey(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &errCredentialsKeyMissing{path: s.credentialsKeyPath(), want: p.KeyID}
	}
	if err != nil {
		return nil, err
	}
	if id != p.KeyID {
		return nil, &errCredentialsKeyMissing{path: s.credentialsKeyPath(), want: p.KeyID, have: id}
	}
	plain, err := openCredentials(key, p.Name, p.Sealed)
	if err != nil {
		return nil, fmt.Errorf("plane %q: sealed credentials do not open with key %s: %v", p.Name, id, err)
	}
	return plain, nil
}

func (s *Server) handlePlaneCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.PlaneRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &req); err != nil {
		writeInputError(w, err)
		return
	}
	if req.Site != "" {
		s.createSitePlane(w, r, p, req)
		return
	}
	if err := store.ValidatePlane(store.Plane{Name: req.Name, Kind: req.Kind, URL: req.URL, Scope: req.Scope, KeyID: "-", Sealed: make([]byte, 28)}); err != nil {
		writeInputError(w, badField("plane", "%s", strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")))
		return
	}
	if err := planes.Validate(req.Kind, req.URL, req.Credentials); err != nil {
		field := "credentials"
		switch {
		case errors.Is(err, planes.ErrUnknownKind), errors.Is(err, planes.ErrNotInBuild):
			field = "kind"
		case errors.Is(err, planes.ErrURL):
			field = "url"
		}
		writeInputError(w, badField(field, "%v", err))
		return
	}
	if !p.Scope.Contains(req.Scope) {
		s.denyScope(w, r, p, "planes.create", fmt.Sprintf("plane scope %s is outside this token's scope %s", req.Scope, p.Scope))
		return
	}
	if _, err := s.store.State().Plane(req.Name); err == nil {
		writeError(w, http.StatusConflict, "plane %q: %v", req.Name, store.ErrConflict)
		return
	}
	key, id, err := s.planeSealingKey()
	var km *errCredentialsKeyMissing
	if errors.As(err, &km) {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "credentials key: %v", err)
		return
	}
	sealed, err := sealCredentials(key, req.Name, req.Credentials)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "seal credentials: %v", err)
		return
	}
	pl := store.Plane{Name: req.Name, Kind: req.Kind, URL: req.URL, Scope: req.Scope, CreatedAt: store.NowUTC(), CreatedBy: p.actor(),
		KeyID: id, Sealed: sealed}
	s.apply(w, r, p, store.CmdPlaneCreate, "plane/"+pl.Name, pl, http.StatusCreated)
}

// planeSealingKey returns the key a new plane's credentials are sealed
// with: the key of the planes registered already, which this node must
// hold (a node never starts a second key beside another node's), or a new
// key when no plane is registered.
func (s *Server) planeSealingKey() ([]byte, string, error) {
	all, err := s.store.State().Planes()
	if err != nil {
		return nil, "", err
	}
	if len(all) == 0 {
		return s.loadCredentialsKey(true)
	}
	key, id, err := s.loadCredentialsKey(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", &errCredentialsKeyMissing{path: s.credentialsKeyPath(), want: all[0].KeyID}
	}
	if err != nil {
		return nil, "", err
	}
	if id != all[0].KeyID {
		return nil, "", &errCredentialsKeyMissing{path: s.credentialsKeyPath(), want: all[0].KeyID, have: id}
	}
	return key, id, nil
}

func (s *Server) handlePlanesList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().Planes()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.Plane{}
	for _, pl := range all {
		if p.Scope.Contains(pl.Scope) {
			out = append(out, pl.View())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"planes": out})
}

// handlePlaneCheck authenticates to the plane and reads one page through
// its connector. A check that reaches the plane answers 200 whether the
// plane accepted it or not (OK and Class say which); the audit event
// names the plane and, for a failure, the error class.
func (s *Server) handlePlaneCheck(w http.ResponseWriter, r *http.Request, p *Principal) {
	name := r.PathValue("name")
	pl, err := s.store.State().Plane(name)
	if err == nil && !p.Scope.Contains(pl.Scope) {
		s.recordRefusal(r, p, "planes.check", r.URL.Path, "denied", fmt.Sprintf("%d: plane %q (scope %s) is outside this token's scope %s",
			http.StatusNotFound, name, pl.Scope, p.Scope))
		err = store.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "%s", notInScope(p, "plane", name))
			return
		}
		writeStoreError(w, err)
		return
	}
	a := s.audit(r, p, "planes.check", "plane/"+name)
	if pl.Site != "" {
		res := api.PlaneCheck{Plane: pl.Name, Kind: pl.Kind}
		if chk, err := (&siteRelay{s: s, plane: pl}).Check(r.Context()); err != nil {
			res.Class, res.Error = connectors.ClassOf(err).String(), err.Error()
			a.Outcome, a.Reason = "failed", err.Error()
		} else {
			res.OK, res.Detail = true, chk.Detail
			a.Outcome, a.Reason = "ok", chk.Detail
		}
		s.recordAudit(a)
		writeJSON(w, http.StatusOK, res)
		return
	}
	creds, err := s.planeCredentials(pl)
	if err != nil {
		a.Outcome, a.Reason = "error", err.Error()
		s.recordAudit(a)
		var km *errCredentialsKeyMissing
		if errors.As(err, &km) {
			writeError(w, http.StatusServiceUnavailable, "%v", err)
			return
		}
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	res := api.PlaneCheck{Plane: pl.Name, Kind: pl.Kind}
	start := time.Now()
	conn, err := planes.New(pl.Kind, pl.URL, creds)
	var chk connectors.Check
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), planeCheckTimeout)
		chk, err = conn.Check(ctx)
		if c, ok := conn.(interface{ Close(context.Context) error }); ok {
			c.Close(ctx)
		}
		cancel()
	}
	res.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		res.Class, res.Error = connectors.ClassOf(err).String(), err.Error()
		a.Outcome, a.Reason = "failed", fmt.Sprintf("class %s: %v", res.Class, err)
	} else {
		res.OK, res.Detail = true, chk.Detail
		a.Outcome, a.Reason = "ok", fmt.Sprintf("latency %d ms: %s", res.LatencyMS, chk.Detail)
	}
	s.recordAudit(a)
	writeJSON(w, http.StatusOK, res)
}
