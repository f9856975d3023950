package store

// Reads of the orchestrator's records (rollout.go).

import (
	"errors"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eucora/eucora/deploy"
)

// RingTargets returns the groups a ring reaches on a plane.
func (s *State) RingTargets(plane string, r deploy.Ring) (v RingTargets, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, ringTargetsKey(plane, r), &v) })
	return v, err
}

// AllRingTargets lists every plane's ring targets, by plane then ring.
func (s *State) AllRingTargets() (out []RingTargets, err error) {
	err = scan(s, prefixRingTargets, func(v RingTargets) bool { out = append(out, v); return true })
	return out, err
}

// Rollout returns an intent's rollout.
func (s *State) Rollout(intent string) (v Rollout, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, rolloutKey(intent), &v) })
	return v, err
}

// Rollouts lists every rollout in intent id order.
func (s *State) Rollouts() (out []Rollout, err error) {
	err = scan(s, prefixRollout, func(v Rollout) bool { out = append(out, v); return true })
	return out, err
}

// rolloutHead is the part of a rollout record that says where its
// release is desired: what RolloutHeads decodes.
type rolloutHead struct {
	IntentID    string           `json:"intent_id"`
	AppID       string           `json:"app_id"`
	Version     string           `json:"version"`
	Ring        deploy.Ring      `json:"ring"`
	Scope       deploy.Scope     `json:"scope"`
	State       string           `json:"state"`
	Plane       string           `json:"plane,omitempty"`
	SiteClass   deploy.SiteClass `json:"site_class"`
	Targets     []Target         `json:"targets,omitempty"`
	Prior       string           `json:"prior,omitempty"`
	PublishedAt *time.Time       `json:"published_at,omitempty"`
}

// RolloutHeads lists every rollout in intent id order with only the
// fields that say where its release is desired filled in: IntentID,
// AppID, Version, Ring, Scope, State, Plane, SiteClass, Targets, Prior
// and PublishedAt. It is the reconciliation pass's scan, which would
// otherwise spend most of its time decoding steps, telemetry and gates;
// read the whole record with Rollout before acting on one.
func (s *State) RolloutHeads() (out []Rollout, err error) {
	err = scan(s, prefixRollout, func(h rolloutHead) bool {
		out = append(out, Rollout{IntentID: h.IntentID, AppID: h.AppID, Version: h.Version, Ring: h.Ring, Scope: h.Scope, State: h.State,
			Plane: h.Plane, SiteClass: h.SiteClass, Targets: h.Targets, Prior: h.Prior, PublishedAt: h.PublishedAt})
		return true
	})
	return out, err
}

// RollbackValidation returns the plane kinds whose rollback was validated
// for an application version (empty when none was).
func (s *State) RollbackValidation(app, version string) (v RollbackValidation, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, validationKey(app, version), &v) })
	if errors.Is(err, ErrNotFound) {
		return RollbackValidation{AppID: app, Version: version}, nil
	}
	return v, err
}

// Incidents lists every incident in id order.
func (s *State) Incidents() (out []Incident, err error) {
	err = scan(s, prefixIncident, func(v Incident) bool { out = append(out, v); return true })
	return out, err
}

// Drift lists the open drift of every intent and plane.
func (s *State) Drift() (out []DriftSet, err error) {
	err = scan(s, prefixDrift, func(v DriftSet) bool { out = append(out, v); return true })
	return out, err
}

// DriftSet returns the open drift of an intent on a plane (empty when none).
func (s *State) DriftSet(intent, plane string) (v DriftSet, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, driftKey(intent, plane), &v) })
	if errors.Is(err, ErrNotFound) {
		return DriftSet{IntentID: intent, Plane: plane}, nil
	}
	return v, err
}

// DriftPolicy returns the hub's drift policy (the zero policy, detect-only
// everywhere, when none was set).
func (s *State) DriftPolicy() (p deploy.DriftPolicy, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, keyDriftPolicy, &p) })
	if errors.Is(err, ErrNotFound) {
		return deploy.DriftPolicy{}, nil
	}
	return p, err
}

// EvidenceOf lists the evidence packs recorded for an intent, oldest
// first.
func (s *State) EvidenceOf(intent string) (out []EvidenceRecord, err error) {
	err = scan(s, prefixEvidence, func(v EvidenceRecord) bool {
		if v.IntentID == intent {
			out = append(out, v)
		}
		return true
	})
	slices.SortStableFunc(out, func(a, b EvidenceRecord) int { return a.StoredAt.Compare(b.StoredAt) })
	return out, err
}

// RollbackNeeds lists the intents whose rollouts need an application
// version (its ring holds it, or a rollout would roll back to it).
func (s *State) RollbackNeeds(app, version string) (ids []string, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, needsKey(app, version), &ids) })
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return ids, err
}
