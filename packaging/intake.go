package packaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/packaging/facts"
)

// Reader reads the facts of one file type (the contract of packaging/facts).
type Reader func(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error)

// ErrUnknownType is returned for a file name whose extension is no type
// the factory reads.
var ErrUnknownType = errors.New("unknown package type")

// Kinds lists the kinds Inspect reads, in the order help lists them.
func Kinds() []facts.Kind {
	var out []facts.Kind
	for _, k := range kindOrder {
		if readers[k] != nil {
			out = append(out, k)
		}
	}
	return out
}

var kindOrder = []facts.Kind{facts.KindDeb, facts.KindMSI, facts.KindPE, facts.KindMSIX, facts.KindAppx, facts.KindIntunewin,
	facts.KindPkg, facts.KindDMG, facts.KindIPA, facts.KindAPK}

// KindOf is the kind a file name claims by its extension.
func KindOf(name string) (facts.Kind, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))
	k := facts.Kind(ext)
	if ext == "dll" {
		k = facts.KindPE
	}
	if readers[k] == nil {
		var names []string
		for _, k := range Kinds() {
			names = append(names, "."+string(k))
		}
		return "", fmt.Errorf("%w: %s: the factory reads %s", ErrUnknownType, name, strings.Join(names, ", "))
	}
	return k, nil
}

// container is the outer format a kind's files start with.
type container string

const (
	ctAr   container = "an ar archive (.deb)"
	ctCFB  container = "a CFB compound file (.msi)"
	ctMZ   container = "a PE executable (.exe)"
	ctZip  container = "a zip archive"
	ctXar  container = "a xar archive (.pkg)"
	ctUDIF container = "a UDIF disk image (.dmg)"
)

var containerOf = map[facts.Kind]container{
	facts.KindDeb: ctAr, facts.KindMSI: ctCFB, facts.KindPE: ctMZ, facts.KindMSIX: ctZip, facts.KindAppx: ctZip,
	facts.KindIntunewin: ctZip, facts.KindIPA: ctZip, facts.KindAPK: ctZip, facts.KindPkg: ctXar, facts.KindDMG: ctUDIF,
}

// sniff names the container r's bytes are, or "" when none is known.
func sniff(r io.ReaderAt, size int64) container {
	head := make([]byte, 8)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("!<arch>\n")):
		return ctAr
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return ctCFB
	case bytes.HasPrefix(head, []byte("MZ")):
		return ctMZ
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return ctZip
	case bytes.HasPrefix(head, []byte("xar!")):
		return ctXar
	}
	if size >= 512 {
		tail := make([]byte, 4)
		if _, err := r.ReadAt(tail, size-512); err == nil && string(tail) == "koly" {
			return ctUDIF
		}
	}
	return ""
}

// Inspect reads the facts of the file called name: its extension says
// what it claims to be, its bytes must be that container, and the kind's
// reader reads it. Name, Size and Kind are set; SHA256 is the caller's.
func Inspect(name string, r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	k, err := KindOf(name)
	if err != nil {
		return nil, err
	}
	want := containerOf[k]
	if got := sniff(r, size); got != want {
		what := string(got)
		if what == "" {
			what = "none of the package formats EUCORA reads"
		}
		return nil, fmt.Errorf("%s: %w", name, facts.Defectf(k, "named .%s, so it must be %s, but its bytes are %s", k, want, what))
	}
	f, err := readers[k](r, size, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.Kind, f.Name, f.Size = k, filepath.Base(name), size
	return f, nil
}

// Intake streams r (the file called name, size bytes or -1) into st,
// computing its digest, inspects the bytes before they are committed and
// commits them only when the inspection and then check (when not nil)
// succeed: a defective file, or one check refuses, leaves nothing in the
// store. The facts carry the digest (check sees it too). The file is
// durable when Intake returns; IntakeBatch takes many files with one
// durability point.
func Intake(ctx context.Context, st *cas.Store, r io.Reader, name string, size int64, o facts.Options, check func(*facts.Facts) error) (*facts.Facts, error) {
	return intake(ctx, st.Create, r, name, size, o, check)
}

// intake is Intake writing through create (Store.Create or Batch.Create).
func intake(ctx context.Context, create func(digest.Digest, int64) (*cas.Writer, error), r io.Reader, name string, size int64, o facts.Options, check func(*facts.Facts) error) (*facts.Facts, error) {
	if _, err := KindOf(name); err != nil {
		return nil, err // before reading a byte
	}
	w, err := create("", size)
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, ctxReader{ctx, r}); err != nil {
		return nil, fmt.Errorf("%s: reading: %w; nothing was stored", name, err)
	}
	f, err := Inspect(name, w, w.Written(), o)
	if err != nil {
		return nil, err
	}
	f.SHA256 = w.Sum().String()
	if check != nil {
		if err := check(f); err != nil {
			return nil, err
		}
	}
	if _, err := w.Commit(); err != nil {
		return nil, fmt.Errorf("%s: storing: %w", name, err)
	}
	return f, nil
}

// IntakeBatch takes many files into one store with one durability point
// (a cas.Batch) instead of one per file: Add streams, inspects and checks
// a file exactly as Intake does, and Commit makes every file Add accepted
// durable together. A file is stored only once Commit has returned
// without naming it; until then its facts describe a file, not a stored
// package, and must not be registered or acknowledged. A file Add refuses
// is no part of the batch, and a batch abandoned before Commit (a crash,
// Abort) stores nothing (see cas.Batch for what a crash during Commit
// leaves).
//
// It is for one process taking in many files; the hub takes one file per
// request and uses Intake. Add is safe for concurrent use.
type IntakeBatch struct {
	b *cas.Batch

	mu    sync.Mutex
	names map[digest.Digest][]string // the files Add accepted, by object
}

// NewIntakeBatch starts a batch of files for st.
func NewIntakeBatch(st *cas.Store) *IntakeBatch {
	return &IntakeBatch{b: st.NewBatch(), names: map[digest.Digest][]string{}}
}

// Add is Intake into the batch: the facts it returns are of a file that
// is stored when Commit says so.
func (ib *IntakeBatch) Add(ctx context.Context, r io.Reader, name string, size int64, o facts.Options, check func(*facts.Facts) error) (*facts.Facts, error) {
	f, err := intake(ctx, ib.b.Create, r, name, size, o, check)
	if err != nil {
		return nil, err
	}
	d, _ := digest.Parse(f.SHA256)
	ib.mu.Lock()
	ib.names[d] = append(ib.names[d], name)
	ib.mu.Unlock()
	return f, nil
}

// Commit makes every file Add accepted durable and ends the batch. It
// returns nil when all are stored, or an error naming the files that are
// not (every other one is), which wraps the *cas.BatchError whose
// Objects are keyed by the facts' SHA256.
func (ib *IntakeBatch) Commit() error {
	err := ib.b.Commit()
	var be *cas.BatchError
	if !errors.As(err, &be) {
		return err
	}
	ib.mu.Lock()
	defer ib.mu.Unlock()
	var files []string
	for d := range be.Objects {
		files = append(files, ib.names[d]...)
	}
	sort.Strings(files)
	return fmt.Errorf("not stored: %s: %w", strings.Join(files, ", "), err)
}

// Abort discards every file of the batch.
func (ib *IntakeBatch) Abort() { ib.b.Abort() }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
