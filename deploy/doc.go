// Package deploy is EUCORA's governance domain: roles and scopes, the
// catalog lifecycle, the deterministic risk model, CAB approvals and
// exceptions, evidence requirements, segmentation guardrails, separation of
// duties, deployment intents and ring promotion gates.
//
// Everything here is pure and deterministic: no I/O, no clocks, no
// randomness. Callers pass the time a decision is judged at. The hub applies
// these rules on writes and an edge applies the same rules offline.
//
// Entry points:
//
//   - Risk: ParseRiskInput, Score (Assessment), LookupModel, ModelVersions,
//     ArtifactFacts.Derive, BuildRiskInput, RiskModel.CABRequirement.
//   - Catalog: Application, ApplicationVersion, Artifact (Validate),
//     Transition (lifecycle audit events), ChangeAppScope, DiffScope.
//   - Authority: Authorize (RBAC and separation of duties), CheckTargetScope
//     (segmentation guardrails), ApprovalRecord.CheckCAB, Exception.Check,
//     CheckScanGate.
//   - Rollout: ParseIntent, CheckConcurrency, DecidePublish (the publish
//     gate composing every rule), EvaluatePromotion (ring gates),
//     AdmitAtSite (what an edge re-checks offline before acting).
//   - Evidence: EvidencePack (Missing, CheckComplete, CanonicalBytes),
//     SignEvidence, VerifyEvidence, StoreEvidence, LoadEvidence,
//     EvidenceStore, Canonical.
//   - EvaluateElevation (JIT), PlanRetention (LOB retention).
//
// Every judgement returns a Decision: the ordered list of rules checked,
// each with pass/fail and a reason. Decision.Err converts a denial into a
// *DeniedError (errors.Is ErrDenied). Malformed input is a *FieldError
// naming the field (errors.Is ErrInvalidInput). See DESIGN.md.
package deploy
