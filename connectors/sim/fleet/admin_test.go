package fleet

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSimFleetAdmin(t *testing.T) {
	f := mustGenerate(t, GenerateOptions{N: 100, Seed: 1})
	now := t0
	plane := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plane") })
	srv := httptest.NewServer(Mount(plane, f, func() time.Time { return now }))
	defer srv.Close()
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("GET", "/beta/anything", ""); code != 200 || body != "plane" {
		t.Errorf("a plane path: %d %q", code, body)
	}
	code, body := call("GET", AdminPath, "")
	var sum Summary
	if err := json.Unmarshal([]byte(body), &sum); code != 200 || err != nil || sum.Devices != 100 || sum.Groups["ring-4"] != 50 || sum.Platforms["windows"] != 100 {
		t.Errorf("GET %s: %d %s", AdminPath, code, body)
	}
	now = t0.Add(time.Hour)
	code, body = call("POST", AdminPath+"/failure-rate", `{"app": "com.acme.ledger", "rate": 0.25}`)
	if code != 200 || f.Rate("com.acme.ledger", "2.0", now) != 0.25 || f.Rate("com.acme.ledger", "2.0", t0) != 0 {
		t.Errorf("POST rate: %d %s; rate now %v", code, body, f.Rate("com.acme.ledger", "2.0", now))
	}
	if code, body = call("PUT", AdminPath+"/failure-rate", `{"app": "com.acme.ledger", "version": "2.0", "rate": 0}`); code != 200 || f.Rate("com.acme.ledger", "2.0", now) != 0 {
		t.Errorf("PUT version rate: %d %s", code, body)
	}
	if code, body = call("GET", AdminPath+"/failure-rate", ""); code != 200 || !strings.Contains(body, `"com.acme.ledger@2.0":0`) {
		t.Errorf("GET rates: %d %s", code, body)
	}
	if code, body = call("GET", AdminPath+"/devices?group=ring-0", ""); code != 200 || strings.Count(body, `"id"`) != 1 {
		t.Errorf("GET devices of ring-0: %d %s", code, body)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"rate": 0.1}`, "app"},
		{`{"app": "a", "rate": 1.1}`, "rate"},
		{`{"app": "a", "rate": "high"}`, "rate"},
		{`{"app": "a"}`, "rate"},
		{`{"app": "a", "rate": null}`, "rate"},
		{`{"app": "a", "version": 2, "rate": 0.1}`, "version"},
		{`{"app": "a", "rate": 0.1, "ring": 3}`, "ring"},
		{`not json`, "(body)"},
	} {
		code, body := call("POST", AdminPath+"/failure-rate", tc.body)
		var e adminError
		json.Unmarshal([]byte(body), &e)
		if code != 400 || e.Field != tc.field || e.Error == "" {
			t.Errorf("POST %s: %d %s, want 400 naming %s", tc.body, code, body, tc.field)
		}
	}
	if code, _ := call("DELETE", AdminPath+"/failure-rate", ""); code != 405 {
		t.Errorf("DELETE: %d", code)
	}
	if code, _ := call("POST", AdminPath, "{}"); code != 405 {
		t.Errorf("POST %s: %d", AdminPath, code)
	}
	if code, _ := call("GET", AdminPath+"/nosuch", ""); code != 404 {
		t.Errorf("GET unknown: %d", code)
	}
	if Mount(plane, nil, nil) == nil {
		t.Error("Mount without a fleet returns nil")
	}
}
