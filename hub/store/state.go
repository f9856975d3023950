package store

import (
	"archive/tar"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/eucora/eucora/internal/atomicfile"
)

// FormatVersion is the on-disk format of the FSM state this binary writes.
// A state with a higher version is refused on open.
const FormatVersion = 1

// State is the FSM's Pebble database. Reads may run concurrently with
// applies; Restore swaps the database under an exclusive lock.
type State struct {
	dir string // the Pebble directory
	log *slog.Logger

	mu sync.RWMutex
	db *pebble.DB
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}

func pebbleOptions(l *slog.Logger) *pebble.Options {
	o := &pebble.Options{Logger: pebbleLogger{l}, CacheSize: 64 << 20, MemTableSize: 64 << 20, MemTableStopWritesThreshold: 4, L0CompactionThreshold: 8, L0StopWritesThreshold: 32, LBaseMaxBytes: 512 << 20}
	// Bloom filters on every level: event dedup looks up keys that almost
	// never exist, and a filter answers that without reading blocks.
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

func openPebble(dir string, l *slog.Logger) (*pebble.DB, error) {
	db, err := pebble.Open(dir, pebbleOptions(l))
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	v, err := getRaw(db, keyFormat)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := db.Set(keyFormat, []byte(fmt.Sprint(FormatVersion)), pebble.Sync); err != nil {
			db.Close()
			return nil, err
		}
	case err != nil:
		db.Close()
		return nil, err
	default:
		var f int
		if _, err := fmt.Sscan(string(v), &f); err != nil || f > FormatVersion {
			db.Close()
			return nil, fmt.Errorf("state %s has format %q; this binary reads format <= %d", dir, v, FormatVersion)
		}
	}
	return db, nil
}

// OpenState opens (creating if needed) the state in dir.
func OpenState(dir string, l *slog.Logger) (*State, error) {
	if l == nil {
		l = slog.Default()
	}
	db, err := openPebble(dir, l)
	if err != nil {
		return nil, err
	}
	return &State{dir: dir, log: l, db: db}, nil
}

// Close closes the database.
func (s *State) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func getRaw(g getter, k []byte) ([]byte, error) {
	v, c, err := g.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	c.Close()
	return out, nil
}

func getJSON(g getter, k []byte, v any) error {
	b, err := getRaw(g, k)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func getUint(g getter, k []byte) (uint64, error) {
	b, err := getRaw(g, k)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("state key %s: corrupt value", k)
	}
	return binary.BigEndian.Uint64(b), nil
}

func (s *State) read(fn func(db *pebble.DB) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errors.New("state closed")
	}
	return fn(s.db)
}

// Applied returns the last Raft index applied to the state.
func (s *State) Applied() (n uint64, err error) {
	err = s.read(func(db *pebble.DB) error { n, err = getUint(db, keyApplied); return err })
	return n, err
}

// LastCursor returns the cursor of the newest event.
func (s *State) LastCursor() (n uint64, err error) {
	err = s.read(func(db *pebble.DB) error { n, err = getUint(db, keyCursor); return err })
	return n, err
}

// Identity returns the hub identity, or ErrNotFound before bootstrap.
func (s *State) Identity() (id Identity, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, keyIdentity, &id) })
	return id, err
}

// Site returns the site called name.
func (s *State) Site(name string) (v Site, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, siteKey(name), &v) })
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("site %q: %w", name, ErrNotFound)
	}
	return v, err
}

// Token returns the token with id.
func (s *State) Token(id string) (v Token, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, tokenKey(id), &v) })
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	return v, err
}

// TokenByHash returns the token whose secret hashes to h (hex SHA-256).
func (s *State) TokenByHash(h string) (v Token, err error) {
	err = s.read(func(db *pebble.DB) error {
		id, err := getRaw(db, hashKey(h))
		if err != nil {
			return err
		}
		return getJSON(db, tokenKey(string(id)), &v)
	})
	return v, err
}

// Node returns the record of node id.
func (s *State) Node(id string) (v Node, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, nodeKey(id), &v) })
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("node %q: %w", id, ErrNotFound)
	}
	return v, err
}

// Blob returns the record of blob hex.
func (s *State) Blob(hex string) (v Blob, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, blobKey(hex), &v) })
	return v, err
}

