package packaging

import (
	"fmt"
	"strings"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/packaging/facts"
)

// SignatureState maps what a reader verified onto the risk model's
// signature states (EUCORA-architecture.md section 9.2.1): a signature that
// chains to a configured root is a known vendor's, a valid one that does
// not is an unknown vendor's, and an expired certificate without a trusted
// timestamp or a signature that does not verify counts as invalid.
func SignatureState(s *facts.Signature) deploy.SignatureState {
	if s == nil {
		return deploy.SigUnsigned
	}
	switch s.State {
	case facts.SigTrusted:
		return deploy.SigKnownVendor
	case facts.SigUntrusted:
		return deploy.SigUnknownVendor
	case facts.SigExpired, facts.SigInvalid:
		return deploy.SigInvalid
	}
	return deploy.SigUnsigned
}

// Signing is the artifact's signing record from its facts.
func Signing(f *facts.Facts) deploy.Signing {
	s := deploy.Signing{State: SignatureState(f.Signature)}
	if f.Signature != nil {
		s.Signer, s.Notarized, s.Timestamped = f.Signature.Signer, f.Signature.Notarized, f.Signature.Timestamp != nil
	}
	return s
}

// Reason is why one group of risk facts has the value it has.
type Reason struct {
	Group  string `json:"group"` // signature, provenance, privilege, exposure, vulnerabilities
	Reason string `json:"reason"`
}

// RiskFacts are the facts the risk model derives factors from, as far as
// the file shows them: signature, provenance consistency, privilege,
// exposure and (when a policy decision was made) vulnerability counts.
// Data access, blast radius, operations and history are not in a file and
// stay for the assessor. Every group set has its reasons.
//
// Provenance is "consistent" when the factory's provenance verified and the
// signer names the package's vendor (or the package is unsigned or names
// no vendor, so nothing disagrees), "inconsistent" when a verified signer
// and the vendor the package declares disagree.
func RiskFacts(f *facts.Facts, provenanceVerified bool, vulns *deploy.VulnCounts) (deploy.ArtifactFacts, []Reason) {
	var out deploy.ArtifactFacts
	var why []Reason
	add := func(group, format string, args ...any) {
		why = append(why, Reason{Group: group, Reason: fmt.Sprintf(format, args...)})
	}
	out.Signature = SignatureState(f.Signature)
	if f.Signature != nil {
		add("signature", "%s: %s (%s)", out.Signature, orNone(f.Signature.Signer), orNone(f.Signature.Detail))
	} else {
		add("signature", "unsigned: the reader could not tell")
	}
	switch {
	case !provenanceVerified:
		add("provenance", "unknown: no verified provenance")
	case f.Signature != nil && f.Signature.Signer != "" && f.Identity.Vendor != "" && (f.Signature.State == facts.SigTrusted || f.Signature.State == facts.SigUntrusted) && !vendorMatches(f.Signature.Signer, f.Identity.Vendor):
		out.Provenance = "inconsistent"
		add("provenance", "inconsistent: signed by %q but the package names vendor %q", f.Signature.Signer, f.Identity.Vendor)
	default:
		out.Provenance = "consistent"
		add("provenance", "consistent: the factory's provenance verifies over this digest")
	}

	p := &deploy.PrivilegeFacts{InstallsService: f.Privilege.InstallsService, InstallsDriver: f.Privilege.InstallsDriver}
	// dpkg always runs as root: a deb needs admin in the rubric's sense
	// when it runs code as root (maintainer scripts) or ships setuid files.
	p.RequiresAdmin = f.Privilege.RequiresAdmin
	if f.Kind == facts.KindDeb && p.RequiresAdmin && len(f.Scripts) == 0 && len(f.Privilege.Setuid) == 0 {
		p.RequiresAdmin = false
		add("privilege", "a deb without maintainer scripts or setuid files runs no code of its own as root")
	}
	for _, r := range f.Privilege.Reasons {
		add("privilege", "%s", r)
	}
	if len(f.Privilege.Setuid) > 0 {
		add("privilege", "setuid/setgid files: %s", strings.Join(clipList(f.Privilege.Setuid, 5), ", "))
	}
	if !p.RequiresAdmin && !p.InstallsService && !p.InstallsDriver {
		add("privilege", "no admin rights, service, driver or kernel/system extension found")
	}
	out.Privilege = p

	e := &deploy.ExposureFacts{Listeners: len(f.Listeners)}
	if e.Listeners > 0 && elevatedServices(f) {
		e.PrivilegedListeners = e.Listeners
	}
	for _, s := range f.Scripts {
		if strings.Contains(strings.ToLower(s.Detail), "vbscript") || strings.Contains(strings.ToLower(s.Detail), "jscript") {
			e.Scripting = true
			add("exposure", "embedded script %s (%s)", s.Name, s.Detail)
		}
	}
	if e.Listeners > 0 {
		add("exposure", "listeners: %s", strings.Join(clipList(f.Listeners, 5), ", "))
		if e.PrivilegedListeners > 0 {
			add("exposure", "the package's services run elevated, so its listeners are privileged")
		}
	}
	if e.Listeners == 0 && !e.Scripting {
		add("exposure", "no listener or embedded scripting declared")
	}
	out.Exposure = e

	if vulns != nil {
		v := *vulns
		out.Vulns = &v
		add("vulnerabilities", "%d critical, %d high, %d medium, %d low (offline OSV policy)", v.Critical, v.High, v.Medium, v.Low)
	}
	return out, why
}

// elevatedServices reports whether any service runs as root or
// LocalSystem (or names no account, which is LocalSystem on Windows and
// root for systemd).
func elevatedServices(f *facts.Facts) bool {
	if len(f.Services) == 0 {
		return f.Privilege.RequiresAdmin
	}
	for _, s := range f.Services {
		switch strings.ToLower(s.Account) {
		case "", "root", "localsystem", "nt authority\\system", ".\\localsystem":
			return true
		}
	}
	return false
}

func vendorMatches(signer, vendor string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		for _, suffix := range []string{", inc.", " inc.", " inc", ", ltd.", " ltd", " gmbh", " llc", " corporation", " corp."} {
			s = strings.TrimSuffix(s, suffix)
		}
		return strings.TrimSpace(s)
	}
	v := norm(vendor)
	return v != "" && strings.Contains(strings.ToLower(signer), v)
}

func clipList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
