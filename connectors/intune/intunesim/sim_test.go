package intunesim

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/packaging/intunewin"
)

// client is a raw Graph client of a simulator, for tests.
type client struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	token string
}

func start(t *testing.T, o Options) *client {
	t.Helper()
	s := New(o)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c := &client{t: t, s: s, srv: srv}
	cred := s.Credentials()
	resp, err := http.PostForm(srv.URL+"/"+cred.Tenant+"/oauth2/v2.0/token", url.Values{
		"client_id": {cred.ClientID}, "client_secret": {cred.ClientSecret}, "scope": {cred.Scope}, "grant_type": {"client_credentials"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != 200 || tok.AccessToken == "" || tok.ExpiresIn <= 0 {
		t.Fatalf("token: %d %+v", resp.StatusCode, tok)
	}
	c.token = tok.AccessToken
	return c
}

// do sends a request and returns the status and the decoded JSON body.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.srv.URL + path
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("client-request-id", "test-client-request")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(data)) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, m
}

func errorMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func win32(name string) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.win32LobApp", "displayName": name, "publisher": "Contoso", "fileName": "setup.intunewin",
		"setupFilePath": "setup.exe", "installCommandLine": "setup.exe /S", "uninstallCommandLine": "setup.exe /U",
		"applicableArchitectures": "x64,x86",
		"rules":                   []any{map[string]any{"@odata.type": "#microsoft.graph.win32LobAppFileSystemRule", "ruleType": "detection", "path": `C:\Program Files\X`, "fileOrFolderName": "x.exe", "operationType": "exists"}},
	}
}

