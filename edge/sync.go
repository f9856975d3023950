package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// Backoff bounds of a failing sync loop.
const (
	backoffFirst = time.Second
	backoffMax   = 5 * time.Minute
)

// errStalled: the hub sent nothing for longer than the idle timeout.
var errStalled = errors.New("hub stalled: no bytes received within the idle timeout")

// Syncer runs the network flow of docs/sync-protocol.md for one edge
// against one hub: push an edge export, pull the site's latest hub export
// and apply it with ApplyManifest.
type Syncer struct {
	Edge *Edge
	// Hub sends every request with the bearer token. Its HTTP client must
	// have no overall timeout (large objects take long); stalls are caught
	// by IdleTimeout.
	Hub         *client.Client
	Bucket      *Bucket       // bandwidth cap of downloads; nil: none
	Metrics     *Metrics      // nil: none
	Log         *slog.Logger  // nil: discard
	Interval    time.Duration // between successful rounds; 0: 30s
	IdleTimeout time.Duration // per download; 0: 60s

	// What the last push the hub took reported, and when: a round pushes
	// again only when the edge changed or pushEvery passed.
	pushed   pushMark
	pushedAt time.Time
}

// pushEvery is how often an unchanged edge still sends a receipt, so the
// hub sees it alive well within the shortest time to compliance (24h).
const pushEvery = time.Hour

// pushMark is what a push reports: applied sequence, chain head, held set,
// execution reports.
type pushMark struct {
	applied, chain   uint64
	held, executions digest.Digest
}

// NewSyncer returns a Syncer for e against the hub at base, sending token.
func NewSyncer(e *Edge, base, token string) *Syncer {
	c := client.New(base, token)
	c.HTTP = &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		// An https hub is verified against the CA pinned at enrolment
		// only (hubca.go).
		TLSClientConfig: e.hubTLSConfig(),
	}}
	return &Syncer{Edge: e, Hub: c}
}

// RoundResult is what one sync round did.
type RoundResult struct {
	Pushed   *api.ImportResult `json:"pushed,omitempty"`
	PushSeq  uint64            `json:"push_seq,omitempty"`
	Export   *api.Export       `json:"export,omitempty"`
	Imported *ImportResult     `json:"imported,omitempty"` // nil when the hub had nothing new
}

func (s *Syncer) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Round pushes then pulls once. A push the hub refuses is reported but
// does not stop the pull; an unreachable hub stops the round.
func (s *Syncer) Round(ctx context.Context) (*RoundResult, error) {
	res := &RoundResult{}
	err := s.push(ctx, res)
	if err == nil || !errors.Is(err, client.ErrUnavailable) {
		err = errors.Join(err, s.pull(ctx, res))
	}
	if err != nil {
		s.Metrics.syncFailed()
		return res, err
	}
	s.Metrics.syncOK()
	return res, nil
}

// push sends an edge export to the hub (POST .../imports).
func (s *Syncer) push(ctx context.Context, res *RoundResult) error {
	st, err := loadState(s.Edge.dir.Edge())
	if err != nil {
		return err
	}
	execs, _ := json.Marshal(st.Executions)
	mark := pushMark{applied: st.Applied.Seq, chain: st.Chain.Seq, held: transfer.HeldListDigest(st.heldList()), executions: digest.FromBytes(execs)}
	if mark == s.pushed && time.Since(s.pushedAt) < pushEvery {
		return nil // nothing new for the hub: no export sequence spent
	}
	body, exp, err := s.Edge.ExportRequest(ctx)
	if err != nil {
		return fmt.Errorf("push: build edge export: %w", err)
	}
	res.PushSeq = exp.Sequence
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	out, err := s.Hub.ImportSite(cctx, s.Edge.Site(), body)
	if err != nil {
		return fmt.Errorf("push edge export %d: %w", exp.Sequence, err)
	}
	res.Pushed = &out
	s.pushed, s.pushedAt = mark, time.Now()
	s.log().Info("pushed edge export", "sequence", exp.Sequence, "outcome", out.Outcome, "events", exp.Events)
	return nil
}

// pull asks for the site's export and applies it when it is new.
func (s *Syncer) pull(ctx context.Context, res *RoundResult) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	exp, err := s.Hub.ExportSite(cctx, s.Edge.Site(), api.ExportRequest{IfChanged: true, ManifestOnly: true})
	cancel()
	if err != nil {
		return fmt.Errorf("pull: request export: %w", err)
	}
	res.Export = &exp
	st, err := loadState(s.Edge.dir.Edge())
	if err != nil {
		return err
	}
	switch {
	case exp.Sequence == st.Applied.Seq && exp.Digest == st.Applied.Digest:
		return nil
	case exp.Sequence <= st.Applied.Seq:
		return fmt.Errorf("pull: the hub's export is sequence %d (%s), this edge applied %d (%s)",
			exp.Sequence, exp.Digest.Short(), st.Applied.Seq, st.Applied.Digest.Short())
	}
	env, err := s.manifest(ctx, exp.Sequence)
	if err != nil {
		return fmt.Errorf("pull: manifest of export %d: %w", exp.Sequence, err)
	}
	ir, err := s.Edge.ApplyManifest(ctx, env, s.fetcher(exp.Sequence), ImportOptions{})
	res.Imported = ir
	if err != nil {
		s.Metrics.importFailed()
		return fmt.Errorf("pull: apply export %d: %w", exp.Sequence, err)
	}
	s.log().Info("applied hub export", "sequence", ir.Sequence, "outcome", ir.Outcome,
		"objects_added", ir.ObjectsAdded, "bytes_added", ir.BytesAdded, "warnings", len(ir.Warnings))
	for _, w := range ir.Warnings {
		s.log().Warn("import warning", "sequence", ir.Sequence, "warning", w)
	}
	return nil
}

