package vuln

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/vuln/version"
)

// Finding is one OSV record that affects one component.
type Finding struct {
	Component facts.Component `json:"component"`
	ID        string          `json:"id"`
	Aliases   []string        `json:"aliases,omitempty"`
	Severity  Severity        `json:"severity"`
	// Score is the CVSS base score the severity comes from (0 when it
	// comes from a rating, not a score); Vector and SeveritySource say
	// which.
	Score          float64   `json:"score,omitempty"`
	Vector         string    `json:"vector,omitempty"`
	SeveritySource string    `json:"severity_source"`
	Summary        string    `json:"summary,omitempty"`
	Fixed          string    `json:"fixed,omitempty"` // the first fixed version above the component's
	Ecosystem      string    `json:"ecosystem"`       // of the record's affected package that matched
	Package        string    `json:"package"`
	Modified       time.Time `json:"modified"`
	// Undecided: the record names the component's package but its ranges
	// cannot be evaluated (no version order for the ecosystem, or a
	// version that does not parse in it). Such a finding is treated as
	// affecting the component; Reason says why it is undecided.
	Undecided bool `json:"undecided,omitempty"`
	// Reason says how the finding was decided: the range or versions
	// entry that matched, or why it could not be decided.
	Reason string `json:"reason"`
}

// IndexStats count what an index holds and what it cannot use.
type IndexStats struct {
	Records   int `json:"records"`
	Withdrawn int `json:"withdrawn"` // excluded from matching
	Entries   int `json:"entries"`   // affected[] entries with a package
	NoPackage int `json:"no_package"`
	GitRanges int `json:"git_ranges"` // cannot match a version: ignored
}

// Index is a feed indexed for matching. It is safe for concurrent use.
type Index struct {
	feedVersion string
	byName      map[nameKey][]*entry
	wildcard    map[string][]*entry // base ecosystem -> entries for package "*"
	byPURL      map[string][]*entry // purl key
	stats       IndexStats
}

// nameKey is a base ecosystem and a normalised package name.
type nameKey struct{ eco, name string }

type entry struct {
	rec    *Record
	aff    *Affected
	pkg    Package
	base   string
	suffix string

	once     sync.Once
	order    version.Order // nil: no order for the ecosystem
	ranges   []*prange
	versions map[string]bool
	gits     int
	sev      severity
}

type prange struct {
	typ    string
	order  version.Order
	events []pevent // introduced, fixed, last_affected, sorted
	limits []pevent
	err    string // why it cannot be evaluated
}

type pevent struct {
	kind EventKind
	raw  string
	v    version.Version
	zero bool // introduced "0"
	inf  bool // limit "*"
}

// NewIndex indexes feed's records by (ecosystem, normalised package name)
// and by package URL. Withdrawn records are left out. Ranges are prepared
// (events parsed in their order and sorted) the first time a component
// needs them.
func NewIndex(feed *Feed) *Index {
	idx := &Index{feedVersion: feed.Version, byName: make(map[nameKey][]*entry, len(feed.Records)), wildcard: map[string][]*entry{}, byPURL: map[string][]*entry{}}
	n := 0
	for _, rec := range feed.Records {
		if rec.Withdrawn == nil {
			n += len(rec.Affected)
		}
	}
	entries := make([]entry, 0, n) // one allocation for all of them
	for _, rec := range feed.Records {
		idx.stats.Records++
		if rec.Withdrawn != nil {
			idx.stats.Withdrawn++
			continue
		}
		for i := range rec.Affected {
			a := &rec.Affected[i]
			if a.Package == nil {
				idx.stats.NoPackage++
				continue
			}
			idx.stats.Entries++
			for _, r := range a.Ranges {
				if r.Type == RangeGit {
					idx.stats.GitRanges++
				}
			}
			base, suffix := splitEcosystem(a.Package.Ecosystem)
			entries = append(entries, entry{rec: rec, aff: a, pkg: *a.Package, base: base, suffix: suffix})
			e := &entries[len(entries)-1]
			if a.Package.Name == "*" {
				idx.wildcard[base] = append(idx.wildcard[base], e)
			} else {
				k := nameKey{base, NormalizeName(base, a.Package.Name)}
				idx.byName[k] = append(idx.byName[k], e)
			}
			if a.Package.PURL != "" {
				if p, ok := ParsePURL(a.Package.PURL); ok {
					idx.byPURL[p.key()] = append(idx.byPURL[p.key()], e)
				}
			}
		}
	}
	return idx
}

