package jamf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/eucora/eucora/connectors"
)

// targets splits a release's targets into included and excluded computer
// group ids.
func targets(op string, r connectors.Release) (include, exclude []int, err error) {
	for _, t := range r.Targets {
		id, perr := strconv.Atoi(t.ID)
		if perr != nil || id <= 0 {
			return nil, nil, permanent(op, "target %q: want a Jamf Pro computer group id (resolve a name with SmartGroup or make a group with StaticGroup)", t.ID)
		}
		if t.Exclude {
			exclude = append(exclude, id)
		} else {
			include = append(include, id)
		}
	}
	if len(include) == 0 {
		return nil, nil, permanent(op, "release %s: no computer group to install on (every target is an exclusion)", r.Key)
	}
	return include, exclude, nil
}

// check is what this plane needs of a release: connectors.Release.Validate
// without its scope nesting rule (the plane stores a scope as text).
func check(op string, r connectors.Release) error {
	k := r.Key
	switch {
	case k.App == "" || k.Version == "":
		return permanent(op, "release key %q: app and version are required", k)
	case !k.Ring.Valid():
		return permanent(op, "release key %s: ring %d is not one of 0-4", k, int(k.Ring))
	case r.CorrelationID == "" || strings.ContainsAny(r.CorrelationID, " \t\r\n"):
		return permanent(op, "release %s: correlation id %q: want a non-empty id without spaces", k, r.CorrelationID)
	case len(r.Targets) == 0:
		return permanent(op, "release %s: no targets: the ring reaches no computer group on Jamf Pro", k)
	}
	return nil
}

// Publish makes Jamf Pro hold the release: the version's package (made
// and uploaded once, its SHA3-512 checked), then the ring policy pointed
// at it and scoped to exactly the release's groups.
func (c *Connector) Publish(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	pub := connectors.Publication{Key: r.Key}
	if err := check("publish", r); err != nil {
		return pub, err
	}
	if r.Content.Name == "" || r.Content.Size < 0 || r.Content.Open == nil {
		return pub, permanent("publish", "release %s: content needs a name, a size and an opener", r.Key)
	}
	if _, _, err := targets("publish", r); err != nil {
		return pub, err
	}
	pk, created, err := c.ensurePackage(ctx, r)
	pub.Created += created
	if pk != nil {
		pub.Objects = append(pub.Objects, pk.object(r.CorrelationID))
	}
	if err != nil {
		return pub, err
	}
	objs, created, err := c.assign(ctx, "assign", r.Key, r, pk, false)
	pub.Objects = append(pub.Objects, objs...)
	pub.Created += created
	return pub, err
}

// pkgRef is a package the plane holds.
type pkgRef struct {
	proPackage
	id  int
	raw map[string]json.RawMessage // as read, for read-merge-write
	key connectors.ReleaseKey      // the AppKey it holds
}

func (p *pkgRef) object(corr string) connectors.Object {
	k := p.key
	return connectors.Object{Kind: "package", ID: p.ID, Name: p.PackageName, CorrelationID: corr, Release: &k}
}

// findPackage returns the package of k's version, nil when the plane
// holds none. With duplicates (a plane that let a second one through) the
// lowest id wins, every time.
func (c *Connector) findPackage(ctx context.Context, op string, k connectors.ReleaseKey) (*pkgRef, error) {
	name := PackageName(k)
	q := url.Values{"page": {"0"}, "page-size": {"10"}, "sort": {"id:asc"}, "filter": {`packageName=="` + name + `"`}}
	var list proList[json.RawMessage]
	if err := c.getJSON(ctx, op, "/api/v1/packages", q, &list); err != nil {
		return nil, err
	}
	for _, raw := range list.Results {
		var p proPackage
		var m map[string]json.RawMessage
		if err := parseJSON(raw, &p); err != nil {
			return nil, decodeError(op, http.StatusOK, err)
		}
		if err := parseJSON(raw, &m); err != nil {
			return nil, decodeError(op, http.StatusOK, err)
		}
		id, err := strconv.Atoi(p.ID)
		if err != nil || !strings.EqualFold(p.PackageName, name) {
			continue
		}
		return &pkgRef{proPackage: p, id: id, raw: m, key: k.AppKey()}, nil
	}
	return nil, nil
}

