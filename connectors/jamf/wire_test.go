package jamf

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNamesAreDeterministic(t *testing.T) {
	k := connectors.ReleaseKey{App: "notepad", Version: "1.0.0", Ring: deploy.Ring1Canary, Scope: deploy.Scope{BU: "finance"}}
	id := k.AppKey().ID()
	slotID := connectors.ReleaseKey{App: "notepad", Ring: 1, Scope: deploy.Scope{BU: "finance"}}.ID()
	cases := []struct{ got, want string }{
		{PackageName(k), "notepad-1.0.0-" + id + ".pkg"},
		{fileName(k, "Notepad.DMG"), "notepad-1.0.0-" + id + ".dmg"},
		{fileName(k, "notepad.pkg"), "notepad-1.0.0-" + id + ".pkg"},
		{fileName(k, "setup.exe"), "notepad-1.0.0-" + id + ".pkg"},
		{PolicyName(k), "eucora:notepad-" + slotID + ":ring-1"},
		{UninstallPolicyName(k), "eucora:notepad-" + slotID + ":ring-1:uninstall"},
		{ScriptName(k), "eucora-notepad-1.0.0-" + id + "-uninstall"},
		{RingGroupName(deploy.Ring2Pilot, deploy.Scope{}), "eucora ring-2 *"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
	// Every version of a ring shares the policy; another ring, scope or
	// app does not; names survive odd characters.
	v2 := k
	v2.Version = "2.0"
	r2 := k
	r2.Ring = 2
	s2 := k
	s2.Scope.BU = "sales"
	if PolicyName(v2) != PolicyName(k) || PolicyName(r2) == PolicyName(k) || PolicyName(s2) == PolicyName(k) || PackageName(r2) != PackageName(k) {
		t.Error("policy names do not follow the ring slot")
	}
	odd := connectors.ReleaseKey{App: "Micro soft/Word?", Version: "16.0 (beta)", Ring: 1}
	if n := PackageName(odd); !strings.HasPrefix(n, "Micro-soft-Word--16.0--beta--") || strings.ContainsAny(n, " /?()") {
		t.Errorf("odd name %q", n)
	}
}

func TestMarkers(t *testing.T) {
	k := connectors.ReleaseKey{App: "a", Version: "1", Ring: 2, Scope: deploy.Scope{Acquisition: "x", BU: "y"}}
	text := withMarker("", "c1", k)
	if text != connectors.CorrelationMarker("c1", k) {
		t.Errorf("first marker %q", text)
	}
	text = withMarker("Managed by EUCORA\n"+text, "c2", k)
	if withMarker(text, "c2", k) != text || withMarker(text, "c1", k) != text {
		t.Error("adding a marker twice changed the text")
	}
	ms := markers(text)
	if len(ms) != 2 || ms[0].correlation != "c1" || ms[1].correlation != "c2" || ms[1].release != k.String() {
		t.Errorf("markers %+v", ms)
	}
	if !hasMarker(text, "c2", k) || hasMarker(text, "c3", k) || hasMarker(text, "c1", k.AppKey()) {
		t.Error("hasMarker")
	}
	for _, s := range []string{"", "eucora:correlation=", "eucora:correlation= x", "xx eucora:correlation=id"} {
		for _, m := range markers(s) {
			if m.correlation == "" || strings.ContainsAny(m.correlation, " \n") {
				t.Errorf("%q: marker %+v", s, m)
			}
		}
	}
	if m := markers("eucora:correlation=id"); len(m) != 1 || m[0].release != "" {
		t.Errorf("a marker without a release: %+v", m)
	}
}

func TestParseReleaseKeyRoundTrips(t *testing.T) {
	for _, k := range []connectors.ReleaseKey{
		{App: "notepad", Version: "1.0", Ring: 1, Scope: deploy.Scope{BU: "finance"}},
		{App: "@scope/pkg", Version: "1.0/ring-2", Ring: 4, Scope: deploy.Scope{Acquisition: "a", BU: "b", Site: "c"}},
		{App: "a@b", Version: "c", Ring: 0},
	} {
		got, err := parseReleaseKey(k.String())
		if err != nil || got != k {
			t.Errorf("%s: %+v %v", k, got, err)
		}
	}
	for _, s := range []string{"", "a@1", "a@1/ring-9/*", "a@1/ring-x/*", "@1/ring-1/*", "a@1/ring-1/colour=red", "a@1/ring-1", "a@1/ring-1/bu="} {
		if _, err := parseReleaseKey(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
}

func TestPlaneErrorClasses(t *testing.T) {
	html := "text/html;charset=UTF-8"
	js := "application/json"
	cases := []struct {
		name     string
		status   int
		ct, body string
		retry    string
		class    connectors.Class
		code     string
		message  string
		notFound bool
	}{
		{"pro invalid field", 400, js, string(sample(t, "pro/error_400.json")), "", connectors.Permanent, "INVALID_FIELD", "priority: must not be null; must not be blank", false},
		{"pro token", 401, js, string(sample(t, "pro/error_401.json")), "", connectors.Permanent, "INVALID_TOKEN", "Unauthorized", false},
		{"oauth", 401, js, string(sample(t, "pro/error_oauth.json")), "", connectors.Permanent, "invalid_client", "client authentication failed", false},
		{"forbidden", 403, js, `{"httpStatus":403,"errors":[{"code":"INVALID_PRIVILEGE","description":"Forbidden","id":"0","field":null}]}`, "", connectors.Policy, "INVALID_PRIVILEGE", "Forbidden", false},
		{"privilege code on 400", 400, js, `{"httpStatus":400,"errors":[{"code":"PRIVILEGE_REQUIRED","description":"no","id":"0","field":null}]}`, "", connectors.Policy, "PRIVILEGE_REQUIRED", "no", false},
		{"pro duplicate", 409, js, `{"httpStatus":409,"errors":[{"code":"DUPLICATE_FIELD","description":"packageName must be unique","id":"0","field":"packageName"}]}`, "", connectors.Transient, "DUPLICATE_FIELD", "packageName: packageName must be unique (the object exists", false},
		{"classic duplicate", 409, html, string(sample(t, "classic/error_409_duplicate.html")), "", connectors.Transient, "", "Conflict: Error: Duplicate name (the object", false},
		{"classic conflict", 409, html, string(sample(t, "classic/error_409_package.html")), "", connectors.Permanent, "", "Conflict: Error: Problem with package in policy: 77 & friends", false},
		{"classic 401", 401, html, string(sample(t, "classic/error_401.html")), "", connectors.Permanent, "", "Unauthorized: The request requires user authentication", false},
		{"not found", 404, html, "<html><body><p>Not Found</p><p>The server has not found anything matching the request URI</p></body></html>", "", connectors.Permanent, "", "Not Found: The server", true},
		{"throttled", 429, js, `{"httpStatus":429,"errors":[]}`, "3", connectors.Transient, "", "", false},
		{"bad gateway", 502, "text/plain", "upstream\n  went away", "", connectors.Transient, "", "upstream\n  went away", false},
		{"html without paragraphs", 503, html, "<html><body><h1>Service   Unavailable</h1></body></html>", "", connectors.Transient, "", "Service Unavailable", false},
	}
	for _, c := range cases {
		h := http.Header{"Content-Type": {c.ct}}
		if c.retry != "" {
			h.Set("Retry-After", c.retry)
		}
		e := planeError("op", c.status, h, []byte(c.body))
		if e.Class != c.class || e.Code != c.code || !strings.HasPrefix(e.Message, c.message) || e.NotFound != c.notFound || e.Status != c.status || e.Plane != connectors.Jamf {
			t.Errorf("%s: %+v", c.name, e)
		}
		if c.retry != "" && e.RetryAfter != 3*time.Second {
			t.Errorf("%s: retry after %s", c.name, e.RetryAfter)
		}
	}
	if e := decodeError("op", 200, json.Unmarshal([]byte(`{"a":`), &struct{}{})); e.Class != connectors.Transient {
		t.Errorf("a body ending early: %v", e)
	}
	if e := decodeError("op", 200, json.Unmarshal([]byte(`{"a":tru}`), &struct{}{})); e.Class != connectors.Permanent {
		t.Errorf("a malformed body: %v", e)
	}
}

func TestParseSamples(t *testing.T) {
	var p policyXML
	if err := parseXML(sample(t, "classic/policy.xml"), &p); err != nil {
		t.Fatal(err)
	}
	if p.General.ID != 12 || !p.General.Enabled || !p.General.TriggerCheckin || p.General.Frequency != "Once per computer" ||
		len(p.Scope.Computers.Items) != 1 || p.Scope.Computers.Items[0].ID != 42 || ids(p.Scope.ComputerGroups.Items)[0] != 1 ||
		ids(p.Scope.Exclusions.ComputerGroups.Items)[0] != 4 || p.Packages.Packages.Items[0].ID != 7 || p.Packages.Packages.Items[0].Action != "Install" ||
		p.Reboot.UserLoggedIn != "Do not restart" || len(markers(p.SelfService.Description)) != 1 {
		t.Errorf("policy %+v", p)
	}
	if o := policyObject(&p); o.CorrelationID != "corr-1" || o.Release == nil || o.Release.Scope.BU != "finance" {
		t.Errorf("object %+v", o)
	}
	var list policyListXML
	if err := parseXML(sample(t, "classic/policies.xml"), &list); err != nil || list.Size != 3 || list.Policies[2].ID != 13 {
		t.Errorf("list %+v %v", list, err)
	}
	var g groupXML
	if err := parseXML(sample(t, "classic/computergroup_smart.xml"), &g); err != nil || !g.IsSmart || g.Computers.Items[0].Name != "mac-004" {
		t.Errorf("group %+v %v", g, err)
	}
	var h historyXML
	if err := parseXML(sample(t, "classic/computerhistory_policylogs.xml"), &h); err != nil || len(h.PolicyLogs.Items) != 3 {
		t.Fatalf("history %+v %v", h, err)
	}
	l := latestLog(h.PolicyLogs.Items, 12)
	if l == nil || l.Status != "Completed" || !logTime(l).Equal(time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("latest %+v", l)
	}
	if latestLog(h.PolicyLogs.Items, 99) != nil {
		t.Error("a log of another policy")
	}
	var pk proList[proPackage]
	if err := parseJSON(sample(t, "pro/packages.json"), &pk); err != nil || pk.TotalCount != 2 || pk.Results[0].HashType != "SHA3_512" || len(markers(pk.Results[0].Notes)) != 2 {
		t.Errorf("packages %+v %v", pk, err)
	}
	var m proMembership
	if err := parseJSON(sample(t, "pro/membership.json"), &m); err != nil || len(m.Members) != 3 {
		t.Errorf("membership %+v %v", m, err)
	}
}

func TestPolicyBodyKeepsWhatItDoesNotManage(t *testing.T) {
	var cur policyXML
	if err := parseXML(sample(t, "classic/policy.xml"), &cur); err != nil {
		t.Fatal(err)
	}
	k := connectors.ReleaseKey{App: "notepad", Version: "2.0", Ring: 1}
	s := policyState{name: cur.General.Name, release: k, corr: "corr-2", include: []int{1, 6}, required: true,
		packages: []policyPackageXML{{ID: 9, Action: "Install"}}}
	body := s.body(&cur)
	b, err := xmlBody(body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"<computers><computer><id>42</id><name>mac-042</name></computer></computers>",
		"<computer_groups><computer_group><id>1</id></computer_group><computer_group><id>6</id></computer_group></computer_groups>",
		"<exclusions><computers></computers><computer_groups></computer_groups>",
		"<self_service_description>" + connectors.CorrelationMarker("corr-2", k) + "</self_service_description>",
		"<package><id>9</id><action>Install</action>",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("body lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<scripts>") || strings.Contains(text, "<reboot>") {
		t.Errorf("sections the policy state does not manage were sent:\n%s", text)
	}
	if samePayload(&cur, &body) || s.sameState(&cur, &body) {
		t.Error("a new package is not a change")
	}
	var back policyXML
	if err := parseXML(b, &back); err != nil {
		t.Fatal(err)
	}
	back.General.ID = 12
	if !s.sameState(&back, &body) {
		t.Errorf("the policy's own body is not its state: %+v", back)
	}
	// Self Service: the display name above the marker.
	s.required, s.display = false, "Notepad"
	ss := s.body(nil)
	if !ss.SelfService.UseForSelfService || ss.General.TriggerCheckin || ss.SelfService.Description != "Notepad\n\n"+connectors.CorrelationMarker("corr-2", k) {
		t.Errorf("self service %+v", ss.SelfService)
	}
}

func TestInstallStates(t *testing.T) {
	log := func(status string) *policyLogXML { return &policyLogXML{Status: status} }
	cases := []struct {
		m    stateMapper
		l    *policyLogXML
		want connectors.InstallState
	}{
		{installState("Install", true), nil, connectors.StatePending},
		{installState("Install", false), nil, connectors.StateNotInstalled},
		{installState("Install", true), log("Completed"), connectors.StateInstalled},
		{installState("Install", true), log("Failed"), connectors.StateFailed},
		{installState("Install", true), log("Pending"), connectors.StatePending},
		{installState("Install", true), log("Retrying"), connectors.StateUnknown},
		{installState("Cache", true), log("Completed"), connectors.StatePending},
		{uninstallState, nil, connectors.StatePending},
		{uninstallState, log("Completed"), connectors.StateNotInstalled},
		{uninstallState, log("Failed"), connectors.StateFailed},
	}
	for i, c := range cases {
		if got, _ := c.m(c.l); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
}

// FuzzClassicXML feeds the Classic API parsers: none may panic, a policy
// that parses survives a round trip, and an HTML error's text is bounded.
func FuzzClassicXML(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "classic", "*"))
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p policyXML
		if parseXML(b, &p) == nil {
			out, err := xml.Marshal(p)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var back policyXML
			if err := parseXML(out, &back); err != nil {
				t.Fatalf("reparse of %s: %v", out, err)
			}
			back.XMLName, p.XMLName = xml.Name{}, xml.Name{}
			if !reflect.DeepEqual(p, back) {
				t.Fatalf("round trip:\n%+v\n%+v", p, back)
			}
			if p.SelfService != nil {
				policyObject(&p)
			}
		}
		var g groupXML
		parseXML(b, &g)
		var h historyXML
		if parseXML(b, &h) == nil {
			for i := range h.PolicyLogs.Items {
				logTime(&h.PolicyLogs.Items[i])
			}
			latestLog(h.PolicyLogs.Items, 1)
		}
		var l policyListXML
		parseXML(b, &l)
		code, msg := errorText("text/html", b)
		if len(msg) > 500 || !utf8.ValidString(msg) || code != "" && !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
			t.Fatalf("error text %q %q", code, msg)
		}
	})
}

// FuzzProJSON feeds the Jamf Pro API parsers: none may panic, a package
// list that parses survives a round trip, and error text is bounded.
func FuzzProJSON(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "pro", "*"))
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var list proList[proPackage]
		if parseJSON(b, &list) == nil {
			out, err := json.Marshal(list)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var back proList[proPackage]
			if err := parseJSON(out, &back); err != nil || !reflect.DeepEqual(list, back) {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, list, back)
			}
			for _, p := range list.Results {
				for _, m := range markers(p.Notes) {
					parseReleaseKey(m.release)
				}
			}
		}
		var m proMembership
		parseJSON(b, &m)
		var ut userToken
		parseJSON(b, &ut)
		var ot oauthToken
		parseJSON(b, &ot)
		code, msg := errorText("application/json", b)
		if len(msg) > 500 || !utf8.ValidString(msg) || len(code) > len(b) {
			t.Fatalf("error text %q %q", code, msg)
		}
	})
}

// FuzzMarkers checks a marker added to any text is found again, once.
func FuzzMarkers(f *testing.F) {
	f.Add("", "corr-1")
	f.Add("eucora:correlation=x release=a@1/ring-0/*\nnotes", "x")
	f.Add("eucora:correlation=eucora:correlation=", "y")
	f.Fuzz(func(t *testing.T, text, id string) {
		if id == "" || strings.ContainsFunc(id, func(r rune) bool {
			return r <= ' ' || r == 0x85 || r == 0xa0 || r == 0x1680 || r >= 0x2000 && r <= 0x200a || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000
		}) || !utf8.ValidString(id) || strings.Contains(id, "eucora:correlation=") {
			return
		}
		k := connectors.ReleaseKey{App: "a", Version: "1", Ring: 1}
		out := withMarker(text, id, k)
		if !hasMarker(out, id, k) {
			t.Fatalf("marker of %q not found in %q", id, out)
		}
		if withMarker(out, id, k) != out {
			t.Fatalf("adding the marker again changed %q", out)
		}
	})
}
