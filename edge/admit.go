package edge

import (
	"fmt"
	"sort"
	"time"

	"github.com/eucora/eucora/deploy"
)

// AdmitContext is what the caller supplies about an intent besides the
// records the edge holds: the edge's own site scope and the application,
// artifact and risk assessment the intent refers to.
type AdmitContext struct {
	Site     deploy.Scope
	App      deploy.Application
	Artifact deploy.Artifact
	Risk     *deploy.Assessment
}

// Admit decides, offline, whether the edge may act on the held intent
// intentID at time at, with deploy.AdmitAtSite: the CAB approval used is a
// held approval for the intent (the one that holds at at, if any), the
// exception a held exception linked to the intent. An intent that needs CAB
// approval is actionable only with a present, valid approval.
// ErrUnknownIntent if the edge holds no such intent.
func (e *Edge) Admit(intentID string, c AdmitContext, at time.Time) (deploy.Decision, error) {
	st, in, err := e.heldIntent(intentID)
	if err != nil {
		return deploy.Decision{}, err
	}
	return admit(st, in, c, at), nil
}

// heldIntent loads the state and the held intent intentID.
func (e *Edge) heldIntent(intentID string) (*state, deploy.Intent, error) {
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return nil, deploy.Intent{}, err
	}
	in, ok := st.Intents[intentID]
	if !ok {
		return nil, deploy.Intent{}, fmt.Errorf("%w: %q", ErrUnknownIntent, intentID)
	}
	return st, in, nil
}

// admit runs deploy.AdmitAtSite for in with the held approvals and
// exceptions.
func admit(st *state, in deploy.Intent, c AdmitContext, at time.Time) deploy.Decision {
	intentID := in.ID
	subject := deploy.Subject(deploy.SubjectIntent, intentID)
	var cab *deploy.ApprovalRecord
	for _, id := range sortedKeys(st.Approvals) {
		a := st.Approvals[id]
		if a.Subject != subject {
			continue
		}
		if cab == nil || a.CheckCAB(subject, at).Allowed {
			cab = &a
		}
	}
	var exc *deploy.Exception
	for _, id := range sortedKeys(st.Exceptions) {
		x := st.Exceptions[id]
		if x.IntentID == intentID {
			exc = &x
		}
	}
	return deploy.AdmitAtSite(deploy.SiteAdmission{Site: c.Site, App: c.App, Artifact: c.Artifact, Intent: in,
		Risk: c.Risk, CABApproval: cab, Exception: exc}, at)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// AdmitHeld is Admit with everything taken from what the hub sent: the
// site's own scope (site record), the intent's application, artifact and
// risk assessment. It is what an edge with no link uses to decide whether
// it may act on an intent at time at. ErrUnknownIntent if the edge holds
// no such intent; an error naming what is missing if the hub has not sent
// the site record or the intent's application or artifact.
func (e *Edge) AdmitHeld(intentID string, at time.Time) (deploy.Decision, error) {
	st, err := loadState(e.dir.Edge())
	if err != nil {
		return deploy.Decision{}, err
	}
	return admitHeld(st, intentID, at)
}

// admitHeld is AdmitHeld on a loaded state.
func admitHeld(st *state, intentID string, at time.Time) (deploy.Decision, error) {
	in, ok := st.Intents[intentID]
	if !ok {
		return deploy.Decision{}, fmt.Errorf("%w: %q", ErrUnknownIntent, intentID)
	}
	if st.SiteInfo == nil {
		return deploy.Decision{}, fmt.Errorf("no site record from the hub yet: import a bundle from a current hub first")
	}
	app, ok := st.Apps[in.AppID]
	if !ok {
		return deploy.Decision{}, fmt.Errorf("intent %s: the hub sent no application record for %s", intentID, in.AppID)
	}
	art, ok := st.Artifacts[artifactKey(deploy.Artifact{AppID: in.AppID, Version: in.Version, SHA256: in.Artifact})]
	if !ok {
		return deploy.Decision{}, fmt.Errorf("intent %s: the hub sent no artifact record for %s %s %s", intentID, in.AppID, in.Version, in.Artifact.Short())
	}
	c := AdmitContext{Site: st.SiteInfo.Scope, App: app, Artifact: art}
	if r, ok := st.Risks[intentID]; ok {
		c.Risk = &r
	}
	return admit(st, in, c, at), nil
}
