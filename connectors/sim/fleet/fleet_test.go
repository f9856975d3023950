package fleet

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func mustGenerate(tb testing.TB, o GenerateOptions) *Fleet {
	tb.Helper()
	f, err := Generate(o)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func TestSimFleetGenerateDeterministic(t *testing.T) {
	a := mustGenerate(t, GenerateOptions{N: 300, Seed: 7, Sites: []string{"hq", "lyon"}})
	b := mustGenerate(t, GenerateOptions{N: 300, Seed: 7, Sites: []string{"hq", "lyon"}})
	c := mustGenerate(t, GenerateOptions{N: 300, Seed: 8, Sites: []string{"hq", "lyon"}})
	same := 0
	for i := range a.Len() {
		da, db, dc := a.Device(i), b.Device(i), c.Device(i)
		if da.ID != db.ID || da.Name != db.Name || da.CheckIn != db.CheckIn || strings.Join(da.Groups, ",") != strings.Join(db.Groups, ",") {
			t.Fatalf("device %d differs between two fleets of one seed: %+v and %+v", i, da, db)
		}
		if !a.DueAt(da.ID, t0).Equal(b.DueAt(db.ID, t0)) {
			t.Fatalf("device %s: DueAt differs between two fleets of one seed", da.ID)
		}
		if da.ID == dc.ID {
			same++
		}
		if a.Draw(da.ID, "com.acme.ledger", "2.0", 1) != b.Draw(db.ID, "com.acme.ledger", "2.0", 1) {
			t.Fatalf("device %s: Draw differs between two fleets of one seed", da.ID)
		}
	}
	if same > 0 {
		t.Errorf("%d device ids repeat under another seed", same)
	}
}

func TestSimFleetGenerateLayout(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{500, []int{5, 20, 50, 175, 250}},
		{10000, []int{100, 400, 1000, 3500, 5000}},
		{50, []int{1, 2, 5, 17, 25}},
		{5, []int{1, 1, 1, 1, 1}},
	} {
		f := mustGenerate(t, GenerateOptions{N: tc.n, Seed: 1, Sites: []string{"hq", "lyon", "oslo"}})
		total := 0
		for r, want := range tc.want {
			if got := f.GroupSize(RingGroup(r)); got != want {
				t.Errorf("N=%d: %s has %d devices, want %d", tc.n, RingGroup(r), got, want)
			}
			total += f.GroupSize(RingGroup(r))
		}
		if total != tc.n {
			t.Errorf("N=%d: the rings hold %d devices", tc.n, total)
		}
		sites := f.GroupSize("site-hq") + f.GroupSize("site-lyon") + f.GroupSize("site-oslo")
		if sites != tc.n || f.GroupSize("site-hq")-f.GroupSize("site-oslo") > 1 {
			t.Errorf("N=%d: sites hold %d, %d, %d", tc.n, f.GroupSize("site-hq"), f.GroupSize("site-lyon"), f.GroupSize("site-oslo"))
		}
		for i := range f.Len() {
			d := f.Device(i)
			if len(d.Groups) != 2 || !strings.HasPrefix(d.Groups[0], "ring-") || d.Groups[1] != SiteGroup(d.Site) {
				t.Fatalf("device %+v: want one ring group and its site's group", d)
			}
			if d.CheckIn < time.Hour || d.CheckIn > 8*time.Hour || d.CheckIn%time.Second != 0 {
				t.Fatalf("device %s checks in every %s", d.ID, d.CheckIn)
			}
		}
	}
	for _, bad := range []GenerateOptions{{N: 0}, {N: 3, Platform: "beos"}, {N: 3, Sites: []string{"a b"}},
		{N: 3, Rings: []Ring{{"r", 0}}}, {N: 3, CheckInMin: 2 * time.Hour, CheckInMax: time.Hour}} {
		if _, err := Generate(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Generate(%+v): %v, want ErrInvalid", bad, err)
		}
	}
}

