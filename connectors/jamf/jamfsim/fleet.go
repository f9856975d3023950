package jamfsim

import (
	"time"

	"github.com/eucora/eucora/connectors/sim/fleet"
)

// fleetGroups are a fleet's groups as static computer groups: group n
// (in sorted name order) is id n+1, device i (in id order) computer i+1.
func fleetGroups(f *fleet.Fleet) []Group {
	var out []Group
	for n, name := range f.Groups() {
		g := Group{ID: n + 1, Name: name}
		for _, i := range f.Members(name) {
			g.Computers = append(g.Computers, Computer{ID: i + 1, Name: f.Device(i).Name})
		}
		out = append(out, g)
	}
	return out
}

// scoped returns the computers a policy's scope takes in.
func (s *Server) scoped(p *policy) map[int]bool {
	in := map[int]bool{}
	if p.Scope.All {
		for id := range s.computers {
			in[id] = true
		}
	}
	for _, c := range p.Scope.Computers {
		in[c] = true
	}
	for _, gid := range p.Scope.Groups {
		if g := s.groups[gid]; g != nil {
			for _, c := range g.members {
				in[c] = true
			}
		}
	}
	for _, c := range p.Scope.ExclComputers {
		delete(in, c)
	}
	for _, gid := range p.Scope.ExclGroups {
		if g := s.groups[gid]; g != nil {
			for _, c := range g.members {
				delete(in, c)
			}
		}
	}
	return in
}

// rescope records, after a change of the policy or of groups, when the
// policy began to reach each computer it reaches now: a computer it
// reached before keeps its time, a new one gets now, and a policy that
// does not run at check-in (disabled, or Self Service only) reaches none.
func (s *Server) rescope(p *policy) {
	if s.fleet == nil {
		return
	}
	if !p.Enabled || !p.TriggerCheckin {
		p.since = nil
		return
	}
	now := s.opt.Now()
	in := s.scoped(p)
	next := make(map[int]time.Time, len(in))
	for c := range in {
		if t, ok := p.since[c]; ok {
			next[c] = t
		} else {
			next[c] = now
		}
	}
	p.since = next
}

// settle logs every run of the policy due by now, before a change that
// makes later check-ins run something else.
func (s *Server) settle(p *policy) {
	if s.fleet == nil {
		return
	}
	for c := range p.since {
		s.run(p, c)
	}
}

func (s *Server) settleAll() {
	for _, p := range s.policies {
		s.settle(p)
	}
}

func (s *Server) rescopeAll() {
	for _, p := range s.policies {
		s.rescope(p)
	}
}

// payload is what a policy does on a computer: install its first
// package's application version (named by the release marker in the
// package's notes, else the policy's, else the package's name), or
// uninstall (a script only).
func (s *Server) payload(p *policy) (app, version string, install bool) {
	if len(p.Packages) == 0 {
		return "", "", false
	}
	k := s.packages[p.Packages[0].id]
	if k == nil {
		return "", "", true
	}
	if app, version, ok := fleet.ReleaseOf(k.Notes); ok {
		return app, version, true
	}
	if app, version, ok := fleet.ReleaseOf(p.SelfService.Description); ok {
		return app, version, true
	}
	return k.PackageName, "", true
}

// run logs the policy on a fleet computer if it reaches the computer,
// has not run there since its logs were flushed, and the computer has
// checked in since: at the check-in, Completed or Failed as the fleet
// decides (a status set with SetOutcome wins).
func (s *Server) run(p *policy, c int) {
	since, ok := p.since[c]
	if !ok || c < 1 || c > s.fleet.Len() {
		return
	}
	for _, l := range s.logs[c] {
		if l.policy == p.id {
			return
		}
	}
	app, version, install := s.payload(p)
	k := [2]int{c, p.id}
	r := s.fleet.Result(s.fleet.Device(c-1).ID, fleet.Order{Install: install, App: app, Version: version, Attempt: s.runs[k] + 1, Since: since}, s.opt.Now())
	if !r.Done {
		return
	}
	s.runs[k]++
	status := Completed
	if r.Failed {
		status = Failed
	}
	if o := s.outcomes[c]; o != "" {
		status = o
	}
	s.logs[c] = append(s.logs[c], policyLog{policy: p.id, name: p.Name, at: r.At, status: status})
}
