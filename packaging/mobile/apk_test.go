package mobile

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

const frameworkRes = "/usr/share/android-framework-res/framework-res.apk"

const aaptManifest = `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="eu.eucora.demo" android:versionCode="42" android:versionName="2.4.1">
  <uses-sdk android:minSdkVersion="24" android:targetSdkVersion="33"/>
  <uses-permission android:name="android.permission.INTERNET"/>
  <uses-permission android:name="android.permission.CAMERA"/>
  <application android:label="Demo">
    <service android:name=".SyncService" android:exported="true" android:permission="android.permission.BIND_JOB_SERVICE"/>
    <service android:name=".Local"/>
  </application>
</manifest>
`

// aaptAPK builds an unsigned .apk whose manifest the real aapt compiled,
// with a dex and native libraries beside it, and returns its path.
func aaptAPK(t *testing.T) string {
	t.Helper()
	testtool.Need(t, "apt-get install aapt android-framework-res", "aapt")
	if _, err := os.Stat(frameworkRes); err != nil {
		testtool.Missing(t, frameworkRes+" missing (apt-get install android-framework-res)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "AndroidManifest.xml"), []byte(aaptManifest), 0o644)
	base := filepath.Join(dir, "base.apk")
	run(t, nil, "aapt", "package", "-M", filepath.Join(dir, "AndroidManifest.xml"), "-I", frameworkRes, "-F", base)
	zr, err := zip.OpenReader(base)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, _ := zr.File[0].Open()
	mf, _ := io.ReadAll(rc)
	rc.Close()
	apk := zipBuild(t,
		zipEntry{name: "AndroidManifest.xml", body: mf},
		zipEntry{name: "classes.dex", body: []byte("dex\n035\x00 not really")},
		zipEntry{name: "lib/arm64-v8a/libdemo.so", body: []byte("\x7fELF"), store: true},
		zipEntry{name: "lib/x86_64/libdemo.so", body: []byte("\x7fELF"), store: true},
		zipEntry{name: "res/raw/hello.txt", body: []byte("hello")},
	)
	out := filepath.Join(dir, "unsigned.apk")
	os.WriteFile(out, apk, 0o644)
	return out
}

func inspectAPKFile(t *testing.T, path string) *facts.Facts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := InspectAPK(bytes.NewReader(b), int64(len(b)), facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// badging is what `aapt dump badging` reads from the package.
func badging(t *testing.T, apk string) (pkg, code, name, sdk, target string, perms []string) {
	out := string(run(t, nil, "aapt", "dump", "badging", apk))
	get := func(re string) string {
		if m := regexp.MustCompile(re).FindStringSubmatch(out); m != nil {
			return m[1]
		}
		return ""
	}
	for _, m := range regexp.MustCompile(`(?m)^uses-permission: name='([^']+)'`).FindAllStringSubmatch(out, -1) {
		perms = append(perms, m[1])
	}
	return get(`package: name='([^']*)'`), get(`versionCode='([^']*)'`), get(`versionName='([^']*)'`), get(`sdkVersion:'([^']*)'`), get(`targetSdkVersion:'([^']*)'`), perms
}

func TestInspectAPKBuiltByAapt(t *testing.T) {
	apk := aaptAPK(t)
	f := inspectAPKFile(t, apk)
	pkg, code, name, sdk, target, perms := badging(t, apk)
	if f.Identity != (facts.Identity{Name: pkg, Version: name, ID: pkg, Arch: "arm64-v8a,x86_64"}) || pkg != "eu.eucora.demo" {
		t.Errorf("identity %+v; aapt: %s %s", f.Identity, pkg, name)
	}
	for k, want := range map[string]string{"package": pkg, "versionCode": code, "versionName": name, "minSdkVersion": sdk, "targetSdkVersion": target, "application.label": "Demo", "compileSdkVersion": "29"} {
		if f.Fields[k] != want {
			t.Errorf("field %s = %q, aapt says %q", k, f.Fields[k], want)
		}
	}
	if !reflect.DeepEqual(f.Capabilities, perms) || len(perms) != 2 {
		t.Errorf("permissions %q, aapt says %q", f.Capabilities, perms)
	}
	wantSvc := []facts.Service{
		{Name: ".SyncService", Start: "exported", Account: "callers need android.permission.BIND_JOB_SERVICE", Source: "AndroidManifest.xml <service>"},
		{Name: ".Local", Source: "AndroidManifest.xml <service>"},
	}
	if !reflect.DeepEqual(f.Services, wantSvc) {
		t.Errorf("services %+v", f.Services)
	}
	if f.Signature.State != facts.SigUnsigned || f.Files.Count != 5 || !reflect.DeepEqual(f.Components, []facts.Component{{Name: pkg, Version: name}}) {
		t.Errorf("signature %+v files %+v components %+v", f.Signature, f.Files, f.Components)
	}
	if f.Privilege.RequiresAdmin || f.Privilege.InstallsService || f.Privilege.InstallsDriver {
		t.Errorf("privilege %+v", f.Privilege)
	}
}

// apksigner, the Android SDK's signer, writes the APK Signing Block (v2,
// v3) and the v1 JAR signature; `apksigner verify` names the same signer
// the reader does. With the block cut out (a stripping attack), the
// apksigner-made v1 signature is what is left, and openssl reads the
// same signer from it.
func TestInspectAPKSignedByApksigner(t *testing.T) {
	testtool.Need(t, "apt-get install apksigner", "apksigner")
	unsigned := aaptAPK(t)
	cert := newTestCert(t, "EUCORA Android Test", "EUCORA", true)
	signed := filepath.Join(t.TempDir(), "signed.apk")
	run(t, nil, "apksigner", "sign", "--key", cert.keyPK8, "--cert", cert.certDER, "--in", unsigned, "--out", signed, "--v1-signing-enabled", "true")
	checkSigner := func(t *testing.T, s *facts.Signature) {
		t.Helper()
		if s.Signer != cert.cert.Subject.String() || s.Issuer != cert.cert.Issuer.String() || s.NotAfter == nil || !s.NotAfter.Equal(cert.notAfter) {
			t.Errorf("signer %q issuer %q not after %v; cert %q %v", s.Signer, s.Issuer, s.NotAfter, cert.cert.Subject, cert.notAfter)
		}
	}
	f := inspectAPKFile(t, signed)
	s := f.Signature
	if s.State != facts.SigUntrusted || s.Format != "apk-v2" || !strings.Contains(s.Detail, "APK Signature Scheme v2, v3") || !strings.Contains(s.Detail, "a v1 JAR signature (META-INF/") {
		t.Errorf("signature %+v", s)
	}
	checkSigner(t, s)
	if f.Identity.Name != "eu.eucora.demo" {
		t.Errorf("identity %+v", f.Identity)
	}
	v := string(run(t, nil, "apksigner", "verify", "--print-certs", "-v", signed))
	m := regexp.MustCompile(`Signer #1 certificate DN: (.*)`).FindStringSubmatch(v)
	if m == nil || strings.ReplaceAll(m[1], ", ", ",") != s.Signer || !strings.Contains(v, "Verified using v2 scheme (APK Signature Scheme v2): true") {
		t.Errorf("apksigner verify says %q, facts %q", v, s.Signer)
	}

	stripped := filepath.Join(t.TempDir(), "stripped.apk")
	os.WriteFile(stripped, stripSigningBlock(t, mustReadFile(t, signed)), 0o644)
	f = inspectAPKFile(t, stripped)
	s = f.Signature
	if s.State != facts.SigUntrusted || s.Format != "apk-v1" || !strings.HasPrefix(s.Detail, "v1 JAR signature: signer certificate read from META-INF/") {
		t.Errorf("stripped: signature %+v", s)
	}
	checkSigner(t, s)
	checkV1WithOpenSSL(t, stripped, s.Signer)
}

func mustReadFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stripSigningBlock cuts the APK Signing Block out of apk.
func stripSigningBlock(t testing.TB, apk []byte) []byte {
	eocd := bytes.LastIndex(apk, []byte("PK\x05\x06"))
	cd := int(binary.LittleEndian.Uint32(apk[eocd+16:]))
	if string(apk[cd-16:cd]) != apkSigMagic {
		t.Fatal("no signing block to strip")
	}
	start := cd - int(binary.LittleEndian.Uint64(apk[cd-24:])) - 8
	out := append(append([]byte(nil), apk[:start]...), apk[cd:]...)
	binary.LittleEndian.PutUint32(out[eocd-(cd-start)+16:], uint32(start))
	return out
}

// A v1 JAR signature made as jarsigner does: MANIFEST.MF with each
// entry's digest, CERT.SF with the manifest's, and CERT.RSA (or .EC) a
// detached PKCS#7 over CERT.SF, here from openssl cms.
func TestInspectAPKV1FromOpenSSL(t *testing.T) {
	testtool.Need(t, "apt-get install openssl", "openssl")
	for _, c := range []struct {
		ext string
		rsa bool
	}{{".RSA", true}, {".EC", false}} {
		t.Run(c.ext, func(t *testing.T) {
			cert := newTestCert(t, "EUCORA v1 Signer "+c.ext, "EUCORA", c.rsa)
			apk := v1SignedAPK(t, cert, "CERT"+c.ext, demoManifest(false, false))
			f, err := InspectAPK(bytes.NewReader(apk), int64(len(apk)), facts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := f.Signature
			want := fmt.Sprintf(DetailAPKv1, "META-INF/CERT"+c.ext)
			if s.State != facts.SigUntrusted || s.Format != "apk-v1" || s.Signer != cert.cert.Subject.String() || s.Detail != want || !s.NotAfter.Equal(cert.notAfter) {
				t.Errorf("signature %+v", s)
			}
			p := filepath.Join(t.TempDir(), "v1.apk")
			os.WriteFile(p, apk, 0o644)
			checkV1WithOpenSSL(t, p, s.Signer)
		})
	}
}

// checkV1WithOpenSSL reads the signature block file of apk's v1 signature
// with openssl pkcs7 and compares its certificate subject with signer.
func checkV1WithOpenSSL(t *testing.T, apk, signer string) {
	t.Helper()
	zr, err := zip.OpenReader(apk)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !regexp.MustCompile(`^META-INF/[^/]+\.(RSA|DSA|EC)$`).MatchString(f.Name) {
			continue
		}
		rc, _ := f.Open()
		p7, _ := io.ReadAll(rc)
		rc.Close()
		out := string(run(t, p7, "openssl", "pkcs7", "-inform", "DER", "-print_certs", "-noout"))
		m := regexp.MustCompile(`subject=(.*)`).FindStringSubmatch(out)
		// openssl prints "C = EU, O = EUCORA, CN = ..." (most significant first)
		if m == nil {
			t.Fatalf("openssl pkcs7 -print_certs: %s", out)
		}
		parts := strings.Split(m[1], ", ")
		slices.Reverse(parts)
		if got := strings.ReplaceAll(strings.Join(parts, ","), " = ", "="); got != signer {
			t.Errorf("openssl reads the signer as %q, facts %q", got, signer)
		}
		return
	}
	t.Fatal("no signature block file")
}

func v1SignedAPK(t testing.TB, cert *testCert, block string, manifestXML []byte) []byte {
	files := []zipEntry{
		{name: "AndroidManifest.xml", body: manifestXML},
		{name: "classes.dex", body: []byte("dex\n035\x00")},
	}
	var mf strings.Builder
	mf.WriteString("Manifest-Version: 1.0\r\nCreated-By: eucora tests\r\n\r\n")
	for _, e := range files {
		d := sha256.Sum256(e.body)
		fmt.Fprintf(&mf, "Name: %s\r\nSHA-256-Digest: %s\r\n\r\n", e.name, base64.StdEncoding.EncodeToString(d[:]))
	}
	md := sha256.Sum256([]byte(mf.String()))
	sf := fmt.Sprintf("Signature-Version: 1.0\r\nCreated-By: eucora tests\r\nSHA-256-Digest-Manifest: %s\r\n\r\n", base64.StdEncoding.EncodeToString(md[:]))
	p7 := cmsSign(t, cert, []byte(sf), false)
	files = append(files,
		zipEntry{name: "META-INF/MANIFEST.MF", body: []byte(mf.String())},
		zipEntry{name: "META-INF/CERT.SF", body: []byte(sf)},
		zipEntry{name: "META-INF/" + block, body: p7},
	)
	return zipBuild(t, files...)
}

// The Go-encoded manifests: UTF-16 and UTF-8 string pools, and attribute
// names stripped so only the resource map names them (as obfuscators
// leave them). aapt reads the encoding the same way.
func TestInspectAPKEncodedManifests(t *testing.T) {
	for _, c := range []struct{ utf8, noNames bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("utf8=%v,stripped=%v", c.utf8, c.noNames), func(t *testing.T) {
			mx := demoManifest(c.utf8, c.noNames)
			apk := zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: mx}, zipEntry{name: "lib/armeabi-v7a/libx.so", body: []byte("x")})
			f, err := InspectAPK(bytes.NewReader(apk), int64(len(apk)), facts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if f.Identity != (facts.Identity{Name: "eu.eucora.mobile", Version: "1.0.7-ü", ID: "eu.eucora.mobile", Arch: "armeabi-v7a"}) {
				t.Errorf("identity %+v", f.Identity)
			}
			wantFields := map[string]string{"package": "eu.eucora.mobile", "versionCode": "7", "versionName": "1.0.7-ü", "minSdkVersion": "26", "targetSdkVersion": "34", "application.label": "@0x7f0b0001"}
			if !reflect.DeepEqual(f.Fields, wantFields) {
				t.Errorf("fields %v", f.Fields)
			}
			if want := []string{"android.permission.INTERNET", "android.permission.ACCESS_FINE_LOCATION", "android.permission.READ_CONTACTS"}; !reflect.DeepEqual(f.Capabilities, want) {
				t.Errorf("permissions %q", f.Capabilities)
			}
			if !reflect.DeepEqual(f.Services, []facts.Service{{Name: ".Push", Start: "exported", Source: "AndroidManifest.xml <service>"}}) {
				t.Errorf("services %+v", f.Services)
			}
			if !slices.ContainsFunc(f.NotInspected, func(s string) bool { return strings.HasPrefix(s, "resources.arsc") }) {
				t.Errorf("not inspected %q", f.NotInspected)
			}
			if c.noNames {
				return
			}
			testtool.Need(t, "apt-get install aapt", "aapt")
			p := filepath.Join(t.TempDir(), "x.apk")
			os.WriteFile(p, apk, 0o644)
			tree := string(run(t, nil, "aapt", "dump", "xmltree", p, "AndroidManifest.xml"))
			for _, want := range []string{
				`A: android:versionCode(0x0101021b)=(type 0x10)0x7`,
				`A: android:versionName(0x0101021c)="1.0.7-ü" (Raw: "1.0.7-ü")`,
				`A: package="eu.eucora.mobile" (Raw: "eu.eucora.mobile")`,
				`A: android:name(0x01010003)="android.permission.READ_CONTACTS"`,
				`A: android:label(0x01010001)=@0x7f0b0001`,
				`A: android:exported(0x01010010)=(type 0x12)0xffffffff`,
				`E: uses-permission-sdk-23`,
			} {
				if !strings.Contains(tree, want) {
					t.Errorf("aapt dump xmltree lacks %q:\n%s", want, tree)
				}
			}
		})
	}
}

// insertSigningBlock puts an APK Signing Block of pairs (ID, value) before
// the central directory of a zip, as apksigner does, and fixes the end of
// central directory record; raw, when not nil, is the whole block as is.
func insertSigningBlock(t testing.TB, z []byte, raw []byte, pairs ...any) []byte {
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	cd := int(binary.LittleEndian.Uint32(z[eocd+16:]))
	blk := raw
	if blk == nil {
		var body bytes.Buffer
		for i := 0; i < len(pairs); i += 2 {
			v := pairs[i+1].([]byte)
			binary.Write(&body, binary.LittleEndian, uint64(len(v)+4))
			binary.Write(&body, binary.LittleEndian, pairs[i].(uint32))
			body.Write(v)
		}
		size := uint64(body.Len() + 8 + 16)
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, size)
		b.Write(body.Bytes())
		binary.Write(&b, binary.LittleEndian, size)
		b.WriteString(apkSigMagic)
		blk = b.Bytes()
	}
	out := append(append(append([]byte(nil), z[:cd]...), blk...), z[cd:]...)
	binary.LittleEndian.PutUint32(out[eocd+len(blk)+16:], uint32(cd+len(blk)))
	return out
}

