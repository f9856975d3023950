package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror/debian"
)

// ManifestKind tags snapshot manifests.
const ManifestKind = "eucora.apt.snapshot/v1"

// Manifest is the content of a mirror sync and of every snapshot taken
// from it. It is stored in the content store; its digest is the snapshot
// id, so identical content gives identical ids.
type Manifest struct {
	Kind          string   `json:"kind"`
	Source        string   `json:"source"` // URL dists/DIST
	Origin        string   `json:"origin,omitempty"`
	Label         string   `json:"label,omitempty"`
	Suite         string   `json:"suite,omitempty"`
	Codename      string   `json:"codename,omitempty"`
	Components    []string `json:"components"`
	Architectures []string `json:"architectures"`
	Indexes       []Index  `json:"indexes"`
}

// Index is the selected packages of one component and architecture.
type Index struct {
	Component    string `json:"component"`
	Architecture string `json:"architecture"`
	Packages     []Pkg  `json:"packages"`
}

// Pkg is one package: its verified content and its control stanza (without
// the Filename, Size and hash fields, which publish regenerates).
type Pkg struct {
	Name     string        `json:"name"`
	Version  string        `json:"version"`
	Arch     string        `json:"arch"`
	SHA256   digest.Digest `json:"sha256"`
	Size     int64         `json:"size"`
	Filename string        `json:"filename"`
	Control  string        `json:"control"`
}

// Key is name_version_arch.
func (p *Pkg) Key() string { return p.Name + "_" + p.Version + "_" + p.Arch }

// SyncOptions tune a sync.
type SyncOptions struct {
	Fetcher *Fetcher
	// Workers is the number of parallel package downloads (default 8).
	Workers int
	// Progress, when set, is called once with the bytes to download and
	// returns the function that counts downloaded bytes.
	Progress func(total int64, files int) func(n int64)
}

// SyncResult reports what a sync did.
type SyncResult struct {
	Mirror          string        `json:"mirror"`
	Manifest        digest.Digest `json:"manifest"`
	Changed         bool          `json:"changed"`
	Packages        int           `json:"packages"`
	Bytes           int64         `json:"bytes"`
	Downloaded      int           `json:"downloaded"`
	DownloadedBytes int64         `json:"downloaded_bytes"`
	Reused          int           `json:"reused"`
	AddedByDeps     int           `json:"added_by_deps"`
	Unresolved      []string      `json:"unresolved,omitempty"`
	// Warnings are findings that did not stop the sync (a filter that
	// selected nothing); never nil.
	Warnings    []string  `json:"warnings"`
	ReleaseDate time.Time `json:"release_date,omitzero"`
	ValidUntil  time.Time `json:"valid_until,omitzero"`
}

// Largest Release and index files accepted from upstream.
const (
	maxReleaseSize = 64 << 20
	maxIndexSize   = 1 << 31
)

