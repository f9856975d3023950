// Package msix reads the facts of an MSIX or APPX package natively: the
// identity, display name, capabilities and extensions its
// AppxManifest.xml declares, and its signature, AppxSignature.p7x, an
// Authenticode PKCS#7 over the package's digests (verified with
// packaging/authenticode), together with the AppxBlockMap.xml the
// signature covers and the per-block hashes of every file the block map
// lists. It reads through the io.ReaderAt within facts.Limits and never
// installs or runs anything.
package msix

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
)

// Footprint files: the package's own metadata, not payload.
const (
	manifestName     = "AppxManifest.xml"
	blockMapName     = "AppxBlockMap.xml"
	contentTypesName = "[Content_Types].xml"
	signatureName    = "AppxSignature.p7x"
	codeIntegrity    = "AppxMetadata/CodeIntegrity.cat"
	bundleManifest   = "AppxMetadata/AppxBundleManifest.xml"
)

// Restricted capabilities that need or give administrative power, with
// the reason recorded for each.
var adminCapabilities = map[string]string{
	"runFullTrust":      "restricted capability runFullTrust (the app runs as a full-trust desktop process)",
	"allowElevation":    "restricted capability allowElevation (the app may elevate to administrator)",
	"packageManagement": "restricted capability packageManagement (the app installs and removes other packages)",
}

// Capabilities that accept inbound network connections.
var listenerCapabilities = map[string]string{
	"internetClientServer":       "capability internetClientServer (accepts inbound connections from the internet)",
	"privateNetworkClientServer": "capability privateNetworkClientServer (accepts inbound connections from private networks)",
}

// Inspect reads an .msix package.
func Inspect(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	return InspectAs(facts.KindMSIX, r, size, o)
}

// InspectAs reads an MSIX or APPX package (kind facts.KindMSIX or
// facts.KindAppx: the caller knows it from the file name; the formats are
// the same). A file that is not a zip, is a bundle, has no manifest, or
// whose manifest does not parse is a *facts.DefectError of kind.
func InspectAs(kind facts.Kind, r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	lim := o.Limits.WithDefaults()
	zr, err := facts.OpenZip(r, size, kind, lim)
	if err != nil {
		return nil, err
	}
	if facts.FindZipEntry(zr, bundleManifest) != nil {
		return nil, facts.Defectf(kind, "%s is present: this is a bundle (.msixbundle/.appxbundle), not a single package", bundleManifest)
	}
	mf := findExact(zr, manifestName)
	if mf == nil {
		return nil, facts.Defectf(kind, "no %s: not an MSIX/APPX package", manifestName)
	}
	mb, err := facts.ReadZipEntry(mf, kind, lim.MaxMetadata)
	if err != nil {
		return nil, err
	}
	f := &facts.Facts{Kind: kind, Fields: map[string]string{}}
	if err := readManifest(mb, f); err != nil {
		return nil, facts.Defectf(kind, "%s: %v", manifestName, err)
	}
	if f.Identity.Name == "" {
		return nil, facts.Defectf(kind, "%s has no Identity Name", manifestName)
	}
	f.Components = []facts.Component{{Name: f.Identity.Name, Version: f.Identity.Version, Supplier: f.Identity.Vendor}}

	files := &facts.FileSummary{}
	var names []string
	for _, zf := range zr.File {
		if isFootprint(zf.Name) || zf.Name == manifestName || strings.HasSuffix(zf.Name, "/") {
			continue
		}
		files.Count++
		files.Bytes += int64(zf.UncompressedSize64)
		names = append(names, zf.Name)
	}
	sort.Strings(names)
	files.Sample = names[:min(len(names), 100)]
	f.Files = files

	sig, err := verifySignature(kind, r, size, zr, o)
	if err != nil {
		return nil, err
	}
	f.Signature = sig
	f.NotInspected = append(f.NotInspected, "payload executables (their own signatures and contents are not read)")
	return f, nil
}

// findExact finds the entry named name exactly (package part names are
// case-insensitive on Windows; a footprint file must be at its place).
func findExact(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
	}
	return facts.FindZipEntry(zr, name)
}

func isFootprint(name string) bool {
	switch name {
	case blockMapName, contentTypesName, signatureName, codeIntegrity:
		return true
	}
	return false
}

