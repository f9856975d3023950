package hub

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/oklog/ulid/v2"
	"golang.org/x/time/rate"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/hub/rollout"
	"github.com/eucora/eucora/hub/sitesync"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/httpserve"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/tlsconf"
)

// Defaults of `eucora hub serve` with no flags.
const (
	DefaultHTTPAddr = "127.0.0.1:8440"
	DefaultRaftAddr = "127.0.0.1:8441"
	DefaultNodeID   = "node1"
	// DeniedEventsPerSecond bounds how many denied or refused anonymous
	// requests (no token, unknown or revoked token, bad peer credentials)
	// per second a node records as audit events; the rest are counted in
	// eucora_hub_denied_events_dropped_total. Denials of authenticated
	// callers never share this budget (see ActorDeniedEventsPerSecond).
	DeniedEventsPerSecond = 50
	// ActorDeniedEventsPerSecond is the per-caller budget of denials
	// recorded one by one; beyond it a caller's denials are counted and
	// recorded in one aggregate event per caller (action denied.aggregate,
	// with the count) at the next duty tick, so none goes unaudited.
	ActorDeniedEventsPerSecond = 10
	// BootstrapTokenFile is written (0600) under the data directory on the
	// first bootstrap.
	BootstrapTokenFile = "bootstrap.token"
)

// Errors of the server's lifecycle.
var (
	// ErrJoin is returned when joining a cluster failed for good.
	ErrJoin = errors.New("join failed")
)

// Config configures a hub node.
type Config struct {
	DataDir   string
	HTTPAddr  string // address to bind; advertised to peers as http://HTTPAddr
	RaftAddr  string
	NodeID    string
	Bootstrap bool   // make a one-node cluster if this node has no state
	Join      string // URL of any member to join through, if no state
	JoinToken string // platform-admin token for Join
	Logger    *slog.Logger
	// Listener, if set, is used instead of binding HTTPAddr (tests).
	Listener net.Listener
	// Fast shortens Raft timeouts (tests).
	Fast              bool
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// ElectionTimeout, if set, overrides Fast's Raft timeouts (tests;
	// see store.Config).
	ElectionTimeout time.Duration
	// Raft replaces Raft's transport and stores with in-memory ones
	// (in-process tests only; see store.RaftDeps). HTTP, blobs and the
	// FSM state stay as they are.
	Raft store.RaftDeps
	// DutyInterval is how often background duties run (default 1s).
	DutyInterval time.Duration
	// LargeBodies is how many large request bodies (imports, event
	// batches) a node reads at once (default 1); others wait their turn.
	LargeBodies int
	// HTTPLimits are the API's transport limits (timeouts, connection
	// caps); zero fields take the internal/httpserve defaults.
	HTTPLimits httpserve.Options
	// Version is the binary's version, recorded in SBOMs and provenance
	// (default "dev").
	Version string
	// RolloutInterval is how often the leader's orchestrator sweeps the
	// rollouts (default 5 s; negative: never, for tests that step it).
	RolloutInterval time.Duration
	// ReconcileInterval is how often each deployed release is compared
	// with its plane (default 1 minute).
	ReconcileInterval time.Duration
	// PlaneBackoff is the first pause of a plane's promotions after it
	// was unavailable (default 15 s, doubling to 30 min).
	PlaneBackoff time.Duration
	// TLS, if set, serves the API over TLS and runs Raft and every
	// node-to-node call over mutual TLS against its CA (hub/tls.go).
	TLS *tlsconf.Material
	// InsecureHTTP accepts bearer tokens over plaintext HTTP on a
	// non-loopback listener (refused otherwise).
	InsecureHTTP bool
}

