package sccm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
)

// maxPages bounds the pages one list follows: a plane answering nextLinks
// forever is a broken plane, not a big one.
const maxPages = 10000

// client speaks the AdminService's WMI route.
type client struct {
	base *url.URL // ends in "/AdminService/"
	hc   *http.Client
	log  *slog.Logger
}

func newClient(cfg Config) (*client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/") + "/")
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("sccm: base URL %q: want the AdminService URL, e.g. https://cm01.example/AdminService", cfg.BaseURL)
	}
	if !strings.HasSuffix(strings.ToLower(u.Path), "/adminservice/") {
		return nil, fmt.Errorf("sccm: base URL %q: the path must end in /AdminService", cfg.BaseURL)
	}
	if cfg.Auth == nil {
		return nil, errors.New("sccm: no Auth: set ClientCredentials for a cloud management gateway (Windows integrated auth is not implemented)")
	}
	if cc, ok := cfg.Auth.(ClientCredentials); ok {
		if err := cc.validate(); err != nil {
			return nil, fmt.Errorf("sccm: %w", err)
		}
	}
	base, timeout := http.DefaultTransport, time.Duration(0)
	if cfg.HTTP != nil {
		timeout = cfg.HTTP.Timeout
		if cfg.HTTP.Transport != nil {
			base = cfg.HTTP.Transport
		}
	}
	var rt http.RoundTripper = &httpx.Limit{Next: base, Rate: cfg.Rate, Burst: cfg.Burst, Concurrent: cfg.Concurrent}
	rt = &httpx.Throttle{Next: rt, Initial: cfg.ThrottleInitial}
	rt = cfg.Auth.Transport(rt)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &client{base: u, hc: &http.Client{Transport: rt, Timeout: timeout}, log: log}, nil
}

// url resolves a path relative to the AdminService root ("wmi/SMS_Site").
func (c *client) url(rel string) string { return c.base.ResolveReference(&url.URL{Path: rel}).String() }

// sameOrigin checks a nextLink stays on the AdminService: the bearer token
// is not sent anywhere else.
func (c *client) sameOrigin(link string) error {
	u, err := url.Parse(link)
	if err != nil || !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return fmt.Errorf("@odata.nextLink %q leaves the AdminService at %s", link, c.base.Host)
	}
	return nil
}

func planeErr(op string, class connectors.Class, format string, args ...any) *connectors.Error {
	return &connectors.Error{Plane: connectors.SCCM, Op: op, Class: class, Message: fmt.Sprintf(format, args...)}
}

// do sends one request and returns the body of a 2xx answer; any other
// answer is a classified *connectors.Error.
func (c *client) do(ctx context.Context, op, method, target string, body any) ([]byte, error) {
	var rd io.Reader
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, planeErr(op, connectors.Permanent, "encode the request: %v", err)
		}
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.Permanent, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.DebugContext(ctx, "adminservice request failed", "op", op, "method", method, "url", target, "err", err)
		if ce := asError(err); ce != nil {
			return nil, ce // the token endpoint's refusal, in its words
		}
		return nil, &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.ClassOf(err), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	c.log.DebugContext(ctx, "adminservice request", "op", op, "method", method, "url", target, "status", resp.StatusCode,
		"duration_ms", time.Since(start).Milliseconds())
	if err != nil {
		// The answer broke off: the plane may have acted. Every
		// operation is idempotent, so this is for a retry to settle.
		return nil, &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.Transient, Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode/100 == 2 {
		return raw, nil
	}
	return nil, statusError(op, resp, raw)
}

// WMI status codes the SMS Provider passes through in error messages, and
// what they mean for a retry.
var wbemCodes = []struct {
	text     string
	class    connectors.Class
	notFound bool
}{
	{"0x80041003", connectors.Policy, false}, // WBEM_E_ACCESS_DENIED
	{"WBEM_E_ACCESS_DENIED", connectors.Policy, false},
	{"0x80041002", connectors.Permanent, true}, // WBEM_E_NOT_FOUND
	{"WBEM_E_NOT_FOUND", connectors.Permanent, true},
	{"0x80041008", connectors.Permanent, false}, // WBEM_E_INVALID_PARAMETER
	{"0x80041019", connectors.Permanent, false}, // WBEM_E_ALREADY_EXISTS
	{"0x80041013", connectors.Transient, false}, // WBEM_E_PROVIDER_LOAD_FAILURE
	{"0x80041006", connectors.Transient, false}, // WBEM_E_OUT_OF_MEMORY
}