// packageBody is a new package: the fields Jamf requires and ours.
type packageBody struct {
	PackageName          string `json:"packageName"`
	FileName             string `json:"fileName"`
	CategoryID           string `json:"categoryId"`
	Info                 string `json:"info"`
	Notes                string `json:"notes"`
	Priority             int    `json:"priority"`
	FillUserTemplate     bool   `json:"fillUserTemplate"`
	RebootRequired       bool   `json:"rebootRequired"`
	OSInstall            bool   `json:"osInstall"`
	SuppressUpdates      bool   `json:"suppressUpdates"`
	SuppressFromDock     bool   `json:"suppressFromDock"`
	SuppressEula         bool   `json:"suppressEula"`
	SuppressRegistration bool   `json:"suppressRegistration"`
	SHA256               string `json:"sha256,omitempty"`
}

func newPackage(r connectors.Release, category string) packageBody {
	info := r.DisplayName
	if r.Publisher != "" {
		info = strings.TrimSpace(info + " (" + r.Publisher + ")")
	}
	return packageBody{
		PackageName: PackageName(r.Key), FileName: fileName(r.Key, r.Content.Name), CategoryID: category,
		Info: info, Notes: connectors.CorrelationMarker(r.CorrelationID, r.Key.AppKey()), Priority: 10,
		RebootRequired: r.Install.RebootBehavior == "force", SHA256: string(r.Content.Digest),
	}
}

// ensurePackage makes the plane hold the version's package with the
// release's content: created when missing, the correlation marker added
// to its notes when this correlation id is new to it, the content uploaded
// unless the plane's SHA3-512 already matches, then the hash polled for
// and checked.
func (c *Connector) ensurePackage(ctx context.Context, r connectors.Release) (*pkgRef, int, error) {
	const op = "create package"
	pk, err := c.findPackage(ctx, "find package", r.Key)
	if err != nil {
		return nil, 0, err
	}
	created := 0
	if pk == nil {
		body := newPackage(r, c.cfg.CategoryID)
		var out proCreated
		if err := c.sendJSON(ctx, op, http.MethodPost, "/api/v1/packages", body, &out); err != nil {
			return nil, 0, err
		}
		id, err := strconv.Atoi(out.ID)
		if err != nil {
			return nil, 0, permanent(op, "the plane answered the create with id %q", out.ID)
		}
		created = 1
		pk = &pkgRef{proPackage: proPackage{ID: out.ID, PackageName: body.PackageName, FileName: body.FileName, Notes: body.Notes}, id: id, key: r.Key.AppKey()}
	} else if !hasMarker(pk.Notes, r.CorrelationID, r.Key.AppKey()) {
		notes := withMarker(pk.Notes, r.CorrelationID, r.Key.AppKey())
		if err := c.updatePackageNotes(ctx, pk, notes); err != nil {
			return pk, 0, err
		}
	}
	if pk.HashType == "SHA3_512" && pk.HashValue != "" {
		want, err := contentSHA3(r.Content)
		if err != nil {
			return pk, created, permanent("upload content", "reading the content: %v", err)
		}
		if strings.EqualFold(want, pk.HashValue) {
			return pk, created, nil
		}
		return pk, created, permanent("upload content", "package %s (id %s) holds content with SHA3-512 %s, but the release's content has %s: "+
			"a version's content must not change; publish it as a new version", pk.PackageName, pk.ID, pk.HashValue, want)
	}
	want, err := c.upload(ctx, pk, r)
	if err != nil {
		return pk, created, err
	}
	return pk, created, c.awaitHash(ctx, pk, want)
}

