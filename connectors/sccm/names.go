package sccm

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/eucora/eucora/connectors"
)

// Names of the plane objects of one release. Every one is derived from the
// release key alone, so a retry in a new process finds what an earlier
// attempt made.
//
//   - The application (one per application version: the key's AppKey) has
//     ModelName "ScopeId_<site GUID>/Application_<AppKey UUIDv5>" and
//     LocalizedDisplayName AppKey.Name(); its deployment type is
//     "DeploymentType_<UUIDv5 of the application UUID and "deployment-type">".
//   - The release's collection (one per key: application, version, ring and
//     scope) is named Key.Name(), so a rollback finds the prior version's
//     collection with the prior's own membership.
//   - A deployment is "<application name>_<collection name>_Install" (or
//     "_Uninstall") with AssignmentUniqueID the UUIDv5 of the key's UUID and
//     that name.

// appUUID is the GUID of the application's ModelName.
func appUUID(k connectors.ReleaseKey) string { return k.AppKey().UUID() }

// appLogicalName is the application's LogicalName.
func appLogicalName(k connectors.ReleaseKey) string { return "Application_" + appUUID(k) }

// modelName is the application's ModelName in the authoring scope.
func modelName(scope string, k connectors.ReleaseKey) string {
	return scope + "/" + appLogicalName(k)
}

// appDisplayName is the application's LocalizedDisplayName, which the site
// keeps unique.
func appDisplayName(k connectors.ReleaseKey) string { return k.AppKey().Name() }

// dtLogicalName is the LogicalName of the application's deployment type.
func dtLogicalName(k connectors.ReleaseKey) string {
	return "DeploymentType_" + subUUID(appUUID(k), "deployment-type")
}

// collectionName is the name of the release's collection.
func collectionName(k connectors.ReleaseKey) string { return k.Name() }

// Deployment actions, in AssignmentName suffixes.
const (
	actionInstall   = "Install"
	actionUninstall = "Uninstall"
)

// assignmentName is the name of the release's deployment of its
// application to its collection.
func assignmentName(app, coll connectors.ReleaseKey, action string) string {
	return appDisplayName(app) + "_" + collectionName(coll) + "_" + action
}

// assignmentUniqueID is the deployment's AssignmentUniqueID: a GUID in
// braces, as the site writes them.
func assignmentUniqueID(app, coll connectors.ReleaseKey, action string) string {
	return "{" + strings.ToUpper(subUUID(coll.UUID(), assignmentName(app, coll, action))) + "}"
}

// subUUID is the RFC 9562 version 5 UUID of name in the namespace ns (a
// UUID in text form).
func subUUID(ns, name string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(ns, "-", ""))
	if err != nil || len(b) != 16 {
		panic("sccm: bad UUID namespace " + ns)
	}
	h := sha1.New()
	h.Write(b)
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// resourceID is a stable "Res_N" resource id for a localisable string of
// the application's XML.
func resourceID(k connectors.ReleaseKey, what string) string {
	s := subUUID(appUUID(k), "resource/"+what)
	n, _ := strconv.ParseUint(s[:8], 16, 32)
	return fmt.Sprintf("Res_%d", n%2000000000)
}

// TargetKind says what a Target ID names on the plane.
type TargetKind int

const (
	// TargetCollection is a collection id ("PS100023", "SMS00004"): the
	// release's collection includes it (or excludes it, for an Exclude
	// target).
	TargetCollection TargetKind = iota + 1
	// TargetDevice is a device's ResourceID in SMS_R_System ("16777220"):
	// the release's collection gets a direct membership rule for it.
	TargetDevice
)

// A target is one parsed Release.Target.
type target struct {
	Kind       TargetKind
	Collection string // for TargetCollection
	Resource   int64  // for TargetDevice
	Exclude    bool
}

// collectionIDPattern is a ConfigMgr collection id: the three-character
// site code (or "SMS" for the built-in collections) and five hexadecimal
// digits.
var collectionIDPattern = regexp.MustCompile(`^[A-Z0-9]{3}[0-9A-F]{5}$`)

// ParseTarget reads a Release.Target ID. A Target ID on this plane is
// either a device's ResourceID in SMS_R_System, all decimal digits
// ("16777220"), or a collection id, three letters or digits of the site
// code and five hexadecimal digits ("PS100023", "SMS00004"). A collection
// id made of digits only (a site code such as "123") is written
// "collection:12300042"; "device:" is accepted before a ResourceID too.
// Excluding a device is refused: ConfigMgr excludes collections only.
func ParseTarget(t connectors.Target) (TargetKind, error) {
	p, err := parseTarget(t)
	return p.Kind, err
}

func parseTarget(t connectors.Target) (target, error) {
	id := strings.TrimSpace(t.ID)
	if c, ok := strings.CutPrefix(id, "collection:"); ok {
		if !collectionIDPattern.MatchString(c) {
			return target{}, fmt.Errorf("target %q: %q is not a collection id (site code and five hex digits, e.g. PS100023)", t.ID, c)
		}
		return target{Kind: TargetCollection, Collection: c, Exclude: t.Exclude}, nil
	}
	dev, isDev := strings.CutPrefix(id, "device:")
	switch {
	case isDev || (id != "" && strings.Trim(id, "0123456789") == ""):
		n, err := strconv.ParseInt(dev, 10, 64)
		if err != nil || n <= 0 || n > 1<<31-1 {
			return target{}, fmt.Errorf("target %q: a ResourceID is a positive 32-bit number", t.ID)
		}
		if t.Exclude {
			return target{}, fmt.Errorf("target %q: only a collection can be excluded; put the device into a collection and exclude that", t.ID)
		}
		return target{Kind: TargetDevice, Resource: n}, nil
	case collectionIDPattern.MatchString(id):
		return target{Kind: TargetCollection, Collection: id, Exclude: t.Exclude}, nil
	}
	return target{}, fmt.Errorf("target %q: want a collection id (site code and five hex digits, e.g. PS100023) or a device ResourceID (e.g. 16777220)", t.ID)
}

// ruleKey identifies a membership rule by what it points at.
func (t target) ruleKey() string {
	switch {
	case t.Kind == TargetDevice:
		return "direct/" + strconv.FormatInt(t.Resource, 10)
	case t.Exclude:
		return "exclude/" + t.Collection
	}
	return "include/" + t.Collection
}
