package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror/debian"
)

// PublicationKind tags publication manifests.
const PublicationKind = "eucora.apt.publication/v1"

// FileRef is one file of a published tree: a path relative to the prefix
// and the content-store object that holds its bytes.
type FileRef struct {
	Path   string        `json:"path"`
	SHA256 digest.Digest `json:"sha256"`
	Size   int64         `json:"size"`
}

// Publication is a complete signed repository for one distribution: every
// file is a content-store object, so a publication moves between machines
// (hub to edge) as a set of objects plus this manifest and is served
// byte-identical everywhere.
type Publication struct {
	Kind       string        `json:"kind"`
	Dist       string        `json:"dist"`
	Snapshot   string        `json:"snapshot"`
	SnapshotID digest.Digest `json:"snapshot_id"`
	Published  time.Time     `json:"published"`
	SignedBy   string        `json:"signed_by"`
	Files      []FileRef     `json:"files"` // sorted by Path
}

// DistState is one distribution published under a prefix.
type DistState struct {
	Publication digest.Digest `json:"publication"`
	Snapshot    string        `json:"snapshot"`
	SnapshotID  digest.Digest `json:"snapshot_id"`
	Published   time.Time     `json:"published"`
	// Switched is when this publication became the dist's current one
	// here (whole seconds, UTC): the Last-Modified of the dist's mutable
	// files (InRelease, Release, Packages...). Each switch to another
	// publication moves it at least one second past the previous one, so
	// a client's If-Modified-Since never hides a newer publication, even
	// after two publishes within a second or a rollback to an older one.
	// Zero in states written before it existed: those files are then
	// served without Last-Modified (ETag only) until the next switch.
	Switched time.Time `json:"switched,omitzero"`
}

// PrefixState is everything published under one prefix. It is the single
// pointer that publish replaces atomically.
type PrefixState struct {
	Prefix string               `json:"prefix"`
	Dists  map[string]DistState `json:"dists"`
	// Retired publications stay reachable for by-hash and pool paths for a
	// while, so a client that read the old InRelease can finish.
	Retired []digest.Digest `json:"retired,omitempty"`
	Tree    string          `json:"tree,omitempty"`
	Prev    string          `json:"prev_tree,omitempty"`
}

// PublishOptions tune a publish.
type PublishOptions struct {
	Prefix string
	Dist   string // default: the snapshot's upstream codename or suite
	Signer *Signer
	Origin string // default "EUCORA"
	Label  string // default: the Origin (must not change between publishes)
	// ValidFor, when > 0, sets Valid-Until that far after Date.
	ValidFor time.Duration
	// NoTree skips materialising the tree under public/.
	NoTree   bool
	Progress func(total int) func(n int64)
}

// PublishResult reports a publish.
type PublishResult struct {
	Prefix      string        `json:"prefix"`
	Dist        string        `json:"dist"`
	Snapshot    string        `json:"snapshot"`
	Publication digest.Digest `json:"publication"`
	Files       int           `json:"files"`
	Packages    int           `json:"packages"`
	Tree        string        `json:"tree,omitempty"`
	SignedBy    string        `json:"signed_by"`
}

const retiredKeep = 4

func prefixKey(prefix string) string { return strings.ReplaceAll(prefix, "/", "%2F") }

func (r *Repo) prefixPath(prefix string) string {
	return filepath.Join(r.Dir, "publish", prefixKey(prefix)+".json")
}

// PrefixState loads the state of prefix (empty when nothing is published).
func (r *Repo) PrefixState(prefix string) (*PrefixState, error) {
	st, err := readPrefixState(r.prefixPath(prefix))
	if errors.Is(err, fs.ErrNotExist) {
		return &PrefixState{Prefix: prefix, Dists: map[string]DistState{}}, nil
	}
	return st, err
}

// Prefixes lists the states of every published prefix.
func (r *Repo) Prefixes() ([]*PrefixState, error) {
	dir := filepath.Join(r.Dir, "publish")
	return loadAll(dir, func(key string) (*PrefixState, error) {
		return readPrefixState(filepath.Join(dir, key+".json"))
	})
}

