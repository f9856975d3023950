// Package intunesim is a simulator of the parts of Microsoft Graph that
// publish Intune apps, faithful enough that EUCORA's Intune connector and
// the official Microsoft Graph Go SDK, pointed at it, work unchanged:
//
//   - the Entra ID client-credentials token endpoint
//     (POST /{tenant}/oauth2/v2.0/token), bearer tokens that expire;
//   - /beta and /v1.0 /deviceAppManagement/mobileApps: create, get, list
//     ($filter isof and displayName eq, $top, $select, @odata.nextLink
//     paging at Options.PageSize), PATCH, DELETE, for win32LobApp,
//     macOSPkgApp, macOSDmgApp, iosLobApp and androidLobApp, with
//     request bodies validated against the documented schema (unknown
//     @odata.type, unknown properties, missing required fields, wrong
//     JSON types and enum values answer 400 in Graph's error shape);
//   - content versions and files under both sub-path forms (with and
//     without the microsoft.graph.<type> cast segment), uploadState
//     moving through azureStorageUriRequestPending/Success, renewUpload,
//     and commit, where the simulator DECRYPTS the uploaded file with the
//     fileEncryptionInfo sent and refuses a wrong MAC, key, size or digest
//     as the service does (commitFileFailed);
//   - an Azure block blob endpoint (/blob/...) standing for
//     azureStorageUri: Put Block and Put Block List with a SAS-like
//     query whose signature and expiry are checked;
//   - committedContentVersion and publishingState, assignments (list,
//     create, delete, /assign replacing the whole list), supersedence and
//     dependency relationships (beta updateRelationships, at most 10
//     supersedences), deviceStatuses and installSummary driven by the
//     devices of each assigned group (with Options.Fleet, by simulated
//     devices that act at their check-ins, connectors/sim/fleet);
//   - eventual consistency: a new app answers 404 for
//     Options.ConsistencyDelay requests, and every asynchronous state
//     (upload URI, renewal, commit, publishing) stays pending for that
//     many polls.
//
// Handler wraps everything in the connectors/sim fault set (429 storms,
// 5xx, slow answers, dropped connections).
package intunesim

import (
	"compress/gzip"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/connectors/sim/fleet"
)

// Device is one managed device in a group.
type Device struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// UserPrincipalName is the device's primary user, if any.
	UserPrincipalName string `json:"user_principal_name,omitempty"`
}

// Outcome is what a device reports once it has acted on an assignment.
type Outcome struct {
	State     string // installed, failed, notInstalled, uninstallFailed, notApplicable
	Detail    string // installStateDetail
	ErrorCode int64
}

// Options configures a simulator.
type Options struct {
	// Tenant, ClientID and ClientSecret are the credentials the token
	// endpoint accepts (defaults: a fixed tenant id, "eucora-sim" and a
	// random secret; Credentials reports them).
	Tenant, ClientID, ClientSecret string
	// PageSize is the most entities a collection answers per page
	// (default 100); $top asks for fewer.
	PageSize int
	// ConsistencyDelay is the number of requests a new app answers 404
	// to, and the number of polls every asynchronous state stays pending.
	ConsistencyDelay int
	// Groups are the Entra groups assignments may target, with their
	// devices. Nil accepts any group id (with no devices).
	Groups map[string][]Device
	// InstallAfter is the number of status reads (deviceStatuses or
	// installSummary of the app) after which a device that was told to
	// install or uninstall reports its outcome (default 1).
	InstallAfter int
	// Outcome decides what a device reports after an install (default:
	// installed). Uninstalls report notInstalled.
	Outcome func(appID string, d Device) Outcome
	// SASLifetime is how long an upload URI is valid (default 1 hour).
	SASLifetime time.Duration
	// TokenLifetime is how long an access token is valid (default 1 hour).
	TokenLifetime time.Duration
	// MaxBlobSize bounds one uploaded file (default 1 GiB; the simulator
	// holds blocks in memory).
	MaxBlobSize int64
	// SequentialIDs makes ids predictable (00000000-0000-4000-8000-
	// 000000000001, ...), for tests that must name a path in advance.
	SequentialIDs bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Fleet, when set, is the tenant's devices instead of Groups: an
	// Entra group id is a fleet group's name (every fleet group exists,
	// no other), and a device an assignment reaches acts on it at its
	// next check-in by Now (pendingInstall until then; then installed,
	// or failed at the fleet's rate for the app and version named by the
	// release marker in the app's notes; an uninstall reports
	// notInstalled), at the check-in's time. InstallAfter and Outcome do
	// not apply. The fleet's admin API is served under /_sim/fleet.
	Fleet *fleet.Fleet
}

