package transfer

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/charset"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/internal/signing"
)

// Defaults for bundle creation.
const (
	// DefaultVolumeSize fits FAT32 media (files < 4 GiB).
	DefaultVolumeSize = 4000 << 20
	// MinVolumeSize is the smallest volume size accepted.
	MinVolumeSize = 1 << 20
	// DefaultTTL is how long a bundle stays importable.
	DefaultTTL = 30 * 24 * time.Hour
	// EncoderWindow is the zstd window the writer uses (readers refuse
	// windows above MaxDecoderWindow).
	EncoderWindow = 4 << 20
	// minTailPart: a volume with less room than this is closed instead of
	// starting a tiny part in it.
	minTailPart = 64 << 10
	// rawBelow: objects this small are stored raw (padding eats any gain).
	rawBelow = 1024
	// probeSize is how much of an object is test-compressed to decide.
	probeSize = 128 << 10
)

// Header is what the manifest says about a bundle besides its contents.
type Header struct {
	Source      string        // who made it (hub name, edge site, host)
	Target      string        // site it is for; "" for any
	Sequence    uint64        // per-target monotonic sequence number
	Predecessor digest.Digest // digest of the previous bundle for the target
	Created     time.Time     // zero: now
	Expires     time.Time     // zero: Created + DefaultTTL
}

// Content is what a bundle carries.
type Content struct {
	// Tree is a directory whose regular files and directories (with their
	// permission bits) are carried. "" for none.
	Tree string
	// Objects are content objects from a store, by digest.
	Objects []ObjectSource
	// Records are typed records (intents, receipts, event batches...).
	Records []RecordSource
}

// ObjectSource is one object to carry whose digest is known.
type ObjectSource struct {
	Digest    digest.Digest
	Size      int64
	MediaType string
	Open      func() (ReadAtCloser, error)
}

// RecordSource is one typed record.
type RecordSource struct {
	Type string
	Data []byte
}

// ReadAtCloser is a readable, re-readable source.
type ReadAtCloser interface {
	io.ReaderAt
	io.Closer
}

// CreateOptions tune bundle creation.
type CreateOptions struct {
	VolumeSize int64             // bytes per volume; 0: DefaultVolumeSize
	Level      zstd.EncoderLevel // 0: zstd.SpeedFastest
	Progress   progress.Func     // called with raw bytes consumed
	// OnPlanned is called once the total raw size is known.
	OnPlanned func(totalBytes int64)
}

// Result describes a written bundle.
type Result struct {
	Signed  *Signed
	Volumes []string // volume file paths, in order
	Bytes   int64    // total bytes of all volume files
}

// item is one distinct object to write.
type item struct {
	size      int64
	mediaType string
	known     digest.Digest // digest known before writing, or ""
	open      func() (ReadAtCloser, error)
	label     string // for errors: a path or a digest
	rawOnly   bool
	result    *Object
}