// readPrefixState reads the prefix state file at path; Dists is never nil.
func readPrefixState(path string) (*PrefixState, error) {
	var st PrefixState
	if err := readJSON(path, &st); err != nil {
		return nil, err
	}
	if st.Dists == nil {
		st.Dists = map[string]DistState{}
	}
	return &st, nil
}

// LoadPublication reads and verifies a publication manifest.
func (r *Repo) LoadPublication(id digest.Digest) (*Publication, error) {
	var p Publication
	if err := r.loadObjectJSON(id, &p); err != nil {
		return nil, err
	}
	if p.Kind != PublicationKind {
		return nil, fmt.Errorf("object %s: kind %q, want %q: %w", id, p.Kind, PublicationKind, ErrInvalid)
	}
	for _, f := range p.Files {
		if !debian.CleanRelPath(f.Path) {
			return nil, fmt.Errorf("publication %s: unsafe path %q: %w", id, f.Path, ErrInvalid)
		}
		if _, err := digest.Parse(string(f.SHA256)); err != nil {
			return nil, fmt.Errorf("publication %s: %s: %w", id, f.Path, err)
		}
	}
	return &p, nil
}

// PoolPath is where a package is published: by component and initial (as
// Debian does), the file named by the first 16 hex digits of its digest and
// its upstream name, so that two different files with the same upstream
// name never collide and the tree needs few directories. apt names a
// downloaded file from the package's metadata, not from this path.
func PoolPath(comp string, p *Pkg) string {
	initial := p.Name[:1]
	if strings.HasPrefix(p.Name, "lib") && len(p.Name) > 3 {
		initial = p.Name[:4]
	}
	return "pool/" + comp + "/" + initial + "/" + p.SHA256.Hex()[:16] + "_" + path.Base(p.Filename)
}

