package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// MaxFileSize bounds a fleet file Load reads.
const MaxFileSize = 256 << 20

// fileDevice and file are the fleet file (see Load).
type fileDevice struct {
	ID       string   `json:"id"`
	Name     string   `json:"name,omitempty"`
	Platform string   `json:"platform"`
	Site     string   `json:"site,omitempty"`
	Groups   []string `json:"groups"`
	CheckIn  string   `json:"check_in"`
}

type file struct {
	Seed    uint64             `json:"seed"`
	Rates   map[string]float64 `json:"failure_rates"`
	Devices []fileDevice       `json:"devices"`
}

// Load reads a fleet file (at most MaxFileSize bytes), a JSON object:
//
//	{
//	  "seed": 42,
//	  "failure_rates": {"com.acme.ledger": 0.02, "com.acme.ledger@2.0": 0.3},
//	  "devices": [
//	    {"id": "d-1", "name": "PC-00001", "platform": "windows", "site": "hq",
//	     "groups": ["ring-0", "site-hq"], "check_in": "4h"}
//	  ]
//	}
//
// "devices" is required; "seed" defaults to 0 and "failure_rates" to none.
// A device needs "id" and "platform"; "name" defaults to the id,
// "check_in" (a Go duration) to DefaultCheckIn. Unknown fields, wrong
// types and invalid values are refused with a *FieldError naming the
// field. The failure rates are in force from the beginning of time.
func Load(r io.Reader) (*Fleet, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("fleet: reading the fleet file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fieldErr("(file)", "larger than %d bytes", MaxFileSize)
	}
	top, err := object(data, "(file)")
	if err != nil {
		return nil, err
	}
	var fl file
	for _, k := range sortedKeys(top) {
		raw := top[k]
		switch k {
		case "seed":
			err = strict(raw, k, &fl.Seed)
		case "failure_rates":
			err = strict(raw, k, &fl.Rates)
		case "devices":
			var list []json.RawMessage
			if err = strict(raw, k, &list); err != nil {
				break
			}
			if len(list) > MaxDevices {
				return nil, fieldErr(k, "%d devices: at most %d", len(list), MaxDevices)
			}
			fl.Devices = make([]fileDevice, len(list))
			for i, item := range list {
				if err = device(item, fmt.Sprintf("devices[%d]", i), &fl.Devices[i]); err != nil {
					break
				}
			}
		default:
			err = fieldErr(k, "unknown field (want seed, failure_rates, devices)")
		}
		if err != nil {
			return nil, err
		}
	}
	if _, ok := top["devices"]; !ok {
		return nil, fieldErr("devices", "missing")
	}
	devices := make([]Device, len(fl.Devices))
	for i, d := range fl.Devices {
		var every time.Duration
		if d.CheckIn != "" {
			if every, err = time.ParseDuration(d.CheckIn); err != nil {
				return nil, fieldErr(fmt.Sprintf("devices[%d].check_in", i), "%q is not a duration (want e.g. \"4h\" or \"90m\")", clip(d.CheckIn))
			}
			if every <= 0 {
				return nil, fieldErr(fmt.Sprintf("devices[%d].check_in", i), "%q: want a positive duration", d.CheckIn)
			}
		}
		devices[i] = Device{ID: d.ID, Name: d.Name, Platform: d.Platform, Site: d.Site, Groups: d.Groups, CheckIn: every}
	}
	f, err := New(fl.Seed, devices)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(fl.Rates) {
		app, version, _ := strings.Cut(k, "@")
		field := "failure_rates[" + fmt.Sprintf("%q", clip(k)) + "]"
		if err := checkRate(field, field, field, app, version, fl.Rates[k]); err != nil {
			return nil, err
		}
		f.SetRate(app, version, fl.Rates[k], time.Time{})
	}
	return f, nil
}

// object decodes a JSON object into its raw fields, refusing anything
// else and trailing data.
func object(data []byte, at string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fieldErr(at, "not a JSON object: %s", jsonProblem(err))
	}
	if m == nil {
		return nil, fieldErr(at, "null: want an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fieldErr(at, "data after the object")
	}
	return m, nil
}

// strict decodes one field's value, naming the field in the error.
func strict(raw json.RawMessage, field string, v any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fieldErr(field, "null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fieldErr(field, "%s", jsonProblem(err))
	}
	return nil
}

func device(raw json.RawMessage, at string, d *fileDevice) error {
	m, err := object(raw, at)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		field := at + "." + k
		switch k {
		case "id":
			err = strict(m[k], field, &d.ID)
		case "name":
			err = strict(m[k], field, &d.Name)
		case "platform":
			err = strict(m[k], field, &d.Platform)
		case "site":
			err = strict(m[k], field, &d.Site)
		case "groups":
			err = strict(m[k], field, &d.Groups)
		case "check_in":
			err = strict(m[k], field, &d.CheckIn)
		default:
			err = fieldErr(field, "unknown field (want id, name, platform, site, groups, check_in)")
		}
		if err != nil {
			return err
		}
	}
	for _, k := range []string{"id", "platform"} {
		if _, ok := m[k]; !ok {
			return fieldErr(at+"."+k, "missing")
		}
	}
	return nil
}

// jsonProblem says what is wrong with a value without Go type names.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		want := e.Type.String()
		switch e.Type.Kind().String() {
		case "string":
			want = "a string"
		case "uint64", "int", "int64":
			want = "a whole number"
		case "float64":
			want = "a number"
		case "slice":
			want = "an array"
		case "map", "struct":
			want = "an object"
		}
		if e.Field != "" {
			return fmt.Sprintf("%s at %q: want %s", e.Value, e.Field, want)
		}
		return fmt.Sprintf("%s: want %s", e.Value, want)
	case *json.SyntaxError:
		return fmt.Sprintf("%s (at byte %d)", e.Error(), e.Offset)
	}
	if err == io.EOF {
		return "empty"
	}
	return err.Error()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Save writes the fleet as a fleet file Load reads back: the seed, the
// failure rates in force from the latest change on, and the devices in
// ID order.
func (f *Fleet) Save(w io.Writer) error {
	fl := file{Seed: f.seed, Rates: f.Rates(), Devices: make([]fileDevice, len(f.devices))}
	for i, d := range f.devices {
		fl.Devices[i] = fileDevice{ID: d.ID, Name: d.Name, Platform: d.Platform, Site: d.Site, Groups: d.Groups, CheckIn: d.CheckIn.String()}
		if fl.Devices[i].Groups == nil {
			fl.Devices[i].Groups = []string{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fl)
}
