package deploy

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Principal is an authenticated actor: an id, one role and the scope the
// role is granted in (EUCORA-architecture.md section 5.5, 14.1). ID is the person, not the token: a
// person holding two roles is two principals with the same ID (at the hub,
// two tokens with the same name); the separation-of-duties rules compare
// IDs, so holding two roles does not let anyone approve their own work.
// Who requested what is approved is always taken from the stored request
// (Object.RequestedBy, ApprovalRecord.RequestedBy), never from the approver.
type Principal struct {
	ID    string `json:"id"`
	Role  Role   `json:"role"`
	Scope Scope  `json:"scope"`
}

// Action is something a principal asks to do.
type Action string

// Actions. Reads cover catalog, events and evidence.
const (
	ActionRead             Action = "read"
	ActionRequest          Action = "request"           // request an application or version
	ActionPackage          Action = "package"           // build, test, sign an artifact
	ActionStage            Action = "stage"             // publish to staging (Ring 0)
	ActionApprove          Action = "approve"           // CAB decision
	ActionPublish          Action = "publish"           // publish to production rings (1-4)
	ActionRetire           Action = "retire"            // retire a published release
	ActionRequestException Action = "request-exception" // ask for a policy exception
	ActionApproveException Action = "approve-exception" // Security Reviewer decision on an exception
	ActionChangeScope      Action = "change-scope"      // request a change of an app's allowed scope
	ActionConfigure        Action = "configure"         // platform, integration and policy configuration
	ActionRemediate        Action = "remediate"         // trigger remediation within scope
	ActionRequestElevation Action = "request-elevation" // JIT elevation
)

// Actions lists every action in a stable order.
var Actions = []Action{
	ActionRead, ActionRequest, ActionPackage, ActionStage, ActionApprove, ActionPublish, ActionRetire,
	ActionRequestException, ActionApproveException, ActionChangeScope, ActionConfigure, ActionRemediate,
	ActionRequestElevation,
}

// rights is the RBAC table of EUCORA-architecture.md section 5.5 and 14.1. Everything not listed is
// denied.
var rights = map[Role][]Action{
	RolePlatformAdmin:     {ActionRead, ActionConfigure},
	RolePackagingEngineer: {ActionRead, ActionRequest, ActionPackage, ActionStage, ActionRequestException},
	RolePublisher:         {ActionRead, ActionPublish, ActionRetire, ActionRequestException},
	RoleCABApprover:       {ActionRead, ActionApprove},
	RoleSecurityReviewer:  {ActionRead, ActionApproveException},
	RoleEndpointOps:       {ActionRead, ActionRequest, ActionRemediate, ActionChangeScope, ActionRequestElevation},
	RoleAuditor:           {ActionRead},
}

// Permits reports whether the RBAC table gives role the action (before
// scope and separation-of-duties rules).
func Permits(role Role, a Action) bool {
	for _, x := range rights[role] {
		if x == a {
			return true
		}
	}
	return false
}

// Object is what an action applies to, with the facts the rules need.
type Object struct {
	Kind        string          `json:"kind"` // "intent", "artifact", "application", "exception", ...
	ID          string          `json:"id"`
	Scope       Scope           `json:"scope"`                  // the object's scope (intent target, app scope)
	RequestedBy string          `json:"requested_by,omitempty"` // who asked for what is being approved or published
	PackagedBy  string          `json:"packaged_by,omitempty"`  // packager of the artifact concerned
	Ring        Ring            `json:"ring"`                   // target ring of stage and publish
	CABRequired bool            `json:"cab_required"`           // from the risk assessment (EUCORA-architecture.md section 9.3)
	CABApproval *ApprovalRecord `json:"cab_approval,omitempty"` // for publish when CAB is required
}