// Publish builds the signed repository for snapshot and switches prefix's
// distribution to it atomically. Nothing visible changes on error.
func (r *Repo) Publish(ctx context.Context, snapshot string, opt PublishOptions) (*PublishResult, error) {
	if opt.Signer == nil {
		return nil, fmt.Errorf("publish: a signing key is required: %w", ErrKeyring)
	}
	if err := CheckPrefix(opt.Prefix); err != nil {
		return nil, err
	}
	snap, err := r.Snapshot(snapshot)
	if err != nil {
		return nil, err
	}
	man, err := r.LoadManifest(snap.ID)
	if err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", snapshot, err)
	}
	dist := opt.Dist
	if dist == "" {
		dist = man.Codename
		if dist == "" {
			dist = man.Suite
		}
	}
	if err := CheckName("distribution", dist); err != nil {
		return nil, err
	}
	now := r.now().UTC().Truncate(time.Second)
	pub := &Publication{Kind: PublicationKind, Dist: dist, Snapshot: snapshot, SnapshotID: snap.ID, Published: now, SignedBy: opt.Signer.Fingerprint()}
	res := &PublishResult{Prefix: opt.Prefix, Dist: dist, Snapshot: snapshot, SignedBy: pub.SignedBy}
	var add func(int64)
	if opt.Progress != nil {
		n := 0
		for _, ix := range man.Indexes {
			n += len(ix.Packages)
		}
		add = opt.Progress(n)
	}

	// The indexes are rendered and compressed (CPU) while the pool is
	// checked against the store and hardlinked into a staging tree
	// (system calls); materialise then moves the staged pool into place.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	distDir := "dists/" + dist + "/"
	rendered := make(chan *renderedIndexes, 1)
	go func() { rendered <- r.renderIndexes(ctx, man, distDir, add) }()
	stage, stageErr := r.stagePool(snapshot, man, !opt.NoTree)
	defer stage.discard()
	if stageErr != nil {
		cancel()
	}
	ri := <-rendered
	if stageErr != nil {
		return nil, stageErr
	}
	if ri.err != nil {
		return nil, ri.err
	}
	res.Packages = ri.packages
	pub.Files = append(pub.Files, ri.files...)
	relFiles, comps, archs := ri.rel, ri.comps, ri.archs

	// Release, InRelease, Release.gpg.
	origin := opt.Origin
	if origin == "" {
		origin = "EUCORA"
	}
	label := opt.Label
	if label == "" {
		// apt refuses a Label that changes between updates: keep it stable
		// and name the snapshot in Description.
		label = origin
	}
	sort.Strings(archs)
	rel := debian.Paragraph{
		{Name: "Origin", Value: origin},
		{Name: "Label", Value: label},
		{Name: "Suite", Value: dist},
		{Name: "Codename", Value: dist},
		{Name: "Date", Value: debian.FormatDate(now)},
	}
	if opt.ValidFor > 0 {
		rel = append(rel, debian.Field{Name: "Valid-Until", Value: debian.FormatDate(now.Add(opt.ValidFor))})
	}
	rel = append(rel,
		debian.Field{Name: "Architectures", Value: strings.Join(archs, " ")},
		debian.Field{Name: "Components", Value: strings.Join(comps, " ")},
		debian.Field{Name: "Description", Value: "EUCORA snapshot " + snapshot + " (" + string(snap.ID.Short()) + ")"},
		debian.Field{Name: "Acquire-By-Hash", Value: "yes"},
	)
	sort.Slice(relFiles, func(i, j int) bool { return relFiles[i].path < relFiles[j].path })
	var sums strings.Builder
	for _, e := range relFiles {
		fmt.Fprintf(&sums, "\n %s %d %s", e.ref.SHA256.Hex(), e.ref.Size, e.path)
	}
	rel = append(rel, debian.Field{Name: "SHA256", Value: sums.String()})
	relData := []byte(rel.String())
	inrel, err := opt.Signer.ClearSign(relData)
	if err != nil {
		return nil, fmt.Errorf("sign InRelease: %w", err)
	}
	sig, err := opt.Signer.DetachSign(relData)
	if err != nil {
		return nil, fmt.Errorf("sign Release.gpg: %w", err)
	}
	for _, v := range []struct {
		name string
		data []byte
	}{{"Release", relData}, {"InRelease", inrel}, {"Release.gpg", sig}} {
		ref, err := r.putFile(distDir+v.name, v.data)
		if err != nil {
			return nil, err
		}
		pub.Files = append(pub.Files, ref)
	}
	pub.Files = append(pub.Files, stage.refs...)
	sort.Slice(pub.Files, func(i, j int) bool { return pub.Files[i].Path < pub.Files[j].Path })
	pj, err := json.Marshal(pub)
	if err != nil {
		return nil, err
	}
	pubID, err := r.putNoSync(pj)
	if err != nil {
		return nil, err
	}
	res.Publication = pubID
	res.Files = len(pub.Files)

	tree, err := r.switchPrefix(opt.Prefix, dist, DistState{Publication: pubID, Snapshot: snapshot, SnapshotID: snap.ID, Published: now}, pub, opt.NoTree, stage)
	if err != nil {
		return nil, err
	}
	res.Tree = tree
	return res, nil
}

// relEntry is one index file as the Release lists it (path relative to
// dists/DIST/).
type relEntry struct {
	path string
	ref  FileRef
}

// renderedIndexes is every Packages index of a publication, stored.
type renderedIndexes struct {
	rel          []relEntry
	files        []FileRef // the index files and their by-hash names
	comps, archs []string  // in manifest order
	packages     int
	err          error
}

