package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eucora/eucora/hub/store"
)

// cluster is this node's link to the rest of the Raft cluster: it proposes
// commands (on the leader directly, through the leader's peer endpoint
// otherwise), proxies requests a follower received to the leader, and
// makes the peer calls of blob replication, authenticated by the cluster's
// peer secret. The route table and the authentication of callers are in
// routes.go; the peer endpoints' own check is peerOnly there.
type cluster struct {
	store  *store.Store
	nodeID string
	peer   *http.Client
	// transport carries every node-to-node request (peer calls,
	// forwarding): mutual TLS when the hub has TLS (hub/tls.go).
	transport http.RoundTripper
	apply     prometheus.Observer // seconds from proposing to applied, on the leader
}

const forwardedHeader = "X-Eucora-Forwarded"

// propose applies cmd through the leader: directly when this node leads,
// otherwise through the leader's peer endpoint. It returns the command's
// result as JSON. Errors from the leader's processor keep their type only
// when this node leads; through a peer they arrive as text.
func (c *cluster) propose(ctx context.Context, cmd store.Command) (json.RawMessage, error) {
	start := time.Now()
	if c.store.IsLeader() {
		v, err := c.store.Apply(ctx, cmd)
		c.apply.Observe(time.Since(start).Seconds())
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	leader, err := c.leaderURL()
	if err != nil {
		return nil, err
	}
	var out struct {
		Value json.RawMessage `json:"value"`
		Error string          `json:"error"`
	}
	if err := c.peerJSON(ctx, "POST", leader+"/internal/v1/apply", cmd, &out); err != nil {
		return nil, err
	}
	if out.Error != "" {
		return nil, errors.New(out.Error)
	}
	return out.Value, nil
}

// leaderURL returns the leader's advertised HTTP base URL, or an error
// wrapping store.ErrNotLeader when no leader (or no address for it) is
// known.
func (c *cluster) leaderURL() (string, error) {
	_, id := c.store.Leader()
	if id == "" {
		return "", store.ErrNotLeader
	}
	n, err := c.store.State().Node(id)
	if err != nil {
		return "", fmt.Errorf("leader %s has no known http address: %w", id, store.ErrNotLeader)
	}
	return n.HTTPAddr, nil
}

// forward proxies a request to the leader, once.
func (c *cluster) forward(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(forwardedHeader) != "" {
		writeError(w, http.StatusServiceUnavailable, "forwarded request reached a non-leader; leadership is changing, retry")
		return
	}
	leader, err := c.leaderURL()
	if err != nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "no leader known: %v; retry", err)
		return
	}
	u, err := url.Parse(leader)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "leader address %q: %v", leader, err)
		return
	}
	rp := &httputil.ReverseProxy{
		Transport: c.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(forwardedHeader, c.nodeID)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusBadGateway, "forwarding to leader %s: %v", leader, err)
		},
	}
	rp.ServeHTTP(w, r)
}

// peerRequest is a request to a peer's /internal/v1 endpoint carrying the
// cluster's peer secret.
func (c *cluster) peerRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	id, err := c.store.State().Identity()
	if err != nil {
		return nil, fmt.Errorf("no cluster identity yet: %w", err)
	}
	var req *http.Request
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, strings.NewReader(string(body)))
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+id.PeerSecret)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// peerJSON sends in as JSON to a peer endpoint and decodes the answer into
// out (when not nil); a non-2xx answer is an error naming its status.
func (c *cluster) peerJSON(ctx context.Context, method, u string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := c.peerRequest(ctx, method, u, b)
	if err != nil {
		return err
	}
	resp, err := c.peer.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, e.Error)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// handleApply is POST /internal/v1/apply: a follower's propose, applied
// here if this node still leads.
func (c *cluster) handleApply(w http.ResponseWriter, r *http.Request) {
	var cmd store.Command
	if err := decodeStrict(w, r, &cmd, 64<<20); err != nil {
		writeInputError(w, err)
		return
	}
	if !c.store.IsLeader() {
		writeError(w, http.StatusServiceUnavailable, "not the leader")
		return
	}
	v, err := c.propose(r.Context(), cmd)
	out := map[string]any{"value": v}
	if err != nil {
		out["error"] = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}
