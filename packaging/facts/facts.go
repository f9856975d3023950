// Package facts is the contract between the factory's file readers and
// their users (intake, SBOM, vulnerability matching, risk derivation,
// `eucora package show`). A reader (packaging/deb, packaging/msi,
// packaging/authenticode, packaging/xar, packaging/dmg, packaging/mobile,
// packaging/intunewin) reads one file type natively and fills a Facts; it
// never runs the file and never trusts what the file says about itself
// beyond what it can check.
//
// Every reader has the same shape:
//
//	func Inspect(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error)
//
// and the same contract:
//   - it reads only through r and never more than o.Limits allow, so a
//     hostile file (bomb, loop, absurd count or length) costs bounded memory
//     and time whatever its size;
//   - a file that is not of its type, is truncated, or breaks its format or
//     a limit returns a *DefectError (errors.Is(err, ErrDefect)) naming the
//     defect, and nothing else happens;
//   - what it cannot read it names in Facts.NotInspected instead of guessing.
package facts

import (
	"errors"
	"fmt"
	"time"
)

// Kind is a file type the factory reads. The value is the file name
// extension without the dot.
type Kind string

// Kinds.
const (
	KindDeb       Kind = "deb"
	KindMSI       Kind = "msi"
	KindPE        Kind = "exe"
	KindMSIX      Kind = "msix"
	KindAppx      Kind = "appx"
	KindIntunewin Kind = "intunewin"
	KindPkg       Kind = "pkg"
	KindDMG       Kind = "dmg"
	KindIPA       Kind = "ipa"
	KindAPK       Kind = "apk"
)

// Errors.
var (
	// ErrDefect: the file is not what it claims, is truncated, malformed,
	// or over a limit. Always wrapped by a *DefectError.
	ErrDefect = errors.New("defective package file")
)

// DefectError names what is wrong with a file.
type DefectError struct {
	Kind   Kind   // the type the reader expected
	Defect string // what is wrong, for a person: "truncated CFB sector chain at sector 12"
}

func (e *DefectError) Error() string {
	return fmt.Sprintf("not a valid %s file: %s", e.Kind, e.Defect)
}

// Unwrap makes errors.Is(err, ErrDefect) true.
func (e *DefectError) Unwrap() error { return ErrDefect }

// Defectf returns a *DefectError for kind.
func Defectf(kind Kind, format string, args ...any) error {
	return &DefectError{Kind: kind, Defect: fmt.Sprintf(format, args...)}
}

// Limits bound what a reader accepts. Zero fields take DefaultLimits.
type Limits struct {
	MaxEntries      int   // members of a container (zip entries, tar members, CFB directory entries, xar TOC files)
	MaxMetadata     int64 // bytes of one decompressed metadata item (control.tar, xar TOC, manifest XML, MSI stream)
	MaxUncompressed int64 // total bytes a reader decompresses from the file
	MaxRatio        int64 // uncompressed/compressed ratio of any one member over 1 MiB
	MaxRows         int   // rows of one MSI table
}

// DefaultLimits are generous for real packages and small for bombs.
var DefaultLimits = Limits{MaxEntries: 200_000, MaxMetadata: 64 << 20, MaxUncompressed: 64 << 30, MaxRatio: 200, MaxRows: 1_000_000}

// WithDefaults fills zero fields from DefaultLimits.
func (l Limits) WithDefaults() Limits { return l.Or(DefaultLimits) }

// Or fills l's zero (or negative) fields from d.
func (l Limits) Or(d Limits) Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxMetadata <= 0 {
		l.MaxMetadata = d.MaxMetadata
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = d.MaxUncompressed
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxRows <= 0 {
		l.MaxRows = d.MaxRows
	}
	return l
}

// Options is what a reader may use besides the file.
type Options struct {
	Limits Limits
	// Trust holds the code-signing roots a signature must chain to for
	// SigTrusted (Authenticode, pkg, MSIX). Nil: no signature is trusted.
	Trust *TrustStore
	// Now is the time certificate validity is judged at when a signature
	// has no trusted timestamp (zero: time.Now()).
	Now time.Time
}

// Facts are what a reader found in one file. Intake fills Name, SHA256 and
// Size; the reader fills the rest.
type Facts struct {
	Kind   Kind   `json:"kind"`
	Name   string `json:"name,omitempty"`   // file name as given
	SHA256 string `json:"sha256,omitempty"` // "sha256:HEX"
	Size   int64  `json:"size,omitempty"`

	Identity  Identity   `json:"identity"`
	Signature *Signature `json:"signature"` // nil only when the reader could not tell (listed in NotInspected)

	Privilege Privilege `json:"privilege"`
	Services  []Service `json:"services,omitempty"`  // services, daemons, systemd units installed
	Scripts   []Script  `json:"scripts,omitempty"`   // code the installer runs: maintainer scripts, custom actions, pkg scripts
	Listeners []string  `json:"listeners,omitempty"` // network listeners the file declares (systemd sockets, firewall exceptions, MSIX capabilities)

	Files        *FileSummary `json:"files,omitempty"`
	Depends      []string     `json:"depends,omitempty"`      // declared dependencies, as the format writes them
	Capabilities []string     `json:"capabilities,omitempty"` // MSIX capabilities, Android permissions, iOS entitlements
	Components   []Component  `json:"components,omitempty"`   // what an SBOM lists: the package itself first, then what it bundles

	// Fields are the format's own identity fields, verbatim, for display
	// and SBOMs: deb control fields, MSI Property rows, Info.plist keys.
	Fields map[string]string `json:"fields,omitempty"`
	// NotInspected names what the reader did not or could not read:
	// "disk image contents (not mounted)", "notarization ticket".
	NotInspected []string `json:"not_inspected,omitempty"`
}

