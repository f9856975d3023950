package sccm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
)

// Auth authenticates requests to the AdminService. It is a transport
// decorator, so any scheme fits: the connector sends every request
// (token calls included) through Transport(next), where next already
// carries the throttle and rate limit.
//
// Two schemes reach an AdminService:
//
//   - through a cloud management gateway, an Entra ID bearer token:
//     ClientCredentials implements it;
//   - on the intranet, Windows integrated authentication (Negotiate:
//     Kerberos or NTLM against the SMS Provider). It is NOT implemented:
//     EUCORA ships no SPNEGO client. A site that needs it supplies its own
//     Auth wrapping the transport with one (for example a gokrb5 SPNEGO
//     client), or publishes through the CMG.
type Auth interface {
	Transport(next http.RoundTripper) http.RoundTripper
}

// ClientCredentials is the OAuth 2.0 client-credentials grant against
// Entra ID (or any token endpoint speaking it), for an AdminService reached
// through a cloud management gateway. Tokens are renewed before they
// expire and once on a 401 (httpx.Bearer).
type ClientCredentials struct {
	// TokenURL is the token endpoint, e.g.
	// "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token".
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scope is the CMG server application's scope, e.g.
	// "api://<app id>/.default".
	Scope string
}

// Transport implements Auth.
func (cc ClientCredentials) Transport(next http.RoundTripper) http.RoundTripper {
	return &httpx.Bearer{Next: next, Source: cc.source(next)}
}

func (cc ClientCredentials) validate() error {
	switch {
	case cc.TokenURL == "":
		return fmt.Errorf("client credentials: no token URL")
	case cc.ClientID == "" || cc.ClientSecret == "":
		return fmt.Errorf("client credentials: client id and secret are required")
	case cc.Scope == "":
		return fmt.Errorf("client credentials: no scope (the CMG application's \"api://.../.default\")")
	}
	u, err := url.Parse(cc.TokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("client credentials: token URL %q is not an http(s) URL", cc.TokenURL)
	}
	return nil
}

// tokenAnswer is the token endpoint's answer (RFC 6749 section 5.1, and
// the error of section 5.2).
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
}

func (cc ClientCredentials) source(next http.RoundTripper) httpx.TokenSource {
	hc := &http.Client{Transport: next, Timeout: time.Minute}
	return func(ctx context.Context) (httpx.Token, error) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cc.ClientID},
			"client_secret": {cc.ClientSecret}, "scope": {cc.Scope}}
		body := form.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cc.TokenURL, strings.NewReader(body))
		if err != nil {
			return httpx.Token{}, &connectors.Error{Plane: connectors.SCCM, Op: "get token", Class: connectors.Permanent, Err: err}
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return httpx.Token{}, &connectors.Error{Plane: connectors.SCCM, Op: "get token", Class: connectors.ClassOf(err), Err: err}
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return httpx.Token{}, &connectors.Error{Plane: connectors.SCCM, Op: "get token", Class: connectors.Transient, Status: resp.StatusCode, Err: err}
		}
		var a tokenAnswer
		jerr := json.Unmarshal(raw, &a)
		if resp.StatusCode != http.StatusOK {
			e := &connectors.Error{Plane: connectors.SCCM, Op: "get token", Status: resp.StatusCode, Code: a.Error, Message: a.Description}
			e.Class = connectors.ClassOfStatus(resp.StatusCode)
			if d, ok := httpx.RetryAfter(resp.Header, time.Now()); ok {
				e.RetryAfter = d
			}
			if e.Message == "" {
				e.Message = strings.TrimSpace(string(raw[:min(len(raw), 300)]))
			}
			return httpx.Token{}, e
		}
		if jerr != nil || a.AccessToken == "" {
			return httpx.Token{}, &connectors.Error{Plane: connectors.SCCM, Op: "get token", Class: connectors.Permanent, Status: resp.StatusCode,
				Message: "the token endpoint's answer holds no access_token"}
		}
		tok := httpx.Token{Value: a.AccessToken}
		// expires_in is a number (Entra ID) or a string of one (some
		// other issuers).
		if s := strings.Trim(string(a.ExpiresIn), `"`); s != "" {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
				tok.Expires = time.Now().Add(time.Duration(n) * time.Second)
			}
		}
		return tok, nil
	}
}
