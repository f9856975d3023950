package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request, _ *Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request, _ *Principal) {
	if h := s.store.FSM().Halted(); h != nil {
		writeError(w, http.StatusServiceUnavailable, "state machine halted: %v", h)
		return
	}
	if _, id := s.store.Leader(); id == "" {
		writeError(w, http.StatusServiceUnavailable, "no leader known")
		return
	}
	select {
	case <-s.ready:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	default:
		writeError(w, http.StatusServiceUnavailable, "node not yet registered in the cluster")
	}
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *Principal) {
	s.metrics.handler().ServeHTTP(w, r)
}

func (s *Server) handleHubKey(w http.ResponseWriter, r *http.Request, _ *Principal) {
	k, id, err := s.hubKeyIdentity()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "hub key not available on this node yet: %v", err)
		return
	}
	pub := k.Public()
	resp := api.HubKey{KeyID: pub.ID, PublicPEM: string(signing.EncodePublic(pub))}
	if id != nil && id.KeyID == pub.ID {
		if id.Next != nil {
			resp.Next = &transfer.KeyRef{KeyID: id.Next.KeyID, PublicPEM: id.Next.PublicPEM}
		}
		resp.Previous = store.Views(id.Previous, store.RetiredKey.View)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, _ *Principal) {
	rs := s.store.Status()
	st := api.Status{NodeID: rs.NodeID, LeaderID: rs.LeaderID, State: rs.State, Term: rs.Term, CommitIndex: rs.CommitIndex,
		AppliedIndex: rs.AppliedIndex, Halted: rs.Halted, Nodes: []api.NodeStatus{}}
	if u, err := s.cluster.leaderURL(); err == nil {
		st.LeaderHTTP = u
	}
	servers, err := s.store.Servers()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	st.Nodes = make([]api.NodeStatus, len(servers))
	var wg sync.WaitGroup
	for i, sv := range servers {
		n := api.NodeStatus{ID: string(sv.ID), RaftAddr: string(sv.Address), Suffrage: suffrage(sv.Suffrage)}
		if rec, err := s.store.State().Node(n.ID); err == nil {
			n.HTTPAddr = rec.HTTPAddr
		}
		st.Nodes[i] = n
		if n.HTTPAddr == "" {
			continue
		}
		wg.Add(1)
		go func(i int, u string) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", u+"/healthz", nil)
			if resp, err := s.cluster.peer.Do(req); err == nil {
				resp.Body.Close()
				st.Nodes[i].Reachable = resp.StatusCode == http.StatusOK
			}
		}(i, n.HTTPAddr)
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, st)
}

func suffrage(s raft.ServerSuffrage) string {
	switch s {
	case raft.Voter:
		return "voter"
	case raft.Nonvoter:
		return "nonvoter"
	}
	return "staging"
}

func (s *Server) handleSitesList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().Sites()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.Site{}
	for _, site := range all {
		if p.Scope.Contains(site.Scope) {
			out = append(out, site.View())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": out})
}

func (s *Server) handleSiteGet(w http.ResponseWriter, r *http.Request, p *Principal) {
	site, ok := s.siteInScope(w, r, p, "sites.get", r.PathValue("name"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, site.View())
}

// notInScope is the answer for a record that does not exist or is outside
// p's scope: the same words for both, so a scoped token cannot learn which
// names exist elsewhere.
func notInScope(p *Principal, kind, name string) string {
	if p.Scope.IsEnterprise() {
		return fmt.Sprintf("no %s named %q", kind, name)
	}
	return fmt.Sprintf("no %s named %q within this token's scope %s", kind, name, p.Scope)
}

// siteInScope loads the named site if it is within p's scope. Otherwise it
// answers 404 with the same message whether the site is missing or outside
// the scope (scope is checked before anything else about the site is
// revealed), and records an out-of-scope attempt as a denial; action is
// the route's name.
func (s *Server) siteInScope(w http.ResponseWriter, r *http.Request, p *Principal, action, name string) (store.Site, bool) {
	site, err := s.store.State().Site(name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeStoreError(w, err)
		return site, false
	}
	if err == nil && !p.Scope.Contains(site.Scope) {
		s.recordRefusal(r, p, action, r.URL.Path, "denied", fmt.Sprintf("%d: site %q (scope %s) is outside this token's scope %s",
			http.StatusNotFound, site.Name, site.Scope, p.Scope))
		err = store.ErrNotFound
	}
	if err != nil {
		writeError(w, http.StatusNotFound, "%s", notInScope(p, "site", name))
		return store.Site{}, false
	}
	return site, true
}

// apply proposes a write carrying its audit event and maps the outcome.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, p *Principal, typ, object string, body any, status int) (json.RawMessage, bool) {
	cmd, err := store.NewCommand(typ, body, s.audit(r, p, typ, object))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return nil, false
	}
	start := time.Now()
	v, err := s.store.Apply(r.Context(), cmd)
	s.metrics.apply.Observe(time.Since(start).Seconds())
	if err != nil {
		writeStoreError(w, err)
		return nil, false
	}
	return writeApplied(w, v, status)
}

