// Package vuln is EUCORA's offline vulnerability policy
// (EUCORA-architecture.md section 7.1): OSV records in, findings and a
// pass / fail / exception decision out, with nothing fetched at decision
// time.
//
//   - ParseFeed reads an OSV feed (https://ossf.github.io/osv-schema/):
//     one record, a JSON array, or a zip of *.json records as osv.dev's
//     all.zip is laid out. It is all-or-nothing: a record that breaks the
//     schema (types, required fields, events) is a *RecordError naming the
//     file, the entry and the field, and no Feed is returned. The file's
//     SHA-256 is checked before parsing against a pinned digest, and against
//     a hub-signed FeedStatement when the feed travels in a bundle.
//     osv.dev's buckets publish neither a signature nor a checksum: the
//     pin is the only integrity a downloaded feed has. A Feed's Version
//     (digest of the canonical record set @ newest modified time) names it
//     in evidence.
//   - NewIndex indexes the records by ecosystem and normalised package name
//     and by package URL; (*Index).Scan and Match turn SBOM components
//     (facts.Component) into Findings, evaluating each affected entry
//     exactly as the schema's pseudo-code does, with the ecosystem's own
//     version order (package version) for ECOSYSTEM ranges and SemVer for
//     SEMVER ranges. GIT ranges cannot match a version and are counted; a
//     range that cannot be evaluated (no order for the ecosystem, a
//     version that does not parse) makes the finding undecided, never
//     silently absent; withdrawn records are left out.
//   - Decide applies the policy: findings of a blocked severity (CRITICAL
//     and HIGH by default) fail the gate unless a Security Reviewer's
//     approved, unexpired deploy.Exception for the artifact covers every
//     one of them.
//   - NewReport assembles the scan_report evidence item; Decision is the
//     policy_decision one.
//
// Severities are computed here from CVSS v3.x (v3.1 formula and Roundup)
// and v4.0 vectors (the specification's MacroVector method), else taken
// from database_specific.severity or an Ubuntu priority, else from a CVSS
// v2 vector, else UNKNOWN; a finding has the highest severity of its
// record and its affected entries.
package vuln