// Server is one running hub node.
type Server struct {
	cfg     Config
	log     *slog.Logger
	dir     datadir.Dir
	store   *store.Store
	cas     *cas.Store
	httpSrv *http.Server
	ln      net.Listener
	self    string // advertised base URL
	metrics *metrics
	cluster *cluster // propose, forwarding, peer calls (hub/cluster.go)
	mux     *http.ServeMux

	siteSync *sitesync.Syncer // plans, writes and finds exports, verifies imports
	console  *console         // the web console's pages and sessions (hub/console.go)

	verified  sync.Map      // blob hex -> struct{}: verified since start
	denyLimit *rate.Limiter // budget for recording anonymous denied requests
	denials   actorDenials  // per-caller budgets and aggregates (hub/audit.go)
	large     chan struct{} // turns to read a large body (hub/bodies.go)

	// Background duties skip work whose inputs did not change:
	// blobsRepaired is the last repair pass that left no blob missing,
	// keyOnDisk the id of the key DIR/keys/hub.key was last seen or
	// written with.
	blobsRepaired atomic.Pointer[repairPass]
	keyOnDisk     atomic.Pointer[string]

	credKey credentialsKey // plane credentials key (hub/planes.go)
	orch    struct {       // the leader's orchestrator (hub/rollouts.go)
		sync.Mutex
		o *rollout.Orchestrator
	}
	vulns   vulnCache // the current vulnerability feed's index (hub/factory_vuln.go)
	packKey struct {  // this node's packaging key (hub/factory.go)
		sync.Mutex
		key *signing.PrivateKey
	}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{}
	once   sync.Once
	unlock func() // releases DIR/hub/lock

	// hubCreated and casCreated: this start made DIR/hub, DIR/cas (a
	// failed start removes them again).
	hubCreated, casCreated bool
}

// New opens the node's state, starts Raft and the HTTP API, and bootstraps
// or joins as configured. It returns once serving; Ready reports when the
// node knows a leader.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DutyInterval == 0 {
		cfg.DutyInterval = time.Second
	}
	if cfg.LargeBodies <= 0 {
		cfg.LargeBodies = 1
	}
	if cfg.RolloutInterval == 0 {
		cfg.RolloutInterval = 5 * time.Second
	}
	if err := checkTLSConfig(cfg); err != nil {
		return nil, err
	}
	if !store.ValidName(cfg.NodeID) {
		return nil, fmt.Errorf("node id %q: want 1-63 characters of a-z, 0-9, '.', '_', '-'", cfg.NodeID)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID), ready: make(chan struct{}),
		denyLimit: rate.NewLimiter(rate.Limit(DeniedEventsPerSecond), 2*DeniedEventsPerSecond),
		large:     make(chan struct{}, cfg.LargeBodies)}
	if err := s.open(); err != nil {
		return nil, err
	}
	s.self = s.scheme() + s.ln.Addr().String()
	pt := peerTransport(cfg)
	s.cluster = &cluster{store: s.store, nodeID: cfg.NodeID, peer: &http.Client{Timeout: 5 * time.Minute, Transport: pt}, transport: pt, apply: s.metrics.apply}
	s.siteSync = sitesync.New(sitesync.Config{NodeID: cfg.NodeID, Dir: filepath.Join(s.dir.Hub(), "exports"), MirrorDir: s.dir.Mirror(),
		CAS: s.cas, Key: s.hubKey, State: s.store.State(), Proposer: sitesync.ProposeFunc(s.cluster.propose)})
	s.mux = s.routes()
	if cfg.HTTPLimits.ErrorLog == nil {
		cfg.HTTPLimits.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	}
	s.cfg.HTTPLimits = cfg.HTTPLimits
	s.httpSrv = httpserve.Server(s.plaintextGuard(s.mux), cfg.HTTPLimits)
	s.logTransport()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.serveHTTP(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()

	has, err := s.store.HasState()
	if err != nil {
		return nil, s.abandon(err)
	}
	switch {
	case !has && cfg.Join != "":
		if err := s.join(); err != nil {
			return nil, s.abandon(err)
		}
	case !has && cfg.Bootstrap:
		if err := s.store.Bootstrap(); err != nil {
			return nil, s.abandon(err)
		}
		s.log.Info("bootstrapped a new cluster")
	}
	s.wg.Add(2)
	go s.duties(cfg.Bootstrap)
	go s.rollouts()
	s.log.Info("hub serving", "http", s.self, "raft", cfg.RaftAddr, "data", s.dir.Root)
	return s, nil
}

// URL returns the node's advertised HTTP base URL.
func (s *Server) URL() string { return s.self }

// Store returns the node's store.
func (s *Server) Store() *store.Store { return s.store }

