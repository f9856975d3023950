// Package fleet is the simulated devices behind a plane simulator: each
// device has a platform, a site, groups and a check-in interval, and the
// fleet holds a failure rate per application (and per version). A plane
// simulator given a Fleet takes its groups from it (Intune Entra groups,
// SCCM collections, Jamf computer groups, Landscape tags) and makes every
// device assigned a release report pending until its next check-in, then
// installed or failed, through the plane's own status API.
//
// Everything is deterministic and computed when read, never with timers:
//
//   - a device checks in at phase + k*CheckIn, the phase derived from the
//     fleet's seed and the device id (so devices spread over the
//     interval); it acts on an assignment at its first check-in after the
//     assignment was made (DueAt);
//   - whether an install fails is a pure function of the seed, the device
//     id, the application, the version and the attempt number, drawn
//     uniform in [0,1) and compared with the rate in force at the check-in
//     (Fails). Raising a rate fails a superset of the devices a lower rate
//     fails, and only check-ins from the change on: what a device already
//     reported stays.
//
// A Fleet is made by New, Generate (a realistic ring layout) or Load (a
// JSON file), and controlled over HTTP by the admin handler the
// simulators mount under /_sim/fleet (Handler, Mount).
package fleet

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The platforms a device can have.
const (
	Windows = "windows"
	MacOS   = "macos"
	Linux   = "linux"
	IOS     = "ios"
	Android = "android"
)

// Platforms lists every platform.
var Platforms = []string{Windows, MacOS, Linux, IOS, Android}

// DefaultCheckIn is the check-in interval of a device that names none
// (Intune's and Jamf's default of eight hours).
const DefaultCheckIn = 8 * time.Hour

// Errors.
var (
	// ErrInvalid is wrapped by every error about a malformed device,
	// fleet file, option or rate; the error is a *FieldError naming the
	// field.
	ErrInvalid = errors.New("fleet: invalid")
	// ErrUnknownDevice is returned for a device id the fleet does not
	// hold.
	ErrUnknownDevice = errors.New("fleet: unknown device")
)

// FieldError says which field of a fleet, a fleet file or a request is
// wrong and why. It matches ErrInvalid.
type FieldError struct {
	// Field is the path of the field: "devices[3].platform", "rate".
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return "fleet: " + e.Field + ": " + e.Problem }

// Is makes a FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Device is one simulated device.
type Device struct {
	// ID is the device's id on the planes that use text ids (Intune's
	// deviceId); planes with integer ids number devices in ID order.
	ID string
	// Name is its host name (default: the ID).
	Name     string
	Platform string
	Site     string
	// Groups are the fleet groups it belongs to: the targets of
	// assignments.
	Groups []string
	// CheckIn is the interval between two check-ins, whole seconds
	// (default DefaultCheckIn). Check-ins fall on whole seconds.
	CheckIn time.Duration
}

// InGroup reports whether the device belongs to group.
func (d Device) InGroup(group string) bool { return slices.Contains(d.Groups, group) }

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	// groupPattern is what every plane takes as a group id, collection
	// name and tag (Landscape tags have no spaces, colons or quotes).
	groupPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// Fleet is a set of devices, their groups and the failure rates of the
// applications they install. The devices are fixed when it is made; the
// rates change while simulators run. A Fleet is safe for concurrent use.
type Fleet struct {
	seed    uint64
	devices []Device // by ID
	phase   []time.Duration
	index   map[string]int
	groups  map[string][]int // device indices, ascending
	names   []string         // group names, sorted

	mu    sync.RWMutex
	rates map[string][]rateChange // by "app" or "app@version", oldest first
}

type rateChange struct {
	from time.Time
	rate float64
}