// TestSimFleetFailureShare checks that a rate fails its share of 10,000
// devices, that raising it fails a superset, and that a version's own
// rate overrides the application's.
func TestSimFleetFailureShare(t *testing.T) {
	f := mustGenerate(t, GenerateOptions{N: 10000, Seed: 42})
	const app = "com.acme.ledger"
	if err := f.SetRate(app, "", 0.2, t0); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	failed := map[string]bool{}
	for i := range f.Len() {
		if id := f.Device(i).ID; f.Fails(id, app, "2.0", 1, at) {
			failed[id] = true
		}
	}
	if share := float64(len(failed)) / 10000; math.Abs(share-0.2) > 0.015 {
		t.Errorf("rate 0.2 failed %.4f of 10,000 devices", share)
	}
	f.SetRate(app, "", 0.5, t0.Add(2*time.Hour))
	later, kept := 0, 0
	for i := range f.Len() {
		id := f.Device(i).ID
		if f.Fails(id, app, "2.0", 1, at) != failed[id] {
			t.Fatalf("device %s: a check-in before the change changed its outcome", id)
		}
		if f.Fails(id, app, "2.0", 1, t0.Add(3*time.Hour)) {
			later++
		} else if failed[id] {
			kept++
		}
	}
	if share := float64(later) / 10000; math.Abs(share-0.5) > 0.015 || kept != 0 {
		t.Errorf("rate 0.5 failed %.4f; %d devices that failed at 0.2 succeed at 0.5", share, kept)
	}
	f.SetRate(app, "1.0", 0, t0)
	for i := range f.Len() {
		if f.Fails(f.Device(i).ID, app, "1.0", 1, t0.Add(3*time.Hour)) {
			t.Fatal("version 1.0's own rate 0 does not override the application's")
		}
	}
	other := 0
	for i := range f.Len() {
		id := f.Device(i).ID
		if f.Fails(id, app, "2.0", 2, at) && failed[id] {
			other++
		}
	}
	if other > 600 {
		t.Errorf("a second attempt fails %d of the %d devices the first failed: attempts should draw afresh", other, len(failed))
	}
	if r := f.Rate("com.other", "1", at); r != 0 {
		t.Errorf("an app without a rate has rate %v", r)
	}
	for _, bad := range []struct {
		app, version string
		rate         float64
		field        string
	}{{"", "", 0.1, "app"}, {"a@b", "", 0.1, "app"}, {"a", "1 0", 0.1, "version"}, {"a", "", 1.5, "rate"}, {"a", "", math.NaN(), "rate"}, {"a", "", -0.1, "rate"}} {
		var fe *FieldError
		if err := f.SetRate(bad.app, bad.version, bad.rate, t0); !errors.As(err, &fe) || fe.Field != bad.field {
			t.Errorf("SetRate(%q, %q, %v): %v, want an error naming %s", bad.app, bad.version, bad.rate, err, bad.field)
		}
	}
}

// TestSimFleetDueAt checks a device acts at its first check-in after an
// assignment, and that devices spread over the interval.
func TestSimFleetDueAt(t *testing.T) {
	f := mustGenerate(t, GenerateOptions{N: 10000, Seed: 3, CheckInMin: 4 * time.Hour, CheckInMax: 4 * time.Hour})
	buckets := make([]int, 8)
	for i := range f.Len() {
		id := f.Device(i).ID
		due := f.DueAt(id, t0)
		if !due.After(t0) || due.After(t0.Add(4*time.Hour)) {
			t.Fatalf("device %s due at %s for an assignment at %s", id, due, t0)
		}
		if again := f.DueAt(id, due); !again.Equal(due.Add(4 * time.Hour)) {
			t.Fatalf("device %s: an assignment at its check-in %s waits for %s", id, due, again)
		}
		if mid := f.DueAt(id, due.Add(-time.Nanosecond)); !mid.Equal(due) {
			t.Fatalf("device %s: due %s, but just before it %s", id, due, mid)
		}
		if old := f.DueAt(id, t0.Add(-40*24*time.Hour)); (due.Sub(old) % (4 * time.Hour)) != 0 {
			t.Fatalf("device %s: check-ins are not on one grid", id)
		}
		buckets[int(due.Sub(t0)*8/(4*time.Hour+1))]++
	}
	for i, n := range buckets {
		if n < 1000 || n > 1500 {
			t.Errorf("half-hour %d holds %d of 10,000 check-ins: %v", i, n, buckets)
		}
	}
	if got := f.DueAt("nosuch", t0); !got.Equal(t0) {
		t.Errorf("unknown device due at %s", got)
	}
}

