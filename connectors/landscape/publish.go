package landscape

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
)

// Publish makes Landscape hold the release: the version's script, the
// key's package profile pinning the version and associated with the
// ring's tags (other versions' profiles of the ring leave those tags), and
// an install activity on the ring's computers unless one is already
// pending or succeeded.
func (c *Client) Publish(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	pub := connectors.Publication{Key: r.Key}
	if err := checkRelease(r); err != nil {
		return pub, permanent("publish", err)
	}
	obj, _, made, err := c.ensureScript(ctx, r)
	if err != nil {
		return pub, err
	}
	pub.Objects, pub.Created = append(pub.Objects, obj), pub.Created+made
	return c.pinAndInstall(ctx, r, r.Key.Version, pub)
}

// Remediate applies a remediation (see connectors.Connector):
//
//   - Supersede: Publish, which takes the ring's tags from every other
//     version's profile.
//   - PinPrior: the release's profile is edited to pin the prior version
//     and the package installed again, which downgrades it.
//   - Uninstall: the profiles pinning the version leave the ring's tags
//     and RemovePackages runs on the ring's computers.
//   - Redeploy: the version's script runs on the ring's computers
//     (ExecuteScript) unless a run of it is still pending.
func (c *Client) Remediate(ctx context.Context, m connectors.Remediation) (connectors.Publication, error) {
	r := m.Release
	pub := connectors.Publication{Key: r.Key}
	if err := checkRelease(r); err != nil {
		return pub, permanent(string(m.Action), err)
	}
	switch m.Action {
	case connectors.Supersede:
		if r.Prior == nil {
			return pub, permanent("supersede", fmt.Errorf("release %s has no prior release to supersede", r.Key))
		}
		return c.Publish(ctx, r)
	case connectors.PinPrior:
		if err := checkPrior(r); err != nil {
			return pub, permanent("pin-prior", err)
		}
		return c.pinAndInstall(ctx, r, r.Prior.Version, pub)
	case connectors.Uninstall:
		return c.uninstall(ctx, r, pub)
	case connectors.Redeploy:
		return c.redeploy(ctx, r, pub)
	}
	return pub, permanent("remediate", fmt.Errorf("unknown action %q (want supersede, pin-prior, uninstall or redeploy)", m.Action))
}

// checkPrior refuses a rollback Landscape cannot pin: the prior must be
// another version of the same package, ring and scope.
func checkPrior(r connectors.Release) error {
	p := r.Prior
	switch {
	case p == nil:
		return fmt.Errorf("release %s has no prior release to pin", r.Key)
	case p.App != r.Key.App || p.Ring != r.Key.Ring || p.Scope != r.Key.Scope:
		return fmt.Errorf("prior %s is not an earlier version of %s in the same ring and scope: a Landscape pin holds one package", p, r.Key)
	case p.Version == r.Key.Version:
		return fmt.Errorf("prior %s is the release itself", p)
	}
	return checkKey(*p)
}

func (c *Client) pinAndInstall(ctx context.Context, r connectors.Release, version string, pub connectors.Publication) (connectors.Publication, error) {
	st, err := c.ensurePin(ctx, r, version)
	pub.Created += st.created
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, profileObject(st.profile))
	pkg := packageOf(r)
	obj, made, err := c.runJob(ctx, r, st, job{kind: jobInstall, pkg: pkg, version: version}, func() (Activity, error) {
		return c.InstallPackages(ctx, computerQuery(tagsOf(r)), []string{pkg})
	})
	if err != nil {
		return pub, err
	}
	pub.Objects, pub.Created, pub.Handle = append(pub.Objects, obj), pub.Created+made, obj.ID
	return pub, nil
}