// Create writes a bundle of content into outDir, signed by key. Volumes are
// written under temporary names and renamed only when every volume is
// complete, so an interrupted create leaves no volume that looks finished.
func Create(ctx context.Context, outDir string, key *signing.PrivateKey, h Header, c Content, opts CreateOptions) (*Result, error) {
	if opts.VolumeSize == 0 {
		opts.VolumeSize = DefaultVolumeSize
	}
	if opts.VolumeSize < MinVolumeSize {
		return nil, fmt.Errorf("volume size %d is below the minimum of %d bytes", opts.VolumeSize, MinVolumeSize)
	}
	if opts.Level == 0 {
		opts.Level = zstd.SpeedFastest
	}
	m, err := newManifest(key, h)
	if err != nil {
		return nil, err
	}
	items, fileItems, err := collect(ctx, c, m)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, it := range items {
		total += it.size
	}
	if opts.OnPlanned != nil {
		opts.OnPlanned(total)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	removeStalePartials(outDir)
	reserve := manifestReserve(m, items, total, opts.VolumeSize)
	if opts.VolumeSize < reserve+minTailPart+4*blockSize {
		return nil, fmt.Errorf("volume size %s is too small: the manifest alone needs up to %s", bytesize.Format(opts.VolumeSize), bytesize.Format(reserve))
	}
	volumesEstimate := total/(opts.VolumeSize-reserve) + 1
	if err := cas.CheckSpace(outDir, uint64(total+volumesEstimate*reserve)); err != nil {
		return nil, err
	}
	w := &bundleWriter{
		ctx: ctx, outDir: outDir, id: m.BundleID, capacity: opts.VolumeSize - reserve - 2*blockSize,
		mtime: m.Created.Unix(), written: map[digest.Digest]Part{}, prog: opts.Progress,
	}
	defer w.cleanup()
	newEnc := func() (*zstd.Encoder, error) {
		return zstd.NewWriter(nil, zstd.WithEncoderLevel(opts.Level), zstd.WithWindowSize(EncoderWindow),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
	}
	if w.enc, err = newEnc(); err != nil {
		return nil, err
	}
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		e, err := newEnc()
		if err != nil {
			return nil, err
		}
		w.encs = append(w.encs, e)
	}
	objects := map[digest.Digest]bool{}
	for _, it := range items {
		o, err := w.writeObject(it)
		if err != nil {
			return nil, err
		}
		it.result = o
		if !objects[o.Digest] {
			objects[o.Digest] = true
			m.Objects = append(m.Objects, *o)
		}
	}
	for i, it := range fileItems {
		m.Files[i].Digest = it.result.Digest
	}
	m.Volumes = len(w.vols)
	if m.Volumes == 0 {
		if err := w.newVolume(); err != nil {
			return nil, err
		}
		m.Volumes = 1
	}
	signed, err := signManifest(key, m)
	if err != nil {
		return nil, fmt.Errorf("internal error: wrote an invalid manifest: %v", err)
	}
	if int64(len(signed.Envelope))+entryOverhead > reserve {
		return nil, fmt.Errorf("internal error: manifest of %d bytes exceeds its reserve of %d", len(signed.Envelope), reserve)
	}
	paths, size, err := w.finish(signed.Envelope)
	if err != nil {
		return nil, err
	}
	return &Result{Signed: signed, Volumes: paths, Bytes: size}, nil
}

// signManifest validates m and signs it with key.
func signManifest(key *signing.PrivateKey, m *Manifest) (*Signed, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	env, err := json.Marshal(signing.Sign(key, payloadTypes[m.Format], payload))
	if err != nil {
		return nil, err
	}
	return &Signed{Manifest: m, Digest: digest.FromBytes(payload), KeyID: key.ID, Payload: payload, Envelope: env}, nil
}

// newManifest starts the manifest of a bundle with header h signed by key.
func newManifest(key *signing.PrivateKey, h Header) (*Manifest, error) {
	if h.Created.IsZero() {
		h.Created = time.Now()
	}
	h.Created = h.Created.UTC().Truncate(time.Second)
	if h.Expires.IsZero() {
		h.Expires = h.Created.Add(DefaultTTL)
	}
	h.Expires = h.Expires.UTC().Truncate(time.Second)
	id, err := ulid.New(ulid.Timestamp(h.Created), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Manifest{
		Format: Format, BundleID: id.String(), Source: h.Source, Target: h.Target,
		Sequence: h.Sequence, Predecessor: h.Predecessor, Created: h.Created, Expires: h.Expires,
		KeyID: key.ID, Objects: []Object{},
	}, nil
}

// CreateManifest signs the manifest of a bundle whose objects travel one
// by one, fetched by digest (the network flow), rather than in volumes:
// each object is one part placed in volume 1, which is never written, so
// nothing is read or copied and no disk is used. Such a bundle cannot be
// carried on media. Objects (records included) must be at most
// MaxPartSize; a Tree is not supported (its digests are not known).
func CreateManifest(ctx context.Context, key *signing.PrivateKey, h Header, c Content) (*Signed, error) {
	if c.Tree != "" {
		return nil, errors.New("a manifest-only bundle cannot carry a tree")
	}
	m, err := newManifest(key, h)
	if err != nil {
		return nil, err
	}
	items, _, err := collect(ctx, c, m)
	if err != nil {
		return nil, err
	}
	for _, it := range items { // distinct, all of known digest (collect)
		if it.size > MaxPartSize {
			return nil, fmt.Errorf("object %s is %d bytes, over the %d a single part may hold", it.known.Short(), it.size, int64(MaxPartSize))
		}
		m.Objects = append(m.Objects, Object{Digest: it.known, Size: it.size, MediaType: it.mediaType,
			Parts: []Part{{Digest: it.known, Size: it.size, Volume: 1}}})
	}
	m.Volumes = 1
	signed, err := signManifest(key, m)
	if err != nil {
		return nil, fmt.Errorf("manifest-only bundle: %v", err)
	}
	return signed, nil
}

// collect turns content into distinct items and fills the manifest's
// records, dirs and files (file digests are set after writing). Records
// come first in items, in order. Only files whose size collides with
// another's can be duplicates; those are hashed up front so each distinct
// object is written once.
func collect(ctx context.Context, c Content, m *Manifest) (items []*item, fileItems []*item, err error) {
	seen := map[digest.Digest]*item{}
	add := func(it *item) (*item, error) {
		if it.known != "" {
			if first, ok := seen[it.known]; ok {
				if first.size != it.size {
					return nil, fmt.Errorf("object %s given with sizes %d and %d", it.known.Short(), first.size, it.size)
				}
				return first, nil
			}
			seen[it.known] = it
		}
		items = append(items, it)
		return it, nil
	}
	for i, r := range c.Records {
		if !validRecordType(r.Type) {
			return nil, nil, fmt.Errorf("record %d: type %q: want a-z, 0-9, '.', '-'", i, r.Type)
		}
		data := r.Data
		d := digest.FromBytes(data)
		if _, err := add(&item{size: int64(len(data)), known: d, mediaType: "application/vnd.eucora.record." + r.Type,
			label: "record " + r.Type, open: func() (ReadAtCloser, error) { return nopCloser{strings.NewReader(string(data))}, nil }}); err != nil {
			return nil, nil, err
		}
		m.Records = append(m.Records, Record{Type: r.Type, Digest: d, Size: int64(len(data))})
	}
	for _, o := range c.Objects {
		if _, err := digest.Parse(string(o.Digest)); err != nil {
			return nil, nil, fmt.Errorf("object: %w", err)
		}
		if _, err := add(&item{size: o.Size, known: o.Digest, mediaType: o.MediaType, open: o.Open, label: o.Digest.String(),
			rawOnly: knownCompressedType(o.MediaType)}); err != nil {
			return nil, nil, err
		}
	}
	if c.Tree == "" {
		return items, nil, nil
	}
	files, err := walkTree(ctx, c.Tree, m)
	if err != nil {
		return nil, nil, err
	}
	bySize := map[int64]int{}
	for _, it := range files {
		bySize[it.size]++
	}
	for _, it := range files {
		if bySize[it.size] > 1 {
			if err := prehash(ctx, it); err != nil {
				return nil, nil, err
			}
		}
		first, err := add(it)
		if err != nil {
			return nil, nil, err
		}
		fileItems = append(fileItems, first)
	}
	return items, fileItems, nil
}

func walkTree(ctx context.Context, root string, m *Manifest) ([]*item, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", root)
	}
	var items []*item
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := ValidatePath(rel); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := uint32(info.Mode().Perm())
		switch t := info.Mode().Type(); {
		case t == fs.ModeDir:
			m.Dirs = append(m.Dirs, Dir{Path: rel, Mode: mode})
		case t.IsRegular():
			path := p
			m.Files = append(m.Files, File{Path: rel, Mode: mode, Size: info.Size()})
			items = append(items, &item{size: info.Size(), label: p, rawOnly: knownCompressedName(p),
				open: func() (ReadAtCloser, error) { return os.Open(path) }})
		default:
			return fmt.Errorf("%w: %s is a %s; a bundle carries only regular files and directories", ErrUnsupported, p, describeType(info.Mode()))
		}
		return nil
	})
	return items, err
}

