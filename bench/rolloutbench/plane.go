package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/intune"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/rollout"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
)

// failPercent is the share of devices whose install fails, per app.
const failPercent = 1

// tenant is one acquisition's Intune tenant: the Intune simulator
// (connectors/intune/intunesim) with the acquisition's devices in one
// Entra group per ring, and the real Intune connector pointed at it.
type tenant struct {
	acq int
	sim *intunesim.Server
	srv *httptest.Server
	tmp string
	// conns are connectors of the tenant, one per capture worker, each
	// with its own request count.
	conns []tenantConn
}

type tenantConn struct {
	c connectors.Connector
	n *counts
}

func startTenant(acq, workers int) (*tenant, error) {
	groups := map[string][]intunesim.Device{}
	for s := range sitesPerAcq {
		d := 0
		for r, n := range ringShare {
			for range n {
				d++
				id := fmt.Sprintf("%s-d%03d", siteName(acq, s), d)
				groups[ringGroup(acq, r)] = append(groups[ringGroup(acq, r)], intunesim.Device{ID: id, Name: strings.ToUpper(id)})
			}
		}
	}
	return newTenant(acq, groups, workers)
}

func newTenant(acq int, groups map[string][]intunesim.Device, workers int) (*tenant, error) {
	sim := intunesim.New(intunesim.Options{Groups: groups, PageSize: *pageSize, InstallAfter: 1, Outcome: func(appID string, d intunesim.Device) intunesim.Outcome {
		h := fnv.New32a()
		h.Write([]byte(appID + "/" + d.ID))
		if h.Sum32()%100 < failPercent {
			return intunesim.Outcome{State: "failed", Detail: "installFailed", ErrorCode: 0x80070643}
		}
		return intunesim.Outcome{State: "installed"}
	}})
	srv := httptest.NewServer(sim.Handler())
	tmp, err := os.MkdirTemp("", "rolloutbench-intune-")
	if err != nil {
		srv.Close()
		return nil, err
	}
	t := &tenant{acq: acq, sim: sim, srv: srv, tmp: tmp}
	cred := sim.Credentials()
	for range max(workers, 1) {
		client, n := countingClient()
		conn, err := intune.New(intune.Config{BaseURL: srv.URL, LoginURL: srv.URL, Tenant: cred.Tenant, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret,
			HTTP: client, PollInterval: time.Millisecond, TempDir: tmp})
		if err != nil {
			t.close()
			return nil, err
		}
		t.conns = append(t.conns, tenantConn{c: conn, n: n})
	}
	return t, nil
}

// counts are the requests a client sent and the body bytes it received.
type counts struct{ requests, bytes atomic.Int64 }

// countingClient is the HTTP client of the bench's connectors: the
// connector as the hub builds it, without the production rate limit (20
// requests/s: the simulators are local), counting what it sends and
// receives.
func countingClient() (*http.Client, *counts) {
	n := &counts{}
	return &http.Client{Transport: countingTransport{next: &http.Transport{MaxIdleConnsPerHost: 64}, n: n}}, n
}

type countingTransport struct {
	next http.RoundTripper
	n    *counts
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.requests.Add(1)
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: c.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *counts
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.bytes.Add(int64(n))
	return n, err
}

func (t *tenant) close() {
	t.srv.Close()
	os.RemoveAll(t.tmp)
}

func releaseOf(a appRef) connectors.Release {
	k := connectors.ReleaseKey{App: a.id, Version: a.version, Ring: a.ring, Scope: a.scope()}
	body := a.body
	return connectors.Release{Key: k, CorrelationID: a.intent, DisplayName: fmt.Sprintf("App %d %s", a.n+1, a.version), Publisher: acqName(a.acq) + "-apps",
		Content: connectors.Content{Name: a.msiName(), Size: int64(len(body)), Digest: a.artifact, Type: deploy.PlatformMSI,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }},
		Install: connectors.Install{RunAsSystem: true, Detection: connectors.Detection{ProductCode: "{" + k.AppKey().UUID() + "}", ProductVersion: a.version}},
		Targets: []connectors.Target{{ID: ringGroup(a.acq, int(a.ring))}}, Required: true}
}