// statusError classifies an answer that is not 2xx: the HTTP status first
// (ClassOfStatus), refined by the WMI code the SMS Provider put in the
// message of a 500 (an access denied is a policy refusal, not a fault).
func statusError(op string, resp *http.Response, raw []byte) *connectors.Error {
	e := &connectors.Error{Plane: connectors.SCCM, Op: op, Status: resp.StatusCode, Class: connectors.ClassOfStatus(resp.StatusCode)}
	if code, msg, ok := parseODataError(raw); ok {
		e.Code, e.Message = code, msg
	} else {
		e.Message = strings.TrimSpace(string(raw[:min(len(raw), 300)]))
	}
	if d, ok := httpx.RetryAfter(resp.Header, time.Now()); ok {
		e.RetryAfter = d
	}
	if e.Message == "" && resp.StatusCode != http.StatusUnauthorized {
		e.Message = http.StatusText(resp.StatusCode)
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		e.NotFound = true
	case http.StatusUnauthorized:
		if e.Message == "" {
			e.Message = "the AdminService refused the credentials"
		}
	case http.StatusInternalServerError:
		for _, w := range wbemCodes {
			if strings.Contains(e.Message, w.text) || strings.EqualFold(e.Code, w.text) {
				e.Class, e.NotFound = w.class, w.notFound
				break
			}
		}
	}
	return e
}

// list reads every object of a class matching query, following
// @odata.nextLink.
func list[T any](ctx context.Context, c *client, op, class string, q url.Values) ([]T, error) {
	target := c.url("wmi/" + class)
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var out []T
	for page := 0; target != ""; page++ {
		if page >= maxPages {
			return nil, planeErr(op, connectors.Permanent, "more than %d pages of %s", maxPages, class)
		}
		raw, err := c.do(ctx, op, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		vals, next, err := parseCollection(raw)
		if err != nil {
			return nil, planeErr(op, connectors.Permanent, "%s: %v", class, err)
		}
		for _, v := range vals {
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, planeErr(op, connectors.Permanent, "%s: %v", class, err)
			}
			out = append(out, x)
		}
		if next != "" {
			if err := c.sameOrigin(next); err != nil {
				return nil, planeErr(op, connectors.Permanent, "%v", err)
			}
		}
		target = next
	}
	return out, nil
}

// get reads one object by key ("SMS_Application(16777220)",
// "SMS_Collection('PS100012')"). A missing object is a NotFound error.
func get[T any](ctx context.Context, c *client, op, keyed string) (T, error) {
	var x T
	raw, err := c.do(ctx, op, http.MethodGet, c.url("wmi/"+keyed), nil)
	if err != nil {
		return x, err
	}
	v, found, err := parseEntity(raw)
	if err != nil {
		return x, planeErr(op, connectors.Permanent, "%s: %v", keyed, err)
	}
	if !found {
		return x, &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.Permanent, NotFound: true, Message: keyed + " not found"}
	}
	if err := json.Unmarshal(v, &x); err != nil {
		return x, planeErr(op, connectors.Permanent, "%s: %v", keyed, err)
	}
	return x, nil
}

// post sends body to a class, an instance or a method and decodes the
// answer's object into out (when out is not nil).
func (c *client) post(ctx context.Context, op, rel string, body, out any) error {
	raw, err := c.do(ctx, op, http.MethodPost, c.url("wmi/"+rel), body)
	if err != nil || out == nil {
		return err
	}
	v, found, err := parseEntity(raw)
	if err == nil && !found {
		err = errors.New("the answer holds no object")
	}
	if err == nil {
		err = json.Unmarshal(v, out)
	}
	if err != nil {
		return planeErr(op, connectors.Permanent, "%s: %v", rel, err)
	}
	return nil
}

func (c *client) patch(ctx context.Context, op, rel string, body any) error {
	_, err := c.do(ctx, op, http.MethodPatch, c.url("wmi/"+rel), body)
	return err
}

// del deletes an instance; one already gone is not an error (a retry of a
// delete whose answer was lost finds nothing).
func (c *client) del(ctx context.Context, op, rel string) error {
	_, err := c.do(ctx, op, http.MethodDelete, c.url("wmi/"+rel), nil)
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.NotFound {
		return nil
	}
	return err
}

// asError returns err's *connectors.Error, or nil.
func asError(err error) *connectors.Error {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// methodResult is what a WMI method answers.
type methodResult struct {
	ReturnValue *int `json:"ReturnValue"`
}

// call invokes a WMI method and checks its ReturnValue.
func (c *client) call(ctx context.Context, op, rel string, body any) error {
	if body == nil {
		body = map[string]any{}
	}
	var r methodResult
	raw, err := c.do(ctx, op, http.MethodPost, c.url("wmi/"+rel), body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if v, found, err := parseEntity(raw); err == nil && found {
		json.Unmarshal(v, &r)
	}
	if r.ReturnValue != nil && *r.ReturnValue != 0 {
		return planeErr(op, connectors.Permanent, "%s returned %d", rel, *r.ReturnValue)
	}
	return nil
}
