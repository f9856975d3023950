package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/packaging/facts"
)

// Format is an SBOM document format Import reads.
type Format string

// Formats.
const (
	FormatSPDX      Format = "SPDX"
	FormatCycloneDX Format = "CycloneDX"
	FormatSyft      Format = "syft"
)

// Imported is what Import read from a vendor SBOM.
type Imported struct {
	Format Format `json:"format"`
	// Version is the document's own version: "SPDX-2.3", the CycloneDX
	// specVersion "1.5", the syft JSON schema.version "16.0.24".
	Version string `json:"version"`
	// Name is the document's name (SPDX name, CycloneDX
	// metadata.component.name, syft source.name); may be empty.
	Name string `json:"name,omitempty"`
	// Components in document order, except that what the document says it
	// describes (SPDX DESCRIBES, CycloneDX metadata.component) comes
	// first. Ecosystem is filled from each PURL (EcosystemOfPURL).
	Components []facts.Component `json:"components"`
}

// ImportError names what is wrong with an SBOM document.
type ImportError struct {
	Format  Format // "" when the document is none of the formats
	Version string // the document's version, when known
	Field   string // JSON path of the field: "packages[3].name"; "" for the document
	Problem string
}

func (e *ImportError) Error() string {
	what := "SBOM document"
	if e.Format != "" {
		what = string(e.Format) + " document"
		if e.Version != "" {
			what = string(e.Format) + " " + e.Version + " document"
		}
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", what, e.Field, e.Problem)
	}
	return what + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrImport) true.
func (e *ImportError) Unwrap() error { return ErrImport }

// maxDepth bounds CycloneDX component nesting.
const maxDepth = 32

// Import reads a vendor SBOM: SPDX 2.2 or 2.3 JSON, CycloneDX 1.4, 1.5 or
// 1.6 JSON, or syft's own JSON. The format is detected from the document
// (spdxVersion, bomFormat, artifacts with schema). It refuses, as an
// *ImportError naming the format and the field, a document that is none of
// these, breaks its format's required fields, is larger than
// lim.MaxMetadata bytes or lists more than lim.MaxEntries components
// (lim.WithDefaults()).
func Import(b []byte, lim facts.Limits) (Imported, error) {
	lim = lim.WithDefaults()
	if int64(len(b)) > lim.MaxMetadata {
		return Imported{}, &ImportError{Problem: fmt.Sprintf("%d bytes, limit %d", len(b), lim.MaxMetadata)}
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n\ufeff")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	switch {
	case len(trimmed) == 0:
		return Imported{}, &ImportError{Problem: "empty"}
	case trimmed[0] == '<':
		return Imported{}, &ImportError{Problem: "XML (CycloneDX XML, SPDX RDF) is not read: give the JSON form"}
	case bytes.HasPrefix(trimmed, []byte("SPDXVersion:")):
		return Imported{}, &ImportError{Format: FormatSPDX, Problem: "tag-value is not read: give the JSON form"}
	case trimmed[0] != '{':
		return Imported{}, &ImportError{Problem: "not a JSON object: an SPDX 2.2/2.3, CycloneDX 1.4-1.6 or syft JSON document is one"}
	}
	var top sniff
	if err := decodeOne(trimmed, &top); err != nil {
		return Imported{}, &ImportError{Problem: "not valid JSON: " + err.Error()}
	}
	im := importer{lim: lim}
	switch {
	case bool(top.SPDXVersion):
		im.format = FormatSPDX
		return im.spdx(trimmed)
	case bool(top.BOMFormat):
		im.format = FormatCycloneDX
		return im.cyclonedx(trimmed)
	case bool(top.Artifacts && (top.Schema || top.Descriptor || top.Source)):
		im.format = FormatSyft
		return im.syft(trimmed)
	case bool(top.Context || top.Graph):
		return Imported{}, &ImportError{Format: FormatSPDX, Problem: "JSON-LD (SPDX 3) is not read: give SPDX 2.2/2.3 JSON"}
	}
	return Imported{}, &ImportError{Problem: "not an SPDX 2.2/2.3, CycloneDX 1.4-1.6 or syft JSON document (no spdxVersion, bomFormat, or artifacts with schema)"}
}