func TestCreateValidation(t *testing.T) {
	c := start(t, Options{})
	with := func(k string, v any) map[string]any {
		m := win32("app")
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	beta := "/beta/deviceAppManagement/mobileApps"
	v1 := "/v1.0/deviceAppManagement/mobileApps"
	cases := []struct {
		name, path string
		body       map[string]any
		want       string
	}{
		{"unknown type", beta, with("@odata.type", "#microsoft.graph.win64LobApp"), "A type named 'microsoft.graph.win64LobApp' could not be resolved"},
		{"no type", beta, with("@odata.type", nil), "abstract class"},
		{"unknown property", beta, with("colour", "red"), "The property 'colour' does not exist on type 'microsoft.graph.win32LobApp'"},
		{"beta property on v1.0", v1, with("detectionRules", []any{}), "The property 'detectionRules' does not exist"},
		{"missing required", beta, with("installCommandLine", nil), "The property 'installCommandLine' of type 'microsoft.graph.win32LobApp' is required"},
		{"wrong type", beta, with("displayName", 42), "Cannot convert the literal '42' to the expected type 'Edm.String'"},
		{"wrong int", beta, with("minimumMemoryInMB", "lots"), "expected type 'Edm.Int64'"},
		{"enum", beta, with("applicableArchitectures", "x64,sparc"), "Requested value 'sparc' was not found"},
		{"nested enum", beta, with("installExperience", map[string]any{"runAsAccount": "root"}), "Requested value 'root' was not found"},
		{"rule type", beta, with("rules", []any{map[string]any{"@odata.type": "#microsoft.graph.win32LobAppMagicRule", "ruleType": "detection"}}), "microsoft.graph.win32LobAppMagicRule"},
		{"rule field", beta, with("rules", []any{map[string]any{"@odata.type": "#microsoft.graph.win32LobAppProductCodeRule", "ruleType": "detection"}}), "'productCode'"},
		{"no detection", beta, with("rules", []any{map[string]any{"@odata.type": "#microsoft.graph.win32LobAppRegistryRule", "ruleType": "requirement", "keyPath": "HKLM\\X", "operationType": "exists"}}), "at least one detection rule"},
		{"not json", beta, nil, "not a JSON object"},
	}
	for _, tc := range cases {
		var body any = tc.body
		if tc.body == nil {
			body = "just a string"
		}
		status, m := c.do("POST", tc.path, body)
		if status != 400 || !strings.Contains(errorMessage(m), tc.want) {
			t.Errorf("%s: %d %q, want 400 with %q", tc.name, status, errorMessage(m), tc.want)
			continue
		}
		e := m["error"].(map[string]any)
		inner, _ := e["innerError"].(map[string]any)
		if e["code"] != "BadRequest" || inner["request-id"] == "" || inner["client-request-id"] != "test-client-request" || inner["date"] == "" {
			t.Errorf("%s: error shape %v", tc.name, m)
		}
	}
	// The beta detection rules are accepted on beta.
	m := with("rules", nil)
	m["detectionRules"] = []any{map[string]any{"@odata.type": "#microsoft.graph.win32LobAppProductCodeDetection", "productCode": "{X}"}}
	if status, r := c.do("POST", beta, m); status != 201 {
		t.Errorf("beta detectionRules: %d %v", status, r)
	}
	if len(c.s.Apps()) != 1 {
		t.Errorf("refused bodies made apps: %d", len(c.s.Apps()))
	}
	// The other app types.
	for _, body := range []map[string]any{
		{"@odata.type": "#microsoft.graph.macOSPkgApp", "displayName": "p", "publisher": "x", "fileName": "p.pkg", "primaryBundleId": "com.x", "primaryBundleVersion": "1",
			"includedApps": []any{map[string]any{"@odata.type": "#microsoft.graph.macOSIncludedApp", "bundleId": "com.x", "bundleVersion": "1"}}, "minimumSupportedOperatingSystem": map[string]any{"v11_0": true}},
		{"@odata.type": "#microsoft.graph.iosLobApp", "displayName": "i", "publisher": "x", "fileName": "i.ipa", "bundleId": "com.x", "applicableDeviceType": map[string]any{"iPad": true},
			"minimumSupportedOperatingSystem": map[string]any{"v15_0": true}, "versionNumber": "1", "buildNumber": "1"},
		{"@odata.type": "#microsoft.graph.androidLobApp", "displayName": "a", "publisher": "x", "fileName": "a.apk", "packageId": "com.x", "minimumSupportedOperatingSystem": map[string]any{"v8_0": true}, "versionName": "1", "versionCode": "1"},
	} {
		if status, r := c.do("POST", v1, body); status != 201 || r["publishingState"] != "notPublished" {
			t.Errorf("%s: %d %v", body["@odata.type"], status, r)
		}
		delete(body, "fileName")
		if status, r := c.do("POST", v1, body); status != 400 || !strings.Contains(errorMessage(r), "'fileName'") {
			t.Errorf("%s without fileName: %d %v", body["@odata.type"], status, r)
		}
	}
}

func TestAuth(t *testing.T) {
	c := start(t, Options{})
	cred := c.s.Credentials()
	for _, tc := range []struct {
		form   url.Values
		tenant string
		status int
		code   string
	}{
		{url.Values{"client_id": {cred.ClientID}, "client_secret": {"wrong"}, "scope": {cred.Scope}, "grant_type": {"client_credentials"}}, cred.Tenant, 401, "invalid_client"},
		{url.Values{"client_id": {"other"}, "client_secret": {cred.ClientSecret}, "scope": {cred.Scope}, "grant_type": {"client_credentials"}}, cred.Tenant, 400, "unauthorized_client"},
		{url.Values{"client_id": {cred.ClientID}, "client_secret": {cred.ClientSecret}, "scope": {"https://graph.microsoft.com/x"}, "grant_type": {"client_credentials"}}, cred.Tenant, 400, "invalid_scope"},
		{url.Values{"client_id": {cred.ClientID}, "client_secret": {cred.ClientSecret}, "scope": {cred.Scope}, "grant_type": {"password"}}, cred.Tenant, 400, "unsupported_grant_type"},
		{url.Values{"client_id": {cred.ClientID}, "client_secret": {cred.ClientSecret}, "scope": {cred.Scope}, "grant_type": {"client_credentials"}}, "other-tenant", 400, "invalid_request"},
	} {
		resp, err := http.PostForm(c.srv.URL+"/"+tc.tenant+"/oauth2/v2.0/token", tc.form)
		if err != nil {
			t.Fatal(err)
		}
		var e tokenError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || e.Error != tc.code || !strings.HasPrefix(e.ErrorDescription, "AADSTS") || len(e.ErrorCodes) != 1 {
			t.Errorf("%v: %d %+v, want %d %s", tc.form, resp.StatusCode, e, tc.status, tc.code)
		}
	}
	c.token = "forged"
	if status, m := c.do("GET", "/beta/deviceAppManagement/mobileApps", nil); status != 401 || m["error"].(map[string]any)["code"] != "InvalidAuthenticationToken" {
		t.Errorf("forged token: %d %v", status, m)
	}
}

func TestPagingAndFilter(t *testing.T) {
	c := start(t, Options{PageSize: 2})
	for i := range 5 {
		c.do("POST", "/beta/deviceAppManagement/mobileApps", win32(fmt.Sprintf("app-%d", i)))
	}
	c.do("POST", "/beta/deviceAppManagement/mobileApps", map[string]any{"@odata.type": "#microsoft.graph.androidLobApp", "displayName": "droid", "publisher": "x", "fileName": "a.apk",
		"packageId": "com.x", "minimumSupportedOperatingSystem": map[string]any{"v8_0": true}, "versionName": "1", "versionCode": "1"})
	collect := func(path string) ([]string, int) {
		var names []string
		pages := 0
		for path != "" {
			status, m := c.do("GET", path, nil)
			if status != 200 {
				t.Fatalf("%s: %d %v", path, status, m)
			}
			pages++
			for _, v := range m["value"].([]any) {
				names = append(names, v.(map[string]any)["displayName"].(string))
			}
			path, _ = m["@odata.nextLink"].(string)
			if path != "" && !strings.HasPrefix(path, c.srv.URL+"/beta/") {
				t.Fatalf("next link %q is not absolute on the server", path)
			}
		}
		return names, pages
	}
	if names, pages := collect("/beta/deviceAppManagement/mobileApps"); len(names) != 6 || pages != 3 {
		t.Errorf("all: %v in %d pages", names, pages)
	}
	if names, pages := collect("/beta/deviceAppManagement/mobileApps?$filter=" + url.QueryEscape("isof('microsoft.graph.win32LobApp')") + "&$top=1"); len(names) != 5 || pages != 5 {
		t.Errorf("isof win32 with $top=1: %v in %d pages", names, pages)
	}
	if names, _ := collect("/beta/deviceAppManagement/mobileApps?$filter=" + url.QueryEscape("displayName eq 'app-3'")); len(names) != 1 || names[0] != "app-3" {
		t.Errorf("displayName eq: %v", names)
	}
	if names, _ := collect("/beta/deviceAppManagement/mobileApps?$filter=" + url.QueryEscape("(isof('microsoft.graph.mobileLobApp'))")); len(names) != 6 {
		t.Errorf("isof mobileLobApp: %v", names)
	}
	if status, m := c.do("GET", "/beta/deviceAppManagement/mobileApps?$filter="+url.QueryEscape("startswith(displayName,'a')"), nil); status != 400 || !strings.Contains(errorMessage(m), "Invalid filter clause") {
		t.Errorf("unsupported filter: %d %v", status, m)
	}
	if status, _ := c.do("GET", "/beta/deviceAppManagement/mobileApps?$skiptoken=garbage", nil); status != 400 {
		t.Errorf("a bad skiptoken: %d", status)
	}
}

func TestEventualConsistency(t *testing.T) {
	c := start(t, Options{ConsistencyDelay: 3})
	_, app := c.do("POST", "/beta/deviceAppManagement/mobileApps", win32("late"))
	id := app["id"].(string)
	for i := range 3 {
		if status, _ := c.do("GET", "/beta/deviceAppManagement/mobileApps/"+id, nil); status != 404 {
			t.Fatalf("GET %d after create: %d, want 404", i+1, status)
		}
	}
	if status, _ := c.do("GET", "/beta/deviceAppManagement/mobileApps/"+id, nil); status != 200 {
		t.Fatalf("GET 4 after create: %d", status)
	}
	_, cv := c.do("POST", "/beta/deviceAppManagement/mobileApps/"+id+"/contentVersions", map[string]any{})
	files := "/beta/deviceAppManagement/mobileApps/" + id + "/contentVersions/" + cv["id"].(string) + "/files"
	_, f := c.do("POST", files, map[string]any{"name": "IntunePackage.intunewin", "size": 10, "sizeEncrypted": 64})
	if f["uploadState"] != stRequestPending || f["azureStorageUri"] != nil {
		t.Fatalf("new file: %v", f)
	}
	var states []string
	for range 4 {
		_, g := c.do("GET", files+"/"+f["id"].(string), nil)
		states = append(states, g["uploadState"].(string))
	}
	want := []string{stRequestPending, stRequestPending, stRequestPending, stRequestSuccess}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("upload states %v, want %v", states, want)
	}
}

