package intune

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/eucora/eucora/connectors"
)

func notFound(op string, k connectors.ReleaseKey) *connectors.Error {
	return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, NotFound: true, Message: "Intune holds no app for " + k.AppKey().Name() + " (" + k.String() + ")"}
}

// appOf finds the app of a release key's version.
func (c *conn) appOf(ctx context.Context, op string, k connectors.ReleaseKey) (mobileApp, error) {
	apps, err := c.findApps(ctx, lobFilter, k.AppKey())
	if err != nil {
		return mobileApp{}, err
	}
	if len(apps) == 0 {
		return mobileApp{}, notFound(op, k)
	}
	return apps[0], nil
}

// Query reports the app of the key's version, the ring's assignments,
// and what every device the app reaches reports (Intune reports install
// state per app, not per assignment: the devices are all the app's).
func (c *conn) Query(ctx context.Context, k connectors.ReleaseKey) (connectors.Status, error) {
	st := connectors.Status{Key: k, Assigned: []string{}}
	if err := k.Validate(); err != nil {
		return st, badRelease("query", err)
	}
	a, err := c.appOf(ctx, "query", k)
	if err != nil {
		return st, err
	}
	m, _ := parseNotes(a.Notes).marker(k)
	corr := m.Correlation
	st.Objects = append(st.Objects, appObject(a, corr, k))
	xs, err := c.assignments(ctx, a)
	if err != nil {
		return st, err
	}
	for _, x := range xs {
		if !m.has(x.group()) {
			continue
		}
		st.Objects = append(st.Objects, assignmentObject(x, corr, k))
		if x.targetType() == "groupAssignmentTarget" && x.intent() != "uninstall" {
			st.Assigned = append(st.Assigned, x.group())
		}
	}
	if c.cfg.APIVersion != "beta" {
		return st, nil // device status is beta-only
	}
	devs, err := list[deviceStatus](ctx, c, "device statuses", "/deviceAppManagement/mobileApps/"+a.ID+"/deviceStatuses")
	if err != nil {
		return st, err
	}
	unknown := 0
	for _, d := range devs {
		s := installState(d.InstallState)
		if s == connectors.StateUnknown {
			unknown++
		}
		st.Devices = append(st.Devices, connectors.DeviceState{Device: d.DeviceName, DeviceID: d.DeviceID, State: s, Detail: d.InstallStateDetail, ErrorCode: d.ErrorCode, At: d.LastSyncDateTime})
	}
	if ring, err := c.ringDevices(ctx, m); err != nil {
		return st, err
	} else if ring != nil {
		// The ring's devices only: the app's other assignments belong to
		// other rings (their own release keys).
		st.Devices = slices.DeleteFunc(st.Devices, func(d connectors.DeviceState) bool { return !ring[d.DeviceID] })
		for _, d := range st.Devices {
			st.Summary.Add(d.State)
		}
		return st, nil
	}
	var sum installSummary
	if err := c.call(ctx, "install summary", http.MethodGet, "/deviceAppManagement/mobileApps/"+a.ID+"/installSummary", nil, &sum); err != nil {
		return st, err
	}
	st.Summary = connectors.Summary{Installed: sum.Installed, Failed: sum.Failed, Pending: sum.Pending, NotInstalled: sum.NotInstalled, NotApplicable: sum.NotApplicable, Unknown: unknown}
	return st, nil
}

// ringDevices returns the device ids of a release's ring: the device
// members of its included groups (transitively) less those of its
// excluded ones, read from Entra ID. It returns nil when the marker names
// no group (a release published before markers carried targets), which
// leaves every device of the app.
func (c *conn) ringDevices(ctx context.Context, m marker) (map[string]bool, error) {
	if len(m.Targets) == 0 {
		return nil, nil
	}
	in, out := map[string]bool{}, map[string]bool{}
	for _, t := range m.Targets {
		members, err := list[directoryDevice](ctx, c, "group members", "/groups/"+url.PathEscape(t.ID)+"/transitiveMembers/microsoft.graph.device?$select=id,deviceId&$top=999")
		if err != nil {
			return nil, err
		}
		for _, d := range members {
			if t.Exclude {
				out[d.DeviceID] = true
			} else {
				in[d.DeviceID] = true
			}
		}
	}
	for id := range out {
		delete(in, id)
	}
	return in, nil
}

// directoryDevice is an Entra ID device object, as group members list it.
type directoryDevice struct {
	ID       string `json:"id"`
	DeviceID string `json:"deviceId"`
}

