package sbom

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/eucora/eucora/packaging/facts"
)

// CycloneDXSpecVersion is the CycloneDX specification version CycloneDX
// writes. 1.6 is the first with metadata.manufacturer, "the organization
// that created the BOM", where Doc.Organization belongs.
const CycloneDXSpecVersion = "1.6"

// CycloneDX bom-refs of what EUCORA writes.
const (
	cdxArtifactRef  = "artifact"
	cdxComponentRef = "component-" // component-N, N from 1
)

// CycloneDX writes the artifact's SBOM as a CycloneDX 1.6 JSON BOM:
// metadata.component is the artifact (type application, SHA-256, purl,
// supplier, license where known, EUCORA's identifiers as properties), the
// components are the rest (type library), metadata.tools names
// eucora-VERSION and metadata.manufacturer d.Organization. The
// serialNumber is urn:uuid:UUID, UUID a UUIDv5 of the artifact's digest
// and d.Created (the same UUID as the SPDX document namespace's).
func CycloneDX(f *facts.Facts, d Doc) ([]byte, error) {
	m, err := newModel(f, d)
	if err != nil {
		return nil, err
	}
	bom := &cdx.BOM{
		JSONSchema:   "http://cyclonedx.org/schema/bom-" + CycloneDXSpecVersion + ".schema.json",
		BOMFormat:    cdx.BOMFormat,
		SpecVersion:  cdx.SpecVersion1_6,
		SerialNumber: "urn:uuid:" + m.uuid,
		Version:      1,
	}
	version := strings.TrimPrefix(m.tool, "eucora-")
	bom.Metadata = &cdx.Metadata{
		Timestamp: m.created.Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    "eucora",
			Version: version,
		}}},
	}
	if org := strings.TrimSpace(m.org); org != "" {
		bom.Metadata.Manufacturer = &cdx.OrganizationalEntity{Name: org}
	}
	art := cdxComponent(m.main, cdxArtifactRef, cdx.ComponentTypeApplication)
	art.Description = m.summary
	if m.homepage != "" {
		art.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: m.homepage}}
	}
	var props []cdx.Property
	if m.fileName != "" {
		props = append(props, cdx.Property{Name: "eucora:file_name", Value: m.fileName})
	}
	for _, n := range m.notes {
		props = append(props, cdx.Property{Name: "eucora:" + n.key, Value: n.text})
	}
	if len(props) > 0 {
		art.Properties = &props
	}
	bom.Metadata.Component = &art
	if len(m.rest) > 0 {
		comps := make([]cdx.Component, 0, len(m.rest))
		refs := make([]string, 0, len(m.rest))
		for i, c := range m.rest {
			ref := fmt.Sprintf("%s%d", cdxComponentRef, i+1)
			comps = append(comps, cdxComponent(c, ref, cdx.ComponentTypeLibrary))
			refs = append(refs, ref)
		}
		bom.Components = &comps
		// The artifact's dependency graph: the components it bundles.
		bom.Dependencies = &[]cdx.Dependency{{Ref: cdxArtifactRef, Dependencies: &refs}}
	}
	var b bytes.Buffer
	enc := cdx.NewBOMEncoder(&b, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return nil, fmt.Errorf("%w: CycloneDX JSON: %v", ErrInput, err)
	}
	return b.Bytes(), nil
}

func cdxComponent(c facts.Component, ref string, typ cdx.ComponentType) cdx.Component {
	out := cdx.Component{
		BOMRef:  ref,
		Type:    typ,
		Name:    c.Name,
		Version: c.Version,
	}
	if s := strings.TrimSpace(c.Supplier); s != "" && !noAssertion(s) {
		name, mail := splitContact(s)
		out.Supplier = &cdx.OrganizationalEntity{Name: name}
		if mail != "" {
			out.Supplier.Contact = &[]cdx.OrganizationalContact{{Email: mail}}
		}
	}
	if hs := sortedHashes(c.Hashes); len(hs) > 0 {
		var hashes []cdx.Hash
		for _, h := range hs {
			if h.alg.cdx != "" {
				hashes = append(hashes, cdx.Hash{Algorithm: cdx.HashAlgorithm(h.alg.cdx), Value: h.value})
			}
		}
		if len(hashes) > 0 {
			out.Hashes = &hashes
		}
	}
	out.PackageURL = c.PURL
	if l := strings.TrimSpace(c.License); l != "" && !noAssertion(l) {
		if isLicenseExpression(l) {
			out.Licenses = &cdx.Licenses{{Expression: l}}
		} else {
			out.Licenses = &cdx.Licenses{{License: &cdx.License{Name: l}}}
		}
	}
	return out
}