// renderIndexes writes Packages, Packages.gz and Packages.xz of every index
// of man into the store (without fsync: the publish's SyncFS covers them).
func (r *Repo) renderIndexes(ctx context.Context, man *Manifest, distDir string, add func(int64)) *renderedIndexes {
	out := &renderedIndexes{}
	seenC, seenA := map[string]bool{}, map[string]bool{}
	for _, ix := range man.Indexes {
		if out.err = ctx.Err(); out.err != nil {
			return out
		}
		if !seenC[ix.Component] {
			seenC[ix.Component] = true
			out.comps = append(out.comps, ix.Component)
		}
		if !seenA[ix.Architecture] {
			seenA[ix.Architecture] = true
			out.archs = append(out.archs, ix.Architecture)
		}
		var b bytes.Buffer
		for i := range ix.Packages {
			p := &ix.Packages[i]
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Control)
			fmt.Fprintf(&b, "Filename: %s\nSize: %d\nSHA256: %s\n", PoolPath(ix.Component, p), p.Size, p.SHA256.Hex())
			out.packages++
			if add != nil {
				add(1)
			}
		}
		plain := b.Bytes()
		// xz is the slow one: compress both at once.
		var xzb []byte
		var xzErr error
		done := make(chan struct{})
		go func() { xzb, xzErr = xzBytes(plain); close(done) }()
		gz, err := gzipBytes(plain)
		<-done
		if err == nil {
			err = xzErr
		}
		if err != nil {
			out.err = err
			return out
		}
		sub := ix.Component + "/binary-" + ix.Architecture + "/"
		for _, v := range []struct {
			name string
			data []byte
		}{{"Packages", plain}, {"Packages.gz", gz}, {"Packages.xz", xzb}} {
			ref, err := r.putFile(distDir+sub+v.name, v.data)
			if err != nil {
				out.err = err
				return out
			}
			out.rel = append(out.rel, relEntry{sub + v.name, ref})
			out.files = append(out.files, ref,
				FileRef{Path: distDir + sub + "by-hash/SHA256/" + ref.SHA256.Hex(), SHA256: ref.SHA256, Size: ref.Size})
		}
	}
	return out
}

// poolStage is a publication's pool: every package checked present and of
// the right size in the store and, when the publish makes a tree,
// hardlinked into a staging directory under trees/ that materialise moves
// into the new tree.
type poolStage struct {
	refs  []FileRef
	dir   string                   // "" once moved (or when no tree is made)
	paths map[string]digest.Digest // staged path -> object
}

// stagePrefix names staging directories under trees/.
const stagePrefix = ".stage-"