// Authorize decides whether p may perform a on obj at time at. Rules, in
// order (every applicable rule is evaluated so a denial lists every reason):
//
//	rbac.role       the principal has a known role and a valid scope
//	rbac.action     the role's rights include the action (auditors: read only)
//	rbac.scope      the object's scope is within the principal's scope
//	sod.staging-only        stage targets Ring 0 only; Rings 1-4 are production
//	sod.packaging-no-production  packaging engineers never publish to production
//	sod.no-self-approval    approvers never approve their own request
//	sod.packager-separation the packager of an artifact neither approves nor publishes it
//	sod.cab-not-publisher   the CAB approver of an intent does not publish it
//	publish.cab            publish needs a CAB approval that holds at time at when required
func Authorize(p Principal, a Action, obj Object, at time.Time) Decision {
	var j judge
	_, roleErr := ParseRole(string(p.Role))
	scopeErr := p.Scope.Validate()
	j.check("rbac.role", roleErr == nil && scopeErr == nil && ValidIdentifier(p.ID),
		fmt.Sprintf("principal %q role %q scope %s", p.ID, p.Role, p.Scope))
	known := false
	for _, x := range Actions {
		known = known || x == a
	}
	switch {
	case !known:
		j.check("rbac.action", false, fmt.Sprintf("unknown action %q", a))
	case p.Role == RoleAuditor && a != ActionRead:
		j.check("rbac.action", false, fmt.Sprintf("auditors are read-only: %s is a write", a))
	case p.Role == RolePackagingEngineer && a == ActionPublish:
		j.check("sod.packaging-no-production", false, "packaging engineers stage to Ring 0 only and never publish to production (EUCORA-architecture.md section 5.5, 12, 14.1)")
	default:
		j.check("rbac.action", Permits(p.Role, a), fmt.Sprintf("role %s may %s: %v (role rights: %s)", p.Role, a, Permits(p.Role, a), rightsList(p.Role)))
	}
	j.check("rbac.scope", p.Scope.Contains(obj.Scope), fmt.Sprintf("%s %s scope %s ⊆ principal scope %s", obj.Kind, obj.ID, obj.Scope, p.Scope))

	switch a {
	case ActionStage:
		j.check("sod.staging-only", obj.Ring == Ring0Lab, fmt.Sprintf("stage targets %s: staging is Ring 0 only, Rings 1-4 are production and need a publisher", obj.Ring))
	case ActionApprove, ActionApproveException:
		j.check("sod.no-self-approval", obj.RequestedBy != "" && obj.RequestedBy != p.ID,
			fmt.Sprintf("approver %s, requester %s: nobody approves their own request (the requester must be known)", p.ID, orNone(obj.RequestedBy)))
	}
	switch a {
	case ActionApprove, ActionPublish, ActionApproveException:
		j.check("sod.packager-separation", obj.PackagedBy == "" || obj.PackagedBy != p.ID,
			fmt.Sprintf("%s by %s, artifact packaged by %s: the packager of an artifact cannot approve or publish it", a, p.ID, orNone(obj.PackagedBy)))
	}
	if a == ActionPublish {
		j.check("publish.ring", obj.Ring.Valid(), fmt.Sprintf("publish target %s", obj.Ring))
		j.check("publish.packager-known", obj.PackagedBy != "", fmt.Sprintf("packager of the artifact of %s %s is recorded: %s", obj.Kind, obj.ID, orNone(obj.PackagedBy)))
		if obj.CABRequired {
			j.merge("publish.", obj.CABApproval.CheckCABFor(Subject(SubjectIntent, obj.ID), obj.RequestedBy, at))
			if obj.CABApproval != nil {
				j.check("sod.cab-not-publisher", obj.CABApproval.Approver != p.ID,
					fmt.Sprintf("publisher %s, CAB approver %s: approval and publishing are different people", p.ID, obj.CABApproval.Approver))
			}
		} else {
			j.check("publish.cab", true, fmt.Sprintf("CAB approval not required for %s %s at %s", obj.Kind, obj.ID, obj.Ring))
		}
	}
	return j.decision()
}

func rightsList(r Role) string {
	var s []string
	for _, a := range rights[r] {
		s = append(s, string(a))
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
