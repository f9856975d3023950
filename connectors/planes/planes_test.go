package planes_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/connectors/jamf/jamfsim"
	"github.com/eucora/eucora/connectors/landscape/landscapesim"
	"github.com/eucora/eucora/connectors/planes"
	"github.com/eucora/eucora/connectors/sccm/sccmsim"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPlaneFactoryChecksEverySimulator builds each kind of this build from
// its simulator's credentials document and checks it.
func TestPlaneFactoryChecksEverySimulator(t *testing.T) {
	repo := map[string]string{"url": "https://apt.example.org/eucora", "dist": "stable"}
	aw := awxsim.New(awxsim.Options{})
	t.Cleanup(aw.Close)
	jf := jamfsim.New(jamfsim.Options{})
	ls := landscapesim.New(landscapesim.Options{})
	sc := sccmsim.New(sccmsim.Options{})
	ac, jc, lc, scc := aw.Credentials(), jf.Credentials(), ls.Credentials(), sc.Credentials()
	ssrv := httptest.NewServer(sc.Handler())
	in := intunesim.New(intunesim.Options{})
	isrv := httptest.NewServer(in.Handler())
	ic := in.Credentials()
	for _, c := range []struct {
		kind  connectors.Kind
		sim   *httptest.Server
		creds []byte
	}{
		{connectors.AWX, httptest.NewServer(aw.Handler()), mustJSON(t, map[string]any{"username": ac.Username, "password": ac.Password, "job_template": ac.JobTemplate, "repo": repo})},
		{connectors.Jamf, httptest.NewServer(jf.Handler()), mustJSON(t, map[string]string{"client_id": jc.ClientID, "client_secret": jc.ClientSecret})},
		{connectors.Landscape, httptest.NewServer(ls.Handler()), mustJSON(t, map[string]string{"access_key": lc.AccessKey, "secret_key": lc.SecretKey})},
		{connectors.Intune, isrv, mustJSON(t, map[string]string{"tenant": ic.Tenant, "client_id": ic.ClientID, "client_secret": ic.ClientSecret, "login_url": isrv.URL})},
		{connectors.SCCM, ssrv, mustJSON(t, map[string]any{"token_url": ssrv.URL + scc.TokenPath, "client_id": scc.ClientID, "client_secret": scc.ClientSecret,
			"scope": scc.Scope, "site_id": scc.SiteID, "content_source": `\\edge01\eucora-dp\sccm`, "distribution_point_groups": scc.DistributionPointGroups})},
	} {
		t.Cleanup(c.sim.Close)
		base := c.sim.URL
		if c.kind == connectors.SCCM {
			base += scc.BasePath
		}
		conn, err := planes.New(string(c.kind), base, c.creds)
		if err != nil {
			t.Errorf("%s: %v", c.kind, err)
			continue
		}
		if conn.Kind() != c.kind {
			t.Errorf("%s: connector of kind %s", c.kind, conn.Kind())
		}
		if _, err := conn.Check(context.Background()); err != nil {
			t.Errorf("%s: check: %v", c.kind, err)
		}
	}
}

// TestPlaneFactoryRefusesBadInput: each refusal names what is wrong, with
// the package's sentinel, and never quotes a secret.
func TestPlaneFactoryRefusesBadInput(t *testing.T) {
	const secret = "hunter2-secret"
	awxOK := `{"username":"u","password":"` + secret + `","repo":{"url":"https://apt.example.org/e","dist":"stable"}}`
	for _, c := range []struct {
		name, kind, url, creds string
		err                    error
		want                   string
	}{
		{"unknown kind", "puppet", "https://x.example.org", awxOK, planes.ErrUnknownKind, `kind "puppet"`},
		{"awx fields for intune", "intune", "https://x.example.org", awxOK, planes.ErrCredentials, `unknown field`},
		{"no scheme", "awx", "x.example.org", awxOK, planes.ErrURL, "absolute"},
		{"ftp", "awx", "ftp://x.example.org", awxOK, planes.ErrURL, "absolute"},
		{"user in URL", "awx", "https://u:" + secret + "@x.example.org", awxOK, planes.ErrURL, "must not carry credentials"},
		{"not JSON", "awx", "https://x.example.org", "password=" + secret, planes.ErrCredentials, "not JSON"},
		{"array", "jamf", "https://x.example.org", `["` + secret + `"]`, planes.ErrCredentials, "not a JSON object"},
		{"unknown field", "landscape", "https://x.example.org", `{"access":"` + secret + `"}`, planes.ErrCredentials, `unknown field "access"`},
		{"number", "awx", "https://x.example.org", `{"password":12}`, planes.ErrCredentials, `field "password"`},
		{"two documents", "jamf", "https://x.example.org", `{"client_id":"a","client_secret":"b"} {}`, planes.ErrCredentials, "more than one"},
		{"awx no password", "awx", "https://x.example.org", `{"username":"u"}`, planes.ErrCredentials, "username and password, or token"},
		{"awx no repo", "awx", "https://x.example.org", `{"token":"` + secret + `"}`, planes.ErrCredentials, `"repo"`},
		{"awx verify_after", "awx", "https://x.example.org", `{"token":"` + secret + `","repo":{"url":"https://apt.example.org/e","dist":"stable"},"verify_after":"soon"}`, planes.ErrCredentials, `verify_after "soon"`},
		{"jamf half", "jamf", "https://x.example.org", `{"client_secret":"` + secret + `"}`, planes.ErrCredentials, "client_id and client_secret"},
		{"jamf both (the connector's refusal)", "jamf", "https://x.example.org", `{"client_id":"a","client_secret":"b","username":"u","password":"` + secret + `"}`, planes.ErrCredentials, "not both"},
		{"landscape half", "landscape", "https://x.example.org", `{"access_key":"a"}`, planes.ErrCredentials, "access_key and secret_key"},
		{"landscape auth", "landscape", "https://x.example.org", `{"access_key":"a","secret_key":"` + secret + `","auth":"basic"}`, planes.ErrCredentials, `auth "basic"`},
	} {
		_, err := planes.New(c.kind, c.url, []byte(c.creds))
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v containing %q", c.name, err, c.err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error quotes the secret: %v", c.name, err)
		}
	}
}