// updatePackageNotes writes the package back as read with new notes, so
// fields the connector does not know keep their values.
func (c *Connector) updatePackageNotes(ctx context.Context, pk *pkgRef, notes string) error {
	m := make(map[string]json.RawMessage, len(pk.raw)+1)
	for k, v := range pk.raw {
		m[k] = v
	}
	n, _ := json.Marshal(notes)
	m["notes"] = n
	var out proPackage
	if err := c.sendJSON(ctx, "update package", http.MethodPut, "/api/v1/packages/"+pk.ID, m, &out); err != nil {
		return err
	}
	pk.Notes = notes
	pk.raw = m
	return nil
}

func contentSHA3(ct connectors.Content) (string, error) {
	rc, err := ct.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha3.New512()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// uploadBody is one pass over the content inside the multipart body,
// hashing what it reads.
type uploadBody struct {
	io.Reader
	rc         io.Closer
	sha3, sha2 hash.Hash
	n          int64
}

func (u *uploadBody) Close() error { return u.rc.Close() }

type counter struct{ u *uploadBody }

func (w counter) Write(p []byte) (int, error) {
	w.u.sha3.Write(p)
	w.u.sha2.Write(p)
	w.u.n += int64(len(p))
	return len(p), nil
}

// upload sends the content as the multipart field "file" and returns the
// SHA3-512 of what it sent. The body streams from the content's opener and
// can be produced again, so a throttled or re-authenticated request is
// replayed whole.
func (c *Connector) upload(ctx context.Context, pk *pkgRef, r connectors.Release) (string, error) {
	const op = "upload content"
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if _, err := mw.CreateFormFile("file", pk.FileName); err != nil {
		return "", permanent(op, "%v", err)
	}
	prefix := slices.Clone(head.Bytes())
	head.Reset()
	mw.Close()
	suffix := slices.Clone(head.Bytes())
	var last *uploadBody
	open := func() (io.ReadCloser, error) {
		rc, err := r.Content.Open()
		if err != nil {
			return nil, err
		}
		u := &uploadBody{rc: rc, sha3: sha3.New512(), sha2: sha256.New()}
		u.Reader = io.MultiReader(bytes.NewReader(prefix), io.TeeReader(rc, counter{u}), bytes.NewReader(suffix))
		last = u
		return u, nil
	}
	_, _, err := c.do(ctx, c.client, request{op: op, method: http.MethodPost, path: "/api/v1/packages/" + pk.ID + "/upload",
		contentType: mw.FormDataContentType(), accept: "application/json", open: open,
		length: int64(len(prefix)) + r.Content.Size + int64(len(suffix))})
	if err != nil {
		return "", err
	}
	if last == nil || last.n != r.Content.Size {
		return "", permanent(op, "the content's opener gave %d bytes, the release says %d", sizeOf(last), r.Content.Size)
	}
	if d := hex.EncodeToString(last.sha2.Sum(nil)); r.Content.Digest != "" && d != string(r.Content.Digest) {
		return "", permanent(op, "the content's opener gave bytes with SHA-256 %s, the release says %s", d, r.Content.Digest)
	}
	return hex.EncodeToString(last.sha3.Sum(nil)), nil
}

func sizeOf(u *uploadBody) int64 {
	if u == nil {
		return 0
	}
	return u.n
}

// awaitHash polls the package until the plane shows the SHA3-512 of its
// file, and checks it is the hash of what was sent. A 404 is the plane not
// showing the new package yet, not its absence.
func (c *Connector) awaitHash(ctx context.Context, pk *pkgRef, want string) error {
	const op = "poll package hash"
	for n := range c.cfg.PollAttempts {
		if n > 0 {
			if err := sleep(ctx, c.cfg.PollInterval); err != nil {
				return &connectors.Error{Plane: connectors.Jamf, Op: op, Class: connectors.Permanent, Err: err}
			}
		}
		var p proPackage
		err := c.getJSON(ctx, op, "/api/v1/packages/"+pk.ID, nil, &p)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if p.HashType != "SHA3_512" || p.HashValue == "" {
			continue
		}
		pk.HashType, pk.HashValue = p.HashType, p.HashValue
		if !strings.EqualFold(p.HashValue, want) {
			return permanent(op, "package %s (id %s) holds content with SHA3-512 %s, but %s was uploaded", pk.PackageName, pk.ID, p.HashValue, want)
		}
		return nil
	}
	return &connectors.Error{Plane: connectors.Jamf, Op: op, Class: connectors.Transient,
		Message: fmt.Sprintf("package %s (id %s): no SHA3-512 after %d polls", pk.PackageName, pk.ID, c.cfg.PollAttempts)}
}

// policyState is what a ring (or uninstall) policy must hold.
type policyState struct {
	name     string
	release  connectors.ReleaseKey // what its marker names
	corr     string
	include  []int
	exclude  []int
	required bool
	display  string
	packages []policyPackageXML
	scripts  []policyScriptXML
	reboot   *rebootXML
}

// body is the policy to send: cur (as read, nil for a new policy) with
// what s manages set. Scope entries other than computer groups
// (computers, buildings, departments) stay as read.
func (s policyState) body(cur *policyXML) policyXML {
	scope := scopeXML{}
	if cur != nil && cur.Scope != nil {
		scope = *cur.Scope
	}
	scope.AllComputers = false
	scope.ComputerGroups = groupRefs{Items: refs(s.include)}
	scope.Exclusions.ComputerGroups = groupRefs{Items: refs(s.exclude)}
	desc := connectors.CorrelationMarker(s.corr, s.release)
	ss := &selfServiceXML{Description: desc}
	g := generalXML{Name: s.name, Enabled: true, TriggerCheckin: true, Frequency: "Once per computer"}
	if !s.required {
		g.TriggerCheckin, g.Frequency = false, "Ongoing"
		ss.UseForSelfService, ss.DisplayName, ss.InstallButtonText = true, s.display, "Install"
		if s.display != "" {
			ss.Description = s.display + "\n\n" + desc
		}
	}
	p := policyXML{General: g, Scope: &scope, SelfService: ss, Reboot: s.reboot}
	if s.packages != nil {
		p.Packages = &packageConfXML{}
		p.Packages.Packages.Size = len(s.packages)
		p.Packages.Packages.Items = s.packages
	}
	if s.scripts != nil {
		p.Scripts = &scriptsXML{Size: len(s.scripts), Items: s.scripts}
	}
	return p
}

func refs(ids []int) []ref {
	out := make([]ref, 0, len(ids))
	for _, id := range ids {
		out = append(out, ref{ID: id})
	}
	return out
}

func ids(rs []ref) []int {
	out := make([]int, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sameIDs(a, b []ref) bool { return slices.Equal(ids(a), ids(b)) }

// samePayload reports whether cur acts with the packages and scripts want
// does (a change means computers must run the policy again).
func samePayload(cur, want *policyXML) bool {
	if want.Packages != nil {
		var have []policyPackageXML
		if cur.Packages != nil {
			have = cur.Packages.Packages.Items
		}
		if !slices.EqualFunc(have, want.Packages.Packages.Items, func(a, b policyPackageXML) bool { return a.ID == b.ID && a.Action == b.Action }) {
			return false
		}
	}
	if want.Scripts != nil {
		var have []policyScriptXML
		if cur.Scripts != nil {
			have = cur.Scripts.Items
		}
		if !slices.EqualFunc(have, want.Scripts.Items, func(a, b policyScriptXML) bool {
			return a.ID == b.ID && strings.EqualFold(a.Priority, b.Priority)
		}) {
			return false
		}
	}
	return true
}

// sameState reports whether cur already holds everything s manages.
func (s policyState) sameState(cur, want *policyXML) bool {
	g := cur.General
	if g.Enabled != want.General.Enabled || g.TriggerCheckin != want.General.TriggerCheckin || g.Frequency != want.General.Frequency {
		return false
	}
	if cur.Scope == nil || cur.Scope.AllComputers || !sameIDs(cur.Scope.ComputerGroups.Items, want.Scope.ComputerGroups.Items) ||
		!sameIDs(cur.Scope.Exclusions.ComputerGroups.Items, want.Scope.Exclusions.ComputerGroups.Items) {
		return false
	}
	if cur.SelfService == nil || cur.SelfService.UseForSelfService != want.SelfService.UseForSelfService ||
		!hasMarker(cur.SelfService.Description, s.corr, s.release) || len(markers(cur.SelfService.Description)) != 1 ||
		(want.SelfService.UseForSelfService && cur.SelfService.DisplayName != want.SelfService.DisplayName) {
		return false
	}
	if want.Reboot != nil && (cur.Reboot == nil || *cur.Reboot != *want.Reboot) {
		return false
	}
	return samePayload(cur, want)
}

// policyByName returns the policy named name, nil when the plane holds
// none.
func (c *Connector) policyByName(ctx context.Context, name string) (*policyXML, error) {
	var p policyXML
	err := c.getXML(ctx, "find policy", "/JSSResource/policies/name/"+url.PathEscape(name), &p)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// ensurePolicy makes the plane hold the policy s describes (cur is the
// plane's, nil when it holds none): created when
// missing; when its payload changes (or rerun is asked, or an earlier
// attempt left it disabled), disabled, its logs flushed so every computer
// runs it again, and enabled; otherwise written only if it differs.
func (c *Connector) ensurePolicy(ctx context.Context, op string, s policyState, cur *policyXML, rerun bool) (connectors.Object, int, error) {
	obj := connectors.Object{Kind: "policy", Name: s.name, CorrelationID: s.corr, Release: &s.release}
	want := s.body(cur)
	if cur == nil {
		id, err := c.sendXML(ctx, op, http.MethodPost, "/JSSResource/policies/id/0", want)
		obj.ID = strconv.Itoa(id)
		if err != nil {
			return obj, 0, err
		}
		return obj, 1, nil
	}
	id := cur.General.ID
	obj.ID = strconv.Itoa(id)
	path := "/JSSResource/policies/id/" + obj.ID
	if rerun || !cur.General.Enabled || !samePayload(cur, &want) {
		off := want
		off.General.Enabled = false
		if _, err := c.sendXML(ctx, op, http.MethodPut, path, off); err != nil {
			return obj, 0, err
		}
		if _, _, err := c.do(ctx, c.client, request{op: "flush policy logs", method: http.MethodDelete,
			path: "/JSSResource/logflush/policy/id/" + obj.ID + "/interval/Zero+Days", accept: "application/xml"}); err != nil {
			return obj, 0, err
		}
		_, err := c.sendXML(ctx, op, http.MethodPut, path, policyXML{General: want.General})
		return obj, 0, err
	}
	if !s.sameState(cur, &want) {
		if _, err := c.sendXML(ctx, op, http.MethodPut, path, want); err != nil {
			return obj, 0, err
		}
	}
	return obj, 0, nil
}

func reboot(behavior string) *rebootXML {
	switch behavior {
	case "suppress":
		return &rebootXML{NoUserLoggedIn: "Do not restart", UserLoggedIn: "Do not restart"}
	case "force":
		return &rebootXML{NoUserLoggedIn: "Restart immediately", UserLoggedIn: "Restart immediately"}
	}
	return nil
}

// assign points the ring policy of key's ring at pk, scoped to the
// release's groups, with key in its marker. A ring policy left unscoped
// by an uninstall has its uninstall policy unscoped first, so computers
// do not swing between the two.
func (c *Connector) assign(ctx context.Context, op string, key connectors.ReleaseKey, r connectors.Release, pk *pkgRef, rerun bool) ([]connectors.Object, int, error) {
	include, exclude, err := targets(op, r)
	if err != nil {
		return nil, 0, err
	}
	display := r.DisplayName
	if display == "" {
		display = key.App
	}
	s := policyState{name: PolicyName(key), release: key, corr: r.CorrelationID, include: include, exclude: exclude,
		required: r.Required, display: display, reboot: reboot(r.Install.RebootBehavior),
		packages: []policyPackageXML{{ID: pk.id, Name: pk.PackageName, Action: c.cfg.PackageAction}}}
	cur, err := c.policyByName(ctx, s.name)
	if err != nil {
		return nil, 0, err
	}
	if cur != nil && (cur.Scope == nil || len(cur.Scope.ComputerGroups.Items) == 0) {
		un, err := c.policyByName(ctx, UninstallPolicyName(key))
		if err != nil {
			return nil, 0, err
		}
		if err := c.unscope(ctx, un); err != nil {
			return nil, 0, err
		}
	}
	obj, created, err := c.ensurePolicy(ctx, op, s, cur, rerun)
	return []connectors.Object{obj}, created, err
}

// unscope empties the computer groups of a policy's scope (cur as read;
// nil, a policy the plane does not hold, is left alone).
func (c *Connector) unscope(ctx context.Context, cur *policyXML) error {
	if cur == nil || cur.Scope == nil || (len(cur.Scope.ComputerGroups.Items) == 0 && len(cur.Scope.Exclusions.ComputerGroups.Items) == 0) {
		return nil
	}
	scope := *cur.Scope
	scope.ComputerGroups, scope.Exclusions.ComputerGroups = groupRefs{Items: []ref{}}, groupRefs{Items: []ref{}}
	_, err := c.sendXML(ctx, "unscope policy", http.MethodPut, "/JSSResource/policies/id/"+strconv.Itoa(cur.General.ID),
		policyXML{General: cur.General, Scope: &scope})
	return err
}

// Remediate applies an action to a published release:
//
//   - Supersede points the ring policy at the release's package (what
//     Publish does when the release replaces another);
//   - PinPrior points the ring policy back at Prior's package, the policy
//     keeping the release's groups; the newer package stays, unassigned;
//   - Redeploy points the ring policy at the release's package and
//     flushes its logs, so every computer runs it again (each call
//     flushes: a retried Redeploy may reinstall twice);
//   - Uninstall takes the ring's groups off the ring policy (when it
//     installs this release) and scopes the ring's uninstall policy, which
//     runs the release's UninstallCommand as a script.
//
// The Publication's key is the release the ring now holds (Prior's for
// PinPrior, with the release's ring and scope).
func (c *Connector) Remediate(ctx context.Context, m connectors.Remediation) (connectors.Publication, error) {
	r := m.Release
	op := "remediate " + string(m.Action)
	pub := connectors.Publication{Key: r.Key}
	if err := check(op, r); err != nil {
		return pub, err
	}
	key := r.Key
	switch m.Action {
	case connectors.Supersede, connectors.Redeploy:
		if m.Action == connectors.Supersede && r.Prior == nil {
			return pub, permanent(op, "release %s: supersede needs the prior release", r.Key)
		}
	case connectors.PinPrior:
		if r.Prior == nil {
			return pub, permanent(op, "release %s: pin-prior needs the prior release", r.Key)
		}
		if r.Prior.App != r.Key.App {
			return pub, permanent(op, "release %s: the prior release %s is another application", r.Key, r.Prior)
		}
		key = connectors.ReleaseKey{App: r.Prior.App, Version: r.Prior.Version, Ring: r.Key.Ring, Scope: r.Key.Scope}
		pub.Key = key
	case connectors.Uninstall:
		return c.uninstall(ctx, r)
	default:
		return pub, permanent(op, "unknown action %q", m.Action)
	}
	pk, err := c.findPackage(ctx, "find package", key)
	if err != nil {
		return pub, err
	}
	if pk == nil {
		e := permanent(op, "Jamf Pro holds no package %s for %s: publish it first", PackageName(key), key.AppKey())
		e.NotFound = true
		return pub, e
	}
	pub.Objects = append(pub.Objects, pk.object(""))
	objs, created, err := c.assign(ctx, op, key, r, pk, m.Action == connectors.Redeploy)
	pub.Objects = append(pub.Objects, objs...)
	pub.Created += created
	return pub, err
}

// uninstall stops the ring policy installing the release and scopes the
// ring's uninstall policy to the release's groups.
func (c *Connector) uninstall(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	const op = "remediate uninstall"
	pub := connectors.Publication{Key: r.Key}
	if strings.TrimSpace(r.Install.UninstallCommand) == "" {
		return pub, permanent(op, "release %s has no uninstall command", r.Key)
	}
	include, exclude, err := targets(op, r)
	if err != nil {
		return pub, err
	}
	ring, err := c.policyByName(ctx, PolicyName(r.Key))
	if err != nil {
		return pub, err
	}
	if ring != nil {
		if ring.Packages != nil && len(ring.Packages.Packages.Items) > 0 {
			pk, err := c.findPackage(ctx, "find package", r.Key)
			if err != nil {
				return pub, err
			}
			if pk == nil || !slices.ContainsFunc(ring.Packages.Packages.Items, func(p policyPackageXML) bool { return p.ID == pk.id }) {
				return pub, permanent(op, "ring policy %s installs %s, not %s: uninstall the release the ring holds",
					PolicyName(r.Key), ring.Packages.Packages.Items[0].Name, PackageName(r.Key))
			}
		}
		if err := c.unscope(ctx, ring); err != nil {
			return pub, err
		}
		pub.Objects = append(pub.Objects, connectors.Object{Kind: "policy", ID: strconv.Itoa(ring.General.ID), Name: ring.General.Name})
	}
	sc, created, err := c.ensureScript(ctx, r)
	pub.Created += created
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, sc)
	id, _ := strconv.Atoi(sc.ID)
	s := policyState{name: UninstallPolicyName(r.Key), release: r.Key, corr: r.CorrelationID, include: include, exclude: exclude,
		required: true, scripts: []policyScriptXML{{ID: id, Name: sc.Name, Priority: "After"}}}
	cur, err := c.policyByName(ctx, s.name)
	if err != nil {
		return pub, err
	}
	obj, created, err := c.ensurePolicy(ctx, op, s, cur, false)
	pub.Objects = append(pub.Objects, obj)
	pub.Created += created
	return pub, err
}

// scriptContents is the uninstall script of a release: its command, under
// a shell line unless it brings its own.
func scriptContents(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, "#!") {
		return cmd + "\n"
	}
	return "#!/bin/sh\n" + cmd + "\n"
}

// ensureScript makes the plane hold the release's uninstall script with
// its command and the correlation marker.
func (c *Connector) ensureScript(ctx context.Context, r connectors.Release) (connectors.Object, int, error) {
	name := ScriptName(r.Key)
	obj := connectors.Object{Kind: "script", Name: name, CorrelationID: r.CorrelationID, Release: new(r.Key.AppKey())}
	q := url.Values{"page": {"0"}, "page-size": {"10"}, "sort": {"id:asc"}, "filter": {`name=="` + name + `"`}}
	var list proList[json.RawMessage]
	if err := c.getJSON(ctx, "find script", "/api/v1/scripts", q, &list); err != nil {
		return obj, 0, err
	}
	contents := scriptContents(r.Install.UninstallCommand)
	for _, raw := range list.Results {
		var sc proScript
		var m map[string]json.RawMessage
		if parseJSON(raw, &sc) != nil || parseJSON(raw, &m) != nil || !strings.EqualFold(sc.Name, name) {
			continue
		}
		obj.ID = sc.ID
		if sc.ScriptContents == contents && hasMarker(sc.Notes, r.CorrelationID, r.Key.AppKey()) {
			return obj, 0, nil
		}
		c2, _ := json.Marshal(contents)
		n, _ := json.Marshal(withMarker(sc.Notes, r.CorrelationID, r.Key.AppKey()))
		m["scriptContents"], m["notes"] = c2, n
		return obj, 0, c.sendJSON(ctx, "update script", http.MethodPut, "/api/v1/scripts/"+sc.ID, m, nil)
	}
	body := proScript{Name: name, Notes: connectors.CorrelationMarker(r.CorrelationID, r.Key.AppKey()), Priority: "AFTER",
		CategoryID: c.cfg.CategoryID, Info: "Uninstalls " + r.Key.App + " " + r.Key.Version + " (EUCORA)", ScriptContents: contents}
	var out proCreated
	if err := c.sendJSON(ctx, "create script", http.MethodPost, "/api/v1/scripts", body, &out); err != nil {
		return obj, 0, err
	}
	obj.ID = out.ID
	return obj, 1, nil
}
