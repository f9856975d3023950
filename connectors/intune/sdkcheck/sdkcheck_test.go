package sdkcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/authentication"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/deviceappmanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/intune"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// staticToken is an access token provider that always gives one token.
type staticToken string

func (s staticToken) GetAuthorizationToken(context.Context, *url.URL, map[string]any) (string, error) {
	return string(s), nil
}

func (s staticToken) GetAllowedHostsValidator() *authentication.AllowedHostsValidator {
	v := authentication.NewAllowedHostsValidator(nil)
	return &v
}

func ptr[T any](v T) *T { return &v }

func win32App(name string) *models.Win32LobApp {
	app := models.NewWin32LobApp()
	app.SetDisplayName(ptr(name))
	app.SetPublisher(ptr("Contoso"))
	app.SetFileName(ptr("setup.intunewin"))
	app.SetSetupFilePath(ptr("setup.exe"))
	app.SetInstallCommandLine(ptr("setup.exe /S"))
	app.SetUninstallCommandLine(ptr("setup.exe /uninstall"))
	app.SetApplicableArchitectures(ptr(models.WindowsArchitecture(models.X64_WINDOWSARCHITECTURE | models.X86_WINDOWSARCHITECTURE)))
	app.SetMinimumSupportedWindowsRelease(ptr("1607"))
	rule := models.NewWin32LobAppFileSystemRule()
	rule.SetRuleType(ptr(models.DETECTION_WIN32LOBAPPRULETYPE))
	rule.SetPath(ptr(`C:\Program Files\Contoso`))
	rule.SetFileOrFolderName(ptr("tool.exe"))
	rule.SetOperationType(ptr(models.EXISTS_WIN32LOBAPPFILESYSTEMOPERATIONTYPE))
	rule.SetCheck32BitOn64System(ptr(false))
	app.SetRules([]models.Win32LobAppRuleable{rule})
	rc := models.NewWin32LobAppReturnCode()
	rc.SetReturnCode(ptr(int32(0)))
	rc.SetTypeEscaped(ptr(models.SUCCESS_WIN32LOBAPPRETURNCODETYPE))
	app.SetReturnCodes([]models.Win32LobAppReturnCodeable{rc})
	exp := models.NewWin32LobAppInstallExperience()
	exp.SetRunAsAccount(ptr(models.SYSTEM_RUNASACCOUNTTYPE))
	app.SetInstallExperience(exp)
	return app
}

func TestGraphSDKAgainstSimulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	devices := []intunesim.Device{{ID: "dev-1", Name: "PC-1"}, {ID: "dev-2", Name: "PC-2"}}
	s := intunesim.New(intunesim.Options{PageSize: 2, Groups: map[string][]intunesim.Device{"grp-sdk": devices}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// An app with content and an assignment, published by EUCORA's
	// connector, so that devices report on it.
	cred := s.Credentials()
	c, err := intune.New(intune.Config{BaseURL: srv.URL, LoginURL: srv.URL, Tenant: cred.Tenant, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, PollInterval: time.Millisecond, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("MSI setup for the SDK check")
	k := connectors.ReleaseKey{App: "sdkcheck", Version: "1.0", Ring: deploy.Ring1Canary}
	pub, err := c.Publish(ctx, connectors.Release{
		Key: k, CorrelationID: "corr-sdk",
		Content: connectors.Content{Name: "sdkcheck.msi", Size: int64(len(body)), Digest: digest.FromBytes(body), Type: deploy.PlatformMSI,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }},
		Install:  connectors.Install{RunAsSystem: true, Detection: connectors.Detection{ProductCode: "{" + k.AppKey().UUID() + "}"}},
		Targets:  []connectors.Target{{ID: "grp-sdk"}},
		Required: true,
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	published := pub.Objects[0].ID

	// The SDK, unchanged: a custom base URL and a static token.
	token, _ := s.Tokens().Issue()
	adapter, err := msgraphsdk.NewGraphRequestAdapter(authentication.NewBaseBearerTokenAuthenticationProvider(staticToken(token)))
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(srv.URL + "/v1.0")
	client := msgraphsdk.NewGraphServiceClient(adapter)

	// Create win32LobApps.
	var created []string
	for i := range 4 {
		got, err := client.DeviceAppManagement().MobileApps().Post(ctx, win32App(fmt.Sprintf("SDK app %d", i)), nil)
		if err != nil {
			t.Fatalf("create: %v", describe(err))
		}
		w, ok := got.(models.Win32LobAppable)
		if !ok || got.GetId() == nil || *got.GetDisplayName() != fmt.Sprintf("SDK app %d", i) || got.GetPublishingState() == nil || *got.GetPublishingState() != models.NOTPUBLISHED_MOBILEAPPPUBLISHINGSTATE {
			t.Fatalf("create answered %T %+v", got, got)
		}
		if len(w.GetRules()) != 1 || *w.GetSetupFilePath() != "setup.exe" || w.GetCreatedDateTime() == nil {
			t.Errorf("the created app as the SDK reads it: rules %v", w.GetRules())
		}
		created = append(created, *got.GetId())
	}
	if a, ok := s.App(created[0]); !ok || a.Type != "win32LobApp" || a.Props["installCommandLine"] != "setup.exe /S" || a.Props["applicableArchitectures"] != "x86,x64" && a.Props["applicableArchitectures"] != "x64,x86" {
		t.Errorf("the simulator holds %+v", a)
	}

	// A body the service refuses comes back as the SDK's ODataError.
	bad := win32App("no install command")
	bad.SetInstallCommandLine(nil)
	_, err = client.DeviceAppManagement().MobileApps().Post(ctx, bad, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 400 || oe.GetErrorEscaped() == nil || *oe.GetErrorEscaped().GetCode() != "BadRequest" {
		t.Errorf("a refused create: %v", describe(err))
	}

	// List every app, two per page, with the SDK's page iterator.
	s.Faults().ResetCalls()
	first, err := client.DeviceAppManagement().MobileApps().Get(ctx, &deviceappmanagement.MobileAppsRequestBuilderGetRequestConfiguration{
		QueryParameters: &deviceappmanagement.MobileAppsRequestBuilderGetQueryParameters{Top: ptr(int32(2))},
	})
	if err != nil {
		t.Fatalf("list: %v", describe(err))
	}
	it, err := msgraphcore.NewPageIterator[models.MobileAppable](first, adapter, models.CreateMobileAppCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	if err := it.Iterate(ctx, func(a models.MobileAppable) bool { seen[*a.GetId()] = true; return true }); err != nil {
		t.Fatalf("iterate: %v", describe(err))
	}
	if len(seen) != 5 || !seen[published] {
		t.Errorf("listed %d apps %v, want the 5 the simulator holds", len(seen), seen)
	}
	if _, per := s.Faults().Calls(); per["GET /v1.0/deviceAppManagement/mobileApps"] != 3 {
		t.Errorf("%d pages read, want 3 (5 apps, 2 a page)", per["GET /v1.0/deviceAppManagement/mobileApps"])
	}

	// deviceStatuses (beta only: the v1.0 SDK has no builder for it) through
	// the SDK's request adapter.
	info := abstractions.NewRequestInformation()
	info.Method = abstractions.GET
	u, _ := url.Parse(srv.URL + "/beta/deviceAppManagement/mobileApps/" + published + "/deviceStatuses")
	info.SetUri(*u)
	info.Headers.Add("Accept", "application/json")
	raw, err := adapter.SendPrimitive(ctx, info, "[]byte", nil)
	if err != nil {
		t.Fatalf("deviceStatuses: %v", describe(err))
	}
	var statuses struct {
		Value []struct {
			DeviceID     string `json:"deviceId"`
			InstallState string `json:"installState"`
		} `json:"value"`
	}
	if err := json.Unmarshal(raw.([]byte), &statuses); err != nil {
		t.Fatal(err)
	}
	if len(statuses.Value) != 2 || statuses.Value[0].InstallState != "installed" {
		t.Errorf("device statuses %+v", statuses.Value)
	}
}

// describe renders an SDK error with the service's code and message.
func describe(err error) string {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe.GetErrorEscaped() != nil {
		e := oe.GetErrorEscaped()
		code, msg := "", ""
		if e.GetCode() != nil {
			code = *e.GetCode()
		}
		if e.GetMessage() != nil {
			msg = *e.GetMessage()
		}
		return fmt.Sprintf("HTTP %d %s: %s", oe.ResponseStatusCode, code, msg)
	}
	return fmt.Sprint(err)
}
