package intunesim

import (
	"time"

	"github.com/eucora/eucora/connectors/sim/fleet"
)

// The install failure a fleet device reports: MSI's "fatal error during
// installation" (0x80070643, 1603) as Intune shows a Win32 app's exit
// code, with the installStateDetail that points at it.
const (
	fleetErrorCode   = -2147023293
	fleetErrorDetail = "seeInstallErrorCode"
)

// release is the application version an app installs, for the fleet's
// failure rates.
type release struct{ app, version string }

// releaseOf reads the release marker of the app's notes (the connector's
// "eucora:correlation=ID release=APP@VERSION/ring-N/SCOPE" lines), else
// takes the display name and version.
func (s *Server) releaseOf(a *app) release {
	notes, _ := a.props["notes"].(string)
	for _, l := range markerLines(notes) {
		if app, version, ok := fleet.ReleaseOf("release=" + l.release); ok {
			return release{app, version}
		}
	}
	name, _ := a.props["displayName"].(string)
	version, _ := a.props["displayVersion"].(string)
	return release{name, version}
}

// retargetFleet is retarget over the fleet: it gives every device whose
// intent changed its new order, from now, keeping what it reported for
// the order it leaves (an order not acted on yet leaves no trace).
func (s *Server) retargetFleet(a *app) {
	rank := map[string]int{"required": 3, "uninstall": 2, "available": 1, "availableWithoutEnrollment": 1}
	want := map[int]string{}
	excluded := map[int]bool{}
	for _, x := range a.assignments {
		var members []int
		switch x.target["@odata.type"] {
		case "#microsoft.graph.allDevicesAssignmentTarget", "#microsoft.graph.allLicensedUsersAssignmentTarget":
			members = make([]int, s.fleet.Len())
			for i := range members {
				members[i] = i
			}
		default:
			members = s.fleet.Members(x.group())
		}
		for _, i := range members {
			if x.exclusion() {
				excluded[i] = true
			} else if rank[x.intent] > rank[want[i]] {
				want[i] = x.intent
			}
		}
	}
	for i := range excluded {
		delete(want, i)
	}
	now, rel := s.o.Now(), s.releaseOf(a)
	for _, ds := range a.devices {
		if i, ok := s.fleet.Index(ds.device.ID); !ok || want[i] == "" {
			s.settle(a, ds, rel, now)
			ds.intent = ""
		}
	}
	for i, intent := range want {
		d := s.fleet.Device(i)
		ds := a.devices[d.ID]
		if ds == nil {
			ds = &deviceState{device: Device{ID: d.ID, Name: d.Name}, state: "notInstalled", sync: now}
			a.devices[d.ID] = ds
			a.sorted = nil
		}
		if ds.intent == intent {
			continue
		}
		s.settle(a, ds, rel, now)
		ds.intent = intent
		switch intent {
		case "required":
			ds.order, ds.since = true, now
			ds.attempts++
		case "uninstall":
			ds.order, ds.since = true, now
		}
	}
}

// settle makes what the device reports for its order, if it has acted
// on it by now, its last report, and ends the order.
func (s *Server) settle(a *app, ds *deviceState, rel release, now time.Time) {
	if !ds.order {
		return
	}
	st, detail, code, at := s.fleetView(a, ds, rel, now)
	if st != "pendingInstall" {
		ds.state, ds.detail, ds.code, ds.sync = st, detail, code, at
	}
	ds.order = false
}

// fleetView is what a fleet device reports for the app at now: its
// order's outcome once it checked in after the order, pendingInstall
// before that for a required install (an uninstall not done yet still
// shows the last report), and otherwise its last report.
func (s *Server) fleetView(a *app, ds *deviceState, rel release, now time.Time) (state, detail string, code int64, sync time.Time) {
	if !ds.order {
		return ds.state, ds.detail, ds.code, ds.sync
	}
	install := ds.intent == "required"
	r := s.fleet.Result(ds.device.ID, fleet.Order{Install: install, App: rel.app, Version: rel.version, Attempt: ds.attempts, Since: ds.since}, now)
	switch {
	case !r.Done && install:
		return "pendingInstall", "", 0, ds.since
	case !r.Done:
		return ds.state, ds.detail, ds.code, ds.sync
	case !install:
		return "notInstalled", "", 0, r.At
	case r.Failed:
		return "failed", fleetErrorDetail, fleetErrorCode, r.At
	}
	return "installed", "", 0, r.At
}

// sortedFleet is sortedDevices, kept on the app until a device is added.
func (a *app) sortedFleet() []*deviceState {
	if a.sorted == nil || len(a.sorted) != len(a.devices) {
		a.sorted = a.sortedDevices()
	}
	return a.sorted
}

// fleetStatuses answers deviceStatuses from the fleet, rendering only the
// page asked for.
func (s *Server) fleetStatuses(q *request, a *app) {
	devs := a.sortedFleet()
	now, rel := s.o.Now(), s.releaseOf(a)
	s.pageOf(q, "deviceAppManagement/mobileApps('"+a.id+"')/deviceStatuses", len(devs), func(i int) map[string]any {
		ds := devs[i]
		st, detail, code, sync := s.fleetView(a, ds, rel, now)
		return installStatus(a, ds.device, st, detail, code, sync)
	})
}
