package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEdgePlaneCLI: a site-local plane is registered at the edge with its
// credentials (kept 0600, never shown), bad input is refused with the
// field named and nothing written, and execute without orders says so.
func TestEdgePlaneCLI(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "edge", "init", "--data", "e", "--site", "berlin", "--hub-key", "keys/hub.pub")
	good := `{"token_url": "https://login.example/token", "client_id": "cm", "client_secret": "s3cret-value", "scope": "api://cm/.default", "content_source": "\\\\dp\\share"}`
	os.WriteFile(filepath.Join(dir, "sccm.json"), []byte(good), 0o600)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"client_id": "cm"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "notjson.json"), []byte(`client_id=cm`), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"BAD_NAME", "--kind", "sccm", "--url", "https://sccm.example/AdminService", "--credentials", "sccm.json"}, "plane name"},
		{[]string{"sccm-berlin", "--kind", "bigfix", "--url", "https://sccm.example/AdminService", "--credentials", "sccm.json"}, "--kind: plane sccm-berlin: kind \"bigfix\": unknown plane kind"},
		{[]string{"sccm-berlin", "--kind", "sccm", "--url", "ftp://sccm.example", "--credentials", "sccm.json"}, "URL"},
		{[]string{"sccm-berlin", "--kind", "sccm", "--url", "https://sccm.example/AdminService", "--credentials", "bad.json"}, "token_url"},
		{[]string{"sccm-berlin", "--kind", "sccm", "--url", "https://sccm.example/AdminService", "--credentials", "notjson.json"}, "credentials"},
		{[]string{"sccm-berlin", "--kind", "sccm", "--url", "https://sccm.example/AdminService", "--credentials", "missing.json"}, "--credentials"},
		{[]string{"sccm-berlin", "--kind", "sccm", "--url", "https://sccm.example/AdminService"}, "--credentials"},
	} {
		r := eucora(t, dir, append([]string{"edge", "plane", "add", "--data", "e"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("edge plane add %v: exit %d, want %q in\n%s", c.args, r.code, c.want, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "e", "edge", "planes.json")); err == nil {
			t.Fatalf("edge plane add %v wrote planes.json", c.args)
		}
	}
	mustRun(t, dir, "edge", "plane", "add", "sccm-berlin", "--data", "e", "--kind", "sccm", "--url", "https://sccm.example/AdminService", "--credentials", "sccm.json")
	if r := eucora(t, dir, "edge", "plane", "add", "sccm-berlin", "--data", "e", "--kind", "sccm", "--url", "https://other.example/AdminService", "--credentials", "sccm.json"); r.code == 0 || !strings.Contains(r.stderr, "--replace") {
		t.Errorf("second add without --replace: exit %d\n%s", r.code, r.stderr)
	}
	fi, err := os.Stat(filepath.Join(dir, "e", "edge", "planes.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("planes.json: %v %v", err, fi)
	}
	var list struct {
		Planes []struct{ Name, Kind, URL string } `json:"planes"`
	}
	r := mustRun(t, dir, "edge", "plane", "list", "--data", "e", "--output", "json")
	decodeJSON(t, r.stdout, &list)
	if len(list.Planes) != 1 || list.Planes[0].Name != "sccm-berlin" || list.Planes[0].URL != "https://sccm.example/AdminService" || strings.Contains(r.stdout, "s3cret") {
		t.Fatalf("edge plane list:\n%s", r.stdout)
	}
	if r := mustRun(t, dir, "edge", "execute", "--data", "e"); !strings.Contains(r.stdout, "no orders held") {
		t.Errorf("execute without orders:\n%s", r.stdout)
	}
	mustRun(t, dir, "edge", "plane", "remove", "sccm-berlin", "--data", "e")
	if r := eucora(t, dir, "edge", "plane", "remove", "sccm-berlin", "--data", "e"); r.code == 0 || !strings.Contains(r.stderr, "not registered") {
		t.Errorf("second remove: exit %d\n%s", r.code, r.stderr)
	}
}
