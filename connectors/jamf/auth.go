package jamf

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
)

// tokens fetches bearer tokens for httpx.Bearer: an API client's
// client-credentials grant, or a user's token, renewed with keep-alive
// while it is still valid and fetched again with Basic once it is not.
type tokens struct {
	c      *Connector
	client *http.Client // not bearer-authenticated

	mu   sync.Mutex
	last httpx.Token // the user's current token
}

func (t *tokens) fetch(ctx context.Context) (httpx.Token, error) {
	if t.c.cfg.ClientID != "" {
		return t.clientCredentials(ctx)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last.Value != "" && (t.last.Expires.IsZero() || time.Now().Before(t.last.Expires)) {
		tok, err := t.keepAlive(ctx, t.last.Value)
		if err == nil {
			t.last = tok
			return tok, nil
		}
		if connectors.ClassOf(err) == connectors.Transient {
			return httpx.Token{}, err
		}
		// Refused (the token was invalidated or expired early): log in.
	}
	tok, err := t.basic(ctx)
	if err == nil {
		t.last = tok
	}
	return tok, err
}

func (t *tokens) clientCredentials(ctx context.Context) (httpx.Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {t.c.cfg.ClientID}, "client_secret": {t.c.cfg.ClientSecret}}
	_, b, err := t.c.do(ctx, t.client, request{op: "get token", method: http.MethodPost, path: t.c.cfg.TokenPath,
		body: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded", accept: "application/json"})
	if err != nil {
		return httpx.Token{}, err
	}
	var tok oauthToken
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return httpx.Token{}, permanent("get token", "the token endpoint answered without an access_token")
	}
	out := httpx.Token{Value: tok.AccessToken}
	if tok.ExpiresIn > 0 {
		out.Expires = time.Now().Add(time.Duration(tok.ExpiresIn * float64(time.Second)))
	}
	return out, nil
}

func (t *tokens) basic(ctx context.Context) (httpx.Token, error) {
	return t.userToken(ctx, "get token", "/api/v1/auth/token", func(r *http.Request) { r.SetBasicAuth(t.c.cfg.Username, t.c.cfg.Password) })
}

func (t *tokens) keepAlive(ctx context.Context, old string) (httpx.Token, error) {
	return t.userToken(ctx, "renew token", "/api/v1/auth/keep-alive", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+old) })
}

// userToken posts to a path answering {"token","expires"}.
func (t *tokens) userToken(ctx context.Context, op, path string, auth func(*http.Request)) (httpx.Token, error) {
	_, b, err := t.c.do(ctx, t.client, request{op: op, method: http.MethodPost, path: path, accept: "application/json", auth: auth})
	if err != nil {
		return httpx.Token{}, err
	}
	var tok userToken
	if err := json.Unmarshal(b, &tok); err != nil || tok.Token == "" {
		return httpx.Token{}, permanent(op, "the token endpoint answered without a token")
	}
	out := httpx.Token{Value: tok.Token}
	if exp, err := time.Parse(time.RFC3339Nano, tok.Expires); err == nil {
		out.Expires = exp
	}
	return out, nil
}

// invalidate ends the user's token, if there is one. A token the plane
// no longer knows is already invalid.
func (t *tokens) invalidate(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last.Value == "" {
		return nil
	}
	old := t.last.Value
	_, _, err := t.c.do(ctx, t.client, request{op: "invalidate token", method: http.MethodPost, path: "/api/v1/auth/invalidate-token",
		accept: "application/json", auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+old) }})
	var ce *connectors.Error
	if err == nil || errors.As(err, &ce) && ce.Status == http.StatusUnauthorized {
		t.last = httpx.Token{}
		return nil
	}
	return err
}

func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }

func xmlBody(v any) ([]byte, error) {
	b, err := xml.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}
