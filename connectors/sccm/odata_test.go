package sccm

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
)

func TestParseCollection(t *testing.T) {
	vals, next, err := parseCollection([]byte(`{"@odata.context":"https://cm01/AdminService/wmi/$metadata#SMS_Application","value":[{"CI_ID":1},{"CI_ID":2}],"@odata.nextLink":"https://cm01/AdminService/wmi/SMS_Application?$skip=2"}`))
	if err != nil || len(vals) != 2 || !strings.HasSuffix(next, "$skip=2") {
		t.Fatalf("%v %q %v", vals, next, err)
	}
	for _, bad := range []string{``, `[]`, `{"value":null}`, `{"@odata.context":"x"}`, `{"value":[1]}`, `{"value":[{"a":1},"x"]}`, `{"value":{}}`} {
		if _, _, err := parseCollection([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestParseEntity(t *testing.T) {
	cases := []struct {
		body  string
		found bool
		err   bool
	}{
		{`{"@odata.context":"x","CI_ID":7}`, true, false},
		{`{"@odata.context":"x","value":[{"CI_ID":7}]}`, true, false},
		{`{"value":[]}`, false, false},
		{`{"value":[{"CI_ID":7},{"CI_ID":8}]}`, false, true},
		{`nope`, false, true},
	}
	for _, c := range cases {
		v, found, err := parseEntity([]byte(c.body))
		if found != c.found || (err != nil) != c.err || (found && !strings.Contains(string(v), `"CI_ID":7`)) {
			t.Errorf("%s: %s %v %v", c.body, v, found, err)
		}
	}
}

func TestParseODataError(t *testing.T) {
	cases := []struct {
		body, code, msg string
		ok              bool
	}{
		{`{"error":{"code":"BadRequest","message":"Invalid SDMPackageXML"}}`, "BadRequest", "Invalid SDMPackageXML", true},
		{`{"error":{"code":500,"message":"Generic failure"}}`, "500", "Generic failure", true},
		{`{"error":{"code":"","message":{"lang":"en-US","value":"An error has occurred."}}}`, "", "An error has occurred.", true},
		{`{"error":"invalid_client","error_description":"AADSTS"}`, "", "", false},
		{`<html>503</html>`, "", "", false},
		{`{"error":{}}`, "", "", false},
	}
	for _, c := range cases {
		code, msg, ok := parseODataError([]byte(c.body))
		if code != c.code || msg != c.msg || ok != c.ok {
			t.Errorf("%s: %q %q %v", c.body, code, msg, ok)
		}
	}
}

func TestStatusErrorClasses(t *testing.T) {
	cases := []struct {
		status   int
		body     string
		header   http.Header
		class    connectors.Class
		notFound bool
		retry    time.Duration
	}{
		{400, `{"error":{"code":"BadRequest","message":"The property 'X' does not exist"}}`, nil, connectors.Permanent, false, 0},
		{401, ``, nil, connectors.Permanent, false, 0},
		{403, `{"error":{"code":"Forbidden","message":"no role"}}`, nil, connectors.Policy, false, 0},
		{404, `{"error":{"code":"NotFound","message":"No instance"}}`, nil, connectors.Permanent, true, 0},
		{409, `{"error":{"code":"Conflict","message":"exists"}}`, nil, connectors.Permanent, false, 0},
		{429, ``, http.Header{"Retry-After": {"7"}}, connectors.Transient, false, 7 * time.Second},
		{500, `{"error":{"code":"InternalServerError","message":"Generic failure"}}`, nil, connectors.Transient, false, 0},
		{500, `{"error":{"code":"500","message":"Access denied (0x80041003)"}}`, nil, connectors.Policy, false, 0},
		{500, `{"error":{"code":"500","message":"WMI error WBEM_E_NOT_FOUND"}}`, nil, connectors.Permanent, true, 0},
		{500, `{"error":{"code":"500","message":"Invalid parameter 0x80041008"}}`, nil, connectors.Permanent, false, 0},
		{500, `{"error":{"code":"500","message":"Provider load failure 0x80041013"}}`, nil, connectors.Transient, false, 0},
		{503, `<html>busy</html>`, nil, connectors.Transient, false, 0},
	}
	for _, c := range cases {
		h := c.header
		if h == nil {
			h = http.Header{}
		}
		e := statusError("op", &http.Response{StatusCode: c.status, Header: h}, []byte(c.body))
		if e.Class != c.class || e.NotFound != c.notFound || e.RetryAfter != c.retry || e.Status != c.status || e.Plane != connectors.SCCM {
			t.Errorf("%d %s: %+v", c.status, c.body, e)
		}
		if e.Message == "" {
			t.Errorf("%d %s: no message", c.status, c.body)
		}
	}
}

func TestInstallState(t *testing.T) {
	cases := []struct {
		ast, es   int
		uninstall bool
		want      connectors.InstallState
	}{
		{1, 1000, false, connectors.StateInstalled},
		{1, 1001, false, connectors.StateInstalled},
		{1, 1000, true, connectors.StateNotInstalled},
		{2, 2001, false, connectors.StatePending},
		{2, 2003, true, connectors.StatePending},
		{3, 3000, false, connectors.StateNotApplicable},
		{4, 4000, false, connectors.StateUnknown},
		{5, 5003, false, connectors.StateFailed},
		{5, 5002, true, connectors.StateFailed},
		{0, 5001, false, connectors.StateFailed}, // no AppStatusType: the EnforcementState family decides
		{0, 2002, false, connectors.StatePending},
		{9, 0, false, connectors.StateUnknown},
	}
	for _, c := range cases {
		if got := InstallState(c.ast, c.es, c.uninstall); got != c.want {
			t.Errorf("%d/%d uninstall=%v: %s, want %s", c.ast, c.es, c.uninstall, got, c.want)
		}
	}
	if d := deviceState(smsAssetDetails{MachineName: "PC", MachineID: 5, AppStatusType: 2, EnforcementState: 2001}, false); d.Detail != "waiting for content" || d.DeviceID != "5" {
		t.Errorf("%+v", d)
	}
}

func TestParseTarget(t *testing.T) {
	cases := []struct {
		t    connectors.Target
		kind TargetKind
		key  string
		err  string
	}{
		{connectors.Target{ID: "PS100023"}, TargetCollection, "include/PS100023", ""},
		{connectors.Target{ID: "SMS00004"}, TargetCollection, "include/SMS00004", ""},
		{connectors.Target{ID: "PS100023", Exclude: true}, TargetCollection, "exclude/PS100023", ""},
		{connectors.Target{ID: "16777220"}, TargetDevice, "direct/16777220", ""},
		{connectors.Target{ID: "device:16777220"}, TargetDevice, "direct/16777220", ""},
		{connectors.Target{ID: "collection:12300042"}, TargetCollection, "include/12300042", ""},
		{connectors.Target{ID: "16777220", Exclude: true}, 0, "", "only a collection can be excluded"},
		{connectors.Target{ID: "0"}, 0, "", "positive 32-bit"},
		{connectors.Target{ID: "99999999999"}, 0, "", "positive 32-bit"},
		{connectors.Target{ID: "ps100023"}, 0, "", "want a collection id"},
		{connectors.Target{ID: "PS1000234"}, 0, "", "want a collection id"},
		{connectors.Target{ID: "collection:PS1"}, 0, "", "not a collection id"},
		{connectors.Target{ID: "device:PC-1"}, 0, "", "positive 32-bit"},
		{connectors.Target{ID: ""}, 0, "", "want a collection id"},
		{connectors.Target{ID: "a1b2c3d4-entra-group"}, 0, "", "want a collection id"},
	}
	for _, c := range cases {
		p, err := parseTarget(c.t)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: %v, want %q", c.t, err, c.err)
			}
			continue
		}
		if err != nil || p.Kind != c.kind || p.ruleKey() != c.key {
			t.Errorf("%+v: %+v %s %v", c.t, p, p.ruleKey(), err)
		}
	}
}

func TestNamesAreDeterministic(t *testing.T) {
	k := testRelease(connectors.Detection{}).Key
	if modelName(testScope, k) != testScope+"/Application_"+k.AppKey().UUID() {
		t.Errorf("model name %s", modelName(testScope, k))
	}
	k2 := k
	k2.Ring++
	if modelName(testScope, k) != modelName(testScope, k2) || collectionName(k) == collectionName(k2) ||
		assignmentName(k, k, actionInstall) == assignmentName(k2, k2, actionInstall) ||
		assignmentUniqueID(k, k, actionInstall) == assignmentUniqueID(k, k, actionUninstall) {
		t.Error("names do not separate rings and actions")
	}
	if got := assignmentName(k, k, actionInstall); got != appDisplayName(k)+"_"+collectionName(k)+"_Install" {
		t.Errorf("assignment name %s", got)
	}
	if u := assignmentUniqueID(k, k, actionInstall); u != assignmentUniqueID(k, k, actionInstall) || !productCodePattern.MatchString(u) {
		t.Errorf("unique id %s", u)
	}
	// RFC 9562 appendix A.4's example: UUIDv5 of "www.example.com" in the DNS namespace.
	if got := subUUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"); got != "2ed6657d-e927-568b-95e1-2665a8aea6a2" {
		t.Errorf("uuidv5 %s", got)
	}
}
