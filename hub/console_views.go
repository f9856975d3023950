package hub

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/sitesync"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/hub/ui"
	"github.com/eucora/eucora/transfer"
)

// The console's views: each reads the state as the API handler of its
// route does (the same scope filters, the same views of the records) into
// the page types of hub/ui.

// siteState is the state a site row shows and the Sites view filters on.
func siteState(v *api.SiteSync) string {
	switch {
	case !v.ChainOK:
		return "chain"
	case v.Stale:
		return "stale"
	case len(v.Gaps) > 0:
		return "gaps"
	case v.RefusalsSinceImport > 0:
		return "refused"
	}
	return "current"
}

// siteMatches reports whether v is in the state filter's set.
func siteMatches(v *api.SiteSync, state string) bool {
	switch state {
	case "stale":
		return v.Stale
	case "chain":
		return !v.ChainOK
	case "gaps":
		return len(v.Gaps) > 0
	case "refused":
		return v.RefusalsSinceImport > 0
	case "current":
		return siteState(v) == "current"
	}
	return true
}

func timeKey(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixNano()
}

func sortSites(rows []ui.SiteRow, key string, desc bool) {
	slices.SortStableFunc(rows, func(a, b ui.SiteRow) int {
		var c int
		switch key {
		case "class":
			c = cmp.Compare(a.Class, b.Class)
		case "exported":
			c = cmp.Compare(a.LastExportedSeq, b.LastExportedSeq)
		case "applied":
			c = cmp.Compare(a.LastAppliedSeq, b.LastAppliedSeq)
		case "receipt":
			c = cmp.Compare(timeKey(a.LastReceiptAt), timeKey(b.LastReceiptAt))
		case "staleness":
			c = cmp.Compare(a.StalenessSeconds, b.StalenessSeconds)
		case "pending":
			c = cmp.Compare(a.PendingBytes, b.PendingBytes)
		case "events":
			c = cmp.Compare(a.EventsReceived, b.EventsReceived)
		case "gaps":
			c = cmp.Compare(len(a.Gaps), len(b.Gaps))
		}
		if c == 0 {
			c = cmp.Compare(a.Site, b.Site)
		}
		if desc {
			c = -c
		}
		return c
	})
}

var siteColumns = []struct{ key, label string }{
	{"name", "Site"}, {"class", "Class"}, {"exported", "Last exported"}, {"applied", "Last applied"}, {"receipt", "Last receipt"},
	{"staleness", "Staleness / time to compliance"}, {"pending", "Pending"}, {"events", "Events"}, {"gaps", "Gaps"},
}

// onceState reads the governance records every site's delta plan reads
// once for the span of one page (the Sites view plans all sites in scope:
// without it each site's plan reads and decodes every intent, its
// assessment and artifacts again); the per-site records pass through.
type onceState struct {
	*store.State
	intents    []store.IntentRecord
	approvals  []deploy.ApprovalRecord
	exceptions []deploy.Exception
	apps       map[string]store.AppRecord
	assessed   map[string]store.AssessmentRecord
	artifacts  map[string][]store.ArtifactRecord
	read       map[string]bool
}

var _ sitesync.State = (*onceState)(nil)

func newOnceState(st *store.State) *onceState {
	return &onceState{State: st, apps: map[string]store.AppRecord{}, assessed: map[string]store.AssessmentRecord{},
		artifacts: map[string][]store.ArtifactRecord{}, read: map[string]bool{}}
}

func (o *onceState) Intents() ([]store.IntentRecord, error) {
	if !o.read["intents"] {
		v, err := o.State.Intents()
		if err != nil {
			return nil, err
		}
		o.intents, o.read["intents"] = v, true
	}
	return o.intents, nil
}

func (o *onceState) Approvals() ([]deploy.ApprovalRecord, error) {
	if !o.read["approvals"] {
		v, err := o.State.Approvals()
		if err != nil {
			return nil, err
		}
		o.approvals, o.read["approvals"] = v, true
	}
	return o.approvals, nil
}

