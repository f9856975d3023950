// Package client is a small Go client of the hub's HTTP API, used by the
// eucora CLI, the black-box tests and the benchmarks.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/signing"
)

var (
	// ErrDenied is wrapped by *APIError for 401 and 403 answers.
	ErrDenied = errors.New("denied")
	// ErrUnavailable is returned when the hub cannot be reached or has no
	// leader (connection refused, 502/503/504).
	ErrUnavailable = errors.New("hub unavailable")
	// ErrNotFound is wrapped by *APIError for 404 answers.
	ErrNotFound = errors.New("not found")
	// ErrConflict is wrapped by *APIError for 409 answers.
	ErrConflict = errors.New("conflict")
)

// APIError is a non-2xx answer of the hub.
type APIError struct {
	Status  int
	Message string
	Code    string // machine-readable refusal code, when the hub gives one
}

func (e *APIError) Error() string {
	return fmt.Sprintf("hub answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Unwrap maps the status to a sentinel and a bundle refusal code to the
// refusal's error (transfer.RefusalCode.Err), so a bundle the hub refused
// matches the same errors as one refused locally.
func (e *APIError) Unwrap() []error {
	var out []error
	switch e.Status {
	case 401, 403:
		out = append(out, ErrDenied)
	case 404:
		out = append(out, ErrNotFound)
	case 409:
		out = append(out, ErrConflict)
	case 502, 503, 504:
		out = append(out, ErrUnavailable)
	}
	if code, ok := api.ImportRefusalCode(e.Code); ok {
		out = append(out, code.Err())
	}
	return out
}

// Client talks to one hub node.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8440
	Token string
	HTTP  *http.Client
	// Stale makes reads local to the node (?stale=true).
	Stale bool
	// AuthHint, when set, is added to the message of a 401 answer: where
	// the caller looked for a token and how to pass one.
	AuthHint string
}

// New returns a client for base with token.
func New(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

const (
	// maxAnswer caps a JSON answer the client decodes.
	maxAnswer = 64 << 20
	// maxErrorAnswer caps a non-2xx answer: large enough for a policy
	// refusal carrying its stored decision.
	maxErrorAnswer = 16 << 20
)

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.Raw(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s answer: %w", method, path, err)
	}
	return nil
}

// Raw sends a request and returns a 2xx response (caller closes the body),
// a *DeniedError for a 403 that carries the refusing decision, or an
// *APIError.
func (c *Client) Raw(ctx context.Context, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	return c.send(ctx, c.httpClient(), method, path, body, hdr)
}

// httpClient is the client every request goes through: c.HTTP, or
// http.DefaultClient when it is nil.
func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// streamingClient is httpClient without its whole-request Timeout, for
// answers that may take longer to read than any fixed bound (a backup
// with every blob): only the caller's context bounds them. It shares the
// Transport, so connections are reused; c.HTTP is not changed.
func (c *Client) streamingClient() *http.Client {
	hc := *c.httpClient()
	hc.Timeout = 0
	return &hc
}

// Backup streams a backup of the hub's state, with every blob when
// withBlobs is set (GET /v1/backup). The caller closes the reader and
// checks it with hub.ReadBackup. Only ctx bounds the transfer: the
// client's Timeout does not apply.
func (c *Client) Backup(ctx context.Context, withBlobs bool) (io.ReadCloser, error) {
	path := "/v1/backup"
	if withBlobs {
		path += "?blobs=true"
	}
	resp, err := c.send(ctx, c.streamingClient(), "GET", path, nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	u := c.Base + path
	if c.Stale && (method == http.MethodGet || method == http.MethodHead) {
		if strings.Contains(u, "?") {
			u += "&stale=true"
		} else {
			u += "?stale=true"
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if l, ok := body.(interface{ Len() int }); ok && req.ContentLength == 0 && l.Len() > 0 {
		req.ContentLength = int64(l.Len())
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx) // the reason the caller cancelled, if it gave one
		}
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, method, u, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e api.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorAnswer))
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	ae := APIError{Status: resp.StatusCode, Message: e.Error, Code: e.Code}
	if resp.StatusCode == http.StatusUnauthorized && c.AuthHint != "" {
		ae.Message += " (" + c.AuthHint + ")"
	}
	if resp.StatusCode == http.StatusForbidden && e.Decision != nil && e.Decision.ID != "" {
		return nil, &DeniedError{APIError: ae, Decision: *e.Decision}
	}
	return nil, &ae
}

// Status returns the node's view of the cluster.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var s api.Status
	return s, c.do(ctx, "GET", "/v1/status", nil, &s)
}

