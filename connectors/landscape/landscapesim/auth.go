package landscapesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors/landscape/sigv2"
)

// apiError is an answer in Landscape's error shape.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"InternalError","message":"unencodable answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// authenticate checks a legacy request: a valid bearer JWT, or a
// signature version 2 over the received parameters with a valid key and
// a timestamp within the window. s.mu is held.
func (s *Server) authenticate(r *http.Request, p url.Values, u *url.URL) *apiError {
	if h := r.Header.Get("Authorization"); h != "" {
		if !strings.HasPrefix(h, "Bearer ") || !s.tokenValid(strings.TrimPrefix(h, "Bearer ")) {
			return errorf(http.StatusUnauthorized, "InvalidCredentials", "The bearer token is invalid or has expired.")
		}
		return nil
	}
	var missing []string
	for _, k := range []string{sigv2.ParamAccessKey, sigv2.ParamMethod, sigv2.ParamVersion, sigv2.ParamTimestamp, sigv2.ParamSignature} {
		if p.Get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return errorf(http.StatusUnauthorized, "AuthFailure", "The request is not signed: missing %s.", strings.Join(missing, ", "))
	}
	if m := p.Get(sigv2.ParamMethod); m != sigv2.Method {
		return errorf(http.StatusUnauthorized, "AuthFailure", "Unsupported signature_method %q: use %s.", m, sigv2.Method)
	}
	if v := p.Get(sigv2.ParamVersion); v != sigv2.Version {
		return errorf(http.StatusUnauthorized, "AuthFailure", "Unsupported signature_version %q: use %s.", v, sigv2.Version)
	}
	ts, err := time.Parse(sigv2.TimeFormat, p.Get(sigv2.ParamTimestamp))
	if err != nil {
		return errorf(http.StatusUnauthorized, "AuthFailure", "Invalid timestamp %q: want YYYY-MM-DDTHH:MM:SSZ.", p.Get(sigv2.ParamTimestamp))
	}
	now := s.now()
	if d := now.Sub(ts); d > s.opts.SignatureWindow || d < -s.opts.SignatureWindow {
		return errorf(http.StatusUnauthorized, "AuthFailure", "The timestamp %s is more than %s from the server's time %s.",
			ts.Format(sigv2.TimeFormat), s.opts.SignatureWindow, now.Format(sigv2.TimeFormat))
	}
	k := s.keys[p.Get(sigv2.ParamAccessKey)]
	if k == nil || !s.tokenValid(k.token) {
		return errorf(http.StatusUnauthorized, "InvalidCredentials", "The access key %q is unknown or has been revoked.", p.Get(sigv2.ParamAccessKey))
	}
	sts := sigv2.StringToSign(r.Method, r.Host, u.EscapedPath(), p)
	if !sigv2.Verify(k.secret, sts, p.Get(sigv2.ParamSignature)) {
		return errorf(http.StatusUnauthorized, "SignatureDoesNotMatch",
			"The request signature does not match the signature the server calculated. The string to sign was %q.", sts)
	}
	return nil
}

// login is POST /api/v2/login/access-key: {"access_key","secret_key"} to
// {"token"}.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use POST")
		return
	}
	var in struct {
		AccessKey *string `json:"access_key"`
		SecretKey *string `json:"secret_key"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.AccessKey == nil || in.SecretKey == nil {
		writeError(w, http.StatusBadRequest, "InvalidParameter", `want {"access_key": ..., "secret_key": ...}`)
		return
	}
	s.mu.Lock()
	k := s.keys[*in.AccessKey]
	ok := k != nil && k.secret == *in.SecretKey && s.tokenValid(k.token)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusUnauthorized, "InvalidCredentials", "Invalid access key or secret key.")
		return
	}
	tok := s.issue(s.opts.TokenLifetime)
	writeJSON(w, http.StatusOK, map[string]any{
		"token": tok, "email": "simulator@eucora.invalid", "name": "EUCORA simulator",
		"accounts": []map[string]string{{"name": "standalone", "title": "Standalone"}}, "current_account": "standalone",
	})
}

// bearer checks a REST v2 request's JWT.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) bool {
	if !s.tokens.Valid(r) {
		writeError(w, http.StatusUnauthorized, "InvalidCredentials", "The bearer token is missing, invalid or has expired.")
		return false
	}
	return true
}
