package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/eucora/eucora/deploy"
)

// Governance state: the catalog, risk assessments, CAB approvals,
// exceptions, deployment intents, evidence records and every policy
// decision, each stored with its inputs, model version and explanation.
//
// Every governance command carries a GovCtx chosen by the proposer: the
// decision id, the judgement time and the caller as a deploy.Principal.
// Decisions that depend on state (separation of duties against the stored
// packager and requester, one active change per app and ring, scope
// subsets) are evaluated here, inside the deterministic processor, at the
// command's time, so two concurrent writes cannot both pass a check the
// other would have failed. A refused command writes its decision record
// and its audit event and nothing else.
//
// The governance commands are in three tables: catalogHandlers
// (governance_catalog.go: applications, versions, artifacts, lifecycle,
// allowed scope), reviewHandlers (governance_review.go: risk assessments,
// CAB approvals, exceptions, JIT elevation) and intentHandlers
// (governance_intents.go: deployment intents, their publish and promotion
// gates, evidence). Every one goes through govCmd. Record and body types
// are in governance_types.go.

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// fieldInvalid turns a deploy validation error into ErrInvalid naming the
// field under prefix.
func fieldInvalid(prefix string, err error) error {
	var fe *deploy.FieldError
	if errors.As(err, &fe) {
		return invalidf("%s%s: %s", prefix, fe.Field, fe.Msg)
	}
	return invalidf("%s%v", prefix, err)
}

func (c GovCtx) validate() error {
	if c.DecisionID == "" || !deploy.ValidIdentifier(c.DecisionID) {
		return invalidf("decision_id %q: want an identifier", c.DecisionID)
	}
	if c.At.IsZero() {
		return invalidf("at: required")
	}
	if !deploy.ValidIdentifier(c.Principal.ID) {
		return invalidf("principal.id %q: want an identifier", c.Principal.ID)
	}
	return nil
}

// Combine merges decisions: it allows only if there is at least one check
// and every check passed (deploy's default deny).
func Combine(ds ...deploy.Decision) deploy.Decision {
	var out deploy.Decision
	for _, d := range ds {
		out.Checks = append(out.Checks, d.Checks...)
	}
	out.Allowed = len(out.Checks) > 0
	for _, c := range out.Checks {
		out.Allowed = out.Allowed && c.Pass
	}
	return out
}

func check(rule string, pass bool, format string, args ...any) deploy.Decision {
	return deploy.Decision{Allowed: pass, Checks: []deploy.Check{{Rule: rule, Pass: pass, Reason: fmt.Sprintf(format, args...)}}}
}

// decide writes the decision record of c and returns it with a
// *deploy.DeniedError when d denies.
func decide(b Batch, c GovCtx, kind, subject string, scope deploy.Scope, model string, inputs, result any, d deploy.Decision) (DecisionRecord, error) {
	in, err := json.Marshal(inputs)
	if err != nil {
		return DecisionRecord{}, err
	}
	rec := DecisionRecord{ID: c.DecisionID, Kind: kind, Subject: subject, Scope: scope, At: c.At.UTC(), Principal: c.Principal,
		ModelVersion: model, Allowed: d.Allowed, Decision: d, Explanation: d.Reasons(), Inputs: in}
	if rec.Decision.Checks == nil {
		rec.Decision.Checks = []deploy.Check{}
	}
	if rec.Explanation == nil {
		rec.Explanation = []string{}
	}
	if result != nil {
		if rec.Result, err = json.Marshal(result); err != nil {
			return rec, err
		}
	}
	if err := setJSON(b, decisionKey(c.DecisionID), rec); err != nil {
		return rec, err
	}
	return rec, d.Err(kind + " " + subject)
}

type govBody interface{ ctx() GovCtx }

func (c GovCtx) ctx() GovCtx { return c }

// gov is the handler of a governance command applied by fn (see govCmd).
func gov[T govBody](fn func(Batch, string, T) (any, error)) handler {
	return func(b Batch, cmd Command) (any, error) { return govCmd(b, cmd, fn) }
}

// govCmd decodes a governance body, checks its GovCtx and that its
// decision id is new, then runs fn with the command type as the decision
// kind.
func govCmd[T govBody](b Batch, cmd Command, fn func(Batch, string, T) (any, error)) (any, error) {
	body, err := decode[T](cmd)
	if err != nil {
		return nil, err
	}
	c := body.ctx()
	if err := c.validate(); err != nil {
		return nil, err
	}
	if ok, err := exists(b, decisionKey(c.DecisionID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("decision %q: %w", c.DecisionID, ErrConflict)
	}
	return fn(b, cmd.Type, body)
}

// intentContext loads an intent with its application and artifact.
func intentContext(b Batch, id string) (IntentRecord, AppRecord, ArtifactRecord, error) {
	in, err := getRec[IntentRecord](b, intentKey(id), "intent "+id)
	if err != nil {
		return in, AppRecord{}, ArtifactRecord{}, err
	}
	app, err := getRec[AppRecord](b, appKey(in.AppID), "application "+in.AppID)
	if err != nil {
		return in, app, ArtifactRecord{}, err
	}
	art, err := getRec[ArtifactRecord](b, artifactKey(in.AppID, in.Version, in.Artifact), "artifact "+in.Artifact.String())
	return in, app, art, err
}

func optApproval(b Batch, id, field string) (*deploy.ApprovalRecord, error) {
	if id == "" {
		return nil, nil
	}
	a, err := getRec[deploy.ApprovalRecord](b, approvalKey(id), "approval "+id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return &a, nil
}

// recordApprovalRequest records that c's principal asked for a change
// that needs a CAB approval of subject (see ApprovalRequestRecord).
func recordApprovalRequest(b Batch, c GovCtx, subject string, scope deploy.Scope) error {
	return setJSON(b, approvalRequestKey(subject), ApprovalRequestRecord{Subject: subject, RequestedBy: c.Principal.ID, Scope: scope,
		RequestedAt: c.At.UTC(), DecisionID: c.DecisionID})
}

// onlyFailed reports whether d fails and every failed rule has one of
// prefixes: the refusal is for want of an approval alone.
func onlyFailed(d deploy.Decision, prefixes ...string) bool {
	failed := d.Failed()
	for _, r := range failed {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(r, p) }) {
			return false
		}
	}
	return len(failed) > 0
}
