package edge

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// delivery is one bundle arriving at the edge in a schedule.
type delivery struct {
	at       float64 // arrival order key
	seq      int     // 1-based index into the hub's bundles
	clockOff bool    // the edge's clock is 60 days fast at this arrival
}

// hostileSchedule sends bundles 1..n in order through a channel that loses,
// duplicates, delays (reorders) and replays them. The hub keeps resending
// its newest bundle until a receipt shows it applied, modelled by the final
// delivery of the newest bundle.
func hostileSchedule(rng *rand.Rand, n int) []delivery {
	var ds []delivery
	for k := 1; k <= n; k++ {
		if rng.Float64() < 0.3 { // lost
			continue
		}
		copies := 1
		if rng.Float64() < 0.25 { // duplicated
			copies++
		}
		for c := 0; c < copies; c++ {
			delay := 0.0
			if rng.Float64() < 0.35 { // delayed past later bundles
				delay = float64(rng.Intn(4)) + rng.Float64()
			}
			ds = append(ds, delivery{at: float64(k) + delay, seq: k})
		}
		if rng.Float64() < 0.25 { // an old bundle replayed
			ds = append(ds, delivery{at: float64(k) + rng.Float64(), seq: 1 + rng.Intn(k)})
		}
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].at < ds[j].at })
	for i := range ds {
		ds[i].clockOff = rng.Float64() < 0.1 // a wrong local clock expires what it judges
	}
	return append(ds, delivery{at: float64(n + 10), seq: n})
}

// Over seeded random schedules the edge never moves backwards, every
// import has the outcome the rules give, and it ends with the newest state.
func TestConvergenceUnderHostileSchedules(t *testing.T) {
	hub := mustKey(t)
	rng := rand.New(rand.NewSource(42))
	const n = 7
	var blobs [][]byte
	var bundles []*transfer.Result
	var pred digest.Digest
	for seq := 1; seq <= n; seq++ {
		blobs = append(blobs, randBlob(rng, 200+rng.Intn(3000)))
		b := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: uint64(seq), pred: pred,
			created: t0.Add(time.Duration(seq-10) * time.Hour), blobs: append([][]byte(nil), blobs...), hubClock: t0.Add(time.Duration(seq) * time.Hour)})
		bundles = append(bundles, b)
		pred = b.Signed.Digest
	}
	newest := bundles[n-1].Signed
	var newestObjects []digest.Digest
	for _, b := range blobs {
		newestObjects = append(newestObjects, digest.FromBytes(b))
	}
	seeds := 24
	if testing.Short() {
		seeds = 6
	}
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes over %d schedules: %v", seeds, outcomes) }()
	for seed := 1; seed <= seeds; seed++ {
		sched := hostileSchedule(rand.New(rand.NewSource(int64(seed))), n)
		e := newTestEdge(t, "lon", hub)
		applied := uint64(0)
		var trusted time.Time // the newest hub time the edge has accepted
		for i, d := range sched {
			b := bundles[d.seq-1]
			clock := t0
			if d.clockOff {
				clock = t0.Add(60 * 24 * time.Hour)
			}
			e.Clock = func() time.Time { return clock }
			res, err := e.Import(context.Background(), []string{dirOf(b)}, ImportOptions{})
			where := fmt.Sprintf("seed %d step %d (bundle %d, applied %d, schedule %v)", seed, i, d.seq, applied, sched)
			judged := clock
			if trusted.After(judged) {
				judged = trusted
			}
			switch {
			case uint64(d.seq) > applied && !judged.Before(b.Signed.Expires):
				if !errors.Is(err, transfer.ErrExpired) || res.Outcome != OutcomeRefused {
					t.Fatalf("%s: want expired, got %v %v", where, res, err)
				}
				outcomes["expired"]++
			case uint64(d.seq) > applied:
				if err != nil || res.Outcome != OutcomeApplied {
					t.Fatalf("%s: want applied, got %v %v", where, res, err)
				}
				wantGap := uint64(d.seq) > applied+1
				if (res.Gap != nil) != wantGap || res.PredecessorMismatch != (uint64(d.seq) != applied+1) {
					t.Fatalf("%s: gap %v predecessor mismatch %v", where, res.Gap, res.PredecessorMismatch)
				}
				outcomes["applied"]++
				if res.Gap != nil {
					outcomes["gap"]++
				}
				applied = uint64(d.seq)
				trusted = t0.Add(time.Duration(d.seq) * time.Hour) // the bundle's time record
			case uint64(d.seq) == applied:
				if err != nil || res.Outcome != OutcomeDuplicate {
					t.Fatalf("%s: want duplicate, got %v %v", where, res, err)
				}
				outcomes["duplicate"]++
			default:
				if !errors.Is(err, ErrStale) || res.Outcome != OutcomeRefused {
					t.Fatalf("%s: want stale, got %v %v", where, res, err)
				}
				outcomes["stale"]++
			}
			s, err := e.Status()
			if err != nil {
				t.Fatal(err)
			}
			if s.Applied.Seq != applied {
				t.Fatalf("%s: status says sequence %d", where, s.Applied.Seq)
			}
		}
		s, _ := e.Status()
		if s.Applied.Seq != n || s.Applied.Digest != newest.Digest || s.Objects != n ||
			s.ObjectsDigest != transfer.HeldListDigest(newestObjects) || !s.TrustedTime.Equal(t0.Add(n*time.Hour)) {
			t.Fatalf("seed %d: final status %+v", seed, s)
		}
		for _, d := range newestObjects {
			if err := e.store.Verify(d); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		st := mustState(t, e)
		if _, err := transfer.VerifyChain("lon", transfer.ChainHead{Hash: transfer.GenesisHash}, st.Pending); err != nil || len(st.Pending) != len(sched) {
			t.Fatalf("seed %d: %d events for %d deliveries: %v", seed, len(st.Pending), len(sched), err)
		}
	}
	// The schedules exercised every rule (they are seeded: this is fixed).
	for _, k := range []string{"applied", "gap", "duplicate", "stale", "expired"} {
		if outcomes[k] == 0 && !testing.Short() {
			t.Errorf("no schedule produced a %s import", k)
		}
	}
}
