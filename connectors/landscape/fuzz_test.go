package landscape

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// The parsers of Landscape's answers must not panic on any input, and
// what they accept must be usable by the code that reads it. Seeds are in
// testdata/fuzz/<target>/ (real answer shapes from Landscape's
// documentation and the simulator).

func FuzzParseError(f *testing.F) {
	f.Add([]byte(`{"error":"UnknownComputers","message":"No computers match the query."}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		code, msg := ParseError(b)
		if len(code) > 103 || len(msg) > 1003 || !utf8.ValidString(code) || !utf8.ValidString(msg) {
			t.Fatalf("code %q msg of %d bytes from %d bytes", code, len(msg), len(b))
		}
	})
}

func FuzzParseProfiles(f *testing.F) {
	f.Add([]byte(`[{"id":1,"name":"p","title":"p","description":"eucora:correlation=c release=a@1/ring-1/* package=a targets=t","constraints":[["depends","a = 1"]],"tags":["t"]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseProfiles(b)
		if err != nil {
			return
		}
		for _, p := range ps {
			a, ok := parseAnchor(p.Description)
			if ok {
				family(a.Release)
				parseKey(a.Release)
			}
			pinnedVersion(p, a.Package)
			pinsOf(p, a.Package)
			changedAt(p)
			profileObject(p)
			for _, c := range p.Constraints {
				out, err := json.Marshal(c)
				var back Constraint
				if err != nil || json.Unmarshal(out, &back) != nil || back != c {
					t.Fatalf("constraint %+v does not round-trip: %s", c, out)
				}
			}
		}
	})
}

func FuzzParseActivities(f *testing.F) {
	f.Add([]byte(`[{"id":2,"parent_id":1,"computer_id":3,"type":"ChangePackagesRequest","summary":"Install package a","activity_status":"succeeded","changes":[{"package":"a","type":"install","install_version":"1"}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		acts, err := ParseActivities(b)
		if err != nil {
			return
		}
		for _, a := range acts {
			for _, j := range []job{{kind: jobInstall, pkg: "a", version: "1"}, {kind: jobRemove, pkg: "a"}, {kind: jobScript, script: "s"}} {
				j.matches(a)
			}
			d := deviceState(Computer{ID: 1}, a, "a", "1")
			if d.State == "" || d.Device == "" {
				t.Fatalf("device state %+v", d)
			}
			a.Live()
			relevant(a, "a", "s")
		}
	})
}

func FuzzParseActivity(f *testing.F) {
	f.Add([]byte(`{"id":5,"type":"ActivityGroup","summary":"Install package a","activity_status":"undelivered","parent_id":null,"children":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseActivity(b)
		if err == nil && a.ID <= 0 {
			t.Fatalf("accepted an activity with id %d", a.ID)
		}
	})
}

func FuzzParseComputersAndScripts(f *testing.F) {
	f.Add([]byte(`[{"id":1,"hostname":"h","title":"h","tags":["a"]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if cs, err := ParseComputers(b); err == nil {
			for _, c := range cs {
				deviceState(c, Activity{ActivityStatus: StatusSucceeded}, "", "")
			}
		}
		if ss, err := ParseScripts(b); err == nil {
			for _, s := range ss {
				scriptByTitle(ss, s.Title)
			}
		}
	})
}
