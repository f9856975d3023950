package landscapesim

import (
	"container/heap"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors/sim/fleet"
)

// fleetFailure is what a fleet computer's failed package change reports:
// apt's words for a maintainer script that failed.
const fleetFailure = "E: Sub-process /usr/bin/dpkg returned an error code (1)"

// dueEntry is a fleet child activity and the check-in it ends at.
type dueEntry struct {
	at time.Time
	a  *activity
}

// dueHeap orders fleet children by check-in (then by id).
type dueHeap []dueEntry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].a.id < h[j].a.id
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// order gives a fleet computer's child activity what it asks (install or
// not, of an application version) and queues it for the computer's first
// check-in after it was made or may be delivered. Callers hold mu.
func (s *Server) order(child *activity, install bool, app, version string) {
	i := int(child.computer) - 1
	if i < 0 || i >= s.fleet.Len() {
		return
	}
	since := child.created
	if child.after.After(since) {
		since = child.after
	}
	attempt := 0
	if install {
		k := [2]string{strconv.FormatInt(child.computer, 10), fleet.RateKey(app, version)}
		s.attempts[k]++
		attempt = s.attempts[k]
	}
	child.order = &fleet.Order{Install: install, App: app, Version: version, Attempt: attempt, Since: since}
	heap.Push(&s.due, dueEntry{at: s.fleet.DueAt(s.fleet.Device(i).ID, since), a: child})
}

// settle ends, in check-in order, every fleet child activity whose
// computer has checked in by now: succeeded, or failed as the fleet
// decides (a problem found when it was made, or an outcome a test set,
// wins). Every request settles first, so what it reads is up to date.
// Callers hold mu.
func (s *Server) settle() {
	if s.fleet == nil {
		return
	}
	now := s.now()
	for s.due.Len() > 0 && !s.due[0].at.After(now) {
		e := heap.Pop(&s.due).(dueEntry)
		a := e.a
		if isFinal(a.status) { // canceled
			continue
		}
		r := s.fleet.Result(s.fleet.Device(int(a.computer)-1).ID, *a.order, now)
		if r.Failed && a.outcome.Status == "" {
			a.outcome = Outcome{Status: "failed", ResultCode: 100, ResultText: fleetFailure}
		}
		s.complete(a, r.At)
	}
}

// releaseOfPackage is the application an install of a package at a
// version is for: the one in the marker of a profile that pins the
// package to that version (the release's own profile first), else the
// package itself.
func (s *Server) releaseOfPackage(pkg, version string) string {
	app := pkg
	for _, p := range s.profiles {
		for _, c := range p.constraints {
			f := strings.Fields(c[1])
			if c[0] != "depends" || len(f) != 3 || f[0] != pkg || f[1] != "=" || f[2] != version {
				continue
			}
			if a, rv, ok := fleet.ReleaseOf(p.description); ok {
				if rv == version {
					return a
				}
				app = a
			}
		}
	}
	return app
}
