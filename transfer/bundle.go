package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/internal/signing"
)

// Bundle is the set of given volumes of one bundle (same signed manifest).
type Bundle struct {
	*Signed
	Volumes map[int]*Volume // by 1-based number
}

// Missing returns the numbers of volumes not given.
func (b *Bundle) Missing() []int {
	var out []int
	for i := 1; i <= b.Manifest.Volumes; i++ {
		if b.Volumes[i] == nil {
			out = append(out, i)
		}
	}
	return out
}

// Complete returns a *MissingVolumesError unless every volume is present.
func (b *Bundle) Complete() error {
	if miss := b.Missing(); len(miss) > 0 {
		return &MissingVolumesError{BundleID: b.BundleID, Missing: miss, Total: b.Manifest.Volumes}
	}
	return nil
}

// Sorted returns the given volumes in volume order.
func (b *Bundle) Sorted() []*Volume {
	var out []*Volume
	for i := 1; i <= b.Manifest.Volumes; i++ {
		if v := b.Volumes[i]; v != nil {
			out = append(out, v)
		}
	}
	return out
}

// VolumeError is a volume that could not be opened or verified.
type VolumeError struct {
	Path string
	Err  error
}

// ExpandPaths turns bundle directories into their volume files (*.tar,
// sorted; VolumeFilesIn, so a directory name is never a glob pattern) and
// passes files through.
func ExpandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		matches, err := VolumeFilesIn(p)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: no volume files (*.tar) in this directory", p)
		}
		out = append(out, matches...)
	}
	return out, nil
}

// OpenAll opens each volume file (see OpenVolume) and groups the good ones
// by bundle. Volumes that fail are returned as VolumeErrors; a second copy
// of a volume already given is ignored.
func OpenAll(files []string, trust signing.Trust) ([]*Bundle, []VolumeError) {
	byDigest := map[digest.Digest]*Bundle{}
	var order []*Bundle
	var errs []VolumeError
	for _, f := range files {
		v, err := OpenVolume(f, trust)
		if err != nil {
			errs = append(errs, VolumeError{Path: f, Err: err})
			continue
		}
		b := byDigest[v.Signed.Digest]
		if b == nil {
			b = &Bundle{Signed: v.Signed, Volumes: map[int]*Volume{}}
			byDigest[v.Signed.Digest] = b
			order = append(order, b)
		}
		if b.Volumes[v.Index] == nil {
			b.Volumes[v.Index] = v
		}
	}
	return order, errs
}

// OpenOne opens files that must all be volumes of one bundle. The first
// volume error is returned as is.
func OpenOne(files []string, trust signing.Trust) (*Bundle, error) {
	bs, errs := OpenAll(files, trust)
	if len(errs) > 0 {
		return nil, errs[0].Err
	}
	if len(bs) != 1 {
		ids := []string{}
		for _, b := range bs {
			ids = append(ids, b.BundleID)
		}
		return nil, fmt.Errorf("%w: %s", ErrMixedBundles, strings.Join(ids, ", "))
	}
	return bs[0], nil
}

// ImportOptions tune Import.
type ImportOptions struct {
	Workers  int
	Progress progress.Func
}

// Import streams every volume of b into store and assembles split objects.
// All volumes must be present. Every entry is read and verified; entries
// whose bytes the store already holds are not written again, so a rerun
// after an interruption writes only the remaining work. The free space the
// whole import needs (SpaceNeeded) is checked before anything is written.
func (b *Bundle) Import(ctx context.Context, store *cas.Store, opts ImportOptions) error {
	if err := b.Complete(); err != nil {
		return err
	}
	if err := store.CheckSpace(uint64(b.SpaceNeeded(store).Total())); err != nil {
		return err
	}
	for _, v := range b.Sorted() {
		if err := v.ImportVolume(ctx, store, opts.Workers, opts.Progress); err != nil {
			return err
		}
	}
	return b.assemble(ctx, store)
}

