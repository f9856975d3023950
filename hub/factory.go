package hub

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging/facts"
)

// The packaging factory at the hub (EUCORA-architecture.md section 7):
// code-signing roots, offline vulnerability feeds, package intake and the
// packaging key.
//
// The packaging key signs provenance and nothing else (sections 2, 12,
// 14.1). Each node keeps its own in DATA/keys/packaging.key, outside the
// Raft log, the state and backups; its public half is registered in the
// store with role "packaging" before its first signature, and a key's
// role never changes. Every verification the hub makes takes its trust
// from the registry by use (trustFor), so a packaging key is never trusted
// for anything but provenance, and provenance is trusted only from a
// packaging key.

var (
	trustRoles   = []deploy.Role{deploy.RoleSecurityReviewer, deploy.RolePlatformAdmin}
	factoryRoles = []deploy.Role{deploy.RolePackagingEngineer}
)

func factoryRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/codesign-roots", Name: "codesign-roots.create", Roles: trustRoles, Write: true, handler: (*Server).handleCodeSignRootCreate},
		{Method: "GET", Pattern: "/v1/codesign-roots", Name: "codesign-roots.list", Roles: allRoles, handler: (*Server).handleCodeSignRootsList},
		{Method: "GET", Pattern: "/v1/signing-keys", Name: "signing-keys.list", Roles: allRoles, handler: (*Server).handleSigningKeysList},
		{Method: "POST", Pattern: "/v1/vuln/feeds", Name: "vuln-feeds.import", Roles: trustRoles, Write: true, handler: (*Server).handleVulnFeedImport},
		{Method: "GET", Pattern: "/v1/vuln/feeds/current", Name: "vuln-feeds.current", Roles: allRoles, handler: (*Server).handleVulnFeedGet},
		{Method: "POST", Pattern: "/v1/apps/{app}/versions/{v}/packages", Name: "packages.add", Roles: factoryRoles, Write: true, handler: (*Server).handlePackageAdd},
		{Method: "GET", Pattern: "/v1/apps/{app}/versions/{v}/packages/{hex}", Name: "packages.get", Roles: allRoles, handler: (*Server).handlePackageGet},
	}
}

// packagingKeyFile is the node's packaging key under DATA/keys.
const packagingKeyFile = "packaging.key"

// RolePackaging is the role of a packaging key in the signing-key registry.
const RolePackaging = "packaging"

// packagingKey returns this node's packaging key, creating it on first use,
// and makes sure the registry knows it with role packaging.
func (s *Server) packagingKey(r *http.Request, p *Principal) (*signing.PrivateKey, error) {
	s.packKey.Lock()
	defer s.packKey.Unlock()
	if s.packKey.key != nil {
		return s.packKey.key, nil
	}
	path := filepath.Join(s.dir.Keys(), packagingKeyFile)
	var k *signing.PrivateKey
	_, err := os.Stat(path)
	if err == nil {
		k, err = signing.LoadPrivate(path)
	} else if errors.Is(err, fs.ErrNotExist) {
		if k, err = signing.Generate(); err == nil {
			if err = os.MkdirAll(s.dir.Keys(), 0o700); err == nil {
				_, _, err = signing.WriteKeyPair(s.dir.Keys(), "packaging", k)
			}
		}
		if err == nil {
			s.log.Info("created the packaging key", "path", path, "key_id", k.ID)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("packaging key %s: %w", path, err)
	}
	rec := store.SigningKey{KeyID: k.ID, Role: RolePackaging, PublicPEM: string(signing.EncodePublic(k.Public())), CreatedAt: store.NowUTC()}
	cmd, err := store.NewCommand(store.CmdSigningKey, rec, s.audit(r, p, store.CmdSigningKey, "signing-key/"+k.ID))
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Apply(r.Context(), cmd); err != nil {
		return nil, fmt.Errorf("register packaging key %s: %w", k.ID, err)
	}
	s.packKey.key = k
	return k, nil
}

// trustFor returns the registered keys whose role may sign for use
// (provenance: packaging keys only).
func (s *Server) trustFor(role string) (signing.Trust, error) {
	keys, err := s.store.State().SigningKeys()
	if err != nil {
		return nil, err
	}
	var pubs []*signing.PublicKey
	for _, k := range keys {
		if k.Role != role {
			continue
		}
		pub, err := signing.ParsePublic([]byte(k.PublicPEM), "signing key "+k.KeyID)
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, pub)
	}
	return signing.NewTrust(pubs...), nil
}

// codeSignTrust is the configured code-signing roots as a reader's trust store.
func (s *Server) codeSignTrust() (*facts.TrustStore, error) {
	roots, err := s.store.State().CodeSignRoots()
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, r := range roots {
		blk, _ := pem.Decode([]byte(r.PEM))
		if blk == nil {
			return nil, fmt.Errorf("code-signing root %s: stored PEM unreadable", r.Fingerprint)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("code-signing root %s: %w", r.Fingerprint, err)
		}
		certs = append(certs, c)
	}
	return facts.NewTrustStore(certs...), nil
}

// handleCodeSignRootCreate adds every certificate of a PEM bundle as a
// trusted code-signing root. Anything but CA certificates is refused, and
// nothing is added unless all are good.
func (s *Server) handleCodeSignRootCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.CodeSignRootRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &req); err != nil {
		writeInputError(w, err)
		return
	}
	roots, err := parseRoots([]byte(req.PEM))
	if err != nil {
		writeInputError(w, badField("pem", "%v", err))
		return
	}
	for _, root := range roots {
		if _, err := s.store.State().CodeSignRoot(root.Fingerprint); err == nil {
			writeError(w, http.StatusConflict, "code-signing root %s (%s) is trusted already; nothing was added", root.Fingerprint[:16], root.Subject)
			return
		}
	}
	var out []api.CodeSignRoot
	for _, root := range roots {
		root.AddedBy, root.AddedAt = p.actor(), store.NowUTC()
		if _, ok := s.apply(w, r, p, store.CmdCodeSignRoot, "codesign-root/"+root.Fingerprint, root, 0); !ok {
			return
		}
		out = append(out, root.View())
	}
	writeJSON(w, http.StatusCreated, map[string]any{"roots": out})
}

func parseRoots(b []byte) ([]store.CodeSignRoot, error) {
	var out []store.CodeSignRoot
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("block %d is %q, want CERTIFICATE (a root certificate, never a key)", n, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n, err)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("certificate %d (%s) is not a CA certificate: trust the root that issued it", n, c.Subject)
		}
		sum := sha256.Sum256(c.Raw)
		out = append(out, store.CodeSignRoot{Fingerprint: hex.EncodeToString(sum[:]), Subject: c.Subject.String(),
			PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))})
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return out, nil
}

func (s *Server) handleCodeSignRootsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	roots, err := s.store.State().CodeSignRoots()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"roots": store.Views(roots, store.CodeSignRoot.View)})
}

func (s *Server) handleSigningKeysList(w http.ResponseWriter, r *http.Request, p *Principal) {
	keys, err := s.store.State().SigningKeys()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": store.Views(keys, store.SigningKey.View)})
}
