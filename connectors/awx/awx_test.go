package awx

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
)

func TestParseError(t *testing.T) {
	for _, c := range []struct {
		name, body, code, msg string
	}{
		{"detail", `{"detail":"Not found."}`, "", "Not found."},
		{"error view", `{"error":"Job cannot be canceled"}`, "", "Job cannot be canceled"},
		{"one field", `{"extra_vars":["Input type ` + "`list`" + ` is not a dictionary"]}`, "extra_vars", "extra_vars: Input type `list` is not a dictionary"},
		{"fields in name order", `{"limit":["Not a valid string."],"inventory":["Invalid pk \"9\" - object does not exist."]}`, "inventory",
			`inventory: Invalid pk "9" - object does not exist.; limit: Not a valid string.`},
		{"two messages", `{"name":["a","b"]}`, "name", "name: a b"},
		{"non-field errors", `{"__all__":["Host with this Name and Inventory already exists."]}`, "__all__", "__all__: Host with this Name and Inventory already exists."},
		{"nested", `{"credentials":{"0":["bad"]}}`, "credentials", "credentials: {0: bad}"},
		{"detail beside fields", `{"detail":"x","name":["y"]}`, "detail", "detail: x; name: y"},
		{"html", "<html>\n<body>502 Bad Gateway</body></html>", "", "<html>"},
		{"empty", "", "", ""},
		{"empty object", "{}", "", "{}"},
	} {
		code, msg := ParseError([]byte(c.body))
		if code != c.code || msg != c.msg {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", c.name, code, msg, c.code, c.msg)
		}
	}
}

func TestStatusErrorClasses(t *testing.T) {
	for _, c := range []struct {
		status   int
		class    connectors.Class
		notFound bool
	}{
		{400, connectors.Permanent, false},
		{401, connectors.Permanent, false},
		{403, connectors.Policy, false},
		{404, connectors.Permanent, true},
		{405, connectors.Permanent, false},
		{409, connectors.Permanent, false},
		{429, connectors.Transient, false},
		{500, connectors.Transient, false},
		{502, connectors.Transient, false},
		{503, connectors.Transient, false},
		{504, connectors.Transient, false},
	} {
		h := http.Header{}
		h.Set("Retry-After", "7")
		e := statusError("launch", c.status, h, []byte(`{"detail":"words of the plane"}`))
		if e.Class != c.class || e.NotFound != c.notFound || e.Status != c.status || e.Message != "words of the plane" ||
			e.RetryAfter != 7*time.Second || e.Plane != connectors.AWX {
			t.Errorf("%d: %+v", c.status, e)
		}
		if !strings.Contains(e.Error(), "words of the plane") {
			t.Errorf("%d: error text %q lacks the plane's message", c.status, e)
		}
	}
}

func TestLimit(t *testing.T) {
	got, err := Limit([]connectors.Target{{ID: "ring2"}, {ID: "pilot-9", Exclude: true}, {ID: "canary-1"}})
	if err != nil || got != "ring2,canary-1,!pilot-9" {
		t.Fatalf("limit %q, %v", got, err)
	}
	if ts := LimitTargets(got); !reflect.DeepEqual(ts, []string{"ring2", "canary-1"}) {
		t.Fatalf("targets of %q: %v", got, ts)
	}
	if ts := LimitTargets("a:b:&c:!d"); !reflect.DeepEqual(ts, []string{"a", "b"}) {
		t.Fatalf("targets of a colon pattern: %v", ts)
	}
	for _, bad := range [][]connectors.Target{nil, {{ID: "x", Exclude: true}}, {{ID: ""}}, {{ID: "a,b"}}, {{ID: "a b"}}, {{ID: "all:!x"}}, {{ID: "~re"}}} {
		if l, err := Limit(bad); err == nil {
			t.Errorf("%v: limit %q, want an error", bad, l)
		}
	}
}

