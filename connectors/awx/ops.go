package awx

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
)

// permanent is a refusal made here, before or instead of a call.
func permanent(op string, format string, args ...any) *connectors.Error {
	return &connectors.Error{Plane: connectors.AWX, Op: op, Class: connectors.Permanent, Message: fmt.Sprintf(format, args...)}
}

// template finds the configured job template by name.
func (c *Client) template(ctx context.Context) (JobTemplate, error) {
	const op = "find job template"
	var found []JobTemplate
	ref := "/api/v2/job_templates/?" + url.Values{"name": {c.cfg.JobTemplate}}.Encode()
	err := walk(ctx, c, op, ref, func(t JobTemplate) bool {
		if t.Name == c.cfg.JobTemplate {
			found = append(found, t)
		}
		return true
	})
	switch {
	case err != nil:
		return JobTemplate{}, err
	case len(found) == 0:
		e := permanent(op, "no job template named %q: create it with EUCORA's playbook (awx.Playbook), prompting for variables and limit", c.cfg.JobTemplate)
		e.NotFound = true
		return JobTemplate{}, e
	case len(found) > 1:
		return JobTemplate{}, permanent(op, "%d job templates are named %q (one per organization?): name EUCORA's uniquely", len(found), c.cfg.JobTemplate)
	}
	return found[0], nil
}

// eucoraJob is a job EUCORA launched, with its extra_vars read.
type eucoraJob struct {
	Job
	vars Vars
}

// jobs hands the template's EUCORA jobs to each, newest first, until each
// returns false. AWX refuses to filter on extra_vars, so every job of the
// template is listed and matched here.
func (c *Client) jobs(ctx context.Context, tpl JobTemplate, each func(eucoraJob) bool) error {
	ref := fmt.Sprintf("/api/v2/job_templates/%d/jobs/?order_by=-id&page_size=200", tpl.ID)
	return walk(ctx, c, "list jobs", ref, func(j Job) bool {
		v, ok := ParseVars(j.ExtraVars)
		if !ok {
			return true
		}
		return each(eucoraJob{Job: j, vars: v})
	})
}

func (c *Client) object(tpl JobTemplate, j eucoraJob) connectors.Object {
	k := j.vars.Key
	return connectors.Object{Kind: "job", ID: strconv.Itoa(j.ID), Name: fmt.Sprintf("%s #%d: %s %s", tpl.Name, j.ID, j.vars.Action, j.vars.Release),
		CorrelationID: j.vars.CorrelationID, Release: &k}
}

// launch checks the template's launch prompts and launches it with vars
// on the targets; jobType "check" launches a check job (the template must
// prompt for the job type), "" the template's own (run).
func (c *Client) launch(ctx context.Context, tpl JobTemplate, v Vars, limit, jobType string) (eucoraJob, error) {
	var info LaunchInfo
	ref := fmt.Sprintf("/api/v2/job_templates/%d/launch/", tpl.ID)
	if err := c.call(ctx, "read launch prompts", http.MethodGet, ref, nil, &info); err != nil {
		return eucoraJob{}, err
	}
	if p := info.problem(); p != "" {
		return eucoraJob{}, permanent("launch", "job template %q cannot launch EUCORA releases: %s", tpl.Name, p)
	}
	body := map[string]any{"extra_vars": v, "limit": limit}
	if jobType != "" {
		if !info.AskJobType {
			return eucoraJob{}, permanent("launch", "job template %q does not prompt for the job type on launch (ask_job_type_on_launch is false): no %s job", tpl.Name, jobType)
		}
		body["job_type"] = jobType
	}
	var out Launched
	if err := c.call(ctx, "launch", http.MethodPost, ref, body, &out); err != nil {
		return eucoraJob{}, err
	}
	if out.Job == 0 {
		return eucoraJob{}, &connectors.Error{Plane: connectors.AWX, Op: "launch", Class: connectors.Permanent, Message: "the launch answer names no job"}
	}
	for _, f := range []string{"extra_vars", "limit", "job_type"} {
		if _, ok := out.IgnoredFields[f]; ok {
			return eucoraJob{}, permanent("launch", "job %d of template %q was launched but AWX ignored its %s (the template stopped prompting for it): cancel the job", out.Job, tpl.Name, f)
		}
	}
	return eucoraJob{Job: Job{ID: out.Job, Status: out.Status, Limit: limit, JobType: jobType}, vars: v}, nil
}

