// Package store is the hub's replicated system of record: a hashicorp/raft
// node (raft-boltdb log and stable store, file snapshots, TCP transport;
// in-memory ones for in-process tests, see RaftDeps) whose state machine
// keeps its state in Pebble. Commands are versioned JSON envelopes
// whose ids and times are chosen by the proposer; the FSM decodes them and
// delegates to Processor, which recovery tools can reuse. See
// hub/DESIGN.md for the invariants.
package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Config configures a Store.
type Config struct {
	Dir      string // state directory (DIR/hub)
	NodeID   string
	RaftAddr string // address to bind and advertise, host:port
	Logger   *slog.Logger
	// Tuning for tests; zero values take production defaults.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	Fast              bool // shorter timeouts, for in-process tests
	// ElectionTimeout, if set, is Raft's heartbeat and election timeout
	// (the leader lease is half of it) and overrides Fast (tests).
	ElectionTimeout time.Duration
	// OnApply, if set, observes the duration of each FSM apply batch.
	OnApply func(time.Duration)
	// Raft replaces Raft's transport and stores; the zero value is the
	// production node (see RaftDeps).
	Raft RaftDeps
	// TLS, if set, runs the production TCP transport over mutual TLS
	// (tlsstream.go); ignored when Raft.Transport is given.
	TLS *RaftTLS
}

// RaftDeps are the parts of a Raft node that touch the network and the
// disk. A nil field takes the production part: a TCP transport bound to
// Config.RaftAddr, raft-boltdb in DIR/raft.db as log and stable store,
// snapshot files in DIR/snapshots. The FSM's Pebble state is always on
// disk in DIR/fsm.
//
// The in-memory parts hashicorp/raft ships (raft.NewInmemTransport joined
// with Connect, raft.NewInmemStore, raft.NewInmemSnapshotStore) are for
// in-process tests only: they survive a Store's Close but not the process,
// so a node on them keeps its Raft log across a restart only when the
// test opens it again with the same stores, and its peers reach it only
// through transports connected to its own.
type RaftDeps struct {
	// Transport carries Raft's RPCs; its LocalAddr must be Config.RaftAddr.
	// The Store closes it when it closes.
	Transport raft.Transport
	// Logs and Stable are set together (an *raft.InmemStore is both).
	// They stay open when the Store closes.
	Logs   raft.LogStore
	Stable raft.StableStore
	// Snapshots stores Raft snapshots; it stays open when the Store closes.
	Snapshots raft.SnapshotStore
}

// Store is one Raft node with its FSM.
type Store struct {
	cfg   Config
	log   *slog.Logger
	raft  *raft.Raft
	fsm   *FSM
	state *State
	trans raft.Transport
	logs  raft.LogStore
	snaps raft.SnapshotStore
	// stable is Raft's stable store; bolt is the raft-boltdb store Open
	// opened as log and stable store, nil when cfg.Raft gives them.
	stable raft.StableStore
	bolt   *raftboltdb.BoltStore

	readyTerm atomic.Uint64 // term in which this leader applied a barrier
	tlsStream *tlsStream    // the mutual-TLS stream layer, when Config.TLS is set
}

// RaftTLSRefused is how many inbound Raft connections this node refused
// because their TLS handshake failed (no or a wrong client certificate);
// -1 without Raft TLS.
func (s *Store) RaftTLSRefused() int64 {
	if s.tlsStream == nil {
		return -1
	}
	return s.tlsStream.Refused()
}

// slogWriter forwards raft's hclog lines ("[LEVEL]  raft: message: k=v",
// written without a time stamp) to slog at their level, except the warnings
// that are normal while a node starts (startNoise), which go at INFO.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		level, msg := splitHclog(sc.Text())
		switch {
		case level == "ERROR":
			w.l.Error(msg)
		case level == "WARN" && !startNoise(msg):
			w.l.Warn(msg)
		default:
			w.l.Info(msg)
		}
	}
	return len(p), nil
}

// splitHclog splits an hclog line into its level and the rest.
func splitHclog(line string) (level, msg string) {
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if lv, m, ok := strings.Cut(rest, "]"); ok {
			return lv, strings.TrimSpace(m)
		}
	}
	return "", line
}

