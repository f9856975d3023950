package jamfsim

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

func (s *Server) authRoutes(mux *http.ServeMux) {
	// An API client's client-credentials grant. Jamf documents
	// /api/oauth/token; some clients call /api/v1/oauth/token.
	mux.HandleFunc("POST /api/oauth/token", s.oauthToken)
	mux.HandleFunc("POST /api/v1/oauth/token", s.oauthToken)
	mux.HandleFunc("POST /api/v1/auth/token", s.userToken)
	mux.HandleFunc("POST /api/v1/auth/keep-alive", s.keepAlive)
	mux.HandleFunc("POST /api/v1/auth/invalidate-token", s.invalidateToken)
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "the token request must be form-encoded"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant_type " + gt + " is not supported"})
		return
	}
	if !same(r.PostForm.Get("client_id"), s.opt.ClientID) || !same(r.PostForm.Get("client_secret"), s.opt.ClientSecret) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	tok, life := s.tokens.Issue()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"scope":        "api-role:1",
		"token_type":   "Bearer",
		"expires_in":   int(life / time.Second),
	})
}

// tokenExpiry is the "expires" text of a user token.
func (s *Server) tokenExpiry(life time.Duration) string {
	return s.opt.Now().Add(life).UTC().Format("2006-01-02T15:04:05.000Z")
}

func (s *Server) userToken(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || !same(u, s.opt.Username) || !same(p, s.opt.Password) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"httpStatus": 401, "errors": []any{}})
		return
	}
	tok, life := s.tokens.Issue()
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "expires": s.tokenExpiry(life)})
}

// keepAlive exchanges a valid token for a new one; the old one stops
// working.
func (s *Server) keepAlive(w http.ResponseWriter, r *http.Request) {
	if !s.validToken(r) {
		proError(w, http.StatusUnauthorized, "INVALID_TOKEN", "Unauthorized", "")
		return
	}
	s.revoke(r)
	tok, life := s.tokens.Issue()
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "expires": s.tokenExpiry(life)})
}

func (s *Server) invalidateToken(w http.ResponseWriter, r *http.Request) {
	if !s.validToken(r) {
		proError(w, http.StatusUnauthorized, "INVALID_TOKEN", "Unauthorized", "")
		return
	}
	s.revoke(r)
	w.WriteHeader(http.StatusNoContent)
}

func bearer(r *http.Request) string {
	v, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return v
}

func (s *Server) validToken(r *http.Request) bool {
	if !s.tokens.Valid(r) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.revoked[bearer(r)]
}

func (s *Server) revoke(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[bearer(r)] = true
}

// pro wraps a Jamf Pro API handler: a missing or stale token is a 401 in
// the Jamf Pro API's error shape.
func (s *Server) pro(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.validToken(r) {
			proError(w, http.StatusUnauthorized, "INVALID_TOKEN", "Unauthorized", "")
			return
		}
		h(w, r)
	}
}

// classic wraps a Classic API handler: a missing or stale token is the
// Classic API's HTML 401.
func (s *Server) classic(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.validToken(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Restful JSS Access -- Please supply your credentials"`)
			classicError(w, http.StatusUnauthorized, "The request requires user authentication")
			return
		}
		h(w, r)
	}
}
