package mirror

import (
	"fmt"
	"sort"

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
// the selected packages need through Pre-Depends and Depends: for each
// dependency already satisfied by a selected package nothing is added;
// otherwise the highest version satisfying the first satisfiable
// alternative (a real package, or a Provides that meets the constraint) is
// selected, and its own dependencies followed. It returns how many
// packages were added and the dependencies that nothing satisfies.
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
				for _, cs := range cands {
					if len(cs) > 0 {
						cs[0].selected = true
						added++
						queue = append(queue, cs[0])
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
