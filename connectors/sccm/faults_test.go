package sccm_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/sccm/sccmsim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/deploy"
)

var retryFast = connectors.RetryPolicy{Attempts: 10, Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: time.Minute}

// TestFaultsAtEveryStep injects each kind of fault at each request of a
// publish: it ends in one application, one deployment over exactly the
// targets, one distribution, and a bounded number of calls.
func TestFaultsAtEveryStep(t *testing.T) {
	steps := []struct {
		name  string
		match string
		skip  int
	}{
		{"token", "POST /72f988bf", 0},
		{"site id", "GET /AdminService/wmi/SMS_Identification.GetSiteID", 0},
		{"find application", "GET /AdminService/wmi/SMS_Application", 0},
		{"create application", "POST /AdminService/wmi/SMS_Application", 0},
		{"content package", "GET /AdminService/wmi/SMS_ContentPackage", 0},
		{"distribution status", "GET /AdminService/wmi/SMS_DPGroupDistributionStatusDetails", 0},
		{"distribute", "POST /AdminService/wmi/SMS_ContentPackage", 0},
		{"find collection", "GET /AdminService/wmi/SMS_Collection", 0},
		{"create collection", "POST /AdminService/wmi/SMS_Collection", 0},
		{"first rule", "POST /AdminService/wmi/SMS_Collection('", 0},
		{"device lookup", "GET /AdminService/wmi/SMS_R_System", 0},
		{"second rule", "POST /AdminService/wmi/SMS_Collection('", 1},
		{"refresh", "POST /AdminService/wmi/SMS_Collection('", 2},
		{"find deployment", "GET /AdminService/wmi/SMS_ApplicationAssignment", 0},
		{"create deployment", "POST /AdminService/wmi/SMS_ApplicationAssignment", 0},
	}
	faults := []struct {
		name string
		f    sim.Fault
	}{
		{"dropped after the site acted", sim.Fault{DropAfterHandle: true}},
		{"dropped mid-body", sim.Fault{DropMidBody: true}},
		{"500", sim.Fault{Status: 500, Body: `{"error":{"code":"InternalServerError","message":"Generic failure"}}`}},
		{"503 without Retry-After", sim.Fault{Status: 503}},
		{"429 with Retry-After", sim.Fault{Status: 429, RetryAfter: "0.001", Count: 3}},
	}
	tried := 0
	for _, st := range steps {
		for _, fl := range faults {
			t.Run(st.name+"/"+fl.name, func(t *testing.T) {
				s, mk := startSim(t, sccmsim.Options{ConsistencyDelay: 1})
				f := fl.f
				f.Match, f.Skip = st.match, st.skip
				if f.Count == 0 {
					f.Count = 1
				}
				s.Faults().Add(f)
				r := release(t, key("faulty", "1.0", deploy.Ring1Canary), "corr-fault")
				if _, err := connectors.WithRetry(mk(), retryFast).Publish(ctx(t), r); err != nil {
					t.Fatalf("publish: %v", err)
				}
				if objs, asg := s.Count(r.Key); objs != 1 || asg != len(r.Targets) {
					t.Errorf("%d applications, %d assignments", objs, asg)
				}
				n, per := s.Faults().Calls()
				if n > 60 {
					t.Errorf("%d calls", n)
				}
				hit := 0
				for k, v := range per {
					if strings.HasPrefix(k, f.Match) {
						hit += v
					}
				}
				if hit <= f.Skip {
					t.Errorf("the fault never hit: %d requests match %q", hit, f.Match)
				}
				if ds := s.Deployments(); len(ds) != 1 {
					t.Errorf("deployments %+v", ds)
				}
				// A second publish finds everything in place.
				if p, err := mk().Publish(ctx(t), r); err != nil || p.Created != 0 {
					t.Errorf("republish: %+v %v", p, err)
				}
			})
			tried++
		}
	}
	t.Logf("%d fault cases", tried)
}

// TestDroppedRevisionIsNotMadeTwice: a revision whose answer was lost is
// found on the retry, not made again.
func TestDroppedRevisionIsNotMadeTwice(t *testing.T) {
	s, mk := startSim(t, sccmsim.Options{ConsistencyDelay: 1})
	r := release(t, key("notepad", "8.6", deploy.Ring1Canary), "corr-r")
	mustPublish(t, mk(), r)
	r.Install.InstallCommand += " REBOOT=ReallySuppress"
	ci := latest(s, r.Key.AppKey().UUID())[0].CIID
	s.Faults().Add(sim.Fault{Match: fmt.Sprintf("POST /AdminService/wmi/SMS_Application(%d)", ci), Count: 1, DropAfterHandle: true})
	if _, err := connectors.WithRetry(mk(), retryFast).Publish(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	apps := latest(s, r.Key.AppKey().UUID())
	if len(apps) != 1 || apps[0].CIVersion != 2 || !strings.Contains(apps[0].XML, "ReallySuppress") {
		t.Errorf("%+v", apps)
	}
}

// TestRemediationsSurviveDrops: each remediation's mutating calls dropped
// after the site acted still end in one deployment of the right kind.
func TestRemediationsSurviveDrops(t *testing.T) {
	for _, m := range []string{"POST /AdminService/wmi/SMS_ApplicationAssignment", "DELETE /AdminService/wmi/SMS_ApplicationAssignment"} {
		for _, action := range []connectors.Action{connectors.PinPrior, connectors.Uninstall} {
			t.Run(string(action)+"/"+m, func(t *testing.T) {
				s, mk := startSim(t, sccmsim.Options{})
				c := connectors.WithRetry(mk(), retryFast)
				v1 := release(t, key("editor", "1.0", deploy.Ring1Canary), "corr-1")
				v2 := release(t, key("editor", "2.0", deploy.Ring1Canary), "corr-2")
				mustPublish(t, c, v1)
				prior := v1.Key
				v2.Prior = &prior
				mustPublish(t, c, v2)
				s.Faults().Add(sim.Fault{Match: m, Count: 1, DropAfterHandle: true})
				if _, err := c.Remediate(ctx(t), connectors.Remediation{Action: action, Release: v2}); err != nil {
					t.Fatal(err)
				}
				coll1, _ := s.CollectionByName(v1.Key.Name())
				coll2, _ := s.CollectionByName(v2.Key.Name())
				d1, d2 := deploymentsTo(s, coll1), deploymentsTo(s, coll2)
				switch action {
				case connectors.PinPrior:
					if len(d1) != 1 || len(d2) != 0 {
						t.Errorf("v1 %+v v2 %+v", d1, d2)
					}
				case connectors.Uninstall:
					if len(d1) != 1 || len(d2) != 1 || d2[0].DesiredConfigType != 2 {
						t.Errorf("v1 %+v v2 %+v", d1, d2)
					}
				}
			})
		}
	}
}
