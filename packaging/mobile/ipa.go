package mobile

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
)

// DetailCodesign is the Signature.Detail of a code-signed .ipa.
const DetailCodesign = "code signature present, not verified (needs Apple's chain)"

var appInfoPlist = regexp.MustCompile(`^Payload/([^/]+\.app)/Info\.plist$`)

// sampleSize is FileSummary.Sample's length.
const sampleSize = 100

// InspectIPA reads the facts of the iOS app archive of size bytes in r,
// within o.Limits. A file that is not an .ipa (no Payload/NAME.app/
// Info.plist), is not a sound zip, or breaks a limit returns a
// *facts.DefectError.
func InspectIPA(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	lim := o.Limits.WithDefaults()
	zr, err := facts.OpenZip(r, size, facts.KindIPA, lim)
	if err != nil {
		return nil, err
	}
	if err := uniqueNames(zr, facts.KindIPA); err != nil {
		return nil, err
	}
	var infoFile *zip.File
	var app string
	for _, f := range zr.File {
		if m := appInfoPlist.FindStringSubmatch(f.Name); m != nil {
			if infoFile != nil {
				return nil, facts.Defectf(facts.KindIPA, "two app bundles in Payload/: %s and %s", app, m[1])
			}
			infoFile, app = f, m[1]
		}
	}
	if infoFile == nil {
		what := ""
		if facts.FindZipEntry(zr, "AndroidManifest.xml") != nil {
			what = " (it holds AndroidManifest.xml: an Android package?)"
		}
		return nil, facts.Defectf(facts.KindIPA, "no Payload/NAME.app/Info.plist: not an iOS app archive%s", what)
	}
	b, err := facts.ReadZipEntry(infoFile, facts.KindIPA, lim.MaxMetadata)
	if err != nil {
		return nil, err
	}
	v, err := parsePlist(b, lim.MaxEntries)
	if err != nil {
		return nil, facts.Defectf(facts.KindIPA, "%s: %v", infoFile.Name, err)
	}
	info, ok := v.(map[string]any)
	if !ok {
		return nil, facts.Defectf(facts.KindIPA, "%s: top-level value is %T, not a dict", infoFile.Name, v)
	}
	str := func(k string) string { s, _ := info[k].(string); return s }
	id := str("CFBundleIdentifier")
	if id == "" {
		return nil, facts.Defectf(facts.KindIPA, "%s has no CFBundleIdentifier", infoFile.Name)
	}
	version := str("CFBundleShortVersionString")
	if version == "" {
		version = str("CFBundleVersion")
	}
	f := &facts.Facts{
		Kind:     facts.KindIPA,
		Identity: facts.Identity{Name: id, Version: version, ID: id},
		Fields:   map[string]string{},
	}
	for k, val := range info {
		if s, ok := scalar(val); ok {
			f.Fields[k] = s
		}
	}
	prefix := "Payload/" + app + "/"

	if exe := str("CFBundleExecutable"); exe != "" && !strings.Contains(exe, "/") {
		if ef := facts.FindZipEntry(zr, prefix+exe); ef != nil {
			f.Identity.Arch = machOArch(ef)
		}
	}
	if f.Identity.Arch == "" {
		f.NotInspected = append(f.NotInspected, "executable architecture (no readable Mach-O executable)")
	}

	if pf := facts.FindZipEntry(zr, prefix+"embedded.mobileprovision"); pf != nil {
		f.Fields["embedded.mobileprovision"] = "present"
		if err := readProvision(pf, lim, f); err != nil {
			return nil, err
		}
	}

	f.Signature = &facts.Signature{State: facts.SigUnsigned, Detail: "no _CodeSignature/CodeResources in the app bundle"}
	if facts.FindZipEntry(zr, prefix+"_CodeSignature/CodeResources") != nil {
		f.Signature = &facts.Signature{State: facts.SigUntrusted, Format: "codesign", Detail: DetailCodesign}
	}
	f.Files = zipSummary(zr)
	f.Components = []facts.Component{{Name: id, Version: version, Supplier: f.Identity.Vendor}}
	var bundled []string
	for _, zf := range zr.File {
		rest, ok := strings.CutPrefix(zf.Name, prefix)
		if !ok {
			continue
		}
		for _, dir := range []string{"Frameworks/", "PlugIns/"} {
			if inner, ok := strings.CutPrefix(rest, dir); ok && strings.Count(inner, "/") == 1 && strings.HasSuffix(inner, "/Info.plist") {
				bundled = append(bundled, dir+strings.TrimSuffix(inner, "/Info.plist"))
			}
		}
	}
	sort.Strings(bundled)
	if len(bundled) > 0 {
		f.NotInspected = append(f.NotInspected, "bundled frameworks and extensions ("+strings.Join(limitList(bundled, 10), ", ")+"): not listed as components")
	}
	f.NotInspected = append(f.NotInspected,
		"the code signature in the Mach-O executable and the CodeResources hashes (not verified)",
		"executable code",
	)
	return f, nil
}