// Publish launches the install job of the release on its targets, unless
// the template already has an install job for the release key (of any
// status: a failed host is reported by Query and redeployed by
// Remediate, not by publishing again). Publication.Handle is the job id;
// the job runs asynchronously (Wait, Query).
func (c *Client) Publish(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	if err := checkRelease(r); err != nil {
		return connectors.Publication{}, permanent("publish", "%v", err)
	}
	tpl, err := c.template(ctx)
	if err != nil {
		return connectors.Publication{}, err
	}
	want := r.Key.String()
	var found *eucoraJob
	err = c.jobs(ctx, tpl, func(j eucoraJob) bool {
		if j.vars.Release == want && j.vars.Action == ActionInstall {
			found = &j
			return false
		}
		return true
	})
	if err != nil {
		return connectors.Publication{}, err
	}
	pub := connectors.Publication{Key: r.Key}
	if found != nil {
		pub.Objects, pub.Handle = []connectors.Object{c.object(tpl, *found)}, strconv.Itoa(found.ID)
		return pub, nil
	}
	limit, _ := Limit(r.Targets)
	j, err := c.launch(ctx, tpl, c.vars(r, ActionInstall, r.Key.Version, "present"), limit, "")
	if err != nil {
		return pub, err
	}
	pub.Objects, pub.Created, pub.Handle = []connectors.Object{c.object(tpl, j)}, 1, strconv.Itoa(j.ID)
	return pub, nil
}

// Remediate launches the remediation on the release's targets unless the
// ring's latest job (the newest job for the same app, ring and scope) is
// already it:
//   - PinPrior installs Release.Prior's version and pins it (a downgrade
//     with apt preferences Pin-Priority 1001);
//   - Uninstall removes the package and its pin;
//   - Redeploy runs the install of the release again (unless the ring's
//     latest job is a redeploy of it that has not failed);
//   - Supersede is Publish: installing the release replaces the prior
//     version and its pin.
func (c *Client) Remediate(ctx context.Context, m connectors.Remediation) (connectors.Publication, error) {
	r := m.Release
	if err := checkRelease(r); err != nil {
		return connectors.Publication{}, permanent("remediate", "%v", err)
	}
	var v Vars
	switch m.Action {
	case connectors.Supersede:
		return c.Publish(ctx, r)
	case connectors.PinPrior:
		p := r.Prior
		switch {
		case p == nil:
			return connectors.Publication{}, permanent("remediate", "pin-prior of %s: the release names no prior release", r.Key)
		case p.App != r.Key.App || !debVersion.MatchString(p.Version):
			return connectors.Publication{}, permanent("remediate", "pin-prior of %s: prior %s is not an earlier version of the same app", r.Key, *p)
		}
		v = c.vars(r, ActionPinPrior, p.Version, "present")
	case connectors.Uninstall:
		v = c.vars(r, ActionUninstall, r.Key.Version, "absent")
	case connectors.Redeploy:
		v = c.vars(r, ActionRedeploy, r.Key.Version, "present")
	default:
		return connectors.Publication{}, permanent("remediate", "action %q: want supersede, pin-prior, uninstall or redeploy", m.Action)
	}
	tpl, err := c.template(ctx)
	if err != nil {
		return connectors.Publication{}, err
	}
	var latest *eucoraJob
	err = c.jobs(ctx, tpl, func(j eucoraJob) bool {
		if sameRing(j.vars.Key, r.Key) && j.vars.Action != ActionVerify {
			latest = &j
			return false
		}
		return true
	})
	if err != nil {
		return connectors.Publication{}, err
	}
	pub := connectors.Publication{Key: r.Key}
	if latest != nil && latest.vars.Release == v.Release && latest.vars.Action == v.Action && latest.vars.Version == v.Version &&
		!(v.Action == ActionRedeploy && (latest.Status == "failed" || latest.Status == "error" || latest.Status == "canceled")) {
		pub.Objects, pub.Handle = []connectors.Object{c.object(tpl, *latest)}, strconv.Itoa(latest.ID)
		return pub, nil
	}
	limit, _ := Limit(r.Targets)
	j, err := c.launch(ctx, tpl, v, limit, "")
	if err != nil {
		return pub, err
	}
	pub.Objects, pub.Created, pub.Handle = []connectors.Object{c.object(tpl, j)}, 1, strconv.Itoa(j.ID)
	return pub, nil
}

