package landscape

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
	"github.com/eucora/eucora/connectors/landscape/sigv2"
	"github.com/eucora/eucora/deploy"
)

func TestParseError(t *testing.T) {
	for _, c := range []struct{ body, code, msg string }{
		{`{"error":"UnknownComputers","message":"No computers match."}`, "UnknownComputers", "No computers match."},
		{`{"error":"MultiError","message":"2 errors","errors":[{"error":"UnknownTag","message":"a"},{"error":"UnknownTag","message":"b"}]}`,
			"MultiError", "2 errors (UnknownTag: a; UnknownTag: b)"},
		{`{"detail":"Authentication credentials were not provided."}`, "", "Authentication credentials were not provided."},
		{`{"error":42,"message":null}`, "42", ""},
		{"<html>\n<h1>502 Bad Gateway</h1>", "", "<html>"},
		{"", "", ""},
	} {
		code, msg := ParseError([]byte(c.body))
		if code != c.code || msg != c.msg {
			t.Errorf("ParseError(%q) = %q, %q; want %q, %q", c.body, code, msg, c.code, c.msg)
		}
	}
	if _, msg := ParseError([]byte(`{"error":"X","message":"` + strings.Repeat("é", 800) + `"}`)); len(msg) > 1003 || !strings.HasSuffix(msg, "...") {
		t.Errorf("long message not clipped: %d bytes", len(msg))
	}
}

func TestErrorClasses(t *testing.T) {
	for _, c := range []struct {
		status   int
		body     string
		class    connectors.Class
		notFound bool
	}{
		{400, `{"error":"UnknownScript","message":"Unknown script 9."}`, connectors.Permanent, true},
		{400, `{"error":"UnknownParameter","message":"colour"}`, connectors.Permanent, false},
		{400, `{"error":"Unauthorised","message":"no"}`, connectors.Policy, false},
		{403, `{"error":"Unauthorised","message":"no"}`, connectors.Policy, false},
		{401, `{"error":"SignatureDoesNotMatch","message":"no"}`, connectors.Permanent, false},
		{401, `{"error":"InvalidCredentials","message":"no"}`, connectors.Permanent, false},
		{409, `{"error":"OperationInProgress","message":"busy"}`, connectors.Transient, false},
		{429, `{"error":"TooManyRequests","message":"slow down"}`, connectors.Transient, false},
		{503, `<html>down</html>`, connectors.Transient, false},
		{404, `{"error":"NotFound","message":"x"}`, connectors.Permanent, true},
	} {
		e := statusError("op", c.status, http.Header{"Retry-After": {"2"}}, []byte(c.body))
		if e.Class != c.class || e.NotFound != c.notFound || e.RetryAfter != 2*time.Second {
			t.Errorf("%d %s: class %s notFound %v retryAfter %s", c.status, c.body, e.Class, e.NotFound, e.RetryAfter)
		}
	}
}