func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

func prehash(ctx context.Context, it *item) error {
	r, err := it.open()
	if err != nil {
		return err
	}
	defer r.Close()
	d, n, err := digest.FromReader(ctxReader{ctx, io.NewSectionReader(r, 0, it.size+1)})
	if err != nil {
		return fmt.Errorf("%s: %w", it.label, err)
	}
	if n != it.size {
		return fmt.Errorf("%s changed size while the bundle was being made (%d, now %d bytes)", it.label, it.size, n)
	}
	it.known = d
	return nil
}

// manifestReserve bounds the bytes the signed manifest entry will take, so
// that every volume keeps room for it.
func manifestReserve(m *Manifest, items []*item, total, volSize int64) int64 {
	probe := *m
	probe.Objects = make([]Object, 0, len(items))
	fake := digest.Digest(strings.Repeat("0", 64))
	for _, it := range items {
		probe.Objects = append(probe.Objects, Object{Digest: fake, Size: it.size, MediaType: it.mediaType,
			Parts: []Part{{Digest: fake, Size: it.size, Volume: MaxVolumes, Encoding: EncodingZstd, StoredSize: MaxStoredSize, StoredDigest: fake}}})
	}
	files := make([]File, len(m.Files))
	for i, f := range m.Files {
		files[i] = f
		files[i].Digest = fake
	}
	probe.Files = files
	probe.Volumes = MaxVolumes
	base, _ := json.Marshal(&probe)
	// Every volume boundary and every MaxPartSize boundary adds a part.
	const perPart = len(`,{"digest":"`) + 64 + len(`","size":4294967296,"volume":9999,"encoding":"zstd","stored_size":8589934591,"stored_digest":"`) + 64 + len(`"}`)
	reserve := int64(len(base)) + 4096
	for i := 0; i < 3; i++ {
		perVol := volSize - (reserve*4/3 + 4096)
		if perVol < minTailPart {
			perVol = minTailPart
		}
		extra := total/perVol + 2 + total/MaxPartSize + int64(len(items))*entryOverhead/perVol
		reserve = int64(len(base)) + extra*int64(perPart) + 4096
	}
	// base64 in the envelope, plus the envelope and the tar entry.
	return reserve*4/3 + 1024 + entryOverhead
}