// Query reports the jobs of the release key and what the ring's latest job
// did to each host. The release is assigned to the latest job's targets
// when that job puts the key's version on them (its install, a redeploy,
// or a rollback of a later release to this one); its hosts are then
// installed, failed (the failing task's message in Detail) or unknown
// (unreachable), pending while the job runs. When the latest job put
// another version or removed the package, its hosts that ran it are
// not-installed.
//
// Once the latest job that puts the version has finished, the newest
// check job since (ActionVerify) says what each host holds now: a host
// whose version check failed is not-installed (failed, if its install had
// failed), one whose check passed is installed; a host the check could
// not reach or whose check did not get to the version keeps the latest
// job's state. When that knowledge is older than Config.VerifyAfter and no
// check job of the ring is pending or running, Query launches one (it
// does not wait for it: its findings show in a later Query). Check jobs
// are not listed in Status.Objects (Find lists them: they carry the
// correlation id).
func (c *Client) Query(ctx context.Context, k connectors.ReleaseKey) (connectors.Status, error) {
	if k.App == "" || k.Version == "" || !k.Ring.Valid() {
		return connectors.Status{}, permanent("query", "release key %q: want an app, a version and a ring of 0-4", k)
	}
	tpl, err := c.template(ctx)
	if err != nil {
		return connectors.Status{}, err
	}
	st := connectors.Status{Key: k, Objects: []connectors.Object{}, Devices: []connectors.DeviceState{}, Assigned: []string{}}
	want := k.String()
	var latest, check *eucoraJob
	checking := false // a check job of the ring newer than latest is pending or running
	listed := map[int]bool{}
	err = c.jobs(ctx, tpl, func(j eucoraJob) bool {
		if j.vars.Action == ActionVerify {
			if latest == nil && sameRing(j.vars.Key, k) {
				switch {
				case !j.Done():
					checking = true
				case check == nil:
					check = &j
				}
			}
			return true
		}
		if latest == nil && sameRing(j.vars.Key, k) {
			latest = &j
			if j.vars.puts(k) && j.vars.Release != want {
				st.Objects = append(st.Objects, c.object(tpl, j))
				listed[j.ID] = true
			}
		}
		if j.vars.Release == want && !listed[j.ID] {
			st.Objects = append(st.Objects, c.object(tpl, j))
		}
		return true
	})
	if err != nil {
		return connectors.Status{}, err
	}
	if len(st.Objects) == 0 {
		e := permanent("query", "job template %q has no job for release %s", tpl.Name, k)
		e.NotFound = true
		return connectors.Status{}, e
	}
	if latest == nil {
		return st, nil
	}
	puts := latest.vars.puts(k)
	if puts {
		st.Assigned = append(st.Assigned, LimitTargets(latest.Limit)...)
	}
	devs, err := c.devices(ctx, latest.Job, puts)
	if err != nil {
		return connectors.Status{}, err
	}
	if puts && latest.Done() {
		if check != nil && check.vars.Release == latest.vars.Release && check.vars.Version == latest.vars.Version {
			if devs, err = c.verified(ctx, check.Job, devs); err != nil {
				return connectors.Status{}, err
			}
		} else {
			check = nil
		}
		if !checking && c.stale(*latest, check) {
			c.verify(ctx, tpl, *latest)
		}
	}
	st.Devices = devs
	for _, d := range devs {
		st.Summary.Add(d.State)
	}
	if !latest.Done() {
		st.Deferred = fmt.Sprintf("AWX job %d (%s of %s) is %s: the hosts' states are final when it finishes", latest.ID, latest.vars.Action, latest.vars.Release, latest.Status)
	}
	return st, nil
}

// stale reports whether what AWX knows of the ring's hosts, from the
// latest job or the newest check job since, is older than VerifyAfter.
func (c *Client) stale(latest eucoraJob, check *eucoraJob) bool {
	if c.cfg.VerifyAfter < 0 {
		return false
	}
	at := latest.Created
	if latest.Finished != nil {
		at = *latest.Finished
	}
	if check != nil {
		at = check.Created
		if check.Finished != nil {
			at = *check.Finished
		}
	}
	return c.cfg.Now().Sub(at) >= c.cfg.VerifyAfter
}

// verify launches a check job of the ring's latest job: its variables
// with the action ActionVerify, on its limit. A failure to launch is
// logged and leaves Query's answer as it is: the next Query tries again.
func (c *Client) verify(ctx context.Context, tpl JobTemplate, latest eucoraJob) {
	v := latest.vars
	v.Action = ActionVerify
	j, err := c.launch(ctx, tpl, v, latest.Limit, "check")
	if err != nil {
		c.log.Warn("awx: cannot verify the ring's hosts with a check job", "release", v.Release, "job", latest.ID, "err", err)
		return
	}
	c.log.Debug("awx: verifying the ring's hosts", "release", v.Release, "of_job", latest.ID, "check_job", j.ID)
}

