package intune

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/eucora/eucora/connectors"
)

// checkRelease refuses a release the connector cannot name or mark.
func checkRelease(r connectors.Release) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if strings.ContainsAny(r.Key.App+r.Key.Version, " \t\r\n") || strings.ContainsAny(r.Key.App, "@/") {
		return fmt.Errorf("release %s: app and version must not hold spaces, nor the app '@' or '/' (they go into the app's notes marker)", r.Key)
	}
	for _, t := range r.Targets {
		if t.ID == "" || strings.ContainsAny(t.ID, " \t\r\n,!") {
			return fmt.Errorf("release %s: target %q: want an Entra group id", r.Key, t.ID)
		}
	}
	if r.Prior != nil {
		if err := r.Prior.Validate(); err != nil {
			return fmt.Errorf("release %s: prior: %w", r.Key, err)
		}
		if r.Prior.AppKey() == r.Key.AppKey() {
			return fmt.Errorf("release %s: the prior release is the same app version", r.Key)
		}
	}
	return nil
}

func badRelease(op string, err error) *connectors.Error {
	return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Message: err.Error()}
}

func intentOf(r connectors.Release) string {
	if r.Required {
		return "required"
	}
	return "available"
}

// lobFilter lists every line-of-business app (all the types the connector
// makes).
const lobFilter = "isof('microsoft.graph.mobileLobApp')"

