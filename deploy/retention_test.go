package deploy

import (
	"errors"
	"testing"
	"time"
)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

func verdicts(t *testing.T, rs []Release, at time.Time) map[string]RetentionVerdict {
	t.Helper()
	vs, err := PlanRetention(rs, at)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]RetentionVerdict{}
	for _, v := range vs {
		if v.Keep == v.Removable || v.Reason == "" {
			t.Fatalf("verdict %+v", v)
		}
		m[v.Version] = v
	}
	return m
}

func TestRetention(t *testing.T) {
	// EUCORA-architecture.md section 7.5: keep prior versions 90 days or the last 2 releases,
	// whichever keeps more.
	rs := []Release{
		{"1.0", day(-400)}, {"1.1", day(-300)}, {"1.2", day(-200)}, {"1.3", day(-100)}, {"1.4", day(-10)},
	}
	v := verdicts(t, rs, t0)
	// 1.4 current; 1.3 superseded 10d ago (kept, #1); 1.2 superseded 100d ago
	// but one of the last 2 prior releases (#2, kept); 1.1, 1.0 removable.
	for ver, keep := range map[string]bool{"1.4": true, "1.3": true, "1.2": true, "1.1": false, "1.0": false} {
		if v[ver].Keep != keep {
			t.Errorf("%s keep %v, want %v: %s", ver, v[ver].Keep, keep, v[ver].Reason)
		}
	}
	// Many releases within 90 days: all kept (90 days keeps more than 2).
	rs = []Release{{"2.0", day(-80)}, {"2.1", day(-60)}, {"2.2", day(-40)}, {"2.3", day(-20)}, {"2.4", day(-1)}}
	for ver, vd := range verdicts(t, rs, t0) {
		if !vd.Keep {
			t.Errorf("%s removable: %s", ver, vd.Reason)
		}
	}
	// The 90-day boundary: superseded exactly 90 days ago is removable, one
	// second less is kept (for a release that is not among the last 2).
	rs = []Release{{"3.0", day(-200)}, {"3.1", day(-120)}, {"3.2", day(-110)}, {"3.3", day(-90)}}
	// 3.3 current (released day -90); 3.2 superseded at day -90 (#1), 3.1 at day -110 (#2),
	// 3.0 superseded at day -120 (#3): removable at any time >= day -30.
	if v := verdicts(t, rs, day(-30)); !v["3.0"].Removable {
		t.Error(v["3.0"])
	}
	if v := verdicts(t, rs, day(-30).Add(-time.Second)); !v["3.0"].Keep {
		t.Error(v["3.0"])
	}
	// Scheduled (future) releases do not supersede anything.
	rs = []Release{{"4.0", day(-300)}, {"4.1", day(-200)}, {"4.2", day(-150)}, {"5.0", day(10)}}
	v = verdicts(t, rs, t0)
	if !v["5.0"].Keep || v["4.2"].Reason != "current release" || !v["4.1"].Keep || !v["4.0"].Keep {
		t.Fatalf("%+v", v)
	}
	// Bad input names the field.
	for _, bad := range [][]Release{{{"", t0}}, {{"1", t0}, {"1", day(1)}}, {{"1", time.Time{}}}} {
		var fe *FieldError
		if _, err := PlanRetention(bad, t0); !errors.As(err, &fe) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
