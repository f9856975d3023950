// Package sbom writes the software bill of materials of an artifact from
// the facts its reader found (packaging/facts), in SPDX 2.3 JSON (SPDX,
// with github.com/spdx/tools-golang) and CycloneDX 1.6 JSON (CycloneDX,
// with github.com/CycloneDX/cyclonedx-go), and imports vendor SBOMs (SPDX
// 2.2/2.3 JSON, CycloneDX 1.4-1.6 JSON, syft JSON) as facts.Components
// (Import).
//
// Both writers describe the same thing: the artifact itself (its name,
// version, supplier, SHA-256, package URL and license where known) and
// one further package or component per facts.Component after the first,
// which the artifact contains. Their bytes are a function of the Facts and
// the Doc only: the SPDX document namespace and the CycloneDX serial
// number are UUIDv5s of the artifact's digest and Doc.Created, so the same
// file given the same Doc gives the same SBOM, and a later SBOM of the
// same file (another Created) is a new document, as both specifications
// want.
//
// Import is bounded: the document's size by Limits.MaxMetadata and its
// component count by Limits.MaxEntries (facts.Limits.WithDefaults). What
// it refuses is an *ImportError naming the format and the field.
package sbom

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/packaging/facts"
)

// Errors.
var (
	// ErrInput: the Facts or the Doc cannot make an SBOM (no digest, no
	// name, no creation time, a component without a name).
	ErrInput = errors.New("cannot write an SBOM")
	// ErrImport: a document given to Import is not a valid SBOM of a
	// supported format. Always wrapped by an *ImportError.
	ErrImport = errors.New("invalid SBOM document")
)

// Doc is what an SBOM says about its own making.
type Doc struct {
	// Created is when the SBOM is made (required). It is written in UTC to
	// the second.
	Created time.Time
	// ToolVersion is EUCORA's version: the creator is "Tool:
	// eucora-VERSION" ("dev" when empty).
	ToolVersion string
	// Organization runs EUCORA: the creator "Organization: ORG" (SPDX),
	// metadata.manufacturer (CycloneDX). Left out when empty.
	Organization string
}

// namespaceSBOM is the UUIDv5 namespace of EUCORA's SBOM identifiers: the
// UUIDv5 of the URL namespace and "https://eucora.dev/sbom".
var namespaceSBOM = uuidV5(uuidNamespaceURL, "https://eucora.dev/sbom")