func (c *Client) uninstall(ctx context.Context, r connectors.Release, pub connectors.Publication) (connectors.Publication, error) {
	profiles, err := c.Profiles(ctx)
	if err != nil {
		return pub, err
	}
	p, ok := profileByTitle(profiles, profileTitle(r.Key))
	if !ok {
		return pub, notPublished("uninstall", r.Key)
	}
	pkg, tags, fam := packageOf(r), tagsOf(r), familyOf(r.Key)
	st := pinState{profile: p, since: changedAt(p)}
	for _, q := range profiles {
		a, ok := parseAnchor(q.Description)
		if f, _ := family(a.Release); !ok || f != fam {
			continue
		}
		common := intersect(q.Tags, tags)
		if len(common) == 0 {
			continue
		}
		if v, pinned := pinnedVersion(q, pkg); pinned && v != r.Key.Version {
			return pub, permanent("uninstall", fmt.Errorf("the ring's tags %s are pinned to %s %s by profile %q, not to %s: uninstall that release",
				strings.Join(common, ","), pkg, v, q.Name, r.Key.Version))
		}
		if err := c.DisassociateProfile(ctx, q.Name, common); err != nil {
			return pub, err
		}
		st.changed = true
	}
	pub.Objects = append(pub.Objects, profileObject(p))
	obj, made, err := c.runJob(ctx, r, st, job{kind: jobRemove, pkg: pkg}, func() (Activity, error) {
		return c.RemovePackages(ctx, computerQuery(tags), []string{pkg})
	})
	if err != nil {
		return pub, err
	}
	pub.Objects, pub.Created, pub.Handle = append(pub.Objects, obj), pub.Created+made, obj.ID
	return pub, nil
}

func (c *Client) redeploy(ctx context.Context, r connectors.Release, pub connectors.Publication) (connectors.Publication, error) {
	sobj, s, made, err := c.ensureScript(ctx, r)
	if err != nil {
		return pub, err
	}
	pub.Objects, pub.Created = append(pub.Objects, sobj), pub.Created+made
	profiles, err := c.Profiles(ctx)
	if err != nil {
		return pub, err
	}
	p, ok := profileByTitle(profiles, profileTitle(r.Key))
	if !ok {
		return pub, notPublished("redeploy", r.Key)
	}
	st := pinState{profile: p, since: ParseTime(p.CreationTime)}
	obj, made, err := c.runJob(ctx, r, st, job{kind: jobScript, script: s.Title}, func() (Activity, error) {
		return c.ExecuteScript(ctx, computerQuery(tagsOf(r)), s.ID)
	})
	if err != nil {
		return pub, err
	}
	pub.Objects, pub.Created, pub.Handle = append(pub.Objects, obj), pub.Created+made, obj.ID
	return pub, nil
}

func notPublished(op string, k connectors.ReleaseKey) error {
	return &connectors.Error{Plane: connectors.Landscape, Op: op, Class: connectors.Permanent, NotFound: true,
		Message: fmt.Sprintf("no package profile %q: nothing is published for %s", profileTitle(k), k)}
}

// ensureScript makes the release's script exist with the code for r. An
// existing script keeps its correlation marker (the intent that made it);
// its code is replaced when the rest differs (another install command).
func (c *Client) ensureScript(ctx context.Context, r connectors.Release) (connectors.Object, Script, int, error) {
	title := scriptTitle(r.Key)
	marker := connectors.CorrelationMarker(r.CorrelationID, r.Key.AppKey())
	want := scriptCode(r, marker)
	scripts, err := c.Scripts(ctx)
	if err != nil {
		return connectors.Object{}, Script{}, 0, err
	}
	s, ok := scriptByTitle(scripts, title)
	if !ok {
		made, err := c.CreateScript(ctx, title, want)
		switch {
		case err == nil:
			return scriptObject(made, r.CorrelationID, r.Key), made, 1, nil
		case !isCode(err, "DuplicateScript"):
			return connectors.Object{}, Script{}, 0, err
		}
		// Another attempt made it between our look and our create.
		if scripts, err = c.Scripts(ctx); err != nil {
			return connectors.Object{}, Script{}, 0, err
		}
		if s, ok = scriptByTitle(scripts, title); !ok {
			return connectors.Object{}, Script{}, 0, &connectors.Error{Plane: connectors.Landscape, Op: "CreateScript", Class: connectors.Transient,
				Code: "DuplicateScript", Message: fmt.Sprintf("script %q exists but GetScripts does not list it yet", title)}
		}
	}
	code, err := c.ScriptCode(ctx, s.ID)
	if err != nil {
		return connectors.Object{}, Script{}, 0, err
	}
	have, haveBody := scriptMarker(code)
	_, wantBody := scriptMarker(want)
	corr, _ := connectors.ParseCorrelationMarker(have)
	if haveBody != wantBody {
		if have == "" {
			have, corr = marker, r.CorrelationID
		}
		if err := c.EditScript(ctx, s.ID, scriptCode(r, have)); err != nil {
			return connectors.Object{}, Script{}, 0, err
		}
	}
	return scriptObject(s, corr, r.Key), s, 0, nil
}

