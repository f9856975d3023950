package sbom

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// TestImportLibraryFixtures imports the documents the two libraries test
// themselves with: the SPDX project's example documents (2.2 and 2.3) and
// every valid CycloneDX 1.6 JSON test BOM of cyclonedx-go.
func TestImportLibraryFixtures(t *testing.T) {
	spdxDir := moduleDir(t, "github.com/spdx/tools-golang")
	for _, c := range []struct {
		path    string
		version string
		n       int
		first   string
	}{
		{"examples/sample-docs/json/SPDXJSONExample-v2.2.spdx.json", "SPDX-2.2", 4, "glibc"},
		{"examples/sample-docs/json/SPDXJSONExample-v2.3.spdx.json", "SPDX-2.3", 5, "glibc"},
		{"json/test_fixtures/spdx2_3.json", "SPDX-2.3", 9, "tools-java"},
	} {
		b, err := os.ReadFile(filepath.Join(spdxDir, c.path))
		if err != nil {
			t.Fatal(err)
		}
		im, err := Import(b, facts.Limits{})
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if im.Format != FormatSPDX || im.Version != c.version || len(im.Components) != c.n || im.Components[0].Name != c.first {
			t.Errorf("%s: %s %s, %d components, first %q", c.path, im.Format, im.Version, len(im.Components), im.Components[0].Name)
		}
		if c.first == "glibc" {
			g := im.Components[0]
			if g.Supplier != "Jane Doe (jane.doe@example.com)" || g.License != "(LGPL-2.0-only OR LicenseRef-3)" ||
				len(g.Hashes) != 3 || g.Hashes["sha256"] == "" {
				t.Errorf("%s: glibc %+v", c.path, g)
			}
			var jena facts.Component
			for _, x := range im.Components {
				if x.Name == "Jena" {
					jena = x
				}
			}
			if jena.PURL != "pkg:maven/org.apache.jena/apache-jena@3.12.0" || jena.Ecosystem != "Maven" {
				t.Errorf("%s: Jena %+v", c.path, jena)
			}
		}
	}

	cdxDir := filepath.Join(moduleDir(t, "github.com/CycloneDX/cyclonedx-go"), "testdata")
	paths, _ := filepath.Glob(filepath.Join(cdxDir, "valid-*.json"))
	if len(paths) < 30 {
		t.Fatalf("%d CycloneDX test BOMs in %s", len(paths), cdxDir)
	}
	total := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		im, err := Import(b, facts.Limits{})
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if im.Format != FormatCycloneDX || im.Version != "1.6" {
			t.Errorf("%s: %s %s", filepath.Base(p), im.Format, im.Version)
		}
		total += len(im.Components)
	}
	t.Logf("%d CycloneDX test BOMs, %d components", len(paths), total)
}

const vendorSPDX22 = `{
  "spdxVersion": "SPDX-2.2",
  "dataLicense": "CC0-1.0",
  "SPDXID": "SPDXRef-DOCUMENT",
  "name": "contoso-agent-4.2.1",
  "documentNamespace": "https://contoso.example/spdx/contoso-agent-4.2.1-1b4e28ba",
  "creationInfo": {"created": "2025-11-02T10:00:00Z", "creators": ["Tool: contoso-build-7"]},
  "documentDescribes": ["SPDXRef-Package-agent"],
  "packages": [
    {"name": "log4j-core", "SPDXID": "SPDXRef-Package-log4j", "versionInfo": "2.17.1",
     "downloadLocation": "NOASSERTION", "licenseConcluded": "NOASSERTION", "licenseDeclared": "Apache-2.0",
     "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
                       "referenceLocator": "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"}]},
    {"name": "Contoso Agent", "SPDXID": "SPDXRef-Package-agent", "versionInfo": "4.2.1",
     "supplier": "Organization: Contoso Ltd. (security@contoso.example)",
     "downloadLocation": "https://contoso.example/dl/agent-4.2.1.msi", "licenseConcluded": "LicenseRef-Contoso",
     "checksums": [{"algorithm": "SHA1", "checksumValue": "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"}]},
    {"name": "lodash", "SPDXID": "SPDXRef-Package-lodash", "versionInfo": "4.17.21", "supplier": "NOASSERTION",
     "downloadLocation": "NOASSERTION", "licenseConcluded": "MIT",
     "externalRefs": [{"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                       "referenceLocator": "cpe:2.3:a:lodash:lodash:4.17.21:*:*:*:*:*:*:*"},
                      {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                       "referenceLocator": "pkg:npm/lodash@4.17.21"}]}
  ],
  "relationships": [
    {"spdxElementId": "SPDXRef-Package-agent", "relatedSpdxElement": "SPDXRef-Package-log4j", "relationshipType": "CONTAINS"}
  ]
}`