// HubKey fetches the hub's public signing key.
func (c *Client) HubKey(ctx context.Context) (api.HubKey, error) {
	var k api.HubKey
	return k, c.do(ctx, "GET", "/v1/hub/key", nil, &k)
}

// HubPublicKey fetches the hub's public signing key and parses it. It
// fails when the key does not parse or its id is not the one the hub
// named, so nothing trusts or writes a key that does not match its id.
func (c *Client) HubPublicKey(ctx context.Context) (*signing.PublicKey, error) {
	k, err := c.HubKey(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := signing.ParsePublic([]byte(k.PublicPEM), "hub answer")
	if err != nil {
		return nil, err
	}
	if pub.ID != k.KeyID {
		return nil, fmt.Errorf("hub answered key id %s for a key whose id is %s", k.KeyID, pub.ID)
	}
	return pub, nil
}

// CreateSite registers a site.
func (c *Client) CreateSite(ctx context.Context, r api.SiteRequest) (api.Site, error) {
	var s api.Site
	return s, c.do(ctx, "POST", "/v1/sites", r, &s)
}

// Site returns one site.
func (c *Client) Site(ctx context.Context, name string) (api.Site, error) {
	var s api.Site
	return s, c.do(ctx, "GET", "/v1/sites/"+url.PathEscape(name), nil, &s)
}

// Sites lists the sites in the caller's scope.
func (c *Client) Sites(ctx context.Context) ([]api.Site, error) {
	var out struct {
		Sites []api.Site `json:"sites"`
	}
	return out.Sites, c.do(ctx, "GET", "/v1/sites", nil, &out)
}

// CreateToken creates a token.
func (c *Client) CreateToken(ctx context.Context, r api.TokenRequest) (api.Token, error) {
	var t api.Token
	return t, c.do(ctx, "POST", "/v1/tokens", r, &t)
}

// RevokeToken revokes a token.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/tokens/"+url.PathEscape(id), nil, nil)
}

// Events returns up to limit events after cursor ("" or "0" for the start).
func (c *Client) Events(ctx context.Context, after string, limit int) (api.EventPage, error) {
	var p api.EventPage
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return p, c.do(ctx, "GET", "/v1/events?"+q.Encode(), nil, &p)
}

// IngestEvents posts a batch of an origin's events.
func (c *Client) IngestEvents(ctx context.Context, b api.EventsIngest) (api.IngestResult, error) {
	var r api.IngestResult
	return r, c.do(ctx, "POST", "/v1/events:batch", b, &r)
}

// PutBlob uploads a blob of size bytes that must hash to hex.
func (c *Client) PutBlob(ctx context.Context, hex string, r io.Reader, size int64) error {
	req := io.NopCloser(r)
	hdr := http.Header{"Content-Type": {"application/octet-stream"}}
	resp, err := c.rawSized(ctx, "PUT", "/v1/blobs/sha256/"+hex, req, size, hdr)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (c *Client) rawSized(ctx context.Context, method, path string, body io.ReadCloser, size int64, hdr http.Header) (*http.Response, error) {
	if size >= 0 {
		return c.Raw(ctx, method, path, &sizedReader{body, size}, hdr)
	}
	return c.Raw(ctx, method, path, body, hdr)
}

// sizedReader lets net/http send a Content-Length.
type sizedReader struct {
	io.ReadCloser
	n int64
}

func (s *sizedReader) Len() int { return int(s.n) }

// GetBlob returns a reader over a blob.
func (c *Client) GetBlob(ctx context.Context, hex string) (io.ReadCloser, error) {
	resp, err := c.Raw(ctx, "GET", "/v1/blobs/sha256/"+hex, nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Join asks the cluster to add a voter.
func (c *Client) Join(ctx context.Context, r api.JoinRequest) error {
	return c.do(ctx, "POST", "/v1/cluster/join", r, nil)
}

// RemoveNode removes a member from the cluster.
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/cluster/nodes/"+url.PathEscape(id), nil, nil)
}