// startNoise reports whether a raft warning is one every node logs on a
// normal start, so that a single-node hub starts without a WARN: the first
// election of a node that has heard from no leader since it started (an
// empty last-leader-addr; a node that lost its leader names it, and that
// stays a warning), and a node waiting to be bootstrapped or joined.
func startNoise(msg string) bool {
	switch {
	case strings.HasPrefix(msg, "raft: heartbeat timeout reached, starting election") &&
		strings.Contains(msg+" ", "last-leader-addr= "):
		return true
	case msg == "raft: no known peers, aborting election":
		return true
	}
	return false
}

// Check refuses a set of Raft parts that cannot work together: a log
// store without a stable store (or the reverse), or a transport whose
// address is not raftAddr.
func (deps RaftDeps) Check(raftAddr string) error {
	if (deps.Logs == nil) != (deps.Stable == nil) {
		return errors.New("raft stores: Raft.Logs and Raft.Stable must be set together")
	}
	if deps.Transport != nil && string(deps.Transport.LocalAddr()) != raftAddr {
		return fmt.Errorf("raft transport: its address %q is not RaftAddr %q", deps.Transport.LocalAddr(), raftAddr)
	}
	return nil
}

// Open opens or creates the node's state under cfg.Dir and starts Raft. It
// does not bootstrap; call Bootstrap for a new cluster.
func Open(cfg Config) (*Store, error) {
	l := cfg.Logger
	if l == nil {
		l = slog.Default()
	}
	l = l.With("node", cfg.NodeID)
	deps := cfg.Raft
	if err := deps.Check(cfg.RaftAddr); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: l}
	var err error
	s.state, err = OpenState(filepath.Join(cfg.Dir, "fsm"), l)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		s.closeStores()
		return nil, err
	}
	hl := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{l}, DisableTime: true})
	s.logs, s.stable = deps.Logs, deps.Stable
	if s.logs == nil {
		s.bolt, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
		if err != nil {
			return fail(fmt.Errorf("raft log %s: %w", cfg.Dir, err))
		}
		s.logs, s.stable = s.bolt, s.bolt
	}
	s.snaps = deps.Snapshots
	if s.snaps == nil {
		s.snaps, err = raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.Dir, "snapshots"), 2, hl)
		if err != nil {
			return fail(err)
		}
	}
	s.trans = deps.Transport
	if s.trans == nil && cfg.TLS != nil {
		stream, err := newTLSStream(cfg.RaftAddr, cfg.TLS, l)
		if err != nil {
			return fail(err)
		}
		s.tlsStream = stream
		s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: stream, MaxPool: 5, Timeout: 10 * time.Second, Logger: hl})
	}
	if s.trans == nil {
		addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
		if err != nil {
			return fail(fmt.Errorf("raft address %q: %w", cfg.RaftAddr, err))
		}
		s.trans, err = raft.NewTCPTransportWithLogger(cfg.RaftAddr, addr, 5, 10*time.Second, hl)
		if err != nil {
			return fail(fmt.Errorf("raft transport %s: %w", cfg.RaftAddr, err))
		}
	}
	s.fsm = NewFSM(s.state, filepath.Join(cfg.Dir, "tmp"), l)
	s.fsm.onApply = cfg.OnApply
	os.RemoveAll(filepath.Join(cfg.Dir, "tmp"))

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hl
	rc.SnapshotThreshold = 8192
	rc.SnapshotInterval = 2 * time.Minute
	rc.TrailingLogs = 10240
	switch {
	case cfg.ElectionTimeout > 0:
		rc.HeartbeatTimeout = cfg.ElectionTimeout
		rc.ElectionTimeout = cfg.ElectionTimeout
		rc.LeaderLeaseTimeout = cfg.ElectionTimeout / 2
		rc.CommitTimeout = 5 * time.Millisecond
	case cfg.Fast:
		rc.HeartbeatTimeout = 700 * time.Millisecond
		rc.ElectionTimeout = 700 * time.Millisecond
		rc.LeaderLeaseTimeout = 350 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	// The Pebble state survives restarts with its applied index, so a
	// snapshot is restored at start only when the state is behind it (or
	// was lost).
	applied, err := s.state.Applied()
	if err != nil {
		return fail(err)
	}
	if metas, err := s.snaps.List(); err == nil && len(metas) > 0 && applied >= metas[0].Index {
		rc.NoSnapshotRestoreOnStart = true
	}
	s.raft, err = raft.NewRaft(rc, s.fsm, s.logs, s.stable, s.snaps, s.trans)
	if err != nil {
		return fail(err)
	}
	return s, nil
}

