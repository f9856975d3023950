package intunesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// tokenError is Entra ID's OAuth error body.
type tokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// token serves the client-credentials grant of
// POST /{tenant}/oauth2/v2.0/token.
func (s *Server) token(q *request, tenant string) {
	fail := func(status int, code string, aadsts int, desc string) {
		q.w.Header().Set("Content-Type", "application/json; charset=utf-8")
		q.w.WriteHeader(status)
		now := time.Now().UTC()
		json.NewEncoder(q.w).Encode(tokenError{
			Error:            code,
			ErrorDescription: fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, q.reqID, q.reqID, now.Format("2006-01-02 15:04:05Z")),
			ErrorCodes:       []int{aadsts},
			Timestamp:        now.Format("2006-01-02 15:04:05Z"),
			TraceID:          q.reqID, CorrelationID: q.reqID,
			ErrorURI: "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts),
		})
	}
	if q.r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if !strings.EqualFold(tenant, s.o.Tenant) {
		fail(http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", clipText(tenant)))
		return
	}
	q.r.Body = http.MaxBytesReader(q.w, q.r.Body, 64<<10)
	if err := q.r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := q.r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		fail(http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", clipText(f.Get("grant_type"))))
	case f.Get("client_id") != s.o.ClientID:
		fail(http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", clipText(f.Get("client_id"))))
	case f.Get("client_secret") != s.o.ClientSecret:
		fail(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
	case !strings.HasSuffix(f.Get("scope"), "/.default"):
		fail(http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", clipText(f.Get("scope"))))
	default:
		tok, life := s.tokens.Issue()
		q.w.Header().Set("Content-Type", "application/json; charset=utf-8")
		secs := int(life/time.Second) - 1
		json.NewEncoder(q.w).Encode(map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
	}
}