// SpaceNeed is the room an import of a bundle into a store takes, net of
// what the store already holds.
type SpaceNeed struct {
	// Objects is the raw bytes of unsplit objects the store lacks.
	Objects int64
	// Parts is the raw bytes of the parts of split objects the store lacks
	// (stored as entries, joined, then dropped); Joined the bytes of those
	// objects once joined. Both are on disk at once before the parts go.
	Parts, Joined int64
	// Held is the bytes of the bundle's objects already held whole, and
	// Stored those of parts an earlier attempt already stored: neither is
	// written again.
	Held, Stored int64
}

// Total is the bytes the import writes: Objects + Parts + Joined.
func (n SpaceNeed) Total() int64 { return n.Objects + n.Parts + n.Joined }

// SpaceNeeded counts what importing b into store writes: every object the
// store lacks, and for a split object both its missing parts and the
// joined object (each distinct digest once).
func (b *Bundle) SpaceNeeded(store *cas.Store) SpaceNeed {
	var n SpaceNeed
	has := func(d digest.Digest) bool { ok, _ := store.Has(d); return ok }
	seen := map[digest.Digest]bool{}
	for _, o := range b.Manifest.Objects {
		if seen[o.Digest] {
			continue
		}
		seen[o.Digest] = true
		if has(o.Digest) {
			n.Held += o.Size
			continue
		}
		if len(o.Parts) < 2 {
			n.Objects += o.Size
			continue
		}
		n.Joined += o.Size
		for _, p := range o.Parts {
			if seen[p.Digest] {
				continue
			}
			seen[p.Digest] = true
			if has(p.Digest) {
				n.Stored += p.Size
			} else {
				n.Parts += p.Size
			}
		}
	}
	return n
}

// assemble joins the parts of split objects into whole objects, verifying
// each object's digest, then drops parts no longer needed.
func (b *Bundle) assemble(ctx context.Context, store *cas.Store) error {
	needed := map[digest.Digest]bool{}
	for _, o := range b.Manifest.Objects {
		needed[o.Digest] = true
	}
	var drop []digest.Digest
	for _, o := range b.Manifest.Objects {
		if len(o.Parts) < 2 {
			continue
		}
		for _, p := range o.Parts {
			if !needed[p.Digest] {
				drop = append(drop, p.Digest)
			}
		}
		if ok, _ := store.Has(o.Digest); ok {
			continue
		}
		if err := assembleOne(ctx, store, o); err != nil {
			return err
		}
	}
	for _, d := range drop {
		store.Remove(d)
	}
	return nil
}

func assembleOne(ctx context.Context, store *cas.Store, o Object) error {
	w, err := store.Create(o.Digest, o.Size)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, p := range o.Parts {
		r, err := store.Open(p.Digest)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, ctxReader{ctx, r})
		r.Close()
		if err != nil {
			return err
		}
	}
	if _, err := w.Commit(); err != nil {
		var me *digest.MismatchError
		if errors.As(err, &me) {
			return &CorruptError{Volume: "bundle", Entry: o.Digest.String(), Offset: -1, Reason: "parts do not join to the object: " + me.Error(), Err: me}
		}
		return err
	}
	return nil
}

// ExtractResult describes a finished extraction.
type ExtractResult struct {
	Dir   string
	Files int
	Dirs  int
	Bytes int64

	written []string // copied files and directories to sync
}