// Sync fetches the mirror's upstream, verifies it end to end and records
// the result as the mirror's new state. On any error the previous state is
// left as it was, and the error names the file and the reason.
func (r *Repo) Sync(ctx context.Context, name string, opt SyncOptions) (*SyncResult, error) {
	if _, err := r.Mirror(name); err != nil {
		return nil, err
	}
	// One sync per mirror at a time; a second waits for the first.
	unlock, err := r.lockMirror(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m, err := r.Mirror(name) // re-read under the lock
	if err != nil {
		return nil, err
	}
	f := opt.Fetcher
	if f == nil {
		f = &Fetcher{}
	}
	if got := digest.FromBytes(m.KeyringData); got != m.Keyring {
		return nil, &digest.MismatchError{Object: "mirror " + name + " keyring", Want: string(m.Keyring), Got: string(got), WantSize: -1}
	}
	keyring, err := ReadKeyring(m.KeyringData, "mirror "+name+" keyring")
	if err != nil {
		return nil, err
	}
	filter, err := parseFilter(m.Filter)
	if err != nil {
		return nil, err
	}
	if err := r.recoverPending(name); err != nil {
		return nil, err
	}
	base := m.URL + "/dists/" + m.Dist + "/"
	now := r.now()

	// 1. Release, verified.
	rel, relFile, err := verifiedRelease(ctx, f, m, keyring, now)
	if err != nil {
		return nil, err
	}
	if !m.ReleaseDate.IsZero() && !rel.Date.IsZero() && rel.Date.Before(m.ReleaseDate) {
		return nil, fmt.Errorf("%s: Date %s is older than the mirrored Release's %s (replayed or rolled-back upstream): %w",
			relFile, rel.Date.Format(time.RFC3339), m.ReleaseDate.Format(time.RFC3339), ErrRollback)
	}

	// 2. Indexes, each verified against the Release.
	man := &Manifest{
		Kind: ManifestKind, Source: base,
		Origin: rel.Fields.Get("Origin"), Label: rel.Fields.Get("Label"),
		Suite: rel.Suite(), Codename: rel.Codename(),
		Components: m.Components, Architectures: m.Architectures,
	}
	universe := map[string][]*candidate{} // arch -> all packages of that arch's indexes
	var indexes []*Index
	var all, matched int // packages of every index, and those the filter selects
	for _, comp := range m.Components {
		for _, arch := range m.Architectures {
			pkgs, err := fetchIndex(ctx, f, base, rel, relFile, comp, arch)
			if err != nil {
				return nil, err
			}
			ix := &Index{Component: comp, Architecture: arch}
			indexes = append(indexes, ix)
			for _, p := range pkgs {
				c := &candidate{ix: ix, p: p, selected: filter.Match(p.Para)}
				universe[arch] = append(universe[arch], c)
				all++
				if c.selected {
					matched++
				}
			}
		}
	}

	// 3. Filter and dependencies.
	res := &SyncResult{Mirror: name, ReleaseDate: rel.Date, ValidUntil: rel.ValidUntil, Warnings: []string{}}
	if matched == 0 && strings.TrimSpace(m.Filter) != "" {
		// Most likely a typo in the filter: say so, the sync itself is valid.
		res.Warnings = append(res.Warnings, fmt.Sprintf("filter %q selected 0 of %d packages in %s (fix it with 'eucora mirror apt edit %s --filter EXPR')",
			m.Filter, all, m.Dist, name))
	}
	for _, arch := range m.Architectures {
		if m.WithDeps {
			added, unresolved := resolveDeps(universe[arch])
			res.AddedByDeps += added
			res.Unresolved = append(res.Unresolved, unresolved...)
		}
		for _, c := range universe[arch] {
			if c.selected {
				c.ix.Packages = append(c.ix.Packages, toPkg(c.p))
			}
		}
	}
	for _, ix := range indexes {
		sortPkgs(ix.Packages)
		man.Indexes = append(man.Indexes, *ix)
	}

	// 4. Package files, in parallel, resumable, verified.
	type job struct {
		url, name string
		d         digest.Digest
		size      int64
	}
	seen := map[digest.Digest]bool{}
	var jobs []job
	var total int64
	for _, ix := range man.Indexes {
		for _, p := range ix.Packages {
			res.Packages++
			if seen[p.SHA256] {
				continue
			}
			seen[p.SHA256] = true
			res.Bytes += p.Size
			if ok, _ := r.Store.Has(p.SHA256); ok {
				res.Reused++
				continue
			}
			jobs = append(jobs, job{url: m.URL + "/" + escapePath(p.Filename), name: p.Filename, d: p.SHA256, size: p.Size})
			total += p.Size
		}
	}
	var add func(int64)
	if opt.Progress != nil {
		add = opt.Progress(total, len(jobs))
	}
	durable := false // every object stored here is durable (step 5)
	if len(jobs) > 0 {
		// Free space for the whole batch, once (ToStore checks only its
		// resumable downloads).
		if err := r.Store.CheckSpace(uint64(total)); err != nil {
			return nil, err
		}
		// Intent log: objects are committed without one fsync each; until
		// the single SyncFS below succeeds, a crash may leave them torn, so
		// the next sync re-verifies every object listed here.
		pending := make([]digest.Digest, len(jobs))
		for i, j := range jobs {
			pending[i] = j.d
		}
		if err := writeJSON(r.pendingPath(name), pending); err != nil {
			return nil, err
		}
		defer func() {
			// After the SyncFS of step 5 the log has served its purpose;
			// a failed sync flushes what it stored before dropping it.
			if durable || r.Store.SyncFS() == nil {
				os.Remove(r.pendingPath(name))
			}
		}()
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		ch       = make(chan job)
	)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				err := f.ToStore(ctx, r.Store, j.url, j.name, j.d, j.size, add)
				mu.Lock()
				if err != nil && firstErr == nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
					firstErr = err
					cancel()
				} else if err == nil {
					res.Downloaded++
					res.DownloadedBytes += j.size
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// 5. Payload and manifest durable (one syncfs), then the mirror state
	// (the commit point).
	mj, err := json.Marshal(man)
	if err != nil {
		return nil, err
	}
	id, err := r.putNoSync(mj)
	if err != nil {
		return nil, err
	}
	// An unchanged upstream stored nothing new: the committed state
	// already refers to this manifest and its objects, made durable by the
	// sync that committed it. syncfs would only flush other writers' data.
	if len(jobs) > 0 || id != m.Manifest {
		if err := r.Store.SyncFS(); err != nil {
			return nil, err
		}
	}
	durable = true
	res.Manifest = id
	res.Changed = id != m.Manifest
	m.Manifest = id
	m.Synced = r.now().UTC()
	m.ReleaseDate = rel.Date
	m.Packages = res.Packages
	m.Bytes = res.Bytes
	if err := writeJSON(r.mirrorPath(name), m); err != nil {
		return nil, err
	}
	return res, nil
}

func (r *Repo) pendingPath(name string) string {
	return filepath.Join(r.Dir, "mirrors", "."+name+".pending")
}

// recoverPending re-verifies the objects an interrupted sync was storing
// and removes any that are torn, then drops the intent log.
func (r *Repo) recoverPending(name string) error {
	var pending []digest.Digest
	if err := readJSON(r.pendingPath(name), &pending); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		// An unreadable log was itself torn before anything was fetched.
		return os.Remove(r.pendingPath(name))
	}
	for _, d := range pending {
		if ok, _ := r.Store.Has(d); !ok {
			continue
		}
		if err := r.Store.Verify(d); err != nil {
			if err := r.Store.Remove(d); err != nil {
				return err
			}
		}
	}
	if err := r.Store.SyncFS(); err != nil {
		return err
	}
	return os.Remove(r.pendingPath(name))
}

