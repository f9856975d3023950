package sccm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
)

// The AdminService classes as the connector reads them.
type smsApplication struct {
	CIID                 int64  `json:"CI_ID"`
	ModelName            string `json:"ModelName"`
	CIVersion            int64  `json:"CIVersion"`
	IsLatest             bool   `json:"IsLatest"`
	LocalizedDisplayName string `json:"LocalizedDisplayName"`
	LocalizedDescription string `json:"LocalizedDescription"`
	SDMPackageXML        string `json:"SDMPackageXML"`
}

type smsContentPackage struct {
	PackageID   string `json:"PackageID"`
	Name        string `json:"Name"`
	SecurityKey string `json:"SecurityKey"`
}

type smsDPGroupStatus struct {
	GroupID      string `json:"GroupID"`
	PackageID    string `json:"PackageID"`
	ObjectID     string `json:"ObjectID"`
	MessageState int    `json:"MessageState"`
}

type smsCollection struct {
	CollectionID    string            `json:"CollectionID"`
	Name            string            `json:"Name"`
	Comment         string            `json:"Comment"`
	MemberCount     int               `json:"MemberCount"`
	LastChangeTime  time.Time         `json:"LastChangeTime"`
	LastRefreshTime time.Time         `json:"LastRefreshTime"`
	CollectionRules []json.RawMessage `json:"CollectionRules"`
}

type smsDevice struct {
	ResourceID int64  `json:"ResourceId"`
	Name       string `json:"Name"`
}

type smsAssignment struct {
	AssignmentID          int64      `json:"AssignmentID"`
	AssignmentName        string     `json:"AssignmentName"`
	AssignmentDescription string     `json:"AssignmentDescription"`
	AssignmentUniqueID    string     `json:"AssignmentUniqueID"`
	ApplicationName       string     `json:"ApplicationName"`
	AssignedCIs           []int64    `json:"AssignedCIs"`
	DesiredConfigType     int        `json:"DesiredConfigType"`
	OfferTypeID           int        `json:"OfferTypeID"`
	TargetCollectionID    string     `json:"TargetCollectionID"`
	EnforcementDeadline   *time.Time `json:"EnforcementDeadline"`
	Enabled               bool       `json:"Enabled"`
}

// app is an application as Publish found or made it.
type app struct {
	smsApplication
	Spec       Spec
	Supersedes []Superseded
}

func (a app) object() connectors.Object {
	corr, _ := connectors.ParseCorrelationMarker(a.LocalizedDescription)
	return connectors.Object{Kind: "application", ID: a.ModelName, Name: a.LocalizedDisplayName, CorrelationID: corr}
}

var appFields = []string{"CI_ID", "ModelName", "CIVersion", "IsLatest", "LocalizedDisplayName", "LocalizedDescription"}

// findApp returns the latest revision of the key's application, if any.
func (c *connector) findApp(ctx context.Context, op, scope string, k connectors.ReleaseKey) (*smsApplication, error) {
	apps, err := list[smsApplication](ctx, c.c, op, "SMS_Application",
		selecting(filter("ModelName eq "+quote(modelName(scope, k)), "IsLatest eq true"), appFields...))
	if err != nil || len(apps) == 0 {
		return nil, err
	}
	return &apps[0], nil
}

// readApp reads an application's SDMPackageXML (a lazy property: only a
// GET by key returns it) and parses it.
func (c *connector) readApp(ctx context.Context, op string, a smsApplication) (app, error) {
	full, err := getVisible[smsApplication](ctx, c, op, fmt.Sprintf("SMS_Application(%d)", a.CIID))
	if err != nil {
		return app{}, err
	}
	p, err := ParseSDMPackageXML(full.SDMPackageXML)
	if err != nil {
		return app{}, planeErr(op, connectors.Permanent, "application %s: %v", a.ModelName, err)
	}
	if full.LocalizedDescription == "" {
		full.LocalizedDescription = p.Description
	}
	full.SDMPackageXML = ""
	return app{smsApplication: full, Spec: p.Spec, Supersedes: p.Supersedes}, nil
}