func TestSimFleetResult(t *testing.T) {
	f := mustGenerate(t, GenerateOptions{N: 20, Seed: 9})
	f.SetRate("app", "", 1, time.Time{})
	id := f.Device(0).ID
	due := f.DueAt(id, t0)
	o := Order{Install: true, App: "app", Version: "1", Attempt: 1, Since: t0}
	if r := f.Result(id, o, due.Add(-time.Second)); r.Done || !r.At.Equal(t0) {
		t.Errorf("before the check-in: %+v", r)
	}
	if r := f.Result(id, o, due); !r.Done || !r.Failed || !r.At.Equal(due) {
		t.Errorf("at the check-in: %+v, want failed at %s", r, due)
	}
	o.Install = false
	if r := f.Result(id, o, due); !r.Done || r.Failed {
		t.Errorf("an uninstall: %+v, want done without failing", r)
	}
}

func TestSimFleetNew(t *testing.T) {
	ok := Device{ID: "d1", Platform: Linux, Groups: []string{"ring-0"}}
	f, err := New(1, []Device{{ID: "d2", Platform: MacOS, Groups: []string{"ring-0", "x"}}, ok})
	if err != nil {
		t.Fatal(err)
	}
	if f.Device(0).ID != "d1" || f.Device(0).Name != "d1" || f.Device(0).CheckIn != DefaultCheckIn {
		t.Errorf("first device %+v: want d1 with the defaults", f.Device(0))
	}
	if m := f.Members("ring-0"); len(m) != 2 || m[0] != 0 || m[1] != 1 || !f.HasGroup("x") || f.HasGroup("y") {
		t.Errorf("ring-0 members %v", m)
	}
	if g := f.Groups(); strings.Join(g, ",") != "ring-0,x" {
		t.Errorf("groups %v", g)
	}
	for _, tc := range []struct {
		devices []Device
		field   string
	}{
		{[]Device{{ID: "", Platform: Linux}}, "devices[0].id"},
		{[]Device{ok, {ID: "d1", Platform: Linux}}, "devices[1].id"},
		{[]Device{ok, {ID: "d3", Name: "D1", Platform: Linux}}, "devices[1].name"},
		{[]Device{{ID: "d1", Platform: "beos"}}, "devices[0].platform"},
		{[]Device{{ID: "d1", Platform: Linux, Groups: []string{"a b"}}}, "devices[0].groups[0]"},
		{[]Device{{ID: "d1", Platform: Linux, Groups: []string{"a", "a"}}}, "devices[0].groups[1]"},
		{[]Device{{ID: "d1", Platform: Linux, CheckIn: -time.Minute}}, "devices[0].check_in"},
		{[]Device{{ID: "d1", Platform: Linux, Site: "x:y"}}, "devices[0].site"},
	} {
		var fe *FieldError
		if _, err := New(1, tc.devices); !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("New(%+v): %v, want an error naming %s", tc.devices, err, tc.field)
		}
	}
}

func TestSimFleetReleaseOf(t *testing.T) {
	for _, tc := range []struct{ text, app, version string }{
		{"eucora:correlation=c1 release=com.acme.ledger@2.0/ring-3/acquisition=contoso,bu=finance targets=g1", "com.acme.ledger", "2.0"},
		{"Install it.\n\neucora:correlation=c1 release=notepad@8.6/ring-0/*", "notepad", "8.6"},
		{"# eucora:correlation=c1 release=ledger@1:2.3-1ubuntu1/ring-0/*\napt-get install", "ledger", "1:2.3-1ubuntu1"},
		{"eucora:correlation=c1 release=nover", "", ""},
		{"no marker", "", ""},
	} {
		app, version, ok := ReleaseOf(tc.text)
		if app != tc.app || version != tc.version || ok != (tc.app != "") {
			t.Errorf("ReleaseOf(%q) = %q, %q, %v", tc.text, app, version, ok)
		}
	}
}

func TestSimFleetConcurrentRates(t *testing.T) {
	f := mustGenerate(t, GenerateOptions{N: 100, Seed: 1})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if w%2 == 0 {
					f.SetRate("app", "", float64(i%10)/10, t0.Add(time.Duration(i)*time.Minute))
				} else {
					f.Fails(f.Device(i%100).ID, "app", "1", 1, t0.Add(time.Duration(i)*time.Minute))
					f.Rates()
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkSimFleetResult(b *testing.B) {
	f := mustGenerate(b, GenerateOptions{N: 50000, Seed: 1})
	f.SetRate("app", "", 0.1, time.Time{})
	o := Order{Install: true, App: "app", Version: "1", Attempt: 1, Since: t0}
	now := t0.Add(9 * time.Hour)
	b.ResetTimer()
	for i := range b.N {
		f.Result(f.Device(i%f.Len()).ID, o, now)
	}
}