// callTimeout bounds one JSON request or manifest download (object
// downloads have the idle timeout instead).
const callTimeout = 2 * time.Minute

// manifest downloads export seq's signed manifest envelope, of at most
// transfer.MaxManifestSize bytes.
func (s *Syncer) manifest(ctx context.Context, seq uint64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	env, err := s.Hub.ExportManifest(ctx, s.Edge.Site(), seq)
	if err != nil {
		return nil, err
	}
	if len(env) > transfer.MaxManifestSize {
		return nil, fmt.Errorf("envelope exceeds %d bytes", transfer.MaxManifestSize)
	}
	return env, nil
}

// fetcher returns the FetchFunc of export seq: GET .../objects/{hex}
// with "Range: bytes=N-" from what the partial holds, through the
// bandwidth cap, aborted when the hub stalls.
func (s *Syncer) fetcher(seq uint64) FetchFunc {
	return func(ctx context.Context, o transfer.Object, w *cas.Writer) error {
		idle := s.IdleTimeout
		if idle <= 0 {
			idle = 60 * time.Second
		}
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		watchdog := time.AfterFunc(idle, func() { cancel(errStalled) })
		defer watchdog.Stop()

		off, hex := w.Written(), o.Digest.Hex()
		what := fmt.Sprintf("object %s of export %d", hex, seq)
		asked := off
		// A 200 to a range request (a proxy ignored the Range) carries the
		// whole object: what the partial holds is skipped below.
		resp, err := s.Hub.ExportPart(ctx, s.Edge.Site(), seq, "objects", hex, asked)
		if err != nil {
			return stallCause(ctx, err)
		}
		defer resp.Body.Close()
		var r io.Reader = &idleReader{r: resp.Body, t: watchdog, d: idle}
		from := int64(0) // where the answer starts
		if resp.StatusCode == http.StatusPartialContent {
			start, ok := rangeStart(resp.Header.Get("Content-Range"))
			if !ok || start != asked {
				return fmt.Errorf("%s: asked for bytes=%d-, the hub answered Content-Range %q", what, asked, resp.Header.Get("Content-Range"))
			}
			from = start
		}
		if from < off {
			if _, err := io.CopyN(io.Discard, r, off-from); err != nil {
				return stallCause(ctx, fmt.Errorf("%s: skip the %d bytes the partial holds: %w", what, off-from, err))
			}
		}
		if s.Bucket != nil {
			r = s.Bucket.Reader(ctx, r)
		}
		n, err := io.CopyN(w, r, o.Size-off)
		s.Metrics.addFetched(n)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%s: %w after %d of %d bytes", what, io.ErrUnexpectedEOF, off+n, o.Size)
		}
		return stallCause(ctx, err)
	}
}

// stallCause names a stall instead of the bare context error it caused.
func stallCause(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("%w (%v)", errStalled, err)
	}
	return err
}

// idleReader re-arms the stall watchdog t for d on every read that
// returns bytes.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.t.Reset(i.d)
	}
	return n, err
}

// rangeStart parses the first byte position of "bytes N-M/T".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil && n >= 0
}

// Backoff is the wait before retry attempt (0 for the first) of a failing
// sync: 1 s doubling up to 5 min, scaled by 0.5 + jitter/2 for jitter in
// [0, 1) so edges that lost the hub together do not return together.
func Backoff(attempt int, jitter float64) time.Duration {
	d := backoffMax
	if attempt < 20 {
		d = min(backoffFirst<<attempt, backoffMax)
	}
	return time.Duration(float64(d) * (0.5 + jitter/2))
}

// Run repeats Round every Interval until ctx ends, retrying a failed round
// after Backoff. It never holds the edge lock while waiting or
// downloading.
func (s *Syncer) Run(ctx context.Context) {
	interval := s.Interval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	failures := 0
	for {
		_, err := s.Round(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := interval
		if err != nil {
			wait = Backoff(failures, rand.Float64())
			failures++
			s.log().Warn("sync round failed", "err", err, "attempt", failures, "retry_in", wait.Round(time.Millisecond).String())
		} else {
			failures = 0
		}
		if sleepCtx(ctx, wait) != nil {
			return
		}
	}
}
