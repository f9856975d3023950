package fleet

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodFile = `{
  "seed": 42,
  "failure_rates": {"com.acme.ledger": 0.2, "com.acme.ledger@2.0": 0.5},
  "devices": [
    {"id": "d-2", "platform": "macos", "groups": ["ring-1"], "check_in": "90m"},
    {"id": "d-1", "name": "PC-00001", "platform": "windows", "site": "hq", "groups": ["ring-0", "site-hq"], "check_in": "4h"}
  ]
}`

func TestSimFleetLoad(t *testing.T) {
	f, err := Load(strings.NewReader(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.Seed() != 42 || f.Len() != 2 || f.Device(0).Name != "PC-00001" || f.Device(1).Name != "d-2" || f.Device(1).CheckIn != 90*time.Minute {
		t.Errorf("loaded %+v, %+v", f.Device(0), f.Device(1))
	}
	if r := f.Rate("com.acme.ledger", "2.0", t0); r != 0.5 {
		t.Errorf("version rate %v", r)
	}
	if r := f.Rate("com.acme.ledger", "1.0", t0); r != 0.2 {
		t.Errorf("app rate %v", r)
	}
	var buf bytes.Buffer
	if err := f.Save(&buf); err != nil {
		t.Fatal(err)
	}
	g, err := Load(&buf)
	if err != nil {
		t.Fatalf("reloading what Save wrote: %v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(f.Devices(), g.Devices()) || !reflect.DeepEqual(f.Rates(), g.Rates()) || g.Seed() != 42 {
		t.Errorf("round trip changed the fleet:\n%+v\n%+v", f.Devices(), g.Devices())
	}
	gen := mustGenerate(t, GenerateOptions{N: 1000, Seed: 5})
	buf.Reset()
	gen.Save(&buf)
	back, err := Load(&buf)
	if err != nil || !reflect.DeepEqual(gen.Devices(), back.Devices()) {
		t.Errorf("a generated fleet does not survive Save and Load: %v", err)
	}
}

// TestSimFleetLoadStrict checks every malformed file is refused with an
// error naming the field.
func TestSimFleetLoadStrict(t *testing.T) {
	dev := `{"id": "d1", "platform": "linux"}`
	for _, tc := range []struct{ file, field, says string }{
		{``, "(file)", "empty"},
		{`[]`, "(file)", "not a JSON object"},
		{`null`, "(file)", "null"},
		{`{"devices": []} {}`, "(file)", "data after"},
		{`{}`, "devices", "missing"},
		{`{"devices": null}`, "devices", "null"},
		{`{"devices": {}}`, "devices", "want an array"},
		{`{"devices": [], "colour": 1}`, "colour", "unknown field"},
		{`{"devices": [], "seed": -1}`, "seed", "whole number"},
		{`{"devices": [], "seed": "7"}`, "seed", "whole number"},
		{`{"devices": [], "failure_rates": {"a": "x"}}`, "failure_rates", "want a number"},
		{`{"devices": [], "failure_rates": {"a": 2}}`, `failure_rates["a"]`, "from 0 to 1"},
		{`{"devices": [], "failure_rates": {"": 0.1}}`, `failure_rates[""]`, "missing"},
		{`{"devices": [` + dev + `, 7]}`, "devices[1]", "not a JSON object"},
		{`{"devices": [{"platform": "linux"}]}`, "devices[0].id", "missing"},
		{`{"devices": [{"id": "d1"}]}`, "devices[0].platform", "missing"},
		{`{"devices": [{"id": "d1", "platform": "linux", "os": "x"}]}`, "devices[0].os", "unknown field"},
		{`{"devices": [{"id": 1, "platform": "linux"}]}`, "devices[0].id", "want a string"},
		{`{"devices": [{"id": "d1", "platform": "beos"}]}`, "devices[0].platform", "not one of"},
		{`{"devices": [{"id": "d1", "platform": "linux", "groups": "ring-0"}]}`, "devices[0].groups", "want an array"},
		{`{"devices": [{"id": "d1", "platform": "linux", "groups": ["ring 0"]}]}`, "devices[0].groups[0]", "letters"},
		{`{"devices": [{"id": "d1", "platform": "linux", "check_in": "soon"}]}`, "devices[0].check_in", "not a duration"},
		{`{"devices": [{"id": "d1", "platform": "linux", "check_in": "-1h"}]}`, "devices[0].check_in", "positive"},
		{`{"devices": [{"id": "d1", "platform": "linux", "check_in": 3600}]}`, "devices[0].check_in", "want a string"},
		{`{"devices": [{"id": "d1", "platform": "linux", "check_in": "1.5s"}]}`, "devices[0].check_in", "whole seconds"},
		{`{"devices": [` + dev + `, ` + dev + `]}`, "devices[1].id", "also the id"},
	} {
		_, err := Load(strings.NewReader(tc.file))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.says) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Load(%s):\n  %v\n  want an error naming %s saying %q", tc.file, err, tc.field, tc.says)
		}
	}
}

// FuzzLoad checks the fleet file parser never panics, and that what it
// accepts survives Save and Load unchanged.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte(`{"devices": []}`))
	f.Add([]byte(`{"devices": [{"id": "a", "platform": "ios", "check_in": "1s"}], "seed": 18446744073709551615}`))
	f.Add([]byte(`{"devices": [{"id": "a", "platform": "ios"}], "failure_rates": {"x@1": 0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := fl.Save(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := Load(&buf)
		if err != nil {
			t.Fatalf("Load refuses what Save wrote: %v\n%s", err, buf.String())
		}
		if !reflect.DeepEqual(fl.Devices(), back.Devices()) || !reflect.DeepEqual(fl.Rates(), back.Rates()) || fl.Seed() != back.Seed() {
			t.Fatalf("Save and Load changed the fleet")
		}
	})
}