// verified lays check job j's findings over the latest job's device
// states: the version check passed (installed) or failed (not-installed,
// or failed where the install had failed) on each host it ran on.
func (c *Client) verified(ctx context.Context, j Job, devs []connectors.DeviceState) ([]connectors.DeviceState, error) {
	evs, err := c.Events(ctx, j.ID, url.Values{"task": {VerifyTask}, "event__in": {"runner_on_ok,runner_on_failed"}})
	if err != nil {
		return nil, err
	}
	found := map[string]JobEvent{}
	for _, e := range evs {
		if e.HostName != "" && e.Task == VerifyTask {
			found[e.HostName] = e
		}
	}
	for i := range devs {
		d := &devs[i]
		e, ok := found[d.Device]
		if !ok {
			continue // unreachable, or stopped before the version check: nothing learnt
		}
		res, _ := e.EventData["res"].(map[string]any)
		holds, _ := res["stdout"].(string)
		if holds = strings.Join(strings.Fields(holds), " "); holds == "" {
			holds = "nothing"
		}
		d.At = e.Created
		switch {
		case e.Event == "runner_on_ok":
			d.State, d.Detail = connectors.StateInstalled, fmt.Sprintf("check job %d: holds %s", j.ID, holds)
		case d.State == connectors.StateFailed:
			d.Detail = fmt.Sprintf("check job %d: holds %s; %s", j.ID, holds, d.Detail)
		default:
			d.State, d.Detail = connectors.StateNotInstalled, fmt.Sprintf("check job %d: holds %s, not the release's version (changed outside EUCORA?)", j.ID, holds)
		}
	}
	return devs, nil
}

// devices maps job j's hosts onto device states; puts says whether the
// job put the queried release on them.
func (c *Client) devices(ctx context.Context, j Job, puts bool) ([]connectors.DeviceState, error) {
	var out []connectors.DeviceState
	if !j.Done() {
		seen := map[string]bool{}
		evs, err := c.Events(ctx, j.ID, url.Values{"event__startswith": {"runner_on_"}})
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.HostName != "" && !seen[e.HostName] {
				seen[e.HostName] = true
				out = append(out, connectors.DeviceState{Device: e.HostName, State: connectors.StatePending,
					Detail: fmt.Sprintf("job %d %s", j.ID, j.Status), At: e.Created})
			}
		}
		return out, nil
	}
	sums, err := c.Summaries(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	why := map[string]string{}
	if slices.ContainsFunc(sums, func(s HostSummary) bool { return s.Failures > 0 || s.Dark > 0 }) {
		evs, err := c.Events(ctx, j.ID, url.Values{"event__in": {"runner_on_failed,runner_on_unreachable,runner_item_on_failed"}})
		if err != nil {
			return nil, err
		}
		why = failureDetails(evs)
	}
	for _, s := range sums {
		d := connectors.DeviceState{Device: s.HostName, At: s.Modified}
		if s.Host != nil {
			d.DeviceID = strconv.Itoa(*s.Host)
		}
		switch {
		case s.Dark > 0:
			d.State, d.Detail = connectors.StateUnknown, "unreachable in job "+strconv.Itoa(j.ID)+": "+why[s.HostName]
		case s.Failures > 0 && puts:
			d.State, d.Detail = connectors.StateFailed, "job "+strconv.Itoa(j.ID)+": "+why[s.HostName]
		case s.Failures > 0:
			d.State, d.Detail = connectors.StateUnknown, "job "+strconv.Itoa(j.ID)+" (another version or a removal) failed: "+why[s.HostName]
		case puts:
			d.State, d.Detail = connectors.StateInstalled, fmt.Sprintf("job %d: ok=%d changed=%d", j.ID, s.OK, s.Changed)
		default:
			d.State, d.Detail = connectors.StateNotInstalled, fmt.Sprintf("job %d put another version or removed the package", j.ID)
		}
		out = append(out, d)
	}
	return out, nil
}

