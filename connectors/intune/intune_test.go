package intune_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/conformance"
	"github.com/eucora/eucora/connectors/intune"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/packaging/intunewin"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func key(app, version string, ring deploy.Ring) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: app, Version: version, Ring: ring, Scope: deploy.Scope{Acquisition: "contoso", BU: "finance"}}
}

func onlyApp(t *testing.T, s *intunesim.Server) intunesim.App {
	t.Helper()
	apps := s.Apps()
	if len(apps) != 1 {
		t.Fatalf("the plane holds %d apps, want 1", len(apps))
	}
	return apps[0]
}

// TestPublishWin32 checks the app a release becomes, and that the content
// the simulator decrypted with the key sent at commit is the setup file
// zipped.
func TestPublishWin32(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{}, nil)
	r := release(key("notepad", "8.6", deploy.Ring1Canary), "corr-w32")
	pub, err := mk().Publish(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	a := onlyApp(t, s)
	p := a.Props
	want := map[string]any{
		"displayName":          "Fixture notepad [" + r.Key.AppKey().Name() + "]",
		"publisher":            "Contoso",
		"fileName":             "notepad-8.6.intunewin",
		"setupFilePath":        "notepad-8.6.msi",
		"installCommandLine":   `msiexec /i "notepad-8.6.msi" /qn`,
		"uninstallCommandLine": "msiexec /x " + r.Install.Detection.ProductCode + " /qn",
		"displayVersion":       "8.6",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %v, want %v", k, p[k], v)
		}
	}
	rules := p["rules"].([]any)
	if rule := rules[0].(map[string]any); len(rules) != 1 || rule["@odata.type"] != "#microsoft.graph.win32LobAppProductCodeRule" || rule["productCode"] != r.Install.Detection.ProductCode || rule["productVersionOperator"] != "equal" {
		t.Errorf("rules %v", rules)
	}
	if msi := p["msiInformation"].(map[string]any); msi["productCode"] != r.Install.Detection.ProductCode {
		t.Errorf("msiInformation %v", msi)
	}
	if rc := p["returnCodes"].([]any); len(rc) != 5 {
		t.Errorf("return codes %v", rc)
	}
	if ie := p["installExperience"].(map[string]any); ie["runAsAccount"] != "system" || ie["deviceRestartBehavior"] != "basedOnReturnCode" {
		t.Errorf("install experience %v", ie)
	}
	if !strings.Contains(a.Notes, "eucora:correlation=corr-w32 release="+r.Key.String()+" targets=grp-ring1-a,grp-ring1-b,!grp-ring1-x") ||
		!strings.Contains(a.Notes, "eucora:content="+string(r.Content.Digest)) {
		t.Errorf("notes %q", a.Notes)
	}
	if a.CommittedContentVersion != "1" || a.PublishingState != "published" || len(a.Files) != 1 || a.Files[0].Name != intunewin.ContentFileName {
		t.Errorf("app %+v", a)
	}
	plain, err := s.Content(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(plain), int64(len(plain)))
	if err != nil || len(zr.File) != 1 || zr.File[0].Name != r.Content.Name {
		t.Fatalf("the committed content is not the setup file zipped: %v", err)
	}
	rc, _ := zr.File[0].Open()
	got, _ := io.ReadAll(rc)
	if digest.FromBytes(got) != r.Content.Digest {
		t.Error("the zipped setup file is not the release's content")
	}
	var groups []string
	for _, x := range a.Assignments {
		groups = append(groups, x.TargetType+"/"+x.Intent+"/"+x.GroupID)
	}
	if w := "groupAssignmentTarget/required/grp-ring1-a groupAssignmentTarget/required/grp-ring1-b exclusionGroupAssignmentTarget/required/grp-ring1-x"; strings.Join(groups, " ") != w {
		t.Errorf("assignments %v, want %s", groups, w)
	}
	if len(pub.Objects) != 4 || pub.Objects[0].Kind != "mobileApp" || pub.Objects[0].ID != a.ID || pub.Objects[1].Kind != "assignment" || pub.Created != 4 {
		t.Errorf("publication %+v", pub)
	}
}

