package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Result is what the FSM returns for each command log entry.
type Result struct {
	Value any
	Err   error
}

// FSM is the Raft state machine: it decodes log entries and hands them to
// the Processor, writing one Pebble batch (with the applied index) per Raft
// apply batch, synced, so a crash never loses an applied entry nor applies
// one twice.
type FSM struct {
	state   *State
	proc    Processor
	log     *slog.Logger
	tmp     string // scratch directory for checkpoints and restores
	onApply func(d time.Duration)

	mu     sync.Mutex
	halted error
}

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// NewFSM returns an FSM over state; tmp is a scratch directory on the same
// file system.
func NewFSM(state *State, tmp string, l *slog.Logger) *FSM {
	return &FSM{state: state, tmp: tmp, log: l}
}

// Halted returns the error that halted the FSM, or nil.
func (f *FSM) Halted() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.halted
}

// Apply applies one entry.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies entries in order in one synced Pebble batch.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	start := time.Now()
	out := make([]any, len(logs))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state.mu.RLock()
	defer f.state.mu.RUnlock()
	db := f.state.db
	applied, err := getUint(db, keyApplied)
	if err != nil {
		panic(fmt.Sprintf("read applied index: %v", err))
	}
	b := db.NewIndexedBatch()
	defer b.Close()
	pb := pebbleBatch{b}
	last := applied
	for i, l := range logs {
		if f.halted != nil {
			out[i] = Result{Err: fmt.Errorf("%w: %v", ErrHalted, f.halted)}
			continue
		}
		if l.Index <= applied {
			out[i] = Result{} // already in the state: a replay after restart
			continue
		}
		if l.Type == raft.LogCommand {
			var cmd Command
			if err := json.Unmarshal(l.Data, &cmd); err != nil {
				// Undecodable bytes are treated like an unknown command:
				// refuse and halt rather than guess.
				f.halted = fmt.Errorf("log %d: undecodable command: %w", l.Index, err)
				f.log.Error("state machine halted", "index", l.Index, "err", f.halted)
				out[i] = Result{Err: f.halted}
				continue
			}
			v, err := f.proc.Process(pb, cmd)
			var uc *UnsupportedCommandError
			if errors.As(err, &uc) {
				f.halted = fmt.Errorf("log %d: %w", l.Index, err)
				f.log.Error("state machine halted", "index", l.Index, "err", f.halted)
				out[i] = Result{Err: err}
				continue
			}
			out[i] = Result{Value: v, Err: err}
		}
		last = l.Index
	}
	if last != applied {
		if err := setUint(pb, keyApplied, last); err != nil {
			panic(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			// The state can no longer follow the log: stopping is the only
			// safe answer (Raft replays on restart).
			panic(fmt.Sprintf("commit state batch: %v", err))
		}
	}
	if f.onApply != nil {
		f.onApply(time.Since(start))
	}
	return out
}

// Snapshot takes a Pebble checkpoint; Persist streams it as a tar.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.Halted(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHalted, err)
	}
	if err := os.MkdirAll(f.tmp, 0o750); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(f.tmp, "snap-")
	if err != nil {
		return nil, err
	}
	ck := filepath.Join(dir, "ck")
	if err := f.state.Checkpoint(ck); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return &fsmSnapshot{dir: dir, ck: ck}, nil
}

type fsmSnapshot struct{ dir, ck string }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeTarDir(sink, s.ck); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { os.RemoveAll(s.dir) }

// Restore replaces the state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := os.MkdirAll(f.tmp, 0o750); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(f.tmp, "restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ck := filepath.Join(dir, "ck")
	if err := extractTarDir(rc, ck); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.halted = nil
	return f.state.ReplaceFrom(ck)
}

// appliedFromCheckpoint reads the applied index of a checkpoint directory.
func appliedFromCheckpoint(dir string) (uint64, error) {
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: pebbleLogger{slog.Default()}})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	n, err := getUint(db, keyApplied)
	if err != nil {
		return 0, fmt.Errorf("checkpoint applied index: %v", err)
	}
	return n, nil
}
