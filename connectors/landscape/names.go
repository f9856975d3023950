package landscape

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
)

// What the connector writes on the plane and reads back: names from the
// release key, the profile's description (the correlation anchor), the
// pin constraint, the script, and the computer and activity queries.

var (
	debName    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~:-]*$`)
	// tagName is what a target may name: a Landscape tag, which the
	// queries quote as tag:NAME, so no spaces, colons or quotes.
	tagName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$`)
	nonSlug  = regexp.MustCompile(`[^a-z0-9]+`)
	keyToken = regexp.MustCompile(`^[^\s@/]+$`)
)

// scriptTitle is the title of the release's script (one per application
// version): "eucora-APP-VERSION-ID" of the AppKey.
func scriptTitle(k connectors.ReleaseKey) string { return k.AppKey().Name() }

// scriptPrefix starts every script title the connector makes.
const scriptPrefix = "eucora-"

// profileTitle is the title of the key's package profile, made of a-z, 0-9
// and "-" only so that the name Landscape derives from it is the title
// itself: "eucora-APP-VERSION-rN-ID" with APP and VERSION slugged.
func profileTitle(k connectors.ReleaseKey) string {
	app := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(k.App), "-"), "-")
	ver := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(k.Version), "-"), "-")
	if len(app) > 40 {
		app = strings.Trim(app[:40], "-")
	}
	if len(ver) > 24 {
		ver = strings.Trim(ver[:24], "-")
	}
	return fmt.Sprintf("eucora-%s-%s-r%d-%s", app, ver, int(k.Ring), k.ID())
}

// pin is the constraint that holds the package at version.
func pin(pkg, version string) Constraint {
	return Constraint{Type: "depends", Rule: pkg + " = " + version}
}

// pinnedVersion returns the version a "depends PKG = V" constraint of p
// holds pkg at, if it has one.
func pinnedVersion(p PackageProfile, pkg string) (string, bool) {
	for _, c := range p.Constraints {
		if c.Type != "depends" {
			continue
		}
		f := strings.Fields(c.Rule)
		if len(f) == 3 && f[0] == pkg && f[1] == "=" {
			return f[2], true
		}
	}
	return "", false
}

// pinsOf lists p's constraints on pkg (every type and operator), the ones
// a new pin replaces.
func pinsOf(p PackageProfile, pkg string) []Constraint {
	var out []Constraint
	for _, c := range p.Constraints {
		if f := strings.Fields(c.Rule); len(f) > 0 && f[0] == pkg {
			out = append(out, c)
		}
	}
	return out
}

// anchor is what a package profile's description records: it is set when
// the profile is made and Landscape's API cannot change it afterwards
// (EditPackageProfile takes no description), so it names the release for
// good.
type anchor struct {
	Correlation string
	Release     string // the ReleaseKey's String
	Package     string
	Targets     []string
}

// description renders the anchor: the correlation marker first (as
// connectors.ParseCorrelationMarker reads it), then package= and targets=.
func (a anchor) description(k connectors.ReleaseKey) string {
	return connectors.CorrelationMarker(a.Correlation, k) + " package=" + a.Package + " targets=" + strings.Join(a.Targets, ",")
}

// parseAnchor reads a description the connector wrote; false for any
// other profile's.
func parseAnchor(desc string) (anchor, bool) {
	corr, ok := connectors.ParseCorrelationMarker(desc)
	if !ok || !strings.HasPrefix(desc, "eucora:correlation=") {
		return anchor{}, false
	}
	a := anchor{Correlation: corr}
	for _, f := range strings.Fields(desc) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "release":
			a.Release = v
		case "package":
			a.Package = v
		case "targets":
			if v != "" {
				a.Targets = strings.Split(v, ",")
			}
		}
	}
	return a, a.Release != "" && a.Package != ""
}

// family is the key without its version: profiles of one family pin one
// package for one ring and scope, and at most one of them may be
// associated with a ring's tag at a time.
func family(release string) (string, bool) {
	i := strings.LastIndex(release, "/ring-")
	if i < 0 {
		return "", false
	}
	at := strings.LastIndex(release[:i], "@")
	if at < 0 {
		return "", false
	}
	return release[:at] + release[i:], true
}

// parseKey reads a ReleaseKey's String back ("app@version/ring-N/scope");
// the scope is read without validating it.
func parseKey(s string) (connectors.ReleaseKey, bool) {
	i := strings.LastIndex(s, "/ring-")
	if i < 0 {
		return connectors.ReleaseKey{}, false
	}
	at := strings.LastIndex(s[:i], "@")
	rest := s[i+len("/ring-"):]
	n, scope, ok := strings.Cut(rest, "/")
	ring, err := strconv.Atoi(n)
	if at < 0 || !ok || err != nil {
		return connectors.ReleaseKey{}, false
	}
	k := connectors.ReleaseKey{App: s[:at], Version: s[at+1 : i], Ring: deploy.Ring(ring)}
	if scope != "*" {
		for _, kv := range strings.Split(scope, ",") {
			name, v, _ := strings.Cut(kv, "=")
			switch name {
			case "acquisition":
				k.Scope.Acquisition = v
			case "bu":
				k.Scope.BU = v
			case "site":
				k.Scope.Site = v
			}
		}
	}
	return k, true
}