// New makes a fleet of devices with a seed. It copies the devices, fills
// the defaults (Name: the ID; CheckIn: DefaultCheckIn) and refuses an
// invalid or repeated id or name, an unknown platform, a malformed group
// name or a negative check-in interval with a *FieldError.
func New(seed uint64, devices []Device) (*Fleet, error) {
	f := &Fleet{seed: seed, index: make(map[string]int, len(devices)), groups: map[string][]int{}, rates: map[string][]rateChange{}}
	names := make(map[string]int, len(devices))
	f.devices = make([]Device, len(devices))
	for i, d := range devices {
		d.Groups = slices.Clone(d.Groups)
		if len(d.Groups) == 0 {
			d.Groups = nil
		}
		if d.Name == "" {
			d.Name = d.ID
		}
		if d.CheckIn == 0 {
			d.CheckIn = DefaultCheckIn
		}
		if err := checkDevice(fmt.Sprintf("devices[%d]", i), d); err != nil {
			return nil, err
		}
		if j, dup := f.index[d.ID]; dup {
			return nil, fieldErr(fmt.Sprintf("devices[%d].id", i), "%q is also the id of devices[%d]", d.ID, j)
		}
		if j, dup := names[strings.ToLower(d.Name)]; dup {
			return nil, fieldErr(fmt.Sprintf("devices[%d].name", i), "%q is also the name of devices[%d] (names are host names: unique without case)", d.Name, j)
		}
		f.index[d.ID], names[strings.ToLower(d.Name)] = i, i
		f.devices[i] = d
	}
	slices.SortFunc(f.devices, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	f.phase = make([]time.Duration, len(f.devices))
	for i, d := range f.devices {
		f.index[d.ID] = i
		f.phase[i] = time.Duration(mix(newHash(seed).str("phase").str(d.ID).sum())%uint64(d.CheckIn/time.Second)) * time.Second
		for _, g := range d.Groups {
			if m := f.groups[g]; len(m) == 0 || m[len(m)-1] != i {
				f.groups[g] = append(m, i)
			}
		}
	}
	for g := range f.groups {
		f.names = append(f.names, g)
	}
	slices.Sort(f.names)
	return f, nil
}

func checkDevice(at string, d Device) error {
	switch {
	case !idPattern.MatchString(d.ID):
		return fieldErr(at+".id", "%q: want 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", clip(d.ID))
	case !namePattern.MatchString(d.Name):
		return fieldErr(at+".name", "%q: want a host name (1-63 letters, digits, '.', '_' or '-', starting with a letter or digit)", clip(d.Name))
	case !slices.Contains(Platforms, d.Platform):
		return fieldErr(at+".platform", "%q is not one of %s", clip(d.Platform), strings.Join(Platforms, ", "))
	case d.Site != "" && !groupPattern.MatchString(d.Site):
		return fieldErr(at+".site", "%q: want 1-64 letters, digits, '.', '_' or '-'", clip(d.Site))
	case d.CheckIn < time.Second || d.CheckIn%time.Second != 0:
		return fieldErr(at+".check_in", "%s: want whole seconds, at least one", d.CheckIn)
	}
	for j, g := range d.Groups {
		if !groupPattern.MatchString(g) {
			return fieldErr(fmt.Sprintf("%s.groups[%d]", at, j), "%q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", clip(g))
		}
		if slices.Index(d.Groups, g) != j {
			return fieldErr(fmt.Sprintf("%s.groups[%d]", at, j), "%q is listed twice", g)
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Seed is the fleet's seed.
func (f *Fleet) Seed() uint64 { return f.seed }

// Len is the number of devices.
func (f *Fleet) Len() int { return len(f.devices) }

// Device returns the i-th device in ID order (0 <= i < Len). Its Groups
// slice is shared with the fleet and must not be modified.
func (f *Fleet) Device(i int) Device { return f.devices[i] }

// Index returns the position of a device in ID order.
func (f *Fleet) Index(id string) (int, bool) {
	i, ok := f.index[id]
	return i, ok
}

// Devices returns a copy of every device, in ID order.
func (f *Fleet) Devices() []Device {
	out := make([]Device, len(f.devices))
	for i, d := range f.devices {
		d.Groups = slices.Clone(d.Groups)
		out[i] = d
	}
	return out
}

// Groups returns the names of the groups the devices belong to, sorted.
func (f *Fleet) Groups() []string { return slices.Clone(f.names) }

// HasGroup reports whether some device belongs to group.
func (f *Fleet) HasGroup(group string) bool { return len(f.groups[group]) > 0 }

// Members returns the indices (positions in ID order, ascending) of a
// group's devices.
func (f *Fleet) Members(group string) []int { return slices.Clone(f.groups[group]) }

// GroupSize is the number of devices in a group.
func (f *Fleet) GroupSize(group string) int { return len(f.groups[group]) }

// RateKey is the key of a failure rate: the application id, or
// "app@version" for one version.
func RateKey(app, version string) string {
	if version == "" {
		return app
	}
	return app + "@" + version
}

// checkRate validates an application id, a version and a rate; fields
// name the fields in errors.
func checkRate(appField, versionField, rateField string, app, version string, rate float64) error {
	switch {
	case app == "":
		return fieldErr(appField, "missing: name the application (its EUCORA id, e.g. com.acme.ledger)")
	case strings.ContainsAny(app, "@ \t\r\n/") || len(app) > 200:
		return fieldErr(appField, "%q: an application id has no '@', '/' or spaces", clip(app))
	case strings.ContainsAny(version, " \t\r\n/") || len(version) > 200:
		return fieldErr(versionField, "%q: a version has no '/' or spaces", clip(version))
	case math.IsNaN(rate) || rate < 0 || rate > 1:
		return fieldErr(rateField, "%v: want a number from 0 to 1", rate)
	}
	return nil
}

// SetRate sets the failure rate of an application (version "": every
// version without a rate of its own) for every check-in from from on;
// check-ins before from keep the rate they had.
func (f *Fleet) SetRate(app, version string, rate float64, from time.Time) error {
	if err := checkRate("app", "version", "rate", app, version, rate); err != nil {
		return err
	}
	k := RateKey(app, version)
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.rates[k]
	i := len(h)
	for i > 0 && h[i-1].from.After(from) {
		i--
	}
	f.rates[k] = slices.Insert(h, i, rateChange{from: from, rate: rate})
	return nil
}

// Rate is the failure rate of an application version at a time: the
// version's own rate when one was set by then, else the application's,
// else 0.
func (f *Fleet) Rate(app, version string, at time.Time) float64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if version != "" {
		if r, ok := rateAt(f.rates[RateKey(app, version)], at); ok {
			return r
		}
	}
	r, _ := rateAt(f.rates[app], at)
	return r
}

func rateAt(h []rateChange, at time.Time) (float64, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if !h[i].from.After(at) {
			return h[i].rate, true
		}
	}
	return 0, false
}

// Rates returns the rates in force from the latest change on, by
// RateKey.
func (f *Fleet) Rates() map[string]float64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]float64, len(f.rates))
	for k, h := range f.rates {
		if len(h) > 0 {
			out[k] = h[len(h)-1].rate
		}
	}
	return out
}