func scan[T any](s *State, prefix string, fn func(T) bool) error {
	return s.read(func(db *pebble.DB) error {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: prefixEnd(prefix)})
		if err != nil {
			return err
		}
		defer it.Close()
		for it.First(); it.Valid(); it.Next() {
			var v T
			if err := json.Unmarshal(it.Value(), &v); err != nil {
				return fmt.Errorf("state key %q: %w", it.Key(), err)
			}
			if !fn(v) {
				break
			}
		}
		return it.Error()
	})
}

// Sites lists every site in name order.
func (s *State) Sites() (out []Site, err error) {
	err = scan(s, prefixSite, func(v Site) bool { out = append(out, v); return true })
	return out, err
}

// Tokens lists every token (revoked ones included) in id order.
func (s *State) Tokens() (out []Token, err error) {
	err = scan(s, prefixToken, func(v Token) bool { out = append(out, v); return true })
	return out, err
}

// Nodes lists the node records.
func (s *State) Nodes() (out []Node, err error) {
	err = scan(s, prefixNode, func(v Node) bool { out = append(out, v); return true })
	return out, err
}

// Blobs lists the blob records.
func (s *State) Blobs() (out []Blob, err error) {
	err = scan(s, prefixBlob, func(v Blob) bool { out = append(out, v); return true })
	return out, err
}

// Events returns up to limit events with a cursor greater than after.
func (s *State) Events(after uint64, limit int) (out []Event, err error) {
	if after == math.MaxUint64 {
		return nil, nil // nothing follows the last possible cursor (after+1 would wrap to 0)
	}
	err = s.read(func(db *pebble.DB) error {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: eventKey(after + 1), UpperBound: prefixEnd(prefixEvent)})
		if err != nil {
			return err
		}
		defer it.Close()
		for it.First(); it.Valid() && len(out) < limit; it.Next() {
			e, err := decodeEvent(it.Key(), it.Value())
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return it.Error()
	})
	return out, err
}

// Checkpoint writes a consistent copy of the state to dir (which must not
// exist). It is safe to call while applies run.
func (s *State) Checkpoint(dir string) error {
	return s.read(func(db *pebble.DB) error {
		return db.Checkpoint(dir, pebble.WithFlushedWAL())
	})
}

// writeTarDir streams every regular file of dir into a tar on w.
func writeTarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := addTarFile(tw, filepath.Join(dir, e.Name()), e.Name()); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addTarFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: st.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// validFileName accepts a plain file name as pebble writes them.
func validFileName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00") && len(n) < 256
}

// extractTarDir reads a tar of plain files (as writeTarDir makes) into dir.
func extractTarDir(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if h.Typeflag != tar.TypeReg || !validFileName(h.Name) {
			return fmt.Errorf("snapshot: unexpected entry %q", h.Name)
		}
		f, err := atomicfile.Create(filepath.Join(dir, h.Name), 0o640)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Abort()
			return fmt.Errorf("snapshot entry %s: %w", h.Name, err)
		}
		if err := f.Commit(); err != nil {
			return err
		}
	}
	return atomicfile.SyncDir(dir)
}

// ReplaceFrom replaces the whole state with the Pebble checkpoint in dir
// (which is consumed): the old database is closed, moved aside and removed.
func (s *State) ReplaceFrom(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return err
		}
		s.db = nil
	}
	old := s.dir + ".old"
	os.RemoveAll(old)
	if err := os.Rename(s.dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(dir, s.dir); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(filepath.Dir(s.dir)); err != nil {
		return err
	}
	os.RemoveAll(old)
	db, err := openPebble(s.dir, s.log)
	if err != nil {
		return err
	}
	s.db = db
	return nil
}

// dropNodes deletes the node records, for a state restored into a new
// cluster.
func (s *State) dropNodes() error {
	return s.read(func(db *pebble.DB) error {
		return db.DeleteRange([]byte(prefixNode), prefixEnd(prefixNode), pebble.Sync)
	})
}

// Planes lists every registered plane in name order.
func (s *State) Planes() (out []Plane, err error) {
	err = scan(s, prefixPlane, func(v Plane) bool { out = append(out, v); return true })
	return out, err
}

// Plane returns the plane called name.
func (s *State) Plane(name string) (v Plane, err error) {
	err = s.read(func(db *pebble.DB) error { return getJSON(db, planeKey(name), &v) })
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("plane %q: %w", name, ErrNotFound)
	}
	return v, err
}
