package hub

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/eucora/eucora/connectors"
)

// TestPlaneCallOutcomes: a connector operation counts as ok, throttled
// (the plane's last answer was 429, after retries) or its failure class.
func TestPlaneCallOutcomes(t *testing.T) {
	m := newMetrics()
	m.planeCall("intune-prod", "publish", connectors.Call{Outcome: "ok"})
	m.planeCall("intune-prod", "publish", connectors.Call{Outcome: "failed", Class: "transient", Status: 429})
	m.planeCall("intune-prod", "publish", connectors.Call{Outcome: "failed", Class: "transient", Status: 429})
	m.planeCall("intune-prod", "query", connectors.Call{Outcome: "failed", Class: "transient", Status: 503})
	m.planeCall("jamf", "publish", connectors.Call{Outcome: "failed", Class: "policy-violation", Status: 403})
	for _, c := range []struct {
		plane, op, outcome string
		want               float64
	}{
		{"intune-prod", "publish", "ok", 1},
		{"intune-prod", "publish", "throttled", 2},
		{"intune-prod", "query", "transient", 1},
		{"jamf", "publish", "policy-violation", 1},
		{"jamf", "publish", "ok", 0},
	} {
		var pb dto.Metric
		if err := m.planeCalls.WithLabelValues(c.plane, c.op, c.outcome).Write(&pb); err != nil {
			t.Fatal(err)
		}
		if got := pb.GetCounter().GetValue(); got != c.want {
			t.Errorf("%s %s %s = %v, want %v", c.plane, c.op, c.outcome, got, c.want)
		}
	}
}
