package vuln

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/eucora/eucora/packaging/facts"
)

// Record is one OSV record (https://ossf.github.io/osv-schema/), as far as
// EUCORA uses it. Fields the schema defines and EUCORA does not use
// (credits, related, references' details) and fields it does not know are
// accepted and ignored; the feed version still covers them (see Feed).
type Record struct {
	SchemaVersion    string          `json:"schema_version,omitempty"`
	ID               string          `json:"id"`
	Modified         time.Time       `json:"modified"`
	Published        *time.Time      `json:"published,omitempty"`
	Withdrawn        *time.Time      `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Upstream         []string        `json:"upstream,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []SeverityScore `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	References       []Reference     `json:"references,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// SeverityScore is one severity[] entry: a CVSS vector or an Ubuntu priority.
type SeverityScore struct {
	Type   string `json:"type"` // CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu
	Score  string `json:"score"`
	Source string `json:"source,omitempty"`
}

// Severity types.
const (
	ScoreCVSSv2 = "CVSS_V2"
	ScoreCVSSv3 = "CVSS_V3"
	ScoreCVSSv4 = "CVSS_V4"
	ScoreUbuntu = "Ubuntu"
)

// Affected is one affected[] entry.
type Affected struct {
	Package           *Package        `json:"package,omitempty"`
	Severity          []SeverityScore `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package names an affected package.
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range types.
const (
	RangeSemver    = "SEMVER"
	RangeEcosystem = "ECOSYSTEM"
	RangeGit       = "GIT"
)

// Range is one affected[].ranges[] entry.
type Range struct {
	Type             string          `json:"type"`
	Repo             string          `json:"repo,omitempty"`
	Events           []Event         `json:"events"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// EventKind is what an event says.
type EventKind string

// Event kinds.
const (
	Introduced   EventKind = "introduced"
	Fixed        EventKind = "fixed"
	LastAffected EventKind = "last_affected"
	Limit        EventKind = "limit"
)

// Event is one range event: exactly one kind with its version. It
// marshals as OSV writes it, {"introduced": "1.0"}.
type Event struct {
	Kind    EventKind
	Version string
}

// MarshalJSON writes the event as an OSV event object.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{string(e.Kind): e.Version})
}

// Reference is one references[] entry.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Errors.
var (
	// ErrRecord: an OSV record breaks the schema. Always wrapped by a
	// *RecordError, which also matches facts.ErrDefect.
	ErrRecord = errors.New("invalid OSV record")
	// ErrIntegrity: the feed file is not the one its checksum or signature
	// names. Wraps a *digest.MismatchError or a signing error.
	ErrIntegrity = errors.New("feed integrity check failed")
)

// RecordError names a record that breaks the OSV schema: where it is (the
// feed file, and the zip entry or array index), its id when it has one,
// and the field.
type RecordError struct {
	File   string // "all.zip:GHSA-xxxx.json", "feed.json[12]"
	ID     string
	Field  string // "affected[0].ranges[1].events[2]"
	Reason string
}

func (e *RecordError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.ID != "" {
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %s", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap makes errors.Is true for ErrRecord and facts.ErrDefect.
func (e *RecordError) Unwrap() []error { return []error{ErrRecord, facts.ErrDefect} }

// raw* mirror the JSON with pointers where presence matters.
type rawRecord struct {
	SchemaVersion    string          `json:"schema_version"`
	ID               *string         `json:"id"`
	Modified         *string         `json:"modified"`
	Published        *string         `json:"published"`
	Withdrawn        *string         `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Upstream         []string        `json:"upstream"`
	Related          []string        `json:"related"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []rawSeverity   `json:"severity"`
	Affected         []rawAffected   `json:"affected"`
	References       []rawReference  `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type rawSeverity struct {
	Type   *string `json:"type"`
	Score  *string `json:"score"`
	Source string  `json:"source"`
}

type rawAffected struct {
	Package           *rawPackage     `json:"package"`
	Severity          []rawSeverity   `json:"severity"`
	Ranges            []rawRange      `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

type rawPackage struct {
	Ecosystem *string `json:"ecosystem"`
	Name      *string `json:"name"`
	PURL      string  `json:"purl"`
}

type rawRange struct {
	Type             *string         `json:"type"`
	Repo             string          `json:"repo"`
	Events           []rawEvent      `json:"events"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type rawEvent struct {
	Introduced   *string `json:"introduced"`
	Fixed        *string `json:"fixed"`
	LastAffected *string `json:"last_affected"`
	Limit        *string `json:"limit"`
}

type rawReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// ParseRecord decodes and validates one OSV record; where names it in
// errors (a file name). Unknown fields are ignored; a field of the wrong
// JSON type, a missing required field (id, modified, package ecosystem and
// name, range type and events, severity type and score), an event with not
// exactly one of introduced/fixed/last_affected/limit, a range without an
// introduced event, an unknown range type or an invalid CVSS vector is a
// *RecordError.
func ParseRecord(b []byte, where string) (*Record, error) {
	var raw rawRecord
	if err := json.Unmarshal(b, &raw); err != nil {
		e := &RecordError{File: where, Reason: jsonReason(err)}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			e.Field = te.Field
			e.ID = peekID(b)
		}
		return nil, e
	}
	return raw.validate(where)
}

func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("JSON %s where the schema wants %s", te.Value, jsonKind(te.Type.Kind().String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not JSON: %v (at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "not JSON: truncated (the value does not end)"
	}
	return "not an OSV record: " + err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "ptr", "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return k
}

// peekID returns the record's id if the JSON has a string one.
func peekID(b []byte) string {
	var p struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(b, &p) == nil {
		if s, ok := p.ID.(string); ok {
			return clip(s)
		}
	}
	return ""
}

func (raw *rawRecord) validate(where string) (*Record, error) {
	fail := func(field, format string, args ...any) error {
		id := ""
		if raw.ID != nil {
			id = clip(*raw.ID)
		}
		return &RecordError{File: where, ID: id, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if raw.ID == nil {
		return nil, fail("id", "missing (required)")
	}
	if err := checkID(*raw.ID); err != "" {
		return nil, fail("id", "%s", err)
	}
	r := &Record{
		SchemaVersion: raw.SchemaVersion, ID: *raw.ID,
		Aliases: raw.Aliases, Upstream: raw.Upstream, Related: raw.Related,
		Summary: raw.Summary, Details: raw.Details,
	}
	if raw.Modified == nil {
		return nil, fail("modified", "missing (required)")
	}
	t, err := parseTime(*raw.Modified)
	if err != nil {
		return nil, fail("modified", "%v", err)
	}
	r.Modified = t
	for _, f := range []struct {
		name string
		in   *string
		out  **time.Time
	}{{"published", raw.Published, &r.Published}, {"withdrawn", raw.Withdrawn, &r.Withdrawn}} {
		if f.in == nil {
			continue
		}
		t, err := parseTime(*f.in)
		if err != nil {
			return nil, fail(f.name, "%v", err)
		}
		*f.out = &t
	}
	for i, a := range raw.Aliases {
		if checkID(a) != "" {
			return nil, fail(fmt.Sprintf("aliases[%d]", i), "%q is not an id", clip(a))
		}
	}
	if r.Severity, err = validSeverity(raw.Severity, "severity", fail); err != nil {
		return nil, err
	}
	if err := checkObject(raw.DatabaseSpecific); err != "" {
		return nil, fail("database_specific", "%s", err)
	}
	r.DatabaseSpecific = raw.DatabaseSpecific
	for i, ra := range raw.Affected {
		at := fmt.Sprintf("affected[%d]", i)
		a := Affected{Versions: ra.Versions, EcosystemSpecific: ra.EcosystemSpecific, DatabaseSpecific: ra.DatabaseSpecific}
		if ra.Package != nil {
			p := ra.Package
			switch {
			case p.Ecosystem == nil || *p.Ecosystem == "":
				return nil, fail(at+".package.ecosystem", "missing (required in a package)")
			case p.Name == nil || *p.Name == "":
				return nil, fail(at+".package.name", "missing (required in a package)")
			}
			a.Package = &Package{Ecosystem: *p.Ecosystem, Name: *p.Name, PURL: p.PURL}
		}
		if a.Severity, err = validSeverity(ra.Severity, at+".severity", fail); err != nil {
			return nil, err
		}
		for _, o := range []struct {
			name string
			v    json.RawMessage
		}{{"ecosystem_specific", ra.EcosystemSpecific}, {"database_specific", ra.DatabaseSpecific}} {
			if err := checkObject(o.v); err != "" {
				return nil, fail(at+"."+o.name, "%s", err)
			}
		}
		for j, rr := range ra.Ranges {
			rat := fmt.Sprintf("%s.ranges[%d]", at, j)
			if rr.Type == nil {
				return nil, fail(rat+".type", "missing (required)")
			}
			switch *rr.Type {
			case RangeSemver, RangeEcosystem:
			case RangeGit:
				if rr.Repo == "" {
					return nil, fail(rat+".repo", "missing (required for a GIT range)")
				}
			default:
				return nil, fail(rat+".type", "%q: want SEMVER, ECOSYSTEM or GIT", clip(*rr.Type))
			}
			if len(rr.Events) == 0 {
				return nil, fail(rat+".events", "missing or empty (a range needs at least an introduced event)")
			}
			rg := Range{Type: *rr.Type, Repo: rr.Repo, DatabaseSpecific: rr.DatabaseSpecific}
			introduced := false
			for k, re := range rr.Events {
				var kinds []Event
				for _, x := range []struct {
					k EventKind
					v *string
				}{{Introduced, re.Introduced}, {Fixed, re.Fixed}, {LastAffected, re.LastAffected}, {Limit, re.Limit}} {
					if x.v != nil {
						kinds = append(kinds, Event{Kind: x.k, Version: *x.v})
					}
				}
				if len(kinds) != 1 {
					return nil, fail(fmt.Sprintf("%s.events[%d]", rat, k), "has %d of introduced, fixed, last_affected, limit; an event has exactly one", len(kinds))
				}
				if kinds[0].Version == "" {
					return nil, fail(fmt.Sprintf("%s.events[%d].%s", rat, k, kinds[0].Kind), "empty version")
				}
				introduced = introduced || kinds[0].Kind == Introduced
				rg.Events = append(rg.Events, kinds[0])
			}
			if !introduced {
				return nil, fail(rat+".events", "no introduced event (the schema requires one)")
			}
			if err := checkObject(rr.DatabaseSpecific); err != "" {
				return nil, fail(rat+".database_specific", "%s", err)
			}
			a.Ranges = append(a.Ranges, rg)
		}
		r.Affected = append(r.Affected, a)
	}
	for _, ref := range raw.References {
		r.References = append(r.References, Reference(ref))
	}
	return r, nil
}

func validSeverity(in []rawSeverity, at string, fail func(field, format string, args ...any) error) ([]SeverityScore, error) {
	var out []SeverityScore
	for i, s := range in {
		f := fmt.Sprintf("%s[%d]", at, i)
		if s.Type == nil || *s.Type == "" {
			return nil, fail(f+".type", "missing (required)")
		}
		if s.Score == nil {
			return nil, fail(f+".score", "missing (required)")
		}
		var err error
		switch *s.Type {
		case ScoreCVSSv3:
			_, err = CVSS3(*s.Score)
		case ScoreCVSSv4:
			_, err = CVSS4(*s.Score)
		case ScoreCVSSv2:
			_, err = CVSS2(*s.Score)
		case ScoreUbuntu:
			if _, ok := ubuntuPriority[*s.Score]; !ok {
				err = fmt.Errorf("Ubuntu priority %q: want negligible, low, medium, high or critical", clip(*s.Score))
			}
		default:
			// a type a later schema defines: kept, not scored
		}
		if err != nil {
			return nil, fail(f+".score", "%v", err)
		}
		out = append(out, SeverityScore{Type: *s.Type, Score: *s.Score, Source: s.Source})
	}
	return out, nil
}

var ubuntuPriority = map[string]Severity{
	"negligible": SeverityLow, "low": SeverityLow, "medium": SeverityMedium, "high": SeverityHigh, "critical": SeverityCritical,
}

// checkID accepts what the schema's ids look like: no white space or
// control characters, at most 256 bytes.
func checkID(id string) string {
	if id == "" {
		return "empty"
	}
	if len(id) > 256 {
		return "longer than 256 bytes"
	}
	for _, c := range id {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == unicode.ReplacementChar {
			return fmt.Sprintf("%q contains white space or a control character", clip(id))
		}
	}
	return ""
}

// parseTime reads an RFC 3339 time stamp (the schema wants UTC, "Z").
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time stamp", clip(s))
	}
	return t.UTC(), nil
}

// checkObject: the *_specific fields, when present, are JSON objects.
func checkObject(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) || t[0] == '{' {
		return ""
	}
	return "not a JSON object"
}

// IsWithdrawn reports whether the record has been withdrawn.
func (r *Record) IsWithdrawn() bool { return r.Withdrawn != nil }