func (r *Repo) stagePool(snapshot string, man *Manifest, link bool) (*poolStage, error) {
	st := &poolStage{paths: map[string]digest.Digest{}}
	if link {
		dir, err := os.MkdirTemp(filepath.Join(r.Dir, "trees"), stagePrefix)
		if err != nil {
			return st, err
		}
		st.dir = dir
	}
	made := map[string]bool{}
	for _, ix := range man.Indexes {
		for i := range ix.Packages {
			p := &ix.Packages[i]
			pp := PoolPath(ix.Component, p)
			if _, ok := st.paths[pp]; ok {
				continue
			}
			sz, err := r.Store.Size(p.SHA256)
			if err != nil {
				return st, fmt.Errorf("snapshot %q: package %s (%s): %w", snapshot, p.Key(), p.SHA256, err)
			}
			if err := sizeMismatch("store object "+string(p.SHA256)+" ("+p.Key()+")", p.SHA256, p.Size, sz); err != nil {
				return st, err
			}
			st.paths[pp] = p.SHA256
			st.refs = append(st.refs, FileRef{Path: pp, SHA256: p.SHA256, Size: p.Size})
			if !link {
				continue
			}
			if err := linkInto(st.dir, pp, r.Store.Path(p.SHA256), made); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// discard removes the staging directory unless materialise took it.
func (st *poolStage) discard() {
	if st != nil && st.dir != "" {
		os.RemoveAll(st.dir)
		st.dir = ""
	}
}

// switchPrefix points prefix/dist at a publication whose objects are all in
// the store: under the prefix lock, it materialises the tree (unless
// noTree), makes everything durable, then replaces the prefix state with
// one rename and swaps the public symlink. It returns the tree's path. pub
// is the publication ds names, already loaded (and verified or just built)
// by the caller.
//
// stage, when not nil, is pub's pool already linked (Publish).
func (r *Repo) switchPrefix(prefix, dist string, ds DistState, pub *Publication, noTree bool, stage *poolStage) (string, error) {
	unlock, err := r.lockPrefix(prefix)
	if err != nil {
		return "", err
	}
	defer unlock()
	st, err := r.PrefixState(prefix)
	if err != nil {
		return "", err
	}
	old, had := st.Dists[dist]
	if had && old.Publication != ds.Publication {
		st.Retired = append([]digest.Digest{old.Publication}, st.Retired...)
		if len(st.Retired) > retiredKeep {
			st.Retired = st.Retired[:retiredKeep]
		}
	}
	ds.Switched = switchTime(r.now(), old, had && old.Publication == ds.Publication)

	st.Prefix = prefix
	st.Dists[dist] = ds
	treePath := ""
	if !noTree {
		tree, err := r.materialise(st, map[digest.Digest]*Publication{ds.Publication: pub}, stage)
		if err != nil {
			return "", err
		}
		if tree != st.Tree {
			st.Prev, st.Tree = st.Tree, tree
		}
		treePath = filepath.Join(r.Dir, "public", filepath.FromSlash(prefix))
	}
	// Everything the new state refers to is durable before the state is.
	if err := r.Store.SyncFS(); err != nil {
		return "", err
	}
	if err := writeJSON(r.prefixPath(prefix), st); err != nil {
		return "", err
	}
	if !noTree {
		if err := r.swapPublic(st); err != nil {
			return "", err
		}
		r.collectTrees()
	}
	return treePath, nil
}

// switchTime is the Switched time of a dist switching at now from old:
// unchanged when the publication is the same (same) and old has one, else
// now in whole seconds but at least one second after old's.
func switchTime(now time.Time, old DistState, same bool) time.Time {
	if same && !old.Switched.IsZero() {
		return old.Switched
	}
	t := now.UTC().Truncate(time.Second)
	if !old.Switched.IsZero() && !t.After(old.Switched) {
		t = old.Switched.Add(time.Second)
	}
	return t
}

// PublicationObjects lists every store object publication id needs: its
// files and the manifest itself. Shipping these objects to another data
// directory (a transfer bundle) and calling Install there reproduces the
// publication byte for byte, with no signing key.
func (r *Repo) PublicationObjects(id digest.Digest) ([]FileRef, error) {
	pub, err := r.LoadPublication(id)
	if err != nil {
		return nil, err
	}
	size, err := r.Store.Size(id)
	if err != nil {
		return nil, err
	}
	seen := map[digest.Digest]bool{id: true}
	out := []FileRef{{Path: "publication.json", SHA256: id, Size: size}}
	for _, f := range pub.Files {
		if !seen[f.SHA256] {
			seen[f.SHA256] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// Install publishes, under prefix, the publication id whose objects are
// already in the store (received from a hub, for instance). Every object
// is verified against its digest and size first; on any error nothing
// changes. The distribution is the publication's own.
func (r *Repo) Install(ctx context.Context, prefix string, id digest.Digest, noTree bool) (*PublishResult, error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	pub, err := r.LoadPublication(id)
	if err != nil {
		return nil, fmt.Errorf("install publication %s: %w", id, err)
	}
	verified := map[digest.Digest]bool{}
	for _, f := range pub.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if verified[f.SHA256] {
			continue
		}
		sz, err := r.Store.Size(f.SHA256)
		if err != nil {
			return nil, fmt.Errorf("install publication %s: %s: %w", id.Short(), f.Path, err)
		}
		if err := sizeMismatch(f.Path, f.SHA256, f.Size, sz); err != nil {
			return nil, err
		}
		if err := r.Store.Verify(f.SHA256); err != nil {
			return nil, fmt.Errorf("install publication %s: %s: %w", id.Short(), f.Path, err)
		}
		verified[f.SHA256] = true
	}
	tree, err := r.switchPrefix(prefix, pub.Dist, DistState{Publication: id, Snapshot: pub.Snapshot, SnapshotID: pub.SnapshotID, Published: pub.Published}, pub, noTree, nil)
	if err != nil {
		return nil, err
	}
	return &PublishResult{Prefix: prefix, Dist: pub.Dist, Snapshot: pub.Snapshot, Publication: id, Files: len(pub.Files), Tree: tree, SignedBy: pub.SignedBy}, nil
}

// putFile stores a generated file without its own fsync: Publish makes
// everything durable with one SyncFS before it switches the prefix state,
// and nothing refers to these objects before that.
func (r *Repo) putFile(p string, data []byte) (FileRef, error) {
	d, err := r.putNoSync(data)
	if err != nil {
		return FileRef{}, fmt.Errorf("store %s: %w", p, err)
	}
	return FileRef{Path: p, SHA256: d, Size: int64(len(data))}, nil
}

func (r *Repo) putNoSync(data []byte) (digest.Digest, error) {
	d := digest.FromBytes(data)
	if ok, _ := r.Store.Has(d); ok {
		return d, nil
	}
	w, err := r.Store.Create(d, int64(len(data)))
	if err != nil {
		return "", err
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	return w.CommitNoSync()
}

func gzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (r *Repo) lockPrefix(prefix string) (func(), error) {
	return r.lockFile(filepath.Join(r.Dir, "publish", "."+prefixKey(prefix)+".lock"))
}

// lockFile takes an exclusive flock on p (created if needed), across
// processes; the returned function releases it.
func (r *Repo) lockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// materialise builds trees/ID with every file of every distribution of
// st, hardlinked from the store (copied when the store is on another
// device). ID is the digest of the distributions map, so an unchanged
// prefix reuses its tree.
//
// known holds publications the caller already has in memory; the others
// are loaded (and verified) from the store. stage, when it holds a staging
// directory, becomes the new tree's starting point (and is taken).
func (r *Repo) materialise(st *PrefixState, known map[digest.Digest]*Publication, stage *poolStage) (string, error) {
	j, _ := json.Marshal(st.Dists)
	id := digest.FromBytes(j).Hex()[:32]
	dir := filepath.Join(r.Dir, "trees", id)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return id, nil
	}
	os.RemoveAll(dir)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	var staged map[string]digest.Digest
	if stage != nil && stage.dir != "" {
		if err := os.Rename(stage.dir, tmp); err != nil {
			return "", err
		}
		stage.dir = ""
		staged = stage.paths
	}
	made := map[string]bool{}
	for _, ds := range st.Dists {
		pub := known[ds.Publication]
		if pub == nil {
			var err error
			if pub, err = r.LoadPublication(ds.Publication); err != nil {
				return "", err
			}
		}
		for _, f := range pub.Files {
			if d, ok := staged[f.Path]; ok && d == f.SHA256 {
				continue
			}
			if err := linkInto(tmp, f.Path, r.Store.Path(f.SHA256), made); err != nil {
				return "", err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return id, nil // made durable by the caller's SyncFS
}

// sizeMismatch returns a *digest.MismatchError naming object when the
// store's copy of d is got bytes long instead of want, else nil.
func sizeMismatch(object string, d digest.Digest, want, got int64) error {
	if got == want {
		return nil
	}
	return &digest.MismatchError{Object: object, Want: string(d), Got: string(d), WantSize: want, GotSize: got}
}

// linkInto links (or copies) src to the slash-separated path rel under
// root, creating its directory unless made records it as created.
func linkInto(root, rel, src string, made map[string]bool) error {
	dst := filepath.Join(root, filepath.FromSlash(rel))
	if d := filepath.Dir(dst); !made[d] {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		made[d] = true
	}
	if err := linkOrCopy(src, dst); err != nil {
		return fmt.Errorf("materialise %s: %w", rel, err)
	}
	return nil
}

func linkOrCopy(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// swapPublic points public/PREFIX at the prefix's tree with one rename.
func (r *Repo) swapPublic(st *PrefixState) error {
	link := filepath.Join(r.Dir, "public", filepath.FromSlash(st.Prefix))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(link), filepath.Join(r.Dir, "trees", st.Tree))
	if err != nil {
		return err
	}
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(link))
}

// collectTrees removes materialised trees no prefix refers to.
func (r *Repo) collectTrees() {
	keep := map[string]bool{}
	sts, err := r.Prefixes()
	if err != nil {
		return
	}
	for _, st := range sts {
		keep[st.Tree] = true
		keep[st.Prev] = true
	}
	ents, _ := os.ReadDir(filepath.Join(r.Dir, "trees"))
	for _, e := range ents {
		// A tree another publish is building is not referenced yet: leave
		// recent and unfinished trees alone, and staging directories for a
		// day (a crashed publish's stage holds only hardlinks).
		info, err := e.Info()
		if err != nil || strings.HasSuffix(e.Name(), ".tmp") || time.Since(info.ModTime()) < time.Minute ||
			strings.HasPrefix(e.Name(), stagePrefix) && time.Since(info.ModTime()) < 24*time.Hour {
			continue
		}
		if !keep[e.Name()] {
			os.RemoveAll(filepath.Join(r.Dir, "trees", e.Name()))
		}
	}
}