func (o *onceState) Exceptions() ([]deploy.Exception, error) {
	if !o.read["exceptions"] {
		v, err := o.State.Exceptions()
		if err != nil {
			return nil, err
		}
		o.exceptions, o.read["exceptions"] = v, true
	}
	return o.exceptions, nil
}

func (o *onceState) App(id string) (store.AppRecord, error) {
	if v, ok := o.apps[id]; ok {
		return v, nil
	}
	v, err := o.State.App(id)
	if err == nil {
		o.apps[id] = v
	}
	return v, err
}

func (o *onceState) Assessment(id string) (store.AssessmentRecord, error) {
	if v, ok := o.assessed[id]; ok {
		return v, nil
	}
	v, err := o.State.Assessment(id)
	if err == nil {
		o.assessed[id] = v
	}
	return v, err
}

func (o *onceState) Artifacts(app, version string) ([]store.ArtifactRecord, error) {
	k := app + "\x00" + version
	if v, ok := o.artifacts[k]; ok {
		return v, nil
	}
	v, err := o.State.Artifacts(app, version)
	if err == nil {
		o.artifacts[k] = v
	}
	return v, err
}

// SitesPage builds the Sites view for p at now, as GET /v1/sites (the
// caller's scope) and GET /v1/sites/{name}/sync (each site's status)
// answer them.
func (s *Server) sitesPage(p *Principal, q ui.SitesQuery, now time.Time) (ui.SitesPage, error) {
	page := ui.SitesPage{Query: q, Classes: ui.SiteClasses, States: ui.SiteStates}
	syncer := s.siteSync.WithState(newOnceState(s.store.State()))
	all, err := s.store.State().Sites()
	if err != nil {
		return page, err
	}
	for _, site := range all {
		if !p.Scope.Contains(site.Scope) {
			continue
		}
		page.Total++
		if q.Class != "" && site.Class != q.Class {
			continue
		}
		v, err := syncer.Status(site, now)
		if err != nil {
			return page, fmt.Errorf("site %s: %w", site.Name, err)
		}
		if siteMatches(v, q.State) {
			page.Rows = append(page.Rows, ui.SiteRow{SiteSync: *v, State: siteState(v)})
		}
	}
	sortSites(page.Rows, q.Sort, q.Desc)
	for _, col := range siteColumns {
		cur := col.key == q.Sort
		page.Headers = append(page.Headers, ui.SortHeader{Label: col.label, Href: "/ui/sites?" + q.Encode(col.key, cur && !q.Desc), Current: cur, Desc: q.Desc})
	}
	// The plot: the most stale sites, as a share of their time to compliance.
	byRatio := slices.Clone(page.Rows)
	ratio := func(r ui.SiteRow) float64 {
		if r.TimeToComplianceSeconds == 0 {
			return 0
		}
		return 100 * float64(r.StalenessSeconds) / float64(r.TimeToComplianceSeconds)
	}
	slices.SortStableFunc(byRatio, func(a, b ui.SiteRow) int { return cmp.Compare(ratio(b), ratio(a)) })
	var bars []ui.BarValue
	for _, r := range byRatio {
		bars = append(bars, ui.BarValue{Label: r.Site, Value: ratio(r), Bad: r.Stale,
			Text: fmt.Sprintf("%.0f%% (%s of %s)", ratio(r), ui.Duration(time.Duration(r.StalenessSeconds)*time.Second), ui.Duration(time.Duration(r.TimeToComplianceSeconds)*time.Second))})
	}
	page.Plot = ui.BarPlot("Staleness as a share of each site's time to compliance (most stale first, percent)", bars, 100, 100, "time to compliance")
	return page, nil
}

func (s *Server) uiSites(w http.ResponseWriter, r *http.Request, c *uiRequest) {
	q, err := ui.ParseSitesQuery(r.URL.Query())
	if err != nil {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	page, err := s.sitesPage(c.p, q, store.NowUTC())
	if err != nil {
		s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
		return
	}
	page.Layout = c.layout
	s.uiRender(w, http.StatusOK, "sites", page)
}

// siteEvents returns the events about site (object site/NAME and
// site/NAME/...), oldest first.
func (s *Server) siteEvents(site string) ([]store.Event, error) {
	var out []store.Event
	obj := "site/" + site
	var after uint64
	for {
		evs, err := s.store.State().Events(after, 5000)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.Object == obj || strings.HasPrefix(e.Object, obj+"/") {
				out = append(out, e)
			}
		}
		if len(evs) < 5000 {
			return out, nil
		}
		after = evs[len(evs)-1].Cursor
	}
}

