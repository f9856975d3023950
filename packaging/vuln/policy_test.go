package vuln

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/packaging/facts"
)

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	artifact = digest.FromBytes([]byte("the package file"))
)

func exception(findings ...string) *deploy.Exception {
	return &deploy.Exception{ID: "ex-1", IntentID: "i-100", Artifact: artifact, Findings: findings,
		Justification: "vendor fix due next quarter; the JNDI lookup is disabled", CompensatingControls: []string{"log4j2.formatMsgNoLookups=true", "egress LDAP blocked"},
		AccountableOwner: "fin-apps", RequestedBy: "pat", ApprovedBy: "sam", ApproverRole: deploy.RoleSecurityReviewer,
		ApprovedAt: t0.Add(-24 * time.Hour), ExpiresAt: t0.Add(14 * 24 * time.Hour)}
}

func scanOf(t *testing.T, comps ...facts.Component) []Finding {
	t.Helper()
	_, idx := fixtureIndex(t)
	return idx.Match(comps)
}

var (
	log4j   = facts.Component{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Ecosystem: "Maven"}
	zlib    = facts.Component{Name: "zlib", Version: "1:1.2.11.dfsg-2ubuntu9", Ecosystem: "Ubuntu:22.04"}
	symfony = facts.Component{Name: "symfony/http-kernel", Version: "5.4.10", Ecosystem: "Packagist"}
	akka    = facts.Component{Name: "com.typesafe.akka:akka-actor_2.12", Version: "2.5.3", Ecosystem: "Maven"}
)

// TestDecide: Critical/High block by default; an approved, unexpired
// Security Reviewer exception for this artifact that covers every blocking
// finding turns fail into exception; anything less stays fail.
func TestDecide(t *testing.T) {
	pol := Policy{Artifact: artifact, IntentID: "i-100", At: t0, FeedVersion: "sha256:x@2024"}
	crit := scanOf(t, log4j, zlib, akka)

	d := Decide(scanOf(t, zlib, akka), pol, nil)
	if d.Outcome != deploy.ScanPass || d.Counts != (Counts{Medium: 1, Unknown: 1}) || len(d.Blocking) != 0 || d.FeedVersion != "sha256:x@2024" || !d.DecidedAt.Equal(t0) {
		t.Errorf("medium and unknown: %+v", d)
	}
	d = Decide(nil, pol, nil)
	if d.Outcome != deploy.ScanPass || !strings.Contains(d.Reasons[0], "no finding of a blocked severity (CRITICAL, HIGH) among 0") {
		t.Errorf("no findings: %+v", d)
	}
	d = Decide(crit, pol, nil)
	if d.Outcome != deploy.ScanFail || d.Counts.Critical != 1 || !slices.Equal(d.Blocking, []string{"GHSA-jfh8-c2jp-5v3q"}) ||
		!strings.Contains(strings.Join(d.Reasons, "\n"), "GHSA-jfh8-c2jp-5v3q (CRITICAL 10.0) in org.apache.logging.log4j:log4j-core 2.14.1, fixed in 2.15.0") {
		t.Errorf("critical: %+v", d)
	}
	d = Decide(crit, pol, exception("GHSA-jfh8-c2jp-5v3q"))
	if d.Outcome != deploy.ScanException || d.Exception != "ex-1" || !strings.Contains(d.Reasons[0], "approved by sam (security-reviewer), owner fin-apps") {
		t.Errorf("exception by id: %+v", d)
	}
	if d := Decide(crit, pol, exception("CVE-2021-44228")); d.Outcome != deploy.ScanException {
		t.Errorf("exception by alias: %+v", d)
	}
	noIntent := pol
	noIntent.IntentID = ""
	if d := Decide(crit, noIntent, exception("CVE-2021-44228")); d.Outcome != deploy.ScanException {
		t.Errorf("exception, intent not yet known: %+v", d)
	}
	for name, c := range map[string]struct {
		mod  func(*deploy.Exception)
		pol  func(*Policy)
		want string
	}{
		"expired":             {func(e *deploy.Exception) {}, func(p *Policy) { p.At = t0.Add(15 * 24 * time.Hour) }, "expires at"},
		"at the expiry":       {func(e *deploy.Exception) {}, func(p *Policy) { p.At = t0.Add(14 * 24 * time.Hour) }, "expires at"},
		"not yet approved":    {func(e *deploy.Exception) {}, func(p *Policy) { p.At = t0.Add(-48 * time.Hour) }, "approved at"},
		"not approved":        {func(e *deploy.Exception) { e.ApprovedBy = ""; e.ApproverRole = "" }, nil, "no Security Reviewer approval"},
		"approved by the CAB": {func(e *deploy.Exception) { e.ApproverRole = deploy.RoleCABApprover }, nil, "need security-reviewer"},
		"self-approved":       {func(e *deploy.Exception) { e.ApprovedBy = "pat" }, nil, "nobody approves their own request"},
		"other artifact":      {func(e *deploy.Exception) { e.Artifact = digest.FromBytes([]byte("other")) }, nil, "covers artifact"},
		"other intent":        {func(e *deploy.Exception) { e.IntentID = "i-200" }, nil, "linked to intent i-200"},
		"no controls":         {func(e *deploy.Exception) { e.CompensatingControls = nil }, nil, "compensating control"},
		"no expiry":           {func(e *deploy.Exception) { e.ExpiresAt = time.Time{} }, nil, "explicit expiry"},
		"does not cover":      {func(e *deploy.Exception) { e.Findings = []string{"CVE-2099-9999"} }, nil, "does not cover GHSA-jfh8-c2jp-5v3q"},
	} {
		e := exception("GHSA-jfh8-c2jp-5v3q")
		c.mod(e)
		p := pol
		if c.pol != nil {
			c.pol(&p)
		}
		d := Decide(crit, p, e)
		if d.Outcome != deploy.ScanFail || !strings.Contains(strings.Join(d.Reasons, "\n"), c.want) {
			t.Errorf("%s: %s %q", name, d.Outcome, d.Reasons)
		}
	}
	// an exception covering one of two blocking findings does not hold
	two := scanOf(t, log4j, facts.Component{Name: "openssl", Version: "3.1.3-r0", Ecosystem: "Alpine:v3.18"})
	d = Decide(two, pol, exception("CVE-2021-44228"))
	if d.Outcome != deploy.ScanFail || !strings.Contains(strings.Join(d.Reasons, "\n"), "does not cover ALPINE-CVE-2023-5363") {
		t.Errorf("partial cover: %+v", d)
	}
	// a stricter policy blocks MEDIUM too
	strict := pol
	strict.Block = []Severity{SeverityCritical, SeverityHigh, SeverityMedium}
	if d := Decide(scanOf(t, zlib), strict, nil); d.Outcome != deploy.ScanFail || d.Blocking[0] != "UBUNTU-CVE-2022-37434" {
		t.Errorf("block medium: %+v", d)
	}
	// an undecided HIGH finding blocks; its count and reason say so
	d = Decide(scanOf(t, symfony), pol, nil)
	if d.Outcome != deploy.ScanFail || d.Counts.Undecided != 1 || d.Counts.High != 1 || !strings.Contains(strings.Join(d.Reasons, "\n"), "undecided: ECOSYSTEM of Packagist") {
		t.Errorf("undecided: %+v", d)
	}
	// UNKNOWN severity blocks only when the policy says so
	unknown := pol
	unknown.Block = []Severity{SeverityUnknown}
	if d := Decide(scanOf(t, akka), unknown, nil); d.Outcome != deploy.ScanFail {
		t.Errorf("block unknown: %+v", d)
	}
}

