package vuln

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

func readRecord(t *testing.T, path string) *Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(b, filepath.Base(path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// TestParseRecordFixtures decodes every real and hand-written record.
func TestParseRecordFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/osv/*.json")
	more, _ := filepath.Glob("testdata/handmade/*.json")
	files = append(files, more...)
	if len(files) < 20 {
		t.Fatalf("only %d fixtures", len(files))
	}
	for _, f := range files {
		r := readRecord(t, f)
		if r.ID == "" || r.Modified.IsZero() || len(r.Affected) == 0 {
			t.Errorf("%s: %+v", f, r)
		}
	}
	r := readRecord(t, "testdata/osv/RHSA-2024_4546.json")
	if r.ID != "RHSA-2024:4546" || r.Affected[0].Package.Ecosystem != "Red Hat:rhel_aus:8.6::appstream" ||
		r.Affected[0].Ranges[0].Events[1] != (Event{Kind: Fixed, Version: "0:2.13.3-3.el8_6.1"}) || r.Severity[0].Type != ScoreCVSSv3 {
		t.Errorf("RHSA: %+v", r)
	}
	w := readRecord(t, "testdata/osv/ghsa-withdrawn.json")
	if !w.IsWithdrawn() || w.Withdrawn.Format("2006-01-02") != "2018-10-11" {
		t.Errorf("withdrawn: %v", w.Withdrawn)
	}
	// an event marshals back as OSV writes it
	b, _ := json.Marshal(r.Affected[0].Ranges[0].Events)
	if string(b) != `[{"introduced":"0"},{"fixed":"0:2.13.3-3.el8_6.1"}]` {
		t.Errorf("events marshal as %s", b)
	}
}

// TestSchemaEnums checks the decoder against osv-schema 1.9.0's
// validation/schema.json: required fields, range and severity types.
func TestSchemaEnums(t *testing.T) {
	b, err := os.ReadFile("testdata/osv-schema-1.9.0.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Required   []string `json:"required"`
		Properties struct {
			Affected struct {
				Items struct {
					Properties struct {
						Ranges struct {
							Items struct {
								Properties struct {
									Type struct {
										Enum []string `json:"enum"`
									} `json:"type"`
								} `json:"properties"`
								Required []string `json:"required"`
							} `json:"items"`
						} `json:"ranges"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"affected"`
		} `json:"properties"`
		Defs struct {
			EcosystemName struct {
				Enum []string `json:"enum"`
			} `json:"ecosystemName"`
			Severity struct {
				Items struct {
					Properties struct {
						Type struct {
							Enum []string `json:"enum"`
						} `json:"type"`
					} `json:"properties"`
					Required []string `json:"required"`
				} `json:"items"`
			} `json:"severity"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Required, []string{"id", "modified"}) {
		t.Errorf("required %v", s.Required)
	}
	rt := s.Properties.Affected.Items.Properties.Ranges.Items
	slices.Sort(rt.Properties.Type.Enum)
	if !slices.Equal(rt.Properties.Type.Enum, []string{RangeEcosystem, RangeGit, RangeSemver}) || !slices.Equal(rt.Required, []string{"type", "events"}) {
		t.Errorf("ranges: %+v", rt)
	}
	enum := append(s.Defs.EcosystemName.Enum, "GIT") // GIT is in ecosystemWithSuffix's pattern
	slices.Sort(enum)
	mine := slices.Clone(Ecosystems)
	slices.Sort(mine)
	if !slices.Equal(enum, mine) {
		t.Errorf("ecosystems:\n schema %v\n here   %v", enum, mine)
	}
	st := s.Defs.Severity.Items
	if !slices.Equal(st.Properties.Type.Enum, []string{ScoreCVSSv2, ScoreCVSSv3, ScoreCVSSv4, ScoreUbuntu}) || !slices.Equal(st.Required, []string{"type", "score"}) {
		t.Errorf("severity: %+v", st)
	}
}

// TestParseRecordMalformed: every schema violation the decoder checks is a
// *RecordError naming the field; unknown fields are tolerated.
func TestParseRecordMalformed(t *testing.T) {
	const ok = `{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`
	if _, err := ParseRecord([]byte(ok), "ok.json"); err != nil {
		t.Fatal(err)
	}
	tolerant := []string{
		`{"id":"A-1","modified":"2024-01-01T00:00:00Z","future_field":{"x":[1,2]},"credits":[{"name":"n","type":"FINDER"}]}`,
		`{"id":"A-1","modified":"2024-01-01T00:00:00+02:00"}`,
		`{"id":"A-1","modified":"2024-01-01T00:00:00.123456Z","aliases":null,"affected":null,"severity":null,"references":null}`,
		`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"FUTURE_SCORE","score":"whatever"}]}`,
		`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"}]}]}]}`,
		`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1"},{"last_affected":"2"}]}]}]}`,
	}
	for _, s := range tolerant {
		if _, err := ParseRecord([]byte(s), "t.json"); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, c := range []struct{ in, field, reason string }{
		{`{"modified":"2024-01-01T00:00:00Z"}`, "id", "missing"},
		{`{"id":"","modified":"2024-01-01T00:00:00Z"}`, "id", "empty"},
		{`{"id":"A 1","modified":"2024-01-01T00:00:00Z"}`, "id", "white space"},
		{`{"id":"A-\u0001","modified":"2024-01-01T00:00:00Z"}`, "id", "control"},
		{`{"id":"` + strings.Repeat("A", 300) + `","modified":"2024-01-01T00:00:00Z"}`, "id", "256"},
		{`{"id":5,"modified":"2024-01-01T00:00:00Z"}`, "id", "number"},
		{`{"id":"A-1"}`, "modified", "missing"},
		{`{"id":"A-1","modified":"yesterday"}`, "modified", "RFC 3339"},
		{`{"id":"A-1","modified":"2024-13-01T00:00:00Z"}`, "modified", "RFC 3339"},
		{`{"id":"A-1","modified":20240101}`, "modified", "number"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","published":"2024-01-01"}`, "published", "RFC 3339"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","withdrawn":true}`, "withdrawn", "bool"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","aliases":"CVE-1"}`, "aliases", "string"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","aliases":[1]}`, "aliases", "number"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE 1"]}`, "aliases[0]", "not an id"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","summary":["x"]}`, "summary", "array"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":{"type":"CVSS_V3"}}`, "severity", "object"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":[{"score":"x"}]}`, "severity[0].type", "missing"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"CVSS_V3"}]}`, "severity[0].score", "missing"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N"}]}`, "severity[0].score", "base metric"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:X/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}`, "severity[0].score", "AV:X"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"CVSS_V2","score":"AV:N"}]}`, "severity[0].score", "base metric"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"Ubuntu","score":"urgent"}]}`, "severity[0].score", "Ubuntu priority"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","database_specific":"x"}`, "database_specific", "not a JSON object"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":{}}`, "affected", "object"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"name":"x"}}]}`, "affected[0].package.ecosystem", "missing"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm"}}]}`, "affected[0].package.name", "missing"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":7}}]}`, "affected.package.name", "number"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"versions":"1.0"}]}`, "affected.versions", "string"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ecosystem_specific":[]}]}`, "affected[0].ecosystem_specific", "not a JSON object"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"database_specific":1}]}`, "affected[0].database_specific", "not a JSON object"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/XX:Y"}]}]}`, "affected[0].severity[0].score", "unknown metric"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"events":[{"introduced":"0"}]}]}]}`, "affected[0].ranges[0].type", "missing"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"semver","events":[{"introduced":"0"}]}]}]}`, "affected[0].ranges[0].type", "want SEMVER"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"GIT","events":[{"introduced":"0"}]}]}]}`, "affected[0].ranges[0].repo", "GIT"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER"}]}]}`, "affected[0].ranges[0].events", "missing"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[]}]}]}`, "affected[0].ranges[0].events", "empty"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"fixed":"1.0"}]}]}]}`, "affected[0].ranges[0].events", "no introduced"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0"}]}]}]}`, "affected[0].ranges[0].events[0]", "exactly one"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{}]}]}]}`, "affected[0].ranges[0].events[1]", "has 0"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":""}]}]}]}`, "affected[0].ranges[0].events[0].introduced", "empty"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":0}]}]}]}`, "affected.ranges.events.introduced", "number"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}],"database_specific":"x"}]}]}`, "affected[0].ranges[0].database_specific", "not a JSON object"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z","references":[{"type":1}]}`, "references.type", "number"},
		{`[{"id":"A-1","modified":"2024-01-01T00:00:00Z"}]`, "", "array"},
		{`"A-1"`, "", "string"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z"`, "", "JSON"},
		{`{"id":"A-1","modified":"2024-01-01T00:00:00Z"} x`, "", "JSON"},
		{``, "", "JSON"},
	} {
		_, err := ParseRecord([]byte(c.in), "bad.json")
		var re *RecordError
		if !errors.As(err, &re) {
			t.Errorf("%s: %v, want a *RecordError", c.in, err)
			continue
		}
		if !errors.Is(err, ErrRecord) || !errors.Is(err, facts.ErrDefect) {
			t.Errorf("%s: %v does not match ErrRecord and facts.ErrDefect", c.in, err)
		}
		if re.Field != c.field || !strings.Contains(re.Error(), c.reason) || !strings.HasPrefix(re.Error(), "bad.json") {
			t.Errorf("%s:\n got field %q: %v\nwant field %q mentioning %q", c.in, re.Field, err, c.field, c.reason)
		}
	}
}
