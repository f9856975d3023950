package hub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

const planeSecret = "pl4ne-s3cret-never-in-clear"

func awxCredentials(t *testing.T, password string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"username": "admin", "password": password, "repo": map[string]string{"url": "https://apt.example.org/eucora", "dist": "stable"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPlaneRegistry registers an AWX simulator as a plane, checks it, and
// shows that the credentials reach only the connector: not the API, not
// the events, not the backup and not the data directory's bytes.
func TestPlaneRegistry(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{RealRaft: true})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	sim := awxsim.New(awxsim.Options{Password: planeSecret})
	t.Cleanup(sim.Close)
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	creds := awxCredentials(t, planeSecret)

	pl, err := ac.CreatePlane(ctx, api.PlaneRequest{Name: "awx-lab", Kind: "awx", URL: hs.URL, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Name != "awx-lab" || pl.Kind != "awx" || !strings.HasPrefix(pl.KeyID, "ck-") {
		t.Errorf("created plane %+v", pl)
	}
	if fi, err := os.Stat(filepath.Join(n.dir, "hub", "keys", credentialsKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials key: %v %v", fi, err)
	}

	chk, err := ac.CheckPlane(ctx, "awx-lab")
	if err != nil {
		t.Fatal(err)
	}
	if !chk.OK || chk.Class != "" || chk.Plane != "awx-lab" {
		t.Errorf("check of the simulator: %+v", chk)
	}

	// A wrong password: the check fails, class permanent.
	if _, err := ac.CreatePlane(ctx, api.PlaneRequest{Name: "awx-wrong", Kind: "awx", URL: hs.URL, Credentials: awxCredentials(t, "not-the-password")}); err != nil {
		t.Fatal(err)
	}
	bad, err := ac.CheckPlane(ctx, "awx-wrong")
	if err != nil {
		t.Fatal(err)
	}
	if bad.OK || bad.Class != "permanent" || bad.Error == "" {
		t.Errorf("check with a wrong password: %+v", bad)
	}

	// Every role but platform-admin is refused, the packaging engineer
	// included.
	for _, role := range deploy.Roles {
		if role == deploy.RolePlatformAdmin {
			continue
		}
		nt, err := ac.CreateToken(ctx, api.TokenRequest{Name: "pl-" + string(role), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		c := cli(n, nt.Token)
		_, e1 := c.CreatePlane(ctx, api.PlaneRequest{Name: "sneaky", Kind: "awx", URL: hs.URL, Credentials: creds})
		_, e2 := c.Planes(ctx)
		_, e3 := c.CheckPlane(ctx, "awx-lab")
		for i, err := range []error{e1, e2, e3} {
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
				t.Errorf("%s, call %d: %v, want 403", role, i, err)
			}
		}
	}

	// Answers never carry the credentials.
	raw := func(path string) []byte {
		resp, err := ac.Raw(ctx, "GET", path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	list := raw("/v1/planes")
	if !bytes.Contains(list, []byte(`"awx-lab"`)) || !bytes.Contains(list, []byte(pl.KeyID)) {
		t.Errorf("plane list: %s", list)
	}
	leaks := [][]byte{[]byte(planeSecret), []byte(base64.StdEncoding.EncodeToString(creds)), []byte("not-the-password")}
	events := raw("/v1/events?limit=10000")
	backup := raw("/v1/backup")
	for what, b := range map[string][]byte{"plane list": list, "events": events, "backup": backup} {
		for _, l := range leaks {
			if bytes.Contains(b, l) {
				t.Errorf("%s carries credentials %q", what, l)
			}
		}
	}

	// The audit names the plane in every add and check, and a failed
	// check's class.
	var page api.EventPage
	if err := json.Unmarshal(events, &page); err != nil {
		t.Fatal(err)
	}
	var adds, checks, failed int
	for _, e := range page.Events {
		switch {
		case e.Action == "plane.create" && strings.HasPrefix(e.Object, "plane/awx-"):
			adds++
		case e.Action == "planes.check" && e.Object == "plane/awx-lab" && e.Outcome == "ok":
			checks++
		case e.Action == "planes.check" && e.Object == "plane/awx-wrong" && e.Outcome == "failed" && strings.Contains(e.Reason, "class permanent"):
			failed++
		}
	}
	if adds != 2 || checks != 1 || failed != 1 {
		t.Errorf("audit: %d adds, %d ok checks, %d failed checks; want 2, 1, 1", adds, checks, failed)
	}

	// Neither the Raft log nor the Pebble state holds the credentials in
	// clear: grep every byte of the data directory but the key itself.
	filepath.WalkDir(n.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == credentialsKeyFile {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, l := range leaks {
			if bytes.Contains(b, l) {
				t.Errorf("%s holds credentials %q in clear", path, l)
			}
		}
		return nil
	})
}

// TestPlaneAddRefusesBadInput: each bad request is refused with a clear
// error naming what is wrong, and registers nothing.
func TestPlaneAddRefusesBadInput(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	good := []byte(`{"username":"u","password":"p","repo":{"url":"https://apt.example.org/eucora","dist":"stable"}}`)
	if _, err := ac.CreatePlane(ctx, api.PlaneRequest{Name: "awx1", Kind: "awx", URL: "https://awx.example.org", Credentials: good}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  api.PlaneRequest
		want string
	}{
		{"unknown kind", api.PlaneRequest{Name: "p1", Kind: "puppet", URL: "https://x.example.org", Credentials: good}, `unknown plane kind`},
		{"credentials of another kind", api.PlaneRequest{Name: "p1", Kind: "intune", URL: "https://x.example.org", Credentials: good}, `unknown field`},
		{"relative URL", api.PlaneRequest{Name: "p1", Kind: "awx", URL: "awx.example.org", Credentials: good}, `bad plane URL`},
		{"URL with user", api.PlaneRequest{Name: "p1", Kind: "awx", URL: "https://u:p@awx.example.org", Credentials: good}, `must not carry credentials`},
		{"credentials not JSON", api.PlaneRequest{Name: "p1", Kind: "awx", URL: "https://x.example.org", Credentials: []byte("password=p")}, `not JSON`},
		{"credentials unknown field", api.PlaneRequest{Name: "p1", Kind: "awx", URL: "https://x.example.org", Credentials: []byte(`{"user":"u"}`)}, `unknown field "user"`},
		{"credentials incomplete", api.PlaneRequest{Name: "p1", Kind: "jamf", URL: "https://x.example.org", Credentials: []byte(`{"client_id":"c"}`)}, `want client_id and client_secret`},
		{"bad name", api.PlaneRequest{Name: "Bad Name", Kind: "awx", URL: "https://x.example.org", Credentials: good}, `name "Bad Name"`},
		{"duplicate name", api.PlaneRequest{Name: "awx1", Kind: "awx", URL: "https://x.example.org", Credentials: good}, `already exists`},
	}
	for _, c := range cases {
		_, err := ac.CreatePlane(ctx, c.req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), `"p"`) {
			t.Errorf("%s: error quotes the credentials: %v", c.name, err)
		}
	}
	all, err := ac.Planes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Name != "awx1" || all[0].URL != "https://awx.example.org" {
		t.Errorf("planes after refused adds: %+v", all)
	}
}

// TestPlaneCheckWithoutCredentialsKey: a node lacking the key the
// credentials are sealed with says to copy it, and reads nothing.
func TestPlaneCheckWithoutCredentialsKey(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	ctx := ctxT(t)
	ac := cli(n, admin)
	if _, err := ac.CreatePlane(ctx, api.PlaneRequest{Name: "awx1", Kind: "awx", URL: "https://awx.example.org", Credentials: []byte(`{"token":"t","repo":{"url":"https://apt.example.org/eucora","dist":"stable"}}`)}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(n.dir, "hub", "keys", credentialsKeyFile)); err != nil {
		t.Fatal(err)
	}
	n.srv.credKey.mu.Lock()
	n.srv.credKey.key, n.srv.credKey.id = nil, "" // as a node that never had it
	n.srv.credKey.mu.Unlock()
	_, err := ac.CheckPlane(ctx, "awx1")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "copy DATA/hub/keys/credentials.key") {
		t.Errorf("check without the key: %v", err)
	}
	// Nor does it start a second key for a new plane.
	_, err = ac.CreatePlane(ctx, api.PlaneRequest{Name: "awx2", Kind: "awx", URL: "https://awx.example.org", Credentials: []byte(`{"token":"t","repo":{"url":"https://apt.example.org/eucora","dist":"stable"}}`)})
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "copy DATA/hub/keys/credentials.key") {
		t.Errorf("add without the key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.dir, "hub", "keys", credentialsKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused add made a key: %v", err)
	}
	if all, _ := ac.Planes(ctx); len(all) != 1 {
		t.Errorf("planes after the refused add: %+v", all)
	}
}