// v2Value encodes a v2/v3 scheme block with one signer holding certs.
func v2Value(certs ...[]byte) []byte {
	lpb := func(parts ...[]byte) []byte {
		var b bytes.Buffer
		for _, p := range parts {
			binary.Write(&b, binary.LittleEndian, uint32(len(p)))
			b.Write(p)
		}
		return b.Bytes()
	}
	var cs [][]byte
	for _, c := range certs {
		cs = append(cs, c)
	}
	signedData := lpb(lpb(), lpb(cs...), lpb()) // digests, certificates, attributes
	signer := lpb(signedData, lpb(), []byte{})  // signed data, signatures, public key
	return lpb(lpb(signer))
}

func TestAPKSigningBlockInGo(t *testing.T) {
	cert := newTestCert(t, "EUCORA Block", "EUCORA", false)
	base := zipBuild(t, zipEntry{name: "AndroidManifest.xml", body: demoManifest(false, false)})
	apk := insertSigningBlock(t, base, nil, uint32(0x42726577), make([]byte, 100), uint32(apkSigV3), v2Value(cert.cert.Raw))
	f, err := InspectAPK(bytes.NewReader(apk), int64(len(apk)), facts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Signature; s.Format != "apk-v2" || s.Signer != cert.cert.Subject.String() || s.Detail != fmt.Sprintf(DetailAPKv2, "APK Signature Scheme v3") {
		t.Errorf("signature %+v", s)
	}
	// a block with no certificate to read is still a signing block
	apk = insertSigningBlock(t, base, nil, uint32(apkSigV2), []byte{1, 2, 3})
	f, err = InspectAPK(bytes.NewReader(apk), int64(len(apk)), facts.Options{})
	if err != nil || f.Signature.Format != "apk-v2" || f.Signature.Signer != "" || !strings.Contains(f.Signature.Detail, "the signer certificate could not be read") {
		t.Errorf("unreadable signer: %v %+v", err, f.Signature)
	}
	// a block with only IDs this reader does not know (verity padding) is no signature
	apk = insertSigningBlock(t, base, nil, uint32(0x42726577), make([]byte, 8))
	f, err = InspectAPK(bytes.NewReader(apk), int64(len(apk)), facts.Options{})
	if err != nil || f.Signature.State != facts.SigUnsigned {
		t.Errorf("padding only: %v %+v", err, f.Signature)
	}
}