// Extract verifies b and materialises its tree in dir, which must be
// absent or empty. Work happens in a staging directory beside dir
// (".<name>.eucora-extract"); dir appears complete in one rename, so on any
// failure or kill dir holds no partial output. An interrupted extract
// resumes from the staging directory on rerun; a corrupt or unauthentic
// bundle discards it.
func Extract(ctx context.Context, b *Bundle, dir string, opts ImportOptions) (*ExtractResult, error) {
	dir = filepath.Clean(dir)
	staging := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".eucora-extract")
	marker := filepath.Join(staging, "BUNDLE")
	tree := filepath.Join(staging, "tree")
	if err := checkEmptyTarget(dir); err != nil {
		// Killed after the final rename but before cleanup: the staging
		// marker names this bundle and its tree has moved into dir.
		got, rerr := os.ReadFile(marker)
		if _, terr := os.Stat(tree); rerr == nil && strings.TrimSpace(string(got)) == string(b.Digest) && errors.Is(terr, os.ErrNotExist) {
			os.RemoveAll(staging)
			return &ExtractResult{Dir: dir, Files: len(b.Manifest.Files), Dirs: len(b.Manifest.Dirs), Bytes: b.fileBytes()}, nil
		}
		return nil, err
	}
	if err := b.Complete(); err != nil {
		return nil, err
	}
	resuming := false
	if got, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(got)) != string(b.Digest) {
		if err := os.RemoveAll(staging); err != nil {
			return nil, err
		}
	} else {
		resuming = true
	}
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(marker, []byte(b.Digest+"\n"), 0o600); err != nil {
		return nil, err
	}
	// The staging store skips per-object fsync; one syncfs before the
	// final rename makes the tree durable. After an unclean stop, objects
	// already staged are re-verified before they are trusted.
	store, err := cas.OpenWith(filepath.Join(staging, "cas"), cas.Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	if resuming {
		if err := reverify(ctx, store); err != nil {
			return nil, err
		}
	}
	if err := b.Import(ctx, store, opts); err != nil {
		if errors.Is(err, ErrCorrupt) || isSigErr(err) {
			os.RemoveAll(staging)
		}
		return nil, err
	}
	res, err := materialise(ctx, b.Manifest, store, tree)
	if err != nil {
		return nil, err
	}
	// Durable before visible: staged objects (hard-linked into the tree),
	// copied files and every directory of the tree.
	if err := store.Sync(); err != nil {
		return nil, err
	}
	if err := cas.SyncPaths(res.written); err != nil {
		return nil, err
	}
	// syscall.Rename replaces an empty directory atomically; os.Rename refuses to.
	if err := syscall.Rename(tree, dir); err != nil {
		return nil, fmt.Errorf("move extracted tree into %s: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, err
	}
	os.RemoveAll(staging)
	res.Dir = dir
	return res, nil
}

func checkEmptyTarget(dir string) error {
	st, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s exists and is not a directory", ErrNotEmpty, dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %d entries (first: %s)", ErrNotEmpty, dir, len(ents), ents[0].Name())
	}
	return nil
}

// materialise builds the manifest's tree in dir (recreated from scratch)
// from objects in store. Paths come only from the validated manifest.
func materialise(ctx context.Context, m *Manifest, store *cas.Store, dir string) (*ExtractResult, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	res := &ExtractResult{}
	for _, d := range m.Dirs {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d.Path)), 0o700); err != nil {
			return nil, err
		}
		res.Dirs++
	}
	linked := map[digest.Digest]bool{}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		if !linked[f.Digest] {
			// The staging store is discarded afterwards, so its file can
			// become the extracted file without copying.
			if err := os.Link(store.Path(f.Digest), dst); err != nil {
				return nil, err
			}
			linked[f.Digest] = true
		} else if err := copyObject(store, f.Digest, dst); err != nil {
			return nil, err
		} else {
			res.written = append(res.written, dst)
		}
		if err := os.Chmod(dst, os.FileMode(f.Mode)); err != nil {
			return nil, err
		}
		res.Files++
		res.Bytes += f.Size
	}
	// Directory modes last, deepest first, so a read-only directory does
	// not block filling it; then sync every directory.
	dirs := append([]Dir(nil), m.Dirs...)
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i].Path) > len(dirs[j].Path) })
	for _, d := range dirs {
		p := filepath.Join(dir, filepath.FromSlash(d.Path))
		if err := os.Chmod(p, os.FileMode(d.Mode)); err != nil {
			return nil, err
		}
		res.written = append(res.written, p)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	res.written = append(res.written, dir)
	return res, nil
}

func copyObject(store *cas.Store, d digest.Digest, dst string) error {
	r, err := store.Open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close() // made durable by the store's Sync before the rename
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (b *Bundle) fileBytes() int64 {
	var n int64
	for _, f := range b.Manifest.Files {
		n += f.Size
	}
	return n
}

// reverify hashes every object of a resumed staging store and drops the
// ones that do not match their names.
func reverify(ctx context.Context, store *cas.Store) error {
	var bad []digest.Digest
	err := store.Walk(func(d digest.Digest, _ int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if store.Verify(d) != nil {
			bad = append(bad, d)
		}
		return nil
	})
	for _, d := range bad {
		store.Remove(d)
	}
	return err
}