// sniff records which of the keys that tell the formats apart a document
// has, without copying their values.
type sniff struct {
	SPDXVersion present `json:"spdxVersion"`
	BOMFormat   present `json:"bomFormat"`
	Artifacts   present `json:"artifacts"`
	Schema      present `json:"schema"`
	Descriptor  present `json:"descriptor"`
	Source      present `json:"source"`
	Context     present `json:"@context"`
	Graph       present `json:"@graph"`
}

// present is true when its key is in the object, whatever its value.
type present bool

func (p *present) UnmarshalJSON([]byte) error { *p = true; return nil }

// decodeOne decodes exactly one JSON value from b into v.
func decodeOne(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

type importer struct {
	format  Format
	version string
	lim     facts.Limits
	out     []facts.Component
}

func (im *importer) errf(field, format string, args ...any) error {
	return &ImportError{Format: im.format, Version: im.version, Field: field, Problem: fmt.Sprintf(format, args...)}
}

// decode decodes b into v, turning a type error into one naming its field.
func (im *importer) decode(b []byte, v any) error {
	err := decodeOne(b, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return im.errf(te.Field, "is a JSON %s, want %s", te.Value, jsonKind(te.Type.Kind().String()))
	}
	return im.errf("", "not valid JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return k
}

// add appends c after checking the component limit and its PURL.
func (im *importer) add(field string, c facts.Component) error {
	if len(im.out) >= im.lim.MaxEntries {
		return im.errf(field, "more than %d components (limit)", im.lim.MaxEntries)
	}
	if c.PURL != "" {
		p, err := ParsePURL(c.PURL)
		if err != nil {
			return im.errf(field+".purl", "%v", err)
		}
		c.PURL = p.String()
		c.Ecosystem = p.Ecosystem()
	}
	im.out = append(im.out, c)
	return nil
}

// hash checks one document hash and adds it to hs under its facts name.
func (im *importer) hash(field string, hs *map[string]string, alg, value string) error {
	a := normAlg(alg)
	if a == "" {
		return im.errf(field, "unknown hash algorithm %q", clip.String(alg, 40))
	}
	v := strings.ToLower(strings.TrimSpace(value))
	if !isHexOfLen(v, hexLen[a]) {
		return im.errf(field, "%s value %q is not %d hex digits", alg, clip.String(value, 140), hexLen[a])
	}
	if *hs == nil {
		*hs = map[string]string{}
	}
	(*hs)[a] = v
	return nil
}

// --- SPDX 2.2 / 2.3 JSON ---

type spdxDoc struct {
	SPDXVersion       string          `json:"spdxVersion"`
	DataLicense       string          `json:"dataLicense"`
	SPDXID            string          `json:"SPDXID"`
	Name              string          `json:"name"`
	DocumentDescribes []string        `json:"documentDescribes"`
	Packages          []spdxPkg       `json:"packages"`
	Relationships     []spdxRelation  `json:"relationships"`
	CreationInfo      json.RawMessage `json:"creationInfo"`
}

type spdxPkg struct {
	Name             string `json:"name"`
	SPDXID           string `json:"SPDXID"`
	VersionInfo      string `json:"versionInfo"`
	Supplier         string `json:"supplier"`
	LicenseConcluded string `json:"licenseConcluded"`
	LicenseDeclared  string `json:"licenseDeclared"`
	Checksums        []struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"checksumValue"`
	} `json:"checksums"`
	ExternalRefs []struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	} `json:"externalRefs"`
}

type spdxRelation struct {
	A    string `json:"spdxElementId"`
	B    string `json:"relatedSpdxElement"`
	Type string `json:"relationshipType"`
}

var spdxRefRE = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.\-]+$`)

func (im *importer) spdx(b []byte) (Imported, error) {
	var d spdxDoc
	if err := im.decode(b, &d); err != nil {
		return Imported{}, err
	}
	switch d.SPDXVersion {
	case "SPDX-2.2", "SPDX-2.3":
		im.version = d.SPDXVersion
	default:
		return Imported{}, im.errf("spdxVersion", "%q is not read (SPDX-2.2 and SPDX-2.3 are)", clip.String(d.SPDXVersion, 40))
	}
	if d.SPDXID != "SPDXRef-DOCUMENT" {
		return Imported{}, im.errf("SPDXID", "%q, want SPDXRef-DOCUMENT", clip.String(d.SPDXID, 60))
	}
	if d.DataLicense != "CC0-1.0" {
		return Imported{}, im.errf("dataLicense", "%q, want CC0-1.0", clip.String(d.DataLicense, 60))
	}
	if len(d.Packages) > im.lim.MaxEntries {
		return Imported{}, im.errf("packages", "%d packages, limit %d", len(d.Packages), im.lim.MaxEntries)
	}
	described := map[string]bool{}
	for _, id := range d.DocumentDescribes {
		described[id] = true
	}
	for _, r := range d.Relationships {
		switch {
		case r.Type == "DESCRIBES" && r.A == "SPDXRef-DOCUMENT":
			described[r.B] = true
		case r.Type == "DESCRIBED_BY" && r.B == "SPDXRef-DOCUMENT":
			described[r.A] = true
		}
	}
	seen := map[string]bool{}
	var first, rest []facts.Component
	for i, p := range d.Packages {
		field := fmt.Sprintf("packages[%d]", i)
		if strings.TrimSpace(p.Name) == "" {
			return Imported{}, im.errf(field+".name", "missing: every SPDX package has a name")
		}
		if !spdxRefRE.MatchString(p.SPDXID) {
			return Imported{}, im.errf(field+".SPDXID", "%q is not SPDXRef-[A-Za-z0-9.-]+", clip.String(p.SPDXID, 80))
		}
		if seen[p.SPDXID] {
			return Imported{}, im.errf(field+".SPDXID", "%s is used by another package", p.SPDXID)
		}
		seen[p.SPDXID] = true
		c := facts.Component{Name: p.Name, Version: p.VersionInfo}
		if s := strings.TrimSpace(p.Supplier); !noAssertion(s) {
			typ, who, ok := strings.Cut(s, ":")
			if !ok || (typ != "Person" && typ != "Organization") || strings.TrimSpace(who) == "" {
				return Imported{}, im.errf(field+".supplier", "%q is not Person: NAME, Organization: NAME or NOASSERTION", clip.String(s, 120))
			}
			c.Supplier = strings.TrimSpace(who)
		}
		if l := p.LicenseConcluded; !noAssertion(l) {
			c.License = strings.TrimSpace(l)
		} else if l := p.LicenseDeclared; !noAssertion(l) {
			c.License = strings.TrimSpace(l)
		}
		for j, cs := range p.Checksums {
			if err := im.hash(fmt.Sprintf("%s.checksums[%d]", field, j), &c.Hashes, cs.Algorithm, cs.Value); err != nil {
				return Imported{}, err
			}
		}
		for j, r := range p.ExternalRefs {
			if r.Type != "purl" {
				continue
			}
			if cat := strings.ReplaceAll(r.Category, "_", "-"); cat != "PACKAGE-MANAGER" {
				return Imported{}, im.errf(fmt.Sprintf("%s.externalRefs[%d].referenceCategory", field, j), "%q for a purl, want PACKAGE-MANAGER", clip.String(r.Category, 40))
			}
			pu, err := ParsePURL(r.Locator)
			if err != nil {
				return Imported{}, im.errf(fmt.Sprintf("%s.externalRefs[%d].referenceLocator", field, j), "%v", err)
			}
			if c.PURL == "" {
				c.PURL = pu.String()
			}
		}
		if described[p.SPDXID] {
			first = append(first, c)
		} else {
			rest = append(rest, c)
		}
	}
	for i, c := range append(first, rest...) {
		if err := im.add(fmt.Sprintf("packages[%d]", i), c); err != nil {
			return Imported{}, err
		}
	}
	return im.result(d.Name), nil
}

// --- CycloneDX 1.4 - 1.6 JSON ---

type cdxDoc struct {
	BOMFormat    string  `json:"bomFormat"`
	SpecVersion  string  `json:"specVersion"`
	SerialNumber *string `json:"serialNumber"`
	Version      *int    `json:"version"`
	Metadata     *struct {
		Component *cdxComp `json:"component"`
	} `json:"metadata"`
	Components []json.RawMessage `json:"components"`
}

type cdxComp struct {
	Type         string            `json:"type"`
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	PURL         string            `json:"purl"`
	Publisher    string            `json:"publisher"`
	Supplier     *cdxOrg           `json:"supplier"`
	Manufacturer *cdxOrg           `json:"manufacturer"`
	Hashes       []cdxHash         `json:"hashes"`
	Licenses     []cdxLicense      `json:"licenses"`
	Components   []json.RawMessage `json:"components"`
}

type cdxOrg struct {
	Name    string `json:"name"`
	Contact []struct {
		Email string `json:"email"`
	} `json:"contact"`
}

// String is the organisation as SPDX writes a supplier: "Name (mail)".
func (o *cdxOrg) String() string {
	if o == nil {
		return ""
	}
	if len(o.Contact) > 0 && o.Contact[0].Email != "" && o.Name != "" {
		return o.Name + " (" + o.Contact[0].Email + ")"
	}
	return o.Name
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxLicense struct {
	License *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"license"`
	Expression string `json:"expression"`
}

// cdxTypes are the component types of CycloneDX 1.4 to 1.6.
var cdxTypes = map[string]bool{"application": true, "framework": true, "library": true, "container": true,
	"platform": true, "operating-system": true, "device": true, "device-driver": true, "firmware": true,
	"file": true, "machine-learning-model": true, "data": true, "cryptographic-asset": true}

var cdxSerialRE = regexp.MustCompile(`^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (im *importer) cyclonedx(b []byte) (Imported, error) {
	var d cdxDoc
	if err := im.decode(b, &d); err != nil {
		return Imported{}, err
	}
	if d.BOMFormat != "CycloneDX" {
		return Imported{}, im.errf("bomFormat", "%q, want CycloneDX", clip.String(d.BOMFormat, 40))
	}
	switch d.SpecVersion {
	case "1.4", "1.5", "1.6":
		im.version = d.SpecVersion
	default:
		return Imported{}, im.errf("specVersion", "%q is not read (1.4, 1.5 and 1.6 are)", clip.String(d.SpecVersion, 40))
	}
	if d.SerialNumber != nil && !cdxSerialRE.MatchString(*d.SerialNumber) {
		return Imported{}, im.errf("serialNumber", "%q is not urn:uuid:UUID", clip.String(*d.SerialNumber, 80))
	}
	if d.Version != nil && *d.Version < 1 {
		return Imported{}, im.errf("version", "%d, want 1 or more", *d.Version)
	}
	name := ""
	if d.Metadata != nil && d.Metadata.Component != nil {
		name = d.Metadata.Component.Name
		if err := im.cdxComponent("metadata.component", *d.Metadata.Component, 0); err != nil {
			return Imported{}, err
		}
	}
	if err := im.cdxComponents("components", d.Components, 0); err != nil {
		return Imported{}, err
	}
	return im.result(name), nil
}

func (im *importer) cdxComponents(field string, raw []json.RawMessage, depth int) error {
	if depth > maxDepth {
		return im.errf(field, "components nested more than %d deep", maxDepth)
	}
	if len(im.out)+len(raw) > im.lim.MaxEntries {
		return im.errf(field, "more than %d components (limit)", im.lim.MaxEntries)
	}
	for i, r := range raw {
		f := fmt.Sprintf("%s[%d]", field, i)
		var c cdxComp
		if err := json.Unmarshal(r, &c); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return im.errf(f+"."+te.Field, "is a JSON %s, want %s", te.Value, jsonKind(te.Type.Kind().String()))
			}
			return im.errf(f, "%v", err)
		}
		if err := im.cdxComponent(f, c, depth); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) cdxComponent(field string, c cdxComp, depth int) error {
	if !cdxTypes[c.Type] {
		return im.errf(field+".type", "%q is not a CycloneDX component type", clip.String(c.Type, 40))
	}
	if strings.TrimSpace(c.Name) == "" {
		return im.errf(field+".name", "missing: every CycloneDX component has a name")
	}
	out := facts.Component{Name: c.Name, Version: c.Version, PURL: c.PURL}
	out.Supplier = firstNonEmpty(c.Supplier.String(), c.Manufacturer.String(), c.Publisher)
	for j, h := range c.Hashes {
		if err := im.hash(fmt.Sprintf("%s.hashes[%d]", field, j), &out.Hashes, h.Alg, h.Content); err != nil {
			return err
		}
	}
	var lics []string
	for j, l := range c.Licenses {
		switch {
		case l.Expression != "":
			lics = append(lics, l.Expression)
		case l.License != nil && l.License.ID != "":
			lics = append(lics, l.License.ID)
		case l.License != nil && l.License.Name != "":
			lics = append(lics, l.License.Name)
		default:
			return im.errf(fmt.Sprintf("%s.licenses[%d]", field, j), "neither license.id, license.name nor expression")
		}
	}
	out.License = joinLicenses(lics)
	if err := im.add(field, out); err != nil {
		return err
	}
	return im.cdxComponents(field+".components", c.Components, depth+1)
}

// joinLicenses ANDs several licenses, parenthesising compound ones.
func joinLicenses(ls []string) string {
	if len(ls) == 1 {
		return ls[0]
	}
	for i, l := range ls {
		if strings.ContainsAny(l, " \t") {
			ls[i] = "(" + l + ")"
		}
	}
	return strings.Join(ls, " AND ")
}

// --- syft JSON ---

type syftDoc struct {
	Schema *struct {
		Version string `json:"version"`
	} `json:"schema"`
	Source *struct {
		Name string `json:"name"`
	} `json:"source"`
	Artifacts []json.RawMessage `json:"artifacts"`
}

type syftArtifact struct {
	Name     string          `json:"name"`
	Version  *string         `json:"version"`
	Type     string          `json:"type"`
	PURL     *string         `json:"purl"`
	Licenses json.RawMessage `json:"licenses"`
}

var syftSchemaRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

func (im *importer) syft(b []byte) (Imported, error) {
	var d syftDoc
	if err := im.decode(b, &d); err != nil {
		return Imported{}, err
	}
	if d.Schema == nil || d.Schema.Version == "" {
		return Imported{}, im.errf("schema.version", "missing: syft JSON names its schema version")
	}
	if !syftSchemaRE.MatchString(d.Schema.Version) {
		return Imported{}, im.errf("schema.version", "%q is not MAJOR.MINOR.PATCH", clip.String(d.Schema.Version, 40))
	}
	im.version = d.Schema.Version
	if len(d.Artifacts) > im.lim.MaxEntries {
		return Imported{}, im.errf("artifacts", "%d artifacts, limit %d", len(d.Artifacts), im.lim.MaxEntries)
	}
	for i, r := range d.Artifacts {
		field := fmt.Sprintf("artifacts[%d]", i)
		var a syftArtifact
		if err := json.Unmarshal(r, &a); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return Imported{}, im.errf(field+"."+te.Field, "is a JSON %s, want %s", te.Value, jsonKind(te.Type.Kind().String()))
			}
			return Imported{}, im.errf(field, "%v", err)
		}
		if strings.TrimSpace(a.Name) == "" {
			return Imported{}, im.errf(field+".name", "missing: every syft artifact has a name")
		}
		if a.Type == "" {
			return Imported{}, im.errf(field+".type", "missing: every syft artifact has a type")
		}
		if a.Version == nil {
			return Imported{}, im.errf(field+".version", "missing (syft writes it, empty when unknown)")
		}
		if a.PURL == nil {
			return Imported{}, im.errf(field+".purl", "missing (syft writes it, empty when unknown)")
		}
		c := facts.Component{Name: a.Name, Version: *a.Version, PURL: *a.PURL}
		lic, err := syftLicenses(a.Licenses)
		if err != nil {
			return Imported{}, im.errf(field+".licenses", "%v", err)
		}
		c.License = lic
		if err := im.add(field, c); err != nil {
			return Imported{}, err
		}
	}
	name := ""
	if d.Source != nil {
		name = d.Source.Name
	}
	return im.result(name), nil
}

// syftLicenses reads both shapes syft has written: an array of strings
// (schemas before 9) and an array of {value, spdxExpression} objects.
func syftLicenses(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		return joinLicenses(nonEmpty(strs)), nil
	}
	var objs []struct {
		Value          string `json:"value"`
		SPDXExpression string `json:"spdxExpression"`
	}
	if err := json.Unmarshal(raw, &objs); err != nil {
		return "", errors.New("neither an array of strings nor of {value, spdxExpression} objects")
	}
	var ls []string
	for _, o := range objs {
		if o.SPDXExpression != "" {
			ls = append(ls, o.SPDXExpression)
		} else if o.Value != "" {
			ls = append(ls, o.Value)
		}
	}
	return joinLicenses(ls), nil
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (im *importer) result(name string) Imported {
	out := im.out
	if out == nil {
		out = []facts.Component{}
	}
	return Imported{Format: im.format, Version: im.version, Name: name, Components: out}
}