// stalenessHistory is a site's staleness over time: zero at each bundle
// merged from the site (its receipt's arrival), growing until the next,
// from the site's creation to now.
func stalenessHistory(created time.Time, merges []time.Time, now time.Time) []ui.StalenessSample {
	out := []ui.StalenessSample{{At: created}}
	last := created
	for _, t := range merges {
		if t.Before(last) {
			continue
		}
		out = append(out, ui.StalenessSample{At: t, Staleness: t.Sub(last)}, ui.StalenessSample{At: t})
		last = t
	}
	if now.After(last) {
		out = append(out, ui.StalenessSample{At: now, Staleness: now.Sub(last)})
	}
	return out
}

func (s *Server) uiSite(w http.ResponseWriter, r *http.Request, c *uiRequest) {
	if len(r.URL.Query()) > 0 {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", "the site page takes no query parameters")
		return
	}
	// The API's own lookup: 404 alike for a missing and an out-of-scope
	// site, the latter audited.
	out := &captured{h: http.Header{}}
	site, ok := s.siteInScope(out, r, c.p, "sites.sync", r.PathValue("name"))
	if !ok {
		s.uiError(w, r, c, out.status, "Not found", strings.TrimSpace(errorText(out)))
		return
	}
	now := store.NowUTC()
	v, err := s.siteSync.Status(site, now)
	if err != nil {
		s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
		return
	}
	page := ui.SitePage{Layout: c.layout, Site: site.View(), Sync: *v, State: siteState(v)}
	page.Title = "Site " + site.Name
	if reason := authorize(s.console.routes["sites.export.get"], c.p); reason != "" {
		page.ExportsHidden = "Not shown: " + reason + "."
	} else if ss, err := s.store.State().SiteSync(site.Name); err == nil && ss.LastExport != nil {
		for seq := ss.LastExport.Sequence; seq >= 1 && len(page.Exports) < 20; seq-- {
			rec, err := s.store.State().Export(site.Name, seq)
			if errors.Is(err, store.ErrNotFound) {
				continue // an interrupted export: a gap in the sequence
			} else if err != nil {
				break
			}
			page.Exports = append(page.Exports, rec.View())
		}
	}
	var merges []time.Time
	if reason := authorize(s.console.routes["events.list"], c.p); reason != "" {
		page.HistoryHidden = "Not shown: " + reason + " (the bundle history is read from the event log)."
		if v.LastReceiptAt != nil {
			merges = append(merges, *v.LastReceiptAt)
		}
	} else {
		evs, err := s.siteEvents(site.Name)
		if err != nil {
			s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
			return
		}
		for _, e := range evs {
			switch {
			case e.Action == store.ImportRefusalAction && e.Outcome == store.ImportRefusalOutcome:
				code, reason, _ := strings.Cut(e.Reason, ": ")
				page.Refusals = append(page.Refusals, ui.Refusal{Time: e.Time, Code: code, Reason: reason, Actor: e.Actor})
			case e.Action == store.CmdSiteImport && e.Outcome == "ok":
				merges = append(merges, e.Time)
			}
		}
		if len(evs) > 50 {
			evs = evs[len(evs)-50:]
		}
		page.History = store.EventViews(evs)
		slices.Reverse(page.History)
		slices.Reverse(page.Refusals)
	}
	ttc, _ := deploy.TimeToCompliance(deploy.SiteClass(site.Class))
	page.Plot = ui.StalenessPlot("Staleness of "+site.Name+" over time (resets when a bundle from the site is merged)", stalenessHistory(site.CreatedAt, merges, now), ttc)
	s.uiRender(w, http.StatusOK, "site", page)
}

// errorText is the message of a captured API error answer.
func errorText(c *captured) string {
	var e api.Error
	if err := json.Unmarshal(c.body.Bytes(), &e); err == nil && e.Error != "" {
		return e.Error
	}
	return c.body.String()
}