// Ready is closed once the node knows a leader and its own record is in
// the state.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// NotifySystemd tells systemd (if it supervises us) that the hub is ready.
func NotifySystemd() { daemon.SdNotify(false, daemon.SdNotifyReady) }

// Close shuts the node down gracefully: leadership is handed over when
// there are peers, HTTP drains, Raft stops.
func (s *Server) Close() error {
	s.cancel()
	if s.store.IsLeader() {
		if srv, err := s.store.Servers(); err == nil && len(srv) > 1 {
			_ = s.store.Transfer()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.httpSrv.Shutdown(ctx)
	s.wg.Wait()
	err := s.store.Close()
	s.release()
	return err
}

// crash stops the node abruptly, as a kill would: no leadership transfer,
// no draining (tests).
func (s *Server) crash() {
	s.cancel()
	s.httpSrv.Close()
	s.wg.Wait()
	s.store.Close()
	s.release()
}

func (s *Server) join() error {
	c := client.New(s.cfg.Join, s.cfg.JoinToken)
	c.HTTP.Transport = s.cluster.transport
	req := api.JoinRequest{NodeID: s.cfg.NodeID, RaftAddr: s.cfg.RaftAddr, HTTPAddr: s.self}
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
		err := c.Join(ctx, req)
		cancel()
		if err == nil {
			s.log.Info("joined cluster", "via", s.cfg.Join)
			return nil
		}
		if isCertError(err) {
			return fmt.Errorf("%w through %s: %v (a node joins with --tls-cert, --tls-key and --tls-ca of the cluster's CA: docs/tls.md)", ErrJoin, s.cfg.Join, err)
		}
		if errors.Is(err, client.ErrDenied) || attempt >= 30 {
			return fmt.Errorf("%w through %s: %v", ErrJoin, s.cfg.Join, err)
		}
		s.log.Warn("join attempt failed; retrying", "err", err, "attempt", attempt)
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 3*time.Second)
	}
}

// duties runs the node's background work: bootstrap identity and token,
// the node's own record, pruning removed members, materialising the hub
// key, and repairing missing blobs.
func (s *Server) duties(bootstrap bool) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.DutyInterval)
	defer t.Stop()
	quick := time.NewTicker(50 * time.Millisecond)
	defer quick.Stop()
	bootDone := !bootstrap
	for {
		if s.store.IsLeader() {
			if err := s.ensureChainRule(); err != nil && !errors.Is(err, store.ErrNotLeader) {
				s.log.Warn("event chain rule", "err", err)
			}
			if !bootDone {
				if err := s.ensureBootstrap(); err != nil {
					s.log.Error("bootstrap identity", "err", err)
				} else {
					bootDone = true
				}
			}
			if err := s.leaderDuties(); err != nil && !errors.Is(err, store.ErrNotLeader) {
				s.log.Warn("leader duties", "err", err)
			}
		}
		s.materialiseKey()
		if !s.isReady() {
			if _, id := s.store.Leader(); id != "" {
				if _, err := s.store.State().Node(s.cfg.NodeID); err == nil {
					s.once.Do(func() { close(s.ready) })
				}
			}
		}
		s.repairBlobs()
		s.flushDenials()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-quick.C:
			// Until ready, look more often.
			if s.isReady() {
				continue
			}
		}
	}
}

