package mobile

import (
	"archive/zip"
	"crypto/x509"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/packaging/facts"
)

// Signature details of an .apk.
const (
	DetailAPKv1 = "v1 JAR signature: signer certificate read from %s; the PKCS#7 signature over the .SF file and the JAR digests (MANIFEST.MF) are not verified"
	DetailAPKv2 = "APK Signing Block (%s): signer certificate read from the first signer; its signatures and the digests over the APK are not verified"
)

// InspectAPK reads the facts of the Android package of size bytes in r,
// within o.Limits. A file that is not an .apk (no binary
// AndroidManifest.xml), is not a sound zip, or breaks a limit returns a
// *facts.DefectError.
func InspectAPK(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	lim := o.Limits.WithDefaults()
	zr, err := facts.OpenZip(r, size, facts.KindAPK, lim)
	if err != nil {
		return nil, err
	}
	if err := uniqueNames(zr, facts.KindAPK); err != nil {
		return nil, err
	}
	mf := facts.FindZipEntry(zr, "AndroidManifest.xml")
	if mf == nil || mf.Name != "AndroidManifest.xml" {
		what := ""
		for _, f := range zr.File {
			if appInfoPlist.MatchString(f.Name) {
				what = " (it holds " + f.Name + ": an iOS app?)"
				break
			}
		}
		return nil, facts.Defectf(facts.KindAPK, "no AndroidManifest.xml: not an Android package%s", what)
	}
	b, err := facts.ReadZipEntry(mf, facts.KindAPK, lim.MaxMetadata)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(b, lim.MaxEntries)
	if err != nil {
		return nil, facts.Defectf(facts.KindAPK, "AndroidManifest.xml: %v", err)
	}
	version := m.fields["versionName"]
	if version == "" {
		version = m.fields["versionCode"]
	}
	f := &facts.Facts{
		Kind:         facts.KindAPK,
		Identity:     facts.Identity{Name: m.pkg, Version: version, ID: m.pkg, Arch: abis(zr.File)},
		Fields:       m.fields,
		Capabilities: m.permissions,
		Services:     m.services,
		Files:        zipSummary(zr),
	}
	f.Components = []facts.Component{{Name: m.pkg, Version: version}}

	sig, err := apkSignature(r, size, zr.File, lim)
	if err != nil {
		return nil, err
	}
	f.Signature = sig
	if m.refs {
		f.NotInspected = append(f.NotInspected, "resources.arsc (manifest values that are resource references, shown as @0x..., are not resolved)")
	}
	f.NotInspected = append(f.NotInspected, "dex code and native libraries")
	if sig.State != facts.SigUnsigned {
		f.NotInspected = append(f.NotInspected, "signature verification (signatures and digests are not checked)")
	}
	return f, nil
}

// manifest is what AndroidManifest.xml says.
type manifest struct {
	pkg         string
	fields      map[string]string
	permissions []string
	services    []facts.Service
	refs        bool
}

