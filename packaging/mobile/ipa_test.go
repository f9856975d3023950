package mobile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

func demoInfo() map[string]any {
	return map[string]any{
		"CFBundleIdentifier":            "eu.eucora.ios",
		"CFBundleShortVersionString":    "3.1",
		"CFBundleVersion":               "310",
		"CFBundleName":                  "EUCORA",
		"CFBundleDisplayName":           "EUCORA Ünïcode",
		"CFBundleExecutable":            "EUCORA",
		"MinimumOSVersion":              "15.0",
		"LSRequiresIPhoneOS":            true,
		"UIDeviceFamily":                []any{int64(1), int64(2)},
		"UIRequiredDeviceCapabilities":  []any{"arm64"},
		"CFBundleSupportedPlatforms":    []any{"iPhoneOS"},
		"UIApplicationSceneManifest":    map[string]any{"UIApplicationSupportsMultipleScenes": false},
		"DTPlatformBuild":               "21A326",
		"NSCameraUsageDescription":      "Scan a code <with> & without care",
		"ITSAppUsesNonExemptEncryption": false,
	}
}

var demoProvision = map[string]any{
	"AppIDName":             "EUCORA Demo",
	"Name":                  "EUCORA Ad Hoc",
	"TeamName":              "EUCORA Test Team",
	"TeamIdentifier":        []any{"ABCDE12345"},
	"UUID":                  "0b0b0b0b-1111-2222-3333-444444444444",
	"CreationDate":          time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	"ExpirationDate":        time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	"ProvisionedDevices":    []any{"00008030-000A", "00008030-000B"},
	"Entitlements":          map[string]any{"application-identifier": "ABCDE12345.eu.eucora.ios", "aps-environment": "production", "keychain-access-groups": []any{"ABCDE12345.*"}},
	"DeveloperCertificates": []any{[]byte("not a certificate")},
}

// machO is the start of a thin arm64 Mach-O executable.
var machO = []byte{0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01, 0, 0, 0, 0, 2, 0, 0, 0}

// fatMachO is the start of a universal binary with arm64 and x86_64.
var fatMachO = []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2,
	0x01, 0x00, 0x00, 0x0c, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0x10, 0, 0, 0, 0, 14,
	0x01, 0x00, 0x00, 0x07, 0, 0, 0, 3, 0, 0, 0x80, 0, 0, 0, 0x10, 0, 0, 0, 0, 14}

type ipaOpts struct {
	info      []byte
	exe       []byte
	provision []byte
	signed    bool
	extra     []zipEntry
}

func ipaBuild(t testing.TB, o ipaOpts) []byte {
	p := "Payload/EUCORA.app/"
	files := []zipEntry{
		{name: p, body: nil},
		{name: p + "Info.plist", body: o.info},
		{name: "iTunesMetadata.plist", body: encodeXMLPlist(map[string]any{"itemName": "EUCORA"})},
	}
	if o.exe != nil {
		files = append(files, zipEntry{name: p + "EUCORA", body: o.exe})
	}
	if o.provision != nil {
		files = append(files, zipEntry{name: p + "embedded.mobileprovision", body: o.provision})
	}
	if o.signed {
		files = append(files, zipEntry{name: p + "_CodeSignature/CodeResources", body: encodeXMLPlist(map[string]any{"files": map[string]any{"Info.plist": []byte{1, 2, 3}}})})
	}
	files = append(files, o.extra...)
	return zipBuild(t, files...)
}

