package intunesim

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/packaging/intunewin"
)

// App is a snapshot of one app, for tests.
type App struct {
	ID                      string
	Type                    string // "win32LobApp"
	DisplayName             string
	Notes                   string
	PublishingState         string
	CommittedContentVersion string
	ContentVersions         int
	Files                   []File
	Assignments             []Assignment
	Relationships           []Relationship
	// Props are the properties the client set, as JSON values.
	Props map[string]any
}

// File is a snapshot of one content file.
type File struct {
	ContentVersion string
	ID, Name       string
	Size           int64
	SizeEncrypted  int64
	UploadState    string
	Committed      bool
	// FailReason says why a commit failed (the service gives no reason;
	// the simulator keeps it for tests).
	FailReason string
	// Digest is the SHA-256 of the decrypted file, once committed.
	Digest [32]byte
}

// Assignment is a snapshot of one assignment.
type Assignment struct {
	ID, Intent string
	TargetType string // "groupAssignmentTarget", "exclusionGroupAssignmentTarget", ...
	GroupID    string
}

// Relationship is a snapshot of one relationship.
type Relationship struct {
	Type             string // "mobileAppSupersedence" or "mobileAppDependency"
	TargetID         string
	SupersedenceType string
}

func (a *app) snapshot() App {
	out := App{ID: a.id, Type: a.typeName(), PublishingState: a.publishing, CommittedContentVersion: a.committed, ContentVersions: len(a.versions), Props: map[string]any{}}
	out.DisplayName, _ = a.props["displayName"].(string)
	out.Notes, _ = a.props["notes"].(string)
	for k, v := range a.props {
		out.Props[k] = v
	}
	for _, cv := range a.versions {
		for _, f := range cv.files {
			out.Files = append(out.Files, File{ContentVersion: cv.id, ID: f.id, Name: f.name, Size: f.size, SizeEncrypted: f.sizeEnc,
				UploadState: f.state, Committed: f.committed, FailReason: f.reason, Digest: f.digest})
		}
	}
	for _, x := range a.assignments {
		t, _ := x.target["@odata.type"].(string)
		out.Assignments = append(out.Assignments, Assignment{ID: x.id, Intent: x.intent, TargetType: strings.TrimPrefix(t, "#microsoft.graph."), GroupID: x.group()})
	}
	for _, r := range a.relationships {
		t, _ := r["@odata.type"].(string)
		st, _ := r["supersedenceType"].(string)
		tid, _ := r["targetId"].(string)
		out.Relationships = append(out.Relationships, Relationship{Type: strings.TrimPrefix(t, "#microsoft.graph."), TargetID: tid, SupersedenceType: st})
	}
	return out
}

// Apps returns every app, in creation order.
func (s *Server) Apps() []App {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []App
	for _, id := range s.order {
		out = append(out, s.apps[id].snapshot())
	}
	return out
}

// App returns one app.
func (s *Server) App(id string) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[id]
	if a == nil {
		return App{}, false
	}
	return a.snapshot(), true
}

// SetDeviceState makes a device report o for an app now, as if it had
// acted: a test's way of failing one device's install. A fleet device
// reports o until its next order.
func (s *Server) SetDeviceState(appID, deviceID string, o Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if a == nil {
		return fmt.Errorf("intunesim: no app %s", appID)
	}
	ds := a.devices[deviceID]
	if ds == nil {
		return fmt.Errorf("intunesim: device %s has no state for app %s (is it in an assigned group?)", deviceID, appID)
	}
	ds.state, ds.detail, ds.code, ds.polls, ds.sync = o.State, o.Detail, o.ErrorCode, 0, s.o.Now()
	ds.order = false // a fleet device's pending order is done with
	return nil
}

// Content returns the decrypted content of an app's committed content
// version (its one committed file): for a Win32 app the .intunewin's
// plaintext zip, for the other types the installer.
func (s *Server) Content(appID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appID]
	if a == nil {
		return nil, fmt.Errorf("intunesim: no app %s", appID)
	}
	cv := a.version(a.committed)
	if cv == nil {
		return nil, fmt.Errorf("intunesim: app %s has no committed content version", appID)
	}
	for _, f := range cv.files {
		if b := s.blobs[f.id]; f.committed && b != nil {
			var out bytes.Buffer
			open := func() (io.ReadCloser, error) { return io.NopCloser(b.reader()), nil }
			if _, err := intunewin.Decrypt(&out, open, f.info, f.size); err != nil {
				return nil, err
			}
			return out.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("intunesim: app %s has no committed file", appID)
}

// ExpireUploads makes every upload URI handed out so far invalid (the
// storage host answers 403 AuthenticationFailed), as a SAS that expired
// mid-upload; a renewUpload gives a valid one again.
func (s *Server) ExpireUploads() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sasKey = []byte(randomHex(32))
}

// markerLine is one line of the marker EUCORA's connector keeps in an
// app's notes: "eucora:correlation=ID release=KEY targets=G1,!G2".
type markerLine struct {
	correlation, release string
	targets              []string
}

func markerLines(notes string) []markerLine {
	var out []markerLine
	for _, line := range strings.Split(notes, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "eucora:correlation=") {
			continue
		}
		var m markerLine
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "eucora:correlation":
				m.correlation = v
			case "release":
				m.release = v
			case "targets":
				for _, t := range strings.Split(v, ",") {
					if t = strings.TrimPrefix(t, "!"); t != "" {
						m.targets = append(m.targets, t)
					}
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// Count reports how many apps carry a marker for the key's application
// version, and how many assignments those apps hold for the groups the
// marker line of the key itself names: what a duplicate shows up in. It
// reads the marker lines EUCORA's connector writes into notes.
func (s *Server) Count(k connectors.ReleaseKey) (objects, assignments int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := k.App + "@" + k.Version + "/"
	for _, id := range s.order {
		a := s.apps[id]
		notes, _ := a.props["notes"].(string)
		lines := markerLines(notes)
		mine := false
		targets := map[string]bool{}
		for _, l := range lines {
			if strings.HasPrefix(l.release, prefix) {
				mine = true
			}
			if l.release == k.String() {
				for _, t := range l.targets {
					targets[t] = true
				}
			}
		}
		if !mine {
			continue
		}
		objects++
		for _, x := range a.assignments {
			if targets[x.group()] {
				assignments++
			}
		}
	}
	return objects, assignments
}