// findApps lists the apps named for appKey that carry EUCORA's notes,
// oldest first. filter is a $filter of the listing.
func (c *conn) findApps(ctx context.Context, filter string, appKey connectors.ReleaseKey) ([]mobileApp, error) {
	all, err := list[mobileApp](ctx, c, "list mobile apps", "/deviceAppManagement/mobileApps?$filter="+queryEscape(filter))
	if err != nil {
		return nil, err
	}
	var out []mobileApp
	for _, a := range all {
		if !namedFor(a.DisplayName, appKey) {
			continue
		}
		if !parseNotes(a.Notes).hasEUCORA() {
			c.log.Warn("intune: an app has EUCORA's name but not its notes; leaving it alone", "app", a.ID, "name", a.DisplayName)
			continue
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedDateTime.Equal(out[j].CreatedDateTime) {
			return out[i].CreatedDateTime.Before(out[j].CreatedDateTime)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > 1 {
		c.log.Warn("intune: more than one app for an app version; using the oldest", "app_key", appKey.String(), "apps", len(out))
	}
	return out, nil
}

func queryEscape(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", "'", "%27", "(", "%28", ")", "%29", "&", "%26", "#", "%23", "+", "%2B").Replace(s)
}

// visibleLimit bounds the polls of an app that answers 404 right after it
// was created or listed (Graph's eventual consistency).
const visibleLimit = 30

// getApp reads an app, waiting while it answers 404.
func (c *conn) getApp(ctx context.Context, id string) (mobileApp, error) {
	var a mobileApp
	n := 0
	err := c.poll(ctx, "get mobile app", func() (bool, error) {
		a = mobileApp{}
		err := c.call(ctx, "get mobile app", http.MethodGet, "/deviceAppManagement/mobileApps/"+id, nil, &a)
		var ce *connectors.Error
		if err != nil && errors.As(err, &ce) && ce.NotFound && n < visibleLimit {
			n++
			return false, nil
		}
		return err == nil, err
	})
	return a, err
}

// waitPublished polls an app until its publishingState is published.
func (c *conn) waitPublished(ctx context.Context, a mobileApp) (mobileApp, error) {
	if a.PublishingState == "published" {
		return a, nil
	}
	err := c.poll(ctx, "wait for publishing", func() (bool, error) {
		var err error
		a, err = c.getApp(ctx, a.ID)
		return a.PublishingState == "published", err
	})
	return a, err
}

// patchApp updates an app's properties.
func (c *conn) patchApp(ctx context.Context, op string, a mobileApp, props map[string]any) error {
	props["@odata.type"] = a.ODataType
	return c.call(ctx, op, http.MethodPatch, "/deviceAppManagement/mobileApps/"+a.ID, props, nil)
}

// ensureMarker makes the app's notes hold m as its release's line.
func (c *conn) ensureMarker(ctx context.Context, a *mobileApp, m marker) error {
	n := parseNotes(a.Notes)
	if old, ok := n.marker(mustKey(m.Release)); ok && old.String() == m.String() {
		return nil
	}
	text := n.with(m).String()
	if err := c.patchApp(ctx, "mark mobile app", *a, map[string]any{"notes": text}); err != nil {
		return err
	}
	a.Notes = text
	return nil
}

func mustKey(s string) connectors.ReleaseKey {
	k, _ := parseKey(s)
	return k
}

// Publish makes Intune hold the release: the app of its version (created
// once, named from the AppKey, marked in notes), its committed content,
// supersedence of the prior release, and the ring's assignments.
func (c *conn) Publish(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	pub := connectors.Publication{Key: r.Key}
	if err := checkRelease(r); err != nil {
		return pub, badRelease("publish", err)
	}
	typ, err := appType(r.Content.Type)
	if err != nil {
		return pub, badRelease("publish", err)
	}
	apps, err := c.findApps(ctx, "isof('microsoft.graph."+typ+"')", r.Key.AppKey())
	if err != nil {
		return pub, err
	}
	m := marker{Correlation: r.CorrelationID, Release: r.Key.String(), Targets: r.Targets}
	var a mobileApp
	found := len(apps) > 0
	if found {
		a = apps[0]
	}
	var p *payload
	needContent := func() bool {
		return a.CommittedContentVersion == "" || r.Content.Digest != "" && parseNotes(a.Notes).content != string(r.Content.Digest)
	}
	if !found || needContent() {
		if p, err = c.prepare(r, typ); err != nil {
			return pub, err
		}
		defer p.cleanup()
	}
	if !found {
		body, err := c.appBody(r, typ, notes{}.with(m), p)
		if err != nil {
			return pub, badRelease("publish", err)
		}
		if err := c.call(ctx, "create mobile app", http.MethodPost, "/deviceAppManagement/mobileApps", body, &a); err != nil {
			return pub, err
		}
		if a.ID == "" {
			return pub, permanent("create mobile app", "the answer has no id")
		}
		pub.Created++
		c.log.Info("intune: created app", "app", a.ID, "name", a.DisplayName, "correlation_id", r.CorrelationID)
	}
	if a, err = c.getApp(ctx, a.ID); err != nil {
		return pub, err
	}
	if err := c.ensureMarker(ctx, &a, m); err != nil {
		return pub, err
	}
	if needContent() {
		if p == nil { // the app changed under us since the listing
			if p, err = c.prepare(r, typ); err != nil {
				return pub, err
			}
			defer p.cleanup()
		}
		cv, err := c.upload(ctx, a, p)
		if err != nil {
			return pub, err
		}
		n := parseNotes(a.Notes)
		n.content = string(r.Content.Digest)
		if err := c.patchApp(ctx, "commit content version", a, map[string]any{"committedContentVersion": cv, "notes": n.String()}); err != nil {
			return pub, err
		}
		a.CommittedContentVersion, a.Notes, a.PublishingState = cv, n.String(), ""
	}
	if a, err = c.waitPublished(ctx, a); err != nil {
		return pub, err
	}
	if r.Prior != nil {
		n, err := c.supersede(ctx, a, *r.Prior, "update")
		if err != nil {
			return pub, err
		}
		pub.Created += n
	}
	ring, created, err := c.setRing(ctx, a, r.Targets, wanted(typ, intentOf(r), r))
	if err != nil {
		return pub, err
	}
	pub.Created += created
	pub.Objects = append([]connectors.Object{appObject(a, r.CorrelationID, r.Key)}, objectsOf(ring, r.CorrelationID, r.Key)...)
	return pub, nil
}

// wanted is the ring's assignments for a release with an intent.
func wanted(typ, intent string, r connectors.Release) []rawAssignment {
	out := make([]rawAssignment, len(r.Targets))
	for i, t := range r.Targets {
		out[i] = assignmentBody(typ, intent, t, r.Deadline)
	}
	return out
}

func objectsOf(xs []rawAssignment, corr string, k connectors.ReleaseKey) []connectors.Object {
	out := make([]connectors.Object, len(xs))
	for i, x := range xs {
		out[i] = assignmentObject(x, corr, k)
	}
	return out
}

func (c *conn) assignments(ctx context.Context, a mobileApp) ([]rawAssignment, error) {
	return list[rawAssignment](ctx, c, "list assignments", "/deviceAppManagement/mobileApps/"+a.ID+"/assignments")
}

// setRing makes the assignments of the ring's target groups on the app be
// want (none when want is empty), keeping every other assignment as it
// was: it reads the list, merges, and writes the whole list through
// /assign only when it changes, so a retry neither drops nor doubles an
// assignment. It returns the ring's assignments as the plane now holds
// them and how many it added.
func (c *conn) setRing(ctx context.Context, a mobileApp, targets []connectors.Target, want []rawAssignment) ([]rawAssignment, int, error) {
	existing, err := c.assignments(ctx, a)
	if err != nil {
		return nil, 0, err
	}
	ring := map[string]bool{}
	for _, t := range targets {
		ring[t.ID] = true
	}
	merged := []rawAssignment{} // an empty list is [], not null
	had := map[string]bool{}
	for _, x := range existing {
		had[x.key()] = true
		if !ring[x.group()] {
			merged = append(merged, x)
		}
	}
	merged = append(merged, want...)
	created := 0
	for _, x := range want {
		if !had[x.key()] {
			created++
		}
	}
	if created > 0 || len(merged) != len(existing) {
		body := map[string]any{"mobileAppAssignments": merged}
		if err := c.call(ctx, "assign", http.MethodPost, "/deviceAppManagement/mobileApps/"+a.ID+"/assign", body, nil); err != nil {
			return nil, 0, err
		}
		if existing, err = c.assignments(ctx, a); err != nil {
			return nil, 0, err
		}
	}
	var out []rawAssignment
	for _, x := range existing {
		if ring[x.group()] {
			out = append(out, x)
		}
	}
	return out, created, nil
}

// supersede makes app a supersede the prior release's app with the given
// supersedenceType (update or replace), keeping the app's other
// relationships: read, merge, write the whole set with
// updateRelationships. It returns 1 when it added the relationship.
func (c *conn) supersede(ctx context.Context, a mobileApp, prior connectors.ReleaseKey, kind string) (int, error) {
	const op = "supersede"
	if c.cfg.APIVersion != "beta" {
		return 0, permanent(op, "supersedence is only in Graph's beta API; this connector is configured for %s", c.cfg.APIVersion)
	}
	priors, err := c.findApps(ctx, lobFilter, prior.AppKey())
	if err != nil {
		return 0, err
	}
	if len(priors) == 0 {
		return 0, &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, NotFound: true, Message: "the prior release " + prior.String() + " has no app in Intune"}
	}
	target := priors[0].ID
	rels, err := list[map[string]any](ctx, c, "list relationships", "/deviceAppManagement/mobileApps/"+a.ID+"/relationships")
	if err != nil {
		return 0, err
	}
	var next []map[string]any
	for _, r := range rels {
		t, _ := r["@odata.type"].(string)
		tid, _ := r["targetId"].(string)
		if t == odata("mobileAppSupersedence") && tid == target {
			if r["supersedenceType"] == kind {
				return 0, nil
			}
			continue
		}
		// Only the writable properties go back.
		keep := map[string]any{"@odata.type": t, "targetId": tid}
		for _, k := range []string{"supersedenceType", "dependencyType"} {
			if v, ok := r[k]; ok {
				keep[k] = v
			}
		}
		next = append(next, keep)
	}
	next = append(next, map[string]any{"@odata.type": odata("mobileAppSupersedence"), "supersedenceType": kind, "targetId": target})
	if err := c.call(ctx, op, http.MethodPost, "/deviceAppManagement/mobileApps/"+a.ID+"/updateRelationships", map[string]any{"relationships": next}, nil); err != nil {
		return 0, err
	}
	return 1, nil
}