func parseFilter(expr string) (*debian.Filter, error) {
	f, err := debian.ParseFilter(expr)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", err, ErrInvalid)
	}
	return f, nil
}

func isNotFound(err error) bool {
	var fe *FetchError
	return errors.As(err, &fe) && (fe.Status == 404 || fe.Status == 410)
}

// verifiedRelease fetches m's Release (InRelease, else Release and
// Release.gpg), verifies its signature against keyring (m's, parsed) and
// that it has not expired, and parses it. A signature refusal names the
// keyring; it returns the Release and the URL of the file it came from.
func verifiedRelease(ctx context.Context, f *Fetcher, m *Mirror, keyring openpgp.EntityList, now time.Time) (*debian.Release, string, error) {
	base := m.URL + "/dists/" + m.Dist + "/"
	relData, relFile, err := fetchRelease(ctx, f, base, keyring, now)
	if se := (*SignatureError)(nil); errors.As(err, &se) {
		se.Keyring = describeKeyring("mirror "+m.Name+" keyring", m.KeyringFile, m.Keyring, keyring)
	}
	if err != nil {
		return nil, "", err
	}
	rel, err := debian.ParseRelease(relData, relFile)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", relFile, err)
	}
	if !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) {
		return nil, "", &ExpiredError{File: relFile, ValidUntil: rel.ValidUntil, Now: now}
	}
	return rel, relFile, nil
}

// fetchRelease returns the verified Release payload and the file it came from.
func fetchRelease(ctx context.Context, f *Fetcher, base string, keyring openpgp.EntityList, now time.Time) ([]byte, string, error) {
	inrel, err := f.Bytes(ctx, base+"InRelease", maxReleaseSize)
	if err == nil {
		payload, err := VerifyInRelease(inrel, keyring, now, base+"InRelease")
		if err != nil {
			return nil, "", err
		}
		return payload, base + "InRelease", nil
	}
	if !isNotFound(err) {
		return nil, "", err
	}
	rel, err := f.Bytes(ctx, base+"Release", maxReleaseSize)
	if err != nil {
		return nil, "", err
	}
	sig, err := f.Bytes(ctx, base+"Release.gpg", 1<<20)
	if err != nil {
		if isNotFound(err) {
			return nil, "", &SignatureError{File: base + "Release", Reason: "no InRelease and no Release.gpg: the repository is unsigned", Err: ErrBadSignature}
		}
		return nil, "", err
	}
	if err := VerifyDetached(rel, sig, keyring, now, base+"Release.gpg"); err != nil {
		return nil, "", err
	}
	return rel, base + "Release", nil
}