func (s *Store) closeStores() {
	s.closeTransport()
	if s.bolt != nil {
		s.bolt.Close()
	}
	if s.state != nil {
		s.state.Close()
	}
}

// HasState reports whether this node already has Raft state (so it must
// not bootstrap or join again).
func (s *Store) HasState() (bool, error) {
	return raft.HasExistingState(s.logs, s.stable, s.snaps)
}

// Bootstrap makes this node a one-member cluster if it has no Raft state;
// otherwise it does nothing.
func (s *Store) Bootstrap() error {
	has, err := s.HasState()
	if err != nil || has {
		return err
	}
	f := s.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
		ID: raft.ServerID(s.cfg.NodeID), Address: raft.ServerAddress(s.cfg.RaftAddr), Suffrage: raft.Voter,
	}}})
	return f.Error()
}

// State returns the FSM state for reads. Reads through it are local: call
// VerifyRead first for a linearizable read.
func (s *Store) State() *State { return s.state }

// FSM returns the state machine.
func (s *Store) FSM() *FSM { return s.fsm }

// IsLeader reports whether this node believes it is the leader.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the leader's Raft address and id, empty when unknown.
func (s *Store) Leader() (addr, id string) {
	a, i := s.raft.LeaderWithID()
	return string(a), string(i)
}

// Apply proposes cmd and waits for it to be applied on this (leader) node.
// It returns the command's result value, a domain error from the
// processor, or ErrNotLeader. A write whose outcome is unknown (leadership
// lost after proposing) returns raft.ErrLeadershipLost and may or may not
// have been applied; callers must treat it as ambiguous.
func (s *Store) Apply(ctx context.Context, cmd Command) (any, error) {
	if f := s.fsm.Halted(); f != nil {
		return nil, fmt.Errorf("%w: %v", ErrHalted, f)
	}
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	fut := s.raft.Apply(b, timeout)
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return nil, ErrNotLeader
		}
		return nil, err
	}
	r, ok := fut.Response().(Result)
	if !ok {
		return nil, fmt.Errorf("unexpected apply response %T", fut.Response())
	}
	return r.Value, r.Err
}

// VerifyRead makes the next local read linearizable: it confirms this node
// is still the leader and that it has applied everything committed before
// its term began.
func (s *Store) VerifyRead(ctx context.Context) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	term := s.raft.CurrentTerm()
	if s.readyTerm.Load() != term {
		if err := s.raft.Barrier(5 * time.Second).Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				return ErrNotLeader
			}
			return err
		}
		s.readyTerm.Store(term)
	}
	if err := s.raft.VerifyLeader().Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return ErrNotLeader
		}
		return err
	}
	if f := s.fsm.Halted(); f != nil {
		return fmt.Errorf("%w: %v", ErrHalted, f)
	}
	return nil
}

// AddVoter adds (or re-adds) a voting member. Leader only.
func (s *Store) AddVoter(id, addr string) error {
	err := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 30*time.Second).Error()
	if errors.Is(err, raft.ErrNotLeader) {
		return ErrNotLeader
	}
	return err
}

// RemoveServer removes a member. Leader only.
func (s *Store) RemoveServer(id string) error {
	err := s.raft.RemoveServer(raft.ServerID(id), 0, 30*time.Second).Error()
	if errors.Is(err, raft.ErrNotLeader) {
		return ErrNotLeader
	}
	return err
}

// Servers returns the latest Raft configuration.
func (s *Store) Servers() ([]raft.Server, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	return f.Configuration().Servers, nil
}

