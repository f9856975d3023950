package ui

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/charset"
	"github.com/eucora/eucora/internal/clip"
)

// Limits of the console's input.
const (
	// MaxFormBytes bounds a form post's body.
	MaxFormBytes = 16 << 10
	// MaxReason bounds a control's reason, as the API does.
	MaxReason = 1024
	// MaxTokenLen bounds a token typed at the login.
	MaxTokenLen = 512
)

// InputError is a query parameter or form field the console refuses.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// single returns the one value of key in v ("" when absent); a key given
// twice or a key not in allowed is an error naming it.
func single(v url.Values, allowed []string) (map[string]string, error) {
	out := map[string]string{}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			name := clip.String(k, 64)
			if name == "" {
				name = "(a parameter with no name)"
			}
			return nil, bad(name, "unknown parameter (want one of %s)", strings.Join(allowed, ", "))
		}
		if len(v[k]) > 1 {
			return nil, bad(k, "given %d times; give it once", len(v[k]))
		}
		if !utf8.ValidString(v[k][0]) {
			return nil, bad(k, "not valid UTF-8")
		}
		out[k] = v[k][0]
	}
	return out, nil
}

func oneOf(field, got string, want []string) error {
	if got == "" || slices.Contains(want, got) {
		return nil
	}
	return bad(field, "%q: want one of %s", clip.String(got, 64), strings.Join(want, ", "))
}

// Site classes, site states and sort keys of the Sites view.
var (
	SiteClasses = []string{"online", "intermittent", "air-gapped"}
	// SiteStates: stale (beyond its time to compliance), current, chain
	// (its event chain is broken), gaps (events missing), refused (a
	// bundle was refused since the last merged one).
	SiteStates = []string{"stale", "current", "chain", "gaps", "refused"}
	SiteSorts  = []string{"name", "class", "exported", "applied", "receipt", "staleness", "pending", "events", "gaps"}
)

// SitesQuery is the Sites view's query string.
type SitesQuery struct {
	Class, State, Sort string
	Desc               bool
}

// ParseSitesQuery parses ?class=&state=&sort=&dir= of the Sites view.
func ParseSitesQuery(v url.Values) (SitesQuery, error) {
	m, err := single(v, []string{"class", "state", "sort", "dir"})
	if err != nil {
		return SitesQuery{}, err
	}
	q := SitesQuery{Class: m["class"], State: m["state"], Sort: m["sort"]}
	if err := oneOf("class", q.Class, SiteClasses); err != nil {
		return q, err
	}
	if err := oneOf("state", q.State, SiteStates); err != nil {
		return q, err
	}
	if err := oneOf("sort", q.Sort, SiteSorts); err != nil {
		return q, err
	}
	if q.Sort == "" {
		q.Sort = "name"
	}
	switch m["dir"] {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, bad("dir", "%q: want asc or desc", clip.String(m["dir"], 64))
	}
	return q, nil
}