// TestPublishCalls pins the requests of a first publish against a plane
// without delays: what the protocol needs, nothing more.
func TestPublishCalls(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{SequentialIDs: true}, nil)
	if _, err := mk().Publish(ctx(t), release(key("calc", "1", deploy.Ring2Pilot), "corr-calls")); err != nil {
		t.Fatal(err)
	}
	total, per := s.Faults().Calls()
	app := "/beta/deviceAppManagement/mobileApps/00000000-0000-4000-8000-000000000001"
	cv := app + "/microsoft.graph.win32LobApp/contentVersions"
	file := cv + "/1/files/00000000-0000-4000-8000-000000000002"
	want := map[string]int{
		"POST /" + s.Credentials().Tenant + "/oauth2/v2.0/token": 1,
		"GET /beta/deviceAppManagement/mobileApps":               1, // look before create
		"POST /beta/deviceAppManagement/mobileApps":              1,
		"GET " + app:              2, // after create, and the publishing state after commit
		"GET " + cv:               1, // an uncommitted version to resume?
		"POST " + cv:              1,
		"POST " + cv + "/1/files": 1,
		"GET " + file:             2, // upload URI, then the commit's verdict
		"PUT /blob/00000000-0000-4000-8000-000000000002/00000000-0000-4000-8000-000000000002.intunewin.bin": 2, // a block, the block list
		"POST " + file + "/commit":    1,
		"PATCH " + app:                1,
		"GET " + app + "/assignments": 2, // read, and read back after /assign
		"POST " + app + "/assign":     1,
	}
	n := 0
	for k, v := range want {
		n += v
		if per[k] != v {
			t.Errorf("%s: %d calls, want %d", k, per[k], v)
		}
	}
	if total != n {
		t.Errorf("%d calls in all, want %d: %v", total, n, per)
	}
}

func TestPublishIntunewinContent(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "setup.exe"), bytes.Repeat([]byte("MZ"), 3000), 0o644)
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", "helper.dll"), []byte("dll"), 0o644)
	var pkg bytes.Buffer
	info, err := intunewin.Build(&pkg, dir, "setup.exe", intunewin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, _, mk := startSim(t, intunesim.Options{ConsistencyDelay: 1}, nil)
	r := release(key("tool", "2.0", deploy.Ring2Pilot), "corr-iw")
	b := pkg.Bytes()
	r.Content = connectors.Content{Name: "setup.intunewin", Size: int64(len(b)), Digest: digest.FromBytes(b), Type: deploy.PlatformIntuneW, Open: conformance.Bytes(b)}
	r.Install = connectors.Install{InstallCommand: "setup.exe /S", UninstallCommand: "setup.exe /uninstall", Detection: connectors.Detection{RegistryKey: `HKEY_LOCAL_MACHINE\SOFTWARE\Tool`, RegistryValue: "Version"}}
	if _, err := mk().Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	a := onlyApp(t, s)
	if a.Props["setupFilePath"] != "setup.exe" || a.Props["fileName"] != "setup.intunewin" || a.Props["msiInformation"] != nil {
		t.Errorf("props %v", a.Props)
	}
	if rule := a.Props["rules"].([]any)[0].(map[string]any); rule["@odata.type"] != "#microsoft.graph.win32LobAppRegistryRule" || rule["valueName"] != "Version" {
		t.Errorf("rule %v", rule)
	}
	plain, err := s.Content(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(plain); !bytes.Equal(sum[:], info.EncryptionInfo.FileDigest) {
		t.Error("the committed content is not the package's plaintext zip")
	}
	// A package whose Detection.xml does not match its file is refused
	// before anything is uploaded.
	bad := rewriteDetection(t, b, func(x []byte) []byte {
		i := bytes.Index(x, []byte("<Mac>")) + len("<Mac>")
		x[i] = map[byte]byte{'A': 'B'}[x[i]] | 'A' // another base64 letter
		return x
	})
	r2 := release(key("tool", "2.1", deploy.Ring2Pilot), "corr-iw2")
	r2.Install = r.Install
	r2.Content = connectors.Content{Name: "setup.intunewin", Size: int64(len(bad)), Digest: digest.FromBytes(bad), Type: deploy.PlatformIntuneW, Open: conformance.Bytes(bad)}
	s.Faults().ResetCalls()
	_, err = mk().Publish(ctx(t), r2)
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Class != connectors.Permanent || !strings.Contains(err.Error(), "MAC") && !strings.Contains(err.Error(), "Detection") {
		t.Errorf("a tampered package: %v", err)
	}
	if _, per := s.Faults().Calls(); per["POST /beta/deviceAppManagement/mobileApps"] != 0 {
		t.Error("a tampered package made an app")
	}
}

// rewriteDetection returns the .intunewin pkg with its Detection.xml
// changed by edit.
func rewriteDetection(t *testing.T, pkg []byte, edit func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == intunewin.MetadataPath {
			b = edit(b)
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method})
		w.Write(b)
	}
	zw.Close()
	return out.Bytes()
}