func rel(app, version string) connectors.Release {
	return connectors.Release{Key: connectors.ReleaseKey{App: app, Version: version, Ring: deploy.Ring1Canary}, CorrelationID: "c-1",
		Targets: []connectors.Target{{ID: "canary-1"}}}
}

func TestCheckRelease(t *testing.T) {
	if err := checkRelease(rel("hello", "1:2.0~rc1-3")); err != nil {
		t.Fatalf("a good release: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*connectors.Release)
		want string
	}{
		{"no app", func(r *connectors.Release) { r.Key.App = "" }, "app is empty"},
		{"ring", func(r *connectors.Release) { r.Key.Ring = 7 }, "ring 7"},
		{"version with a space", func(r *connectors.Release) { r.Key.Version = "1.0 beta" }, "not a Debian version"},
		{"version not starting with a digit", func(r *connectors.Release) { r.Key.Version = "v1" }, "not a Debian version"},
		{"correlation id", func(r *connectors.Release) { r.CorrelationID = "a b" }, "correlation id"},
		{"package name", func(r *connectors.Release) { r.Install.Detection.PackageName = "Hello_World" }, "not a Debian package name"},
		{"app as package name", func(r *connectors.Release) { r.Key.App = "Notepad++" }, "not a Debian package name"},
		{"targets", func(r *connectors.Release) { r.Targets = nil }, "no targets"},
	} {
		r := rel("hello", "1.0")
		c.edit(&r)
		if err := checkRelease(r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestVarsRoundTrip(t *testing.T) {
	c := &Client{cfg: Config{Repo: Repo{URL: "http://apt.example/eucora", Dist: "stable", Component: "main", Key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n..."}}}
	r := rel("hello", "2.0")
	r.Key.Scope = deploy.Scope{Acquisition: "corp", BU: "finance"}
	prior := r.Key
	prior.Version = "1.0"
	r.Prior = &prior
	v := c.vars(r, ActionPinPrior, "1.0", "present")
	if v.Pin != "version 1.0" || v.Release != r.Key.String() || v.Prior != prior.String() || v.Marker != connectors.CorrelationMarker("c-1", r.Key) ||
		v.Package != "hello" || v.RepoKey == "" {
		t.Fatalf("vars %+v", v)
	}
	b, _ := json.Marshal(v)
	got, ok := ParseVars(string(b))
	if !ok || !reflect.DeepEqual(got, v) {
		t.Fatalf("round trip: %v %+v", ok, got)
	}
	if !got.puts(prior) || got.puts(r.Key) || !sameRing(got.Key, prior) {
		t.Fatalf("puts/sameRing of a pin-prior job")
	}
	if u := c.vars(r, ActionUninstall, "2.0", "absent"); u.Pin != "" || u.State != "absent" || u.puts(r.Key) {
		t.Fatalf("uninstall vars %+v", u)
	}
	for _, foreign := range []string{"", "{}", "---\nfoo: bar", `{"eucora_release":"x"}`, `{"other":1}`, "[1]"} {
		if _, ok := ParseVars(foreign); ok {
			t.Errorf("%q taken for an EUCORA job", foreign)
		}
	}
}

func TestLaunchInfoProblem(t *testing.T) {
	ok := LaunchInfo{AskVariables: true, AskLimit: true, CanStartWithoutUserInput: true}
	if p := ok.problem(); p != "" {
		t.Fatalf("a launchable template: %s", p)
	}
	survey := ok
	survey.AskVariables, survey.SurveyEnabled = false, true
	if p := survey.problem(); p != "" {
		t.Fatalf("a survey template: %s", p)
	}
	for _, c := range []struct {
		edit func(*LaunchInfo)
		want string
	}{
		{func(l *LaunchInfo) { l.AskVariables = false }, "ask_variables_on_launch is false"},
		{func(l *LaunchInfo) { l.AskLimit = false }, "ask_limit_on_launch is false"},
		{func(l *LaunchInfo) { l.PasswordsNeeded = []string{"ssh_password"} }, "passwords to start (ssh_password)"},
		{func(l *LaunchInfo) { l.VariablesNeeded = []string{"release"} }, "variables to start (release)"},
		{func(l *LaunchInfo) { l.InventoryNeeded = true }, "no inventory"},
		{func(l *LaunchInfo) { l.CredentialNeeded = true }, "credential"},
	} {
		l := ok
		c.edit(&l)
		if p := l.problem(); !strings.Contains(p, c.want) {
			t.Errorf("%+v: %q, want %q", l, p, c.want)
		}
	}
}

func TestParseToken(t *testing.T) {
	tok, err := ParseToken([]byte(`{"id":3,"token":"abc","refresh_token":null,"expires":"2027-01-02T03:04:05.123456Z","scope":"write"}`))
	if err != nil || tok.Value != "abc" || !tok.Expires.Equal(time.Date(2027, 1, 2, 3, 4, 5, 123456000, time.UTC)) {
		t.Fatalf("%+v %v", tok, err)
	}
	for _, bad := range []string{`{"token":""}`, `{"token":"x","scope":"read"}`, `not json`, `{"token":"x","expires":"yesterday"}`} {
		if _, err := ParseToken([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{BaseURL: "https://awx.example", Username: "u", Password: "p", Repo: Repo{URL: "http://apt.example/x", Dist: "stable"}}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.BaseURL = "awx.example" }, "base URL"},
		{func(c *Config) { c.Password = "" }, "no credentials"},
		{func(c *Config) { c.Repo.URL = "ftp://x" }, "repository: URL"},
		{func(c *Config) { c.Repo.Dist = "a b" }, "distribution"},
		{func(c *Config) { c.Repo.Component = "main contrib" }, "component"},
		{func(c *Config) { c.Repo.Key = "not a key" }, "ASCII-armored"},
	} {
		cfg := good
		c.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", cfg, err, c.want)
		}
	}
}

func TestNextRef(t *testing.T) {
	c, _ := NewClient(Config{BaseURL: "https://awx.example:8043", Token: "t", Repo: Repo{URL: "http://a/x", Dist: "d"}})
	for next, want := range map[string]string{
		"/api/v2/jobs/?page=2":                          "/api/v2/jobs/?page=2",
		"https://awx.example:8043/api/v2/jobs/?page=3":  "/api/v2/jobs/?page=3",
		"https://elsewhere.example/api/v2/jobs/?page=2": "",
		"/static/x": "",
	} {
		got, err := c.nextRef(next)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("%s: %q, %v", next, got, err)
		}
	}
}

func TestFailureDetails(t *testing.T) {
	ev := func(event, host, task, msg string, failed bool) JobEvent {
		return JobEvent{Event: event, HostName: host, Task: task, Failed: failed, EventData: map[string]any{"res": map[string]any{"msg": msg}}}
	}
	got := failureDetails([]JobEvent{
		ev("runner_item_on_failed", "a", "layout", "There was an issue creating /x/etc as requested: [Errno 20] Not a directory", true),
		ev("runner_item_on_failed", "a", "layout", "second item", true),
		ev("runner_on_failed", "a", "layout", "One or more items failed", true),
		ev("runner_on_failed", "a", "later", "not the first failure", true),
		ev("runner_on_failed", "b", "install", "non-zero return code", true),
		ev("runner_on_failed", "c", "optional", "ignored", false),
		ev("runner_on_unreachable", "c", "ping", "Failed to connect to the host via ssh", true),
	})
	want := map[string]string{
		"a": `task "layout": There was an issue creating /x/etc as requested: [Errno 20] Not a directory`,
		"b": `task "install": non-zero return code`,
		"c": `task "ping": Failed to connect to the host via ssh`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	e := JobEvent{EventData: map[string]any{"res": map[string]any{"msg": "non-zero return code", "stderr": "E: Version '9' for 'x' was not found\n"}}}
	if m := e.Message(); m != "non-zero return code: E: Version '9' for 'x' was not found" {
		t.Fatalf("message %q", m)
	}
}
