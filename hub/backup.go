package hub

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/digest"
)

// Backup format: a POSIX tar of
//
//	state/<file>      the files of a Pebble checkpoint of the FSM state
//	blobs/<hex>       each registered blob (with --with-blobs)
//	MANIFEST.json     last: format, time, node, applied index, and the
//	                  size and SHA-256 of every other entry
//
// A reader verifies every entry against the manifest; anything missing,
// extra or different fails the whole backup.
const BackupFormat = "eucora-hub-backup/1"

// ErrBadBackup is returned for a backup that fails verification.
var ErrBadBackup = errors.New("backup failed verification")

// BackupManifest is the last entry of a backup.
type BackupManifest struct {
	Format       string        `json:"format"`
	CreatedAt    time.Time     `json:"created_at"`
	NodeID       string        `json:"node_id"`
	AppliedIndex uint64        `json:"applied_index"`
	Blobs        int           `json:"blobs"`
	Files        []BackupEntry `json:"files"`
}

// BackupEntry is one file of a backup.
type BackupEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request, _ *Principal) {
	withBlobs := r.URL.Query().Get("blobs") == "true"
	w.Header().Set("Content-Type", "application/x-tar")
	if _, err := s.WriteBackup(w, withBlobs); err != nil {
		// Headers are gone; the truncated tar fails verification.
		s.log.Error("backup", "err", err)
	}
}

// WriteBackup streams a consistent backup of this node's state (and blobs)
// to w.
func (s *Server) WriteBackup(w io.Writer, withBlobs bool) (BackupManifest, error) {
	m := BackupManifest{Format: BackupFormat, CreatedAt: store.NowUTC(), NodeID: s.cfg.NodeID, Files: []BackupEntry{}}
	tmp := filepath.Join(s.dir.Hub(), "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return m, err
	}
	dir, err := os.MkdirTemp(tmp, "backup-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(dir)
	ck := filepath.Join(dir, "ck")
	if m.AppliedIndex, err = s.store.CheckpointTo(ck); err != nil {
		return m, err
	}
	tw := tar.NewWriter(w)
	add := func(name, path string) error {
		e, err := tarFile(tw, name, path)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, e)
		return nil
	}
	ents, err := os.ReadDir(ck)
	if err != nil {
		return m, err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := add("state/"+e.Name(), filepath.Join(ck, e.Name())); err != nil {
				return m, err
			}
		}
	}
	if withBlobs {
		// The blob set is read from the checkpoint so it matches the state.
		st, err := store.OpenState(ck, s.log)
		if err != nil {
			return m, err
		}
		blobs, err := st.Blobs()
		st.Close()
		if err != nil {
			return m, err
		}
		for _, b := range blobs {
			d, err := digest.Parse(b.Digest)
			if err != nil {
				return m, err
			}
			if ok, _ := s.cas.Has(d); !ok {
				if err := s.fetchBlob(s.ctx, d, b.Size, s.peerSources(b.Holders)); err != nil {
					return m, err
				}
			}
			if err := add("blobs/"+d.Hex(), s.cas.Path(d)); err != nil {
				return m, err
			}
			m.Blobs++
		}
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "MANIFEST.json", Mode: 0o644, Size: int64(len(mj)), Typeflag: tar.TypeReg, ModTime: m.CreatedAt}); err != nil {
		return m, err
	}
	if _, err := tw.Write(mj); err != nil {
		return m, err
	}
	return m, tw.Close()
}

func tarFile(tw *tar.Writer, name, path string) (BackupEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupEntry{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return BackupEntry{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: st.Size(), Typeflag: tar.TypeReg, ModTime: st.ModTime()}); err != nil {
		return BackupEntry{}, err
	}
	h := digest.New()
	n, err := io.Copy(io.MultiWriter(tw, h), f)
	if err != nil {
		return BackupEntry{}, err
	}
	return BackupEntry{Name: name, Size: n, SHA256: digest.FromHash(h).Hex()}, nil
}