// rolloutControls are the buttons p may use on ro: those whose API route
// p's role may call, for the rollout's state.
func (s *Server) rolloutControls(p *Principal, ro api.Rollout) []ui.Control {
	var out []ui.Control
	switch ro.State {
	case store.RolloutPromoted, store.RolloutRolledBack, store.RolloutCompleted:
		return nil
	}
	for _, k := range consoleControls {
		switch {
		case k.name == "resume" && ro.State != store.RolloutPaused,
			k.name == "pause" && ro.State == store.RolloutPaused,
			k.name == "promote" && ro.State != store.RolloutObserving && ro.State != store.RolloutPaused:
			continue
		}
		if authorize(s.console.routes[k.route], p) != "" {
			continue
		}
		out = append(out, ui.Control{Name: k.name, Label: k.label, Action: "/ui/rollouts/" + ro.IntentID + "/" + k.name,
			Reason: k.name == "pause" || k.name == "rollback"})
	}
	return out
}

func (s *Server) uiRollouts(w http.ResponseWriter, r *http.Request, c *uiRequest) {
	if len(r.URL.Query()) > 0 {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", "the Rollouts view takes no query parameters")
		return
	}
	st := s.store.State()
	all, err := st.Rollouts()
	if err == nil {
		var decs []store.DecisionRecord
		if decs, err = st.Decisions(); err == nil {
			page := ui.RolloutsPage{Layout: c.layout}
			bySubject := map[string][]api.Decision{}
			byID := map[string]api.Decision{}
			for _, d := range decs {
				if c.p.Scope.Overlaps(d.Scope) {
					v := d.View()
					bySubject[d.Subject] = append(bySubject[d.Subject], v)
					byID[d.ID] = v
				}
			}
			apps := map[string]*ui.AppRollouts{}
			var order []string
			for _, x := range all {
				if !c.p.Scope.Overlaps(x.Scope) {
					continue
				}
				ro := x.View()
				key := ro.AppID + "\x00" + ro.Version
				a := apps[key]
				if a == nil {
					a = &ui.AppRollouts{AppID: ro.AppID, Version: ro.Version}
					apps[key] = a
					order = append(order, key)
				}
				row := ui.RolloutRow{Rollout: ro, Decisions: bySubject["intent/"+ro.IntentID], Controls: s.rolloutControls(c.p, ro)}
				if ro.Gate != nil {
					if d, ok := byID[ro.Gate.Decision]; ok {
						row.GateDecision = &d
					}
				}
				a.Rows = append(a.Rows, row)
			}
			slices.Sort(order)
			for _, k := range order {
				a := apps[k]
				slices.SortStableFunc(a.Rows, func(x, y ui.RolloutRow) int { return int(x.Ring) - int(y.Ring) })
				var bars []ui.BarValue
				for _, row := range a.Rows {
					if t := row.Telemetry; t != nil && t.Measure.Targeted > 0 {
						rate := 100 * float64(t.Measure.Installed) / float64(t.Measure.Targeted)
						bars = append(bars, ui.BarValue{Label: fmt.Sprintf("Ring %d", row.Ring), Value: rate, Bad: rate < float64(t.Measure.Threshold),
							Text: fmt.Sprintf("%.1f%% of %d (threshold %d%%)", rate, t.Measure.Targeted, t.Measure.Threshold)})
					}
				}
				a.Plot = ui.BarPlot("Install success rate per ring of "+a.AppID+" "+a.Version+" (percent)", bars, 100, 0, "")
				page.Apps = append(page.Apps, *a)
			}
			s.uiRender(w, http.StatusOK, "rollouts", page)
			return
		}
	}
	s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
}

