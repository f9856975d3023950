package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/charset"
	"github.com/eucora/eucora/internal/digest"
)

// Repo is the mirror state of one data directory: definitions and sync
// state of mirrors, named snapshots and publications. Content (packages,
// manifests, generated indexes) lives in the content store.
//
// Layout under dir (DATA/mirror):
//
//	mirrors/NAME.json      definition and last good sync (atomically replaced)
//	snapshots/NAME.json    named, immutable pointer to a snapshot manifest
//	publish/KEY.json       per prefix: dist -> publication manifest
//	trees/ID/              materialised trees (hardlinks into the store)
//	public/PREFIX          symlink to trees/ID, swapped atomically
type Repo struct {
	Dir   string
	Store *cas.Store
	// Now is the clock (tests set it). Defaults to time.Now.
	Now func() time.Time
}

// OpenRepo opens the mirror state in dir over store.
func OpenRepo(dir string, store *cas.Store) (*Repo, error) {
	for _, sub := range []string{"mirrors", "snapshots", "publish", "trees", "public"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	return &Repo{Dir: dir, Store: store, Now: time.Now}, nil
}

func (r *Repo) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Names match `^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`.
var (
	nameFirst = charset.Of("A-Za-z0-9")
	nameRest  = charset.Of("A-Za-z0-9._+-")
)

func validName(s string) bool { return charset.Match(s, 1, 128, nameFirst, nameRest) }

// CheckName validates a mirror, snapshot or distribution name.
func CheckName(kind, name string) error {
	if !validName(name) {
		return fmt.Errorf("%s name %q: use letters, digits, '.', '_', '+', '-' (at most 128): %w", kind, name, ErrInvalid)
	}
	return nil
}

// CheckPrefix validates a publish prefix: one or more names joined by '/'.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("publish prefix is empty: %w", ErrInvalid)
	}
	for _, el := range strings.Split(prefix, "/") {
		if !validName(el) {
			return fmt.Errorf("publish prefix %q: element %q: use letters, digits, '.', '_', '+', '-': %w", prefix, el, ErrInvalid)
		}
	}
	return nil
}

// Mirror is a mirror definition plus its last successful sync.
type Mirror struct {
	Name          string   `json:"name"`
	URL           string   `json:"url"`
	Dist          string   `json:"dist"`
	Components    []string `json:"components"`
	Architectures []string `json:"architectures"`
	// KeyringData is the trusted keyring (as given: armored or binary);
	// Keyring is its digest, checked before every use.
	Keyring     digest.Digest `json:"keyring"`
	KeyringData []byte        `json:"keyring_data,omitempty"`
	// KeyringFile is the file the keyring was read from at creation (for
	// messages only: the copy above is what is used).
	KeyringFile string    `json:"keyring_file,omitempty"`
	Filter      string    `json:"filter,omitempty"`
	WithDeps    bool      `json:"with_deps,omitempty"`
	Created     time.Time `json:"created"`
	// Last good sync; empty until the first sync succeeds.
	Synced      time.Time     `json:"synced,omitzero"`
	Manifest    digest.Digest `json:"manifest,omitempty"`
	ReleaseDate time.Time     `json:"release_date,omitzero"`
	Packages    int           `json:"packages,omitempty"`
	Bytes       int64         `json:"bytes,omitempty"`
}

func (r *Repo) mirrorPath(name string) string {
	return filepath.Join(r.Dir, "mirrors", name+".json")
}

// CreateMirror records a new mirror definition; keyring holds the trusted
// keys (armored or binary), copied into the mirror's state. It does not
// contact the upstream: DefineMirror does, before saving.
func (r *Repo) CreateMirror(m *Mirror, keyring []byte) error {
	_, err := r.DefineMirror(context.Background(), m, keyring, DefineOptions{})
	return err
}

// prepareMirror validates the definition m with its keyring and fills in
// the defaults, the keyring's copy and digest; it saves nothing.
func (r *Repo) prepareMirror(m *Mirror, keyring []byte) error {
	if err := CheckName("mirror", m.Name); err != nil {
		return err
	}
	if _, err := ReadKeyring(keyring, "--keyring"); err != nil {
		return err
	}
	if !strings.HasPrefix(m.URL, "http://") && !strings.HasPrefix(m.URL, "https://") {
		return fmt.Errorf("mirror URL %q: want http:// or https://: %w", m.URL, ErrInvalid)
	}
	if err := CheckName("distribution", m.Dist); err != nil && !strings.Contains(m.Dist, "/") {
		return err
	}
	if len(m.Components) == 0 {
		m.Components = []string{"main"}
	}
	if len(m.Architectures) == 0 {
		m.Architectures = []string{"amd64"}
	}
	for _, c := range append(append([]string{}, m.Components...), m.Architectures...) {
		if err := CheckName("component or architecture", c); err != nil {
			return err
		}
	}
	if _, err := parseFilter(m.Filter); err != nil {
		return err
	}
	m.Keyring = digest.FromBytes(keyring)
	m.KeyringData = keyring
	if m.KeyringFile != "" {
		if abs, err := filepath.Abs(m.KeyringFile); err == nil {
			m.KeyringFile = abs
		}
	}
	m.URL = strings.TrimRight(m.URL, "/")
	if m.Created.IsZero() {
		m.Created = r.now().UTC()
	}
	return nil
}