// TestPublishLOBTypes publishes the other app types: create, content,
// assign.
func TestPublishLOBTypes(t *testing.T) {
	for _, tc := range []struct {
		platform deploy.Platform
		typ      string
		det      connectors.Detection
		check    string // a property the type must have
	}{
		{deploy.PlatformPKG, "macOSPkgApp", connectors.Detection{BundleID: "com.contoso.tool", BundleVersion: "3.1"}, "primaryBundleId"},
		{deploy.PlatformDMG, "macOSDmgApp", connectors.Detection{BundleID: "com.contoso.tool"}, "includedApps"},
		{deploy.PlatformIPA, "iosLobApp", connectors.Detection{BundleID: "com.contoso.ios", BundleVersion: "310"}, "bundleId"},
		{deploy.PlatformAPK, "androidLobApp", connectors.Detection{PackageName: "com.contoso.droid", BundleVersion: "31"}, "packageId"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			s, _, mk := startSim(t, intunesim.Options{ConsistencyDelay: 1}, nil)
			r := release(key("tool", "3.1", deploy.Ring2Pilot), "corr-"+tc.typ)
			body := bytes.Repeat([]byte(tc.typ), 5000)
			r.Content = connectors.Content{Name: "tool." + string(tc.platform), Size: int64(len(body)), Digest: digest.FromBytes(body), Type: tc.platform, Open: conformance.Bytes(body)}
			r.Install = connectors.Install{Detection: tc.det}
			c := mk()
			if _, err := c.Publish(ctx(t), r); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Publish(ctx(t), r); err != nil {
				t.Fatal(err)
			}
			a := onlyApp(t, s)
			if a.Type != tc.typ || a.Props[tc.check] == nil || a.Props["fileName"] != r.Content.Name {
				t.Errorf("app %s %v", a.Type, a.Props)
			}
			got, err := s.Content(a.ID)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("the committed file is not the installer: %v", err)
			}
			if len(a.Assignments) != 2 || a.Assignments[0].Intent != "required" {
				t.Errorf("assignments %+v", a.Assignments)
			}
			st, err := c.Query(ctx(t), r.Key)
			if err != nil || len(st.Assigned) != 2 {
				t.Errorf("query: %+v %v", st, err)
			}
		})
	}
}