// Draw is the uniform number in [0,1) a device draws for an attempt to
// install an application version: a pure function of the seed, the
// device id, the application, the version and the attempt (1 is the
// first).
func (f *Fleet) Draw(deviceID, app, version string, attempt int) float64 {
	h := newHash(f.seed).str("install").str(deviceID).str(app).str(version).u64(uint64(attempt)).sum()
	return float64(mix(h)>>11) / (1 << 53)
}

// Fails reports whether a device's attempt to install an application
// version at a check-in fails: its Draw is below the rate in force then.
func (f *Fleet) Fails(deviceID, app, version string, attempt int, at time.Time) bool {
	rate := f.Rate(app, version, at)
	return rate > 0 && f.Draw(deviceID, app, version, attempt) < rate
}

// epoch anchors check-in arithmetic (time.Duration spans ±292 years
// around it).
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// DueAt is the device's first check-in after assignedAt: when it acts on
// an assignment made then. An unknown device is due at assignedAt.
func (f *Fleet) DueAt(deviceID string, assignedAt time.Time) time.Time {
	i, ok := f.index[deviceID]
	if !ok {
		return assignedAt
	}
	return f.dueAt(i, assignedAt)
}

func (f *Fleet) dueAt(i int, t time.Time) time.Time {
	period, phase := f.devices[i].CheckIn, f.phase[i]
	d := t.Sub(epoch)
	if d == math.MinInt64 || d == math.MaxInt64 { // beyond ±292 years: no arithmetic
		return t.Add(period)
	}
	k := floorDiv(int64(d-phase), int64(period)) + 1
	return epoch.Add(phase + time.Duration(k)*period).In(t.Location())
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Order is what a plane asks of a device: install (or uninstall) an
// application version, given to the device at Since. Attempt counts the
// times the plane asked this device for this install (1 the first).
type Order struct {
	Install      bool
	App, Version string
	Attempt      int
	Since        time.Time
}

// Result is what a device reports for an order.
type Result struct {
	// Done says the device has checked in since the order and acted on
	// it; until then it is pending.
	Done bool
	// Failed says the install failed (an uninstall never fails).
	Failed bool
	// At is the check-in the device acted at, or the order's Since while
	// it is pending.
	At time.Time
}

// Result is what a device reports at now for an order: pending until
// DueAt(Since), then the outcome Fails decides for the check-in. An
// unknown device acts at once.
func (f *Fleet) Result(deviceID string, o Order, now time.Time) Result {
	due := f.DueAt(deviceID, o.Since)
	if now.Before(due) {
		return Result{At: o.Since}
	}
	return Result{Done: true, At: due, Failed: o.Install && f.Fails(deviceID, o.App, o.Version, max(o.Attempt, 1), due)}
}

// Expected counts what a group's devices report for one order given to
// all of them: what a plane's status should show, for tests.
type Expected struct {
	Pending, Installed, Failed, Uninstalled int
}

// Expect is the Result of every device of a group for an order, counted.
func (f *Fleet) Expect(group string, o Order, now time.Time) Expected {
	var e Expected
	for _, i := range f.groups[group] {
		switch r := f.Result(f.devices[i].ID, o, now); {
		case !r.Done:
			e.Pending++
		case !o.Install:
			e.Uninstalled++
		case r.Failed:
			e.Failed++
		default:
			e.Installed++
		}
	}
	return e
}

// hash is FNV-1a (64 bit) over length-delimited fields.
type hash uint64

const prime64 = 1099511628211

func newHash(seed uint64) hash { return hash(14695981039346656037).u64(seed) }

func (h hash) u64(v uint64) hash {
	for i := range 8 {
		h ^= hash(byte(v >> (8 * i)))
		h *= prime64
	}
	return h
}

// str adds s and a 0xff byte, which UTF-8 text never holds: the fields
// cannot run into each other.
func (h hash) str(s string) hash {
	for i := 0; i < len(s); i++ {
		h ^= hash(s[i])
		h *= prime64
	}
	h ^= 0xff
	h *= prime64
	return h
}

func (h hash) sum() uint64 { return uint64(h) }

// mix is SplitMix64's finalizer: FNV's low bits are weak, this spreads
// every input bit over the output.
func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// ReleaseOf reads the application id and version of the release key in
// a correlation marker ("eucora:correlation=ID release=APP@VERSION/ring-N/
// SCOPE", the key's AppKey form too) anywhere in text.
func ReleaseOf(text string) (app, version string, ok bool) {
	i := strings.Index(text, "release=")
	if i < 0 {
		return "", "", false
	}
	key := text[i+len("release="):]
	if j := strings.IndexAny(key, " \t\r\n"); j >= 0 {
		key = key[:j]
	}
	if j := strings.LastIndex(key, "/ring-"); j >= 0 {
		key = key[:j]
	}
	app, version, ok = strings.Cut(key, "@")
	if !ok || app == "" || version == "" {
		return "", "", false
	}
	return app, version, true
}
