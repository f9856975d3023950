package hub

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
)

// Opening a node's data directory: the lock, the ports, the state, and
// removing what a failed start created.

// lockFile is DIR/hub/lock, held by the one hub process serving DIR.
const lockFile = "lock"

// open takes the data directory (creating it on a first start), its lock
// and the HTTP listener, then opens the stores. The lock and the ports come
// first, so that a second hub on the same directory or a busy port is
// refused before any state is created; whatever open created is removed
// again when it fails.
func (s *Server) open() (err error) {
	cfg := s.cfg
	if s.dir, err = datadir.Create(cfg.DataDir); err != nil {
		return err
	}
	_, statErr := os.Stat(s.dir.Hub())
	s.hubCreated = errors.Is(statErr, os.ErrNotExist)
	_, statErr = os.Stat(s.dir.CAS())
	s.casCreated = errors.Is(statErr, os.ErrNotExist)
	var ownLn bool
	defer func() {
		if err == nil {
			return
		}
		if s.store != nil {
			s.store.Close()
		}
		if ownLn {
			s.ln.Close()
		}
		s.release()
		s.discard()
	}()
	if err := os.MkdirAll(s.dir.Hub(), 0o750); err != nil {
		return err
	}
	if s.unlock, err = datadir.Lock(filepath.Join(s.dir.Hub(), lockFile)); err != nil {
		return s.busy(err)
	}
	s.ln = cfg.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return addrError("http", "--http", cfg.HTTPAddr, err)
		}
		ownLn = true
	}
	// The Raft transport binds its address inside store.Open, after the
	// state is opened: try it first so a busy port creates no state.
	if err := cfg.Raft.Check(cfg.RaftAddr); err != nil {
		return err
	}
	// An in-memory transport (tests) has no port to probe.
	if cfg.Raft.Transport == nil {
		probe, err := net.Listen("tcp", cfg.RaftAddr)
		if err != nil {
			return addrError("raft", "--raft", cfg.RaftAddr, err)
		}
		probe.Close()
	}
	if s.cas, err = cas.Open(s.dir.CAS()); err != nil {
		return err
	}
	s.metrics = newMetrics()
	s.store, err = store.Open(store.Config{
		Dir: s.dir.Hub(), NodeID: cfg.NodeID, RaftAddr: cfg.RaftAddr, Logger: cfg.Logger, Fast: cfg.Fast,
		SnapshotThreshold: cfg.SnapshotThreshold, TrailingLogs: cfg.TrailingLogs,
		ElectionTimeout: cfg.ElectionTimeout, Raft: cfg.Raft, TLS: raftTLS(cfg),
		OnApply: func(d time.Duration) { s.metrics.fsmApply.Observe(d.Seconds()) },
	})
	if err != nil {
		// A process that does not take DIR/hub/lock (an older eucora)
		// still holds Pebble's and bolt's file locks.
		if datadir.IsLockHeld(err) {
			return s.busy(&datadir.BusyError{File: s.dir.Hub()})
		}
		return err
	}
	s.metrics.register(s.store)
	return nil
}

// BusyError is New refused because another hub process holds the data
// directory. errors.Is(err, datadir.ErrBusy) holds.
type BusyError struct {
	DataDir string
	Lock    *datadir.BusyError
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("another hub process holds %s (%s); stop it or use another --data", e.DataDir, e.Lock.Holder())
}

func (e *BusyError) Unwrap() error { return e.Lock }

// busy is the refusal of a data directory another hub process holds.
func (s *Server) busy(err error) error {
	var be *datadir.BusyError
	if !errors.As(err, &be) {
		return err
	}
	return &BusyError{DataDir: s.dir.Root, Lock: be}
}

// addrError explains a failed bind; a busy port is named as such.
func addrError(what, flag, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s address %s is already in use (another hub or another program listens there): stop it or give another %s: %w", what, addr, flag, err)
	}
	return fmt.Errorf("%s listen %s: %w", what, addr, err)
}

// abandon shuts down a node whose start failed after open and removes what
// this start created. It returns err.
func (s *Server) abandon(err error) error {
	s.Close()
	s.discard()
	return err
}

// discard removes, after a failed start, the data directory if this start
// created it, or else the DIR/hub (and empty DIR/cas) it created, leaving
// everything else alone.
func (s *Server) discard() {
	if s.dir.Created() {
		if err := s.dir.Discard(); err != nil {
			s.log.Warn("data directory not removed after a failed start", "err", err)
		}
		return
	}
	if s.hubCreated {
		os.RemoveAll(s.dir.Hub())
	}
	if s.casCreated {
		datadir.RemoveEmpty(s.dir.CAS())
	}
}

// release drops DIR/hub/lock.
func (s *Server) release() {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}