// Mirror loads a mirror by name.
func (r *Repo) Mirror(name string) (*Mirror, error) {
	return loadNamed[Mirror]("mirror", name, r.mirrorPath)
}

// Mirrors lists all mirrors, by name.
func (r *Repo) Mirrors() ([]*Mirror, error) {
	return loadAll(filepath.Join(r.Dir, "mirrors"), r.Mirror)
}

// loadNamed reads the JSON state of the kind ("mirror", "snapshot") called
// name from path(name); a missing file is ErrNotFound.
func loadNamed[T any](kind, name string, path func(string) string) (*T, error) {
	if err := CheckName(kind, name); err != nil {
		return nil, err
	}
	var v T
	if err := readJSON(path(name), &v); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
		}
		return nil, err
	}
	return &v, nil
}

// loadAll loads every state file of dir with load, in the order of their
// names (listJSON's).
func loadAll[T any](dir string, load func(name string) (*T, error)) ([]*T, error) {
	names, err := listJSON(dir)
	if err != nil {
		return nil, err
	}
	var out []*T
	for _, n := range names {
		v, err := load(n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Snapshot is a named, immutable pointer to a snapshot manifest.
type Snapshot struct {
	Name     string        `json:"name"`
	ID       digest.Digest `json:"id"` // digest of the manifest
	Mirror   string        `json:"mirror"`
	Created  time.Time     `json:"created"`
	Packages int           `json:"packages"`
	Bytes    int64         `json:"bytes"`
}

func (r *Repo) snapshotPath(name string) string {
	return filepath.Join(r.Dir, "snapshots", name+".json")
}

// CreateSnapshot freezes the mirror's last good sync under name (default
// MIRROR-YYYYMMDDTHHMMSSZ). Names are never reused.
func (r *Repo) CreateSnapshot(mirror, name string) (*Snapshot, error) {
	m, err := r.Mirror(mirror)
	if err != nil {
		return nil, err
	}
	if m.Manifest == "" {
		return nil, fmt.Errorf("mirror %q has never synced: run 'eucora mirror apt sync %s' first: %w", mirror, mirror, ErrNotFound)
	}
	if name == "" {
		name = mirror + "-" + r.now().UTC().Format("20060102T150405Z")
	}
	if err := CheckName("snapshot", name); err != nil {
		return nil, err
	}
	if ok, err := r.Store.Has(m.Manifest); err != nil || !ok {
		return nil, fmt.Errorf("mirror %q: manifest %s missing from the store: %w", mirror, m.Manifest, cas.ErrNotFound)
	}
	s := &Snapshot{Name: name, ID: m.Manifest, Mirror: mirror, Created: r.now().UTC(), Packages: m.Packages, Bytes: m.Bytes}
	// O_EXCL makes creation race-free: a name is taken once, for ever.
	data, _ := json.MarshalIndent(s, "", "  ")
	p := r.snapshotPath(name)
	f, err := os.OpenFile(p+".tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		// Another process is creating it, or a crash left the temp file:
		// a temp file older than a minute is a leftover and is removed.
		if st, serr := os.Stat(p + ".tmp"); serr == nil && time.Since(st.ModTime()) > time.Minute {
			os.Remove(p + ".tmp")
			f, err = os.OpenFile(p+".tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("snapshot %q is being created: %w", name, ErrExists)
		}
		return nil, err
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err == nil {
		// Link fails if the name exists: snapshots are never replaced.
		err = os.Link(p+".tmp", p)
	}
	os.Remove(p + ".tmp")
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("snapshot %q: %w (snapshots are immutable; choose another name)", name, ErrExists)
		}
		return nil, err
	}
	if err := atomicfile.SyncDir(filepath.Dir(p)); err != nil {
		return nil, err
	}
	return s, nil
}

// Snapshot loads a snapshot by name.
func (r *Repo) Snapshot(name string) (*Snapshot, error) {
	return loadNamed[Snapshot]("snapshot", name, r.snapshotPath)
}

// Snapshots lists snapshots, oldest first.
func (r *Repo) Snapshots() ([]*Snapshot, error) {
	out, err := loadAll(filepath.Join(r.Dir, "snapshots"), r.Snapshot)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// LoadManifest reads and verifies a snapshot manifest from the store.
func (r *Repo) LoadManifest(id digest.Digest) (*Manifest, error) {
	var m Manifest
	if err := r.loadObjectJSON(id, &m); err != nil {
		return nil, err
	}
	if m.Kind != ManifestKind {
		return nil, fmt.Errorf("object %s: kind %q, want %q: %w", id, m.Kind, ManifestKind, ErrInvalid)
	}
	return &m, nil
}

func (r *Repo) loadObjectJSON(id digest.Digest, v any) error {
	rc, err := r.Store.OpenVerified(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("object %s: %v: %w", id, err, ErrInvalid)
	}
	return nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %v: %w", path, err, ErrInvalid)
	}
	return nil
}

func listJSON(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			out = append(out, strings.TrimSuffix(n, ".json"))
		}
	}
	sort.Strings(out)
	return out, nil
}
