package store

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

func getGov[T any](s *State, k []byte, what string) (v T, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, k, &v) })
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return v, err
}

// App returns the catalog application id.
func (s *State) App(id string) (AppRecord, error) {
	return getGov[AppRecord](s, appKey(id), "application "+id)
}

// Apps lists the catalog in id order.
func (s *State) Apps() (out []AppRecord, err error) {
	err = scan(s, prefixApp, func(v AppRecord) bool { out = append(out, v); return true })
	return out, err
}

// Version returns one version of app.
func (s *State) Version(app, v string) (VersionRecord, error) {
	return getGov[VersionRecord](s, versionKey(app, v), "version "+app+" "+v)
}

// Versions lists the versions of app in version-string order.
func (s *State) Versions(app string) (out []VersionRecord, err error) {
	err = scan(s, versionPrefix(app), func(v VersionRecord) bool { out = append(out, v); return true })
	return out, err
}

// Artifacts lists the artifacts of a version in digest order.
func (s *State) Artifacts(app, v string) (out []ArtifactRecord, err error) {
	err = scan(s, artifactPrefix(app, v), func(a ArtifactRecord) bool { out = append(out, a); return true })
	return out, err
}

// Artifact returns one artifact of a version by digest.
func (s *State) Artifact(app, v string, d digest.Digest) (ArtifactRecord, error) {
	return getGov[ArtifactRecord](s, artifactKey(app, v, digest.Canonical(d)), "artifact "+d.String()+" of "+app+" "+v)
}

// Assessment returns a stored risk assessment.
func (s *State) Assessment(id string) (AssessmentRecord, error) {
	return getGov[AssessmentRecord](s, assessmentKey(id), "assessment "+id)
}

// Approval returns a CAB approval record.
func (s *State) Approval(id string) (deploy.ApprovalRecord, error) {
	return getGov[deploy.ApprovalRecord](s, approvalKey(id), "approval "+id)
}

// ApprovalRequest returns the recorded request for a CAB approval of
// subject (concurrency:, scope-change: and elevation: subjects).
func (s *State) ApprovalRequest(subject string) (ApprovalRequestRecord, error) {
	return getGov[ApprovalRequestRecord](s, approvalRequestKey(subject), "approval request "+subject)
}

// Exception returns an exception record.
func (s *State) Exception(id string) (deploy.Exception, error) {
	return getGov[deploy.Exception](s, exceptionKey(id), "exception "+id)
}

// Approvals lists every approval record in id order.
func (s *State) Approvals() (out []deploy.ApprovalRecord, err error) {
	err = scan(s, prefixApproval, func(v deploy.ApprovalRecord) bool { out = append(out, v); return true })
	return out, err
}

// Exceptions lists every exception in id order.
func (s *State) Exceptions() (out []deploy.Exception, err error) {
	err = scan(s, prefixException, func(v deploy.Exception) bool { out = append(out, v); return true })
	return out, err
}

// Intent returns a deployment intent.
func (s *State) Intent(id string) (IntentRecord, error) {
	return getGov[IntentRecord](s, intentKey(id), "intent "+id)
}

// Intents lists every intent in id order.
func (s *State) Intents() (out []IntentRecord, err error) {
	err = scan(s, prefixIntent, func(v IntentRecord) bool { out = append(out, v); return true })
	return out, err
}

// Evidence returns the record of a stored evidence pack.
func (s *State) Evidence(d digest.Digest) (EvidenceRecord, error) {
	return getGov[EvidenceRecord](s, evidenceKey(d.Hex()), "evidence "+d.String())
}

// Decision returns a decision record.
func (s *State) Decision(id string) (DecisionRecord, error) {
	return getGov[DecisionRecord](s, decisionKey(id), "decision "+id)
}

// Decisions lists decision records in id (time) order.
func (s *State) Decisions() (out []DecisionRecord, err error) {
	err = scan(s, prefixDecision, func(v DecisionRecord) bool { out = append(out, v); return true })
	return out, err
}

// Grant returns the JIT grant of an allowed elevation request.
func (s *State) Grant(id string) (deploy.ElevationGrant, error) {
	return getGov[deploy.ElevationGrant](s, grantKey(id), "elevation "+id)
}

// ApprovalRequests lists every recorded request for a CAB approval
// (ApprovalRequestRecord) in subject order: the console's CAB queue.
func (s *State) ApprovalRequests() (out []ApprovalRequestRecord, err error) {
	err = scan(s, prefixApprovalRequest, func(v ApprovalRequestRecord) bool { out = append(out, v); return true })
	return out, err
}