// bundleWriter appends entries to volumes.
type bundleWriter struct {
	ctx      context.Context
	outDir   string
	id       string
	capacity int64 // payload bytes per volume (entries incl. headers)
	mtime    int64
	enc      *zstd.Encoder   // for probes
	encs     []*zstd.Encoder // frame compressors, one per core
	vols     []*volFile
	cur      *volFile
	written  map[digest.Digest]Part // entry digest -> the part written
	prog     progress.Func
	buf      []byte
}

type volFile struct {
	f      *os.File
	bw     *bufio.Writer
	used   int64
	hinted int64 // bytes handed to StartWriteback so far
}

// writebackChunk is how much a volume grows between writeback hints.
const writebackChunk = 8 << 20

func (w *bundleWriter) newVolume() error {
	n := len(w.vols) + 1
	if n > MaxVolumes {
		return fmt.Errorf("bundle would need more than %d volumes", MaxVolumes)
	}
	f, err := os.Create(filepath.Join(w.outDir, fmt.Sprintf(".%s.%04d.partial", w.id, n)))
	if err != nil {
		return err
	}
	v := &volFile{f: f, bw: bufio.NewWriterSize(f, 1<<20)}
	w.vols = append(w.vols, v)
	w.cur = v
	return nil
}

// room returns the raw bytes the next entry may hold in the current volume.
func (w *bundleWriter) room() int64 {
	if w.cur == nil {
		return 0
	}
	return w.capacity - w.cur.used - entryOverhead
}

// writeObject writes one item as one or more entries.
func (w *bundleWriter) writeObject(it *item) (*Object, error) {
	if it.result != nil {
		return it.result, nil
	}
	src, err := it.open()
	if err != nil {
		return nil, err
	}
	defer src.Close()
	compress := !it.rawOnly && it.size >= rawBelow && w.compresses(src, it.size)
	obj := &Object{Size: it.size, MediaType: it.mediaType}
	var objHash hash.Hash
	var off int64
	for {
		remaining := it.size - off
		if w.cur == nil || w.room() < min(remaining, minTailPart) {
			if err := w.newVolume(); err != nil {
				return nil, err
			}
		}
		n := min(remaining, w.room(), MaxPartSize)
		whole := off == 0 && n == it.size
		if !whole && objHash == nil {
			objHash = digest.New()
		}
		p, err := w.writePart(src, it, off, n, compress, objHash)
		if err != nil {
			return nil, err
		}
		obj.Parts = append(obj.Parts, p)
		off += n
		if off >= it.size {
			break
		}
	}
	if len(obj.Parts) == 1 {
		obj.Digest = obj.Parts[0].Digest
	} else {
		obj.Digest = digest.FromHash(objHash)
	}
	if it.known != "" && obj.Digest != it.known {
		return nil, fmt.Errorf("%s changed while the bundle was being made (sha256 was %s, now %s)", it.label, it.known.Short(), obj.Digest.Short())
	}
	return obj, nil
}

