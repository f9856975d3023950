package connectors

import (
	"context"
	"time"

	"github.com/eucora/eucora/deploy"
)

// Kind names an execution plane.
type Kind string

// The planes of EUCORA-architecture.md section 3.3.
const (
	Intune    Kind = "intune"
	Jamf      Kind = "jamf"
	SCCM      Kind = "sccm"
	Landscape Kind = "landscape"
	AWX       Kind = "awx"
)

// Kinds lists every plane kind.
var Kinds = []Kind{Intune, Jamf, SCCM, Landscape, AWX}

// Object is one object a connector made or found on a plane.
type Object struct {
	// Kind is the plane's word for it: "mobileApp", "assignment",
	// "package", "policy", "application", "collection", "deployment",
	// "activity", "job", "packageProfile", "script".
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// CorrelationID is the correlation id the object carries on the plane.
	CorrelationID string `json:"correlation_id,omitempty"`
	// Release is the key the object was made for, when the plane records it.
	Release *ReleaseKey `json:"release,omitempty"`
}

// Publication is what Publish (or Remediate) left on the plane.
type Publication struct {
	Key     ReleaseKey `json:"key"`
	Objects []Object   `json:"objects"`
	// Created counts objects this call created; zero on a retry that
	// found everything in place.
	Created int `json:"created"`
	// Handle is the plane's handle for asynchronous work the call
	// started (a Landscape activity group, an AWX job), if any.
	Handle string `json:"handle,omitempty"`
	// Deferred says why the plane has not run the call yet, for a plane
	// the hub reaches later (a site-local plane's order travels in the
	// site's next bundle); empty once it ran, and always for a plane the
	// hub calls directly.
	Deferred string `json:"deferred,omitempty"`
}

// InstallState is a device's state for a release, in EUCORA's words.
type InstallState string

// Install states. Every plane's own states map onto these.
const (
	StateInstalled     InstallState = "installed"
	StateFailed        InstallState = "failed"
	StatePending       InstallState = "pending"
	StateNotInstalled  InstallState = "not-installed"
	StateNotApplicable InstallState = "not-applicable"
	StateUnknown       InstallState = "unknown"
)

// DeviceState is one device's report for a release.
type DeviceState struct {
	Device    string       `json:"device"`
	DeviceID  string       `json:"device_id,omitempty"`
	State     InstallState `json:"state"`
	Detail    string       `json:"detail,omitempty"`
	ErrorCode int64        `json:"error_code,omitempty"`
	// At is when the plane last heard from the device about it.
	At time.Time `json:"at,omitzero"`
}

// ID is the device's identity for EUCORA: the plane's device id, else its
// name.
func (d DeviceState) ID() string {
	if d.DeviceID != "" {
		return d.DeviceID
	}
	return d.Device
}

// Summary counts devices by state.
type Summary struct {
	Installed     int `json:"installed"`
	Failed        int `json:"failed"`
	Pending       int `json:"pending"`
	NotInstalled  int `json:"not_installed"`
	NotApplicable int `json:"not_applicable"`
	Unknown       int `json:"unknown"`
}

// Add counts one device state.
func (s *Summary) Add(st InstallState) {
	switch st {
	case StateInstalled:
		s.Installed++
	case StateFailed:
		s.Failed++
	case StatePending:
		s.Pending++
	case StateNotInstalled:
		s.NotInstalled++
	case StateNotApplicable:
		s.NotApplicable++
	default:
		s.Unknown++
	}
}

// Attempts is the number of devices that reached a verdict (installed or
// failed): the denominator of an install success rate.
func (s Summary) Attempts() int { return s.Installed + s.Failed }

// Status is what a plane holds for a release and what its devices report.
type Status struct {
	Key     ReleaseKey    `json:"key"`
	Objects []Object      `json:"objects"`
	Devices []DeviceState `json:"devices"`
	Summary Summary       `json:"summary"`
	// Assigned lists the target ids the release is assigned to now.
	Assigned []string `json:"assigned"`
	// Deferred says why the plane has not yet run the latest call for the
	// release (see Publication.Deferred); what the status shows is from
	// before it.
	Deferred string `json:"deferred,omitempty"`
}

// Results are the devices' states as the promotion gate measures them
// (deploy.MeasureRing).
func (s Status) Results() []deploy.DeviceResult {
	out := make([]deploy.DeviceResult, len(s.Devices))
	for i, d := range s.Devices {
		out[i] = deploy.DeviceResult{Device: d.ID(), Outcome: deploy.DeviceOutcome(d.State), At: d.At}
	}
	return out
}

// Action is a remediation.
type Action string

// Remediations (EUCORA-architecture.md section 6.2 and 10.3).
const (
	// Supersede makes the release replace its Prior on devices.
	Supersede Action = "supersede"
	// PinPrior points the ring's assignment back to the Prior release
	// (a rollback that leaves the newer object in place, unassigned).
	PinPrior Action = "pin-prior"
	// Uninstall removes the release from the ring's devices.
	Uninstall Action = "uninstall"
	// Redeploy asks devices to install the release again.
	Redeploy Action = "redeploy"
)

// Remediation asks a connector to act on a published release.
type Remediation struct {
	Action  Action  `json:"action"`
	Release Release `json:"release"`
}

// Check is the result of authenticating and reading one page.
type Check struct {
	Plane   Kind          `json:"plane"`
	Latency time.Duration `json:"latency"`
	// Detail says what was read ("3 mobile apps on the first page").
	Detail string `json:"detail"`
}

// Connector is one execution plane as the orchestrator sees it. Every
// method is safe to call again after any failure, including a crash of the
// calling process: a method never relies on what an earlier call kept in
// memory, only on what the plane holds. Errors are *Error (or wrap one)
// and carry a Class that tells the caller whether to retry.
type Connector interface {
	// Kind names the plane.
	Kind() Kind

	// Publish makes the plane hold the release and assign it to exactly
	// the release's targets: it creates or updates the plane's app or
	// package object (named from the release key's AppKey and carrying
	// the correlation marker), uploads the content unless the plane
	// already holds the same digest, and makes the assignment of the
	// ring (read, merge, write: other rings' and other tools'
	// assignments stay). Publishing the same release twice leaves one
	// object and one assignment set. When Prior is set the new release
	// supersedes it where the plane models supersedence.
	Publish(ctx context.Context, r Release) (Publication, error)

	// Query reports what the plane holds for the release key and the
	// install state of every device it reports on. A key the plane holds
	// nothing for is an *Error with class Permanent and NotFound set.
	Query(ctx context.Context, k ReleaseKey) (Status, error)

	// Remediate applies an action to a published release. PinPrior and
	// Supersede need Release.Prior; Uninstall and Redeploy act on the
	// release itself. Like Publish it is idempotent.
	Remediate(ctx context.Context, m Remediation) (Publication, error)

	// Find returns every plane object that carries the correlation id.
	Find(ctx context.Context, correlationID string) ([]Object, error)

	// Check authenticates and reads one page of the plane's catalog.
	Check(ctx context.Context) (Check, error)
}