func TestPublishRefusals(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{}, nil)
	c := mk()
	for _, tc := range []struct {
		name string
		edit func(*connectors.Release)
		want string
	}{
		{"deb", func(r *connectors.Release) { r.Content.Type = deploy.PlatformDeb }, `Intune does not deploy "deb" content`},
		{"no detection", func(r *connectors.Release) {
			r.Install = connectors.Install{InstallCommand: "a", UninstallCommand: "b"}
		}, "needs a detection rule"},
		{"exe without commands", func(r *connectors.Release) { r.Content.Name = "setup.exe"; r.Content.Type = "" }, "needs install.install_command"},
		{"bad return code", func(r *connectors.Release) { r.Install.ReturnCodes = []connectors.ReturnCode{{Code: 5, Type: "maybe"}} }, `type "maybe"`},
		{"space in app", func(r *connectors.Release) { r.Key.App = "note pad" }, "must not hold spaces"},
		{"bad target", func(r *connectors.Release) { r.Targets = []connectors.Target{{ID: "a,b"}} }, "want an Entra group id"},
		{"digest", func(r *connectors.Release) { r.Content.Digest = digest.FromBytes([]byte("other")) }, "the release says"},
		{"pkg without bundle", func(r *connectors.Release) { r.Content.Type = deploy.PlatformPKG }, "needs detection.bundle_id"},
	} {
		r := release(key("bad", "1", deploy.Ring1Canary), "corr-bad")
		tc.edit(&r)
		_, err := c.Publish(ctx(t), r)
		if connectors.ClassOf(err) != connectors.Permanent || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%s: %v, want a permanent error with %q", tc.name, err, tc.want)
		}
	}
	if n := len(s.Apps()); n != 0 {
		t.Errorf("refused releases made %d apps", n)
	}
}

// corrupting flips a byte of every Put Block body: content damaged in
// transit, which the service finds at commit.
type corrupting struct{ next http.RoundTripper }

func (c corrupting) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.RawQuery, "comp=block&") {
		b, _ := io.ReadAll(req.Body)
		b[len(b)/2] ^= 0x80
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return c.next.RoundTrip(req)
}

func TestCommitFailedIsPermanent(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{}, func(c *intune.Config) {
		c.HTTP = &http.Client{Transport: corrupting{http.DefaultTransport}}
	})
	_, err := mk().Publish(ctx(t), release(key("damaged", "1", deploy.Ring1Canary), "corr-dmg"))
	if connectors.ClassOf(err) != connectors.Permanent || !strings.Contains(err.Error(), "commitFileFailed") {
		t.Fatalf("content damaged in transit: %v", err)
	}
	a := onlyApp(t, s)
	if a.Files[0].UploadState != "commitFileFailed" || !strings.Contains(a.Files[0].FailReason, "MAC mismatch") || len(a.Assignments) != 0 {
		t.Errorf("app %+v", a)
	}
}

// TestResumeContentVersion: an attempt that stops after the upload (its
// commit refused by a 500) leaves an uncommitted content version; the next
// attempt, in a new process, reuses it and its file entry.
func TestResumeContentVersion(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{SequentialIDs: true, ConsistencyDelay: 1}, nil)
	r := release(key("resume", "1", deploy.Ring1Canary), "corr-resume")
	files := "POST /beta/deviceAppManagement/mobileApps/00000000-0000-4000-8000-000000000001/microsoft.graph.win32LobApp/contentVersions/1/files/"
	s.Faults().Add(sim.Fault{Match: files, Count: 1, Status: 500})
	if _, err := mk().Publish(ctx(t), r); connectors.ClassOf(err) != connectors.Transient {
		t.Fatalf("first attempt: %v, want a transient error", err)
	}
	if a := onlyApp(t, s); a.ContentVersions != 1 || len(a.Files) != 1 || a.CommittedContentVersion != "" {
		t.Fatalf("after the first attempt: %+v", a)
	}
	if _, err := mk().Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	a := onlyApp(t, s)
	if a.ContentVersions != 1 || len(a.Files) != 1 || a.CommittedContentVersion != "1" || !a.Files[0].Committed {
		t.Errorf("the retry did not reuse the content version and file: %+v", a)
	}
}

