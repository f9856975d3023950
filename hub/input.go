package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/signing"
)

// Body size limits.
const (
	maxSmallBody = 64 << 10 // sites, tokens, join
	maxBatchBody = 32 << 20 // events:batch
	maxBatchLen  = 20000    // events per batch
)

// InputError is a request the API refuses before touching state: Status is
// 400 (malformed), 413 (too large) or 422 (well-formed but invalid); Field
// names the offending field when there is one.
type InputError struct {
	Status int
	Field  string
	Msg    string
}

func (e *InputError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

func badField(field, format string, args ...any) *InputError {
	return &InputError{Status: http.StatusUnprocessableEntity, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// decodeJSON decodes exactly one JSON value from r into v, refusing unknown
// fields, duplicate keys, keys that match a field only when case is ignored
// (deploy.CheckKeys) and trailing data. r must be bounded
// (http.MaxBytesReader): the body is read whole before it is decoded.
func decodeJSON(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return jsonError(err)
	}
	if err := deploy.CheckKeys(b, v); err != nil {
		var fe *deploy.FieldError
		if errors.As(err, &fe) {
			return &InputError{Status: http.StatusBadRequest, Field: fe.Field, Msg: fe.Msg}
		}
		return &InputError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &InputError{Status: http.StatusBadRequest, Msg: "trailing data after the JSON body"}
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return &InputError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("body larger than %d bytes", mbe.Limit)}
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "body"
		}
		return &InputError{Status: http.StatusBadRequest, Field: f, Msg: fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)}
	case errors.As(err, &se):
		return &InputError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err)}
	case errors.Is(err, io.EOF):
		return &InputError{Status: http.StatusBadRequest, Msg: "empty body: a JSON object is required"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &InputError{Status: http.StatusBadRequest, Field: f, Msg: "unknown field"}
	}
	return &InputError{Status: http.StatusBadRequest, Msg: "malformed JSON: " + err.Error()}
}

func decodeStrict(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	return decodeJSON(http.MaxBytesReader(w, r.Body, limit), v)
}

func writeInputError(w http.ResponseWriter, err error) {
	var ie *InputError
	if errors.As(err, &ie) {
		writeError(w, ie.Status, "%s", ie.Error())
		return
	}
	writeError(w, http.StatusBadRequest, "%v", err)
}

// DecodeSiteRequest decodes and validates a site request; edgeKey is the
// parsed EdgeKeyPEM, nil when none is given.
func DecodeSiteRequest(r io.Reader) (v api.SiteRequest, edgeKey *signing.PublicKey, err error) {
	if err := decodeJSON(r, &v); err != nil {
		return v, nil, err
	}
	if v.EdgeKeyPEM != "" {
		if edgeKey, err = signing.ParsePublic([]byte(v.EdgeKeyPEM), "edge key"); err != nil {
			return v, nil, badField("edge_key_pem", "%v", err)
		}
	}
	if err := store.ValidateSite(store.Site{Name: v.Name, Class: v.Class, Scope: v.Scope}); err != nil {
		msg := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
		field, rest, _ := strings.Cut(msg, " ")
		return v, nil, badField(strings.TrimSuffix(field, ":"), "%s", rest)
	}
	return v, edgeKey, nil
}

// DecodeTokenRequest decodes and validates a token request.
func DecodeTokenRequest(r io.Reader) (api.TokenRequest, error) {
	var v api.TokenRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, err
	}
	if !store.ValidName(v.Name) {
		return v, badField("name", "%q: want 1-63 characters of a-z, 0-9, '.', '_', '-'", v.Name)
	}
	if _, err := deploy.ParseRole(string(v.Role)); err != nil {
		return v, badField("role", "%v", err)
	}
	if err := v.Scope.Validate(); err != nil {
		return v, badField("scope", "%v", err)
	}
	return v, nil
}

// DecodeJoinRequest decodes and validates a join request.
func DecodeJoinRequest(r io.Reader) (api.JoinRequest, error) {
	var v api.JoinRequest
	if err := decodeJSON(r, &v); err != nil {
		return v, err
	}
	if !store.ValidName(v.NodeID) {
		return v, badField("node_id", "%q: want 1-63 characters of a-z, 0-9, '.', '_', '-'", v.NodeID)
	}
	if _, port, ok := strings.Cut(v.RaftAddr, ":"); !ok || port == "" {
		return v, badField("raft_addr", "%q: want host:port", v.RaftAddr)
	}
	if !strings.HasPrefix(v.HTTPAddr, "http://") && !strings.HasPrefix(v.HTTPAddr, "https://") {
		return v, badField("http_addr", "%q: want an http:// or https:// URL", v.HTTPAddr)
	}
	return v, nil
}

// DecodeEventsBatch decodes and validates POST /v1/events:batch.
func DecodeEventsBatch(r io.Reader) (store.EventsIngestBody, error) {
	var in api.EventsIngest
	if err := decodeJSON(r, &in); err != nil {
		return store.EventsIngestBody{}, err
	}
	v := store.EventsIngestFromAPI(in)
	if len(v.Events) == 0 {
		return v, badField("events", "at least one event is required")
	}
	for i := range v.Events {
		// Canonical form: compact data, none for null, so the stored
		// bytes (and the chain hash) do not depend on the sender's spacing.
		v.Events[i].Time = v.Events[i].Time.UTC()
		d := v.Events[i].Data
		if len(d) == 0 || string(d) == "null" {
			v.Events[i].Data = nil
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, d); err != nil {
			return v, badField(fmt.Sprintf("events[%d].data", i), "%v", err)
		}
		v.Events[i].Data = b.Bytes()
	}
	if len(v.Events) > maxBatchLen {
		return v, &InputError{Status: http.StatusRequestEntityTooLarge, Field: "events", Msg: fmt.Sprintf("%d events; at most %d per batch", len(v.Events), maxBatchLen)}
	}
	if err := store.ValidateIngest(v); err != nil {
		msg := strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
		field, rest, _ := strings.Cut(msg, " ")
		return v, badField(strings.TrimSuffix(field, ":"), "%s", rest)
	}
	return v, nil
}

func roleOf(s string) deploy.Role {
	r, _ := deploy.ParseRole(s)
	return r
}