func (s *Server) isReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// ensureBootstrap creates the hub identity and the first platform-admin
// token once per cluster. Both steps are idempotent across crashes.
func (s *Server) ensureBootstrap() error {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	st := s.store.State()
	if _, err := st.Identity(); errors.Is(err, store.ErrNotFound) {
		keyPath := filepath.Join(s.dir.Keys(), "hub.key")
		k, err := signing.LoadPrivate(keyPath)
		if err != nil {
			if _, statErr := os.Stat(keyPath); statErr == nil {
				return err
			}
			if k, err = signing.Generate(); err != nil {
				return err
			}
			if _, _, err := signing.WriteKeyPair(s.dir.Keys(), "hub", k); err != nil {
				return err
			}
		}
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return err
		}
		id := store.Identity{
			KeyID: k.ID, PrivatePEM: string(keyPEM), PublicPEM: string(signing.EncodePublic(k.Public())),
			PeerSecret: randomSecret(), CreatedAt: store.NowUTC(),
		}
		cmd, err := store.NewCommand(store.CmdIdentityInit, id, s.systemAudit("identity.init", "hub/identity"))
		if err != nil {
			return err
		}
		if _, err := s.store.Apply(ctx, cmd); err != nil {
			return err
		}
		s.log.Info("hub signing key created", "key_id", k.ID, "path", keyPath)
	} else if err != nil {
		return err
	}
	toks, err := st.Tokens()
	if err != nil || len(toks) > 0 {
		return err
	}
	secret := "euc_" + randomSecret()
	tok := store.Token{
		ID: ulid.Make().String(), Name: "bootstrap", Role: deploy.RolePlatformAdmin,
		Hash: hashToken(secret), CreatedAt: store.NowUTC(), CreatedBy: "bootstrap",
	}
	cmd, err := store.NewCommand(store.CmdTokenCreate, tok, s.systemAudit(store.CmdTokenCreate, "token/"+tok.ID))
	if err != nil {
		return err
	}
	if _, err := s.store.Apply(ctx, cmd); err != nil {
		return err
	}
	path := filepath.Join(s.dir.Root, BootstrapTokenFile)
	if err := atomicfile.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	s.log.Info("platform-admin bootstrap token written; keep it secret", "path", path)
	return nil
}

func (s *Server) systemAudit(action, object string) *store.AuditInput {
	return &store.AuditInput{ID: ulid.Make().String(), Time: store.NowUTC(), Actor: "node:" + s.cfg.NodeID, Action: action, Object: object}
}

// leaderDuties keeps node records in line with the Raft configuration.
func (s *Server) leaderDuties() error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if n, err := s.store.State().Node(s.cfg.NodeID); err != nil || n.HTTPAddr != s.self || n.RaftAddr != s.cfg.RaftAddr {
		cmd, _ := store.NewCommand(store.CmdNodeUpsert, store.Node{ID: s.cfg.NodeID, RaftAddr: s.cfg.RaftAddr, HTTPAddr: s.self}, nil)
		if _, err := s.store.Apply(ctx, cmd); err != nil {
			return err
		}
	}
	servers, err := s.store.Servers()
	if err != nil {
		return err
	}
	in := map[string]bool{}
	for _, sv := range servers {
		in[string(sv.ID)] = true
	}
	nodes, err := s.store.State().Nodes()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if !in[n.ID] {
			cmd, _ := store.NewCommand(store.CmdNodeRemove, store.NodeRemoveBody{ID: n.ID}, nil)
			if _, err := s.store.Apply(ctx, cmd); err != nil {
				return err
			}
		}
	}
	return nil
}

// materialiseKey writes the replicated hub key to DIR/keys/hub.key on
// nodes that lack it, so any leader can sign. The disk is read only when
// the identity names a key other than the one last seen there.
func (s *Server) materialiseKey() {
	keyPath := filepath.Join(s.dir.Keys(), "hub.key")
	id, err := s.store.State().Identity()
	if err != nil {
		return
	}
	if last := s.keyOnDisk.Load(); last != nil && *last == id.KeyID {
		return
	}
	if k, err := signing.LoadPrivate(keyPath); err == nil && k.ID == id.KeyID {
		s.keyOnDisk.Store(&k.ID)
		return // up to date (a key switch replaces it)
	}
	k, err := signing.ParsePrivate([]byte(id.PrivatePEM), "hub identity")
	if err != nil {
		s.log.Error("replicated hub key unreadable", "err", err)
		return
	}
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		if _, _, err := signing.WriteKeyPair(s.dir.Keys(), "hub", k); err != nil {
			s.log.Warn("write hub key", "err", err)
			return
		}
		s.keyOnDisk.Store(&k.ID)
		return
	}
	// The identity switched keys: replace the files (private first).
	if err := atomicfile.WriteFile(keyPath, []byte(id.PrivatePEM), 0o600); err != nil {
		s.log.Warn("write hub key", "err", err)
		return
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir.Keys(), "hub.pub"), signing.EncodePublic(k.Public()), 0o644); err != nil {
		s.log.Warn("write hub public key", "err", err)
		return
	}
	s.keyOnDisk.Store(&k.ID)
	s.log.Info("hub signing key replaced after a key switch", "key_id", k.ID)
}

func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
