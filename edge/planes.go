package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/planes"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/atomicfile"
)

// Site-local planes: the execution planes only this site reaches (its SCCM
// site server and distribution points, its Jamf, its Landscape or AWX),
// registered at the edge with their URL and credentials, which never leave
// the site. The hub registers the same plane by name with `eucora plane
// add NAME --kind K --site SITE` and sends orders for it in the site's
// bundles (EUCORA-architecture.md section 8.4).

// ErrUnknownPlane is returned for a plane name the edge has not registered.
var ErrUnknownPlane = errors.New("plane not registered at this edge")

// Plane is a site-local plane as the edge shows it: never its credentials.
type Plane struct {
	Name string          `json:"name"`
	Kind connectors.Kind `json:"kind"`
	URL  string          `json:"url"`
}

type planeEntry struct {
	Plane
	Credentials json.RawMessage `json:"credentials"`
}

type planesFile struct {
	Planes []planeEntry `json:"planes"`
}

func planesPath(edgeDir string) string { return filepath.Join(edgeDir, "planes.json") }

func loadPlanes(edgeDir string) (planesFile, error) {
	var f planesFile
	b, err := os.ReadFile(planesPath(edgeDir))
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("%w: %s: %v", ErrState, planesPath(edgeDir), err)
	}
	return f, nil
}

// AddPlane registers (or, with replace, re-registers) a site-local plane:
// kind, URL and credentials are checked by building its connector
// (connectors/planes), and nothing is written when they are wrong. The
// name must be the one the hub registered the plane under.
func (e *Edge) AddPlane(name, kind, rawURL string, credentials []byte, replace bool) (Plane, error) {
	if !deploy.ValidName(name) {
		return Plane{}, fmt.Errorf("plane name %q: want %s", name, deploy.NameRule)
	}
	if err := planes.Validate(kind, rawURL, credentials); err != nil {
		return Plane{}, fmt.Errorf("plane %s: %w", name, err)
	}
	unlock, err := e.lock()
	if err != nil {
		return Plane{}, err
	}
	defer unlock()
	f, err := loadPlanes(e.dir.Edge())
	if err != nil {
		return Plane{}, err
	}
	p := planeEntry{Plane: Plane{Name: name, Kind: connectors.Kind(kind), URL: rawURL}, Credentials: json.RawMessage(bytes.TrimSpace(credentials))}
	i := slices.IndexFunc(f.Planes, func(x planeEntry) bool { return x.Name == name })
	switch {
	case i >= 0 && !replace:
		return Plane{}, fmt.Errorf("plane %s is registered already (%s at %s): give --replace to change it", name, f.Planes[i].Kind, f.Planes[i].URL)
	case i >= 0:
		f.Planes[i] = p
	default:
		f.Planes = append(f.Planes, p)
	}
	sort.Slice(f.Planes, func(a, b int) bool { return f.Planes[a].Name < f.Planes[b].Name })
	return p.Plane, f.save(e.dir.Edge())
}

// RemovePlane forgets a site-local plane. ErrUnknownPlane if none is
// registered under name.
func (e *Edge) RemovePlane(name string) error {
	unlock, err := e.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := loadPlanes(e.dir.Edge())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(f.Planes, func(x planeEntry) bool { return x.Name == name })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownPlane, name)
	}
	f.Planes = slices.Delete(f.Planes, i, i+1)
	return f.save(e.dir.Edge())
}

// Planes lists the site-local planes, by name.
func (e *Edge) Planes() ([]Plane, error) {
	f, err := loadPlanes(e.dir.Edge())
	if err != nil {
		return nil, err
	}
	out := make([]Plane, len(f.Planes))
	for i, p := range f.Planes {
		out[i] = p.Plane
	}
	return out, nil
}

func (f planesFile) save(edgeDir string) error {
	if f.Planes == nil {
		f.Planes = []planeEntry{}
	}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(planesPath(edgeDir), append(b, '\n'), 0o600)
}

// connector builds the named plane's connector.
func (f planesFile) connector(name string) (connectors.Connector, Plane, error) {
	i := slices.IndexFunc(f.Planes, func(x planeEntry) bool { return x.Name == name })
	if i < 0 {
		return nil, Plane{}, fmt.Errorf("%w: %q ('eucora edge plane add %s --kind KIND --url URL --credentials FILE')", ErrUnknownPlane, name, name)
	}
	p := f.Planes[i]
	c, err := planes.New(string(p.Kind), p.URL, p.Credentials)
	return c, p.Plane, err
}
