// Package connectors is EUCORA's hands: one contract (Connector) through
// which the rollout orchestrator publishes an approved release to an
// execution plane (Intune, Jamf Pro, SCCM, Landscape, AWX), reads what the
// plane holds and what devices report, remediates, and finds every plane
// object again by the correlation id of the intent that made it
// (EUCORA-architecture.md sections 4, 6.1 and 6.2: the platform decides
// what should happen, existing tools execute how it happens).
//
// The contract is built like restic's backends:
//
//   - one interface, Connector, implemented once per plane
//     (connectors/intune, connectors/jamf, ...), each talking to the
//     plane's real HTTP API;
//   - cross-cutting behaviour as decorators, never copied into a plane:
//     WithRetry (exponential backoff with jitter, driven by the error
//     class), WithLogging (structured, with the correlation id), and at the
//     HTTP level the transports of connectors/httpx (Retry-After on 429 and
//     503, a per-plane rate limit and concurrency cap, bearer tokens renewed
//     when they expire mid-run);
//   - one conformance suite (connectors/conformance) that every plane runs
//     against its simulator (connectors/<plane>/sim), a faithful model of
//     the plane's HTTP API with switchable faults (connectors/sim).
//
// Idempotency is the connector's job, not the caller's: every plane object
// gets a deterministic name or id derived from the ReleaseKey and carries
// the correlation id, and every mutating step looks before it creates, so a
// retry after any crash finds what an earlier attempt made instead of
// making a second one.
package connectors