const vendorCycloneDX14 = `{
  "bomFormat": "CycloneDX",
  "specVersion": "1.4",
  "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
  "version": 2,
  "metadata": {
    "timestamp": "2025-10-01T12:00:00Z",
    "tools": [{"vendor": "CycloneDX", "name": "cyclonedx-npm", "version": "1.16.1"}],
    "component": {"type": "application", "bom-ref": "app", "name": "web-console", "version": "3.1.0",
                  "purl": "pkg:npm/%40contoso/web-console@3.1.0"}
  },
  "components": [
    {"type": "library", "bom-ref": "pkg:npm/express@4.19.2", "name": "express", "version": "4.19.2",
     "purl": "pkg:npm/express@4.19.2", "licenses": [{"license": {"id": "MIT"}}],
     "hashes": [{"alg": "SHA-512", "content": "` + sha512Hex + `"}],
     "components": [
       {"type": "library", "name": "body-parser", "version": "1.20.2", "purl": "pkg:npm/body-parser@1.20.2",
        "licenses": [{"expression": "MIT OR Apache-2.0"}, {"license": {"name": "Custom Terms"}}]}
     ]},
    {"type": "library", "group": "@babel", "name": "core", "version": "7.24.0", "purl": "pkg:npm/%40babel/core@7.24.0",
     "supplier": {"name": "Babel", "contact": [{"email": "team@babeljs.example"}]}},
    {"type": "library", "name": "requests", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0", "publisher": "PSF"}
  ]
}`

const sha512Hex = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"

const vendorSyft16 = `{
 "artifacts": [
  {"id": "a1b2", "name": "openssl", "version": "3.0.13-1~deb12u1", "type": "deb", "foundBy": "dpkg-db-cataloger",
   "locations": [{"path": "/var/lib/dpkg/status"}],
   "licenses": [{"value": "Apache-2.0", "spdxExpression": "Apache-2.0", "type": "declared", "urls": [], "locations": []}],
   "language": "", "cpes": [{"cpe": "cpe:2.3:a:openssl:openssl:3.0.13-1~deb12u1:*:*:*:*:*:*:*", "source": "syft-generated"}],
   "purl": "pkg:deb/debian/openssl@3.0.13-1~deb12u1?arch=amd64&distro=debian-12", "metadataType": "dpkg-db-entry", "metadata": {}},
  {"id": "c3d4", "name": "golang.org/x/net", "version": "v0.23.0", "type": "go-module", "foundBy": "go-module-binary-cataloger",
   "locations": [], "licenses": [], "language": "go", "cpes": [], "purl": "pkg:golang/golang.org/x/net@v0.23.0"},
  {"id": "e5f6", "name": "busybox", "version": "", "type": "binary", "foundBy": "binary-classifier-cataloger",
   "locations": [], "licenses": [{"value": "GPL-2.0-only", "spdxExpression": "", "type": "concluded"}], "language": "", "cpes": [], "purl": ""}
 ],
 "artifactRelationships": [],
 "source": {"id": "sha256:77aa", "name": "registry.example/agent", "version": "1.0", "type": "image", "metadata": {}},
 "distro": {"prettyName": "Debian GNU/Linux 12 (bookworm)", "name": "Debian GNU/Linux", "id": "debian", "versionID": "12"},
 "descriptor": {"name": "syft", "version": "1.4.1", "configuration": {}},
 "schema": {"version": "16.0.10", "url": "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.10.json"}
}`

