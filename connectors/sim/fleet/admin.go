package fleet

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// AdminPath is where simulators mount the admin handler. It is a test
// control, not part of any plane's API: no plane has a path under it,
// and it takes no credentials (it exists only on simulators).
const AdminPath = "/_sim/fleet"

// Mount serves the fleet's admin handler under AdminPath and plane
// everywhere else; a nil fleet leaves plane alone. now is the
// simulator's clock (nil: time.Now).
func Mount(plane http.Handler, f *Fleet, now func() time.Time) http.Handler {
	if f == nil {
		return plane
	}
	admin := f.Handler(now)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == AdminPath || strings.HasPrefix(r.URL.Path, AdminPath+"/") {
			admin.ServeHTTP(w, r)
			return
		}
		plane.ServeHTTP(w, r)
	})
}

// Summary is what GET /_sim/fleet answers.
type Summary struct {
	Devices int    `json:"devices"`
	Seed    uint64 `json:"seed"`
	// Groups counts the devices of each group.
	Groups map[string]int `json:"groups"`
	// Platforms counts the devices of each platform.
	Platforms map[string]int `json:"platforms"`
	// FailureRates are the rates in force, by RateKey.
	FailureRates map[string]float64 `json:"failure_rates"`
}

// Summary describes the fleet.
func (f *Fleet) Summary() Summary {
	s := Summary{Devices: len(f.devices), Seed: f.seed, Groups: map[string]int{}, Platforms: map[string]int{}, FailureRates: f.Rates()}
	for g, m := range f.groups {
		s.Groups[g] = len(m)
	}
	for _, d := range f.devices {
		s.Platforms[d.Platform]++
	}
	return s
}

// RateRequest is the body of POST or PUT /_sim/fleet/failure-rate.
type RateRequest struct {
	App     string `json:"app"`
	Version string `json:"version,omitempty"`
	// Rate is required (a pointer: 0 is a rate).
	Rate *float64 `json:"rate"`
}

// RateAnswer is what a rate change answers.
type RateAnswer struct {
	App     string    `json:"app"`
	Version string    `json:"version,omitempty"`
	Rate    float64   `json:"rate"`
	From    time.Time `json:"from"`
}

// adminError is the body of an admin error.
type adminError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// Handler is the admin API, with now the simulator's clock (nil:
// time.Now):
//
//   - GET /_sim/fleet: a Summary (device count, groups, failure rates);
//   - GET /_sim/fleet/devices[?group=G]: the devices, in ID order;
//   - GET /_sim/fleet/failure-rate: the rates in force;
//   - POST or PUT /_sim/fleet/failure-rate with a RateRequest
//     ({"app": "com.acme.ledger", "version": "2.0", "rate": 0.2}, version
//     optional) sets a rate from now on; a bad body answers 400 with
//     {"error": ..., "field": ...} naming the field.
func (f *Fleet) Handler(now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimSuffix(r.URL.Path, "/") {
		case AdminPath:
			if !allow(w, r, http.MethodGet) {
				return
			}
			reply(w, http.StatusOK, f.Summary())
		case AdminPath + "/devices":
			if !allow(w, r, http.MethodGet) {
				return
			}
			f.serveDevices(w, r)
		case AdminPath + "/failure-rate":
			if r.Method == http.MethodGet {
				reply(w, http.StatusOK, f.Rates())
				return
			}
			if !allow(w, r, http.MethodPost, http.MethodPut) {
				return
			}
			f.serveRate(w, r, now())
		default:
			reply(w, http.StatusNotFound, adminError{Error: "no such fleet admin resource: " + clip(r.URL.Path) + " (want " + AdminPath + ", " + AdminPath + "/devices or " + AdminPath + "/failure-rate)"})
		}
	})
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	reply(w, http.StatusMethodNotAllowed, adminError{Error: "method " + r.Method + " not allowed (want " + strings.Join(methods, " or ") + ")"})
	return false
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *Fleet) serveDevices(w http.ResponseWriter, r *http.Request) {
	out := []fileDevice{}
	add := func(d Device) {
		out = append(out, fileDevice{ID: d.ID, Name: d.Name, Platform: d.Platform, Site: d.Site, Groups: d.Groups, CheckIn: d.CheckIn.String()})
	}
	if g := r.URL.Query().Get("group"); g != "" {
		for _, i := range f.groups[g] {
			add(f.devices[i])
		}
	} else {
		for _, d := range f.devices {
			add(d)
		}
	}
	reply(w, http.StatusOK, out)
}

func (f *Fleet) serveRate(w http.ResponseWriter, r *http.Request, at time.Time) {
	bad := func(err error) {
		var fe *FieldError
		if errors.As(err, &fe) {
			reply(w, http.StatusBadRequest, adminError{Error: fe.Error(), Field: fe.Field})
			return
		}
		reply(w, http.StatusBadRequest, adminError{Error: err.Error()})
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		bad(err)
		return
	}
	m, err := object(data, "(body)")
	if err != nil {
		bad(err)
		return
	}
	var q RateRequest
	for _, k := range sortedKeys(m) {
		switch k {
		case "app":
			err = strict(m[k], k, &q.App)
		case "version":
			err = strict(m[k], k, &q.Version)
		case "rate":
			q.Rate = new(float64)
			err = strict(m[k], k, q.Rate)
		default:
			err = fieldErr(k, "unknown field (want app, version, rate)")
		}
		if err != nil {
			bad(err)
			return
		}
	}
	if q.Rate == nil {
		bad(fieldErr("rate", "missing: give a number from 0 to 1"))
		return
	}
	if err := f.SetRate(q.App, q.Version, *q.Rate, at); err != nil {
		bad(err)
		return
	}
	reply(w, http.StatusOK, RateAnswer{App: q.App, Version: q.Version, Rate: *q.Rate, From: at})
}