// pinState is what ensurePin left.
type pinState struct {
	profile PackageProfile
	created int
	// changed says this call changed the ring's profiles: no activity
	// for the new state can exist yet.
	changed bool
	// since is when the profile last changed, as the plane reported it.
	since time.Time
}

// ensurePin makes the key's profile exist, pin the package to version,
// and be the one profile of its family associated with the ring's tags.
func (c *Client) ensurePin(ctx context.Context, r connectors.Release, version string) (pinState, error) {
	var st pinState
	pkg, tags, title := packageOf(r), tagsOf(r), profileTitle(r.Key)
	profiles, err := c.Profiles(ctx)
	if err != nil {
		return st, err
	}
	p, ok := profileByTitle(profiles, title)
	if !ok {
		desc := anchor{Correlation: r.CorrelationID, Release: r.Key.String(), Package: pkg, Targets: tags}.description(r.Key)
		made, err := c.CreateProfile(ctx, title, desc, []Constraint{pin(pkg, version)})
		switch {
		case err == nil:
			p, st.created, st.changed = made, 1, true
		case !isCode(err, "DuplicatePackageProfile"):
			return st, err
		default:
			if profiles, err = c.Profiles(ctx); err != nil {
				return st, err
			}
			if p, ok = profileByTitle(profiles, title); !ok {
				return st, &connectors.Error{Plane: connectors.Landscape, Op: "CreatePackageProfile", Class: connectors.Transient,
					Code: "DuplicatePackageProfile", Message: fmt.Sprintf("package profile %q exists but GetPackageProfiles does not list it yet", title)}
			}
		}
	}
	if a, ok := parseAnchor(p.Description); !ok || a.Release != r.Key.String() {
		return st, permanent("package profile", fmt.Errorf("profile %q (title %q) was not made by EUCORA for %s: its description is %q",
			p.Name, p.Title, r.Key, clip(p.Description, 200)))
	}
	if v, pinned := pinnedVersion(p, pkg); !pinned || v != version || len(pinsOf(p, pkg)) != 1 {
		want := pin(pkg, version)
		var add, remove []Constraint
		if !pinned || v != version {
			add = []Constraint{want}
		}
		for _, x := range pinsOf(p, pkg) {
			if x != want {
				remove = append(remove, x)
			}
		}
		if err := c.EditProfile(ctx, p.Name, add, remove); err != nil {
			return st, err
		}
		st.changed = true
	}
	// One version per ring: the family's other profiles leave the tags
	// first, so the ring is never pinned to two versions at once.
	fam := familyOf(r.Key)
	for _, q := range profiles {
		if q.ID == p.ID {
			continue
		}
		a, ok := parseAnchor(q.Description)
		if f, _ := family(a.Release); !ok || f != fam {
			continue
		}
		if common := intersect(q.Tags, tags); len(common) > 0 {
			if err := c.DisassociateProfile(ctx, q.Name, common); err != nil {
				return st, err
			}
			st.changed = true
		}
	}
	if missing := minus(tags, p.Tags); len(missing) > 0 {
		if err := c.AssociateProfile(ctx, p.Name, missing); err != nil {
			return st, err
		}
		p.Tags = append(p.Tags, missing...)
		st.changed = true
	}
	st.profile, st.since = p, changedAt(p)
	return st, nil
}

func familyOf(k connectors.ReleaseKey) string {
	f, _ := family(k.String())
	return f
}

// changedAt is when a profile was last changed.
func changedAt(p PackageProfile) time.Time {
	c, m := ParseTime(p.CreationTime), ParseTime(p.ModificationTime)
	if m.After(c) {
		return m
	}
	return c
}

// jobKind is what an activity does for a release.
type jobKind int

const (
	jobInstall jobKind = iota // install, upgrade or downgrade PKG to version
	jobRemove                 // remove PKG
	jobScript                 // run the release's script
)

type job struct {
	kind    jobKind
	pkg     string
	version string // jobInstall: the version ("" any)
	script  string // jobScript: the script's title
}

