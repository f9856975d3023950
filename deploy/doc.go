// Package deploy is EUCORA's governance domain: roles and scopes, the
// catalog lifecycle, the deterministic risk model, CAB approvals and
// exceptions, evidence requirements, segmentation guardrails, separation of
// duties, deployment intents and ring promotion gates.
//
// Everything here is pure and deterministic: no I/O, no clocks, no
// randomness. Callers pass the time a decision is judged at. The hub applies
// these rules on writes and an edge applies the same rules offline.
package deploy