// compresses test-compresses the start of src.
func (w *bundleWriter) compresses(src io.ReaderAt, size int64) bool {
	n := min(size, probeSize)
	if cap(w.buf) < int(n) {
		w.buf = make([]byte, probeSize)
	}
	sample := w.buf[:n]
	if k, _ := src.ReadAt(sample, 0); int64(k) != n {
		return false
	}
	out := w.enc.EncodeAll(sample, nil)
	return len(out) < int(n)*9/10
}

// writePart writes bytes [off, off+n) of src as one entry and returns its
// part. The header is written last, once the digest and stored size are
// known. An entry whose digest the bundle already holds is rolled back.
func (w *bundleWriter) writePart(src io.ReaderAt, it *item, off, n int64, compress bool, objHash hash.Hash) (Part, error) {
	v := w.cur
	if err := v.bw.Flush(); err != nil {
		return Part{}, err
	}
	hdrOff := v.used
	if _, err := v.bw.Write(make([]byte, blockSize)); err != nil {
		return Part{}, err
	}
	partHash := digest.New()
	var hw io.Writer = partHash
	if objHash != nil {
		hw = io.MultiWriter(partHash, objHash)
	}
	section := io.NewSectionReader(src, off, n)
	counter := &countWriter{w: v.bw}
	storedHash := digest.New() // of the compressed bytes as stored
	var copied int64
	var err error
	if compress {
		copied, err = compressCopy(w.ctx, io.MultiWriter(counter, storedHash), section, hw, w.encs, w.prog)
	} else {
		copied, err = hashCopy(w.ctx, counter, section, hw, w.prog)
	}
	if err != nil {
		return Part{}, fmt.Errorf("%s: %w", it.label, err)
	}
	if copied != n {
		return Part{}, fmt.Errorf("%s changed size while the bundle was being made (read %d of %d bytes at offset %d)", it.label, copied, n, off)
	}
	stored := counter.n
	if compress && stored >= n {
		// Compression did not pay: rewrite raw.
		if err := w.truncate(v, hdrOff+blockSize); err != nil {
			return Part{}, err
		}
		compress = false
		counter = &countWriter{w: v.bw}
		if _, err := io.Copy(counter, io.NewSectionReader(src, off, n)); err != nil {
			return Part{}, err
		}
		stored = counter.n
	}
	d := digest.FromHash(partHash)
	if prev, dup := w.written[d]; dup {
		if err := w.truncate(v, hdrOff); err != nil {
			return Part{}, err
		}
		return prev, nil
	}
	part := Part{Digest: d, Size: n, Volume: len(w.vols)}
	if compress {
		part.Encoding, part.StoredSize, part.StoredDigest = EncodingZstd, stored, digest.FromHash(storedHash)
	}
	if _, err := v.bw.Write(make([]byte, padLen(stored))); err != nil {
		return Part{}, err
	}
	if err := v.bw.Flush(); err != nil {
		return Part{}, err
	}
	hdr, err := ustarHeader(entryName(d, compress), stored, w.mtime)
	if err != nil {
		return Part{}, err
	}
	if _, err := v.f.WriteAt(hdr, hdrOff); err != nil {
		return Part{}, err
	}
	v.used = hdrOff + blockSize + stored + padLen(stored)
	if v.used-v.hinted >= writebackChunk {
		cas.StartWriteback(v.f) // overlap the disk writes with the rest of the work
		v.hinted = v.used
	}
	w.written[d] = part
	return part, nil
}