// Encode renders the query back, with sort and direction replaced when
// given ("" keeps them).
func (q SitesQuery) Encode(sort string, desc bool) string {
	v := url.Values{}
	if q.Class != "" {
		v.Set("class", q.Class)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	v.Set("sort", sort)
	if desc {
		v.Set("dir", "desc")
	}
	return v.Encode()
}

var (
	correlationChars = charset.Of("A-Za-z0-9._:-")
	nameFirst        = charset.Of("a-z0-9")
	nameRest         = charset.Of("a-z0-9._-")
)

// AuditQuery is the Audit view's query string.
type AuditQuery struct {
	CorrelationID string
	Before        uint64 // show events with a cursor below (0: the newest)
}

// ParseAuditQuery parses ?correlation_id=&before= of the Audit view.
func ParseAuditQuery(v url.Values) (AuditQuery, error) {
	m, err := single(v, []string{"correlation_id", "before"})
	if err != nil {
		return AuditQuery{}, err
	}
	q := AuditQuery{CorrelationID: strings.TrimSpace(m["correlation_id"])}
	if q.CorrelationID != "" && !charset.Match(q.CorrelationID, 1, 128, correlationChars, correlationChars) {
		return q, bad("correlation_id", "%q: want 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'", clip.String(q.CorrelationID, 64))
	}
	if b := m["before"]; b != "" {
		n, err := strconv.ParseUint(b, 10, 64)
		if err != nil || n == 0 {
			return q, bad("before", "%q: want a cursor (a positive decimal number)", clip.String(b, 64))
		}
		q.Before = n
	}
	return q, nil
}

// DriftQuery is the Drift view's query string.
type DriftQuery struct{ Site, Plane, App string }

// ParseDriftQuery parses ?site=&plane=&app= of the Drift view.
func ParseDriftQuery(v url.Values) (DriftQuery, error) {
	m, err := single(v, []string{"site", "plane", "app"})
	if err != nil {
		return DriftQuery{}, err
	}
	q := DriftQuery{Site: m["site"], Plane: m["plane"], App: m["app"]}
	for _, f := range []struct{ name, v string }{{"site", q.Site}, {"plane", q.Plane}} {
		if f.v != "" && !charset.Match(f.v, 1, 63, nameFirst, nameRest) {
			return q, bad(f.name, "%q: want 1-63 characters of a-z, 0-9, '.', '_', '-'", clip.String(f.v, 64))
		}
	}
	if q.App != "" && !deploy.ValidIdentifier(q.App) {
		return q, bad("app", "%q: want an application id", clip.String(q.App, 64))
	}
	return q, nil
}

// LoginForm is the login form's post.
type LoginForm struct{ Token, CSRF string }

// ParseLoginForm parses the login form.
func ParseLoginForm(v url.Values) (LoginForm, error) {
	m, err := single(v, []string{"token", "csrf"})
	if err != nil {
		return LoginForm{}, err
	}
	f := LoginForm{Token: strings.TrimSpace(m["token"]), CSRF: m["csrf"]}
	switch {
	case f.Token == "":
		return f, bad("token", "missing: paste an API token (eucora token create, or DATA/bootstrap.token)")
	case len(f.Token) > MaxTokenLen:
		return f, bad("token", "longer than %d characters", MaxTokenLen)
	}
	for i := 0; i < len(f.Token); i++ {
		if c := f.Token[i]; c <= ' ' || c >= 0x7f {
			return f, bad("token", "character %d is not printable ASCII (an API token is euc_ followed by base64url)", i+1)
		}
	}
	return f, nil
}

// ActionForm is the post of an action button: the session's CSRF token
// and, for a control, a reason.
type ActionForm struct{ CSRF, Reason string }

// ParseActionForm parses a rollout control's form (logout too: no
// reason).
func ParseActionForm(v url.Values) (ActionForm, error) {
	m, err := single(v, []string{"csrf", "reason"})
	if err != nil {
		return ActionForm{}, err
	}
	f := ActionForm{CSRF: m["csrf"], Reason: strings.TrimSpace(m["reason"])}
	if len(f.Reason) > MaxReason {
		return f, bad("reason", "longer than %d characters", MaxReason)
	}
	return f, nil
}

// CABForm is the post of a CAB approve or deny button.
type CABForm struct {
	CSRF       string
	Subject    string // KIND:ID (deploy.ParseSubject)
	Decision   deploy.ApprovalDecision
	Days       int // the approval holds this many days
	Conditions []string
}

// CABValidityDays are the validity choices of a CAB decision.
var CABValidityDays = []int{1, 7, 14, 30}

// ParseCABForm parses a CAB decision.
func ParseCABForm(v url.Values) (CABForm, error) {
	m, err := single(v, []string{"csrf", "subject", "decision", "days", "conditions"})
	if err != nil {
		return CABForm{}, err
	}
	f := CABForm{CSRF: m["csrf"], Subject: m["subject"], Decision: deploy.ApprovalDecision(m["decision"])}
	if _, _, err := deploy.ParseSubject(f.Subject); err != nil {
		return f, bad("subject", "%v", strings.TrimPrefix(err.Error(), "subject: "))
	}
	if f.Decision != deploy.Approved && f.Decision != deploy.Rejected {
		return f, bad("decision", "%q: want approved or rejected", clip.String(string(f.Decision), 64))
	}
	d := m["days"]
	if d == "" {
		d = "7"
	}
	n, err := strconv.Atoi(d)
	if err != nil || !slices.Contains(CABValidityDays, n) {
		return f, bad("days", "%q: want one of 1, 7, 14, 30", clip.String(d, 64))
	}
	f.Days = n
	for i, line := range strings.Split(m["conditions"], "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) > 512 {
			return f, bad("conditions", "line %d is longer than 512 characters", i+1)
		}
		f.Conditions = append(f.Conditions, line)
	}
	if len(f.Conditions) > 20 {
		return f, bad("conditions", "%d conditions: at most 20", len(f.Conditions))
	}
	return f, nil
}