// TestReport: the scan_report evidence names the feed version and integrity,
// every finding and what could not be checked, and embeds the decision;
// it marshals deterministically.
func TestReport(t *testing.T) {
	f, idx := fixtureIndex(t)
	comps := []facts.Component{log4j, symfony, {Name: "blob", Version: "1"}}
	s := idx.Scan(comps)
	d := Decide(s.Findings, Policy{Artifact: artifact, IntentID: "i-100", At: t0, FeedVersion: idx.FeedVersion()}, exception("CVE-2021-44228", "CVE-2099-0002"))
	if d.Outcome != deploy.ScanException {
		t.Fatalf("%+v", d)
	}
	r := NewReport(f, idx, s, d)
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := NewReport(f, idx, idx.Scan(comps), d).JSON()
	if string(b) != string(b2) {
		t.Error("report JSON is not deterministic")
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	feed := back["feed"].(map[string]any)
	if back["schema"] != ReportSchema || feed["version"] != f.Version || back["components_checked"].(float64) != 2 ||
		len(back["findings"].([]any)) != 2 || back["decision"].(map[string]any)["outcome"] != "exception" || back["artifact"] != string(artifact) {
		t.Errorf("report: %s", b)
	}
	if !strings.Contains(string(b), `"unmatched_ecosystems"`) || !strings.Contains(string(b), `"not_checked"`) {
		t.Errorf("report lacks unmatched/not checked: %s", b)
	}
	db, _ := d.JSON()
	if !strings.Contains(string(db), `"outcome": "exception"`) || !strings.Contains(string(db), `"feed_version": "`+f.Version+`"`) {
		t.Errorf("decision JSON: %s", db)
	}
}
