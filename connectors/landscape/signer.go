package landscape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/landscape/sigv2"
)

// Signer signs every request with Landscape's signature version 2: it
// adds access_key_id, signature_method=HmacSHA256, signature_version=2
// and timestamp to the request's parameters (the URL query of a GET, the
// form body of a POST) and then the signature over them (package sigv2).
// Each send is signed anew, so a request replayed after a 429 carries a
// fresh timestamp.
//
// When Landscape answers 401 (a refused key or signature), Signer asks
// Credentials again; if they changed (the key was rotated) the request
// is signed with the new key and sent once more, otherwise the 401 is
// returned as it came.
type Signer struct {
	Next        http.RoundTripper
	Credentials func(ctx context.Context) (Credentials, error)
	Now         func() time.Time

	mu  sync.Mutex
	cur *Credentials
	// refreshes counts credential changes taken after a refusal.
	refreshes int
}

func (s *Signer) credentials(ctx context.Context, refused *Credentials) (Credentials, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && (refused == nil || *s.cur != *refused) {
		// Not yet fetched, or another request already took new ones.
		return *s.cur, refused != nil, nil
	}
	c, err := s.Credentials(ctx)
	if err != nil {
		var ce *connectors.Error
		if errors.As(err, &ce) {
			return Credentials{}, false, err
		}
		return Credentials{}, false, permanent("credentials", err)
	}
	changed := refused != nil && c != *refused
	if changed {
		s.refreshes++
	}
	s.cur = &c
	return c, changed, nil
}

// RoundTrip implements http.RoundTripper.
func (s *Signer) RoundTrip(req *http.Request) (*http.Response, error) {
	params, err := requestParams(req)
	if err != nil {
		return nil, err
	}
	creds, _, err := s.credentials(req.Context(), nil)
	if err != nil {
		return nil, err
	}
	next := s.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(s.sign(req, params, creds))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	fresh, changed, err := s.credentials(req.Context(), &creds)
	if err != nil || !changed {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return next.RoundTrip(s.sign(req, params, fresh))
}

// requestParams reads the request's parameters (its URL query and, for a
// form POST, its body) and closes the body.
func requestParams(req *http.Request) (url.Values, error) {
	params := req.URL.Query()
	if req.Body == nil || req.Body == http.NoBody {
		return params, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, permanent("sign", fmt.Errorf("reading the request body: %w", err))
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, permanent("sign", fmt.Errorf("the request body is not a form: %w", err))
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, nil
}

// sign returns a copy of req carrying params with the authentication
// parameters and the signature: in the URL for a GET, as the form body
// otherwise.
func (s *Signer) sign(req *http.Request, params url.Values, c Credentials) *http.Request {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	p := url.Values{}
	for k, vs := range params {
		p[k] = append([]string(nil), vs...)
	}
	p.Set(sigv2.ParamAccessKey, c.AccessKey)
	p.Set(sigv2.ParamMethod, sigv2.Method)
	p.Set(sigv2.ParamVersion, sigv2.Version)
	p.Set(sigv2.ParamTimestamp, now().UTC().Format(sigv2.TimeFormat))
	p.Del(sigv2.ParamSignature)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	sig := sigv2.Sign(c.SecretKey, sigv2.StringToSign(req.Method, host, req.URL.EscapedPath(), p))
	encoded := sigv2.CanonicalQuery(p) + "&" + sigv2.ParamSignature + "=" + sigv2.Encode(sig)

	r := req.Clone(req.Context())
	u := *req.URL
	r.URL = &u
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		r.URL.RawQuery = encoded
		r.Body, r.GetBody, r.ContentLength = http.NoBody, nil, 0
		return r
	}
	r.URL.RawQuery = ""
	r.Body = io.NopCloser(strings.NewReader(encoded))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(encoded)), nil }
	r.ContentLength = int64(len(encoded))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}