// Find returns every app whose notes carry the correlation id, and the
// assignments of the releases marked with it.
func (c *conn) Find(ctx context.Context, correlationID string) ([]connectors.Object, error) {
	apps, err := list[mobileApp](ctx, c, "list mobile apps", "/deviceAppManagement/mobileApps?$filter="+queryEscape(lobFilter))
	if err != nil {
		return nil, err
	}
	out := []connectors.Object{}
	for _, a := range apps {
		var mine []marker
		for _, m := range parseNotes(a.Notes).markers {
			if m.Correlation == correlationID {
				mine = append(mine, m)
			}
		}
		if len(mine) == 0 {
			continue
		}
		k, _ := parseKey(mine[0].Release)
		out = append(out, appObject(a, correlationID, k))
		xs, err := c.assignments(ctx, a)
		if err != nil {
			return nil, err
		}
		for _, x := range xs {
			for _, m := range mine {
				if m.has(x.group()) {
					k, _ := parseKey(m.Release)
					out = append(out, assignmentObject(x, correlationID, k))
					break
				}
			}
		}
	}
	return out, nil
}

// Remediate applies an action to a published release:
//
//   - PinPrior moves the ring's assignments back to the prior release's
//     app (added there first, then removed from the release's app: read,
//     merge, write on both);
//   - Uninstall turns the ring's assignments into uninstall ones;
//   - Supersede makes the release's app supersede the prior's with
//     supersedenceType replace (the prior is uninstalled first);
//   - Redeploy writes the ring's assignments away and back, which Intune
//     takes as a new assignment: devices evaluate the app again.
func (c *conn) Remediate(ctx context.Context, rm connectors.Remediation) (connectors.Publication, error) {
	r := rm.Release
	pub := connectors.Publication{Key: r.Key}
	if err := checkRelease(r); err != nil {
		return pub, badRelease("remediate", err)
	}
	op := "remediate " + string(rm.Action)
	switch rm.Action {
	case connectors.PinPrior, connectors.Supersede:
		if r.Prior == nil {
			return pub, permanent(op, "%s needs the release's prior", rm.Action)
		}
	case connectors.Uninstall, connectors.Redeploy:
	default:
		return pub, permanent(op, "unknown action %q", rm.Action)
	}
	a, err := c.appOf(ctx, op, r.Key)
	if err != nil {
		return pub, err
	}
	typ := a.typeName()
	m := marker{Correlation: r.CorrelationID, Release: r.Key.String(), Targets: r.Targets}
	if err := c.ensureMarker(ctx, &a, m); err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, appObject(a, r.CorrelationID, r.Key))
	var ring []rawAssignment
	var created int
	switch rm.Action {
	case connectors.PinPrior:
		prior, err := c.appOf(ctx, op, *r.Prior)
		if err != nil {
			return pub, err
		}
		pm := marker{Correlation: r.CorrelationID, Release: r.Prior.String(), Targets: r.Targets}
		if old, ok := parseNotes(prior.Notes).marker(*r.Prior); ok {
			pm.Correlation = old.Correlation // the prior's line keeps the intent that made it
		}
		if err := c.ensureMarker(ctx, &prior, pm); err != nil {
			return pub, err
		}
		pr, n, err := c.setRing(ctx, prior, r.Targets, wanted(prior.typeName(), intentOf(r), r))
		if err != nil {
			return pub, err
		}
		if _, _, err := c.setRing(ctx, a, r.Targets, nil); err != nil {
			return pub, err
		}
		pub.Created = n
		pub.Objects = append(pub.Objects, appObject(prior, pm.Correlation, *r.Prior))
		pub.Objects = append(pub.Objects, objectsOf(pr, pm.Correlation, *r.Prior)...)
		return pub, nil
	case connectors.Uninstall:
		ring, created, err = c.setRing(ctx, a, r.Targets, wanted(typ, "uninstall", r))
	case connectors.Supersede:
		created, err = c.supersede(ctx, a, *r.Prior, "replace")
		if err == nil {
			ring, _, err = c.setRing(ctx, a, r.Targets, wanted(typ, intentOf(r), r))
		}
	case connectors.Redeploy:
		if _, _, err = c.setRing(ctx, a, r.Targets, nil); err == nil {
			ring, created, err = c.setRing(ctx, a, r.Targets, wanted(typ, intentOf(r), r))
		}
	}
	if err != nil {
		return pub, err
	}
	pub.Created = created
	pub.Objects = append(pub.Objects, objectsOf(ring, r.CorrelationID, r.Key)...)
	return pub, nil
}