func (s *Server) uiDrift(w http.ResponseWriter, r *http.Request, c *uiRequest) {
	q, err := ui.ParseDriftQuery(r.URL.Query())
	if err != nil {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	sets, err := s.store.State().Drift()
	if err != nil {
		s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
		return
	}
	page := ui.DriftPage{Layout: c.layout, Query: q}
	for _, d := range store.DriftViews(sets) {
		if (q.Site == "" || d.Site == q.Site) && (q.App == "" || d.AppID == q.App) && (q.Plane == "" || d.Plane == q.Plane) {
			page.Rows = append(page.Rows, d)
		}
	}
	slices.SortStableFunc(page.Rows, func(a, b api.Drift) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Plane, b.Plane), cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.IntentID, b.IntentID))
	})
	group := func(key func(api.Drift) string) []ui.DriftGroup {
		n := map[string]int{}
		for _, d := range page.Rows {
			n[key(d)]++
		}
		var out []ui.DriftGroup
		for k, v := range n {
			if k == "" {
				k = "(no site)"
			}
			out = append(out, ui.DriftGroup{Key: k, Count: v})
		}
		slices.SortFunc(out, func(a, b ui.DriftGroup) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key)) })
		return out
	}
	page.BySite = group(func(d api.Drift) string { return d.Site })
	page.ByPlane = group(func(d api.Drift) string { return d.Plane })
	page.ByApp = group(func(d api.Drift) string { return d.AppID })
	s.uiRender(w, http.StatusOK, "drift", page)
}

// verifyChains runs the console's verifier over the events appended
// since it last ran (store.ChainVerifier, as 'eucora events verify' runs
// it), stopping at the first failure.
func (s *Server) verifyChains() ([]store.ChainSummary, uint64, error) {
	c := &s.console.chain
	c.Lock()
	defer c.Unlock()
	for c.err == nil {
		evs, err := s.store.State().Events(c.next-1, 5000)
		if err != nil {
			return nil, 0, err
		}
		for _, e := range evs {
			if err := c.v.Add(e); err != nil {
				c.err = err
				break
			}
			c.next = e.Cursor + 1
		}
		if len(evs) < 5000 {
			break
		}
	}
	return c.v.Chains(), c.next - 1, c.err
}

func (s *Server) uiAudit(w http.ResponseWriter, r *http.Request, c *uiRequest) {
	q, err := ui.ParseAuditQuery(r.URL.Query())
	if err != nil {
		s.uiError(w, r, c, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	page := ui.AuditPage{Layout: c.layout, Query: q}
	chains, to, cerr := s.verifyChains()
	if chains == nil && cerr != nil {
		s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", cerr.Error())
		return
	}
	page.VerifiedTo = to
	var ce *transfer.ChainError
	if cerr != nil {
		page.ChainFailed, page.ChainError = true, cerr.Error()
		errors.As(cerr, &ce)
	}
	for _, ch := range chains {
		row := ui.ChainRow{Origin: ch.Origin, Events: ch.Events, LastSequence: ch.LastSequence, LastHash: ch.LastHash, Status: "verified", OK: true}
		if ce != nil && ce.Origin == ch.Origin {
			row.Status, row.OK = "broken at sequence "+fmt.Sprint(ce.Seq)+": "+ce.Reason, false
		}
		page.Chains = append(page.Chains, row)
	}
	st := s.store.State()
	if q.CorrelationID != "" {
		var after uint64
		for len(page.Events) < 500 {
			evs, err := st.Events(after, 5000)
			if err != nil {
				s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
				return
			}
			page.Searched += uint64(len(evs))
			for _, e := range evs {
				if e.CorrelationID == q.CorrelationID && len(page.Events) < 500 {
					page.Events = append(page.Events, e.View())
				}
			}
			if len(evs) < 5000 {
				break
			}
			after = evs[len(evs)-1].Cursor
		}
	} else {
		const pageSize = 100
		before := q.Before
		if before == 0 {
			last, err := st.LastCursor()
			if err != nil {
				s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
				return
			}
			before = last + 1
		}
		after := uint64(0)
		if before > pageSize+1 {
			after = before - 1 - pageSize
		}
		evs, err := st.Events(after, int(before-1-after))
		if err != nil {
			s.uiError(w, r, c, http.StatusServiceUnavailable, "Unavailable", err.Error())
			return
		}
		page.Events = store.EventViews(evs)
		slices.Reverse(page.Events)
		if after > 0 {
			page.Older = fmt.Sprintf("/ui/audit?before=%d", after+1)
		}
	}
	s.uiRender(w, http.StatusOK, "audit", page)
}