// readProvision reads embedded.mobileprovision: a CMS SignedData whose
// content is a plist naming the team, the app ID and the entitlements.
func readProvision(pf *zip.File, lim facts.Limits, f *facts.Facts) error {
	b, err := facts.ReadZipEntry(pf, facts.KindIPA, lim.MaxMetadata)
	if err != nil {
		return err
	}
	sd, err := parseSignedData(b)
	if err != nil || sd.content == nil {
		f.NotInspected = append(f.NotInspected, "embedded.mobileprovision contents (not a DER CMS SignedData with content)")
		return nil
	}
	v, err := parsePlist(sd.content, lim.MaxEntries)
	prov, ok := v.(map[string]any)
	if err != nil || !ok {
		f.NotInspected = append(f.NotInspected, "embedded.mobileprovision contents (its plist does not parse)")
		return nil
	}
	for _, k := range []string{"TeamName", "AppIDName", "Name", "UUID", "ProvisionsAllDevices", "ExpirationDate", "CreationDate"} {
		if s, ok := scalar(prov[k]); ok && s != "" {
			f.Fields["mobileprovision."+k] = s
		}
	}
	if ids, ok := prov["TeamIdentifier"].([]any); ok {
		if s, ok := scalar(ids); ok {
			f.Fields["mobileprovision.TeamIdentifier"] = s
		}
	}
	if devs, ok := prov["ProvisionedDevices"].([]any); ok {
		f.Fields["mobileprovision.ProvisionedDevices"] = strconv.Itoa(len(devs))
	}
	if team, _ := prov["TeamName"].(string); team != "" {
		f.Identity.Vendor = team
	}
	if ent, ok := prov["Entitlements"].(map[string]any); ok {
		for k := range ent {
			f.Capabilities = append(f.Capabilities, k)
		}
		sort.Strings(f.Capabilities)
	}
	return nil
}

// machOArch reads the Mach-O header of the executable: its CPU type, or
// for a universal binary each slice's.
func machOArch(f *zip.File) string {
	rc, err := f.Open()
	if err != nil {
		return ""
	}
	defer rc.Close()
	h := make([]byte, 8+20*8)
	n, _ := io.ReadFull(rc, h)
	h = h[:n]
	if len(h) < 8 {
		return ""
	}
	switch {
	case binary.LittleEndian.Uint32(h) == 0xfeedfacf || binary.LittleEndian.Uint32(h) == 0xfeedface:
		return cpuName(binary.LittleEndian.Uint32(h[4:]))
	case binary.BigEndian.Uint32(h) == 0xcafebabe: // fat header: count, then (cputype, subtype, offset, size, align)
		count := int(binary.BigEndian.Uint32(h[4:]))
		var archs []string
		for i := 0; i < count && i < 8 && 8+i*20+4 <= len(h); i++ {
			archs = append(archs, cpuName(binary.BigEndian.Uint32(h[8+i*20:])))
		}
		if len(archs) == 1 {
			return archs[0]
		}
		if len(archs) > 1 {
			return "universal (" + strings.Join(archs, ", ") + ")"
		}
	}
	return ""
}

func cpuName(t uint32) string {
	switch t {
	case 0x0100000c:
		return "arm64"
	case 0x0200000c:
		return "arm64_32"
	case 12:
		return "arm"
	case 0x01000007:
		return "x86_64"
	case 7:
		return "x86"
	}
	return fmt.Sprintf("cpu type 0x%x", t)
}

// uniqueNames refuses a zip that holds a name twice: a reader and an
// installer could each take a different one (Android refuses such APKs).
func uniqueNames(zr *zip.Reader, kind facts.Kind) error {
	seen := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		if seen[f.Name] {
			return facts.Defectf(kind, "zip holds entry %q twice (which one an installer takes is not certain)", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// zipSummary counts the files of a zip package and samples their names.
func zipSummary(zr *zip.Reader) *facts.FileSummary {
	s := &facts.FileSummary{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		s.Count++
		s.Bytes += int64(f.UncompressedSize64)
		if len(s.Sample) < sampleSize {
			s.Sample = append(s.Sample, f.Name)
		}
	}
	sort.Strings(s.Sample)
	return s
}

func limitList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), "and "+strconv.Itoa(len(s)-n)+" more")
}