// failureDetails names, per host, the first task that failed (or found
// the host unreachable) and its message; a looped task's own message ("One
// or more items failed") gives way to the failing item's.
func failureDetails(evs []JobEvent) map[string]string {
	out := map[string]string{}
	item := map[string]string{} // host + task -> the first failing item's message
	for _, e := range evs {
		if _, done := out[e.HostName]; done || e.HostName == "" {
			continue
		}
		switch {
		case e.Event == "runner_item_on_failed":
			if k := e.HostName + "\x00" + e.Task; item[k] == "" {
				item[k] = e.Message()
			}
		case e.Failed || e.Event == "runner_on_unreachable":
			msg := e.Message()
			if m := item[e.HostName+"\x00"+e.Task]; m != "" {
				msg = m
			}
			out[e.HostName] = fmt.Sprintf("task %q: %s", e.Task, msg)
		}
	}
	return out
}

// Find returns every job of the template whose extra_vars carry the
// correlation id.
func (c *Client) Find(ctx context.Context, correlationID string) ([]connectors.Object, error) {
	if correlationID == "" {
		return nil, permanent("find", "empty correlation id")
	}
	tpl, err := c.template(ctx)
	if err != nil {
		return nil, err
	}
	out := []connectors.Object{}
	err = c.jobs(ctx, tpl, func(j eucoraJob) bool {
		if j.vars.CorrelationID == correlationID {
			out = append(out, c.object(tpl, j))
		}
		return true
	})
	return out, err
}

// Check authenticates, finds the job template and reads its launch prompts.
func (c *Client) Check(ctx context.Context) (connectors.Check, error) {
	start := time.Now()
	tpl, err := c.template(ctx)
	if err != nil {
		return connectors.Check{}, err
	}
	var info LaunchInfo
	if err := c.call(ctx, "read launch prompts", http.MethodGet, fmt.Sprintf("/api/v2/job_templates/%d/launch/", tpl.ID), nil, &info); err != nil {
		return connectors.Check{}, err
	}
	detail := fmt.Sprintf("job template %q (id %d, playbook %s) can launch EUCORA releases", tpl.Name, tpl.ID, tpl.Playbook)
	switch {
	case c.cfg.VerifyAfter < 0:
		detail += "; hosts are not verified (verification is off)"
	case !info.AskJobType:
		detail += "; it does not prompt for the job type, so hosts cannot be verified with check jobs and a host changed by hand goes unseen"
	default:
		detail += fmt.Sprintf("; hosts are verified with a check job once what AWX knows of them is %s old", c.cfg.VerifyAfter)
	}
	if p := info.problem(); p != "" {
		detail = fmt.Sprintf("job template %q (id %d) cannot launch EUCORA releases: %s", tpl.Name, tpl.ID, p)
	}
	return connectors.Check{Plane: connectors.AWX, Latency: time.Since(start), Detail: detail}, nil
}

// Job reads job id.
func (c *Client) Job(ctx context.Context, id int) (Job, error) {
	var j Job
	err := c.call(ctx, "read job", http.MethodGet, fmt.Sprintf("/api/v2/jobs/%d/", id), nil, &j)
	return j, err
}

// Wait polls job id every interval (default one second) until it has
// finished, and returns it.
func (c *Client) Wait(ctx context.Context, id int, interval time.Duration) (Job, error) {
	if interval <= 0 {
		interval = time.Second
	}
	for {
		j, err := c.Job(ctx, id)
		if err != nil || j.Done() {
			return j, err
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return j, &connectors.Error{Plane: connectors.AWX, Op: "wait for job", Class: connectors.ClassOf(ctx.Err()), Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// Summaries reads the job's host summaries.
func (c *Client) Summaries(ctx context.Context, id int) ([]HostSummary, error) {
	var out []HostSummary
	err := walk(ctx, c, "read host summaries", fmt.Sprintf("/api/v2/jobs/%d/job_host_summaries/?page_size=200", id), func(s HostSummary) bool {
		out = append(out, s)
		return true
	})
	return out, err
}

// Events reads the job's events in order, filtered by q (AWX field
// lookups, e.g. event=runner_on_failed).
func (c *Client) Events(ctx context.Context, id int, q url.Values) ([]JobEvent, error) {
	v := url.Values{"order_by": {"counter"}, "page_size": {"200"}}
	for k, x := range q {
		v[k] = x
	}
	var out []JobEvent
	err := walk(ctx, c, "read job events", fmt.Sprintf("/api/v2/jobs/%d/job_events/?%s", id, v.Encode()), func(e JobEvent) bool {
		out = append(out, e)
		return true
	})
	return out, err
}

// Stdout reads the job's output as text.
func (c *Client) Stdout(ctx context.Context, id int) (string, error) {
	var s string
	err := c.call(ctx, "read stdout", http.MethodGet, fmt.Sprintf("/api/v2/jobs/%d/stdout/?format=txt", id), nil, &s)
	return s, err
}
