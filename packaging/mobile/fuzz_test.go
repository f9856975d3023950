package mobile

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

var fuzzOptions = facts.Options{Limits: facts.Limits{MaxEntries: 1000, MaxMetadata: 1 << 20, MaxUncompressed: 16 << 20}}

func checkFuzzResult(t *testing.T, f *facts.Facts, err error) {
	if err != nil {
		var d *facts.DefectError
		if !errors.As(err, &d) {
			t.Fatalf("error %v (%T) is not a DefectError", err, err)
		}
		return
	}
	if f.Identity.Name == "" || f.Signature == nil || f.Files == nil {
		t.Fatalf("facts without identity, signature or files: %+v", f)
	}
}

// FuzzInspectIPA: no input panics, and every refusal is a DefectError.
func FuzzInspectIPA(f *testing.F) {
	f.Add(goodIPA(f))
	f.Add(ipaBuild(f, ipaOpts{info: encodeXMLPlist(demoInfo()), exe: fatMachO, provision: []byte("0\x80")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := InspectIPA(bytes.NewReader(b), int64(len(b)), fuzzOptions)
		checkFuzzResult(t, got, err)
	})
}

// FuzzInspectAPK: no input panics, and every refusal is a DefectError.
func FuzzInspectAPK(f *testing.F) {
	f.Add(goodAPK(f))
	cert := newTestCert(f, "fuzz", "fuzz", false)
	f.Add(insertSigningBlock(f, goodAPK(f), nil, uint32(apkSigV2), v2Value(cert.cert.Raw)))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := InspectAPK(bytes.NewReader(b), int64(len(b)), fuzzOptions)
		checkFuzzResult(t, got, err)
	})
}

// FuzzPlist drives the plist readers directly (through a zip the fuzzer
// rarely gets past the CRC).
func FuzzPlist(f *testing.F) {
	f.Add(encodeBinaryPlist(demoInfo()))
	f.Add(encodeXMLPlist(demoInfo()))
	f.Add(encodeXMLPlist(demoProvision))
	f.Fuzz(func(t *testing.T, b []byte) {
		parsePlist(b, 10000)
	})
}

// FuzzAXML drives the binary XML reader directly.
func FuzzAXML(f *testing.F) {
	f.Add(demoManifest(false, false))
	f.Add(demoManifest(true, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		readManifest(b, 1000)
	})
}

// FuzzSignedData drives the PKCS#7 and signing block readers directly.
func FuzzSignedData(f *testing.F) {
	cert := newTestCert(f, "fuzz", "fuzz", false)
	f.Add(v2Value(cert.cert.Raw))
	if _, err := exec.LookPath("openssl"); err == nil {
		f.Add(cmsSign(f, cert, encodeXMLPlist(demoProvision), true))
		f.Add(cmsSign(f, cert, []byte("Signature-Version: 1.0\r\n"), false))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseSignedData(b)
		schemeSigner(b)
	})
}
