package transfer

import (
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/internal/digest"
)

// Records of execution at a site (EUCORA-architecture.md sections 8.4 and
// 10): the hub decides, the site's edge acts on the planes it reaches and
// reports what they say.
const (
	// RecordOrder (hub -> edge) is one rollout step for a plane only the
	// site reaches: publish a release, or remediate it.
	RecordOrder = "order"
	// RecordExecution (edge -> hub) is the edge's report of an order: what
	// it did and what the plane's status API says now.
	RecordExecution = "execution"
)

// OrderPublish is the order action that publishes the release (the other
// actions are connectors' remediations).
const OrderPublish connectors.Action = "publish"

// orderActions are the actions an order may carry.
var orderActions = []connectors.Action{OrderPublish, connectors.Supersede, connectors.PinPrior, connectors.Uninstall, connectors.Redeploy}

// Order is the hub's instruction to a site's edge: apply Action to the
// release on the site-local plane named Plane (registered at the edge with
// `eucora edge plane add`, whose credentials never leave the site). Seq
// grows with every new instruction for the intent; the edge executes each
// sequence once and reports it. The release's content is the intent's
// artifact, an object of the same bundle.
type Order struct {
	IntentID string             `json:"intent_id"`
	Site     string             `json:"site"`
	Plane    string             `json:"plane"`
	Kind     connectors.Kind    `json:"kind"`
	Seq      uint64             `json:"seq"`
	Action   connectors.Action  `json:"action"`
	Release  connectors.Release `json:"release"`
	At       time.Time          `json:"at"`
}

// ExecutionReport is what a site's edge reports for an order: the last
// order it executed (OrderSeq, Action, ExecutedAt), a refusal or failure,
// and the plane's status of the release as last queried.
type ExecutionReport struct {
	IntentID string `json:"intent_id"`
	Site     string `json:"site"`
	Plane    string `json:"plane"`
	// OrderSeq is the order sequence last executed (0: none yet); Action
	// and ExecutedAt are its action and when the plane accepted it.
	OrderSeq   uint64            `json:"order_seq"`
	Action     connectors.Action `json:"action,omitempty"`
	ExecutedAt time.Time         `json:"executed_at,omitzero"`
	// Refused is the edge's offline admission refusal of the newest order
	// (deploy.AdmitAtSite's reasons); Error and ErrorClass the plane's last
	// failure.
	Refused    string `json:"refused,omitempty"`
	Error      string `json:"error,omitempty"`
	ErrorClass string `json:"error_class,omitempty"`
	// Status is the plane's answer to the last query, at QueriedAt.
	Status    *connectors.Status `json:"status,omitempty"`
	QueriedAt time.Time          `json:"queried_at,omitzero"`
}

// ParseOrder strictly decodes and validates an order record.
func ParseOrder(b []byte) (Order, error) {
	var o Order
	if err := decodeRecord(b, &o, RecordOrder); err != nil {
		return Order{}, err
	}
	return o, o.Validate()
}