// contentLocation is the UNC folder of a release's content.
func (c *connector) contentLocation(k connectors.ReleaseKey) string {
	return c.cfg.ContentSource + `\` + k.App + `\` + k.Version + `\`
}

// ensureApp makes the plane hold the release's application with the
// release's specification (and, with a Prior, supersedence over it): it
// finds it by ModelName, refuses a foreign application holding its name,
// creates it, or makes a new revision when the specification changed.
func (c *connector) ensureApp(ctx context.Context, r connectors.Release, pub *connectors.Publication) (app, error) {
	const op = "publish application"
	scope, err := c.authoringScope(ctx)
	if err != nil {
		return app{}, err
	}
	k := r.Key.AppKey()
	var supersedes []Superseded
	if r.Prior != nil {
		if r.Prior.AppKey() == k {
			return app{}, badInput(op, fmt.Errorf("release %s: its prior %s is the same application version", r.Key, *r.Prior))
		}
		prior, err := c.findApp(ctx, op, scope, *r.Prior)
		if err != nil {
			return app{}, err
		}
		if prior == nil {
			return app{}, &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.Permanent, NotFound: true,
				Message: fmt.Sprintf("the prior release %s has no application %s on the site", *r.Prior, modelName(scope, *r.Prior))}
		}
		supersedes = append(supersedes, Superseded{Application: appLogicalName(*r.Prior),
			Version: strconv.FormatInt(prior.CIVersion, 10), DeploymentType: dtLogicalName(*r.Prior)})
	}
	in := buildInput{Scope: scope, Key: k, Release: r, ContentLocation: c.contentLocation(k), Supersedes: supersedes,
		Marker: connectors.CorrelationMarker(r.CorrelationID, k)}
	found, err := c.findApp(ctx, op, scope, k)
	if err != nil {
		return app{}, err
	}
	if found == nil {
		others, err := list[smsApplication](ctx, c.c, op, "SMS_Application",
			selecting(filter("LocalizedDisplayName eq "+quote(appDisplayName(k)), "IsLatest eq true"), "CI_ID", "ModelName"))
		if err != nil {
			return app{}, err
		}
		if len(others) > 0 {
			return app{}, planeErr(op, connectors.Permanent, "the site already holds an application named %q (CI_ID %d, ModelName %s) that EUCORA did not make for %s",
				appDisplayName(k), others[0].CIID, others[0].ModelName, k)
		}
		xml, spec, err := buildSDMPackageXML(in)
		if err != nil {
			return app{}, badInput(op, fmt.Errorf("release %s: %w", r.Key, err))
		}
		var made smsApplication
		if err := c.c.post(ctx, "create application", "SMS_Application", map[string]any{"SDMPackageXML": xml}, &made); err != nil {
			return app{}, err
		}
		if made.ModelName == "" {
			made.ModelName = modelName(scope, k)
		}
		if made.LocalizedDisplayName == "" {
			made.LocalizedDisplayName = appDisplayName(k)
		}
		if made.LocalizedDescription == "" {
			made.LocalizedDescription = in.Marker
		}
		made.SDMPackageXML = ""
		pub.Created++
		return app{smsApplication: made, Spec: spec, Supersedes: in.Supersedes}, nil
	}
	cur, err := c.readApp(ctx, op, *found)
	if err != nil {
		return app{}, err
	}
	// Supersedence only grows: a release of another ring without a Prior
	// does not take back what an earlier one declared.
	have := map[string]bool{}
	for _, s := range in.Supersedes {
		have[s.DeploymentType] = true
	}
	for _, s := range cur.Supersedes {
		if !have[s.DeploymentType] {
			have[s.DeploymentType] = true
			in.Supersedes = append(in.Supersedes, s)
		}
	}
	slices.SortFunc(in.Supersedes, func(a, b Superseded) int { return strings.Compare(a.DeploymentType, b.DeploymentType) })
	// The comment keeps the correlation id of the intent that made the
	// application.
	in.Marker = cur.LocalizedDescription
	xml, spec, err := buildSDMPackageXML(in)
	if err != nil {
		return app{}, badInput(op, fmt.Errorf("release %s: %w", r.Key, err))
	}
	if spec.Equal(cur.Spec) {
		return cur, nil
	}
	var rev smsApplication
	if err := c.c.post(ctx, "revise application", fmt.Sprintf("SMS_Application(%d)", cur.CIID), map[string]any{"SDMPackageXML": xml}, &rev); err != nil {
		return app{}, err
	}
	if rev.CIID == 0 {
		rev = cur.smsApplication
	}
	if rev.ModelName == "" {
		rev.ModelName = cur.ModelName
	}
	if rev.LocalizedDisplayName == "" {
		rev.LocalizedDisplayName = cur.LocalizedDisplayName
	}
	if rev.LocalizedDescription == "" {
		rev.LocalizedDescription = cur.LocalizedDescription
	}
	rev.SDMPackageXML = ""
	return app{smsApplication: rev, Spec: spec, Supersedes: in.Supersedes}, nil
}

// ensureContent finds the application's content package and distributes
// it to every configured DP group it is not on yet.
func (c *connector) ensureContent(ctx context.Context, a app, pub *connectors.Publication) (smsContentPackage, error) {
	const op = "distribute content"
	var pkg smsContentPackage
	err := c.poll(ctx, op, "the content package of "+a.ModelName, func() (bool, error) {
		pkgs, err := list[smsContentPackage](ctx, c.c, op, "SMS_ContentPackage",
			selecting(filter("SecurityKey eq "+quote(a.ModelName)), "PackageID", "Name", "SecurityKey"))
		if len(pkgs) > 0 {
			pkg = pkgs[0]
		}
		return len(pkgs) > 0, err
	})
	if err != nil {
		return pkg, err
	}
	if len(c.cfg.DistributionPointGroups) > 0 {
		sts, err := list[smsDPGroupStatus](ctx, c.c, op, "SMS_DPGroupDistributionStatusDetails",
			selecting(filter("ObjectID eq "+quote(a.ModelName)), "GroupID", "PackageID", "MessageState"))
		if err != nil {
			return pkg, err
		}
		on := map[string]bool{}
		for _, s := range sts {
			on[strings.ToUpper(s.GroupID)] = true
		}
		var missing []string
		for _, g := range c.cfg.DistributionPointGroups {
			if !on[strings.ToUpper(g)] {
				missing = append(missing, g)
			}
		}
		if len(missing) > 0 {
			if err := c.c.call(ctx, op, "SMS_ContentPackage("+quote(pkg.PackageID)+")/AdminService.AddDistributionPointGroup",
				map[string]any{"DistributionPointGroup": missing}); err != nil {
				return pkg, err
			}
		}
	}
	return pkg, nil
}

func collectionObject(col smsCollection) connectors.Object {
	corr, _ := connectors.ParseCorrelationMarker(col.Comment)
	return connectors.Object{Kind: "collection", ID: col.CollectionID, Name: col.Name, CorrelationID: corr}
}

// findCollection returns the key's collection, if the site holds it.
func (c *connector) findCollection(ctx context.Context, op string, k connectors.ReleaseKey) (*smsCollection, error) {
	cols, err := list[smsCollection](ctx, c.c, op, "SMS_Collection",
		selecting(filter("Name eq "+quote(collectionName(k))), "CollectionID", "Name", "Comment", "MemberCount", "LastChangeTime", "LastRefreshTime"))
	if err != nil || len(cols) == 0 {
		return nil, err
	}
	return &cols[0], nil
}

// rule is one membership rule as the site holds it.
type rule struct {
	raw json.RawMessage
	key string
}

func parseRule(raw json.RawMessage) (rule, error) {
	var r struct {
		Type                string `json:"@odata.type"`
		ResourceID          int64  `json:"ResourceID"`
		IncludeCollectionID string `json:"IncludeCollectionID"`
		ExcludeCollectionID string `json:"ExcludeCollectionID"`
		QueryID             int64  `json:"QueryID"`
		RuleName            string `json:"RuleName"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return rule{}, err
	}
	switch strings.TrimPrefix(r.Type, "#AdminService.") {
	case "SMS_CollectionRuleDirect":
		return rule{raw, "direct/" + strconv.FormatInt(r.ResourceID, 10)}, nil
	case "SMS_CollectionRuleIncludeCollection":
		return rule{raw, "include/" + r.IncludeCollectionID}, nil
	case "SMS_CollectionRuleExcludeCollection":
		return rule{raw, "exclude/" + r.ExcludeCollectionID}, nil
	case "SMS_CollectionRuleQuery":
		return rule{raw, "query/" + strconv.FormatInt(r.QueryID, 10) + "/" + r.RuleName}, nil
	}
	return rule{}, fmt.Errorf("unknown membership rule type %q", r.Type)
}