// fetchIndex downloads the best Packages index of comp/arch that the
// Release lists, verifies it, and parses it.
func fetchIndex(ctx context.Context, f *Fetcher, base string, rel *debian.Release, relFile, comp, arch string) ([]*debian.Package, error) {
	dir := comp + "/binary-" + arch + "/"
	plain, hasPlain := rel.Files[dir+"Packages"]
	var tried []string
	// gzip first: it decodes several times faster than xz and indexes are
	// small next to packages; xz, then plain, when gzip is not listed.
	for _, ext := range []string{".gz", ".xz", ""} {
		fs, ok := rel.Files[dir+"Packages"+ext]
		if !ok {
			continue
		}
		want := digest.Digest(fs.SHA256)
		var data []byte
		var err error
		url := base + fs.Path
		if rel.AcquireByHash {
			data, err = f.Verified(ctx, base+dir+"by-hash/SHA256/"+fs.SHA256, fs.Path, want, fs.Size)
			if isNotFound(err) {
				data, err = f.Verified(ctx, url, fs.Path, want, fs.Size)
			}
		} else {
			data, err = f.Verified(ctx, url, fs.Path, want, fs.Size)
		}
		if isNotFound(err) {
			tried = append(tried, err.Error())
			continue // apt also falls back to another compression
		}
		if err != nil {
			return nil, err
		}
		hint := int64(0)
		if hasPlain {
			hint = plain.Size
		}
		raw, err := decompress(data, ext, url, hint)
		if err != nil {
			return nil, err
		}
		if hasPlain && ext != "" {
			got := digest.FromBytes(raw)
			if string(got) != plain.SHA256 || int64(len(raw)) != plain.Size {
				return nil, &digest.MismatchError{Object: base + dir + "Packages (decompressed from " + fs.Path + ")",
					Want: plain.SHA256, Got: string(got), WantSize: plain.Size, GotSize: int64(len(raw))}
			}
		}
		pkgs, err := debian.ParsePackages(bytes.NewReader(raw), url)
		if err != nil {
			return nil, fmt.Errorf("%w (%w)", err, ErrInvalid)
		}
		return pkgs, nil
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("%s lists no Packages index for %s (components %q, architectures %q): %w",
			relFile, strings.TrimSuffix(dir, "/"), rel.Components(), rel.Architectures(), ErrMissingIndex)
	}
	return nil, fmt.Errorf("%s names Packages indexes for %s that the server does not have: %s: %w",
		relFile, strings.TrimSuffix(dir, "/"), strings.Join(tried, "; "), ErrMissingIndex)
}

// decompress returns the decompressed index. sizeHint, when the Release
// gives the plain index's size, sizes the buffer once.
func decompress(data []byte, ext, name string, sizeHint int64) ([]byte, error) {
	var r io.Reader
	switch ext {
	case "":
		return data, nil
	case ".gz":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", name, err, ErrInvalid)
		}
		r = zr
	case ".xz":
		zr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", name, err, ErrInvalid)
		}
		r = zr
	}
	// The hint is trusted only within a plausible compression ratio, so a
	// wrong Release cannot make this allocate far more than it reads.
	grow := int64(len(data)) * 4
	if sizeHint > 0 && sizeHint <= int64(len(data))*32 {
		grow = sizeHint
	}
	var buf bytes.Buffer
	buf.Grow(int(min(grow, maxIndexSize)) + bytes.MinRead)
	_, err := buf.ReadFrom(io.LimitReader(r, maxIndexSize+1))
	out := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%s: decompress: %v: %w", name, err, ErrInvalid)
	}
	if len(out) > maxIndexSize {
		return nil, fmt.Errorf("%s: decompressed index larger than %d bytes: %w", name, maxIndexSize, ErrInvalid)
	}
	return out, nil
}

// fieldsRegenerated are rewritten by publish and never copied from upstream:
// publish states only the hashes EUCORA verified.
var fieldsRegenerated = []string{"Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"}

func toPkg(p *debian.Package) Pkg {
	para := append(debian.Paragraph(nil), p.Para...)
	for _, f := range fieldsRegenerated {
		para.Del(f)
	}
	return Pkg{Name: p.Name, Version: p.Version, Arch: p.Arch, SHA256: digest.Digest(p.SHA256), Size: p.Size, Filename: p.Filename, Control: para.String()}
}

func sortPkgs(ps []Pkg) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		if c := debian.CompareVersions(ps[i].Version, ps[j].Version); c != 0 {
			return c < 0
		}
		if ps[i].Arch != ps[j].Arch {
			return ps[i].Arch < ps[j].Arch
		}
		return ps[i].SHA256 < ps[j].SHA256
	})
}

// escapePath URL-escapes each element of a repository path, as apt does
// (pool file names may contain '%', '+' or '~').
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