// Validate checks an order's fields, naming the bad one.
func (o Order) Validate() error {
	if err := checkIntentID(RecordOrder, o.IntentID); err != nil {
		return err
	}
	if err := checkName(RecordOrder, "site", o.Site); err != nil {
		return err
	}
	if err := checkName(RecordOrder, "plane", o.Plane); err != nil {
		return err
	}
	switch {
	case !slices.Contains(connectors.Kinds, o.Kind):
		return badRecord(RecordOrder, "kind %q: want one of %v", o.Kind, connectors.Kinds)
	case o.Seq == 0:
		return badRecord(RecordOrder, "seq 0: orders start at 1")
	case !slices.Contains(orderActions, o.Action):
		return badRecord(RecordOrder, "action %q: want one of %v", o.Action, orderActions)
	}
	if err := checkUTC(RecordOrder, "at", o.At); err != nil {
		return err
	}
	rel := o.Release
	if err := rel.Key.Validate(); err != nil {
		return badRecord(RecordOrder, "release: %v", err)
	}
	if rel.CorrelationID != o.IntentID {
		return badRecord(RecordOrder, "release.correlation_id %q: want the intent id %q", rel.CorrelationID, o.IntentID)
	}
	if _, err := digest.Parse(string(rel.Content.Digest)); err != nil {
		return badRecord(RecordOrder, "release.content.sha256: %v", err)
	}
	if rel.Content.Name == "" || strings.ContainsAny(rel.Content.Name, "/\\\x00") || rel.Content.Size < 0 {
		return badRecord(RecordOrder, "release.content: want a file name without path separators and a size >= 0")
	}
	if len(rel.Targets) == 0 {
		return badRecord(RecordOrder, "release.targets: none; the ring reaches no group on plane %s", o.Plane)
	}
	for i, t := range rel.Targets {
		if t.ID == "" {
			return badRecord(RecordOrder, "release.targets[%d]: id empty", i)
		}
	}
	if rel.Prior != nil {
		if err := rel.Prior.Validate(); err != nil {
			return badRecord(RecordOrder, "release.prior: %v", err)
		}
	}
	if (o.Action == connectors.PinPrior || o.Action == connectors.Supersede) && rel.Prior == nil {
		return badRecord(RecordOrder, "action %s needs release.prior", o.Action)
	}
	return nil
}

// ParseExecutionReport strictly decodes and validates an execution record.
func ParseExecutionReport(b []byte) (ExecutionReport, error) {
	var r ExecutionReport
	if err := decodeRecord(b, &r, RecordExecution); err != nil {
		return ExecutionReport{}, err
	}
	return r, r.check()
}

func (r ExecutionReport) check() error {
	if err := checkIntentID(RecordExecution, r.IntentID); err != nil {
		return err
	}
	if err := checkName(RecordExecution, "site", r.Site); err != nil {
		return err
	}
	if err := checkName(RecordExecution, "plane", r.Plane); err != nil {
		return err
	}
	if (r.OrderSeq == 0) != r.ExecutedAt.IsZero() || (r.OrderSeq == 0) != (r.Action == "") {
		return badRecord(RecordExecution, "order_seq %d, action %q and executed_at: all or none", r.OrderSeq, r.Action)
	}
	if r.OrderSeq > 0 {
		if !slices.Contains(orderActions, r.Action) {
			return badRecord(RecordExecution, "action %q: want one of %v", r.Action, orderActions)
		}
		if err := checkUTC(RecordExecution, "executed_at", r.ExecutedAt); err != nil {
			return err
		}
	}
	if (r.Status == nil) != r.QueriedAt.IsZero() {
		return badRecord(RecordExecution, "status and queried_at: both or neither")
	}
	if r.Status == nil {
		return nil
	}
	if err := checkUTC(RecordExecution, "queried_at", r.QueriedAt); err != nil {
		return err
	}
	seen := make(map[string]bool, len(r.Status.Devices))
	for i, d := range r.Status.Devices {
		id := d.ID()
		switch {
		case id == "" || len(id) > 256:
			return badRecord(RecordExecution, "status.devices[%d]: want a device or device_id of 1-256 characters", i)
		case seen[id]:
			return badRecord(RecordExecution, "status.devices[%d]: device %q reported twice", i, id)
		case !knownState(d.State):
			return badRecord(RecordExecution, "status.devices[%d]: state %q is not an install state", i, d.State)
		}
		seen[id] = true
	}
	return nil
}

func knownState(s connectors.InstallState) bool {
	switch s {
	case connectors.StateInstalled, connectors.StateFailed, connectors.StatePending, connectors.StateNotInstalled,
		connectors.StateNotApplicable, connectors.StateUnknown:
		return true
	}
	return false
}

func checkIntentID(typ, id string) error {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, " \t\r\n/") {
		return badRecord(typ, "intent_id %q: want 1-128 characters without spaces or '/'", id)
	}
	return nil
}