// writeApplied answers with the API view of what a write returned when
// status is not 0, and returns nothing else; with status 0 the caller
// answers itself and gets the JSON of the stored value. Each write is
// marshalled once. A stored record without a view is a bug: it is never
// put on the wire.
func writeApplied(w http.ResponseWriter, v any, status int) (json.RawMessage, bool) {
	if status == 0 {
		raw, _ := json.Marshal(v)
		return raw, true
	}
	view := store.ViewOf(v)
	if t := reflect.TypeOf(view); t != nil && t.PkgPath() == storePkg {
		writeError(w, http.StatusInternalServerError, "internal: no API view for %T", view)
		return nil, false
	}
	out, _ := json.Marshal(view)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(out, '\n'))
	return nil, true
}

var storePkg = reflect.TypeOf(store.Site{}).PkgPath()

func (s *Server) handleSiteCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	req, edgeKey, err := DecodeSiteRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	if !p.Scope.Contains(req.Scope) {
		s.denyScope(w, r, p, "sites.create", fmt.Sprintf("site scope %s is outside this token's scope %s", req.Scope, p.Scope))
		return
	}
	site := store.Site{Name: req.Name, Class: req.Class, Scope: req.Scope, CreatedAt: store.NowUTC(), CreatedBy: p.actor()}
	if edgeKey != nil {
		site.EdgeKeyID, site.EdgeKeyPEM = edgeKey.ID, string(signing.EncodePublic(edgeKey))
	}
	s.apply(w, r, p, store.CmdSiteCreate, "site/"+site.Name, site, http.StatusCreated)
}

// denyScope answers 403 for a target outside p's scope and records the
// denial as deny does; action is the route's name.
func (s *Server) denyScope(w http.ResponseWriter, r *http.Request, p *Principal, action, reason string) {
	s.recordRefusal(r, p, action, r.URL.Path, "denied", fmt.Sprintf("%d: %s", http.StatusForbidden, reason))
	writeError(w, http.StatusForbidden, "%s", reason)
}

