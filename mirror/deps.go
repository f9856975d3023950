package mirror

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/eucora/eucora/mirror/debian"
)

type candidate struct {
	ix       *Index
	p        *debian.Package
	selected bool
}

type provided struct {
	c       *candidate
	version string // "" for an unversioned Provides
}

// resolveDeps selects, in universe (the packages of one architecture), what
// the selected packages need through Pre-Depends and Depends, recursively
// (breadth first, from the selected packages in index order). For each
// dependency "a | b | ...":
//
//  1. if any package already selected satisfies any alternative (by name
//     and version, or by a Provides: unversioned Provides satisfy only an
//     unversioned dependency), nothing is added;
//  2. otherwise the first alternative that anything satisfies is used, and
//     among the packages satisfying it one is selected, preferring in turn
//     Priority required or important, a real package of that name over a
//     provider, the highest version, and the lowest name.
//
// It returns how many packages were added and the dependencies that
// nothing satisfies.
func resolveDeps(universe []*candidate) (added int, unresolved []string) {
	byName := map[string][]*candidate{}
	provides := map[string][]provided{}
	for _, c := range universe {
		byName[c.p.Name] = append(byName[c.p.Name], c)
		if pv := c.p.Para.Get("Provides"); pv != "" {
			deps, err := debian.ParseRelations(pv)
			if err != nil {
				continue
			}
			for _, d := range deps {
				for _, rel := range d {
					v := ""
					if rel.Op == "=" {
						v = rel.Version
					}
					provides[rel.Name] = append(provides[rel.Name], provided{c, v})
				}
			}
		}
	}
	for _, cs := range byName {
		sort.SliceStable(cs, func(i, j int) bool { return debian.CompareVersions(cs[i].p.Version, cs[j].p.Version) > 0 })
	}
	candidates := func(r debian.Relation) []*candidate {
		var out []*candidate
		for _, c := range byName[r.Name] {
			if r.Satisfied(c.p.Version) {
				out = append(out, c)
			}
		}
		for _, pr := range provides[r.Name] {
			if r.Op == "" || (pr.version != "" && r.Satisfied(pr.version)) {
				out = append(out, pr.c)
			}
		}
		return out
	}
	var queue []*candidate
	for _, c := range universe {
		if c.selected {
			queue = append(queue, c)
		}
	}
	seenUnresolved := map[string]bool{}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, field := range []string{"Pre-Depends", "Depends"} {
			deps, err := debian.ParseRelations(c.p.Para.Get(field))
			if err != nil {
				msg := fmt.Sprintf("%s %s: %s: %v", c.p.Name, c.p.Version, field, err)
				if !seenUnresolved[msg] {
					seenUnresolved[msg] = true
					unresolved = append(unresolved, msg)
				}
				continue
			}
		dep:
			for _, d := range deps {
				cands := make([][]*candidate, len(d)) // cands[i] = candidates(d[i])
				for i, alt := range d {
					cands[i] = candidates(alt)
					for _, cand := range cands[i] {
						if cand.selected {
							continue dep
						}
					}
				}
				for i, cs := range cands {
					if len(cs) > 0 {
						best := bestCandidate(d[i].Name, cs)
						best.selected = true
						added++
						queue = append(queue, best)
						continue dep
					}
				}
				var alts []string
				for _, a := range d {
					alts = append(alts, a.String())
				}
				msg := fmt.Sprintf("%s %s %s: %v", c.p.Name, c.p.Version, field, alts)
				if !seenUnresolved[msg] {
					seenUnresolved[msg] = true
					unresolved = append(unresolved, msg)
				}
			}
		}
	}
	sort.Strings(unresolved)
	return added, unresolved
}

// bestCandidate picks among cs, the packages satisfying a dependency on
// name: Priority required or important first, then a real package named
// name before a provider, then the highest version, then the lowest name.
// Ties keep index order (cs lists real packages, highest version first,
// then providers in index order).
func bestCandidate(name string, cs []*candidate) *candidate {
	important := func(c *candidate) bool {
		p := strings.TrimSpace(c.p.Para.Get("Priority"))
		return p == "required" || p == "important"
	}
	prefer := func(a, b bool) int { // a true before a false
		switch {
		case a == b:
			return 0
		case a:
			return -1
		}
		return 1
	}
	// MinFunc returns the first of equal candidates: ties keep index order.
	return slices.MinFunc(cs, func(a, b *candidate) int {
		return cmp.Or(
			prefer(important(a), important(b)),
			prefer(a.p.Name == name, b.p.Name == name),
			debian.CompareVersions(b.p.Version, a.p.Version), // highest first
			strings.Compare(a.p.Name, b.p.Name),
		)
	})
}