func TestInspectIPA(t *testing.T) {
	testtool.Need(t, "apt-get install openssl", "openssl")
	cert := newTestCert(t, "Apple Worldwide Developer Relations (test)", "EUCORA Tests", false)
	provision := cmsSign(t, cert, encodeXMLPlist(demoProvision), true)
	for _, c := range []struct {
		name string
		info []byte
	}{
		{"XML plist", encodeXMLPlist(demoInfo())},
		{"binary plist", encodeBinaryPlist(demoInfo())},
	} {
		t.Run(c.name, func(t *testing.T) {
			ipa := ipaBuild(t, ipaOpts{info: c.info, exe: machO, provision: provision, signed: true, extra: []zipEntry{
				{name: "Payload/EUCORA.app/Frameworks/Kit.framework/Info.plist", body: encodeXMLPlist(map[string]any{"CFBundleIdentifier": "kit"})},
				{name: "Payload/EUCORA.app/PlugIns/Share.appex/Info.plist", body: encodeXMLPlist(map[string]any{"CFBundleIdentifier": "share"})},
			}})
			f, err := InspectIPA(bytes.NewReader(ipa), int64(len(ipa)), facts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := facts.Identity{Name: "eu.eucora.ios", Version: "3.1", Vendor: "EUCORA Test Team", ID: "eu.eucora.ios", Arch: "arm64"}
			if f.Identity != want {
				t.Errorf("identity %+v, want %+v", f.Identity, want)
			}
			for k, v := range map[string]string{
				"CFBundleVersion": "310", "CFBundleName": "EUCORA", "CFBundleDisplayName": "EUCORA Ünïcode",
				"UIDeviceFamily": "1, 2", "LSRequiresIPhoneOS": "true", "NSCameraUsageDescription": "Scan a code <with> & without care",
				"embedded.mobileprovision": "present", "mobileprovision.TeamName": "EUCORA Test Team", "mobileprovision.TeamIdentifier": "ABCDE12345",
				"mobileprovision.ExpirationDate": "2025-01-02T03:04:05Z", "mobileprovision.ProvisionedDevices": "2",
			} {
				if f.Fields[k] != v {
					t.Errorf("field %s = %q, want %q", k, f.Fields[k], v)
				}
			}
			if _, ok := f.Fields["UIApplicationSceneManifest"]; ok {
				t.Error("a dict became a field")
			}
			if want := []string{"application-identifier", "aps-environment", "keychain-access-groups"}; !reflect.DeepEqual(f.Capabilities, want) {
				t.Errorf("capabilities %q", f.Capabilities)
			}
			wantSig := facts.Signature{State: facts.SigUntrusted, Format: "codesign", Detail: DetailCodesign}
			if !reflect.DeepEqual(*f.Signature, wantSig) {
				t.Errorf("signature %+v", f.Signature)
			}
			if !reflect.DeepEqual(f.Components, []facts.Component{{Name: "eu.eucora.ios", Version: "3.1", Supplier: "EUCORA Test Team"}}) {
				t.Errorf("components %+v", f.Components)
			}
			if f.Files.Count != 7 || f.Files.Sample[0] != "Payload/EUCORA.app/EUCORA" {
				t.Errorf("files %+v", f.Files)
			}
			if !strings.Contains(strings.Join(f.NotInspected, "|"), "bundled frameworks and extensions (Frameworks/Kit.framework, PlugIns/Share.appex)") {
				t.Errorf("not inspected %q", f.NotInspected)
			}
		})
	}
	t.Run("unsigned, universal, no profile", func(t *testing.T) {
		info := demoInfo()
		delete(info, "CFBundleShortVersionString")
		ipa := ipaBuild(t, ipaOpts{info: encodeBinaryPlist(info), exe: fatMachO})
		f, err := InspectIPA(bytes.NewReader(ipa), int64(len(ipa)), facts.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if f.Signature.State != facts.SigUnsigned || f.Identity.Version != "310" || f.Identity.Arch != "universal (arm64, x86_64)" || f.Identity.Vendor != "" || f.Capabilities != nil {
			t.Errorf("facts %+v %+v", f.Identity, f.Signature)
		}
	})
	t.Run("profile that is not a signed plist", func(t *testing.T) {
		ipa := ipaBuild(t, ipaOpts{info: encodeXMLPlist(demoInfo()), provision: []byte("garbage")})
		hostileCount++
		f, err := InspectIPA(bytes.NewReader(ipa), int64(len(ipa)), facts.Options{})
		if err != nil || !strings.Contains(strings.Join(f.NotInspected, "|"), "embedded.mobileprovision contents") || f.Fields["embedded.mobileprovision"] != "present" {
			t.Errorf("%v %+v", err, f)
		}
		if !strings.Contains(strings.Join(f.NotInspected, "|"), "executable architecture") {
			t.Errorf("not inspected %q", f.NotInspected)
		}
	})
}

// Python's plistlib (CPython's reader and writer of both formats) and
// this package agree on binary plists: each reads what the other writes.
func TestBinaryPlistAgainstPython(t *testing.T) {
	testtool.Need(t, "apt-get install python3", "python3")
	const script = `
import plistlib, sys, json, datetime
def norm(v):
    if isinstance(v, dict): return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list): return [norm(x) for x in v]
    if isinstance(v, bytes): return {"data": v.hex()}
    if isinstance(v, datetime.datetime): return {"date": v.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if isinstance(v, float): return {"real": repr(v)}
    return v
if sys.argv[1] == "read":
    print(json.dumps(norm(plistlib.loads(sys.stdin.buffer.read())), sort_keys=True))
else:
    v = {"s": "ascii", "u": "Ünïcode ✓", "long": "x" * 300, "i": 7, "big": 2**40, "neg": -5, "t": True, "f": False,
         "r": 1.5, "d": datetime.datetime(2024, 5, 6, 7, 8, 9), "b": b"\x00\x01\xff", "a": [1, "two", [3]], "e": {},
         "many": list(range(300))}
    sys.stdout.buffer.write(plistlib.dumps(v, fmt=plistlib.FMT_BINARY))
`
	py := filepath.Join(t.TempDir(), "p.py")
	os.WriteFile(py, []byte(script), 0o644)
	norm := func(v any) any {
		var n func(any) any
		n = func(v any) any {
			switch x := v.(type) {
			case map[string]any:
				m := map[string]any{}
				for k, e := range x {
					m[k] = n(e)
				}
				return m
			case []any:
				a := []any{}
				for _, e := range x {
					a = append(a, n(e))
				}
				return a
			case []byte:
				return map[string]any{"data": strings.ToLower(strings.TrimSpace(strings.ReplaceAll(string(hexBytes(x)), " ", "")))}
			case time.Time:
				return map[string]any{"date": x.UTC().Format("2006-01-02T15:04:05Z")}
			case float64:
				b, _ := json.Marshal(x)
				s := string(b)
				if !strings.Contains(s, ".") {
					s += ".0"
				}
				return map[string]any{"real": s}
			case int64:
				return float64(x)
			}
			return v
		}
		b, _ := json.Marshal(n(v))
		var out any
		json.Unmarshal(b, &out)
		return out
	}
	// Python writes, Go reads
	bp := run(t, nil, "python3", py, "write")
	got, err := parsePlist(bp, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var want any
	json.Unmarshal(run(t, bp, "python3", py, "read"), &want)
	if !reflect.DeepEqual(norm(got), want) {
		t.Errorf("Go read %v\nPython read %v", norm(got), want)
	}
	// Go writes, Python reads
	v := demoInfo()
	v["date"] = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	v["data"] = []byte{0, 1, 2, 0xfe}
	v["real"] = 2.25
	v["big"] = int64(1) << 40
	v["neg"] = int64(-3)
	v["long"] = strings.Repeat("y", 40)
	var many []any
	for i := 0; i < 300; i++ {
		many = append(many, int64(i))
	}
	v["many"] = many
	var fromPy any
	json.Unmarshal(run(t, encodeBinaryPlist(v), "python3", py, "read"), &fromPy)
	if !reflect.DeepEqual(norm(v), fromPy) {
		t.Errorf("Go wrote %v\nPython read %v", norm(v), fromPy)
	}
	back, err := parsePlist(encodeBinaryPlist(v), 10000)
	if err != nil || !reflect.DeepEqual(norm(back), norm(v)) {
		t.Errorf("round trip: %v %v", err, back)
	}
}

func hexBytes(b []byte) []byte {
	const d = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return out
}
