package landscape

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
)

// Query reports the key's profile (and the family's profiles pinning the
// key's version), the tags pinned to the version (Assigned), and for each
// computer carrying the ring's tags the state of its latest package
// activity since the profile was made.
func (c *Client) Query(ctx context.Context, k connectors.ReleaseKey) (connectors.Status, error) {
	st := connectors.Status{Key: k, Objects: []connectors.Object{}, Devices: []connectors.DeviceState{}, Assigned: []string{}}
	if err := checkKey(k); err != nil {
		return st, permanent("query", err)
	}
	profiles, err := c.Profiles(ctx)
	if err != nil {
		return st, err
	}
	p, ok := profileByTitle(profiles, profileTitle(k))
	if !ok {
		return st, notPublished("query", k)
	}
	a, ok := parseAnchor(p.Description)
	if !ok {
		return st, permanent("query", fmt.Errorf("profile %q was not made by EUCORA: its description is %q", p.Name, clip(p.Description, 200)))
	}
	pkg, fam := a.Package, familyOf(k)
	ring := slices.Clone(a.Targets)
	st.Objects = append(st.Objects, profileObject(p))
	for _, q := range profiles {
		qa, ok := parseAnchor(q.Description)
		if f, _ := family(qa.Release); !ok || f != fam {
			continue
		}
		ring = append(ring, q.Tags...)
		if v, pinned := pinnedVersion(q, pkg); pinned && v == k.Version {
			st.Assigned = append(st.Assigned, q.Tags...)
			if q.ID != p.ID {
				st.Objects = append(st.Objects, profileObject(q))
			}
		}
	}
	slices.Sort(st.Assigned)
	st.Assigned = slices.Compact(st.Assigned)
	slices.Sort(ring)
	ring = slices.Compact(ring)

	scripts, err := c.Scripts(ctx)
	if err != nil {
		return st, err
	}
	title := scriptTitle(k)
	if s, ok := scriptByTitle(scripts, title); ok {
		st.Objects = append(st.Objects, scriptObject(s, "", k))
	}
	if len(ring) == 0 {
		return st, nil
	}
	comps, err := c.Computers(ctx, computerQuery(ring))
	if err != nil {
		return st, err
	}
	since := ParseTime(p.CreationTime)
	after := ""
	if !since.IsZero() {
		after = since.Add(-time.Second).Format("2006-01-02T15:04:05")
	}
	acts, err := c.Activities(ctx, activityQuery(ring, after))
	if err != nil {
		return st, err
	}
	latest := map[int64]Activity{}
	for _, act := range acts {
		if act.ComputerID == nil || act.ParentID == nil || !relevant(act, pkg, title) {
			continue
		}
		if cur, ok := latest[*act.ComputerID]; !ok || act.ID > cur.ID {
			latest[*act.ComputerID] = act
		}
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i].Hostname < comps[j].Hostname })
	for _, comp := range comps {
		d := connectors.DeviceState{Device: comp.Hostname, DeviceID: strconv.FormatInt(comp.ID, 10), State: connectors.StateUnknown,
			Detail: "no package activity since the release was published"}
		if act, ok := latest[comp.ID]; ok {
			d = deviceState(comp, act, pkg, k.Version)
		}
		st.Devices = append(st.Devices, d)
		st.Summary.Add(d.State)
	}
	return st, nil
}

// relevant reports whether a computer's activity changes the package or
// runs the release's script.
func relevant(a Activity, pkg, script string) bool {
	return job{kind: jobInstall, pkg: pkg}.matches(a) || job{kind: jobRemove, pkg: pkg}.matches(a) ||
		job{kind: jobScript, script: script}.matches(a)
}

// statusState maps activity_status onto an install state: succeeded is
// installed, failed failed, undelivered, unapproved, scheduled and
// delivered pending, canceled not installed.
func statusState(status string) connectors.InstallState {
	switch status {
	case StatusSucceeded:
		return connectors.StateInstalled
	case StatusFailed:
		return connectors.StateFailed
	case StatusUndelivered, StatusUnapproved, StatusScheduled, StatusDelivered:
		return connectors.StatePending
	case StatusCanceled:
		return connectors.StateNotInstalled
	}
	return connectors.StateUnknown
}

