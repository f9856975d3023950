package vuln

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// DefaultBlock is what the policy blocks when Policy.Block is empty
// (EUCORA-architecture.md section 7.1: Critical and High block publish).
var DefaultBlock = []Severity{SeverityCritical, SeverityHigh}

// Policy is the vulnerability policy and the subject it is judged for.
type Policy struct {
	// Block lists the severities that fail the gate; empty: DefaultBlock.
	// An undecided finding is treated as affecting the component, so it
	// blocks when its severity does.
	Block []Severity `json:"block"`
	// Artifact is the digest of the artifact judged; an exception must
	// name it.
	Artifact digest.Digest `json:"artifact"`
	// IntentID is the deployment intent an exception must be linked to;
	// empty accepts the exception's own intent (the publish gate,
	// deploy.CheckScanGate, checks the link again).
	IntentID string `json:"intent_id,omitempty"`
	// At is when the decision is made (exception validity is judged then);
	// zero: now.
	At time.Time `json:"at"`
	// FeedVersion names the feed the findings come from (Index.FeedVersion).
	FeedVersion string `json:"feed_version"`
}

// Counts are the findings per severity; Undecided counts those of them
// that could not be decided.
type Counts struct {
	Critical  int `json:"critical"`
	High      int `json:"high"`
	Medium    int `json:"medium"`
	Low       int `json:"low"`
	Unknown   int `json:"unknown"`
	Undecided int `json:"undecided"`
}

// Decision is the vulnerability policy's decision for one artifact: the
// scan_decision of its catalog entry and the policy_decision evidence item.
type Decision struct {
	// Outcome: pass (no blocking finding), fail (blocking findings and no
	// exception that holds), or exception (blocking findings, every one of
	// them covered by an approved, unexpired Security Reviewer exception
	// for this artifact).
	Outcome     deploy.ScanDecision `json:"outcome"`
	Reasons     []string            `json:"reasons"`
	Counts      Counts              `json:"counts"`
	Blocking    []string            `json:"blocking,omitempty"` // ids of the blocking findings
	Block       []Severity          `json:"block"`
	Exception   string              `json:"exception,omitempty"` // the exception's id when the outcome is exception
	Artifact    digest.Digest       `json:"artifact,omitempty"`
	FeedVersion string              `json:"feed_version"`
	DecidedAt   time.Time           `json:"decided_at"`
}

// Decide applies the policy to findings. exc may be nil; when given it is
// judged by deploy.Exception.Check (approved by a Security Reviewer, not
// by its requester, linked to the intent and artifact, in force at
// p.At) and must list, among its findings, the id or an alias of every
// blocking finding.
func Decide(findings []Finding, p Policy, exc *deploy.Exception) Decision {
	block := p.Block
	if len(block) == 0 {
		block = DefaultBlock
	}
	at := p.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	d := Decision{Block: block, Artifact: p.Artifact, FeedVersion: p.FeedVersion, DecidedAt: at}
	var blocking []Finding
	for _, f := range findings {
		switch f.Severity {
		case SeverityCritical:
			d.Counts.Critical++
		case SeverityHigh:
			d.Counts.High++
		case SeverityMedium:
			d.Counts.Medium++
		case SeverityLow:
			d.Counts.Low++
		default:
			d.Counts.Unknown++
		}
		if f.Undecided {
			d.Counts.Undecided++
		}
		if slices.Contains(block, f.Severity) {
			blocking = append(blocking, f)
			if !slices.Contains(d.Blocking, f.ID) {
				d.Blocking = append(d.Blocking, f.ID)
			}
		}
	}
	names := make([]string, len(block))
	for i, b := range block {
		names[i] = string(b)
	}
	blocked := strings.Join(names, ", ")
	if d.Counts.Undecided > 0 {
		d.Reasons = append(d.Reasons, fmt.Sprintf("%d finding(s) could not be decided and are treated as affecting their component", d.Counts.Undecided))
	}
	if len(blocking) == 0 {
		d.Outcome = deploy.ScanPass
		d.Reasons = append([]string{fmt.Sprintf("no finding of a blocked severity (%s) among %d finding(s)", blocked, len(findings))}, d.Reasons...)
		return d
	}
	for _, f := range blocking {
		d.Reasons = append(d.Reasons, describeFinding(f))
	}
	if exc == nil {
		d.Outcome = deploy.ScanFail
		d.Reasons = append([]string{fmt.Sprintf("%d finding(s) of a blocked severity (%s) and no exception: publish is blocked (EUCORA-architecture.md section 7.1)", len(blocking), blocked)}, d.Reasons...)
		return d
	}
	intent := p.IntentID
	if intent == "" {
		intent = exc.IntentID
	}
	check := exc.Check(intent, p.Artifact, at)
	var uncovered []string
	for _, f := range blocking {
		if !covers(exc, f) && !slices.Contains(uncovered, f.ID) {
			uncovered = append(uncovered, f.ID)
		}
	}
	if !check.Allowed || len(uncovered) > 0 {
		d.Outcome = deploy.ScanFail
		head := fmt.Sprintf("%d finding(s) of a blocked severity (%s); exception %s does not hold", len(blocking), blocked, exc.ID)
		var why []string
		if !check.Allowed {
			why = append(why, check.Reasons()...)
		}
		if len(uncovered) > 0 {
			why = append(why, fmt.Sprintf("exception %s does not cover %s", exc.ID, strings.Join(uncovered, ", ")))
		}
		d.Reasons = append(append([]string{head}, why...), d.Reasons...)
		return d
	}
	d.Outcome = deploy.ScanException
	d.Exception = exc.ID
	d.Reasons = append([]string{fmt.Sprintf("%d finding(s) of a blocked severity (%s), all covered by exception %s approved by %s (%s), owner %s, compensating controls: %s, in force until %s",
		len(blocking), blocked, exc.ID, exc.ApprovedBy, exc.ApproverRole, exc.AccountableOwner, strings.Join(exc.CompensatingControls, "; "), exc.ExpiresAt.UTC().Format(time.RFC3339))}, d.Reasons...)
	return d
}

// covers reports whether the exception lists the finding's id or one of
// its aliases.
func covers(exc *deploy.Exception, f Finding) bool {
	for _, id := range exc.Findings {
		id = strings.TrimSpace(id)
		if id == f.ID || slices.Contains(f.Aliases, id) {
			return true
		}
	}
	return false
}

func describeFinding(f Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s", f.ID, f.Severity)
	if f.Score > 0 {
		fmt.Fprintf(&b, " %.1f", f.Score)
	}
	fmt.Fprintf(&b, ") in %s %s", f.Component.Name, f.Component.Version)
	if f.Fixed != "" {
		fmt.Fprintf(&b, ", fixed in %s", f.Fixed)
	}
	if f.Undecided {
		b.WriteString(", undecided: " + f.Reason)
	}
	return b.String()
}