// targetsOfRules lists the Target IDs a collection's rules reach (include
// and direct rules, not exclusions).
func targetsOfRules(raws []json.RawMessage) []string {
	var out []string
	for _, raw := range raws {
		r, err := parseRule(raw)
		if err != nil {
			continue
		}
		kind, id, _ := strings.Cut(r.key, "/")
		switch {
		case kind == "include" && strings.Trim(id, "0123456789") == "":
			out = append(out, "collection:"+id) // as ParseTarget reads it
		case kind == "direct" || kind == "include":
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ensureCollection makes the key's collection exist; with exact its rules
// become exactly targets (added, and foreign ones removed), otherwise an
// existing collection keeps its rules. It refreshes membership whenever
// the rules changed after the last refresh.
func (c *connector) ensureCollection(ctx context.Context, k connectors.ReleaseKey, corr string, targets []connectors.Target, exact bool, pub *connectors.Publication) (smsCollection, error) {
	const op = "publish collection"
	found, err := c.findCollection(ctx, op, k)
	if err != nil {
		return smsCollection{}, err
	}
	var col smsCollection
	fresh := found == nil
	if fresh {
		body := map[string]any{"Name": collectionName(k), "CollectionType": 2, "LimitToCollectionID": "SMS00001",
			"RefreshType": 4, "Comment": connectors.CorrelationMarker(corr, k)}
		if err := c.c.post(ctx, "create collection", "SMS_Collection", body, &col); err != nil {
			return smsCollection{}, err
		}
		if col.CollectionID == "" {
			return smsCollection{}, planeErr("create collection", connectors.Permanent, "the answer names no CollectionID")
		}
		if col.Name == "" {
			col.Name = collectionName(k)
		}
		if col.Comment == "" {
			col.Comment = body["Comment"].(string)
		}
		col.CollectionRules = nil
		pub.Created++
	} else {
		if col, err = getVisible[smsCollection](ctx, c, op, "SMS_Collection("+quote(found.CollectionID)+")"); err != nil {
			return smsCollection{}, err
		}
		if !exact {
			if col.LastRefreshTime.Before(col.LastChangeTime) {
				err = c.c.call(ctx, "refresh collection", "SMS_Collection("+quote(col.CollectionID)+")/AdminService.RequestRefresh", nil)
			}
			return col, err
		}
	}
	want := map[string]target{}
	for _, t := range targets {
		p, err := parseTarget(t)
		if err != nil {
			return col, badInput(op, err)
		}
		want[p.ruleKey()] = p
	}
	have := map[string]bool{}
	changed := false
	for _, raw := range col.CollectionRules {
		r, err := parseRule(raw)
		if err != nil {
			return col, planeErr(op, connectors.Permanent, "collection %s: %v", col.CollectionID, err)
		}
		if _, ok := want[r.key]; ok && !have[r.key] {
			have[r.key] = true
			continue
		}
		// A rule of no target of the release, or a second copy of one.
		if err := c.c.call(ctx, "remove membership rule", "SMS_Collection("+quote(col.CollectionID)+")/AdminService.DeleteMembershipRule",
			map[string]any{"collectionRule": raw}); err != nil {
			return col, err
		}
		changed = true
	}
	keys := make([]string, 0, len(want))
	for key := range want {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if have[key] {
			continue
		}
		body, err := c.ruleBody(ctx, want[key])
		if err != nil {
			return col, err
		}
		if err := c.c.call(ctx, "add membership rule", "SMS_Collection("+quote(col.CollectionID)+")/AdminService.AddMembershipRule",
			map[string]any{"collectionRule": body}); err != nil {
			return col, err
		}
		changed = true
	}
	if fresh || changed || col.LastRefreshTime.Before(col.LastChangeTime) {
		if err := c.c.call(ctx, "refresh collection", "SMS_Collection("+quote(col.CollectionID)+")/AdminService.RequestRefresh", nil); err != nil {
			return col, err
		}
	}
	return col, nil
}

// ruleBody is the membership rule for a target: a direct rule names the
// device (RuleName is its name in SMS_R_System), an include or exclude
// rule the collection.
func (c *connector) ruleBody(ctx context.Context, t target) (map[string]any, error) {
	switch {
	case t.Kind == TargetDevice:
		dev, err := get[smsDevice](ctx, c.c, "read device", fmt.Sprintf("SMS_R_System(%d)", t.Resource))
		if ce := asError(err); ce != nil && ce.NotFound {
			return nil, planeErr("add membership rule", connectors.Permanent, "target %d: the site has no device with that ResourceID in SMS_R_System", t.Resource)
		}
		if err != nil {
			return nil, err
		}
		name := dev.Name
		if name == "" {
			name = strconv.FormatInt(t.Resource, 10)
		}
		return map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleDirect", "ResourceClassName": "SMS_R_System",
			"ResourceID": t.Resource, "RuleName": name}, nil
	case t.Exclude:
		return map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleExcludeCollection",
			"ExcludeCollectionID": t.Collection, "RuleName": t.Collection}, nil
	}
	return map[string]any{"@odata.type": "#AdminService.SMS_CollectionRuleIncludeCollection",
		"IncludeCollectionID": t.Collection, "RuleName": t.Collection}, nil
}

func assignmentObject(a smsAssignment) connectors.Object {
	corr, _ := connectors.ParseCorrelationMarker(a.AssignmentDescription)
	return connectors.Object{Kind: "deployment", ID: strconv.FormatInt(a.AssignmentID, 10), Name: a.AssignmentName, CorrelationID: corr}
}

var assignmentFields = []string{"AssignmentID", "AssignmentName", "AssignmentDescription", "AssignmentUniqueID", "ApplicationName",
	"AssignedCIs", "DesiredConfigType", "OfferTypeID", "TargetCollectionID", "EnforcementDeadline", "Enabled"}

func (c *connector) findAssignments(ctx context.Context, op, name string) ([]smsAssignment, error) {
	return list[smsAssignment](ctx, c.c, op, "SMS_ApplicationAssignment",
		selecting(filter("AssignmentName eq "+quote(name)), assignmentFields...))
}

// deployment says which deployment to make.
type deployment struct {
	App      app
	AppKey   connectors.ReleaseKey // whose application
	CollKey  connectors.ReleaseKey // whose collection
	Coll     smsCollection
	Action   string // actionInstall or actionUninstall
	Corr     string
	Required bool
	Deadline time.Time
}

// ensureAssignment makes the deployment exist once: found by its name,
// created with its deterministic AssignmentUniqueID, brought to the
// release's offer type and deadline, and extra copies (a foreign tool's
// retry) deleted.
func (c *connector) ensureAssignment(ctx context.Context, d deployment, pub *connectors.Publication) (smsAssignment, error) {
	const op = "publish deployment"
	name := assignmentName(d.AppKey, d.CollKey, d.Action)
	found, err := c.findAssignments(ctx, op, name)
	if err != nil {
		return smsAssignment{}, err
	}
	offer, desired := 2, 1 // available install
	if d.Required || d.Action == actionUninstall {
		offer = 0
	}
	if d.Action == actionUninstall {
		desired = 2
	}
	var deadline *time.Time
	if offer == 0 && !d.Deadline.IsZero() {
		t := d.Deadline.UTC().Truncate(time.Second)
		deadline = &t
	}
	if len(found) == 0 {
		now := c.cfg.Now().UTC().Truncate(time.Second)
		body := map[string]any{
			"ApplicationName": d.App.LocalizedDisplayName, "AssignmentName": name,
			"AssignmentDescription": connectors.CorrelationMarker(d.Corr, d.CollKey),
			"AssignedCIs":           []int64{d.App.CIID}, "AssignmentAction": 2, "AssignmentType": 2,
			"DesiredConfigType": desired, "OfferTypeID": offer, "TargetCollectionID": d.Coll.CollectionID,
			"CollectionName": d.Coll.Name, "StartTime": now.Format(time.RFC3339), "UseGMTTimes": true,
			"OfferFlags": 0, "AssignmentUniqueID": assignmentUniqueID(d.AppKey, d.CollKey, d.Action),
			"Enabled": true, "NotifyUser": false, "UserUIExperience": false, "OverrideServiceWindows": false,
			"SuppressReboot": 0, "WoLEnabled": false, "SoftDeadlineEnabled": false,
		}
		if offer == 0 {
			dl := now
			if deadline != nil {
				dl = *deadline
			}
			body["EnforcementDeadline"] = dl.Format(time.RFC3339)
		}
		var made smsAssignment
		if err := c.c.post(ctx, "create deployment", "SMS_ApplicationAssignment", body, &made); err != nil {
			return smsAssignment{}, err
		}
		if made.AssignmentID == 0 {
			return smsAssignment{}, planeErr("create deployment", connectors.Permanent, "the answer names no AssignmentID")
		}
		if made.AssignmentName == "" {
			made.AssignmentName = name
		}
		if made.AssignmentDescription == "" {
			made.AssignmentDescription = body["AssignmentDescription"].(string)
		}
		made.Enabled, made.TargetCollectionID = true, d.Coll.CollectionID
		pub.Created++
		return made, nil
	}
	a := found[0]
	for _, extra := range found[1:] {
		if err := c.c.del(ctx, "delete duplicate deployment", fmt.Sprintf("SMS_ApplicationAssignment(%d)", extra.AssignmentID)); err != nil {
			return a, err
		}
	}
	patch := map[string]any{}
	if a.OfferTypeID != offer {
		patch["OfferTypeID"] = offer
	}
	if deadline != nil && (a.EnforcementDeadline == nil || !a.EnforcementDeadline.Equal(*deadline)) {
		patch["EnforcementDeadline"] = deadline.Format(time.RFC3339)
	}
	if !a.Enabled {
		patch["Enabled"] = true
	}
	if len(patch) > 0 {
		if err := c.c.patch(ctx, "update deployment", fmt.Sprintf("SMS_ApplicationAssignment(%d)", a.AssignmentID), patch); err != nil {
			return a, err
		}
		a.OfferTypeID, a.Enabled = offer, true
	}
	return a, nil
}

// removeAssignments deletes every deployment of that name.
func (c *connector) removeAssignments(ctx context.Context, name string) error {
	found, err := c.findAssignments(ctx, "remove deployment", name)
	if err != nil {
		return err
	}
	for _, a := range found {
		if err := c.c.del(ctx, "remove deployment", fmt.Sprintf("SMS_ApplicationAssignment(%d)", a.AssignmentID)); err != nil {
			return err
		}
	}
	return nil
}

// Publish implements connectors.Connector.
func (c *connector) Publish(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	if err := validate(r); err != nil {
		return connectors.Publication{Key: r.Key}, badInput("publish", err)
	}
	return c.publish(ctx, r, actionInstall)
}

// publish makes the application, its content, the collection and the
// deployment with the given action.
func (c *connector) publish(ctx context.Context, r connectors.Release, action string) (connectors.Publication, error) {
	pub := connectors.Publication{Key: r.Key}
	a, err := c.ensureApp(ctx, r, &pub)
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, a.object())
	if action == actionUninstall && a.Spec.UninstallCommand == "" {
		return pub, planeErr("uninstall", connectors.Permanent, "application %s has no uninstall command: the site cannot uninstall it", a.ModelName)
	}
	pkg, err := c.ensureContent(ctx, a, &pub)
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, connectors.Object{Kind: "package", ID: pkg.PackageID, Name: pkg.Name})
	col, err := c.ensureCollection(ctx, r.Key, r.CorrelationID, r.Targets, true, &pub)
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, collectionObject(col))
	other := actionUninstall
	if action == actionUninstall {
		other = actionInstall
	}
	// The site refuses an install and an uninstall deployment of one
	// application to one collection: the other one goes first.
	if err := c.removeAssignments(ctx, assignmentName(r.Key, r.Key, other)); err != nil {
		return pub, err
	}
	asg, err := c.ensureAssignment(ctx, deployment{App: a, AppKey: r.Key, CollKey: r.Key, Coll: col, Action: action,
		Corr: r.CorrelationID, Required: r.Required, Deadline: r.Deadline}, &pub)
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, assignmentObject(asg))
	return pub, nil
}
