package store

import (
	"errors"
	"fmt"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// catalogHandlers apply the catalog: applications, their versions and
// artifacts, a version's moves along the lifecycle and an application's
// allowed scope.
var catalogHandlers = map[string]handler{
	CmdAppCreate:         gov(applyAppCreate),
	CmdVersionCreate:     gov(applyVersionCreate),
	CmdArtifactCreate:    gov(applyArtifactCreate),
	CmdVersionTransition: gov(applyTransition),
	CmdAppScopeChange:    gov(applyScopeChange),
}

func applyAppCreate(b Batch, kind string, body AppCreateBody) (any, error) {
	app := body.App
	if app.ScopeVersion == 0 {
		app.ScopeVersion = 1
	}
	if err := app.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	if ok, err := exists(b, appKey(app.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("application %q: %w", app.ID, ErrConflict)
	}
	d := deploy.Authorize(body.Principal, deploy.ActionRequest, deploy.Object{Kind: "application", ID: app.ID, Scope: app.AllowedScope}, body.At)
	if rec, err := decide(b, body.GovCtx, kind, "app/"+app.ID, app.AllowedScope, "", body, nil, d); err != nil {
		return rec, err
	}
	rec := AppRecord{Application: app, CreatedBy: body.Principal.ID, CreatedAt: body.At.UTC()}
	return rec, setJSON(b, appKey(app.ID), rec)
}

func applyVersionCreate(b Batch, kind string, body VersionCreateBody) (any, error) {
	v := body.Version
	v.State = deploy.StateRequested
	if err := v.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	app, err := getRec[AppRecord](b, appKey(v.AppID), "application "+v.AppID)
	if err != nil {
		return nil, err
	}
	if ok, err := exists(b, versionKey(v.AppID, v.Version)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("version %s %s: %w", v.AppID, v.Version, ErrConflict)
	}
	subject := "version/" + v.AppID + "/" + v.Version
	d := deploy.Authorize(body.Principal, deploy.ActionRequest, deploy.Object{Kind: "version", ID: v.AppID + "@" + v.Version, Scope: app.AllowedScope}, body.At)
	if rec, err := decide(b, body.GovCtx, kind, subject, app.AllowedScope, "", body, nil, d); err != nil {
		return rec, err
	}
	rec := VersionRecord{ApplicationVersion: v, RequestedBy: body.Principal.ID, CreatedAt: body.At.UTC(), History: []TransitionRecord{}}
	return rec, setJSON(b, versionKey(v.AppID, v.Version), rec)
}

func applyArtifactCreate(b Batch, kind string, body ArtifactCreateBody) (any, error) {
	a := body.Artifact
	a.PackagedBy = body.Principal.ID // the packager is the caller, never a claim
	a.SHA256, a.Provenance, a.SBOM, a.ScanReport = digest.Canonical(a.SHA256), digest.Canonical(a.Provenance), digest.Canonical(a.SBOM), digest.Canonical(a.ScanReport)
	if err := a.Validate(); err != nil {
		return nil, fieldInvalid("", err)
	}
	app, err := getRec[AppRecord](b, appKey(a.AppID), "application "+a.AppID)
	if err != nil {
		return nil, err
	}
	v, err := getRec[VersionRecord](b, versionKey(a.AppID, a.Version), "version "+a.AppID+" "+a.Version)
	if err != nil {
		return nil, err
	}
	if ok, err := exists(b, artifactKey(a.AppID, a.Version, a.SHA256)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("artifact %s: %w", a.SHA256, ErrConflict)
	}
	arts, err := artifactsOf(b, a.AppID, a.Version)
	if err != nil {
		return nil, err
	}
	var held []deploy.Artifact
	for _, x := range arts {
		held = append(held, x.Artifact)
	}
	if err := deploy.CheckArtifactNames(append(held, a)); err != nil {
		return nil, fmt.Errorf("name: %v: %w", err, ErrConflict)
	}
	d := Combine(
		deploy.Authorize(body.Principal, deploy.ActionPackage, deploy.Object{Kind: "artifact", ID: a.SHA256.String(), Scope: app.AllowedScope}, body.At),
		check("catalog.version-open", v.State != deploy.StateRetired, "version %s %s is %s: artifacts are added to versions that are not retired", a.AppID, a.Version, v.State),
	)
	if rec, err := decide(b, body.GovCtx, kind, "artifact/"+a.SHA256.String(), app.AllowedScope, "", body, nil, d); err != nil {
		return rec, err
	}
	idx, err := getRec[[]string](b, artifactIndexKey(a.AppID, a.Version), "artifacts")
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err := setJSON(b, artifactIndexKey(a.AppID, a.Version), append(idx, a.SHA256.Hex())); err != nil {
		return nil, err
	}
	rec := ArtifactRecord{Artifact: a, CreatedAt: body.At.UTC()}
	return rec, setJSON(b, artifactKey(a.AppID, a.Version, a.SHA256), rec)
}

// packagerFor returns the packager an actor is separated from: the actor
// itself when it packaged any of the artifacts, else the first packager.
func packagerFor(arts []ArtifactRecord, actor string) string {
	first := ""
	for _, a := range arts {
		if a.PackagedBy == actor {
			return actor
		}
		if first == "" {
			first = a.PackagedBy
		}
	}
	return first
}

// artifactsOf reads the artifacts a transition needs. The Batch interface
// has no iteration, so the version's artifact digests are tracked on the
// artifact keys' own index.
func artifactsOf(b Batch, app, version string) ([]ArtifactRecord, error) {
	idx, err := getRec[[]string](b, artifactIndexKey(app, version), "artifacts")
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ArtifactRecord
	for _, h := range idx {
		a, err := getRec[ArtifactRecord](b, artifactHexKey(app, version, h), "artifact "+h)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func applyTransition(b Batch, kind string, body TransitionBody) (any, error) {
	if !body.To.Valid() {
		return nil, invalidf("to: unknown state %q (want one of %v)", body.To, deploy.States)
	}
	if body.To == deploy.StatePublished {
		return nil, invalidf("to: a version becomes published by publishing an intent to a production ring (POST /v1/intents/{id}:publish)")
	}
	app, err := getRec[AppRecord](b, appKey(body.AppID), "application "+body.AppID)
	if err != nil {
		return nil, err
	}
	v, err := getRec[VersionRecord](b, versionKey(body.AppID, body.Version), "version "+body.AppID+" "+body.Version)
	if err != nil {
		return nil, err
	}
	ev, err := deploy.Transition(v.State, body.To)
	if err != nil {
		return nil, fmt.Errorf("%w: to: %v", ErrInvalid, err)
	}
	arts, err := artifactsOf(b, body.AppID, body.Version)
	if err != nil {
		return nil, err
	}
	obj := deploy.Object{Kind: "version", ID: body.AppID + "@" + body.Version, Scope: app.AllowedScope,
		RequestedBy: v.RequestedBy, PackagedBy: packagerFor(arts, body.Principal.ID), Ring: deploy.Ring0Lab}
	d := deploy.Authorize(body.Principal, ev.Requires, obj, body.At)
	if body.To == deploy.StatePackaged || body.To == deploy.StateStaged || body.To == deploy.StateApproved {
		d = Combine(d, check("catalog.artifact-present", len(arts) > 0, "%s %s has %d registered artifact(s) (need at least one)", body.AppID, body.Version, len(arts)))
	}
	if body.To == deploy.StateRetired {
		// LOB retention (section 7.5): a version a ring holds, or that a
		// rollout would roll back to, stays.
		needed, err := rollbackNeeds(b, body.AppID, body.Version)
		if err != nil {
			return nil, err
		}
		d = Combine(d, check("retention.rollback-target", len(needed) == 0, "%s %s is held by or the rollback target of rollout(s) %v: it stays until they no longer need it", body.AppID, body.Version, needed))
	}
	subject := "version/" + body.AppID + "/" + body.Version
	if rec, err := decide(b, body.GovCtx, kind, subject, app.AllowedScope, "", body, ev, d); err != nil {
		return rec, err
	}
	v.State = body.To
	v.History = append(v.History, TransitionRecord{TransitionEvent: ev, By: body.Principal.ID, At: body.At.UTC(), DecisionID: body.DecisionID})
	return v, setJSON(b, versionKey(body.AppID, body.Version), v)
}

func applyScopeChange(b Batch, kind string, body AppScopeBody) (any, error) {
	if err := body.Scope.Validate(); err != nil {
		return nil, invalidf("scope: %v", err)
	}
	app, err := getRec[AppRecord](b, appKey(body.AppID), "application "+body.AppID)
	if err != nil {
		return nil, err
	}
	cab, err := optApproval(b, body.Approval, "approval")
	if err != nil {
		return nil, err
	}
	next, diff, change := deploy.ChangeAppScope(app.Application, body.Scope, body.Principal.ID, cab, body.Sites, body.At)
	authz := deploy.Authorize(body.Principal, deploy.ActionChangeScope, deploy.Object{Kind: "application", ID: app.ID, Scope: body.Scope}, body.At)
	d := Combine(authz, change)
	if rec, err := decide(b, body.GovCtx, kind, "app/"+app.ID, app.AllowedScope, "", body, diff, d); err != nil {
		if errors.Is(err, deploy.ErrDenied) && onlyFailed(d, "cab.") {
			if rerr := recordApprovalRequest(b, body.GovCtx, deploy.ScopeChangeSubject(app.ID, app.ScopeVersion+1), app.AllowedScope); rerr != nil {
				return nil, rerr
			}
		}
		return rec, err
	}
	app.Application = next
	return app, setJSON(b, appKey(app.ID), app)
}
