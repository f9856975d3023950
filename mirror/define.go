package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/digest"
)

// Defining, changing and removing mirrors. Every change of a mirror's
// state file is made under the mirror's lock (the one Sync holds), so an
// edit or a delete waits for a running sync and never loses its result,
// and nothing is saved unless every check passed.

// DefineOptions choose how a mirror definition is checked before it is
// saved.
type DefineOptions struct {
	// Fetcher, when set, fetches and verifies the upstream's Release
	// (CheckUpstream) before the definition is saved. Nil saves the
	// definition unchecked ('--no-check': defining a mirror offline); the
	// first sync then finds what the check would have.
	Fetcher *Fetcher
}

// UpstreamCheck is what CheckUpstream found at a mirror's upstream.
type UpstreamCheck struct {
	// Release is the URL of the verified InRelease or Release.
	Release    string    `json:"release"`
	Suite      string    `json:"suite,omitempty"`
	Codename   string    `json:"codename,omitempty"`
	Date       time.Time `json:"date,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
}

// CheckUpstream checks that m's distribution answers: it fetches
// URL/dists/DIST/InRelease (else Release and Release.gpg, as Sync does)
// with f, verifies the signature against m's keyring and that the Release
// has not expired, and that it lists a Packages index for each of m's
// components and architectures. It downloads no index.
//
// A distribution the server does not have (404 or 410 for both InRelease
// and Release) is a *DistNotFoundError; a component or architecture the
// Release does not list wraps ErrNotOffered; a refused signature is a
// *SignatureError naming the keyring.
func (r *Repo) CheckUpstream(ctx context.Context, m *Mirror, f *Fetcher) (*UpstreamCheck, error) {
	if f == nil {
		f = &Fetcher{}
	}
	keyring, err := ReadKeyring(m.KeyringData, "mirror "+m.Name+" keyring")
	if err != nil {
		return nil, err
	}
	rel, relFile, err := verifiedRelease(ctx, f, m, keyring, r.now())
	if isNotFound(err) {
		// fetchRelease asks for Release only after InRelease was not
		// found, and turns a missing Release.gpg into a signature
		// refusal: a 404 here is the Release's.
		return nil, &DistNotFoundError{URL: m.URL, Dist: m.Dist, Err: err}
	}
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, comp := range m.Components {
		for _, arch := range m.Architectures {
			dir := comp + "/binary-" + arch + "/Packages"
			if _, ok := rel.Files[dir]; ok {
				continue
			}
			if _, ok := rel.Files[dir+".gz"]; ok {
				continue
			}
			if _, ok := rel.Files[dir+".xz"]; ok {
				continue
			}
			missing = append(missing, comp+"/binary-"+arch)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s lists no Packages index for %s (the Release's components: %s; architectures: %s): %w",
			relFile, strings.Join(missing, ", "), listOrNone(rel.Components()), listOrNone(rel.Architectures()), ErrNotOffered)
	}
	return &UpstreamCheck{Release: relFile, Suite: rel.Suite(), Codename: rel.Codename(), Date: rel.Date, ValidUntil: rel.ValidUntil}, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// DefineMirror validates a new mirror definition (name, URL, distribution,
// components, architectures, keyring, filter syntax), checks its upstream
// when opt.Fetcher is set, and records it. On any error nothing is saved.
// It returns what the upstream check found, nil when unchecked.
func (r *Repo) DefineMirror(ctx context.Context, m *Mirror, keyring []byte, opt DefineOptions) (*UpstreamCheck, error) {
	if err := CheckName("mirror", m.Name); err != nil {
		return nil, err
	}
	unlock, err := r.lockMirror(m.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(r.mirrorPath(m.Name)); err == nil {
		return nil, fmt.Errorf("mirror %q: %w (change it with 'eucora mirror apt edit %s', or remove it with 'eucora mirror apt delete %s')", m.Name, ErrExists, m.Name, m.Name)
	}
	if err := r.prepareMirror(m, keyring); err != nil {
		return nil, err
	}
	var check *UpstreamCheck
	if opt.Fetcher != nil {
		if check, err = r.CheckUpstream(ctx, m, opt.Fetcher); err != nil {
			return nil, err
		}
	}
	if err := writeJSON(r.mirrorPath(m.Name), m); err != nil {
		return nil, err
	}
	return check, nil
}

// lockMirror takes the mirror's lock, the one Sync holds.
func (r *Repo) lockMirror(name string) (func(), error) {
	return r.lockFile(filepath.Join(r.Dir, "mirrors", "."+name+".lock"))
}

// MirrorEdit is a change to a mirror's definition: each field that is set
// (non-nil) replaces the mirror's.
type MirrorEdit struct {
	URL           *string
	Dist          *string
	Components    []string
	Architectures []string
	// Keyring replaces the trusted keys (armored or binary); KeyringFile
	// is where they were read from (for messages).
	Keyring     []byte
	KeyringFile string
	Filter      *string
	WithDeps    *bool
}

// FieldChange is one field of a definition an edit changed.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// EditResult reports an edit.
type EditResult struct {
	Mirror string `json:"mirror"`
	// Changed lists the fields whose value changed, in a fixed order;
	// empty when the edit changed nothing (nothing was then written).
	Changed []FieldChange `json:"changed"`
	// Check is what the upstream check found; nil when the edit changed
	// nothing the upstream answers for (only the filter or dependencies),
	// or when unchecked.
	Check *UpstreamCheck `json:"check,omitempty"`
	// Synced and Manifest are the last good sync, kept until the next one.
	Synced   time.Time     `json:"synced,omitzero"`
	Manifest digest.Digest `json:"manifest,omitempty"`
}

// EditMirror changes the definition of mirror name. The new definition is
// validated as DefineMirror validates a new one, and its upstream checked
// when opt.Fetcher is set and the URL, distribution, components,
// architectures or keyring changed. The last good sync (manifest,
// packages, time) is kept until the next sync replaces it, and snapshots
// taken from it are untouched; a changed URL or distribution also forgets
// the Release date the rollback check compares with (it was the old
// upstream's). On any error nothing is saved.
func (r *Repo) EditMirror(ctx context.Context, name string, e MirrorEdit, opt DefineOptions) (*EditResult, error) {
	if err := CheckName("mirror", name); err != nil {
		return nil, err
	}
	unlock, err := r.lockMirror(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := r.Mirror(name)
	if err != nil {
		return nil, err
	}
	nm := *old
	nm.Components = slices.Clone(old.Components)
	nm.Architectures = slices.Clone(old.Architectures)
	if e.URL != nil {
		nm.URL = *e.URL
	}
	if e.Dist != nil {
		nm.Dist = *e.Dist
	}
	if e.Components != nil {
		nm.Components = slices.Clone(e.Components)
	}
	if e.Architectures != nil {
		nm.Architectures = slices.Clone(e.Architectures)
	}
	if e.Filter != nil {
		nm.Filter = *e.Filter
	}
	if e.WithDeps != nil {
		nm.WithDeps = *e.WithDeps
	}
	keyring := old.KeyringData
	if e.Keyring != nil {
		keyring, nm.KeyringFile = e.Keyring, e.KeyringFile
	} else if got := digest.FromBytes(keyring); got != old.Keyring {
		return nil, &digest.MismatchError{Object: "mirror " + name + " keyring", Want: string(old.Keyring), Got: string(got), WantSize: -1}
	}
	if err := r.prepareMirror(&nm, keyring); err != nil {
		return nil, err
	}
	res := &EditResult{Mirror: name, Changed: diffMirror(old, &nm), Synced: old.Synced, Manifest: old.Manifest}
	if len(res.Changed) == 0 {
		return res, nil
	}
	upstream := false
	for _, c := range res.Changed {
		switch c.Field {
		case "url", "dist", "components", "architectures", "keyring":
			upstream = true
		}
	}
	if upstream && opt.Fetcher != nil {
		if res.Check, err = r.CheckUpstream(ctx, &nm, opt.Fetcher); err != nil {
			return nil, err
		}
	}
	if nm.URL != old.URL || nm.Dist != old.Dist {
		nm.ReleaseDate = time.Time{}
	}
	if err := writeJSON(r.mirrorPath(name), &nm); err != nil {
		return nil, err
	}
	return res, nil
}

// diffMirror lists the definition fields that differ between a and b.
func diffMirror(a, b *Mirror) []FieldChange {
	var out []FieldChange
	add := func(field, from, to string) {
		if from != to {
			out = append(out, FieldChange{Field: field, From: from, To: to})
		}
	}
	add("url", a.URL, b.URL)
	add("dist", a.Dist, b.Dist)
	add("components", strings.Join(a.Components, " "), strings.Join(b.Components, " "))
	add("architectures", strings.Join(a.Architectures, " "), strings.Join(b.Architectures, " "))
	if a.Keyring != b.Keyring {
		add("keyring", keyringLabel(a), keyringLabel(b))
	}
	add("filter", a.Filter, b.Filter)
	add("with_deps", strconv.FormatBool(a.WithDeps), strconv.FormatBool(b.WithDeps))
	return out
}

func keyringLabel(m *Mirror) string {
	s := "sha256 " + m.Keyring.Short()
	if m.KeyringFile != "" {
		s = m.KeyringFile + " (" + s + ")"
	}
	return s
}

// DeleteResult reports a deleted mirror.
type DeleteResult struct {
	Mirror string `json:"mirror"`
	// Removed lists the state files removed.
	Removed []string `json:"removed"`
	// Manifest is the last good sync's manifest; it and every package
	// object stay in the content store (snapshots may share them).
	Manifest digest.Digest `json:"manifest,omitempty"`
	// Snapshots are the mirror's snapshots, kept: they are immutable and
	// independent of the mirror's definition.
	Snapshots []string `json:"snapshots"`
	// Published are the publications of those snapshots, as
	// "SNAPSHOT at PREFIX:DIST"; they keep serving.
	Published []string `json:"published"`
}

// InUseError refuses to delete a mirror whose snapshots are published.
type InUseError struct {
	Mirror    string
	Published []string // "SNAPSHOT at PREFIX:DIST"
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("mirror %q is in use: snapshots of it are published (%s); --force deletes the mirror anyway (its snapshots and their publications stay)",
		e.Mirror, strings.Join(e.Published, ", "))
}

func (e *InUseError) Unwrap() error { return ErrInUse }

// DeleteMirror removes mirror name's definition and sync state. It
// refuses with an *InUseError when snapshots of the mirror are published,
// unless force is set. Snapshots and publications are kept, and so are
// the content objects (packages, manifests): the store keeps them until
// they are collected. An interrupted sync's intent log is honoured first
// (its possibly torn objects are re-verified), so no torn object is left
// for another mirror to reuse.
func (r *Repo) DeleteMirror(name string, force bool) (*DeleteResult, error) {
	if err := CheckName("mirror", name); err != nil {
		return nil, err
	}
	unlock, err := r.lockMirror(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := r.Mirror(name)
	if err != nil {
		return nil, err
	}
	res := &DeleteResult{Mirror: name, Manifest: m.Manifest, Removed: []string{}, Snapshots: []string{}, Published: []string{}}
	snaps, err := r.Snapshots()
	if err != nil {
		return nil, err
	}
	ours := map[string]bool{}
	for _, s := range snaps {
		if s.Mirror == name {
			ours[s.Name] = true
			res.Snapshots = append(res.Snapshots, s.Name)
		}
	}
	prefixes, err := r.Prefixes()
	if err != nil {
		return nil, err
	}
	for _, ps := range prefixes {
		for _, dist := range sortedKeys(ps.Dists) {
			if s := ps.Dists[dist].Snapshot; ours[s] {
				res.Published = append(res.Published, s+" at "+ps.Prefix+":"+dist)
			}
		}
	}
	if len(res.Published) > 0 && !force {
		return nil, &InUseError{Mirror: name, Published: res.Published}
	}
	if err := r.recoverPending(name); err != nil {
		return nil, err
	}
	p := r.mirrorPath(name)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := atomicfile.SyncDir(filepath.Dir(p)); err != nil {
		return nil, err
	}
	res.Removed = append(res.Removed, p)
	// The lock file stays: a process waiting on it must not take a lock
	// on a removed file while another takes one on a new file.
	return res, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
