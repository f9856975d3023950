package deploy

import (
	"fmt"

	"github.com/eucora/eucora/internal/charset"
	"github.com/eucora/eucora/internal/digest"
)

// Application is a catalog entry (EUCORA-architecture.md section 5.3): the canonical identity of an
// application, its ownership and classification, and the scope it may ever
// be deployed into. AllowedScope changes only through ChangeAppScope, which
// needs CAB approval and bumps ScopeVersion (EUCORA-architecture.md section 5.4.1).
type Application struct {
	ID              string `json:"id"`    // canonical identity, e.g. "com.vendor.product"
	Name            string `json:"name"`  // display name
	Owner           string `json:"owner"` // accountable application owner
	Category        string `json:"category"`
	SupportTier     string `json:"support_tier"`     // e.g. "tier-1"
	LicensingModel  string `json:"licensing_model"`  // e.g. "per-device", "free", "vpp"
	AllowedScope    Scope  `json:"allowed_scope"`    // app_scope of the guardrails
	ScopeVersion    int    `json:"scope_version"`    // 1 at creation, +1 per approved change
	State           State  `json:"state"`            // lifecycle state
	LOB             bool   `json:"lob,omitempty"`    // line-of-business (mobile retention, EUCORA-architecture.md section 7.5)
	PrivilegedTools bool   `json:"privileged_tools"` // privileged tooling always needs CAB (EUCORA-architecture.md section 9.3)
}

// Identifiers match `^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`.
var (
	identFirst = charset.Of("A-Za-z0-9")
	identRest  = charset.Of("A-Za-z0-9._+-")
)

// ValidIdentifier reports whether s may be used as an id (application,
// version, intent, approval, exception). Ids are plain tokens, never paths.
func ValidIdentifier(s string) bool { return charset.Match(s, 1, 128, identFirst, identRest) }

func checkIdent(field, v string) error {
	if v == "" {
		return fieldErrorf(field, "missing")
	}
	if !ValidIdentifier(v) {
		return fieldErrorf(field, "%q: want 1-128 characters of A-Z, a-z, 0-9, '.', '_', '+', '-', starting with a letter or digit", clip(v))
	}
	return nil
}

func checkText(field, v string) error {
	if v == "" {
		return fieldErrorf(field, "missing")
	}
	if len(v) > 4096 {
		return fieldErrorf(field, "longer than 4096 bytes")
	}
	return nil
}

// Validate checks required fields and the allowed scope.
func (a Application) Validate() error {
	if err := checkIdent("id", a.ID); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"name", a.Name}, {"owner", a.Owner}, {"category", a.Category}, {"support_tier", a.SupportTier}, {"licensing_model", a.LicensingModel}} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if err := a.AllowedScope.Validate(); err != nil {
		return &FieldError{Field: "allowed_scope", Msg: err.Error()}
	}
	if a.ScopeVersion < 1 {
		return fieldErrorf("scope_version", "%d: want 1 or more", a.ScopeVersion)
	}
	if a.State != "" && !a.State.Valid() {
		return fieldErrorf("state", "unknown state %q", a.State)
	}
	return nil
}

// OSSupport is one row of a version's supported OS matrix.
type OSSupport struct {
	OS       string `json:"os"`       // windows, macos, ubuntu, ios, android
	Versions string `json:"versions"` // e.g. ">= 10.0.19045", "22.04, 24.04"
	Arch     string `json:"arch"`     // x64, arm64, universal
}

// Dependency is another application version this version needs.
type Dependency struct {
	AppID      string `json:"app_id"`
	Constraint string `json:"constraint"` // e.g. ">= 2.1"
}

// ApplicationVersion is one release of an application (EUCORA-architecture.md section 5.3).
type ApplicationVersion struct {
	AppID        string       `json:"app_id"`
	Version      string       `json:"version"`
	ReleaseNotes string       `json:"release_notes"`
	OSMatrix     []OSSupport  `json:"os_matrix"`
	Dependencies []Dependency `json:"dependencies"`
	State        State        `json:"state"`
}

// Validate checks required fields.
func (v ApplicationVersion) Validate() error {
	if err := checkIdent("app_id", v.AppID); err != nil {
		return err
	}
	if err := checkIdent("version", v.Version); err != nil {
		return err
	}
	if len(v.OSMatrix) == 0 {
		return fieldErrorf("os_matrix", "at least one supported OS is required")
	}
	for i, o := range v.OSMatrix {
		if o.OS == "" {
			return fieldErrorf(fmt.Sprintf("os_matrix[%d].os", i), "missing")
		}
	}
	for i, d := range v.Dependencies {
		if err := checkIdent(fmt.Sprintf("dependencies[%d].app_id", i), d.AppID); err != nil {
			return err
		}
		if d.AppID == v.AppID {
			return fieldErrorf(fmt.Sprintf("dependencies[%d].app_id", i), "an application cannot depend on itself")
		}
	}
	if v.State != "" && !v.State.Valid() {
		return fieldErrorf("state", "unknown state %q", v.State)
	}
	return nil
}