// packageOf is the Debian package a release installs: the detection rule's
// package name, or the application name.
func packageOf(r connectors.Release) string {
	if p := r.Install.Detection.PackageName; p != "" {
		return p
	}
	return r.Key.App
}

// checkKey refuses a key the plane's texts cannot carry.
func checkKey(k connectors.ReleaseKey) error {
	// Not k.Validate: the scope's nesting rules are the hub's business;
	// the plane only needs texts it can carry.
	if !k.Ring.Valid() {
		return fmt.Errorf("release key %s@%s: ring %d is not one of 0-4", k.App, k.Version, int(k.Ring))
	}
	if !keyToken.MatchString(k.Scope.String()) {
		return fmt.Errorf("release key %s: scope %q: want no spaces, '@' or '/'", k, k.Scope)
	}
	if !keyToken.MatchString(k.App) {
		return fmt.Errorf("release key: app %q: want no spaces, '@' or '/' (the key is written into Landscape's profile description)", k.App)
	}
	if !debVersion.MatchString(k.Version) {
		return fmt.Errorf("release %s: version %q is not a Debian version (a digit, then A-Z a-z 0-9 . + ~ : -): Landscape pins it as \"depends PKG = VERSION\"", k, k.Version)
	}
	return nil
}

// checkRelease refuses a release the Landscape plane cannot carry out.
func checkRelease(r connectors.Release) error {
	if err := checkKey(r.Key); err != nil {
		return err
	}
	if r.CorrelationID == "" || strings.ContainsAny(r.CorrelationID, " \t\r\n") {
		return fmt.Errorf("release %s: correlation id %q: want a non-empty id without spaces", r.Key, r.CorrelationID)
	}
	if pkg := packageOf(r); !debName.MatchString(pkg) {
		return fmt.Errorf("release %s: package %q is not a Debian package name (a-z 0-9 + . -, two characters or more)", r.Key, pkg)
	}
	if len(r.Targets) == 0 {
		return fmt.Errorf("release %s: no targets: the ring reaches no Landscape tag", r.Key)
	}
	for _, t := range r.Targets {
		switch {
		case t.Exclude:
			return fmt.Errorf("release %s: target %q excludes: Landscape package profiles associate with tags and cannot exclude one", r.Key, t.ID)
		case !tagName.MatchString(t.ID):
			return fmt.Errorf("release %s: target %q is not a Landscape tag name (letters, digits, _ . + -; no spaces or colons): targets are the ring's tags", r.Key, t.ID)
		}
	}
	return nil
}

// tagsOf returns the release's target tags, sorted and without repeats.
func tagsOf(r connectors.Release) []string {
	var tags []string
	for _, t := range r.Targets {
		tags = append(tags, t.ID)
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// computerQuery selects the computers carrying any of the tags.
func computerQuery(tags []string) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = "tag:" + t
	}
	return strings.Join(parts, " OR ")
}

// activityQuery selects the activities of computers carrying any of the
// tags created after the given time (ISO 8601 without a zone: UTC).
func activityQuery(tags []string, after string) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = "computer:tag:" + t
		if after != "" {
			parts[i] += " created-after:" + after
		}
	}
	return strings.Join(parts, " OR ")
}

// scriptCode is the release's script: it installs exactly the version
// (or runs the release's own install command) and fails unless dpkg then
// reports that version. Its first comment line is the correlation marker.
func scriptCode(r connectors.Release, marker string) string {
	pkg, ver := packageOf(r), r.Key.Version
	install := fmt.Sprintf("apt-get install -y --reinstall --allow-downgrades '%s=%s'", pkg, ver)
	if c := strings.TrimSpace(r.Install.InstallCommand); c != "" {
		install = c
	}
	return "#!/bin/sh\n" +
		"# " + marker + "\n" +
		"# EUCORA release script: installs " + pkg + " " + ver + " and fails unless dpkg reports that version.\n" +
		"set -eu\n" +
		"export DEBIAN_FRONTEND=noninteractive\n" +
		install + "\n" +
		fmt.Sprintf("test \"$(dpkg-query -W -f='${Version}' '%s')\" = '%s'\n", pkg, ver)
}

// scriptMarker returns the correlation marker line of a script's code and
// the code without it.
func scriptMarker(code string) (marker, body string) {
	var rest []string
	for _, line := range strings.Split(code, "\n") {
		if m, ok := strings.CutPrefix(line, "# "); ok && marker == "" && strings.HasPrefix(m, "eucora:correlation=") {
			marker = m
			continue
		}
		rest = append(rest, line)
	}
	return marker, strings.Join(rest, "\n")
}
