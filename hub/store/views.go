package store

import (
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

// Conversions between stored records and the API's types (package
// hub/api). Each stored record has its own type so that its JSON in Pebble
// and its JSON on the wire change only on purpose; a field added to one
// side fails to compile here until it is mapped or deliberately left out.

// View is the site as the API shows it.
func (s Site) View() api.Site {
	return api.Site{Name: s.Name, Class: s.Class, Scope: s.Scope, CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy,
		EdgeKeyID: s.EdgeKeyID, EdgeKeyPEM: s.EdgeKeyPEM, APT: APTViews(s.APT)}
}

// SiteViews converts a list of sites.
func SiteViews(in []Site) []api.Site { return Views(in, Site.View) }

// APTViews converts APT assignments; nil stays nil.
func APTViews(in []APTAssignment) []api.APTAssignment {
	return Views(in, func(a APTAssignment) api.APTAssignment { return api.APTAssignment(a) })
}

// APTFromAPI converts the API's APT assignments to stored ones.
func APTFromAPI(in []api.APTAssignment) []APTAssignment {
	return Views(in, func(a api.APTAssignment) APTAssignment { return APTAssignment(a) })
}

// SeqRangeViews converts event gaps; nil stays nil.
func SeqRangeViews(in []SeqRange) []api.SeqRange {
	return Views(in, func(r SeqRange) api.SeqRange { return api.SeqRange(r) })
}

// View is the event as the API shows it.
func (e Event) View() api.Event { return api.Event(e) }

// EventViews converts a list of events.
func EventViews(in []Event) []api.Event { return Views(in, Event.View) }

// EventsIngestFromAPI converts an events batch of the API.
func EventsIngestFromAPI(in api.EventsIngest) EventsIngestBody {
	return EventsIngestBody{Origin: in.Origin, Events: Views(in.Events, func(e api.IngestEvent) IngestEvent { return IngestEvent(e) })}
}

// View is the ingest result as the API shows it.
func (r IngestResult) View() api.IngestResult { return api.IngestResult(r) }

// View is the export as the API shows it.
func (x ExportRecord) View() api.Export {
	return api.Export{Site: x.Site, Sequence: x.Sequence, BundleID: x.BundleID, Digest: x.Digest, Predecessor: x.Predecessor,
		Created: x.Created, Expires: x.Expires, Objects: x.Objects, ObjectBytes: x.ObjectBytes, Records: x.Records, Full: x.Full,
		ManifestOnly: x.ManifestOnly, ContentKey: x.ContentKey, AckSeq: x.AckSeq, AnnouncedKey: x.AnnouncedKey,
		HeldDigest: x.HeldDigest, Node: x.Node,
		Volumes: Views(x.Volumes, func(v VolumeInfo) api.VolumeInfo { return api.VolumeInfo(v) })}
}

// View is the import result as the API shows it, without the fields the
// server adds (site, bundle, digest, ignored records).
func (r SiteImportResult) View() api.ImportResult {
	v := api.ImportResult{Outcome: r.Outcome, Sequence: r.Sequence, EventsAccepted: r.EventsAccepted, EventsDuplicate: r.EventsDuplicate,
		ChainOK: r.ChainOK, ChainError: r.ChainError, LastAppliedSeq: r.LastAppliedSeq, Warnings: r.Warnings}
	if r.Gap != nil {
		g := api.SeqRange(*r.Gap)
		v.Gap = &g
	}
	return v
}

// View is the retired key as the API shows it.
func (k RetiredKey) View() api.RetiredKey { return api.RetiredKey(k) }

// View is the application as the API shows it.
func (r AppRecord) View() api.App { return api.App(r) }

// AppViews converts a list of applications.
func AppViews(in []AppRecord) []api.App { return Views(in, AppRecord.View) }

// View is the version as the API shows it.
func (r VersionRecord) View() api.Version {
	return api.Version{ApplicationVersion: r.ApplicationVersion, RequestedBy: r.RequestedBy, CreatedAt: r.CreatedAt,
		PublishedAt: r.PublishedAt, History: Views(r.History, func(t TransitionRecord) api.Transition { return api.Transition(t) })}
}

// View is the artifact as the API shows it.
func (r ArtifactRecord) View() api.Artifact { return api.Artifact(r) }

// ArtifactViews converts a list of artifacts.
func ArtifactViews(in []ArtifactRecord) []api.Artifact { return Views(in, ArtifactRecord.View) }

// View is the assessment as the API shows it.
func (r AssessmentRecord) View() api.Assessment { return api.Assessment(r) }

// View is the intent as the API shows it.
func (r IntentRecord) View() api.Intent { return api.Intent(r) }

// IntentViews converts a list of intents.
func IntentViews(in []IntentRecord) []api.Intent { return Views(in, IntentRecord.View) }

// View is the evidence record as the API shows it.
func (r EvidenceRecord) View() api.Evidence { return api.Evidence(r) }

// View is the decision as the API shows it.
func (r DecisionRecord) View() api.Decision { return api.Decision(r) }

// DecisionViews converts a list of decisions.
func DecisionViews(in []DecisionRecord) []api.Decision { return Views(in, DecisionRecord.View) }

// Views converts each element with f; nil stays nil and empty stays empty, so
// "[]" and "null" in answers do not change.
func Views[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// ViewOf converts the value a command's apply returned to what the API
// answers: a stored record becomes its view; values that are already wire
// types (domain records of package deploy, counts) pass unchanged.
// HasView reports false for a stored type that has no view, which the
// server refuses to put on the wire.
func ViewOf(v any) any {
	switch r := v.(type) {
	case Site:
		return r.View()
	case Event:
		return r.View()
	case Plane:
		return r.View()
	case IngestResult:
		return r.View()
	case ExportRecord:
		return r.View()
	case SiteImportResult:
		return r.View()
	case AppRecord:
		return r.View()
	case VersionRecord:
		return r.View()
	case ArtifactRecord:
		return r.View()
	case AssessmentRecord:
		return r.View()
	case IntentRecord:
		return r.View()
	case EvidenceRecord:
		return r.View()
	case DecisionRecord:
		return r.View()
	case VulnFeed:
		return r.View()
	case CodeSignRoot:
		return r.View()
	case SigningKey:
		return r.View()
	case RingTargets:
		return r.View()
	case Rollout:
		return r.View()
	case Incident:
		return r.View()
	case DriftSet:
		return DriftViews([]DriftSet{r})
	case deploy.DriftPolicy:
		return r
	case RollbackValidation:
		return api.RollbackValidation(r)
	}
	return v
}

// View is the token as the API lists it: never its hash.
func (t Token) View() api.Token {
	return api.Token{ID: t.ID, Name: t.Name, Role: t.Role, Scope: t.Scope, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, RevokedAt: t.RevokedAt}
}

// EventFromAPI is the stored form of an event as the API showed it, for
// checking a log read through the API (ChainVerifier).
func EventFromAPI(e api.Event) Event { return Event(e) }

// View is the plane as the API shows it: never its credentials.
func (p Plane) View() api.Plane {
	return api.Plane{Name: p.Name, Kind: p.Kind, URL: p.URL, Scope: p.Scope, Site: p.Site, CreatedAt: p.CreatedAt, CreatedBy: p.CreatedBy, KeyID: p.KeyID}
}

// PlaneViews converts a list of planes.
func PlaneViews(in []Plane) []api.Plane { return Views(in, Plane.View) }

// View is the feed as the API shows it.
func (f VulnFeed) View() api.VulnFeed { return api.VulnFeed(f) }

// View is the root as the API shows it.
func (r CodeSignRoot) View() api.CodeSignRoot { return api.CodeSignRoot(r) }

// View is the key as the API shows it.
func (k SigningKey) View() api.SigningKey { return api.SigningKey(k) }

// View is the ring targets as the API shows them.
func (t RingTargets) View() api.RingTargets {
	return api.RingTargets{Plane: t.Plane, Ring: t.Ring, UpdatedBy: t.UpdatedBy, UpdatedAt: t.UpdatedAt,
		Targets: Views(t.Targets, func(x Target) api.Target { return api.Target(x) })}
}

// TargetsFromAPI converts the API's targets to stored ones.
func TargetsFromAPI(in []api.Target) []Target {
	return Views(in, func(x api.Target) Target { return Target(x) })
}

// View is the rollout as the API shows it.
func (r Rollout) View() api.Rollout {
	v := api.Rollout{IntentID: r.IntentID, AppID: r.AppID, Version: r.Version, Ring: r.Ring, Scope: r.Scope, Base: r.Base, Prev: r.Prev,
		Next: r.Next, Rev: r.Rev, State: r.State, OnFailure: r.OnFailure, Plane: r.Plane, PlaneKind: r.PlaneKind, PlaneReason: r.PlaneReason,
		SiteClass: r.SiteClass, Prior: r.Prior, PublishedAt: r.PublishedAt, Results: r.Results, Validation: r.Validation,
		RollbackValidated: r.RollbackValidated, Waiting: r.Waiting, PausedBy: r.PausedBy, PauseReason: r.PauseReason,
		RollbackRequested: r.RollbackRequested, RollbackAction: r.RollbackAction, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Targets: Views(r.Targets, func(x Target) api.Target { return api.Target(x) }),
		Steps:   Views(r.Steps, func(x RolloutStep) api.RolloutStep { return api.RolloutStep(x) })}
	if v.Steps == nil {
		v.Steps = []api.RolloutStep{}
	}
	if t := r.Telemetry; t != nil {
		v.Telemetry = &api.Telemetry{At: t.At, Measure: t.Measure, Assigned: t.Assigned, Objects: t.Objects}
	}
	if g := r.Gate; g != nil {
		x := api.Gate(*g)
		v.Gate = &x
	}
	if b := r.Backoff; b != nil {
		x := api.Backoff(*b)
		v.Backoff = &x
	}
	return v
}

// RolloutViews converts a list of rollouts.
func RolloutViews(in []Rollout) []api.Rollout { return Views(in, Rollout.View) }

// View is the incident as the API shows it.
func (i Incident) View() api.Incident { return api.Incident(i) }

// DriftViews flattens drift sets into the API's list.
func DriftViews(sets []DriftSet) []api.Drift {
	out := []api.Drift{}
	for _, s := range sets {
		for _, d := range s.Open {
			out = append(out, api.Drift(d))
		}
	}
	return out
}
