package connectors

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// ReleaseKey identifies one release on a plane: an application version
// rolled out to one ring within one scope. Every plane object a connector
// makes for a release is named or identified from it, so the key alone
// finds them again.
type ReleaseKey struct {
	App     string       `json:"app"`
	Version string       `json:"version"`
	Ring    deploy.Ring  `json:"ring"`
	Scope   deploy.Scope `json:"scope"`
}

// String is the canonical text of the key, the input of ID and UUID:
// "app@version/ring-N/scope".
func (k ReleaseKey) String() string {
	return fmt.Sprintf("%s@%s/ring-%d/%s", k.App, k.Version, int(k.Ring), k.Scope)
}

// Validate checks the key names an app, a version and a valid ring.
func (k ReleaseKey) Validate() error {
	switch {
	case k.App == "":
		return fmt.Errorf("release key: app is empty")
	case k.Version == "":
		return fmt.Errorf("release key %s: version is empty", k.App)
	case !k.Ring.Valid():
		return fmt.Errorf("release key %s@%s: ring %d is not one of 0-4", k.App, k.Version, int(k.Ring))
	}
	return k.Scope.Validate()
}

// ID is a short stable identifier of the key (16 hex characters of the
// SHA-256 of String), used in plane object names.
func (k ReleaseKey) ID() string {
	sum := sha256.Sum256([]byte(k.String()))
	return hex.EncodeToString(sum[:8])
}

// AppKey is the key without its ring and scope: the identity of the
// content object a plane holds once per application version (a Jamf
// package, an Intune app, an SCCM application), which every ring's
// assignment then references.
func (k ReleaseKey) AppKey() ReleaseKey { return ReleaseKey{App: k.App, Version: k.Version} }

// Name is a deterministic, human-readable plane object name:
// "eucora-APP-VERSION-rN-ID" (for the AppKey "eucora-APP-VERSION-ID").
// Planes with stricter name rules derive theirs from ID.
func (k ReleaseKey) Name() string {
	if k == k.AppKey() {
		return fmt.Sprintf("eucora-%s-%s-%s", k.App, k.Version, k.ID())
	}
	return fmt.Sprintf("eucora-%s-%s-r%d-%s", k.App, k.Version, int(k.Ring), k.ID())
}

// eucoraNamespace is the UUIDv5 namespace of release keys (a UUIDv5 of the
// URL namespace and "https://eucora.dev/release-key").
var eucoraNamespace = uuidV5([16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8},
	"https://eucora.dev/release-key")

// UUID is the RFC 9562 version 5 UUID of the key: planes that let the
// client choose an object's GUID (SCCM's application ModelName) use it.
func (k ReleaseKey) UUID() string { return formatUUID(uuidV5(eucoraNamespace, k.String())) }

func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	s := hex.EncodeToString(u[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// CorrelationMarker is the text a connector writes into a plane object's
// free-text field (notes, description, comment) so the object can be
// found by the correlation id: "eucora:correlation=ID release=KEY".
func CorrelationMarker(correlationID string, k ReleaseKey) string {
	return "eucora:correlation=" + correlationID + " release=" + k.String()
}

// ParseCorrelationMarker finds a marker in text and returns its
// correlation id; false when text holds none.
func ParseCorrelationMarker(text string) (string, bool) {
	_, rest, ok := strings.Cut(text, "eucora:correlation=")
	if !ok {
		return "", false
	}
	id, _, _ := strings.Cut(rest, " ")
	return id, id != ""
}

// Content is the file a release installs. Open is called once per upload
// attempt and must return the same bytes each time (their SHA-256 is
// Digest and their length Size).
type Content struct {
	Name   string                        `json:"name"`
	Size   int64                         `json:"size"`
	Digest digest.Digest                 `json:"sha256"`
	Type   deploy.Platform               `json:"type"`
	Open   func() (io.ReadCloser, error) `json:"-"`
}

// ReturnCode is an installer exit code and what it means.
type ReturnCode struct {
	Code int    `json:"code"`
	Type string `json:"type"` // success, softReboot, hardReboot, retry, failed
}

// Detection says how a plane decides the release is installed.
type Detection struct {
	// ProductCode (MSI) with an optional version, or a registry value, or
	// a file; the first one set is used.
	ProductCode    string `json:"product_code,omitempty"`
	ProductVersion string `json:"product_version,omitempty"`
	RegistryKey    string `json:"registry_key,omitempty"`
	RegistryValue  string `json:"registry_value,omitempty"`
	FilePath       string `json:"file_path,omitempty"`
	FileName       string `json:"file_name,omitempty"`
	// BundleID and BundleVersion identify a macOS/iOS app; PackageName a
	// Linux package or an Android package id.
	BundleID      string `json:"bundle_id,omitempty"`
	BundleVersion string `json:"bundle_version,omitempty"`
	PackageName   string `json:"package_name,omitempty"`
}

// Install is how the release installs and uninstalls on a device.
type Install struct {
	InstallCommand   string        `json:"install_command,omitempty"`
	UninstallCommand string        `json:"uninstall_command,omitempty"`
	ReturnCodes      []ReturnCode  `json:"return_codes,omitempty"`
	Detection        Detection     `json:"detection"`
	RunAsSystem      bool          `json:"run_as_system,omitempty"`
	RebootBehavior   string        `json:"reboot_behavior,omitempty"` // basedOnReturnCode, allow, suppress, force
	MaxRunTime       time.Duration `json:"max_run_time,omitempty"`
}

// Target is one group of devices a ring reaches on a plane: an Entra group
// id (Intune), a computer group (Jamf), a collection (SCCM), a tag or
// access group (Landscape), an inventory limit (AWX). Exclude targets are
// excluded from the assignment where the plane supports it.
type Target struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Exclude bool   `json:"exclude,omitempty"`
}

// Release is everything a connector needs to publish one release: the
// key, the correlation id of the intent, the content, how it installs, and
// the ring's targets on this plane. Prior, when set, is the release this
// one supersedes (the version a rollback returns to).
type Release struct {
	Key           ReleaseKey  `json:"key"`
	CorrelationID string      `json:"correlation_id"`
	DisplayName   string      `json:"display_name,omitempty"`
	Publisher     string      `json:"publisher,omitempty"`
	Content       Content     `json:"content"`
	Install       Install     `json:"install"`
	Targets       []Target    `json:"targets"`
	Prior         *ReleaseKey `json:"prior,omitempty"`
	// Required assigns as a required install; otherwise available.
	Required bool `json:"required,omitempty"`
	// Deadline, when set, is the install deadline of a required
	// assignment.
	Deadline time.Time `json:"deadline,omitzero"`
}

// Validate checks a release has what every plane needs.
func (r Release) Validate() error {
	if err := r.Key.Validate(); err != nil {
		return err
	}
	switch {
	case r.CorrelationID == "" || strings.ContainsAny(r.CorrelationID, " \t\r\n"):
		return fmt.Errorf("release %s: correlation id %q: want a non-empty id without spaces", r.Key, r.CorrelationID)
	case r.Content.Name == "" || r.Content.Size < 0 || r.Content.Open == nil:
		return fmt.Errorf("release %s: content needs a name, a size and an opener", r.Key)
	case len(r.Targets) == 0:
		return fmt.Errorf("release %s: no targets: the ring reaches no group on this plane", r.Key)
	}
	return nil
}