// Credentials are what a client needs to authenticate.
type Credentials struct {
	Tenant       string `json:"tenant"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Scope is the scope to ask for.
	Scope string `json:"scope"`
}

// Server is one simulated tenant.
type Server struct {
	o      Options
	faults sim.Faults
	tokens sim.Tokens
	sasKey []byte

	mu     sync.Mutex
	seq    int
	apps   map[string]*app
	order  []string // app ids in creation order
	blobs  map[string]*blob
	groups map[string][]Device
	fleet  *fleet.Fleet
}

// New makes a simulator.
func New(o Options) *Server {
	if o.Tenant == "" {
		o.Tenant = "5c3c1c2e-0000-4000-8000-00000000e0c0"
	}
	if o.ClientID == "" {
		o.ClientID = "eucora-sim"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = randomHex(16)
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.InstallAfter <= 0 {
		o.InstallAfter = 1
	}
	if o.SASLifetime <= 0 {
		o.SASLifetime = time.Hour
	}
	if o.MaxBlobSize <= 0 {
		o.MaxBlobSize = 1 << 30
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, sasKey: []byte(randomHex(32)), apps: map[string]*app{}, blobs: map[string]*blob{}, groups: o.Groups, fleet: o.Fleet}
	s.tokens.Lifetime = o.TokenLifetime
	s.tokens.Now = o.Now
	return s
}

// Faults is the fault set in front of the simulator.
func (s *Server) Faults() *sim.Faults { return &s.faults }

// Tokens is the token issuer; Tokens().Issue() gives a token a client can
// use as a static bearer token.
func (s *Server) Tokens() *sim.Tokens { return &s.tokens }

// Credentials reports the client credentials the token endpoint accepts.
func (s *Server) Credentials() Credentials {
	return Credentials{Tenant: s.o.Tenant, ClientID: s.o.ClientID, ClientSecret: s.o.ClientSecret, Scope: "https://graph.microsoft.com/.default"}
}

// Handler is the simulator with its faults applied (and, with a Fleet,
// the fleet's admin API under /_sim/fleet, without faults or tokens).
func (s *Server) Handler() http.Handler {
	return fleet.Mount(s.faults.Wrap(http.HandlerFunc(s.serve)), s.o.Fleet, s.o.Now)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newID returns a GUID (sequential under Options.SequentialIDs). Callers
// hold s.mu.
func (s *Server) newID() string {
	s.seq++
	if s.o.SequentialIDs {
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
	}
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// graphTime renders t as Graph does (seven fractional digits, UTC).
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// request is one Graph request being served.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	version string // "beta" or "v1.0"
	base    string // scheme://host
	reqID   string
}

func (q *request) beta() bool { return q.version == "beta" }

// serve routes a request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := &request{w: w, r: r, base: scheme + "://" + r.Host, reqID: s.newRequestID()}
	switch {
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		s.token(q, parts[0])
		return
	case len(parts) >= 1 && parts[0] == "blob":
		s.blobRequest(q, parts[1:])
		return
	case len(parts) >= 1 && (parts[0] == "beta" || parts[0] == "v1.0"):
		q.version = parts[0]
	default:
		q.fail(http.StatusNotFound, "BadRequest", fmt.Sprintf("Invalid version: %s", clipText(parts[0])))
		return
	}
	if !s.tokens.Valid(r) {
		msg := "Lifetime validation failed, the token is expired."
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			msg = "Access token is empty."
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		q.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return
	}
	rest := parts[1:]
	if len(rest) >= 1 && rest[0] == "groups" {
		s.groupMembers(q, rest[1:])
		return
	}
	if len(rest) < 2 || rest[0] != "deviceAppManagement" || rest[1] != "mobileApps" {
		q.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", clipText(strings.Join(rest, "/"))))
		return
	}
	s.mobileApps(q, rest[2:])
}

func (s *Server) newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func clipText(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// graphError is Graph's error body.
type graphError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func (q *request) headers() {
	h := q.w.Header()
	h.Set("request-id", q.reqID)
	if c := q.r.Header.Get("client-request-id"); c != "" {
		h.Set("client-request-id", c)
	} else {
		h.Set("client-request-id", q.reqID)
	}
	h.Set("OData-Version", "4.0")
}

// fail answers with Graph's error shape.
func (q *request) fail(status int, code, msg string) {
	var e graphError
	e.Error.Code, e.Error.Message = code, msg
	e.Error.InnerError.Date = time.Now().UTC().Format("2006-01-02T15:04:05")
	e.Error.InnerError.RequestID = q.reqID
	e.Error.InnerError.ClientRequestID = q.r.Header.Get("client-request-id")
	if e.Error.InnerError.ClientRequestID == "" {
		e.Error.InnerError.ClientRequestID = q.reqID
	}
	q.headers()
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(status)
	json.NewEncoder(q.w).Encode(e)
}

func (q *request) badRequest(format string, args ...any) {
	q.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf(format, args...))
}

func (q *request) notFound(what string) {
	q.fail(http.StatusNotFound, "ResourceNotFound", what+" was not found.")
}

func (q *request) methodNotAllowed() {
	q.fail(http.StatusMethodNotAllowed, "BadRequest", fmt.Sprintf("The HTTP method '%s' is not allowed for this resource.", q.r.Method))
}

// reply answers with a JSON body.
func (q *request) reply(status int, body any) {
	q.headers()
	q.w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	q.w.WriteHeader(status)
	json.NewEncoder(q.w).Encode(body)
}

func (q *request) noContent() {
	q.headers()
	q.w.WriteHeader(http.StatusNoContent)
}

// context is the @odata.context of a path.
func (q *request) context(path string) string {
	return q.base + "/" + q.version + "/$metadata#" + path
}

// decode reads a JSON object body (at most 1 MiB).
func (q *request) decode() (map[string]any, bool) {
	if ct := q.r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		q.fail(http.StatusUnsupportedMediaType, "BadRequest", fmt.Sprintf("Content type '%s' is not supported.", clipText(ct)))
		return nil, false
	}
	var body io.Reader = http.MaxBytesReader(q.w, q.r.Body, 1<<20)
	switch enc := strings.ToLower(q.r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		// Graph takes gzip request bodies (the SDKs' compression
		// handler sends them).
		zr, err := gzip.NewReader(body)
		if err != nil {
			q.badRequest("The gzip request body is unreadable: %s", clipText(err.Error()))
			return nil, false
		}
		body = io.LimitReader(zr, 4<<20)
	default:
		q.fail(http.StatusUnsupportedMediaType, "BadRequest", fmt.Sprintf("Content encoding '%s' is not supported.", clipText(enc)))
		return nil, false
	}
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		q.badRequest("The request body is not a JSON object: %s", clipText(err.Error()))
		return nil, false
	}
	if m == nil {
		q.badRequest("The request body is empty or null.")
		return nil, false
	}
	return m, true
}

// page answers a collection, paged at PageSize or $top, with an absolute
// @odata.nextLink carrying an opaque $skiptoken.
func (s *Server) page(q *request, contextPath string, items []map[string]any) {
	s.pageOf(q, contextPath, len(items), func(i int) map[string]any { return items[i] })
}

// pageOf is page over n items that item renders, only those of the page
// asked for (a collection of 10,000 device statuses is not rendered 100
// times over).
func (s *Server) pageOf(q *request, contextPath string, n int, item func(int) map[string]any) {
	size := s.o.PageSize
	v := q.r.URL.Query()
	if t := v.Get("$top"); t != "" {
		top, err := strconv.Atoi(t)
		if err != nil || top < 0 {
			q.badRequest("Invalid value '%s' for $top query option.", clipText(t))
			return
		}
		size = min(size, max(top, 1))
	}
	start := 0
	if tok := v.Get("$skiptoken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		k, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || k < 0 || !strings.HasPrefix(string(b), "offset:") {
			q.badRequest("The $skiptoken '%s' is not valid.", clipText(tok))
			return
		}
		start = min(k, n)
	}
	end := min(start+size, n)
	sel := selectOf(v.Get("$select"))
	out := make([]map[string]any, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, project(item(i), sel))
	}
	body := map[string]any{"@odata.context": q.context(contextPath), "value": out}
	if end < n {
		v.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("offset:"+strconv.Itoa(end))))
		u := url.URL{Scheme: "", Path: q.r.URL.Path, RawQuery: v.Encode()}
		body["@odata.nextLink"] = q.base + u.String()
	}
	q.reply(http.StatusOK, body)
}

func selectOf(s string) map[string]bool {
	if s == "" {
		return nil
	}
	m := map[string]bool{"id": true, "@odata.type": true}
	for _, f := range strings.Split(s, ",") {
		m[strings.TrimSpace(f)] = true
	}
	return m
}

func project(m map[string]any, sel map[string]bool) map[string]any {
	if sel == nil {
		return m
	}
	out := map[string]any{}
	for k, v := range m {
		if sel[k] {
			out[k] = v
		}
	}
	return out
}

// sasSignature signs an upload URI's path and expiry.
func (s *Server) sasSignature(path, expiry string) string {
	m := hmac.New(sha256.New, s.sasKey)
	m.Write([]byte(path + "\n" + expiry))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