func TestParsers(t *testing.T) {
	ps, err := ParseProfiles([]byte(`[{"id":2,"name":"mysqlprofile","title":"MySQL Profile","description":"d","version":"2",
		"creation_time":"2012-03-06T18:52:09Z","modification_time":"2012-03-06T18:52:10Z","tags":["server","desktop"],
		"constraints":[["depends","mysql >= 5.1.0"],["conflicts","python-mysqldb < 1.2.2"],{"type":"depends","rule":"foo"},
		{"constraint":"depends","package":"bar","rule":"=","version":"1.0"}],
		"computers":{"constrained":[4,13],"non-compliant":[13]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	want := []string{"depends mysql >= 5.1.0", "conflicts python-mysqldb < 1.2.2", "depends foo", "depends bar = 1.0"}
	for i, c := range p.Constraints {
		if c.String() != want[i] {
			t.Errorf("constraint %d: %q", i, c)
		}
	}
	if v, ok := pinnedVersion(p, "bar"); !ok || v != "1.0" || len(p.Computers.NonCompliant) != 1 || !changedAt(p).Equal(time.Date(2012, 3, 6, 18, 52, 10, 0, time.UTC)) {
		t.Errorf("profile %+v", p)
	}
	acts, err := ParseActivities([]byte(`[{"id":71666950,"creation_time":"2024-02-07T17:30:05Z","type":"ChangePackagesRequest",
		"summary":"Downgrade package apt-transport-https","result_text":null,"computer_id":365829,"parent_id":71666947,
		"changes":[{"package":"apt-transport-https","complemented":false,"type":"downgrade","install_version":"1.0.1ubuntu2.19","remove_version":"1.0.1ubuntu2.24"}],
		"completion_time":"2024-02-07T17:30:16Z","result_code":null,"activity_status":"canceled","children":[]}]`))
	if err != nil || len(acts) != 1 || *acts[0].ParentID != 71666947 || *acts[0].Changes[0].InstallVersion != "1.0.1ubuntu2.19" {
		t.Fatalf("activities %+v %v", acts, err)
	}
	for _, bad := range []string{`{}`, `null`, `"x"`, `[{"id":"one"}]`, `[["depends"]]`} {
		if _, err := ParseActivities([]byte(bad)); err == nil {
			t.Errorf("ParseActivities(%s) accepted", bad)
		}
	}
	if _, err := ParseProfiles([]byte(`[{"constraints":[["depends"]]}]`)); err == nil {
		t.Error("a one-element constraint was accepted")
	}
	if _, err := ParseActivity([]byte(`{"id":0}`)); err == nil {
		t.Error("an activity without an id was accepted")
	}
	if got := ParseTime("2024-02-07T17:30:05.123+01:00"); !got.Equal(time.Date(2024, 2, 7, 16, 30, 5, 123e6, time.UTC)) {
		t.Errorf("ParseTime RFC 3339: %v", got)
	}
}

func strp(s string) *string { return &s }

func TestDeviceStates(t *testing.T) {
	comp := Computer{ID: 7, Hostname: "h1"}
	chg := func(typ, v string) []Change {
		return []Change{{Package: "notepad", Type: typ, InstallVersion: strp(v)}}
	}
	for _, c := range []struct {
		status  string
		changes []Change
		want    connectors.InstallState
	}{
		{StatusSucceeded, chg("install", "1.0"), connectors.StateInstalled},
		{StatusFailed, chg("upgrade", "1.0"), connectors.StateFailed},
		{StatusUndelivered, chg("install", "1.0"), connectors.StatePending},
		{StatusDelivered, chg("downgrade", "1.0"), connectors.StatePending},
		{StatusScheduled, chg("install", "1.0"), connectors.StatePending},
		{StatusUnapproved, chg("install", "1.0"), connectors.StatePending},
		{StatusCanceled, chg("install", "1.0"), connectors.StateNotInstalled},
		{StatusSucceeded, chg("upgrade", "2.0"), connectors.StateNotInstalled},
		{StatusFailed, chg("upgrade", "2.0"), connectors.StateUnknown},
		{StatusSucceeded, []Change{{Package: "notepad", Type: "remove"}}, connectors.StateNotInstalled},
		{StatusDelivered, []Change{{Package: "notepad", Type: "remove"}}, connectors.StatePending},
		{StatusSucceeded, nil, connectors.StateInstalled}, // a script run
		{"exploded", nil, connectors.StateUnknown},
	} {
		d := deviceState(comp, Activity{ActivityStatus: c.status, Changes: c.changes, ResultCode: new(int64)}, "notepad", "1.0")
		if d.State != c.want || d.Device != "h1" || d.DeviceID != "7" {
			t.Errorf("%s %+v: %+v, want %s", c.status, c.changes, d, c.want)
		}
	}
}

func TestNamesAndAnchors(t *testing.T) {
	k := connectors.ReleaseKey{App: "Com.Acme.Ledger", Version: "1.2.3~rc1", Ring: deploy.Ring2Pilot, Scope: deploy.Scope{Acquisition: "acme", BU: "finance"}}
	title := profileTitle(k)
	if title != "eucora-com-acme-ledger-1-2-3-rc1-r2-"+k.ID() || nonSlug.MatchString(strings.ReplaceAll(title, "-", "")) {
		t.Errorf("profile title %q", title)
	}
	a := anchor{Correlation: "c-1", Release: k.String(), Package: "ledger", Targets: []string{"pilot", "pilot-b"}}
	got, ok := parseAnchor(a.description(k))
	if !ok || got.Correlation != "c-1" || got.Release != k.String() || got.Package != "ledger" || strings.Join(got.Targets, ",") != "pilot,pilot-b" {
		t.Errorf("anchor round trip: %+v", got)
	}
	if _, ok := parseAnchor("Package profile to lock down mysql"); ok {
		t.Error("a foreign description parsed")
	}
	back, ok := parseKey(k.String())
	if !ok || back != k {
		t.Errorf("parseKey(%s) = %+v", k, back)
	}
	ent := connectors.ReleaseKey{App: "a", Version: "1", Ring: deploy.Ring0Lab}
	if back, ok := parseKey(ent.String()); !ok || back != ent {
		t.Errorf("parseKey(%s) = %+v", ent, back)
	}
	f1, _ := family(k.String())
	k2 := k
	k2.Version = "2.0"
	f2, _ := family(k2.String())
	k3 := k
	k3.Ring = deploy.Ring3Department
	f3, _ := family(k3.String())
	if f1 != f2 || f1 == f3 {
		t.Errorf("families %q %q %q", f1, f2, f3)
	}
	r := connectors.Release{Key: k, Install: connectors.Install{Detection: connectors.Detection{PackageName: "ledger"}}}
	marker := connectors.CorrelationMarker("c-1", k.AppKey())
	code := scriptCode(r, marker)
	if !strings.HasPrefix(code, "#!/bin/sh\n# "+marker+"\n") || !strings.Contains(code, "'ledger=1.2.3~rc1'") {
		t.Errorf("script %q", code)
	}
	m, body := scriptMarker(code)
	if m != marker || strings.Contains(body, "eucora:correlation") {
		t.Errorf("scriptMarker: %q / %q", m, body)
	}
}

// The signer puts the parameters where the verb wants them, signs each
// send anew (a replay after 429 has a fresh timestamp), and keeps the
// body a form.
func TestSignerPlacementAndReplay(t *testing.T) {
	var mu sync.Mutex
	var seen []url.Values
	var methods []string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		p := r.URL.Query()
		if r.Method == http.MethodPost {
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("POST content type %q", ct)
			}
			if len(p) != 0 {
				t.Errorf("POST with a query %v", p)
			}
			b, _ := io.ReadAll(r.Body)
			p, _ = url.ParseQuery(string(b))
		}
		seen, methods = append(seen, p), append(methods, r.Method)
		if !sigv2.Verify("s3cret", sigv2.StringToSign(r.Method, r.Host, r.URL.EscapedPath(), p), p.Get("signature")) {
			t.Errorf("%s: bad signature", r.Method)
		}
		if calls == 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	clock := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	signer := &Signer{Credentials: func(context.Context) (Credentials, error) { return Credentials{"AK", "s3cret"}, nil },
		Now: func() time.Time { clock = clock.Add(time.Second); return clock }}
	hc := &http.Client{Transport: &httpx.Throttle{Next: signer, Initial: time.Millisecond}}
	c := &Client{api: mustURL(srv.URL + "/api/"), http: hc, log: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: Config{}, page: 10}
	if _, err := c.call(context.Background(), "GetComputers", params{"query": "tag:a b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.call(context.Background(), "InstallPackages", params{"query": "tag:a", "packages.1": "x1"}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || methods[0] != "GET" || methods[1] != "POST" || methods[2] != "POST" {
		t.Fatalf("methods %v", methods)
	}
	if seen[0].Get("query") != "tag:a b" || seen[0].Get("access_key_id") != "AK" || seen[0].Get("signature_method") != "HmacSHA256" ||
		seen[0].Get("signature_version") != "2" || seen[0].Get("version") != APIVersion || seen[0].Get("action") != "GetComputers" {
		t.Errorf("GET parameters %v", seen[0])
	}
	if seen[1].Get("timestamp") == seen[2].Get("timestamp") || seen[2].Get("packages.1") != "x1" {
		t.Errorf("the replay after 429 was not signed anew: %v / %v", seen[1], seen[2])
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
