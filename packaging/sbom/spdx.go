package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/eucora/eucora/packaging/facts"
)

// SPDX element ids of what EUCORA writes.
const (
	spdxArtifactID  = "Artifact"  // SPDXRef-Artifact, the described package
	spdxComponentID = "Component" // SPDXRef-Component-N, N from 1
)

// SPDX writes the artifact's SBOM as an SPDX 2.3 JSON document: the
// artifact is the package the document DESCRIBES (checksum SHA256,
// supplier, purl external reference, declared license or NOASSERTION), and
// every further component is a package the artifact CONTAINS. The creators
// are "Tool: eucora-VERSION" and, when d names one, "Organization: ORG";
// the document namespace is
// https://eucora.dev/spdx/sha256/HEX/UUID, UUID a UUIDv5 of the artifact's
// digest and d.Created.
func SPDX(f *facts.Facts, d Doc) ([]byte, error) {
	m, err := newModel(f, d)
	if err != nil {
		return nil, err
	}
	creators := []common.Creator{{CreatorType: "Tool", Creator: m.tool}}
	if org := strings.TrimSpace(m.org); org != "" {
		creators = append(creators, common.Creator{CreatorType: "Organization", Creator: org})
	}
	name := m.main.Name
	if m.main.Version != "" {
		name += "-" + m.main.Version
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://eucora.dev/spdx/sha256/" + m.sha256 + "/" + m.uuid,
		CreationInfo: &spdx.CreationInfo{
			Creators: creators,
			Created:  m.created.Format(time.RFC3339),
		},
	}
	art := spdxPackage(m.main, spdxArtifactID, "")
	art.PackageFileName = m.fileName
	art.PrimaryPackagePurpose = m.purpose
	art.PackageHomePage = m.homepage
	art.PackageSummary = m.summary
	var lines []string
	for _, n := range m.notes {
		lines = append(lines, strings.ReplaceAll(n.key, "_", " ")+": "+n.text)
	}
	art.PackageComment = strings.Join(lines, "\n")
	doc.Packages = append(doc.Packages, art)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA:         common.MakeDocElementID("", "DOCUMENT"),
		RefB:         common.MakeDocElementID("", spdxArtifactID),
		Relationship: common.TypeRelationshipDescribe,
	})
	for i, c := range m.rest {
		id := fmt.Sprintf("%s-%d", spdxComponentID, i+1)
		p := spdxPackage(c, id, "LIBRARY")
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", spdxArtifactID),
			RefB:         common.MakeDocElementID("", id),
			Relationship: common.TypeRelationshipContains,
		})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("%w: SPDX JSON: %v", ErrInput, err)
	}
	return b.Bytes(), nil
}

func spdxPackage(c facts.Component, id, purpose string) *spdx.Package {
	p := &spdx.Package{
		PackageName:               c.Name,
		PackageSPDXIdentifier:     common.ElementID(id),
		PackageVersion:            c.Version,
		PackageDownloadLocation:   "NOASSERTION",
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   "NOASSERTION",
		PackageLicenseDeclared:    "NOASSERTION",
		PackageCopyrightText:      "NOASSERTION",
		PrimaryPackagePurpose:     purpose,
	}
	if s := strings.TrimSpace(c.Supplier); s != "" && !noAssertion(s) {
		p.PackageSupplier = &common.Supplier{SupplierType: "Organization", Supplier: supplierName(s)}
	} else {
		p.PackageSupplier = &common.Supplier{Supplier: "NOASSERTION"}
	}
	// A LicenseRef must be defined in the document with the license's
	// text, which the facts do not have: such a license, like one that is
	// not an expression, is stated in a comment.
	switch l := strings.TrimSpace(c.License); {
	case isLicenseExpression(l) && !strings.Contains(l, "LicenseRef-"):
		p.PackageLicenseDeclared = l
	case l != "" && !noAssertion(l):
		p.PackageLicenseComments = "declared license (not an SPDX license list expression): " + l
	}
	for _, h := range sortedHashes(c.Hashes) {
		p.PackageChecksums = append(p.PackageChecksums, common.Checksum{Algorithm: common.ChecksumAlgorithm(h.alg.spdx), Value: h.value})
	}
	if c.PURL != "" {
		p.PackageExternalReferences = append(p.PackageExternalReferences, &spdx.PackageExternalReference{
			Category: common.CategoryPackageManager,
			RefType:  common.TypePackageManagerPURL,
			Locator:  c.PURL,
		})
	}
	return p
}

// spdxIDOK: an SPDX element id after "SPDXRef-" is letters, digits, '.' and '-'.
func spdxIDOK(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