// Stats returns what the index holds.
func (idx *Index) Stats() IndexStats { return idx.stats }

// FeedVersion is the version of the feed the index was built from.
func (idx *Index) FeedVersion() string { return idx.feedVersion }

func (e *entry) prepare() {
	e.once.Do(func() {
		e.order = orderFor(e.base)
		e.sev = entrySeverity(e.rec, e.aff)
		if len(e.aff.Versions) > 0 {
			e.versions = make(map[string]bool, len(e.aff.Versions))
			for _, v := range e.aff.Versions {
				e.versions[v] = true
			}
		}
		for _, r := range e.aff.Ranges {
			switch r.Type {
			case RangeGit:
				e.gits++
				continue
			case RangeSemver:
				o := version.Semver
				if e.base == "Go" {
					o = version.Go // semver, with Go's "v" and toolchain spellings
				}
				e.ranges = append(e.ranges, prepareRange(r, o))
			case RangeEcosystem:
				if e.order == nil {
					e.ranges = append(e.ranges, &prange{typ: r.Type, err: fmt.Sprintf("no version order for ecosystem %q here", e.base)})
					continue
				}
				e.ranges = append(e.ranges, prepareRange(r, e.order))
			}
		}
	})
}

func prepareRange(r Range, o version.Order) *prange {
	p := &prange{typ: r.Type, order: o}
	for _, ev := range r.Events {
		pe := pevent{kind: ev.Kind, raw: ev.Version}
		switch {
		case ev.Kind == Introduced && ev.Version == "0":
			pe.zero = true
		case ev.Kind == Limit && strings.Contains(ev.Version, "*"):
			pe.inf = true
		default:
			v, err := o.Parse(ev.Version)
			if err != nil {
				p.err = fmt.Sprintf("%s event: %v", ev.Kind, err)
				return p
			}
			pe.v = v
		}
		if ev.Kind == Limit {
			p.limits = append(p.limits, pe)
		} else {
			p.events = append(p.events, pe)
		}
	}
	// The schema's evaluation sorts the events by the range's order; "0"
	// sorts first. At one version, introduced goes first, so [x, x) is
	// empty and [x, x] is x.
	slices.SortStableFunc(p.events, func(a, b pevent) int {
		switch {
		case a.zero && b.zero:
			return 0
		case a.zero:
			return -1
		case b.zero:
			return 1
		}
		if c := a.v.Compare(b.v); c != 0 {
			return c
		}
		return cmpBool(a.kind != Introduced, b.kind != Introduced)
	})
	return p
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// affects is the schema's IncludedInRanges for one range and the first
// fixed version above v.
func (p *prange) affects(v version.Version) (bool, string) {
	if len(p.limits) > 0 {
		before := false
		for _, l := range p.limits {
			if l.inf || v.Compare(l.v) < 0 {
				before = true
				break
			}
		}
		if !before {
			return false, ""
		}
	}
	vulnerable := false
	fixed := ""
	for _, e := range p.events {
		switch e.kind {
		case Introduced:
			if e.zero || v.Compare(e.v) >= 0 {
				vulnerable = true
			}
		case Fixed:
			if v.Compare(e.v) >= 0 {
				vulnerable = false
			} else if fixed == "" {
				fixed = e.raw
			}
		case LastAffected:
			if v.Compare(e.v) > 0 {
				vulnerable = false
			}
		}
	}
	return vulnerable, fixed
}

func (p *prange) describe() string {
	var b strings.Builder
	b.WriteString(p.typ + " range")
	for _, e := range p.events {
		fmt.Fprintf(&b, " %s %s", e.kind, e.raw)
	}
	for _, e := range p.limits {
		fmt.Fprintf(&b, " limit %s", e.raw)
	}
	return b.String()
}

// UnmatchedEcosystem is an ecosystem of checked components that has no
// version order here: its components' findings could only be decided by
// exact versions[] entries and SEMVER ranges.
type UnmatchedEcosystem struct {
	Ecosystem  string   `json:"ecosystem"`
	Components int      `json:"components"`
	Undecided  []string `json:"undecided,omitempty"` // record ids that name one of its packages but could not be evaluated
}

// Scan is what matching a component list found.
type Scan struct {
	FeedVersion     string               `json:"feed_version"`
	Components      int                  `json:"components"`
	Checked         int                  `json:"components_checked"`
	NotChecked      []string             `json:"not_checked,omitempty"` // name@version of components with no ecosystem or usable purl (first 100)
	NotCheckedCount int                  `json:"not_checked_count,omitempty"`
	Findings        []Finding            `json:"findings"`
	Unmatched       []UnmatchedEcosystem `json:"unmatched_ecosystems,omitempty"`
	GitRanges       int                  `json:"git_ranges_ignored,omitempty"` // GIT ranges of matching packages, which cannot match a version
}

// Match returns the findings for components (see Scan).
func (idx *Index) Match(components []facts.Component) []Finding {
	return idx.Scan(components).Findings
}

// Scan matches every component against the index: by its OSV ecosystem
// and name (names normalised as NormalizeName says; an ecosystem without a
// release suffix matches every release) and by its package URL (which also
// supplies the ecosystem, name and version when the component lacks them,
// and the source package of a deb or apk binary). Each record that
// affects a component is one Finding: affected when the component's
// version is in the entry's versions[] or inside one of its SEMVER or
// ECOSYSTEM ranges, evaluated exactly as the schema's pseudo-code says;
// undecided when a range names the package but cannot be evaluated.
// Findings are ordered by component, then severity (highest first), then
// id.
func (idx *Index) Scan(components []facts.Component) *Scan {
	s := &Scan{FeedVersion: idx.feedVersion, Components: len(components), Findings: []Finding{}}
	unmatched := map[string]*UnmatchedEcosystem{}
	for _, c := range components {
		q := resolve(c)
		if q.eco == "" && len(q.purlKeys) == 0 {
			s.NotCheckedCount++
			if len(s.NotChecked) < 100 {
				s.NotChecked = append(s.NotChecked, c.Name+"@"+c.Version)
			}
			continue
		}
		s.Checked++
		var um *UnmatchedEcosystem
		if q.base != "" && orderFor(q.base) == nil {
			if um = unmatched[q.base]; um == nil {
				um = &UnmatchedEcosystem{Ecosystem: q.base}
				unmatched[q.base] = um
			}
			um.Components++
		}
		found := idx.match(c, q, s)
		for _, f := range found {
			if f.Undecided && um != nil && !slices.Contains(um.Undecided, f.ID) {
				um.Undecided = append(um.Undecided, f.ID)
			}
		}
		s.Findings = append(s.Findings, found...)
	}
	for _, um := range unmatched {
		slices.Sort(um.Undecided)
		s.Unmatched = append(s.Unmatched, *um)
	}
	slices.SortFunc(s.Unmatched, func(a, b UnmatchedEcosystem) int { return strings.Compare(a.Ecosystem, b.Ecosystem) })
	return s
}

type query struct {
	eco, base, suffix string
	names             []string // normalised names to look up under base
	purlKeys          []string
	version           string
}

func resolve(c facts.Component) query {
	q := query{eco: c.Ecosystem, version: c.Version}
	var p PURL
	hasPURL := false
	if c.PURL != "" {
		p, hasPURL = ParsePURL(c.PURL)
	}
	name, purlName := c.Name, ""
	if hasPURL {
		q.purlKeys = append(q.purlKeys, p.key())
		if q.version == "" {
			q.version = p.Version
		}
		if eco, n := p.ecosystem(); eco != "" {
			if q.eco == "" {
				q.eco, name = eco, n
			} else if b, _ := splitEcosystem(eco); b == base(q.eco) {
				// the purl may say the release the ecosystem does not,
				// and the full name (a Maven group, an npm scope)
				if !strings.Contains(q.eco, ":") {
					q.eco = eco
				}
				purlName = n
			}
		}
		if up := p.upstream(); up != "" {
			sp := p
			sp.Name = up
			q.purlKeys = append(q.purlKeys, sp.key())
		}
	}
	if q.eco == "" {
		return q
	}
	q.base, q.suffix = splitEcosystem(q.eco)
	for _, n := range []string{name, purlName} {
		if n != "" && !slices.Contains(q.names, NormalizeName(q.base, n)) {
			q.names = append(q.names, NormalizeName(q.base, n))
		}
	}
	if hasPURL {
		if up := p.upstream(); up != "" {
			q.names = append(q.names, NormalizeName(q.base, up))
		}
	}
	return q
}

func base(eco string) string {
	b, _ := splitEcosystem(eco)
	return b
}

func (idx *Index) match(c facts.Component, q query, s *Scan) []Finding {
	var cands []*entry
	add := func(es []*entry) {
		for _, e := range es {
			if !slices.Contains(cands, e) {
				cands = append(cands, e)
			}
		}
	}
	for _, n := range q.names {
		add(idx.byName[nameKey{q.base, n}])
	}
	if q.base != "" {
		add(idx.wildcard[q.base])
	}
	for _, k := range q.purlKeys {
		add(idx.byPURL[k])
	}
	if len(cands) == 0 {
		return nil
	}
	// the component's version, parsed once per order
	type parsedVersion struct {
		o   version.Order
		v   version.Version
		err error
	}
	var parsed []parsedVersion
	parse := func(o version.Order) (version.Version, error) {
		for _, p := range parsed {
			if p.o == o {
				return p.v, p.err
			}
		}
		var v version.Version
		err := fmt.Errorf("the component has no version")
		if q.version != "" {
			v, err = o.Parse(q.version)
		}
		parsed = append(parsed, parsedVersion{o, v, err})
		return v, err
	}
	var out []Finding
	find := func(r *Record) *Finding {
		for i := range out {
			if out[i].ID == r.ID {
				return &out[i]
			}
		}
		return nil
	}
	for _, e := range cands {
		if q.base != "" && e.base == q.base && !suffixMatch(q.base, q.suffix, e.suffix) {
			continue
		}
		e.prepare()
		s.GitRanges += e.gits
		affected, fixed, how, undecided := e.evaluate(q.version, parse)
		if !affected && undecided == "" {
			continue
		}
		f := find(e.rec)
		if f == nil {
			out = append(out, Finding{Component: c, ID: e.rec.ID, Aliases: e.rec.Aliases, Summary: summary(e.rec), Modified: e.rec.Modified,
				Ecosystem: e.pkg.Ecosystem, Package: e.pkg.Name, Severity: SeverityUnknown, Undecided: true})
			f = &out[len(out)-1]
		}
		if affected {
			if f.Undecided {
				// a decided match wins over an undecided one
				f.Undecided, f.Reason, f.Ecosystem, f.Package = false, how, e.pkg.Ecosystem, e.pkg.Name
			}
			if f.Fixed == "" {
				f.Fixed = fixed
			}
		} else if f.Undecided && f.Reason == "" {
			f.Reason = undecided
		}
		if e.sev.sev.Rank() > f.Severity.Rank() || e.sev.sev == f.Severity && e.sev.score > f.Score {
			f.Severity, f.Score, f.Vector, f.SeveritySource = e.sev.sev, e.sev.score, e.sev.vector, e.sev.source
		}
	}
	for i := range out {
		if out[i].SeveritySource == "" {
			out[i].SeveritySource = "none"
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if c := b.Severity.Rank() - a.Severity.Rank(); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// evaluate is IsVulnerable for one affected entry: versions[] first, then
// the ranges. undecided is non-empty when the entry could not be decided.
func (e *entry) evaluate(v string, parse func(version.Order) (version.Version, error)) (affected bool, fixed, how, undecided string) {
	if e.versions[v] && v != "" {
		affected, how = true, fmt.Sprintf("%s is listed in affected versions of %s/%s", v, e.pkg.Ecosystem, e.pkg.Name)
	}
	for _, r := range e.ranges {
		if r.err != "" {
			if undecided == "" {
				undecided = fmt.Sprintf("%s of %s/%s cannot be evaluated: %s", r.typ, e.pkg.Ecosystem, e.pkg.Name, r.err)
			}
			continue
		}
		cv, err := parse(r.order)
		if err != nil {
			if undecided == "" {
				undecided = fmt.Sprintf("%s of %s/%s cannot be evaluated: %v", r.describe(), e.pkg.Ecosystem, e.pkg.Name, err)
			}
			continue
		}
		in, fx := r.affects(cv)
		if in {
			if !affected {
				how = fmt.Sprintf("%s is inside %s of %s/%s", v, r.describe(), e.pkg.Ecosystem, e.pkg.Name)
			}
			affected = true
			if fixed == "" {
				fixed = fx
			}
		}
	}
	if affected {
		undecided = ""
	}
	return affected, fixed, how, undecided
}

func summary(r *Record) string {
	if r.Summary != "" {
		return r.Summary
	}
	d, _, _ := strings.Cut(strings.TrimSpace(r.Details), "\n")
	if len(d) > 160 {
		d = d[:160] + "..."
	}
	return d
}

// severity is an entry's severity and where it comes from.
type severity struct {
	sev    Severity
	score  float64
	vector string
	source string
}

// entrySeverity is the highest severity the record and the affected entry
// give: from CVSS v3.x and v4.0 vectors (computed here), else from
// database_specific.severity (GitHub's CRITICAL/HIGH/MODERATE/LOW, Red
// Hat's Important) or an Ubuntu priority, else from a CVSS v2 vector
// (NVD's v2 rating, no Critical), else UNKNOWN.
func entrySeverity(r *Record, a *Affected) severity {
	all := append(slices.Clip(r.Severity), a.Severity...)
	best := severity{sev: SeverityUnknown}
	better := func(c severity) {
		if c.sev.Rank() > best.sev.Rank() || c.sev == best.sev && c.score > best.score {
			best = c
		}
	}
	for _, s := range all {
		var score float64
		var err error
		switch s.Type {
		case ScoreCVSSv3:
			score, err = CVSS3(s.Score)
		case ScoreCVSSv4:
			score, err = CVSS4(s.Score)
		default:
			continue
		}
		if err == nil {
			better(severity{sev: ratingOf(score), score: score, vector: s.Score, source: s.Type})
		}
	}
	if best.source != "" {
		return best
	}
	for _, ds := range []json.RawMessage{r.DatabaseSpecific, a.DatabaseSpecific} {
		if sv, ok := dbSeverity(ds); ok {
			better(severity{sev: sv, source: "database_specific.severity"})
		}
	}
	for _, s := range all {
		if s.Type == ScoreUbuntu {
			if sv, ok := ubuntuPriority[s.Score]; ok {
				better(severity{sev: sv, vector: s.Score, source: "Ubuntu priority"})
			}
		}
	}
	if best.source != "" {
		return best
	}
	for _, s := range all {
		if s.Type == ScoreCVSSv2 {
			if score, err := CVSS2(s.Score); err == nil {
				better(severity{sev: v2Rating(score), score: score, vector: s.Score, source: s.Type})
			}
		}
	}
	return best
}

func dbSeverity(raw json.RawMessage) (Severity, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var ds struct {
		Severity any `json:"severity"`
	}
	if json.Unmarshal(raw, &ds) != nil {
		return "", false
	}
	s, ok := ds.Severity.(string)
	if !ok {
		return "", false
	}
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CRITICAL":
		return SeverityCritical, true
	case "HIGH", "IMPORTANT":
		return SeverityHigh, true
	case "MODERATE", "MEDIUM":
		return SeverityMedium, true
	case "LOW", "NEGLIGIBLE":
		return SeverityLow, true
	}
	return "", false
}
