// Command rolloutbench measures the rollout orchestrator at the scale of
// the architecture document's estate (issue 13: 50,000 devices, 5,000
// applications, 500 sites, 5 rings) and at fractions of it, and prints
// each figure beside its target. It is `make bench-rollout`'s measuring
// tool (bench/rollout.sh), not a test.
//
// The estate (estate.go): ten acquisitions, each an acquisition boundary
// with its own Intune tenant (registered as one plane scoped to it), 500
// applications, 50 sites of 100 devices, and one Entra group per ring
// (1, 4, 15, 20 and 60 devices of each site in Rings 0-4: 10,000 in Ring
// 3 across the estate). Every application has one active intent, a fifth
// of them at each ring, so a pass reads 5 million device statuses (100
// per device). A fraction of the estate has fewer acquisitions.
//
// For each size it builds a hub: a single-node store (real Raft with an
// in-memory log, the real FSM and Pebble state) holding every site, the
// planes and their ring groups, and every application taken through the
// governance commands to a published intent. Each tenant is an Intune
// simulator with its devices; every release is published to it through
// the real Intune connector, and each intent's plane state is read once
// as reconciliation reads it (Query and Find), counting Graph's requests
// and bytes. The rollouts are then recorded (paused: reconciled, no gate
// step), the simulators stopped, and the orchestrator (hub/rollout) runs
// its real Pass over the store through a bench-only connector replaying
// the captured answers: the pass's CPU is the hub's, plane reads excluded.
// Then some of the estate drifts on the simulators (devices removing the
// app, assignments turned into uninstalls) and a pass finds and records
// it. A site's delta is sitesync.Syncer.Status; the gate of a ring is
// deploy.MeasureRing and JudgeRing on the connector's Query of the ring
// from a simulator in a child process (so that the connector's CPU is the
// only one counted).
//
//	rolloutbench [-sizes 0.1,0.5,1] [-profiles DIR] [-answers DIR] [-v]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/intune"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/rollout"
	"github.com/eucora/eucora/hub/sitesync"
	"github.com/eucora/eucora/internal/digest"
)

// Targets of issue 13.
const (
	targetPass  = time.Second
	targetSite  = 100 * time.Millisecond
	targetGate  = 50 * time.Millisecond
	gateRingMax = 10_000
)

var (
	sizesFlag = flag.String("sizes", "0.1,0.5,1", "fractions of the estate to measure, comma-separated (the last is compared with the first)")
	workers   = flag.Int("workers", 8, "concurrent publishes and reads while capturing")
	pageSize  = flag.Int("page-size", 1000, "the Intune simulators' page size (Intune's collections page at 1,000, Entra's group members at $top=999; the simulator's own default is 100)")
	passes    = flag.Int("passes", 3, "steady reconciliation passes measured per size (the median is reported)")
	answersIn = flag.String("answers", "", "keep the captured plane answers in DIR (answers-xSIZE.gob) and reuse them when there: the simulators are then not run")
	profiles  = flag.String("profiles", "", "directory for CPU profiles of the largest size's figures (NAME.pprof; MISSED lists those over target)")
	verbose   = flag.Bool("v", false, "progress on stderr")
	cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the whole run (setup included) to FILE")
	serveRing = flag.Int("serve-ring", 0, "internal: serve an Intune simulator with one group of N devices on stdout's URL until stdin closes")
)

