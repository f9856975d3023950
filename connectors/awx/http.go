package awx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
	textclip "github.com/eucora/eucora/internal/clip"
)

// maxBody bounds an answer the connector reads.
const maxBody = 64 << 20

// maxPages bounds a list walk (200 objects a page).
const maxPages = 5000

// call sends one request to ref (a path with an optional query, relative
// to the base URL) and decodes a JSON answer into out (or copies a text
// answer into a *string). Every failure is a *connectors.Error.
func (c *Client) call(ctx context.Context, op, method, ref string, body, out any) error {
	u, err := c.base.Parse(ref)
	if err != nil {
		return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: fmt.Errorf("bad reference %q: %w", ref, err)}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	c.log.DebugContext(ctx, "awx request", "op", op, "method", method, "path", u.Path, "status", resp.StatusCode, "bytes", len(data),
		"duration", time.Since(start).Round(time.Millisecond))
	if err != nil {
		// The answer broke off: whether the plane acted is unknown, and
		// every operation is safe to retry.
		return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Transient, Status: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(op, resp.StatusCode, resp.Header, data)
	}
	switch o := out.(type) {
	case nil:
	case *string:
		*o = string(data)
	default:
		if err := json.Unmarshal(data, out); err != nil {
			return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Status: resp.StatusCode,
				Err: fmt.Errorf("unreadable answer: %w", err)}
		}
	}
	return nil
}

// transportError classifies a request that got no answer.
func transportError(op string, err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) { // the token request failed: keep its class and words
		e := *ce
		e.Op = op + ": " + ce.Op
		return &e
	}
	class := connectors.ClassOf(err)
	if errors.Is(err, context.Canceled) {
		class = connectors.Permanent
	} else if !errors.Is(err, context.DeadlineExceeded) {
		// A refused, reset or dropped connection: the plane may or may
		// not have acted.
		class = connectors.Transient
	}
	return &connectors.Error{Plane: connectors.AWX, Op: op, Class: class, Err: err}
}

// statusError maps an AWX error answer onto a *connectors.Error: the class
// from the status (429 and 5xx transient, 403 a policy refusal, other 4xx
// permanent), the message from Django REST Framework's error body.
func statusError(op string, status int, h http.Header, body []byte) *connectors.Error {
	code, msg := ParseError(body)
	e := &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.ClassOfStatus(status), Status: status, Code: code, Message: msg,
		NotFound: status == http.StatusNotFound}
	if d, ok := httpx.RetryAfter(h, time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

// ParseError reads AWX's error bodies, which are Django REST Framework's:
// {"detail": "msg"} for request-level errors, {"field": ["msg", ...]} per
// invalid field (code is then the first field, in name order, and msg
// names every field), {"error": "msg"} on some AWX views. A body that is
// none of these gives its first line as the message.
func ParseError(body []byte) (code, msg string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || len(m) == 0 {
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		return "", clip(line, 300)
	}
	for _, k := range []string{"detail", "error"} {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && len(m) == 1 {
			return "", clip(s, 1000)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+flatten(m[k]))
	}
	return keys[0], clip(strings.Join(parts, "; "), 1000)
}

// flatten renders a field's errors: a string, a list of strings, or
// nested objects (DRF nests errors of nested serializers).
func flatten(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, x := range list {
			out = append(out, flatten(x))
		}
		return strings.Join(out, " ")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var out []string
		for _, k := range keys {
			out = append(out, k+": "+flatten(obj[k]))
		}
		return "{" + strings.Join(out, "; ") + "}"
	}
	return strings.TrimSpace(string(raw))
}

// clip bounds the plane's text in an error: valid UTF-8, at most n bytes
// and a "..." that says it was cut.
func clip(s string, n int) string {
	c := textclip.String(s, n)
	if c != strings.ToValidUTF8(s, "?") {
		c += "..."
	}
	return c
}

// Page is one page of a DRF list answer.
type Page struct {
	Count    int               `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []json.RawMessage `json:"results"`
}

// ParsePage reads a list answer.
func ParsePage(data []byte) (Page, error) {
	var p Page
	if err := json.Unmarshal(data, &p); err != nil {
		return p, err
	}
	if p.Results == nil {
		return p, fmt.Errorf("list answer without results")
	}
	return p, nil
}

// nextRef checks a page's next link: AWX sends a path relative to the
// server ("/api/v2/...?page=2"); an absolute URL must be on the base host.
func (c *Client) nextRef(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", err
	}
	if u.IsAbs() && u.Host != c.base.Host {
		return "", fmt.Errorf("next link %q leaves %s", next, c.base.Host)
	}
	if !strings.HasPrefix(u.Path, "/api/") {
		return "", fmt.Errorf("next link %q is not an API path", next)
	}
	return u.RequestURI(), nil
}

// walk reads every page of the list at ref, handing each result to each
// until it returns false.
func walk[T any](ctx context.Context, c *Client, op, ref string, each func(T) bool) error {
	for n := 0; ref != ""; n++ {
		if n >= maxPages {
			return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: fmt.Errorf("more than %d pages", maxPages)}
		}
		var raw json.RawMessage
		if err := c.call(ctx, op, http.MethodGet, ref, nil, &raw); err != nil {
			return err
		}
		p, err := ParsePage(raw)
		if err != nil {
			return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: fmt.Errorf("unreadable page: %w", err)}
		}
		for _, r := range p.Results {
			var v T
			if err := json.Unmarshal(r, &v); err != nil {
				return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: fmt.Errorf("unreadable list entry: %w", err)}
			}
			if !each(v) {
				return nil
			}
		}
		ref = ""
		if p.Next != nil && *p.Next != "" {
			if ref, err = c.nextRef(*p.Next); err != nil {
				return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: err}
			}
		}
	}
	return nil
}

// fetchToken makes a personal access token: POST /api/v2/tokens/ with
// Basic auth, through the throttled transport (not through Bearer).
func (c *Client) fetchToken(ctx context.Context, hc *http.Client) (httpx.Token, error) {
	const op = "create token"
	body, _ := json.Marshal(map[string]any{"description": "EUCORA connector", "application": nil, "scope": "write"})
	u, _ := c.base.Parse("/api/v2/tokens/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return httpx.Token{}, &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: err}
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return httpx.Token{}, transportError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return httpx.Token{}, &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Transient, Err: err}
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		e := statusError(op, resp.StatusCode, resp.Header, data)
		if resp.StatusCode == http.StatusUnauthorized {
			e.Class = connectors.Permanent // wrong username or password: a retry will not fix it
		}
		return httpx.Token{}, e
	}
	t, err := ParseToken(data)
	if err != nil {
		return httpx.Token{}, &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Err: err}
	}
	return t, nil
}

// ParseToken reads the answer of POST /api/v2/tokens/.
func ParseToken(data []byte) (httpx.Token, error) {
	var v struct {
		Token   string     `json:"token"`
		Expires *time.Time `json:"expires"`
		Scope   string     `json:"scope"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return httpx.Token{}, fmt.Errorf("unreadable token answer: %w", err)
	}
	if v.Token == "" {
		return httpx.Token{}, fmt.Errorf("token answer without a token")
	}
	if v.Scope != "" && v.Scope != "write" {
		return httpx.Token{}, fmt.Errorf("token scope %q: launching jobs needs write", v.Scope)
	}
	t := httpx.Token{Value: v.Token}
	if v.Expires != nil {
		t.Expires = *v.Expires
	}
	return t, nil
}
