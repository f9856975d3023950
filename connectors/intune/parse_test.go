package intune

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	graph := func(code, msg string) string {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "innerError": map[string]any{"date": "2026-12-07T10:00:00", "request-id": "r", "client-request-id": "c"}}})
		return string(b)
	}
	for _, tc := range []struct {
		name       string
		status     int
		header     http.Header
		body       string
		class      connectors.Class
		code, msg  string
		notFound   bool
		retryAfter time.Duration
	}{
		{name: "bad request", status: 400, body: graph("BadRequest", "Win32LobApp validation failed"), class: connectors.Permanent, code: "BadRequest", msg: "Win32LobApp validation failed"},
		{name: "forbidden", status: 403, body: graph("Forbidden", "Application is not authorized"), class: connectors.Policy, code: "Forbidden"},
		{name: "throttled", status: 429, header: http.Header{"Retry-After": {"2.128"}}, body: graph("TooManyRequests", "Too many requests"), class: connectors.Transient, retryAfter: 2128 * time.Millisecond},
		{name: "throttled, date", status: 429, header: http.Header{"Retry-After": {now.Add(3 * time.Second).Format(http.TimeFormat)}}, body: "", class: connectors.Transient, retryAfter: 3 * time.Second},
		{name: "not found", status: 404, body: graph("ResourceNotFound", "The mobileApp was not found."), class: connectors.Permanent, notFound: true},
		{name: "unavailable", status: 503, body: graph("ServiceUnavailable", "Service is unavailable"), class: connectors.Transient},
		{name: "expired token after renewal", status: 401, body: graph("InvalidAuthenticationToken", "Access token has expired"), class: connectors.Permanent},
		{name: "Intune's message in a message", status: 500, body: graph("InternalServerError", `{"_version": 3, "Message": "An internal server error has occurred - Operation ID (for customer support): 00000000", "CustomApiErrorPhrase": ""}`),
			class: connectors.Transient, msg: "An internal server error has occurred - Operation ID (for customer support): 00000000"},
		{name: "conflict", status: 409, body: graph("Conflict", "exists"), class: connectors.Permanent},
		{name: "Entra: wrong secret", status: 401, body: `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}`, class: connectors.Permanent, code: "invalid_client", msg: "AADSTS7000215"},
		{name: "Entra: unavailable", status: 400, body: `{"error":"temporarily_unavailable","error_description":"AADSTS50196"}`, class: connectors.Transient},
		{name: "storage: expired SAS", status: 403, body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.` + "\nRequestId:x\nTime:y</Message></Error>", class: connectors.Transient, code: "AuthenticationFailed", msg: "Server failed to authenticate the request."},
		{name: "storage: busy", status: 503, header: http.Header{"X-Ms-Error-Code": {"ServerBusy"}}, body: "", class: connectors.Transient, code: "ServerBusy"},
		{name: "storage: bad block list", status: 400, body: `<Error><Code>InvalidBlockList</Code><Message>The specified block list is invalid.</Message></Error>`, class: connectors.Permanent, code: "InvalidBlockList"},
		{name: "html from a proxy", status: 502, body: "<html><body>Bad Gateway</body></html>", class: connectors.Transient, msg: "<html><body>Bad Gateway</body></html>"},
	} {
		e := classify("op", tc.status, tc.header, []byte(tc.body), now)
		switch {
		case e.Class != tc.class:
			t.Errorf("%s: class %s, want %s", tc.name, e.Class, tc.class)
		case tc.code != "" && e.Code != tc.code:
			t.Errorf("%s: code %q, want %q", tc.name, e.Code, tc.code)
		case tc.msg != "" && !strings.Contains(e.Message, tc.msg):
			t.Errorf("%s: message %q, want %q", tc.name, e.Message, tc.msg)
		case e.NotFound != tc.notFound || e.RetryAfter != tc.retryAfter || e.Status != tc.status || e.Plane != connectors.Intune:
			t.Errorf("%s: %+v", tc.name, e)
		}
	}
}

func TestNotes(t *testing.T) {
	k1 := connectors.ReleaseKey{App: "notepad", Version: "8.6", Ring: deploy.Ring1Canary, Scope: deploy.Scope{Acquisition: "contoso", BU: "finance"}}
	k2 := connectors.ReleaseKey{App: "notepad", Version: "8.6", Ring: deploy.Ring2Pilot}
	n := parseNotes("Owned by the packaging team.\r\nSee the wiki.")
	n = n.with(marker{Correlation: "c1", Release: k1.String(), Targets: []connectors.Target{{ID: "g1"}, {ID: "g2", Exclude: true}}})
	n = n.with(marker{Correlation: "c2", Release: k2.String(), Targets: []connectors.Target{{ID: "g3"}}})
	n.content = "abc"
	n = n.with(marker{Correlation: "c1b", Release: k1.String(), Targets: []connectors.Target{{ID: "g1"}}})
	text := n.String()
	want := "Owned by the packaging team.\nSee the wiki.\n" +
		"eucora:correlation=c1b release=notepad@8.6/ring-1/acquisition=contoso,bu=finance targets=g1\n" +
		"eucora:correlation=c2 release=notepad@8.6/ring-2/* targets=g3\n" +
		"eucora:content=abc"
	if text != want {
		t.Errorf("notes:\n%s\nwant:\n%s", text, want)
	}
	back := parseNotes(text)
	if back.String() != text || back.content != "abc" || len(back.markers) != 2 {
		t.Errorf("round trip: %+v", back)
	}
	if m, ok := back.marker(k2); !ok || m.Correlation != "c2" || !m.has("g3") || m.has("g1") {
		t.Errorf("marker of k2: %+v %v", m, ok)
	}
	if id, ok := connectors.ParseCorrelationMarker(text); !ok || id != "c1b" {
		t.Errorf("the shared marker parser reads %q %v", id, ok)
	}
	for _, k := range []connectors.ReleaseKey{k1, k2, {App: "a-b", Version: "1/2", Ring: deploy.Ring4Global, Scope: deploy.Scope{Acquisition: "x", BU: "y", Site: "z"}}} {
		if got, ok := parseKey(k.String()); !ok || got != k {
			t.Errorf("parseKey(%q) = %+v %v", k.String(), got, ok)
		}
	}
	for _, bad := range []string{"", "noat", "a@1/ring-x/*", "a@1/ring-1/colour=red", "a@1"} {
		if _, ok := parseKey(bad); ok {
			t.Errorf("parseKey(%q) accepted", bad)
		}
	}
}

func TestDisplayName(t *testing.T) {
	r := connectors.Release{Key: connectors.ReleaseKey{App: "7zip", Version: "24.08", Ring: deploy.Ring3Department}}
	name := r.Key.AppKey().Name()
	if displayName(r) != name || !namedFor(name, r.Key.AppKey()) {
		t.Errorf("display name %q", displayName(r))
	}
	r.DisplayName = "7-Zip"
	if d := displayName(r); d != "7-Zip ["+name+"]" || !namedFor(d, r.Key.AppKey()) || namedFor("7-Zip", r.Key.AppKey()) {
		t.Errorf("display name %q", d)
	}
	other := connectors.ReleaseKey{App: "7zip", Version: "24.09"}
	if namedFor(displayName(r), other) {
		t.Error("a version's name matches another version")
	}
}

// seeds reads the fuzz seeds of a target from testdata.
func seeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds %s: %v", pattern, err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzErrorBody: any error body classifies without panicking, into a
// class, with bounded code and message.
func FuzzErrorBody(f *testing.F) {
	seeds(f, "error-*")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, status := range []int{400, 403, 404, 429, 503} {
			e := classify("op", status, http.Header{}, body, time.Now())
			if e.Class < connectors.Transient || e.Class > connectors.Policy || len(e.Code) > 100 || len(e.Message) > 500 {
				t.Fatalf("%d: %+v", status, e)
			}
		}
	})
}

// FuzzGraphJSON: the collections and entities the connector reads parse
// or fail cleanly, and what parses into notes re-renders stably.
func FuzzGraphJSON(f *testing.F) {
	seeds(f, "graph-*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var apps page[mobileApp]
		if json.Unmarshal(body, &apps) == nil {
			for _, a := range apps.Value {
				n := parseNotes(a.Notes)
				if again := parseNotes(n.String()); again.String() != n.String() {
					t.Fatalf("notes do not re-render stably:\n%q\n%q", n.String(), again.String())
				}
				a.typeName()
			}
		}
		var files page[contentFile]
		json.Unmarshal(body, &files)
		var devs page[deviceStatus]
		if json.Unmarshal(body, &devs) == nil {
			for _, d := range devs.Value {
				installState(d.InstallState)
			}
		}
		var xs page[rawAssignment]
		if json.Unmarshal(body, &xs) == nil {
			for _, x := range xs.Value {
				_ = x.key() + x.id()
			}
		}
		var sum installSummary
		json.Unmarshal(body, &sum)
	})
}

func FuzzNotes(f *testing.F) {
	f.Add("eucora:correlation=c1 release=a@1/ring-1/* targets=g1,!g2\neucora:content=x")
	f.Add("free text\neucora:correlation= release= targets=,,!\n")
	f.Fuzz(func(t *testing.T, s string) {
		n := parseNotes(s)
		text := n.String()
		if again := parseNotes(text).String(); again != text {
			t.Fatalf("not stable:\n%q\n%q", text, again)
		}
		for _, m := range n.markers {
			parseKey(m.Release)
		}
	})
}

// TestTruncatedAnswer: a 200 whose JSON ends early (cut off without the
// transport noticing) is transient; JSON of the wrong shape is permanent.
func TestTruncatedAnswer(t *testing.T) {
	for _, tc := range []struct {
		body  string
		class connectors.Class
	}{
		{`{"value":[{"id":"a"},{"id":`, connectors.Transient},
		{`{"value":"not a list"}`, connectors.Permanent},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/token") {
				w.Write([]byte(`{"token_type":"Bearer","expires_in":3599,"access_token":"t"}`))
				return
			}
			w.Write([]byte(tc.body))
		}))
		c, err := newConn(Config{BaseURL: srv.URL, LoginURL: srv.URL, Tenant: "t", ClientID: "c", ClientSecret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Check(t.Context())
		if connectors.ClassOf(err) != tc.class {
			t.Errorf("%s: %v, want %s", tc.body, err, tc.class)
		}
		srv.Close()
	}
}
