package mirror

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror/debian"
)

// Change is one difference between two snapshots, per package name and
// architecture within a component.
type Change struct {
	Component string `json:"component"`
	Name      string `json:"name"`
	Arch      string `json:"arch"`
	Kind      string `json:"kind"` // "added", "removed", "upgraded", "downgraded", "changed"
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
}

// Diff compares snapshot a with snapshot b.
func (r *Repo) Diff(a, b string) ([]Change, error) {
	load := func(name string) (map[string][]Pkg, error) {
		s, err := r.Snapshot(name)
		if err != nil {
			return nil, err
		}
		m, err := r.LoadManifest(s.ID)
		if err != nil {
			return nil, err
		}
		out := map[string][]Pkg{}
		for _, ix := range m.Indexes {
			for _, p := range ix.Packages {
				k := ix.Component + "\x00" + p.Name + "\x00" + p.Arch
				out[k] = append(out[k], p)
			}
		}
		return out, nil
	}
	ma, err := load(a)
	if err != nil {
		return nil, err
	}
	mb, err := load(b)
	if err != nil {
		return nil, err
	}
	versions := func(ps []Pkg) string {
		seen := map[string]bool{}
		var vs []string
		for _, p := range ps {
			if !seen[p.Version] {
				seen[p.Version] = true
				vs = append(vs, p.Version)
			}
		}
		sort.Slice(vs, func(i, j int) bool { return debian.CompareVersions(vs[i], vs[j]) < 0 })
		return strings.Join(vs, ",")
	}
	same := func(x, y []Pkg) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].SHA256 != y[i].SHA256 {
				return false
			}
		}
		return true
	}
	var out []Change
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	for k := range keys {
		parts := strings.SplitN(k, "\x00", 3)
		c := Change{Component: parts[0], Name: parts[1], Arch: parts[2]}
		pa, pb := ma[k], mb[k]
		switch {
		case pa == nil:
			c.Kind, c.To = "added", versions(pb)
		case pb == nil:
			c.Kind, c.From = "removed", versions(pa)
		case same(pa, pb):
			continue
		default:
			c.From, c.To = versions(pa), versions(pb)
			switch cmp := debian.CompareVersions(pa[len(pa)-1].Version, pb[len(pb)-1].Version); {
			case cmp < 0:
				c.Kind = "upgraded"
			case cmp > 0:
				c.Kind = "downgraded"
			default:
				c.Kind = "changed" // same version, different bytes
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		if out[i].Arch != out[j].Arch {
			return out[i].Arch < out[j].Arch
		}
		return out[i].Component < out[j].Component
	})
	return out, nil
}

// PinSpec is one PKG=VERSION request.
type PinSpec struct {
	Package string `json:"package"`
	Version string `json:"version"`
}

// ParsePin parses "PKG=VERSION".
func ParsePin(s string) (PinSpec, error) {
	i := strings.IndexByte(s, '=')
	if i <= 0 || i == len(s)-1 {
		return PinSpec{}, fmt.Errorf("pin %q: want PKG=VERSION: %w", s, ErrInvalid)
	}
	p := PinSpec{Package: s[:i], Version: s[i+1:]}
	if !debian.ValidName(p.Package) && !strings.ContainsAny(p.Package, "*?") {
		return PinSpec{}, fmt.Errorf("pin %q: invalid package name %q: %w", s, p.Package, ErrInvalid)
	}
	if err := debian.ValidVersion(p.Version); err != nil {
		return PinSpec{}, fmt.Errorf("pin %q: %v: %w", s, err, ErrInvalid)
	}
	return p, nil
}

// Preferences renders apt preferences (apt_preferences(5)) that hold each
// package at its version. A priority above 1000 makes apt downgrade to the
// pinned version; 990..1000 holds without downgrading.
func Preferences(pins []PinSpec, priority int) string {
	var b strings.Builder
	for i, p := range pins {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "Explanation: EUCORA pin %s=%s\nPackage: %s\nPin: version %s\nPin-Priority: %s\n",
			p.Package, p.Version, p.Package, p.Version, strconv.Itoa(priority))
	}
	return b.String()
}

// VerifyResult reports a re-hash of a snapshot's objects.
type VerifyResult struct {
	Snapshot string   `json:"snapshot"`
	Objects  int      `json:"objects"`
	Bytes    int64    `json:"bytes"`
	Bad      []string `json:"bad,omitempty"` // one line per damaged or missing object
}

// VerifySnapshot re-hashes every package object of a snapshot (and its
// manifest) to find bit rot or tampering in the store. It changes nothing;
// the error, when objects are damaged, wraps the first *digest.MismatchError
// or cas.ErrNotFound.
func (r *Repo) VerifySnapshot(ctx context.Context, name string) (*VerifyResult, error) {
	s, err := r.Snapshot(name)
	if err != nil {
		return nil, err
	}
	m, err := r.LoadManifest(s.ID) // verified while read
	if err != nil {
		return nil, fmt.Errorf("snapshot %q manifest: %w", name, err)
	}
	res := &VerifyResult{Snapshot: name, Objects: 1}
	seen := map[digest.Digest]bool{}
	var first error
	for _, ix := range m.Indexes {
		for _, p := range ix.Packages {
			if seen[p.SHA256] {
				continue
			}
			seen[p.SHA256] = true
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			res.Objects++
			res.Bytes += p.Size
			if err := r.Store.Verify(p.SHA256); err != nil {
				res.Bad = append(res.Bad, fmt.Sprintf("%s (%s): %v", p.Key(), p.Filename, err))
				if first == nil {
					first = err
				}
			}
		}
	}
	if first != nil {
		return res, fmt.Errorf("snapshot %q: %d of %d objects damaged or missing, first: %s: %w", name, len(res.Bad), res.Objects, res.Bad[0], first)
	}
	return res, nil
}