// deviceState is what a computer's latest activity says of the version
// ("" any version): an install (upgrade, downgrade) of it or a run of its
// script maps by statusState; a completed removal or a completed change to
// another version means the version is not installed.
func deviceState(comp Computer, a Activity, pkg, version string) connectors.DeviceState {
	d := connectors.DeviceState{Device: comp.Hostname, DeviceID: strconv.FormatInt(comp.ID, 10), State: statusState(a.ActivityStatus),
		Detail: str(a.ResultText)}
	if d.Device == "" {
		d.Device = d.DeviceID
	}
	if a.ResultCode != nil && a.ActivityStatus == StatusFailed {
		d.ErrorCode = *a.ResultCode
	}
	for _, t := range []*string{a.CompletionTime, a.DeliveryTime, &a.CreationTime} {
		if at := ParseTime(str(t)); !at.IsZero() {
			d.At = at
			break
		}
	}
	for _, ch := range a.Changes {
		if ch.Package != pkg {
			continue
		}
		other := ch.Type == "remove" || (version != "" && ch.InstallVersion != nil && *ch.InstallVersion != version)
		if !other {
			break
		}
		if a.ActivityStatus == StatusSucceeded {
			d.State = connectors.StateNotInstalled
			if ch.Type != "remove" {
				d.Detail = strings.TrimSpace(pkg + " " + str(ch.InstallVersion) + " installed instead. " + d.Detail)
			}
		} else if a.Pending() && ch.Type == "remove" {
			d.State = connectors.StatePending
		} else {
			d.State = connectors.StateUnknown
		}
		break
	}
	return d
}

// Job reports the computers of one activity group (the handle Publish and
// Remediate return), each with its child activity's state: GetActivities
// "parent-id:N" (with AuthToken, REST v2's GET /api/v2/activities/N and
// its children).
func (c *Client) Job(ctx context.Context, handle string) ([]connectors.DeviceState, error) {
	id, err := strconv.ParseInt(handle, 10, 64)
	if err != nil || id <= 0 {
		return nil, permanent("job", fmt.Errorf("handle %q: want an activity group id", handle))
	}
	var children []Activity
	if c.cfg.Auth == AuthToken {
		g, err := c.activityV2(ctx, id)
		if err != nil {
			return nil, err
		}
		children = g.Children
	} else if children, err = c.Activities(ctx, "parent-id:"+handle); err != nil {
		return nil, err
	}
	var ids []string
	for _, a := range children {
		if a.ComputerID != nil {
			ids = append(ids, "id:"+strconv.FormatInt(*a.ComputerID, 10))
		}
	}
	names := map[int64]Computer{}
	if len(ids) > 0 {
		comps, err := c.Computers(ctx, strings.Join(ids, " OR "))
		if err != nil {
			return nil, err
		}
		for _, comp := range comps {
			names[comp.ID] = comp
		}
	}
	out := []connectors.DeviceState{}
	for _, a := range children {
		if a.ComputerID == nil {
			continue
		}
		comp, ok := names[*a.ComputerID]
		if !ok {
			comp = Computer{ID: *a.ComputerID}
		}
		pkg := ""
		if len(a.Changes) > 0 {
			pkg = a.Changes[0].Package
		}
		out = append(out, deviceState(comp, a, pkg, ""))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out, nil
}

// Find returns the package profiles whose description and the scripts
// whose code carry the correlation id.
func (c *Client) Find(ctx context.Context, correlationID string) ([]connectors.Object, error) {
	if correlationID == "" || strings.ContainsAny(correlationID, " \t\r\n") {
		return nil, permanent("find", fmt.Errorf("correlation id %q: want a non-empty id without spaces", correlationID))
	}
	out := []connectors.Object{}
	profiles, err := c.Profiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range profiles {
		if a, ok := parseAnchor(p.Description); ok && a.Correlation == correlationID {
			out = append(out, profileObject(p))
		}
	}
	scripts, err := c.Scripts(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range scripts {
		if !strings.HasPrefix(s.Title, scriptPrefix) {
			continue
		}
		code, err := c.ScriptCode(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		marker, _ := scriptMarker(code)
		if corr, ok := connectors.ParseCorrelationMarker(marker); ok && corr == correlationID {
			o := connectors.Object{Kind: "script", ID: strconv.FormatInt(s.ID, 10), Name: s.Title, CorrelationID: corr}
			if _, rel, ok := strings.Cut(marker, " release="); ok {
				if k, ok := parseKey(strings.Fields(rel)[0]); ok {
					o.Release = &k
				}
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// Check authenticates and reads the first page of computers.
func (c *Client) Check(ctx context.Context) (connectors.Check, error) {
	start := time.Now()
	data, err := c.call(ctx, "GetComputers", params{"limit": strconv.Itoa(c.page), "offset": "0"})
	if err != nil {
		return connectors.Check{Plane: connectors.Landscape}, err
	}
	comps, err := ParseComputers(data)
	if err != nil {
		return connectors.Check{Plane: connectors.Landscape}, unreadable("GetComputers", err)
	}
	return connectors.Check{Plane: connectors.Landscape, Latency: time.Since(start),
		Detail: fmt.Sprintf("%d computers on the first page", len(comps))}, nil
}