// readManifest walks the manifest's elements, namespace-agnostic by local
// name (the schemas add namespaces per Windows version: uap, rescap,
// desktop, desktop2, desktop6...).
func readManifest(b []byte, f *facts.Facts) error {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") {
			return in, nil
		}
		return nil, fmt.Errorf("encoding %q is not read", label)
	}
	var stack []string
	var text *strings.Builder
	var textFor string
	var category string // of the enclosing Extension
	seenCap := map[string]bool{}
	addCap := func(c string) {
		if c != "" && !seenCap[c] {
			seenCap[c] = true
			f.Capabilities = append(f.Capabilities, c)
		}
	}
	inside := func(name string) bool {
		for _, s := range stack {
			if s == name {
				return true
			}
		}
		return false
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			attr := func(n string) string {
				for _, a := range t.Attr {
					if a.Name.Local == n {
						return a.Value
					}
				}
				return ""
			}
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			stack = append(stack, t.Name.Local)
			switch t.Name.Local {
			case "Package":
				if len(stack) != 1 {
					return fmt.Errorf("nested Package element")
				}
			case "Identity":
				if parent == "Package" {
					f.Identity.Name = attr("Name")
					f.Identity.ID = attr("Name")
					f.Identity.Version = attr("Version")
					f.Identity.Vendor = attr("Publisher")
					f.Identity.Arch = arch(attr("ProcessorArchitecture"))
					f.Fields["Identity.Name"] = attr("Name")
					f.Fields["Identity.Version"] = attr("Version")
					f.Fields["Identity.Publisher"] = attr("Publisher")
					if a := attr("ProcessorArchitecture"); a != "" {
						f.Fields["Identity.ProcessorArchitecture"] = a
					}
				}
			case "DisplayName", "PublisherDisplayName", "Description":
				if parent == "Properties" {
					text, textFor = &strings.Builder{}, t.Name.Local
				}
			case "Capability":
				if parent == "Capabilities" {
					name := attr("Name")
					if strings.Contains(t.Name.Space, "restrictedcapabilities") {
						addCap("rescap:" + name)
						if why, ok := adminCapabilities[name]; ok {
							f.Privilege.RequiresAdmin = true
							f.Privilege.Reasons = append(f.Privilege.Reasons, why)
						}
					} else {
						addCap(name)
					}
					if why, ok := listenerCapabilities[name]; ok {
						f.Listeners = append(f.Listeners, why)
					}
				}
			case "DeviceCapability":
				if parent == "Capabilities" {
					addCap("device:" + attr("Name"))
				}
			case "Extension":
				category = attr("Category")
				switch category {
				case "windows.service":
					f.Privilege.InstallsService = true
				case "windows.firewallRules":
					f.Fields["firewallRules"] = "declared"
				}
			case "Service":
				if category == "windows.service" && inside("Extension") {
					name := attr("Name")
					f.Services = append(f.Services, facts.Service{Name: name, Start: strings.ToLower(attr("StartupType")), Account: attr("StartAccount"), Source: manifestName + " " + t.Name.Local + " (windows.service)"})
					f.Privilege.Reasons = append(f.Privilege.Reasons, fmt.Sprintf("%s declares service %q (windows.service extension)", manifestName, name))
				}
			case "Rule":
				if category == "windows.firewallRules" && inside("FirewallRules") {
					ports := attr("LocalPortMin")
					if mx := attr("LocalPortMax"); mx != "" && mx != ports {
						ports += "-" + mx
					}
					f.Listeners = append(f.Listeners, fmt.Sprintf("firewall rule %s %s port %s (profile %s)", attr("Direction"), attr("IPProtocol"), ports, attr("Profile")))
				}
			}
		case xml.EndElement:
			if len(stack) > 0 {
				if stack[len(stack)-1] == "Extension" {
					category = ""
				}
				if text != nil && stack[len(stack)-1] == textFor {
					f.Fields["Properties."+textFor] = strings.TrimSpace(text.String())
					text = nil
				}
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if text != nil && text.Len() < 4096 {
				text.Write(t)
			}
		}
	}
	if f.Privilege.InstallsService && len(f.Services) == 0 {
		f.Privilege.Reasons = append(f.Privilege.Reasons, manifestName+" declares a windows.service extension")
	}
	return nil
}

// arch maps an MSIX ProcessorArchitecture to EUCORA's names.
func arch(a string) string {
	switch strings.ToLower(a) {
	case "x64":
		return "amd64"
	case "x86":
		return "x86"
	case "arm64":
		return "arm64"
	case "arm":
		return "arm"
	case "neutral":
		return "all"
	}
	return a
}