// capture publishes every app's release through the real connector, then
// reads each intent's plane state once as reconciliation reads it (Query
// and Find), keeping the answers. Graph requests are counted per tenant
// over the reads, which run one tenant at a time.
func capture(ctx context.Context, tenants []*tenant, apps []appRef, workers int) (answers, map[string]connectors.Publication, error) {
	// Every simulator answers one request at a time: the workers take
	// the tenants in turn.
	apps = interleave(apps, len(tenants))
	pubs := make([]connectors.Publication, len(apps))
	t0 := time.Now()
	if err := parallel(workers, len(apps), func(w, i int) error {
		p, err := tenants[apps[i].acq].conns[w].c.Publish(ctx, releaseOf(apps[i]))
		pubs[i] = p
		if err != nil {
			return fmt.Errorf("publish %s: %w", apps[i].intent, err)
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	byIntent := map[string]connectors.Publication{}
	for i, a := range apps {
		byIntent[a.intent] = pubs[i]
	}
	progress("published %d releases in %s", len(apps), time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	ans := answers{}
	var mu sync.Mutex
	if err := parallel(workers, len(apps), func(w, i int) error {
		a, err := read(ctx, tenants[apps[i].acq].conns[w], apps[i])
		if err != nil {
			return err
		}
		mu.Lock()
		ans[apps[i].intent] = a
		mu.Unlock()
		return nil
	}); err != nil {
		return nil, nil, err
	}
	progress("read %d intents in %s", len(apps), time.Since(t0).Round(time.Millisecond))
	return ans, byIntent, nil
}

// interleave orders apps (grouped by acquisition, as many each) so that
// consecutive ones belong to different tenants.
func interleave(apps []appRef, tenants int) []appRef {
	out := make([]appRef, 0, len(apps))
	per := len(apps) / tenants
	for i := range per {
		for t := range tenants {
			out = append(out, apps[t*per+i])
		}
	}
	return out
}

// read is one reconciliation's reads of an intent, through one real
// connector that nothing else uses meanwhile: its requests are the reads'.
func read(ctx context.Context, t tenantConn, a appRef) (*answer, error) {
	rel := releaseOf(a)
	r0, b0 := t.n.requests.Load(), t.n.bytes.Load()
	st, err := t.c.Query(ctx, rel.Key)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", a.intent, err)
	}
	objs, err := t.c.Find(ctx, a.intent)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", a.intent, err)
	}
	return newAnswer(st, objs, int(t.n.requests.Load()-r0), t.n.bytes.Load()-b0), nil
}

// drift makes some of the estate drift on the plane, as people outside
// EUCORA do, through the simulator and the real connector: on every
// hundredth intent three devices report the app gone (removed by hand);
// on every two hundredth the ring's assignment is turned into an
// uninstall (edited in the Intune console). It returns the intents
// changed.
func drift(ctx context.Context, tenants []*tenant, apps []appRef, pubs map[string]connectors.Publication, ans answers) ([]appRef, error) {
	var changed []appRef
	for _, a := range apps {
		switch {
		case a.n%100 == 42:
			appID := ""
			for _, o := range pubs[a.intent].Objects {
				if o.Kind == "mobileApp" {
					appID = o.ID
				}
			}
			n := 0
			for _, d := range ans[a.intent].status().Devices {
				if d.State == connectors.StateInstalled && n < 3 {
					if err := tenants[a.acq].sim.SetDeviceState(appID, d.DeviceID, intunesim.Outcome{State: "notInstalled"}); err != nil {
						return nil, err
					}
					n++
				}
			}
			changed = append(changed, a)
		case a.n%200 == 99:
			if _, err := tenants[a.acq].conns[0].c.Remediate(ctx, connectors.Remediation{Action: connectors.Uninstall, Release: releaseOf(a)}); err != nil {
				return nil, fmt.Errorf("uninstall %s: %w", a.intent, err)
			}
			changed = append(changed, a)
		}
	}
	return changed, nil
}

// replayPlane is bench-only: a connector that answers Query and Find
// with the answers the real Intune connector read from the simulator,
// so that a pass measures the hub's side of reconciliation without the
// plane reads. It is no stand-in for a plane elsewhere: it cannot
// publish or remediate, and it lives in this tool only. Each Query builds
// its answer's device states afresh from the compact capture, as the
// connector's decoding of Graph's JSON would (far more cheaply: the bench
// measures that building on its own, "replaying the answers").
type replayPlane struct {
	mu     sync.Mutex
	byKey  map[string]*answer // by release key
	byCorr map[string]*answer // by correlation id (the intent)
}

var _ connectors.Connector = (*replayPlane)(nil)

// set makes the plane answer a, apps naming the intents' release keys.
func (p *replayPlane) set(a answers, apps []appRef) {
	byKey := make(map[string]*answer, len(apps))
	for _, x := range apps {
		if ans, ok := a[x.intent]; ok {
			byKey[releaseOf(x).Key.String()] = ans
		}
	}
	p.mu.Lock()
	p.byKey, p.byCorr = byKey, a
	p.mu.Unlock()
}

func (p *replayPlane) Kind() connectors.Kind { return connectors.Intune }

func (p *replayPlane) Query(ctx context.Context, k connectors.ReleaseKey) (connectors.Status, error) {
	p.mu.Lock()
	a, ok := p.byKey[k.String()]
	p.mu.Unlock()
	if !ok {
		return connectors.Status{Key: k}, &connectors.Error{Plane: connectors.Intune, Op: "query", Class: connectors.Permanent, NotFound: true, Message: "no captured answer for " + k.String()}
	}
	return a.status(), nil
}

func (p *replayPlane) Find(ctx context.Context, corr string) ([]connectors.Object, error) {
	p.mu.Lock()
	a, ok := p.byCorr[corr]
	p.mu.Unlock()
	if !ok {
		return []connectors.Object{}, nil
	}
	return a.Objects, nil
}

func (p *replayPlane) Publish(context.Context, connectors.Release) (connectors.Publication, error) {
	return connectors.Publication{}, errors.New("replay plane: read-only (bench)")
}

func (p *replayPlane) Remediate(context.Context, connectors.Remediation) (connectors.Publication, error) {
	return connectors.Publication{}, errors.New("replay plane: read-only (bench)")
}

func (p *replayPlane) Check(context.Context) (connectors.Check, error) {
	return connectors.Check{Plane: connectors.Intune, Detail: "replay of captured answers"}, nil
}

// replayHost is the hub as the orchestrator acts through it, for the
// bench: proposals go to the real store; every plane is the replay.
// Content and evidence are never needed by reconciliation in detect mode.
type replayHost struct {
	h     *hub
	plane connectors.Connector
}

var _ rollout.Host = replayHost{}

func (r replayHost) Apply(ctx context.Context, cmd store.Command) (any, error) {
	r.h.commands.Add(1)
	return r.h.st.Apply(ctx, cmd)
}

func (r replayHost) Connector(plane, actor string) (connectors.Connector, func(context.Context), error) {
	return r.plane, func(context.Context) {}, nil
}

var errBench = errors.New("not available in the bench (reconciliation in detect mode does not need it)")

func (replayHost) Content(context.Context, store.ArtifactRecord) (connectors.Content, connectors.Install, error) {
	return connectors.Content{}, connectors.Install{}, errBench
}

func (replayHost) Evidence(context.Context, string) (*deploy.EvidencePack, digest.Digest, error) {
	return nil, "", errBench
}

func (replayHost) StoreDoc(context.Context, string, string, []byte) (deploy.DocRef, error) {
	return deploy.DocRef{}, errBench
}

func (replayHost) StoreEvidence(context.Context, deploy.EvidencePack) (digest.Digest, error) {
	return "", errBench
}