const vendorSyft7 = `{
 "artifacts": [
  {"id": "x", "name": "flask", "version": "2.0.1", "type": "python", "foundBy": "python-package-cataloger",
   "locations": [], "licenses": ["BSD-3-Clause"], "language": "python", "cpes": [], "purl": "pkg:pypi/flask@2.0.1"}
 ],
 "source": {"type": "directory", "target": "/src"},
 "descriptor": {"name": "syft", "version": "0.62.0"},
 "schema": {"version": "7.0.1", "url": "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-7.0.1.json"}
}`

func TestImportVendorDocuments(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      Imported
	}{
		{"spdx 2.2 described first", vendorSPDX22, Imported{Format: FormatSPDX, Version: "SPDX-2.2", Name: "contoso-agent-4.2.1",
			Components: []facts.Component{
				{Name: "Contoso Agent", Version: "4.2.1", Supplier: "Contoso Ltd. (security@contoso.example)", License: "LicenseRef-Contoso",
					Hashes: map[string]string{"sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}},
				{Name: "log4j-core", Version: "2.17.1", License: "Apache-2.0", Ecosystem: "Maven", PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"},
				{Name: "lodash", Version: "4.17.21", License: "MIT", Ecosystem: "npm", PURL: "pkg:npm/lodash@4.17.21"},
			}}},
		{"cyclonedx 1.4 nested", vendorCycloneDX14, Imported{Format: FormatCycloneDX, Version: "1.4", Name: "web-console",
			Components: []facts.Component{
				{Name: "web-console", Version: "3.1.0", Ecosystem: "npm", PURL: "pkg:npm/%40contoso/web-console@3.1.0"},
				{Name: "express", Version: "4.19.2", Ecosystem: "npm", PURL: "pkg:npm/express@4.19.2", License: "MIT", Hashes: map[string]string{"sha512": sha512Hex}},
				{Name: "body-parser", Version: "1.20.2", Ecosystem: "npm", PURL: "pkg:npm/body-parser@1.20.2", License: "(MIT OR Apache-2.0) AND (Custom Terms)"},
				{Name: "core", Version: "7.24.0", Ecosystem: "npm", PURL: "pkg:npm/%40babel/core@7.24.0", Supplier: "Babel (team@babeljs.example)"},
				{Name: "requests", Version: "2.31.0", Ecosystem: "PyPI", PURL: "pkg:pypi/requests@2.31.0", Supplier: "PSF"},
			}}},
		{"syft schema 16", vendorSyft16, Imported{Format: FormatSyft, Version: "16.0.10", Name: "registry.example/agent",
			Components: []facts.Component{
				{Name: "openssl", Version: "3.0.13-1~deb12u1", Ecosystem: "Debian", License: "Apache-2.0",
					PURL: "pkg:deb/debian/openssl@3.0.13-1~deb12u1?arch=amd64&distro=debian-12"},
				{Name: "golang.org/x/net", Version: "v0.23.0", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/net@v0.23.0"},
				{Name: "busybox", License: "GPL-2.0-only"},
			}}},
		{"syft schema 7", vendorSyft7, Imported{Format: FormatSyft, Version: "7.0.1",
			Components: []facts.Component{{Name: "flask", Version: "2.0.1", Ecosystem: "PyPI", PURL: "pkg:pypi/flask@2.0.1", License: "BSD-3-Clause"}}}},
		{"cyclonedx without components", `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}`,
			Imported{Format: FormatCycloneDX, Version: "1.5", Components: []facts.Component{}}},
		{"byte order mark", "\ufeff" + `{"bomFormat":"CycloneDX","specVersion":"1.6"}`,
			Imported{Format: FormatCycloneDX, Version: "1.6", Components: []facts.Component{}}},
	} {
		got, err := Import([]byte(c.doc), facts.Limits{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

// edit returns doc with JSON value at path (dot-separated, numbers index
// arrays) replaced by v, or deleted when v is del.
func edit(t *testing.T, doc, path string, v any) string {
	t.Helper()
	var root any
	if err := json.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	cur := root
	for i, k := range keys {
		last := i == len(keys)-1
		switch node := cur.(type) {
		case map[string]any:
			if last {
				if v == del {
					delete(node, k)
				} else {
					node[k] = v
				}
			}
			cur = node[k]
		case []any:
			var n int
			fmt.Sscan(k, &n)
			if last {
				node[n] = v
			}
			cur = node[n]
		default:
			t.Fatalf("path %s: %T at %s", path, cur, k)
		}
	}
	b, _ := json.Marshal(root)
	return string(b)
}

type deleted struct{}

var del any = deleted{}

func TestImportRefuses(t *testing.T) {
	deep := `{"type":"library","name":"leaf"}`
	for i := 0; i < maxDepth+2; i++ {
		deep = `{"type":"library","name":"n","components":[` + deep + `]}`
	}
	many := func(n int, item string) string {
		return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
	}
	small := facts.Limits{MaxMetadata: 1024}
	for _, c := range []struct {
		name   string
		doc    string
		lim    facts.Limits
		format Format
		want   string // in the message
	}{
		// None of the formats.
		{"empty", "", facts.Limits{}, "", "empty"},
		{"blank", " \n\t", facts.Limits{}, "", "empty"},
		{"array", "[]", facts.Limits{}, "", "not a JSON object"},
		{"null", "null", facts.Limits{}, "", "not a JSON object"},
		{"number", "42", facts.Limits{}, "", "not a JSON object"},
		{"xml", `<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>`, facts.Limits{}, "", "XML"},
		{"tag-value", "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n", facts.Limits{}, FormatSPDX, "tag-value"},
		{"spdx 3", `{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld","@graph":[]}`, facts.Limits{}, FormatSPDX, "SPDX 3"},
		{"other object", `{"name":"x","packages":[]}`, facts.Limits{}, "", "not an SPDX 2.2/2.3, CycloneDX 1.4-1.6 or syft"},
		{"truncated", vendorSPDX22[:200], facts.Limits{}, "", "not valid JSON"},
		{"trailing", `{"bomFormat":"CycloneDX","specVersion":"1.5"} {}`, facts.Limits{}, "", "trailing data"},
		{"too large", vendorSPDX22, small, "", "limit 1024"},

		// SPDX.
		{"spdx 2.1", edit(t, vendorSPDX22, "spdxVersion", "SPDX-2.1"), facts.Limits{}, FormatSPDX, `spdxVersion: "SPDX-2.1" is not read`},
		{"spdx version number", edit(t, vendorSPDX22, "spdxVersion", 2.3), facts.Limits{}, FormatSPDX, "spdxVersion: is a JSON number"},
		{"spdx id", edit(t, vendorSPDX22, "SPDXID", "SPDXRef-DOC"), facts.Limits{}, FormatSPDX, "SPDX SPDX-2.2 document: SPDXID"},
		{"spdx data license", edit(t, vendorSPDX22, "dataLicense", "MIT"), facts.Limits{}, FormatSPDX, "dataLicense"},
		{"spdx no data license", edit(t, vendorSPDX22, "dataLicense", del), facts.Limits{}, FormatSPDX, "dataLicense"},
		{"spdx packages object", edit(t, vendorSPDX22, "packages", map[string]any{}), facts.Limits{}, FormatSPDX, "packages: is a JSON object, want an array"},
		{"spdx package name", edit(t, vendorSPDX22, "packages.1.name", ""), facts.Limits{}, FormatSPDX, "packages[1].name: missing"},
		{"spdx package name number", edit(t, vendorSPDX22, "packages.1.name", 7), facts.Limits{}, FormatSPDX, "packages.name: is a JSON number"},
		{"spdx package id", edit(t, vendorSPDX22, "packages.2.SPDXID", "Package-lodash"), facts.Limits{}, FormatSPDX, "packages[2].SPDXID"},
		{"spdx duplicate id", edit(t, vendorSPDX22, "packages.2.SPDXID", "SPDXRef-Package-log4j"), facts.Limits{}, FormatSPDX, "packages[2].SPDXID: SPDXRef-Package-log4j is used by another"},
		{"spdx supplier", edit(t, vendorSPDX22, "packages.1.supplier", "Contoso"), facts.Limits{}, FormatSPDX, "packages[1].supplier"},
		{"spdx checksum algorithm", edit(t, vendorSPDX22, "packages.1.checksums.0.algorithm", "CRC32"), facts.Limits{}, FormatSPDX, "packages[1].checksums[0]: unknown hash algorithm"},
		{"spdx checksum hex", edit(t, vendorSPDX22, "packages.1.checksums.0.checksumValue", "zz39a3ee5e6b4b0d3255bfef95601890afd80709"), facts.Limits{}, FormatSPDX, "packages[1].checksums[0]: SHA1 value"},
		{"spdx checksum length", edit(t, vendorSPDX22, "packages.1.checksums.0.checksumValue", "da39"), facts.Limits{}, FormatSPDX, "not 40 hex digits"},
		{"spdx purl", edit(t, vendorSPDX22, "packages.2.externalRefs.1.referenceLocator", "npm:lodash"), facts.Limits{}, FormatSPDX, "packages[2].externalRefs[1].referenceLocator"},
		{"spdx purl category", edit(t, vendorSPDX22, "packages.2.externalRefs.1.referenceCategory", "SECURITY"), facts.Limits{}, FormatSPDX, "packages[2].externalRefs[1].referenceCategory"},
		{"spdx too many", edit(t, vendorSPDX22, "packages", []any{
			map[string]any{"name": "a", "SPDXID": "SPDXRef-a"}, map[string]any{"name": "b", "SPDXID": "SPDXRef-b"},
			map[string]any{"name": "c", "SPDXID": "SPDXRef-c"}, map[string]any{"name": "d", "SPDXID": "SPDXRef-d"}}),
			facts.Limits{MaxEntries: 3}, FormatSPDX, "4 packages, limit 3"},

		// CycloneDX.
		{"cdx format", edit(t, vendorCycloneDX14, "bomFormat", "cyclonedx"), facts.Limits{}, FormatCycloneDX, "bomFormat"},
		{"cdx 1.3", edit(t, vendorCycloneDX14, "specVersion", "1.3"), facts.Limits{}, FormatCycloneDX, `specVersion: "1.3" is not read`},
		{"cdx 1.7", edit(t, vendorCycloneDX14, "specVersion", "1.7"), facts.Limits{}, FormatCycloneDX, `specVersion: "1.7" is not read`},
		{"cdx no spec version", edit(t, vendorCycloneDX14, "specVersion", del), facts.Limits{}, FormatCycloneDX, "specVersion"},
		{"cdx serial", edit(t, vendorCycloneDX14, "serialNumber", "3e671687-395b-41f5-a30f-a58921a69b79"), facts.Limits{}, FormatCycloneDX, "CycloneDX 1.4 document: serialNumber"},
		{"cdx version 0", edit(t, vendorCycloneDX14, "version", 0), facts.Limits{}, FormatCycloneDX, "version: 0"},
		{"cdx version string", edit(t, vendorCycloneDX14, "version", "2"), facts.Limits{}, FormatCycloneDX, "version: is a JSON string, want a number"},
		{"cdx components object", edit(t, vendorCycloneDX14, "components", map[string]any{}), facts.Limits{}, FormatCycloneDX, "components: is a JSON object, want an array"},
		{"cdx no type", edit(t, vendorCycloneDX14, "components.2.type", del), facts.Limits{}, FormatCycloneDX, "components[2].type"},
		{"cdx bad type", edit(t, vendorCycloneDX14, "components.2.type", "lib"), facts.Limits{}, FormatCycloneDX, `components[2].type: "lib"`},
		{"cdx no name", edit(t, vendorCycloneDX14, "components.1.name", ""), facts.Limits{}, FormatCycloneDX, "components[1].name: missing"},
		{"cdx nested no name", edit(t, vendorCycloneDX14, "components.0.components.0.name", del), facts.Limits{}, FormatCycloneDX, "components[0].components[0].name: missing"},
		{"cdx nested name number", edit(t, vendorCycloneDX14, "components.0.components.0.name", 1), facts.Limits{}, FormatCycloneDX, "components[0].components[0].name: is a JSON number"},
		{"cdx metadata component", edit(t, vendorCycloneDX14, "metadata.component.type", "app"), facts.Limits{}, FormatCycloneDX, "metadata.component.type"},
		{"cdx hash alg", edit(t, vendorCycloneDX14, "components.0.hashes.0.alg", "SHA-999"), facts.Limits{}, FormatCycloneDX, "components[0].hashes[0]: unknown hash algorithm"},
		{"cdx hash content", edit(t, vendorCycloneDX14, "components.0.hashes.0.content", "abc"), facts.Limits{}, FormatCycloneDX, "components[0].hashes[0]: SHA-512 value"},
		{"cdx license", edit(t, vendorCycloneDX14, "components.0.licenses.0", map[string]any{}), facts.Limits{}, FormatCycloneDX, "components[0].licenses[0]"},
		{"cdx purl", edit(t, vendorCycloneDX14, "components.2.purl", "pkg:"), facts.Limits{}, FormatCycloneDX, "components[2].purl"},
		{"cdx too deep", `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[` + deep + `]}`, facts.Limits{}, FormatCycloneDX, "nested more than 32 deep"},
		{"cdx too many", vendorCycloneDX14, facts.Limits{MaxEntries: 4}, FormatCycloneDX, "more than 4 components"},
		{"cdx too many flat", `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[` + many(5, `{"type":"library","name":"x"}`) + `]}`,
			facts.Limits{MaxEntries: 4}, FormatCycloneDX, "components: more than 4 components"},

		// syft.
		{"syft no schema", edit(t, vendorSyft16, "schema", del), facts.Limits{}, FormatSyft, "schema.version: missing"},
		{"syft schema version", edit(t, vendorSyft16, "schema.version", "v16"), facts.Limits{}, FormatSyft, `schema.version: "v16"`},
		{"syft artifacts object", edit(t, vendorSyft16, "artifacts", map[string]any{}), facts.Limits{}, FormatSyft, "artifacts: is a JSON object, want an array"},
		{"syft no name", edit(t, vendorSyft16, "artifacts.1.name", ""), facts.Limits{}, FormatSyft, "syft 16.0.10 document: artifacts[1].name: missing"},
		{"syft no type", edit(t, vendorSyft16, "artifacts.1.type", del), facts.Limits{}, FormatSyft, "artifacts[1].type: missing"},
		{"syft no version", edit(t, vendorSyft16, "artifacts.0.version", del), facts.Limits{}, FormatSyft, "artifacts[0].version: missing"},
		{"syft no purl", edit(t, vendorSyft16, "artifacts.2.purl", del), facts.Limits{}, FormatSyft, "artifacts[2].purl: missing"},
		{"syft purl", edit(t, vendorSyft16, "artifacts.1.purl", "golang.org/x/net"), facts.Limits{}, FormatSyft, "artifacts[1].purl"},
		{"syft version number", edit(t, vendorSyft16, "artifacts.1.version", 1), facts.Limits{}, FormatSyft, "artifacts[1].version: is a JSON number"},
		{"syft licenses", edit(t, vendorSyft16, "artifacts.0.licenses", "MIT"), facts.Limits{}, FormatSyft, "artifacts[0].licenses"},
		{"syft too many", vendorSyft16, facts.Limits{MaxEntries: 2}, FormatSyft, "3 artifacts, limit 2"},
	} {
		_, err := Import([]byte(c.doc), c.lim)
		var ie *ImportError
		if !errors.Is(err, ErrImport) || !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an ImportError", c.name, err)
			continue
		}
		if ie.Format != c.format || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q (format %q), want format %q and %q", c.name, err, ie.Format, c.format, c.want)
		}
	}
}

func TestPURL(t *testing.T) {
	for _, c := range []struct {
		in, canonical, ecosystem, osvName string
	}{
		{"pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie", "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie", "Debian", "curl"},
		{"pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.15", "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.15", "Ubuntu", "openssl"},
		{"PKG:NPM/%40angular/core@17.0.0", "pkg:npm/%40angular/core@17.0.0", "npm", "@angular/core"},
		{"pkg:pypi/Django@5.0.1", "pkg:pypi/Django@5.0.1", "PyPI", "Django"},
		{"pkg:golang/github.com/gorilla/mux@v1.8.1", "pkg:golang/github.com/gorilla/mux@v1.8.1", "Go", "github.com/gorilla/mux"},
		{"pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1?type=jar", "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1?type=jar", "Maven", "org.apache.logging.log4j:log4j-core"},
		{"pkg:nuget/Newtonsoft.Json@13.0.3", "pkg:nuget/Newtonsoft.Json@13.0.3", "NuGet", "Newtonsoft.Json"},
		{"pkg:cargo/rand@0.8.5", "pkg:cargo/rand@0.8.5", "crates.io", "rand"},
		{"pkg:gem/rails@7.1.3", "pkg:gem/rails@7.1.3", "RubyGems", "rails"},
		{"pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64", "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64", "Alpine", "busybox"},
		{"pkg:composer/laravel/framework@10.0.0", "pkg:composer/laravel/framework@10.0.0", "Packagist", "laravel/framework"},
		{"pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64", "pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64", "Red Hat", "openssl"},
		{"pkg:rpm/fedora/curl@8.0", "pkg:rpm/fedora/curl@8.0", "", "curl"},
		{"pkg:generic/openssl@3.0.13?checksum=sha256:abc&download_url=https://x.example/a%20b", "pkg:generic/openssl@3.0.13?checksum=sha256:abc&download_url=https:%2F%2Fx.example%2Fa%20b", "", "openssl"},
		{"pkg:docker/library/nginx@sha256:244fd47e07d1004f0aed9c?repository_url=gcr.io", "pkg:docker/library/nginx@sha256:244fd47e07d1004f0aed9c?repository_url=gcr.io", "", "nginx"},
		{"pkg:deb/debian/acme@1:2.4+dfsg-1?arch=amd64&", "pkg:deb/debian/acme@1:2.4%2Bdfsg-1?arch=amd64", "Debian", "acme"},
		{"pkg:github/package-url/purl-spec@244fd47e07d10#everybody/loves/dogs", "pkg:github/package-url/purl-spec@244fd47e07d10#everybody/loves/dogs", "", "purl-spec"},
	} {
		p, err := ParsePURL(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := p.String(); got != c.canonical {
			t.Errorf("%s: canonical %s, want %s", c.in, got, c.canonical)
		}
		if got := EcosystemOfPURL(c.in); got != c.ecosystem {
			t.Errorf("%s: ecosystem %q, want %q", c.in, got, c.ecosystem)
		}
		if got := p.OSVName(); got != c.osvName {
			t.Errorf("%s: OSV name %q, want %q", c.in, got, c.osvName)
		}
		again, err := ParsePURL(p.String())
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Errorf("%s: does not round-trip: %+v %v", c.in, again, err)
		}
	}
	for _, bad := range []string{"", "npm/lodash", "pkg:", "pkg:/lodash", "pkg:npm", "pkg:npm/", "pkg:1npm/x", "pkg:np m/x",
		"pkg:npm/%zz", "pkg:npm/x@%zz", "pkg:npm/x?a=%zz", "pkg:npm/x?=v", "pkg:npm/x#%zz", "pkg:npm/@1.0", "pkg:npm/a/%zz/b"} {
		if _, err := ParsePURL(bad); !errors.Is(err, ErrPURL) {
			t.Errorf("%q: %v, want ErrPURL", bad, err)
		}
		if e := EcosystemOfPURL(bad); e != "" {
			t.Errorf("%q: ecosystem %q", bad, e)
		}
	}
}