func TestUploadBlocksAndRenewal(t *testing.T) {
	body := make([]byte, 300<<10) // incompressible, so the zip keeps its size
	rand.NewChaCha8([32]byte{1}).Read(body)
	r := release(key("big", "1", deploy.Ring1Canary), "corr-big")
	r.Content.Size, r.Content.Digest, r.Content.Open = int64(len(body)), digest.FromBytes(body), conformance.Bytes(body)

	// Blocks of 64 KiB; the upload URI lives 2 minutes and is renewed
	// when it expires within 3: before every block and the block list.
	s, _, mk := startSim(t, intunesim.Options{SASLifetime: 2 * time.Minute}, func(c *intune.Config) {
		c.BlockSize = 64 << 10
		c.RenewBefore = 3 * time.Minute
	})
	if _, err := mk().Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	a := onlyApp(t, s)
	blocks := int((a.Files[0].SizeEncrypted + 64<<10 - 1) / (64 << 10))
	renewals, puts := 0, 0
	_, per := s.Faults().Calls()
	for k, n := range per {
		if strings.HasSuffix(k, "/renewUpload") {
			renewals += n
		}
		if strings.HasPrefix(k, "PUT /blob/") {
			puts += n
		}
	}
	if blocks < 2 || puts != blocks+1 || renewals != blocks+1 {
		t.Errorf("%d blocks: %d puts and %d renewals, want %d and %d", blocks, puts, renewals, blocks+1, blocks+1)
	}
	if got, err := s.Content(a.ID); err != nil || len(got) == 0 {
		t.Errorf("content: %v", err)
	}

	// Storage refusing the URI mid-upload (a SAS that expired early) is
	// renewed once and the upload goes on.
	var s2 *intunesim.Server
	var put atomic.Int32
	hook := roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodPut && put.Add(1) == 2 {
			s2.ExpireUploads()
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	s2, _, mk2 := startSim(t, intunesim.Options{}, func(c *intune.Config) {
		c.BlockSize = 64 << 10
		c.HTTP = &http.Client{Transport: hook}
	})
	if _, err := mk2().Publish(ctx(t), r); err != nil {
		t.Fatalf("publish with the SAS expiring mid-upload: %v", err)
	}
	_, per = s2.Faults().Calls()
	renewals = 0
	for k, n := range per {
		if strings.HasSuffix(k, "/renewUpload") {
			renewals += n
		}
	}
	if renewals != 1 {
		t.Errorf("%d renewals after one refusal, want 1", renewals)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAssignmentMergeKeepsOthers: an assignment another tool made, and
// another ring's, survive a publish; a re-publish doubles nothing.
func TestAssignmentMergeKeepsOthers(t *testing.T) {
	s, srv, mk := startSim(t, intunesim.Options{}, nil)
	c := mk()
	r1 := release(key("shared", "1", deploy.Ring1Canary), "corr-r1")
	if _, err := c.Publish(ctx(t), r1); err != nil {
		t.Fatal(err)
	}
	a := onlyApp(t, s)
	// Another tool assigns the app to ring 4's group directly.
	tok, _ := s.Tokens().Issue()
	req, _ := http.NewRequest("POST", srv.URL+"/v1.0/deviceAppManagement/mobileApps/"+a.ID+"/assignments",
		strings.NewReader(`{"@odata.type":"#microsoft.graph.mobileAppAssignment","intent":"available","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"grp-ring4-a"}}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("another tool's assignment: %v %v", resp, err)
	}
	r2 := release(key("shared", "1", deploy.Ring2Pilot), "corr-r2")
	for range 2 {
		if _, err := c.Publish(ctx(t), r2); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Publish(ctx(t), r1); err != nil {
			t.Fatal(err)
		}
	}
	a = onlyApp(t, s)
	var got []string
	for _, x := range a.Assignments {
		got = append(got, x.Intent+"/"+x.GroupID)
	}
	slices.Sort(got)
	want := "available/grp-ring4-a required/grp-ring1-a required/grp-ring1-b required/grp-ring1-x required/grp-ring2-a required/grp-ring2-b"
	if strings.Join(got, " ") != want {
		t.Errorf("assignments %v, want %s", got, want)
	}
	if _, asg := s.Count(r1.Key); asg != 3 {
		t.Errorf("ring 1 has %d assignments", asg)
	}
}

func TestQueryDevices(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{PageSize: 1, InstallAfter: 1, Outcome: func(app string, d intunesim.Device) intunesim.Outcome {
		if strings.HasSuffix(d.ID, "b-dev2") {
			return intunesim.Outcome{State: "failed", Detail: "installingDependencies", ErrorCode: -2016345060}
		}
		return intunesim.Outcome{State: "installed"}
	}}, nil)
	c := mk()
	r := release(key("status", "1", deploy.Ring2Pilot), "corr-status")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	st, err := c.Query(ctx(t), r.Key)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]connectors.InstallState{}
	for _, d := range st.Devices {
		states[d.DeviceID] = d.State
		if d.DeviceID == "grp-ring2-b-dev2" && (d.ErrorCode != -2016345060 || d.Detail != "installingDependencies" || d.Device != "grp-ring2-b-PC2" || d.At.IsZero()) {
			t.Errorf("failed device %+v", d)
		}
	}
	if len(st.Devices) != 4 || states["grp-ring2-a-dev1"] != connectors.StateInstalled || states["grp-ring2-b-dev2"] != connectors.StateFailed {
		t.Errorf("devices %+v", st.Devices)
	}
	if st.Summary.Installed != 3 || st.Summary.Failed != 1 || st.Summary.Attempts() != 4 {
		t.Errorf("summary %+v", st.Summary)
	}
	if len(st.Assigned) != 2 || len(st.Objects) != 3 {
		t.Errorf("assigned %v, objects %+v", st.Assigned, st.Objects)
	}
	a := onlyApp(t, s)
	if err := s.SetDeviceState(a.ID, "grp-ring2-a-dev1", intunesim.Outcome{State: "uninstallFailed", ErrorCode: 1603}); err != nil {
		t.Fatal(err)
	}
	st, _ = c.Query(ctx(t), r.Key)
	if st.Summary.Failed != 2 {
		t.Errorf("after a device's uninstall failed: %+v", st.Summary)
	}
	if _, err := c.Query(ctx(t), key("absent", "1", deploy.Ring2Pilot)); err == nil {
		t.Error("a key with no app: no error")
	} else if ce := (*connectors.Error)(nil); !errors.As(err, &ce) || !ce.NotFound || ce.Class != connectors.Permanent {
		t.Errorf("a key with no app: %v", err)
	}
}

func TestRemediations(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{InstallAfter: 1}, nil)
	c := mk()
	v1 := release(key("editor", "1", deploy.Ring2Pilot), "corr-v1")
	v2 := release(key("editor", "2", deploy.Ring2Pilot), "corr-v2")
	prior := v1.Key
	v2.Prior = &prior
	for _, r := range []connectors.Release{v1, v2} {
		if _, err := c.Publish(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	app := func(version string) intunesim.App {
		for _, a := range s.Apps() {
			if strings.Contains(a.DisplayName, "editor-"+version+"-") {
				return a
			}
		}
		t.Fatalf("no app for version %s", version)
		return intunesim.App{}
	}
	a1, a2 := app("1"), app("2")
	if len(a2.Relationships) != 1 || a2.Relationships[0].TargetID != a1.ID || a2.Relationships[0].SupersedenceType != "update" {
		t.Errorf("publish with a prior: relationships %+v", a2.Relationships)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Supersede, Release: v2}); err != nil {
		t.Fatal(err)
	}
	if a2 = app("2"); len(a2.Relationships) != 1 || a2.Relationships[0].SupersedenceType != "replace" {
		t.Errorf("supersede: relationships %+v", a2.Relationships)
	}
	for range 2 {
		if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Uninstall, Release: v2}); err != nil {
			t.Fatal(err)
		}
	}
	if a2 = app("2"); len(a2.Assignments) != 2 || a2.Assignments[0].Intent != "uninstall" || a2.Assignments[1].Intent != "uninstall" {
		t.Errorf("uninstall: %+v", a2.Assignments)
	}
	st, _ := c.Query(ctx(t), v2.Key)
	if len(st.Assigned) != 0 {
		t.Errorf("uninstall left %v assigned", st.Assigned)
	}
	st, _ = c.Query(ctx(t), v2.Key)
	if st.Summary.NotInstalled != 4 {
		t.Errorf("after uninstall: %+v", st.Summary)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.Redeploy, Release: v2}); err != nil {
		t.Fatal(err)
	}
	st, _ = c.Query(ctx(t), v2.Key)
	if len(st.Assigned) != 2 || st.Summary.Installed != 4 {
		t.Errorf("after redeploy: %v %+v", st.Assigned, st.Summary)
	}
	if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: connectors.PinPrior, Release: v1}); connectors.ClassOf(err) != connectors.Permanent {
		t.Errorf("pin-prior without a prior: %v", err)
	}
	found, err := c.Find(ctx(t), "corr-v2")
	if err != nil || len(found) != 3 {
		t.Errorf("find corr-v2: %+v %v", found, err)
	}
}

func TestTokenErrors(t *testing.T) {
	_, _, mk := startSim(t, intunesim.Options{}, func(c *intune.Config) { c.ClientSecret = "wrong" })
	_, err := mk().Check(ctx(t))
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Class != connectors.Permanent || ce.Code != "invalid_client" || !strings.Contains(ce.Message, "AADSTS7000215") {
		t.Errorf("a wrong secret: %v", err)
	}
	s, _, mk2 := startSim(t, intunesim.Options{}, nil)
	chk, err := mk2().Check(ctx(t))
	if err != nil || chk.Plane != connectors.Intune || !strings.Contains(chk.Detail, "mobile apps on the first page") {
		t.Errorf("check: %+v %v", chk, err)
	}
	s.Faults().Add(sim.Fault{Match: "POST /" + s.Credentials().Tenant, Status: 503})
	if _, err := mk2().Check(ctx(t)); connectors.ClassOf(err) != connectors.Transient {
		t.Errorf("token endpoint unavailable: %v", err)
	}
}

// TestV1 runs the connector on Graph v1.0: the v1.0 schema takes its
// bodies; supersedence and device status, beta-only, are refused or left
// out.
func TestV1(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{}, func(c *intune.Config) { c.APIVersion = "v1.0" })
	c := mk()
	r := release(key("v1app", "1", deploy.Ring1Canary), "corr-v1.0")
	if _, err := c.Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if _, per := s.Faults().Calls(); per["POST /v1.0/deviceAppManagement/mobileApps"] != 1 {
		t.Errorf("calls %v", per)
	}
	st, err := c.Query(ctx(t), r.Key)
	if err != nil || len(st.Assigned) != 2 || len(st.Devices) != 0 {
		t.Errorf("query on v1.0: %+v %v", st, err)
	}
	r2 := release(key("v1app", "2", deploy.Ring1Canary), "corr-v1.0b")
	r2.Prior = &r.Key
	if _, err := c.Publish(ctx(t), r2); connectors.ClassOf(err) != connectors.Permanent || !strings.Contains(err.Error(), "beta") {
		t.Errorf("supersedence on v1.0: %v", err)
	}
}

func TestRequirementRules(t *testing.T) {
	s, _, mk := startSim(t, intunesim.Options{}, func(c *intune.Config) {
		c.Requirements = []intune.Requirement{{RegistryKey: `HKEY_LOCAL_MACHINE\SOFTWARE\EUCORA`, RegistryValue: "Managed"}}
	})
	if _, err := mk().Publish(ctx(t), release(key("req", "1", deploy.Ring1Canary), "corr-req")); err != nil {
		t.Fatal(err)
	}
	rules := onlyApp(t, s).Props["rules"].([]any)
	if len(rules) != 2 || rules[1].(map[string]any)["ruleType"] != "requirement" || rules[1].(map[string]any)["keyPath"] != `HKEY_LOCAL_MACHINE\SOFTWARE\EUCORA` {
		t.Errorf("rules %v", rules)
	}
}