// Status is a node's Raft view.
type Status struct {
	NodeID       string `json:"node_id"`
	LeaderID     string `json:"leader_id"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Halted       string `json:"halted,omitempty"`
}

// Status returns this node's Raft view.
func (s *Store) Status() Status {
	_, id := s.Leader()
	st := Status{
		NodeID: s.cfg.NodeID, LeaderID: id, State: strings.ToLower(s.raft.State().String()),
		Term: s.raft.CurrentTerm(), CommitIndex: s.raft.CommitIndex(), AppliedIndex: s.raft.AppliedIndex(),
	}
	if h := s.fsm.Halted(); h != nil {
		st.Halted = h.Error()
	}
	return st
}

// RaftState returns the numeric raft state (0 follower, 1 candidate, 2
// leader, 3 shutdown).
func (s *Store) RaftState() raft.RaftState { return s.raft.State() }

// Snapshot forces a Raft snapshot (tests and operators).
func (s *Store) Snapshot() error { return s.raft.Snapshot().Error() }

// WaitLeader waits until some leader is known or ctx ends.
func (s *Store) WaitLeader(ctx context.Context) (string, error) {
	for {
		if _, id := s.Leader(); id != "" {
			return id, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops Raft and closes the stores. It does not remove the node from
// the cluster.
func (s *Store) Close() error {
	f := s.raft.Shutdown()
	// Raft does not close its transport. Closing it releases peers whose
	// pipelines wait on this node's connections; without it a stopped
	// node's connection handlers block them for ever.
	s.closeTransport()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		s.closeStores()
		return err
	case <-time.After(shutdownGrace):
	}
	// A replication pipeline can still wait on a half-open connection to a
	// dead peer: drop every pooled connection and wait once more.
	if ns, ok := s.trans.(interface{ CloseStreams() }); ok {
		ns.CloseStreams()
	}
	select {
	case err := <-done:
		s.closeStores()
		return err
	case <-time.After(shutdownGrace):
		// Raft goroutines may still touch the stores: leave them open.
		return fmt.Errorf("raft shutdown did not finish within %v", 2*shutdownGrace)
	}
}

// closeTransport closes the transport if it can be closed (every
// transport hashicorp/raft ships can).
func (s *Store) closeTransport() {
	if c, ok := s.trans.(io.Closer); ok {
		c.Close()
	}
}

// shutdownGrace bounds each wait for Raft to stop.
const shutdownGrace = 5 * time.Second

// CheckpointTo writes a consistent Pebble checkpoint of the state into dir
// (which must not exist) and returns the applied index it holds.
func (s *Store) CheckpointTo(dir string) (uint64, error) {
	if err := s.state.Checkpoint(dir); err != nil {
		return 0, err
	}
	return appliedFromCheckpoint(dir)
}

// InstallState makes hubDir the state of a new one-node cluster from the
// Pebble checkpoint in ckDir (consumed): the checkpoint becomes the FSM
// state (old node records dropped), and a Raft snapshot of it at its
// applied index, whose configuration is this node alone, is written so that
// members added later receive the state by InstallSnapshot. hubDir must
// hold no hub state yet.
func InstallState(hubDir, ckDir, nodeID, raftAddr string) (uint64, error) {
	fsm := filepath.Join(hubDir, "fsm")
	for _, p := range []string{fsm, filepath.Join(hubDir, "raft.db"), filepath.Join(hubDir, "snapshots")} {
		if _, err := os.Stat(p); err == nil {
			return 0, fmt.Errorf("%s exists: restore needs an empty hub directory", p)
		}
	}
	st, err := OpenState(ckDir, nil)
	if err != nil {
		return 0, err
	}
	if err := st.dropNodes(); err != nil {
		st.Close()
		return 0, err
	}
	index, err := st.Applied()
	if err == nil && index == 0 {
		index = 1
		err = st.read(func(db *pebble.DB) error {
			return db.Set(keyApplied, binary.BigEndian.AppendUint64(nil, 1), pebble.Sync)
		})
	}
	if err != nil {
		st.Close()
		return 0, err
	}
	if err := st.Close(); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(hubDir, 0o750); err != nil {
		return 0, err
	}
	if err := os.Rename(ckDir, fsm); err != nil {
		return 0, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(hubDir, "snapshots"), 2, hclog.NewNullLogger())
	if err != nil {
		return 0, err
	}
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(nodeID), Address: raft.ServerAddress(raftAddr)}}}
	// The transport only encodes the legacy peer list of the snapshot meta.
	_, enc := raft.NewInmemTransport(raft.ServerAddress(raftAddr))
	defer enc.Close()
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, conf, 1, enc)
	if err != nil {
		return 0, err
	}
	if err := writeTarDir(sink, fsm); err != nil {
		sink.Cancel()
		return 0, err
	}
	if err := sink.Close(); err != nil {
		return 0, err
	}
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(hubDir, "raft.db")})
	if err != nil {
		return 0, err
	}
	if err := logs.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		logs.Close()
		return 0, err
	}
	return index, logs.Close()
}

// Transfer hands leadership to another voter (graceful shutdown).
func (s *Store) Transfer() error { return s.raft.LeadershipTransfer().Error() }
