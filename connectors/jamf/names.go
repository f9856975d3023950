package jamf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
)

// Every object the connector makes on Jamf Pro is named from the release
// key alone, so a later process (or a retry after a crash) finds it by
// name before it would create it:
//
//   - the package of an application version (the key's AppKey), shared by
//     every ring: PackageName, "APP-VERSION-ID.pkg";
//   - the ring policy of an application in one ring and scope, whatever
//     the version: PolicyName, "eucora:APP-SLOT:ring-N". The package it
//     references is the ring's version pin: a new version, a supersede and
//     a rollback all PUT the same policy to another package;
//   - the uninstall script of a version, ScriptName, and the ring's
//     uninstall policy, UninstallPolicyName (the ring policy's name with
//     ":uninstall").
//
// SLOT is the ID of the key without its version; ID the ID of the AppKey
// (connectors.ReleaseKey.ID). Text outside [A-Za-z0-9._-] in an app name or
// version becomes '-'; the IDs keep names distinct.

// PackageName is the packageName of the package holding k's version.
func PackageName(k connectors.ReleaseKey) string {
	return fmt.Sprintf("%s-%s-%s.pkg", safe(k.App), safe(k.Version), k.AppKey().ID())
}

// fileName is the package's fileName: PackageName with the extension of
// the content's own name when Jamf accepts it (.dmg, .zip, .mpkg).
func fileName(k connectors.ReleaseKey, content string) string {
	name := strings.TrimSuffix(PackageName(k), ".pkg")
	for _, ext := range []string{".dmg", ".zip", ".mpkg"} {
		if strings.HasSuffix(strings.ToLower(content), ext) {
			return name + ext
		}
	}
	return name + ".pkg"
}

// slot is the key of a ring policy: k without its version.
func slot(k connectors.ReleaseKey) connectors.ReleaseKey {
	return connectors.ReleaseKey{App: k.App, Ring: k.Ring, Scope: k.Scope}
}

// PolicyName is the name of the ring policy that installs k's application
// on k's ring in k's scope.
func PolicyName(k connectors.ReleaseKey) string {
	return fmt.Sprintf("eucora:%s-%s:ring-%d", safe(k.App), slot(k).ID(), int(k.Ring))
}

// UninstallPolicyName is the name of the policy that runs the uninstall
// script of k's application on k's ring.
func UninstallPolicyName(k connectors.ReleaseKey) string { return PolicyName(k) + ":uninstall" }

// ScriptName is the name of the script that uninstalls k's version.
func ScriptName(k connectors.ReleaseKey) string {
	return fmt.Sprintf("eucora-%s-%s-%s-uninstall", safe(k.App), safe(k.Version), k.AppKey().ID())
}

// RingGroupName is the name of the static computer group StaticGroup makes
// for a ring in a scope: "eucora ring-N SCOPE".
func RingGroupName(ring deploy.Ring, scope deploy.Scope) string {
	return fmt.Sprintf("eucora ring-%d %s", int(ring), scope)
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, s)
}

// marker is one correlation marker found in a free-text field.
type marker struct {
	correlation string
	release     string // the key's String, "" when the marker names none
}

// markers returns every correlation marker in text, in order. A package's
// notes hold one per correlation id that published through it; a policy's
// self-service description holds the one of the intent that last set it.
func markers(text string) []marker {
	var out []marker
	const prefix = "eucora:correlation="
	for {
		i := strings.Index(text, prefix)
		if i < 0 {
			return out
		}
		text = text[i+len(prefix):]
		fields := strings.Fields(text)
		if len(fields) == 0 || strings.HasPrefix(text, " ") {
			continue
		}
		m := marker{correlation: fields[0]}
		if len(fields) > 1 {
			if rel, ok := strings.CutPrefix(fields[1], "release="); ok {
				m.release = rel
			}
		}
		out = append(out, m)
	}
}

// hasMarker reports whether text carries the marker of (id, k).
func hasMarker(text, id string, k connectors.ReleaseKey) bool {
	for _, m := range markers(text) {
		if m.correlation == id && m.release == k.String() {
			return true
		}
	}
	return false
}

// withMarker returns text with the marker of (id, k) added on a line of
// its own, or text itself when it already carries it.
func withMarker(text, id string, k connectors.ReleaseKey) string {
	if hasMarker(text, id, k) {
		return text
	}
	m := connectors.CorrelationMarker(id, k)
	if strings.TrimSpace(text) == "" {
		return m
	}
	return strings.TrimRight(text, "\n") + "\n" + m
}

// parseReleaseKey reads a key's String ("app@version/ring-N/scope").
func parseReleaseKey(s string) (connectors.ReleaseKey, error) {
	i := strings.LastIndex(s, "/ring-")
	if i < 0 {
		return connectors.ReleaseKey{}, fmt.Errorf("release key %q: no /ring-", s)
	}
	left, right := s[:i], s[i+len("/ring-"):]
	ringText, scopeText, ok := strings.Cut(right, "/")
	if !ok {
		return connectors.ReleaseKey{}, fmt.Errorf("release key %q: no scope", s)
	}
	ring, err := strconv.Atoi(ringText)
	if err != nil || !deploy.Ring(ring).Valid() {
		return connectors.ReleaseKey{}, fmt.Errorf("release key %q: ring %q", s, ringText)
	}
	j := strings.LastIndex(left, "@")
	if j <= 0 {
		return connectors.ReleaseKey{}, fmt.Errorf("release key %q: no app@version", s)
	}
	scope, err := parseScope(scopeText)
	if err != nil {
		return connectors.ReleaseKey{}, fmt.Errorf("release key %q: %w", s, err)
	}
	return connectors.ReleaseKey{App: left[:j], Version: left[j+1:], Ring: deploy.Ring(ring), Scope: scope}, nil
}

// parseScope reads a Scope's String without deploy.ParseScope's nesting
// rule: a marker reports what a plane holds, right or wrong.
func parseScope(s string) (deploy.Scope, error) {
	var sc deploy.Scope
	if s == "*" || s == "" {
		return sc, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return sc, fmt.Errorf("scope %q: want name=value", s)
		}
		switch k {
		case "acquisition":
			sc.Acquisition = v
		case "bu":
			sc.BU = v
		case "site":
			sc.Site = v
		default:
			return sc, fmt.Errorf("scope %q: unknown field %q", s, k)
		}
	}
	return sc, nil
}
