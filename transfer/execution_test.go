package transfer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

func testOrder() Order {
	key := connectors.ReleaseKey{App: "7zip", Version: "24.08", Ring: deploy.Ring2Pilot, Scope: deploy.Scope{Acquisition: "acme", BU: "ops", Site: "berlin"}}
	prior := key
	prior.Version = "24.07"
	return Order{IntentID: "in-1-r2", Site: "berlin", Plane: "sccm-berlin", Kind: connectors.SCCM, Seq: 2, Action: connectors.PinPrior, At: recT0,
		Release: connectors.Release{Key: key, CorrelationID: "in-1-r2", DisplayName: "7-Zip 24.08",
			Content: connectors.Content{Name: "7z.msi", Size: 10, Digest: digest.FromBytes([]byte("msi")), Type: deploy.PlatformMSI},
			Install: connectors.Install{InstallCommand: "msiexec /i 7z.msi /qn", Detection: connectors.Detection{ProductCode: "{A}"}},
			Targets: []connectors.Target{{ID: "BER00012", Name: "ring-2"}}, Prior: &prior, Required: true}}
}

func testReport() ExecutionReport {
	return ExecutionReport{IntentID: "in-1-r2", Site: "berlin", Plane: "sccm-berlin", OrderSeq: 1, Action: OrderPublish, ExecutedAt: recT0,
		QueriedAt: recT0.Add(time.Minute), Status: &connectors.Status{Devices: []connectors.DeviceState{
			{Device: "BER-PC1", State: connectors.StateInstalled, At: recT0}, {Device: "BER-PC2", State: connectors.StateFailed, ErrorCode: 1603}},
			Summary: connectors.Summary{Installed: 1, Failed: 1}, Assigned: []string{"BER00012"}}}
}

func TestOrderAndExecutionRoundTrip(t *testing.T) {
	for typ, v := range map[string]any{RecordOrder: testOrder(), RecordExecution: testReport()} {
		b := mustJSON(t, v)
		got, err := ParseRecord(typ, b)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if string(mustJSON(t, got)) != string(b) {
			t.Errorf("%s: round trip %s != %s", typ, mustJSON(t, got), b)
		}
	}
}

// TestOrderAndExecutionRefused: each defect is refused with a message
// naming the field.
func TestOrderAndExecutionRefused(t *testing.T) {
	order := func(f func(*Order)) []byte { o := testOrder(); f(&o); return mustJSON(t, o) }
	report := func(f func(*ExecutionReport)) []byte { r := testReport(); f(&r); return mustJSON(t, r) }
	cases := []struct {
		typ  string
		in   []byte
		want string
	}{
		{RecordOrder, order(func(o *Order) { o.IntentID = "" }), "intent_id"},
		{RecordOrder, order(func(o *Order) { o.IntentID = "a/b" }), "intent_id"},
		{RecordOrder, order(func(o *Order) { o.Site = "../x" }), "site"},
		{RecordOrder, order(func(o *Order) { o.Plane = "" }), "plane"},
		{RecordOrder, order(func(o *Order) { o.Kind = "bigfix" }), "kind"},
		{RecordOrder, order(func(o *Order) { o.Seq = 0 }), "seq 0"},
		{RecordOrder, order(func(o *Order) { o.Action = "wipe" }), "action"},
		{RecordOrder, order(func(o *Order) { o.At = time.Time{} }), "at missing"},
		{RecordOrder, order(func(o *Order) { o.At = recT0.In(time.FixedZone("x", 3600)) }), "UTC"},
		{RecordOrder, order(func(o *Order) { o.Release.Key.Ring = 9 }), "ring"},
		{RecordOrder, order(func(o *Order) { o.Release.CorrelationID = "other" }), "correlation_id"},
		{RecordOrder, order(func(o *Order) { o.Release.Content.Digest = "sha256:zz" }), "sha256"},
		{RecordOrder, order(func(o *Order) { o.Release.Content.Name = "../../etc/passwd" }), "path separators"},
		{RecordOrder, order(func(o *Order) { o.Release.Content.Size = -1 }), "size"},
		{RecordOrder, order(func(o *Order) { o.Release.Targets = nil }), "targets"},
		{RecordOrder, order(func(o *Order) { o.Release.Targets[0].ID = "" }), "targets[0]"},
		{RecordOrder, order(func(o *Order) { o.Release.Prior = nil }), "needs release.prior"},
		{RecordOrder, order(func(o *Order) { o.Release.Prior.Version = "" }), "prior"},
		{RecordOrder, []byte(strings.Replace(string(mustJSON(t, testOrder())), `"seq":2`, `"seq":2,"shell":"rm -rf /"`, 1)), "unknown field"},
		{RecordExecution, report(func(r *ExecutionReport) { r.Site = "" }), "site"},
		{RecordExecution, report(func(r *ExecutionReport) { r.ExecutedAt = time.Time{} }), "all or none"},
		{RecordExecution, report(func(r *ExecutionReport) { r.Action = "wipe" }), "action"},
		{RecordExecution, report(func(r *ExecutionReport) { r.QueriedAt = time.Time{} }), "both or neither"},
		{RecordExecution, report(func(r *ExecutionReport) { r.Status.Devices[1].Device = "BER-PC1" }), "reported twice"},
		{RecordExecution, report(func(r *ExecutionReport) { r.Status.Devices[0].State = "happy" }), "install state"},
		{RecordExecution, report(func(r *ExecutionReport) { r.Status.Devices[0].Device = "" }), "device_id"},
		{RecordExecution, report(func(r *ExecutionReport) { r.Status.Devices[0].Device = strings.Repeat("d", 300) }), "1-256"},
	}
	for _, tc := range cases {
		_, err := ParseRecord(tc.typ, tc.in)
		if !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %.80s: got %v, want %q", tc.typ, tc.in, err, tc.want)
		}
	}
}