func (w *bundleWriter) truncate(v *volFile, at int64) error {
	if err := v.bw.Flush(); err != nil {
		return err
	}
	if err := v.f.Truncate(at); err != nil {
		return err
	}
	if _, err := v.f.Seek(at, io.SeekStart); err != nil {
		return err
	}
	v.bw.Reset(v.f)
	v.used = at
	return nil
}

// finish appends the manifest and end-of-archive to every volume, syncs
// them and renames them to their final names.
func (w *bundleWriter) finish(env []byte) ([]string, int64, error) {
	hdr, err := ustarHeader(ManifestEntry, int64(len(env)), w.mtime)
	if err != nil {
		return nil, 0, err
	}
	total := len(w.vols)
	var paths []string
	var size int64
	for _, v := range w.vols {
		for _, b := range [][]byte{hdr, env, make([]byte, padLen(int64(len(env)))), make([]byte, 2*blockSize)} {
			if _, err := v.bw.Write(b); err != nil {
				return nil, 0, err
			}
		}
		if err := v.bw.Flush(); err != nil {
			return nil, 0, err
		}
		st, _ := v.f.Stat()
		size += st.Size()
	}
	// Every volume is durable before any takes its final name.
	var names []string
	for _, v := range w.vols {
		names = append(names, v.f.Name())
	}
	if err := cas.SyncPaths(names); err != nil {
		return nil, 0, err
	}
	for i, v := range w.vols {
		final := filepath.Join(w.outDir, VolumeFileName(w.id, i+1, total))
		if err := os.Rename(v.f.Name(), final); err != nil {
			return nil, 0, err
		}
		paths = append(paths, final)
	}
	if err := atomicfile.SyncDir(w.outDir); err != nil {
		return nil, 0, err
	}
	for _, v := range w.vols {
		v.f.Close()
	}
	w.vols = nil
	return paths, size, nil
}

// cleanup removes unfinished volumes.
func (w *bundleWriter) cleanup() {
	for _, v := range w.vols {
		v.f.Close()
		os.Remove(v.f.Name())
	}
	if w.enc != nil {
		w.enc.Close()
	}
	for _, e := range w.encs {
		e.Close()
	}
}

var digits = charset.Of("0-9")

// isPartialName matches `^\.[0-9A-HJKMNP-TV-Z]{26}\.[0-9]{4}\.partial$`,
// the name of an unfinished volume.
func isPartialName(s string) bool {
	return len(s) == 1+26+1+4+len(".partial") && s[0] == '.' && validBundleID(s[1:27]) &&
		s[27] == '.' && charset.Match(s[28:32], 4, 4, digits, digits) && s[32:] == ".partial"
}

// removeStalePartials deletes unfinished volumes a killed create left in
// dir. They never carry a final name, so nothing else refers to them.
func removeStalePartials(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if isPartialName(e.Name()) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// VolumeFileName is the file name of volume n of total.
func VolumeFileName(bundleID string, n, total int) string {
	width := len(fmt.Sprint(total))
	if width < 3 {
		width = 3
	}
	return fmt.Sprintf("eucora-%s.%0*d-of-%0*d.tar", bundleID, width, n, width, total)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

var compressedExt = map[string]bool{
	".deb": true, ".udeb": true, ".rpm": true, ".gz": true, ".tgz": true, ".xz": true, ".txz": true, ".zst": true,
	".bz2": true, ".lz4": true, ".lzma": true, ".7z": true, ".zip": true, ".jar": true, ".war": true, ".whl": true,
	".apk": true, ".ipa": true, ".appx": true, ".msix": true, ".intunewin": true, ".cab": true, ".dmg": true,
	".pkg": true, ".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true, ".mp4": true, ".mp3": true,
	".squashfs": true, ".snap": true, ".nupkg": true,
}

func knownCompressedName(p string) bool {
	return compressedExt[strings.ToLower(filepath.Ext(p))]
}

func knownCompressedType(mt string) bool {
	for _, s := range []string{"vnd.debian.binary-package", "zip", "gzip", "x-xz", "zstd", "x-7z", "x-rpm", "x-apple-diskimage"} {
		if strings.Contains(mt, s) {
			return true
		}
	}
	return false
}