// uuidNamespaceURL is RFC 9562's namespace for URLs.
var uuidNamespaceURL = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// uuidV5 is RFC 9562's name-based UUID with SHA-1.
func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	s := hex.EncodeToString(u[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// model is what both writers write, resolved once from the Facts.
type model struct {
	kind     facts.Kind
	fileName string
	sha256   string // hex
	created  time.Time
	tool     string // "eucora-VERSION"
	org      string
	uuid     string // the document's UUIDv5

	main facts.Component // the artifact
	rest []facts.Component
	// comment lines about the artifact that neither format has a field
	// for: identifiers, the file list, declared dependencies.
	notes    []note
	homepage string
	summary  string
	purpose  string // SPDX primaryPackagePurpose
}

// note is one fact about the artifact: a line "KEY: TEXT" of the SPDX
// package comment, the CycloneDX property "eucora:KEY".
type note struct{ key, text string }

func newModel(f *facts.Facts, d Doc) (*model, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: no facts", ErrInput)
	}
	dg, err := digest.Parse(strings.ToLower(f.SHA256))
	if err != nil || !strings.HasPrefix(strings.ToLower(f.SHA256), "sha256:") {
		return nil, fmt.Errorf("%w: the facts' SHA256 %q is not sha256:HEX (intake fills it)", ErrInput, f.SHA256)
	}
	if d.Created.IsZero() {
		return nil, fmt.Errorf("%w: Doc.Created is required (an SBOM's bytes are a function of the facts and its creation time)", ErrInput)
	}
	m := &model{
		kind:     f.Kind,
		fileName: f.Name,
		sha256:   dg.Hex(),
		created:  d.Created.UTC().Truncate(time.Second),
		tool:     "eucora-" + orDefault(d.ToolVersion, "dev"),
		org:      d.Organization,
	}
	m.uuid = formatUUID(uuidV5(namespaceSBOM, dg.String()+" "+m.created.Format(time.RFC3339)))

	if len(f.Components) > 0 {
		m.main = cloneComponent(f.Components[0])
		m.rest = make([]facts.Component, 0, len(f.Components)-1)
		for i, c := range f.Components[1:] {
			if strings.TrimSpace(c.Name) == "" {
				return nil, fmt.Errorf("%w: component %d has no name", ErrInput, i+1)
			}
			c = cloneComponent(c)
			if err := canonicalPURL(&c); err != nil {
				return nil, fmt.Errorf("%w: component %d (%s): %v", ErrInput, i+1, c.Name, err)
			}
			m.rest = append(m.rest, c)
		}
	}
	id := f.Identity
	m.main.Name = firstNonEmpty(m.main.Name, id.Name, f.Name)
	if strings.TrimSpace(m.main.Name) == "" {
		return nil, fmt.Errorf("%w: the artifact has no name (neither Identity.Name nor the file name)", ErrInput)
	}
	m.main.Version = firstNonEmpty(m.main.Version, id.Version)
	m.main.Supplier = firstNonEmpty(m.main.Supplier, id.Vendor)
	if m.main.Hashes == nil {
		m.main.Hashes = map[string]string{}
	}
	m.main.Hashes["sha256"] = m.sha256 // the artifact's own digest wins
	if m.main.PURL == "" {
		m.main.PURL = artifactPURL(f, m.main, m.sha256)
	}
	if err := canonicalPURL(&m.main); err != nil {
		return nil, fmt.Errorf("%w: the artifact's component: %v", ErrInput, err)
	}

	switch f.Kind {
	case facts.KindPE, facts.KindIPA, facts.KindAPK:
		m.purpose = "APPLICATION"
	default:
		m.purpose = "INSTALL"
	}
	m.homepage = firstURL(f.Fields["Homepage"], f.Fields["ARPURLINFOABOUT"], f.Fields["ARPHELPLINK"])
	if desc := f.Fields["Description"]; desc != "" {
		m.summary = strings.TrimSpace(strings.SplitN(desc, "\n", 2)[0])
	}
	add := func(key, text string) {
		if text != "" {
			m.notes = append(m.notes, note{key, text})
		}
	}
	add("kind", string(f.Kind))
	add("id", id.ID)
	add("upgrade_code", id.UpgradeCode)
	add("architecture", id.Arch)
	if fs := f.Files; fs != nil {
		add("files", fmt.Sprintf("%d files, %d bytes", fs.Count, fs.Bytes))
		add("conffiles", strings.Join(fs.Conffiles, ", "))
		add("systemd_units", strings.Join(fs.SystemdUnits, ", "))
	}
	add("depends", strings.Join(f.Depends, ", "))
	return m, nil
}

// artifactPURL is the package URL of an artifact whose reader gave none:
// pkg:deb/debian/NAME@VERSION?arch=A&upstream=SOURCE for a deb (the
// namespace is the control file's Origin when it names one), and
// pkg:generic/NAME@VERSION?checksum=sha256:HEX for the rest, which no purl
// type covers.
func artifactPURL(f *facts.Facts, c facts.Component, sha string) string {
	if f.Kind == facts.KindDeb {
		p := PURL{Type: "deb", Namespace: "debian", Name: c.Name, Version: c.Version, Qualifiers: map[string]string{}}
		if o := strings.ToLower(strings.TrimSpace(f.Fields["Origin"])); o != "" && validType(o) {
			p.Namespace = o
		}
		if f.Identity.Arch != "" {
			p.Qualifiers["arch"] = f.Identity.Arch
		}
		if src, _, _ := strings.Cut(strings.TrimSpace(f.Fields["Source"]), " "); src != "" && src != c.Name {
			p.Qualifiers["upstream"] = src
		}
		return p.String()
	}
	return PURL{Type: "generic", Name: c.Name, Version: c.Version, Qualifiers: map[string]string{"checksum": "sha256:" + sha}}.String()
}

// canonicalPURL rewrites c.PURL in canonical form and fills c.Ecosystem
// from it when empty; a PURL that does not parse is an error.
func canonicalPURL(c *facts.Component) error {
	if c.PURL == "" {
		return nil
	}
	p, err := ParsePURL(c.PURL)
	if err != nil {
		return err
	}
	c.PURL = p.String()
	if c.Ecosystem == "" {
		c.Ecosystem = p.Ecosystem()
	}
	return nil
}

func cloneComponent(c facts.Component) facts.Component {
	if c.Hashes != nil {
		h := make(map[string]string, len(c.Hashes))
		for k, v := range c.Hashes {
			h[k] = v
		}
		c.Hashes = h
	}
	return c
}

// hashAlg is one hash algorithm as facts, SPDX and CycloneDX name it.
type hashAlg struct{ facts, spdx, cdx string }

var hashAlgs = []hashAlg{
	{"md5", "MD5", "MD5"},
	{"sha1", "SHA1", "SHA-1"},
	{"sha224", "SHA224", ""},
	{"sha256", "SHA256", "SHA-256"},
	{"sha384", "SHA384", "SHA-384"},
	{"sha512", "SHA512", "SHA-512"},
	{"sha3-256", "SHA3-256", "SHA3-256"},
	{"sha3-384", "SHA3-384", "SHA3-384"},
	{"sha3-512", "SHA3-512", "SHA3-512"},
	{"blake2b-256", "BLAKE2b-256", "BLAKE2b-256"},
	{"blake2b-384", "BLAKE2b-384", "BLAKE2b-384"},
	{"blake2b-512", "BLAKE2b-512", "BLAKE2b-512"},
	{"blake3", "BLAKE3", "BLAKE3"},
}

// hexLen is the digest length of the algorithms whose length is fixed.
var hexLen = map[string]int{"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128,
	"sha3-256": 64, "sha3-384": 96, "sha3-512": 128, "blake2b-256": 64, "blake2b-384": 96, "blake2b-512": 128}

// normAlg maps the ways documents spell an algorithm ("SHA-256",
// "sha256", "SHA256", "sha3_256") to the facts spelling; "" if unknown.
func normAlg(a string) string {
	a = strings.ToLower(strings.ReplaceAll(a, "_", "-"))
	switch a {
	case "sha-1":
		a = "sha1"
	case "sha-224":
		a = "sha224"
	case "sha-256":
		a = "sha256"
	case "sha-384":
		a = "sha384"
	case "sha-512":
		a = "sha512"
	}
	for _, h := range hashAlgs {
		if h.facts == a {
			return a
		}
	}
	return ""
}

// hashValue is one well-formed hash of a component.
type hashValue struct {
	alg   hashAlg
	value string // lowercase hex
}

// sortedHashes returns the known, well-formed hashes in hs in the table's
// order.
func sortedHashes(hs map[string]string) []hashValue {
	norm := map[string]string{}
	for k, v := range hs {
		if a := normAlg(k); a != "" && isHexOfLen(strings.ToLower(v), hexLen[a]) {
			norm[a] = strings.ToLower(v)
		}
	}
	var out []hashValue
	for _, h := range hashAlgs {
		if v, ok := norm[h.facts]; ok {
			out = append(out, hashValue{h, v})
		}
	}
	return out
}

// isHexOfLen: s is lowercase hex, of length n when n > 0.
func isHexOfLen(s string, n int) bool {
	if s == "" || n > 0 && len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isLicenseExpression reports whether s reads as an SPDX license
// expression (license ids and LicenseRefs joined by AND, OR, WITH and
// parentheses). It checks the grammar's tokens, not the license list.
func isLicenseExpression(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	toks := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s))
	depth, wantID := 0, true
	for _, t := range toks {
		switch {
		case t == "(":
			if !wantID {
				return false
			}
			depth++
		case t == ")":
			if wantID || depth == 0 {
				return false
			}
			depth--
		case t == "AND" || t == "OR" || t == "WITH" || t == "and" || t == "or" || t == "with":
			if wantID {
				return false
			}
			wantID = true
		default:
			if !wantID || !licenseID(t) {
				return false
			}
			wantID = false
		}
	}
	return !wantID && depth == 0
}

func licenseID(t string) bool {
	t = strings.TrimSuffix(t, "+")
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

// noAssertion: the SPDX words for "unknown" or "none".
func noAssertion(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "NOASSERTION" || s == "NONE"
}

func firstURL(ss ...string) string {
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			return s
		}
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// splitContact splits a Debian-style "Name <mail>" into its name and
// mail; mail is "" when s has none.
func splitContact(s string) (name, mail string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		name, mail = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:len(s)-1])
		if name == "" {
			name = mail
		}
		return name, mail
	}
	return s, ""
}

// supplierName is s as SPDX writes a supplier: "Name (mail)".
func supplierName(s string) string {
	name, mail := splitContact(s)
	if mail == "" || mail == name {
		return name
	}
	return name + " (" + mail + ")"
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
