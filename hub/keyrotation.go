package hub

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/signing"
)

// Hub key rotation (store/keyrotation.go): stage a next key that every
// bundle announces, then switch to it once every enrolled site has applied
// an announcing bundle.

func keyRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/hub/key/stage", Name: "hub.key.stage", Roles: adminOnly, Write: true, Enterprise: true, handler: (*Server).handleKeyStage},
		{Method: "POST", Pattern: "/v1/hub/key/switch", Name: "hub.key.switch", Roles: adminOnly, Write: true, Enterprise: true, handler: (*Server).handleKeySwitch},
	}
}

func (s *Server) handleKeyStage(w http.ResponseWriter, r *http.Request, p *Principal) {
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &struct{}{}); err != nil {
		writeInputError(w, err)
		return
	}
	k, err := signing.Generate()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	next := store.KeyPair{KeyID: k.ID, PrivatePEM: string(signing.EncodePrivate(k)), PublicPEM: string(signing.EncodePublic(k.Public())), StagedAt: store.NowUTC()}
	if _, ok := s.apply(w, r, p, store.CmdKeyStage, "hub/key/"+k.ID, next, 0); !ok {
		return
	}
	s.handleHubKey(w, r, p)
}

func (s *Server) handleKeySwitch(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.KeySwitchRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxSmallBody), &req); err != nil {
		writeInputError(w, err)
		return
	}
	st := s.store.State()
	id, err := st.Identity()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if id.Next == nil {
		writeError(w, http.StatusUnprocessableEntity, "no key is staged: 'eucora hub rotate-key stage' first")
		return
	}
	if lag, err := s.sitesWithoutKey(id.Next); err != nil {
		writeStoreError(w, err)
		return
	} else if len(lag) > 0 && !req.Force {
		writeError(w, http.StatusConflict, "sites %s have not applied a bundle announcing key %s (one exported after %s): export to them "+
			"and import their receipts, or force the switch (those edges then refuse new bundles until re-initialised with the new hub key)",
			strings.Join(lag, ", "), id.Next.KeyID[:16], id.Next.StagedAt.Format("2006-01-02T15:04:05Z"))
		return
	}
	if _, ok := s.apply(w, r, p, store.CmdKeySwitch, "hub/key/"+id.Next.KeyID, store.KeySwitchBody{At: store.NowUTC()}, 0); !ok {
		return
	}
	s.handleHubKey(w, r, p)
}

// sitesWithoutKey lists the enrolled sites whose last applied bundle was
// did not announce next, so they do not trust it yet.
func (s *Server) sitesWithoutKey(next *store.KeyPair) ([]string, error) {
	st := s.store.State()
	sites, err := st.Sites()
	if err != nil {
		return nil, err
	}
	var lag []string
	for _, site := range sites {
		if site.EdgeKeyID == "" {
			continue
		}
		ss, err := st.SiteSync(site.Name)
		if err != nil {
			return nil, err
		}
		ok := false
		if ss.LastAppliedSeq > 0 {
			if x, err := st.Export(site.Name, ss.LastAppliedSeq); err == nil && x.AnnouncedKey == next.KeyID {
				ok = true
			}
		}
		if !ok {
			lag = append(lag, site.Name)
		}
	}
	sort.Strings(lag)
	return lag, nil
}

// hubKey returns the hub's current signing key from the replicated
// identity (it changes on a key switch), or DIR/keys/hub.key while the
// identity cannot be read.
func (s *Server) hubKey() (*signing.PrivateKey, error) {
	k, _, err := s.hubKeyIdentity()
	return k, err
}

// hubKeyIdentity is hubKey that also returns the identity the key was read
// from, nil when it came from DIR/keys/hub.key.
func (s *Server) hubKeyIdentity() (*signing.PrivateKey, *store.Identity, error) {
	id, ierr := s.store.State().Identity()
	if ierr == nil {
		k, err := signing.ParsePrivate([]byte(id.PrivatePEM), "hub identity")
		if err != nil {
			return nil, nil, err
		}
		return k, &id, nil
	}
	k, err := signing.LoadPrivate(filepath.Join(s.dir.Keys(), "hub.key"))
	if err != nil {
		return nil, nil, fmt.Errorf("hub key: %v; identity: %w", err, ierr)
	}
	return k, nil, nil
}

// hubTrust trusts every key the hub has signed with: current, staged and
// retired (evidence signed before a key switch still verifies).
func (s *Server) hubTrust() (signing.Trust, error) {
	k, id, err := s.hubKeyIdentity()
	if err != nil {
		return signing.Trust{}, err
	}
	keys := []*signing.PublicKey{k.Public()}
	if id != nil {
		for _, r := range id.Previous {
			if pub, err := signing.ParsePublic([]byte(r.PublicPEM), "retired hub key "+r.KeyID); err == nil {
				keys = append(keys, pub)
			}
		}
	}
	return signing.NewTrust(keys...), nil
}