func readManifest(b []byte, maxElements int) (*manifest, error) {
	m := &manifest{fields: map[string]string{}}
	seenPerm := map[string]bool{}
	appDepth := 0
	err := parseAXML(b, maxElements, func(e *axmlElement) error {
		for _, a := range e.attrs {
			m.refs = m.refs || a.ref
		}
		if e.depth == 1 {
			if e.name != "manifest" {
				return fmt.Errorf("root element <%s>, not <manifest>", e.name)
			}
			if a, ok := e.attr("", "package"); ok {
				m.pkg = a.value
			}
			for _, k := range []string{"versionCode", "versionName", "compileSdkVersion", "compileSdkVersionCodename", "installLocation", "sharedUserId"} {
				if a, ok := e.attr(androidNS, k); ok {
					m.fields[k] = a.value
				}
			}
			for _, k := range []string{"platformBuildVersionCode", "platformBuildVersionName"} {
				if a, ok := e.attr("", k); ok {
					m.fields[k] = a.value
				}
			}
			return nil
		}
		switch {
		case e.name == "uses-sdk" && e.depth == 2:
			for _, k := range []string{"minSdkVersion", "targetSdkVersion", "maxSdkVersion"} {
				if a, ok := e.attr(androidNS, k); ok {
					m.fields[k] = a.value
				}
			}
		case (e.name == "uses-permission" || e.name == "uses-permission-sdk-23" || e.name == "uses-permission-sdk-m") && e.depth == 2:
			if a, ok := e.attr(androidNS, "name"); ok && a.value != "" && !seenPerm[a.value] {
				seenPerm[a.value] = true
				m.permissions = append(m.permissions, a.value)
			}
		case e.name == "application" && e.depth == 2:
			appDepth = e.depth
			if a, ok := e.attr(androidNS, "label"); ok {
				m.fields["application.label"] = a.value
			}
		case e.name == "service" && appDepth > 0 && e.depth == appDepth+1:
			s := facts.Service{Source: "AndroidManifest.xml <service>"}
			if a, ok := e.attr(androidNS, "name"); ok {
				s.Name = a.value
			}
			if a, ok := e.attr(androidNS, "exported"); ok && a.value == "true" {
				s.Start = "exported"
			}
			if a, ok := e.attr(androidNS, "permission"); ok {
				s.Account = "callers need " + a.value
			}
			m.services = append(m.services, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.pkg == "" {
		return nil, fmt.Errorf("<manifest> has no package attribute")
	}
	m.fields["package"] = m.pkg
	return m, nil
}

// abis lists the native ABIs the package ships libraries for (lib/ABI/),
// "" when it has none (it runs on any).
func abis(files []*zip.File) string {
	seen := map[string]bool{}
	for _, f := range files {
		if rest, ok := strings.CutPrefix(f.Name, "lib/"); ok {
			if abi, _, ok := strings.Cut(rest, "/"); ok && abi != "" {
				seen[abi] = true
			}
		}
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// apkSignature reports the APK Signing Block (v2, v3) when present, else
// the v1 JAR signature, else unsigned.
func apkSignature(r io.ReaderAt, size int64, files []*zip.File, lim facts.Limits) (*facts.Signature, error) {
	blk, err := readSigningBlock(r, size, lim.MaxMetadata)
	if err != nil {
		return nil, facts.Defectf(facts.KindAPK, "%v", err)
	}
	var v1 *zip.File
	for _, f := range files {
		dir, base := path.Split(f.Name)
		ext := strings.ToUpper(path.Ext(base))
		if dir == "META-INF/" && (ext == ".RSA" || ext == ".DSA" || ext == ".EC") {
			v1 = f
			break
		}
	}
	if blk != nil {
		var schemes []string
		var val []byte
		for _, s := range []struct {
			id   uint32
			name string
		}{{apkSigV2, "v2"}, {apkSigV3, "v3"}, {apkSigV31, "v3.1"}} {
			if v, ok := blk.pairs[s.id]; ok {
				schemes = append(schemes, s.name)
				if val == nil {
					val = v
				}
			}
		}
		if len(schemes) > 0 {
			sig := &facts.Signature{State: facts.SigUntrusted, Format: "apk-v2", Detail: fmt.Sprintf(DetailAPKv2, "APK Signature Scheme "+strings.Join(schemes, ", "))}
			if c, err := schemeSigner(val); err == nil {
				fillCert(sig, c)
			} else {
				sig.Detail += "; the signer certificate could not be read: " + err.Error()
			}
			if v1 != nil {
				sig.Detail += "; a v1 JAR signature (" + v1.Name + ") is present too"
			}
			return sig, nil
		}
	}
	if v1 == nil {
		return &facts.Signature{State: facts.SigUnsigned, Detail: "no APK Signing Block and no META-INF/*.RSA, *.DSA or *.EC"}, nil
	}
	b, err := facts.ReadZipEntry(v1, facts.KindAPK, lim.MaxMetadata)
	if err != nil {
		return nil, err
	}
	sd, err := parseSignedData(b)
	if err != nil {
		return &facts.Signature{State: facts.SigInvalid, Format: "apk-v1", Detail: v1.Name + ": " + err.Error()}, nil
	}
	c, err := sd.leaf()
	if err != nil {
		return &facts.Signature{State: facts.SigInvalid, Format: "apk-v1", Detail: v1.Name + ": " + err.Error()}, nil
	}
	sig := &facts.Signature{State: facts.SigUntrusted, Format: "apk-v1", Detail: fmt.Sprintf(DetailAPKv1, v1.Name)}
	fillCert(sig, c)
	return sig, nil
}

func fillCert(s *facts.Signature, c *x509.Certificate) {
	s.Signer = c.Subject.String()
	s.Issuer = c.Issuer.String()
	na := c.NotAfter.UTC().Truncate(time.Second)
	s.NotAfter = &na
}