// Platform is an artifact's package type.
type Platform string

// Platform types of EUCORA-architecture.md section 7.
const (
	PlatformMSI     Platform = "msi"
	PlatformEXE     Platform = "exe" // a Windows setup program (PE)
	PlatformMSIX    Platform = "msix"
	PlatformIntuneW Platform = "intunewin"
	PlatformPKG     Platform = "pkg"
	PlatformDMG     Platform = "dmg"
	PlatformDeb     Platform = "deb"
	PlatformIPA     Platform = "ipa"
	PlatformAPK     Platform = "apk"
)

var platforms = []Platform{PlatformMSI, PlatformEXE, PlatformMSIX, PlatformIntuneW, PlatformPKG, PlatformDMG, PlatformDeb, PlatformIPA, PlatformAPK}

// Valid reports whether p is a known platform type.
func (p Platform) Valid() bool {
	for _, q := range platforms {
		if p == q {
			return true
		}
	}
	return false
}

// ScanDecision is the vulnerability policy decision for an artifact
// (EUCORA-architecture.md section 7.1: pass / fail / exception).
type ScanDecision string

// Scan decisions.
const (
	ScanPass      ScanDecision = "pass"
	ScanFail      ScanDecision = "fail"
	ScanException ScanDecision = "exception" // failed, publishable only with a valid approved exception
)

// Valid reports whether d is a known decision.
func (d ScanDecision) Valid() bool { return d == ScanPass || d == ScanFail || d == ScanException }

// SignatureState is what verification of an artifact's signature found.
type SignatureState string

// Signature states, from best to worst.
const (
	SigKnownVendor   SignatureState = "signed-known-vendor"   // valid signature by a known vendor identity
	SigUnknownVendor SignatureState = "signed-unknown-vendor" // valid signature, unknown or unverified vendor
	SigUnsigned      SignatureState = "unsigned"
	SigInvalid       SignatureState = "invalid" // a signature that does not verify
)

// Signing is an artifact's signing metadata.
type Signing struct {
	State       SignatureState `json:"state"`
	Signer      string         `json:"signer,omitempty"`      // certificate subject or key id
	Notarized   bool           `json:"notarized,omitempty"`   // macOS notarization
	Timestamped bool           `json:"timestamped,omitempty"` // countersigned timestamp
}

// Artifact is a package binary with its supply-chain facts (EUCORA-architecture.md section 5.3, 7.1).
type Artifact struct {
	AppID        string         `json:"app_id"`
	Version      string         `json:"version"`
	Platform     Platform       `json:"platform"`
	Name         string         `json:"name"` // one file name (CheckArtifactName), unique per app, version and channel
	SHA256       digest.Digest  `json:"sha256"`
	Size         int64          `json:"size"`
	Signing      Signing        `json:"signing"`
	Provenance   digest.Digest  `json:"provenance,omitempty"` // digest of the provenance statement
	SBOM         digest.Digest  `json:"sbom,omitempty"`       // digest of the SBOM document
	ScanReport   digest.Digest  `json:"scan_report,omitempty"`
	ScanDecision ScanDecision   `json:"scan_decision"`
	PackagedBy   string         `json:"packaged_by"` // principal id of the packaging engineer
	Facts        *ArtifactFacts `json:"facts,omitempty"`
	Intake       *Intake        `json:"intake,omitempty"` // set only by the factory (package add)
}

// Validate checks required fields and that digests are well formed.
func (a Artifact) Validate() error {
	if err := checkIdent("app_id", a.AppID); err != nil {
		return err
	}
	if err := checkIdent("version", a.Version); err != nil {
		return err
	}
	if !a.Platform.Valid() {
		return fieldErrorf("platform", "unknown platform %q (want one of %v)", a.Platform, platforms)
	}
	if err := CheckArtifactName(a.Name); err != nil {
		return err
	}
	if _, err := digest.Parse(string(a.SHA256)); err != nil {
		return fieldErrorf("sha256", "%v", err)
	}
	if a.Size <= 0 {
		return fieldErrorf("size", "%d: want a positive byte count", a.Size)
	}
	switch a.Signing.State {
	case SigKnownVendor, SigUnknownVendor, SigUnsigned, SigInvalid:
	default:
		return fieldErrorf("signing.state", "unknown signature state %q", a.Signing.State)
	}
	for _, d := range []struct {
		field string
		v     digest.Digest
	}{{"provenance", a.Provenance}, {"sbom", a.SBOM}, {"scan_report", a.ScanReport}} {
		if d.v == "" {
			continue
		}
		if _, err := digest.Parse(string(d.v)); err != nil {
			return fieldErrorf(d.field, "%v", err)
		}
	}
	if !a.ScanDecision.Valid() {
		return fieldErrorf("scan_decision", "%q: want pass, fail or exception", a.ScanDecision)
	}
	if err := checkIdent("packaged_by", a.PackagedBy); err != nil {
		return err
	}
	return nil
}