// upload puts data on a file's upload URI in blocks of n bytes.
func (c *client) upload(sas string, data []byte, n int, header http.Header) int {
	var ids []string
	for i := 0; i*n < len(data); i++ {
		id := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%04d", i)))
		req, _ := http.NewRequest("PUT", sas+"&comp=block&blockid="+url.QueryEscape(id), bytes.NewReader(data[i*n:min((i+1)*n, len(data))]))
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			c.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return resp.StatusCode
		}
		ids = append(ids, id)
	}
	var bl strings.Builder
	bl.WriteString("<BlockList>")
	for _, id := range ids {
		bl.WriteString("<Latest>" + id + "</Latest>")
	}
	bl.WriteString("</BlockList>")
	req, _ := http.NewRequest("PUT", sas+"&comp=blocklist", strings.NewReader(bl.String()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// readyFile makes an app, a content version and a file ready for upload
// of an encrypted plain, and returns the file's path and upload URI.
func (c *client) readyFile(withCast bool, plainSize, encSize int64) (app, path, sas string) {
	_, a := c.do("POST", "/beta/deviceAppManagement/mobileApps", win32("content"))
	app = a["id"].(string)
	base := "/beta/deviceAppManagement/mobileApps/" + app
	for i := 0; ; i++ { // through the eventual consistency
		if status, _ := c.do("GET", base, nil); status == 200 || i > 10 {
			break
		}
	}
	if withCast {
		base += "/microsoft.graph.win32LobApp"
	}
	status, cv := c.do("POST", base+"/contentVersions", map[string]any{})
	if status != 201 {
		c.t.Fatalf("content version: %d %v", status, cv)
	}
	path = base + "/contentVersions/" + cv["id"].(string) + "/files"
	_, f := c.do("POST", path, map[string]any{"@odata.type": "#microsoft.graph.mobileAppContentFile", "name": "IntunePackage.intunewin", "size": plainSize, "sizeEncrypted": encSize, "manifest": nil, "isDependency": false})
	path += "/" + f["id"].(string)
	for i := 0; i < 10 && f["uploadState"] != stRequestSuccess; i++ {
		_, f = c.do("GET", path, nil)
	}
	sas, _ = f["azureStorageUri"].(string)
	if f["uploadState"] != stRequestSuccess || sas == "" {
		c.t.Fatalf("file not ready: %v", f)
	}
	return app, path, sas
}

func encrypt(t *testing.T, plain []byte) ([]byte, intunewin.EncryptionInfo) {
	var enc bytes.Buffer
	e, _, err := intunewin.Encrypt(&enc, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(plain)), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.Bytes(), e
}

func TestCommitDecryptsAndChecks(t *testing.T) {
	plain := bytes.Repeat([]byte("the setup folder zipped "), 4000)
	other := func(e intunewin.EncryptionInfo, f func(*intunewin.EncryptionInfo)) intunewin.EncryptionInfo {
		e.EncryptionKey, e.MacKey, e.Mac, e.FileDigest = bytes.Clone(e.EncryptionKey), bytes.Clone(e.MacKey), bytes.Clone(e.Mac), bytes.Clone(e.FileDigest)
		f(&e)
		return e
	}
	for _, tc := range []struct {
		name   string
		cast   bool
		edit   func(*intunewin.EncryptionInfo)
		size   int64 // the plaintext size the file entry declares
		reason string
	}{
		{name: "good, cast segment", cast: true},
		{name: "good, no cast segment"},
		{name: "wrong MAC", edit: func(e *intunewin.EncryptionInfo) { e.Mac[0] ^= 1 }, reason: "MAC mismatch"},
		{name: "wrong MAC key", edit: func(e *intunewin.EncryptionInfo) { e.MacKey[0] ^= 1 }, reason: "MAC mismatch"},
		{name: "wrong digest", edit: func(e *intunewin.EncryptionInfo) { e.FileDigest[0] ^= 1 }, reason: "not the recorded FileDigest"},
		{name: "wrong key", edit: func(e *intunewin.EncryptionInfo) { e.EncryptionKey[0] ^= 1 }, reason: "file digest mismatch"},
		{name: "wrong size", size: 5, reason: "file digest mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, Options{ConsistencyDelay: 1})
			enc, e := encrypt(t, plain)
			size := int64(len(plain))
			if tc.size != 0 {
				size = tc.size
			}
			app, path, sas := c.readyFile(tc.cast, size, int64(len(enc)))
			if status := c.upload(sas, enc, 20000, nil); status != 201 {
				t.Fatalf("upload: %d", status)
			}
			if tc.edit != nil {
				e = other(e, tc.edit)
			}
			if status, m := c.do("POST", path+"/commit", map[string]any{"fileEncryptionInfo": e}); status != 204 {
				t.Fatalf("commit: %d %v", status, m)
			}
			_, f := c.do("GET", path, nil)
			if f["uploadState"] != stCommitPending {
				t.Errorf("right after commit: %v", f["uploadState"])
			}
			_, f = c.do("GET", path, nil)
			want := stCommitSuccess
			if tc.reason != "" {
				want = stCommitFailed
			}
			if f["uploadState"] != want || f["isCommitted"] != (tc.reason == "") {
				t.Fatalf("after the commit's poll: %v, want %s", f, want)
			}
			snap, _ := c.s.App(app)
			if tc.reason != "" {
				if !strings.Contains(snap.Files[0].FailReason, tc.reason) {
					t.Errorf("fail reason %q, want %q", snap.Files[0].FailReason, tc.reason)
				}
				if status, _ := c.do("PATCH", "/beta/deviceAppManagement/mobileApps/"+app, map[string]any{"@odata.type": "#microsoft.graph.win32LobApp", "committedContentVersion": "1"}); status != 400 {
					t.Errorf("committing a version whose file failed: %d", status)
				}
				return
			}
			if status, m := c.do("PATCH", "/beta/deviceAppManagement/mobileApps/"+app, map[string]any{"@odata.type": "#microsoft.graph.win32LobApp", "committedContentVersion": "1"}); status != 204 {
				t.Fatalf("patch: %d %v", status, m)
			}
			got, err := c.s.Content(app)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("content: %v", err)
			}
			_, a := c.do("GET", "/beta/deviceAppManagement/mobileApps/"+app, nil)
			if a["committedContentVersion"] != "1" || a["publishingState"] != "published" {
				t.Errorf("app after commit: %v", a)
			}
		})
	}
}