func (s *Server) handleTokensList(w http.ResponseWriter, r *http.Request, p *Principal) {
	all, err := s.store.State().Tokens()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	out := []api.Token{}
	for _, t := range all {
		if p.Scope.Contains(t.Scope) {
			out = append(out, t.View())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request, p *Principal) {
	req, err := DecodeTokenRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	if !p.Scope.Contains(req.Scope) {
		s.denyScope(w, r, p, "tokens.create", fmt.Sprintf("token scope %s is outside this token's scope %s", req.Scope, p.Scope))
		return
	}
	secret := "euc_" + randomSecret()
	t := store.Token{
		ID: ulid.Make().String(), Name: req.Name, Role: roleOf(string(req.Role)), Scope: req.Scope,
		Hash: hashToken(secret), CreatedAt: store.NowUTC(), CreatedBy: p.actor(),
	}
	if _, ok := s.apply(w, r, p, store.CmdTokenCreate, "token/"+t.ID, t, 0); !ok {
		return
	}
	v := t.View()
	v.Token = secret
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) handleTokenRevoke(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	t, err := s.store.State().Token(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeStoreError(w, err)
		return
	}
	if err == nil && !p.Scope.Contains(t.Scope) {
		s.recordRefusal(r, p, "tokens.revoke", r.URL.Path, "denied", fmt.Sprintf("%d: token scope %s is outside this token's scope %s", http.StatusNotFound, t.Scope, p.Scope))
		err = store.ErrNotFound
	}
	if err != nil {
		writeError(w, http.StatusNotFound, "%s", notInScope(p, "token", id))
		return
	}
	raw, ok := s.apply(w, r, p, store.CmdTokenRevoke, "token/"+id, store.TokenRevokeBody{ID: id, Time: store.NowUTC()}, 0)
	if !ok {
		return
	}
	var rt store.Token
	json.Unmarshal(raw, &rt)
	writeJSON(w, http.StatusOK, rt.View())
}

func (s *Server) handleEventsList(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after: %q is not a cursor (want a decimal number)", v)
			return
		}
		after = n
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit: %q: want 1..10000", v)
			return
		}
		limit = n
	}
	evs, err := s.store.State().Events(after, limit)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].Cursor
	}
	page := api.EventPage{Events: store.EventViews(evs), Next: strconv.FormatUint(next, 10)}
	if page.Events == nil {
		page.Events = []api.Event{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleEventsBatch(w http.ResponseWriter, r *http.Request, p *Principal) {
	// The origin, which decides the scope, is inside the body: the body is
	// read in its turn (largeBody), bounded by maxBatchBody.
	release, ok := s.largeBody(w, r)
	if !ok {
		return
	}
	defer release()
	body, err := DecodeEventsBatch(http.MaxBytesReader(w, r.Body, maxBatchBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	// Scope first: a missing and an out-of-scope origin get the same answer.
	site, err := s.store.State().Site(body.Origin)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeStoreError(w, err)
		return
	}
	if err == nil && !p.Scope.Contains(site.Scope) {
		s.recordRefusal(r, p, "events.ingest", r.URL.Path, "denied", fmt.Sprintf("%d: origin site %q (scope %s) is outside this token's scope %s",
			http.StatusUnprocessableEntity, site.Name, site.Scope, p.Scope))
		err = store.ErrNotFound
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "origin: %s", notInScope(p, "site", body.Origin))
		return
	}
	if site.EdgeKeyID != "" {
		writeError(w, http.StatusUnprocessableEntity, "origin: site %q has an enrolled edge; its events arrive hash-chained in signed edge bundles ('eucora hub import')", site.Name)
		return
	}
	s.apply(w, r, p, store.CmdEventsIngest, "origin/"+body.Origin, body, http.StatusOK)
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request, p *Principal) {
	// A forwarded join was checked by the node that received it (wrap);
	// this node sees that node's certificate.
	req, err := DecodeJoinRequest(http.MaxBytesReader(w, r.Body, maxSmallBody))
	if err != nil {
		writeInputError(w, err)
		return
	}
	if err := s.store.AddVoter(req.NodeID, req.RaftAddr); err != nil {
		writeStoreError(w, err)
		return
	}
	s.apply(w, r, p, store.CmdNodeUpsert, "node/"+req.NodeID,
		store.Node{ID: req.NodeID, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr}, http.StatusOK)
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	servers, err := s.store.Servers()
	if err != nil {
		writeStoreError(w, err)
		return
	}
	member, voter, voters := false, false, 0
	for _, sv := range servers {
		if sv.Suffrage == raft.Voter {
			voters++
		}
		if string(sv.ID) == id {
			member, voter = true, sv.Suffrage == raft.Voter
		}
	}
	if !member {
		writeError(w, http.StatusNotFound, "node %q is not a member of the cluster", id)
		return
	}
	if voter && voters == 1 {
		writeError(w, http.StatusConflict, "node %q is the cluster's last voter: removing it would leave no cluster; add another node first", id)
		return
	}
	if err := s.store.RemoveServer(id); err != nil {
		writeStoreError(w, err)
		return
	}
	s.apply(w, r, p, store.CmdNodeRemove, "node/"+id, store.NodeRemoveBody{ID: id}, http.StatusOK)
}