// ReadBackup reads and verifies a backup, handing each state file and blob
// to fn (which may be nil) as it streams by. It returns the manifest once
// every entry matched it; fn's effects must be discarded if it fails.
func ReadBackup(r io.Reader, fn func(name string, r io.Reader) error) (BackupManifest, error) {
	var m BackupManifest
	seen := map[string]BackupEntry{}
	tr := tar.NewReader(r)
	gotManifest := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, fmt.Errorf("%w: %v", ErrBadBackup, err)
		}
		if gotManifest {
			return m, fmt.Errorf("%w: entry %q after MANIFEST.json", ErrBadBackup, h.Name)
		}
		if h.Name == "MANIFEST.json" {
			dec := json.NewDecoder(io.LimitReader(tr, 64<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return m, fmt.Errorf("%w: MANIFEST.json: %v", ErrBadBackup, err)
			}
			gotManifest = true
			continue
		}
		if h.Typeflag != tar.TypeReg || !validBackupName(h.Name) {
			return m, fmt.Errorf("%w: unexpected entry %q", ErrBadBackup, h.Name)
		}
		if _, dup := seen[h.Name]; dup {
			return m, fmt.Errorf("%w: entry %q twice", ErrBadBackup, h.Name)
		}
		hs := digest.New()
		cr := &countReader{r: io.TeeReader(tr, hs)}
		if fn != nil {
			if err := fn(h.Name, cr); err != nil {
				return m, err
			}
		}
		io.Copy(io.Discard, cr)
		seen[h.Name] = BackupEntry{Name: h.Name, Size: cr.n, SHA256: digest.FromHash(hs).Hex()}
	}
	if !gotManifest {
		return m, fmt.Errorf("%w: no MANIFEST.json (truncated?)", ErrBadBackup)
	}
	if m.Format != BackupFormat {
		return m, fmt.Errorf("%w: format %q, want %q", ErrBadBackup, m.Format, BackupFormat)
	}
	if len(m.Files) != len(seen) {
		return m, fmt.Errorf("%w: manifest lists %d files, backup holds %d", ErrBadBackup, len(m.Files), len(seen))
	}
	for _, want := range m.Files {
		got, ok := seen[want.Name]
		if !ok {
			return m, fmt.Errorf("%w: %s is missing", ErrBadBackup, want.Name)
		}
		if got != want {
			return m, fmt.Errorf("%w: %s: want sha256 %s (%d bytes), got %s (%d bytes)", ErrBadBackup, want.Name, want.SHA256, want.Size, got.SHA256, got.Size)
		}
	}
	return m, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func validBackupName(n string) bool {
	dir, file, ok := strings.Cut(n, "/")
	if !ok || strings.Contains(file, "/") {
		return false
	}
	switch dir {
	case "state":
		return file != "" && file != "." && file != ".." && !strings.ContainsAny(file, "\\\x00") && len(file) < 256
	case "blobs":
		_, err := digest.Parse(file)
		return err == nil
	}
	return false
}

// Restore rebuilds a new single node in dataDir from a backup: it verifies
// everything, puts blobs into the content store (each verified by its
// name) and installs the state as the node's FSM and as a Raft snapshot
// whose configuration is nodeID at raftAddr alone. `hub serve` with the
// same --node-id and --raft then leads a one-node cluster that can grow
// with --join. dataDir must hold no hub state.
// A failed restore removes the data directory if it created it.
func Restore(r io.Reader, dataDir, nodeID, raftAddr string) (_ BackupManifest, err error) {
	dir, err := datadir.Create(dataDir)
	if err != nil {
		return BackupManifest{}, err
	}
	defer func() {
		if err != nil {
			dir.Discard()
		}
	}()
	for _, p := range []string{filepath.Join(dir.Hub(), "fsm"), filepath.Join(dir.Hub(), "raft.db")} {
		if _, err := os.Stat(p); err == nil {
			return BackupManifest{}, fmt.Errorf("%s exists: restore needs a data directory without hub state", p)
		}
	}
	blobs, err := cas.Open(dir.CAS())
	if err != nil {
		return BackupManifest{}, err
	}
	if err := os.MkdirAll(dir.Hub(), 0o750); err != nil {
		return BackupManifest{}, err
	}
	tmp, err := os.MkdirTemp(dir.Hub(), "restore-")
	if err != nil {
		return BackupManifest{}, err
	}
	defer os.RemoveAll(tmp)
	ck := filepath.Join(tmp, "ck")
	if err := os.MkdirAll(ck, 0o750); err != nil {
		return BackupManifest{}, err
	}
	m, err := ReadBackup(r, func(name string, rd io.Reader) error {
		kind, file, _ := strings.Cut(name, "/")
		if kind == "blobs" {
			_, _, err := blobs.Put(context.Background(), rd, digest.Digest(file), -1)
			return err
		}
		f, err := atomicfile.Create(filepath.Join(ck, file), 0o640)
		if err != nil {
			return err
		}
		defer f.Abort()
		if _, err := io.Copy(f, rd); err != nil {
			return err
		}
		return f.Commit()
	})
	if err != nil {
		return m, err
	}
	if err := atomicfile.SyncDir(ck); err != nil {
		return m, err
	}
	if _, err := store.InstallState(dir.Hub(), ck, nodeID, raftAddr); err != nil {
		return m, err
	}
	return m, nil
}