func TestBlobEndpoint(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	c := start(t, Options{Now: clock, SASLifetime: time.Hour, TokenLifetime: 24 * time.Hour})
	enc, e := encrypt(t, []byte("tiny"))
	_, path, sas := c.readyFile(false, 4, int64(len(enc)))
	u, _ := url.Parse(sas)
	q := u.Query()
	q.Set("sig", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	u.RawQuery = q.Encode()
	if status := c.upload(u.String(), enc, 100, nil); status != 403 {
		t.Errorf("a forged signature: %d, want 403", status)
	}
	if status := c.upload(sas, enc, 100, http.Header{"Authorization": {"Bearer " + c.token}}); status != 400 {
		t.Errorf("a Graph token sent to storage: %d, want 400", status)
	}
	now = now.Add(2 * time.Hour)
	if status := c.upload(sas, enc, 100, nil); status != 403 {
		t.Errorf("an expired SAS: %d, want 403", status)
	}
	if status, m := c.do("POST", path+"/renewUpload", map[string]any{}); status != 204 {
		t.Fatalf("renew: %d %v", status, m)
	}
	_, f := c.do("GET", path, nil)
	if f["uploadState"] != stRenewalSuccess || f["azureStorageUri"] == sas {
		t.Fatalf("after renewal: %v", f)
	}
	sas = f["azureStorageUri"].(string)
	c.s.ExpireUploads()
	if status := c.upload(sas, enc, 100, nil); status != 403 {
		t.Errorf("after ExpireUploads: %d, want 403", status)
	}
	c.do("POST", path+"/renewUpload", map[string]any{})
	_, f = c.do("GET", path, nil)
	if status := c.upload(f["azureStorageUri"].(string), enc, 100, nil); status != 201 {
		t.Fatalf("renewed upload: %d", status)
	}
	// Block ids of a blob must have one length; a block list naming a
	// block never put is refused.
	sas = f["azureStorageUri"].(string)
	put := func(query string, body string) int {
		req, _ := http.NewRequest("PUT", sas+"&"+query, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := put("comp=block&blockid="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("00001"))), "x"); s != 400 {
		t.Errorf("a block id of another length: %d", s)
	}
	if s := put("comp=blocklist", "<BlockList><Latest>bm9wZQ==</Latest></BlockList>"); s != 400 {
		t.Errorf("a block list naming an unknown block: %d", s)
	}
	if status, _ := c.do("POST", path+"/commit", map[string]any{"fileEncryptionInfo": e}); status != 204 {
		t.Errorf("commit: %d", status)
	}
}

func TestAssignAndDeviceStatus(t *testing.T) {
	groups := map[string][]Device{
		"g1": {{ID: "d1", Name: "PC1", UserPrincipalName: "a@contoso.com"}, {ID: "d2", Name: "PC2"}},
		"g2": {{ID: "d3", Name: "PC3"}},
	}
	c := start(t, Options{Groups: groups, InstallAfter: 2, PageSize: 2, Outcome: func(app string, d Device) Outcome {
		if d.ID == "d2" {
			return Outcome{State: "failed", Detail: "installingDependencies", ErrorCode: -2016345060}
		}
		return Outcome{State: "installed"}
	}})
	plain := []byte("content")
	enc, e := encrypt(t, plain)
	app, path, sas := c.readyFile(false, int64(len(plain)), int64(len(enc)))
	base := "/beta/deviceAppManagement/mobileApps/" + app
	one := func(intent, typ, group string) map[string]any {
		return map[string]any{"@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": intent, "target": map[string]any{"@odata.type": "#microsoft.graph." + typ, "groupId": group}}
	}
	if status, m := c.do("POST", base+"/assign", map[string]any{"mobileAppAssignments": []any{one("required", "groupAssignmentTarget", "g1")}}); status != 400 || !strings.Contains(errorMessage(m), "publishingState is notPublished") {
		t.Errorf("assigning before publishing: %d %v", status, m)
	}
	c.upload(sas, enc, 1000, nil)
	c.do("POST", path+"/commit", map[string]any{"fileEncryptionInfo": e})
	c.do("GET", path, nil)
	c.do("PATCH", base, map[string]any{"@odata.type": "#microsoft.graph.win32LobApp", "committedContentVersion": "1"})
	for _, tc := range []struct {
		list []any
		want string
	}{
		{[]any{one("required", "groupAssignmentTarget", "nope")}, "The group 'nope' does not exist"},
		{[]any{one("required", "groupAssignmentTarget", "g1"), one("available", "groupAssignmentTarget", "g1")}, "assigned twice"},
		{[]any{one("sometimes", "groupAssignmentTarget", "g1")}, "Requested value 'sometimes'"},
		{[]any{one("required", "everyoneTarget", "g1")}, "microsoft.graph.everyoneTarget"},
	} {
		if status, m := c.do("POST", base+"/assign", map[string]any{"mobileAppAssignments": tc.list}); status != 400 || !strings.Contains(errorMessage(m), tc.want) {
			t.Errorf("assign %v: %d %q, want %q", tc.list, status, errorMessage(m), tc.want)
		}
	}
	if status, m := c.do("POST", base+"/microsoft.graph.assign", map[string]any{"mobileAppAssignments": []any{one("required", "groupAssignmentTarget", "g1"), one("required", "groupAssignmentTarget", "g2")}}); status != 204 {
		t.Fatalf("assign: %d %v", status, m)
	}
	read := func() map[string]string {
		out := map[string]string{}
		path := base + "/deviceStatuses"
		first := true
		for path != "" {
			_, m := c.do("GET", path, nil)
			for _, v := range m["value"].([]any) {
				d := v.(map[string]any)
				out[d["deviceId"].(string)] = d["installState"].(string)
			}
			path, _ = m["@odata.nextLink"].(string)
			if first && path == "" {
				t.Fatal("three devices at page size 2 came on one page")
			}
			first = false
		}
		return out
	}
	if got := read(); got["d1"] != "pendingInstall" || got["d3"] != "pendingInstall" {
		t.Errorf("first read: %v", got)
	}
	if got := read(); got["d1"] != "installed" || got["d2"] != "failed" || got["d3"] != "installed" {
		t.Errorf("second read: %v", got)
	}
	_, sum := c.do("GET", base+"/installSummary", nil)
	if sum["installedDeviceCount"] != float64(2) || sum["failedDeviceCount"] != float64(1) || sum["installedUserCount"] != float64(1) {
		t.Errorf("install summary %v", sum)
	}
	if status, _ := c.do("GET", "/v1.0/deviceAppManagement/mobileApps/"+app+"/deviceStatuses", nil); status != 400 {
		t.Errorf("deviceStatuses on v1.0: %d, want 400 (beta only)", status)
	}
	// Uninstall: the devices report notInstalled after InstallAfter reads.
	c.do("POST", base+"/assign", map[string]any{"mobileAppAssignments": []any{one("uninstall", "groupAssignmentTarget", "g1"), one("required", "groupAssignmentTarget", "g2")}})
	read()
	if got := read(); got["d1"] != "notInstalled" || got["d3"] != "installed" {
		t.Errorf("after uninstall: %v", got)
	}
	snap, _ := c.s.App(app)
	if len(snap.Assignments) != 2 || snap.Assignments[0].ID != "g1_2_0" {
		t.Errorf("assignments %+v", snap.Assignments)
	}
}

func TestRelationships(t *testing.T) {
	c := start(t, Options{})
	var ids []string
	for i := range 12 {
		_, a := c.do("POST", "/beta/deviceAppManagement/mobileApps", win32(fmt.Sprintf("a%d", i)))
		ids = append(ids, a["id"].(string))
	}
	sup := func(targets ...string) []any {
		var out []any
		for _, t := range targets {
			out = append(out, map[string]any{"@odata.type": "#microsoft.graph.mobileAppSupersedence", "supersedenceType": "update", "targetId": t})
		}
		return out
	}
	base := "/beta/deviceAppManagement/mobileApps/" + ids[0]
	if status, m := c.do("POST", base+"/updateRelationships", map[string]any{"relationships": sup(ids[1:]...)}); status != 400 || !strings.Contains(errorMessage(m), "at most 10") {
		t.Errorf("11 supersedences: %d %v", status, m)
	}
	for _, tc := range []struct {
		rel  []any
		want string
	}{
		{sup(ids[0]), "itself"},
		{sup("nope"), "does not exist"},
		{sup(ids[1], ids[1]), "named twice"},
		{[]any{map[string]any{"@odata.type": "#microsoft.graph.mobileAppSupersedence", "supersedenceType": "swap", "targetId": ids[1]}}, "Requested value 'swap'"},
	} {
		if status, m := c.do("POST", base+"/updateRelationships", map[string]any{"relationships": tc.rel}); status != 400 || !strings.Contains(errorMessage(m), tc.want) {
			t.Errorf("%v: %d %q", tc.rel, status, errorMessage(m))
		}
	}
	if status, m := c.do("POST", base+"/updateRelationships", map[string]any{"relationships": sup(ids[1:11]...)}); status != 204 {
		t.Fatalf("10 supersedences: %d %v", status, m)
	}
	_, m := c.do("GET", base+"/relationships", nil)
	if v := m["value"].([]any); len(v) != 10 || v[0].(map[string]any)["id"] != ids[0]+"_"+ids[1] {
		t.Errorf("relationships: %v", v)
	}
	if status, _ := c.do("POST", "/v1.0/deviceAppManagement/mobileApps/"+ids[0]+"/updateRelationships", map[string]any{"relationships": sup(ids[1])}); status != 400 {
		t.Errorf("updateRelationships on v1.0: %d, want 400", status)
	}
}

// TestGzipBody: a gzip request body, as the Graph SDKs' compression
// handler sends, is read; an unknown encoding is 415.
func TestGzipBody(t *testing.T) {
	c := start(t, Options{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	json.NewEncoder(zw).Encode(win32("zipped"))
	zw.Close()
	for _, tc := range []struct {
		enc    string
		status int
	}{{"gzip", 201}, {"br", 415}} {
		req, _ := http.NewRequest("POST", c.srv.URL+"/v1.0/deviceAppManagement/mobileApps", bytes.NewReader(buf.Bytes()))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", tc.enc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.enc, resp.StatusCode, tc.status)
		}
	}
}