// matches reports whether a computer's activity does j. Landscape's
// package activities name their changes (package, type, install_version);
// one without changes is matched on its summary ("Install package PKG").
func (j job) matches(a Activity) bool {
	if j.kind == jobScript {
		return a.Type == "ExecuteScriptRequest" && strings.Contains(a.Summary, j.script)
	}
	if a.Type != "ChangePackagesRequest" {
		return false
	}
	if len(a.Changes) == 0 {
		verbs := []string{"Install", "Upgrade", "Downgrade"}
		if j.kind == jobRemove {
			verbs = []string{"Remove"}
		}
		f := strings.Fields(strings.ReplaceAll(a.Summary, ",", " "))
		return len(f) > 0 && slices.Contains(verbs, f[0]) && slices.Contains(f, j.pkg)
	}
	for _, ch := range a.Changes {
		if ch.Package != j.pkg {
			continue
		}
		switch ch.Type {
		case "install", "upgrade", "downgrade":
			if j.kind == jobInstall && (ch.InstallVersion == nil || j.version == "" || *ch.InstallVersion == j.version) {
				return true
			}
		case "remove":
			if j.kind == jobRemove {
				return true
			}
		}
	}
	return false
}

// findJob returns the latest activity on the ring's computers created
// since `since` that does j and is pending or succeeded (pending only,
// for pendingOnly), or nil.
func (c *Client) findJob(ctx context.Context, tags []string, since time.Time, j job, pendingOnly bool) (*Activity, error) {
	after, from := "", time.Time{}
	if !since.IsZero() {
		from = since.Add(-time.Second)
		after = from.UTC().Format("2006-01-02T15:04:05")
	}
	acts, err := c.Activities(ctx, activityQuery(tags, after))
	if err != nil {
		return nil, err
	}
	var best *Activity
	for i := range acts {
		a := &acts[i]
		if a.ParentID == nil || !j.matches(*a) || !a.Live() || (pendingOnly && !a.Pending()) {
			continue
		}
		if t := ParseTime(a.CreationTime); !t.IsZero() && t.Before(from) {
			continue
		}
		if best == nil || a.ID > best.ID {
			best = a
		}
	}
	return best, nil
}

// runJob starts j with start unless st says nothing changed and findJob
// finds it started; it returns the activity group and 1 if it started it.
func (c *Client) runJob(ctx context.Context, r connectors.Release, st pinState, j job, start func() (Activity, error)) (connectors.Object, int, error) {
	if !st.changed {
		a, err := c.findJob(ctx, tagsOf(r), st.since, j, j.kind == jobScript)
		if err != nil {
			return connectors.Object{}, 0, err
		}
		if a != nil {
			return activityObject(*a.ParentID, a.Summary), 0, nil
		}
	}
	g, err := start()
	if err != nil {
		var ce *connectors.Error
		if errors.As(err, &ce) && ce.Code == "UnknownComputers" {
			e := *ce
			e.Message = "no computer carries any of the tags " + strings.Join(tagsOf(r), ", ") + ": " + e.Message
			return connectors.Object{}, 0, &e
		}
		return connectors.Object{}, 0, err
	}
	return activityObject(g.ID, g.Summary), 1, nil
}

func scriptObject(s Script, corr string, k connectors.ReleaseKey) connectors.Object {
	ak := k.AppKey()
	return connectors.Object{Kind: "script", ID: strconv.FormatInt(s.ID, 10), Name: s.Title, CorrelationID: corr, Release: &ak}
}

func profileObject(p PackageProfile) connectors.Object {
	o := connectors.Object{Kind: "packageProfile", ID: strconv.FormatInt(p.ID, 10), Name: p.Name}
	if a, ok := parseAnchor(p.Description); ok {
		o.CorrelationID = a.Correlation
		if k, ok := parseKey(a.Release); ok {
			o.Release = &k
		}
	}
	return o
}

// activityObject is an activity group. Landscape keeps no text of ours on
// it, so it carries no correlation id; the profile is its anchor.
func activityObject(id int64, summary string) connectors.Object {
	return connectors.Object{Kind: "activity", ID: strconv.FormatInt(id, 10), Name: summary}
}

func scriptByTitle(ss []Script, title string) (Script, bool) {
	for _, s := range ss {
		if s.Title == title {
			return s, true
		}
	}
	return Script{}, false
}

func profileByTitle(ps []PackageProfile, title string) (PackageProfile, bool) {
	for _, p := range ps {
		if p.Title == title || p.Name == title {
			return p, true
		}
	}
	return PackageProfile{}, false
}

// intersect returns the elements of a also in b, sorted.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// minus returns the elements of a not in b, sorted.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}