// Identity is what the package says it is.
type Identity struct {
	Name        string `json:"name"`                   // deb Package, MSI ProductName, bundle/package id for mobile
	Version     string `json:"version"`                // deb Version, MSI ProductVersion, CFBundleShortVersionString
	Vendor      string `json:"vendor,omitempty"`       // deb Maintainer, MSI Manufacturer, MSIX Publisher
	ID          string `json:"id,omitempty"`           // MSI ProductCode, pkg identifier, bundle id, Android package
	UpgradeCode string `json:"upgrade_code,omitempty"` // MSI UpgradeCode
	Arch        string `json:"arch,omitempty"`         // amd64, x86, arm64, all, universal...
}

// SignatureState is what verification of a file's signature found.
type SignatureState string

// Signature states.
const (
	SigTrusted   SignatureState = "trusted"   // valid, chains to a root in Options.Trust, in validity (or timestamped in validity)
	SigUntrusted SignatureState = "untrusted" // valid over the content, chain does not reach a trusted root
	SigExpired   SignatureState = "expired"   // valid over the content, certificate expired and no trusted timestamp inside its validity
	SigInvalid   SignatureState = "invalid"   // present but does not verify over the content (tampered after signing, bad structure)
	SigUnsigned  SignatureState = "unsigned"
)

// Signature is a file's signature as verified.
type Signature struct {
	State     SignatureState `json:"state"`
	Format    string         `json:"format,omitempty"`    // "authenticode", "debsig", "xar-rsa", "apk-v1", "apk-v2", "msix-p7x", "codesign"
	Signer    string         `json:"signer,omitempty"`    // leaf certificate subject (CN, O) or key id
	Issuer    string         `json:"issuer,omitempty"`    // leaf issuer
	Chain     []string       `json:"chain,omitempty"`     // subjects from leaf to root as verified
	NotAfter  *time.Time     `json:"not_after,omitempty"` // leaf expiry
	Timestamp *time.Time     `json:"timestamp,omitempty"` // countersignature time, when present
	Notarized bool           `json:"notarized,omitempty"` // macOS: stapled notarization ticket present
	Detail    string         `json:"detail,omitempty"`    // why the state is what it is, for a person
}

// Privilege is what installing and running the file needs.
type Privilege struct {
	RequiresAdmin   bool     `json:"requires_admin"`
	InstallsService bool     `json:"installs_service"`
	InstallsDriver  bool     `json:"installs_driver"`   // driver, kernel or system extension
	Setuid          []string `json:"setuid,omitempty"`  // setuid/setgid files
	Reasons         []string `json:"reasons,omitempty"` // the evidence for each true field: "ServiceInstall row FooSvc"
}

// Service is one service, daemon or unit the package installs.
type Service struct {
	Name    string `json:"name"`
	Start   string `json:"start,omitempty"`   // auto, demand, disabled, or the unit's WantedBy
	Account string `json:"account,omitempty"` // LocalSystem, a user, "" when not stated
	Source  string `json:"source,omitempty"`  // where it was found: "ServiceInstall", "lib/systemd/system/foo.service", "LaunchDaemons/x.plist"
}

// Script is code the installer runs.
type Script struct {
	Name   string `json:"name"`             // preinst, CustomAction id, pkg preinstall
	Kind   string `json:"kind,omitempty"`   // maintainer-script, custom-action, pkg-script
	Detail string `json:"detail,omitempty"` // interpreter, custom action type, target
}

// FileSummary summarises the files the package installs.
type FileSummary struct {
	Count        int      `json:"count"`
	Bytes        int64    `json:"bytes"`
	Conffiles    []string `json:"conffiles,omitempty"`
	SystemdUnits []string `json:"systemd_units,omitempty"`
	Sample       []string `json:"sample,omitempty"` // the first 100 paths, sorted, for display
}

// Component is one SBOM component.
type Component struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Ecosystem string            `json:"ecosystem,omitempty"` // OSV ecosystem: "Debian", "Go", "npm", "PyPI", "Maven", "NuGet"...; "" when none applies
	PURL      string            `json:"purl,omitempty"`
	Supplier  string            `json:"supplier,omitempty"`
	License   string            `json:"license,omitempty"`
	Hashes    map[string]string `json:"hashes,omitempty"` // algorithm -> hex
}