func main() {
	flag.Parse()
	if *serveRing > 0 {
		if err := serveRingSim(*serveRing); err != nil {
			fail(err)
		}
		return
	}
	var fracs []float64
	for _, f := range strings.Split(*sizesFlag, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1 {
			fail(fmt.Errorf("-sizes: %q: want fractions in (0, 1]", f))
		}
		fracs = append(fracs, v)
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	var rows []result
	for i, f := range fracs {
		r, err := runSize(ctx, f, i == len(fracs)-1)
		if err != nil {
			fail(fmt.Errorf("estate x%g: %w", f, err))
		}
		rows = append(rows, r)
	}
	report(os.Stdout, fracs, rows)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rolloutbench:", err)
	os.Exit(1)
}

func progress(format string, args ...any) {
	if *verbose {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// cost is what one measured piece of work took.
type cost struct {
	cpu, wall, gc time.Duration
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var gcSample = []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}

func gcNow() time.Duration {
	metrics.Read(gcSample)
	return time.Duration(gcSample[0].Value.Float64() * float64(time.Second))
}

// measure runs fn once: the process's CPU (user+system, every goroutine:
// the store's Raft and Pebble included), wall time, and the garbage
// collector's share of the CPU (runtime/metrics' estimate).
func measure(fn func() error) (cost, error) {
	c0, g0, t0 := cpuNow(), gcNow(), time.Now()
	err := fn()
	return cost{cpu: cpuNow() - c0, wall: time.Since(t0), gc: gcNow() - g0}, err
}

// median runs fn n times and returns the run of median CPU.
func median(n int, fn func() error) (cost, error) {
	var cs []cost
	for range n {
		c, err := measure(fn)
		if err != nil {
			return c, err
		}
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b cost) int { return int(a.cpu - b.cpu) })
	return cs[len(cs)/2], nil
}

// profile writes a CPU profile of fn run n times as DIR/NAME.pprof.
func profile(name string, n int, fn func() error) error {
	if *profiles == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(*profiles, name+".pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for range n {
		if err := fn(); err != nil {
			return err
		}
	}
	return nil
}

// result is one size's figures.
type result struct {
	e                      estate
	commands               int64
	populate, captureTook  time.Duration
	first, steady, drifted cost
	replay                 cost
	steadyRep, driftRep    rollout.Report
	driftRecords           int64
	drifting               int
	statuses               int // device statuses in one pass's answers
	graphRequests          int // Graph requests one pass's reads take
	heapMiB                float64
	siteOne, siteHQ        cost
	siteOneIn, siteHQIn    siteFigures
	ring                   int
	gate                   cost
	gateVerdict            deploy.GateVerdict
	query                  cost
	queryRequests          int
	queryBytes             int64
	graphBytes             int64
	stateMiB               float64
}

type siteFigures struct{ intents, pending int }

func runSize(ctx context.Context, frac float64, largest bool) (result, error) {
	e := estateOf(frac)
	res := result{e: e}
	apps := e.appRefs()
	dir, err := os.MkdirTemp("", "rolloutbench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	progress("estate x%g: %d devices, %d apps, %d sites, %d tenants", frac, e.devices(), e.apps(), e.sites(), e.acqs)
	h, err := openHub(ctx, dir)
	if err != nil {
		return res, err
	}
	defer h.st.Close()
	// Setup collects garbage less often (the simulators' state is large);
	// the passes run with the default.
	gcPercent := debug.SetGCPercent(300)
	limit := debug.SetMemoryLimit(12 << 30)
	var (
		c       captured
		reuse   bool
		capPath string
		tenants = make([]*tenant, e.acqs)
	)
	if *answersIn != "" {
		capPath = filepath.Join(*answersIn, fmt.Sprintf("answers-x%g.gob", frac))
		if c, err = loadCaptured(capPath); err == nil {
			reuse, interned = true, c.Tables
			progress("reusing the plane answers in %s", capPath)
		}
	}
	closeTenants := func() {
		for i, t := range tenants {
			if t != nil {
				t.close()
				tenants[i] = nil
			}
		}
	}
	defer closeTenants()
	planeURL := func(int) string { return "http://captured.invalid" }
	if !reuse {
		for a := range tenants {
			if tenants[a], err = startTenant(a, *workers); err != nil {
				return res, err
			}
		}
		planeURL = func(a int) string { return tenants[a].srv.URL }
	}

	t0 := time.Now()
	if err := h.populate(ctx, e, apps, planeURL); err != nil {
		return res, err
	}
	res.populate = time.Since(t0)
	progress("populated the store: %d commands in %s", h.commands.Load(), res.populate.Round(time.Millisecond))

	var pubs map[string]connectors.Publication
	if !reuse {
		t0 = time.Now()
		if c.A, pubs, err = capture(ctx, tenants, apps, *workers); err != nil {
			return res, err
		}
		res.captureTook = time.Since(t0)
	}
	for _, a := range c.A {
		res.statuses += a.devices()
		res.graphRequests += a.Requests
		res.graphBytes += a.Bytes
	}
	progress("%d device statuses, %d Graph requests for one pass's reads", res.statuses, res.graphRequests)
	published := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	if err := h.saveRollouts(ctx, apps, c.A, published); err != nil {
		return res, err
	}
	one := siteName(0, 0)
	if err := h.receiveHeld(ctx, one, apps, func(a appRef) bool { return a.acq == 0 }); err != nil {
		return res, err
	}
	if err := h.receiveHeld(ctx, hqSite, apps, func(appRef) bool { return true }); err != nil {
		return res, err
	}
	if !reuse {
		// Drift made outside EUCORA, read again by the real connector.
		changed, err := drift(ctx, tenants, apps, pubs, c.A)
		if err != nil {
			return res, err
		}
		c.Drifted = answers{}
		for _, a := range changed {
			if c.Drifted[a.intent], err = read(ctx, tenants[a.acq].conns[0], a); err != nil {
				return res, err
			}
		}
		closeTenants()
		c.Tables = interned
		if capPath != "" {
			if err := saveCaptured(capPath, c); err != nil {
				return res, err
			}
		}
	}
	res.drifting = len(c.Drifted)
	ansA := c.A
	ansB := make(answers, len(ansA))
	for k, v := range ansA {
		ansB[k] = v
	}
	for k, v := range c.Drifted {
		ansB[k] = v
	}
	res.commands = h.commands.Load()
	res.stateMiB = float64(dirSize(filepath.Join(dir, "hub", "fsm"))) / (1 << 20)
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(limit)

	// Reconciliation: the orchestrator's real Pass over the store, with
	// every plane replaying the captured answers.
	plane := &replayPlane{}
	plane.set(ansA, apps)
	o := rollout.New(h.st.State(), replayHost{h: h, plane: plane}, rollout.Config{ReconcileEvery: time.Nanosecond})
	defer o.Close(ctx)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.heapMiB = float64(ms.HeapAlloc) / (1 << 20)
	pass := func(rep *rollout.Report) func() error {
		return func() error {
			r, err := o.Pass(ctx)
			*rep = r
			if err == nil && len(r.Errors) > 0 {
				err = fmt.Errorf("pass: %d errors, first: %s", len(r.Errors), r.Errors[0])
			}
			return err
		}
	}
	var firstRep rollout.Report
	if res.first, err = measure(pass(&firstRep)); err != nil {
		return res, err
	}
	if firstRep.Drifts != 0 || firstRep.Steps != 0 {
		return res, fmt.Errorf("first pass found %d drifts and took %d steps: the estate is not at rest", firstRep.Drifts, firstRep.Steps)
	}
	if res.steady, err = median(*passes, pass(&res.steadyRep)); err != nil {
		return res, err
	}
	progress("steady pass: %v CPU, %v wall", res.steady.cpu, res.steady.wall)
	var sink int
	if res.replay, err = median(3, func() error {
		for _, a := range ansA {
			sink += len(a.status().Devices)
		}
		return nil
	}); err != nil {
		return res, err
	}
	if largest {
		if err := profile("reconcile-pass", 3, pass(&rollout.Report{})); err != nil {
			return res, err
		}
	}
	plane.set(ansB, apps)
	before := h.commands.Load()
	if res.drifted, err = measure(pass(&res.driftRep)); err != nil {
		return res, err
	}
	res.driftRecords = h.commands.Load() - before
	if res.driftRep.Drifts == 0 {
		return res, errors.New("the drifted estate showed no drift")
	}

	// A site's delta: what it lacks, planned from the store
	// (sitesync.Syncer.Status, as GET /v1/sites/{name}/sync).
	sy := sitesync.New(sitesync.Config{NodeID: "bench", Dir: filepath.Join(dir, "exports"), State: h.st.State()})
	for _, s := range []struct {
		name string
		c    *cost
		f    *siteFigures
		prof string
	}{{one, &res.siteOne, &res.siteOneIn, "site-delta-one"}, {hqSite, &res.siteHQ, &res.siteHQIn, "site-delta-hq"}} {
		site, err := h.st.State().Site(s.name)
		if err != nil {
			return res, err
		}
		status := func() error {
			v, err := sy.Status(site, time.Now().UTC())
			if err == nil && v.PendingError != "" {
				err = errors.New(v.PendingError)
			}
			if err == nil {
				s.f.pending = int(v.PendingObjects)
			}
			return err
		}
		if *s.c, err = median(15, status); err != nil {
			return res, err
		}
		for _, a := range apps {
			if s.name == hqSite || a.acq == 0 {
				s.f.intents++
			}
		}
		if largest {
			if err := profile(s.prof, 20, status); err != nil {
				return res, err
			}
		}
	}
	progress("site delta: %v (one site), %v (hq)", res.siteOne.cpu, res.siteHQ.cpu)

	// Gate evaluation of a ring of a fifth of the estate's devices (the
	// full estate's Ring 3: 10,000).
	res.ring = min(e.devices()/5, gateRingMax*e.acqs/fullAcqs)
	if err := gateFigures(ctx, &res, largest); err != nil {
		return res, err
	}
	progress("gate of %d devices: %v; Query: %v", res.ring, res.gate.cpu, res.query.cpu)
	return res, nil
}

// gateFigures measures the gate of one ring of res.ring devices: the
// Intune connector's Query of the ring's release against a simulator in
// a child process (so that only the connector's CPU is this process's),
// then deploy.MeasureRing and deploy.JudgeRing on its device results.
func gateFigures(ctx context.Context, res *result, largest bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-serve-ring", strconv.Itoa(res.ring))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("ring simulator: %w", err)
	}
	var sv ringSim
	if err := json.Unmarshal(line, &sv); err != nil {
		return fmt.Errorf("ring simulator said %q: %w", line, err)
	}
	tmp, err := os.MkdirTemp("", "rolloutbench-ring-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	client, requests := countingClient()
	conn, err := intune.New(intune.Config{BaseURL: sv.URL, LoginURL: sv.URL, Tenant: sv.Tenant, ClientID: sv.ClientID, ClientSecret: sv.ClientSecret,
		PollInterval: time.Millisecond, TempDir: tmp, HTTP: client})
	if err != nil {
		return err
	}
	a := appRef{acq: 0, n: 3, id: "com.acq01.ringapp", version: "3.0.0", intent: "i-ring-gate", ring: deploy.Ring(3), body: []byte("MSI setup of the gate's app\n")}
	a.artifact = digest.FromBytes(a.body)
	rel := releaseOf(a)
	rel.Targets = []connectors.Target{{ID: ringSimGroup}}
	if _, err := conn.Publish(ctx, rel); err != nil {
		return err
	}
	var st connectors.Status
	query := func() error {
		var err error
		st, err = conn.Query(ctx, rel.Key)
		return err
	}
	if err := query(); err != nil { // the devices act on their first status read
		return err
	}
	n0, b0 := requests.requests.Load(), requests.bytes.Load()
	if res.query, err = median(3, query); err != nil {
		return err
	}
	res.queryRequests, res.queryBytes = int(requests.requests.Load()-n0)/3, (requests.bytes.Load()-b0)/3
	if len(st.Devices) != res.ring {
		return fmt.Errorf("the ring's Query reports %d devices, want %d", len(st.Devices), res.ring)
	}
	rs := st.Results()
	published := time.Now().Add(-20 * time.Hour)
	risk, err := deploy.Score(deploy.RiskInput{Model: "v1.0", Factors: factorsOf(0.3), TargetRing: deploy.Ring(3)})
	if err != nil {
		return err
	}
	judge := func() error {
		at := time.Now()
		m := deploy.MeasureRing(deploy.Ring(3), deploy.SiteOnline, published, at, rs)
		g := deploy.RingGate{IntentID: a.intent, Measure: m, Planes: []string{"intune"}, RollbackValidated: []string{"intune"}, Risk: &risk, EvidenceStored: true}
		res.gateVerdict = deploy.JudgeRing(g, at).Verdict
		return nil
	}
	if res.gate, err = median(51, judge); err != nil {
		return err
	}
	if largest {
		if err := profile("gate", 200, judge); err != nil {
			return err
		}
	}
	return nil
}

func factorsOf(v float64) map[deploy.Factor]float64 {
	f := map[deploy.Factor]float64{}
	for _, x := range deploy.ModelV1.Factors {
		f[x.Name] = v
	}
	return f
}

// ringSimGroup is the ring simulator's one group.
const ringSimGroup = "ring-3"

// ringSim is what the ring simulator child prints.
type ringSim struct {
	URL          string `json:"url"`
	Tenant       string `json:"tenant"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// serveRingSim is the child: an Intune simulator whose one group holds n
// devices, 1% of whose installs fail.
func serveRingSim(n int) error {
	var devs []intunesim.Device
	for i := range n {
		id := fmt.Sprintf("ring3-d%05d", i+1)
		devs = append(devs, intunesim.Device{ID: id, Name: strings.ToUpper(id)})
	}
	t, err := newTenant(0, map[string][]intunesim.Device{ringSimGroup: devs}, 0)
	if err != nil {
		return err
	}
	defer t.close()
	cred := t.sim.Credentials()
	if err := json.NewEncoder(os.Stdout).Encode(ringSim{URL: t.srv.URL, Tenant: cred.Tenant, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret}); err != nil {
		return err
	}
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	return nil
}

func report(w io.Writer, fracs []float64, rows []result) {
	first, last := rows[0], rows[len(rows)-1]
	tw := &table{w: w}
	head := []string{"figure"}
	for i, f := range fracs {
		head = append(head, fmt.Sprintf("x%g (%s dev)", f, num(rows[i].e.devices())))
	}
	head = append(head, "target", fmt.Sprintf("x%g/x%g", fracs[len(fracs)-1], fracs[0]))
	tw.row(head...)
	line := func(name, target string, v func(r result) float64, format func(float64) string) {
		cells := []string{name}
		for _, r := range rows {
			cells = append(cells, format(v(r)))
		}
		ratio := "-"
		if a, b := v(first), v(last); a > 0 && len(rows) > 1 {
			ratio = fmt.Sprintf("%.1f", b/a)
		}
		tw.row(append(cells, target, ratio)...)
	}
	secs := func(x float64) string { return fmt.Sprintf("%.3f s", x) }
	msec := func(x float64) string { return fmt.Sprintf("%.2f ms", x*1e3) }
	count := func(x float64) string { return num(int(x)) }
	pct := func(x float64) string { return fmt.Sprintf("%.0f%%", x*100) }
	line("estate: applications (active intents)", "", func(r result) float64 { return float64(r.e.apps()) }, count)
	line("estate: sites / tenants (acquisitions)", "", func(r result) float64 { return float64(r.e.sites()) }, func(x float64) string {
		return fmt.Sprintf("%s / %d", num(int(x)), int(x)/sitesPerAcq)
	})
	line("1. reconciliation pass, hub CPU", "< 1 s", func(r result) float64 { return r.steady.cpu.Seconds() }, secs)
	line("   wall", "", func(r result) float64 { return r.steady.wall.Seconds() }, secs)
	line("   of which building the replayed answers", "", func(r result) float64 { return r.replay.cpu.Seconds() }, secs)
	line("   the pass less that building", "< 1 s", func(r result) float64 { return (r.steady.cpu - r.replay.cpu).Seconds() }, secs)
	line("   GC's share of that CPU", "", func(r result) float64 { return r.steady.gc.Seconds() / r.steady.cpu.Seconds() }, pct)
	line("   rollouts reconciled per pass", "", func(r result) float64 { return float64(r.steadyRep.Reconciled) }, count)
	line("   device statuses read per pass", "", func(r result) float64 { return float64(r.statuses) }, count)
	line("   first pass (no installed memory yet)", "", func(r result) float64 { return r.first.cpu.Seconds() }, secs)
	line("   pass finding drift, hub CPU", "< 1 s", func(r result) float64 { return r.drifted.cpu.Seconds() }, secs)
	line("   intents drifting", "", func(r result) float64 { return float64(r.drifting) }, count)
	line("   drift records written", "", func(r result) float64 { return float64(r.driftRecords) }, count)
	line("   plane reads per pass (excluded)", "counted", func(r result) float64 { return float64(r.steadyRep.PlaneReads) }, count)
	line("   Graph requests those reads take", "counted", func(r result) float64 { return float64(r.graphRequests) }, count)
	line("   bytes of Graph's answers (MiB)", "counted", func(r result) float64 { return float64(r.graphBytes) / (1 << 20) }, func(x float64) string { return fmt.Sprintf("%.0f", x) })
	line("   hub CPU per device status", "", func(r result) float64 { return r.steady.cpu.Seconds() / float64(r.statuses) }, func(x float64) string { return fmt.Sprintf("%.0f ns", x*1e9) })
	line("2. site delta, a site of one acquisition, CPU", "< 100 ms", func(r result) float64 { return r.siteOne.cpu.Seconds() }, msec)
	line("   wall", "", func(r result) float64 { return r.siteOne.wall.Seconds() }, msec)
	line("   intents in its scope", "", func(r result) float64 { return float64(r.siteOneIn.intents) }, count)
	line("   site delta, the enterprise-scope site, CPU", "< 100 ms", func(r result) float64 { return r.siteHQ.cpu.Seconds() }, msec)
	line("   wall", "", func(r result) float64 { return r.siteHQ.wall.Seconds() }, msec)
	line("   intents in its scope", "", func(r result) float64 { return float64(r.siteHQIn.intents) }, count)
	line("   objects it lacks (of as many)", "", func(r result) float64 { return float64(r.siteHQIn.pending) }, count)
	line("3. gate evaluation (MeasureRing+JudgeRing), CPU", "< 50 ms", func(r result) float64 { return r.gate.cpu.Seconds() }, msec)
	line("   devices in the ring", "", func(r result) float64 { return float64(r.ring) }, count)
	line("   Intune Query of the ring, connector CPU", "", func(r result) float64 { return r.query.cpu.Seconds() }, msec)
	line("   Graph requests per Query", "", func(r result) float64 { return float64(r.queryRequests) }, count)
	line("   bytes of Graph's answers per Query (KiB)", "", func(r result) float64 { return float64(r.queryBytes) / 1024 }, func(x float64) string { return fmt.Sprintf("%.0f", x) })
	line("setup: store commands", "", func(r result) float64 { return float64(r.commands) }, count)
	line("setup: publish + read through the connector", "", func(r result) float64 { return r.captureTook.Seconds() }, func(x float64) string {
		if x == 0 {
			return "reused"
		}
		return secs(x)
	})
	line("setup: the store's state on disk (MiB)", "", func(r result) float64 { return r.stateMiB }, func(x float64) string { return fmt.Sprintf("%.0f", x) })
	line("setup: live heap at the passes (MiB)", "", func(r result) float64 { return r.heapMiB }, func(x float64) string { return fmt.Sprintf("%.0f", x) })
	tw.flush()
	fmt.Fprintf(w, "\ndrift pass (largest size): %d intents of %s drifting, %d drifts found, %d drift records written\n",
		last.drifting, num(last.e.apps()), last.driftRep.Drifts, last.driftRecords)
	fmt.Fprintf(w, "site delta: %d of %d objects pending at the one site, %d of %d at the enterprise-scope site\n",
		last.siteOneIn.pending, last.siteOneIn.intents, last.siteHQIn.pending, last.siteHQIn.intents)
	fmt.Fprintf(w, "gate verdict on the ring: %s (1%% of installs fail; Ring 3 needs 99%%)\n", last.gateVerdict)
	fmt.Fprint(w, `
CPU is the process's user+system time (getrusage) over the work, every goroutine
counted (the store's Raft and Pebble, the garbage collector); the median of the
runs. The pass is hub/rollout's Orchestrator.Pass over a real store; its planes
replay answers the Intune connector read from the simulators, building each
answer's device states afresh (as decoding would), which is counted apart.
The site delta is sitesync.Syncer.Status (plan, held list, delta); the gate is
deploy.MeasureRing + deploy.JudgeRing on the connector's answer for the ring.

`)
	var missed []string
	verdict := func(what, prof string, got, target time.Duration) {
		word := "met"
		if got >= target {
			word, missed = "MISSED", append(missed, prof)
		}
		fmt.Fprintf(w, "%-66s %10s  target < %-6s %s\n", what, got.Round(10*time.Microsecond), target, word)
	}
	verdict(fmt.Sprintf("reconciliation pass over %s active intents, hub CPU", num(last.e.apps())), "reconcile-pass", last.steady.cpu, targetPass)
	verdict("  less building the replayed answers", "reconcile-pass", last.steady.cpu-last.replay.cpu, targetPass)
	verdict("  the same pass finding and recording drift", "reconcile-pass", last.drifted.cpu, targetPass)
	verdict(fmt.Sprintf("a site's delta, a site of one acquisition (%s intents), CPU", num(last.siteOneIn.intents)), "site-delta-one", last.siteOne.cpu, targetSite)
	verdict(fmt.Sprintf("a site's delta, the enterprise-scope site (%s intents), CPU", num(last.siteHQIn.intents)), "site-delta-hq", last.siteHQ.cpu, targetSite)
	verdict(fmt.Sprintf("gate evaluation of a ring of %s devices, CPU", num(last.ring)), "gate", last.gate.cpu, targetGate)
	if *profiles != "" {
		slices.Sort(missed)
		missed = slices.Compact(missed)
		os.WriteFile(filepath.Join(*profiles, "MISSED"), []byte(strings.Join(missed, "\n")), 0o644)
	}
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// table prints aligned columns.
type table struct {
	w    io.Writer
	rows [][]string
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) flush() {
	var width []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", width[i], c)
			}
		}
		fmt.Fprintln(t.w, strings.TrimRight(b.String(), " "))
	}
}

// num renders n with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + num(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
