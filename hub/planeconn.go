package hub

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/planes"
	"github.com/eucora/eucora/hub/store"
)

// PlaneConnector is a registered plane's connector as the hub's own work
// (the orchestrator, reconciliation) uses it: the kind's connector with
// the plane's credentials, logging each attempt, retrying transient
// failures within policy, and recording every operation's outcome as an
// audit event "connector.OP" on "plane/NAME" with the correlation id and,
// for a failure, the error class (EUCORA-architecture.md section 6.2).
// actor is who the work is done for ("node:hub-1", "intent:ID").
// Close releases what the connector holds (sessions, tokens).
func (s *Server) PlaneConnector(name, actor string, retry connectors.RetryPolicy) (connectors.Connector, func(context.Context), error) {
	pl, err := s.store.State().Plane(name)
	if err != nil {
		return nil, nil, fmt.Errorf("plane %q: %w", name, err)
	}
	audit := &planeAudit{s: s, plane: name, actor: actor}
	if pl.Site != "" {
		relay := connectors.WithLogging(&siteRelay{s: s, plane: pl, actor: actor}, s.log.With("plane_name", name, "site", pl.Site))
		return connectors.WithAudit(relay, audit), func(context.Context) {}, nil
	}
	creds, err := s.planeCredentials(pl)
	if err != nil {
		return nil, nil, err
	}
	conn, err := planes.New(pl.Kind, pl.URL, creds)
	if err != nil {
		return nil, nil, fmt.Errorf("plane %q: %w", name, err)
	}
	closeFn := func(ctx context.Context) {
		if c, ok := conn.(interface{ Close(context.Context) error }); ok {
			c.Close(ctx)
		}
	}
	logged := connectors.WithLogging(conn, s.log.With("plane_name", name))
	return connectors.WithAudit(connectors.WithRetry(logged, retry), audit), closeFn, nil
}

// planeAudit records connector operations in the hub's audit log.
type planeAudit struct {
	s     *Server
	plane string
	actor string
}

func (a *planeAudit) RecordCall(_ context.Context, c connectors.Call) {
	op, _, _ := strings.Cut(c.Op, ":")
	var reason strings.Builder
	fmt.Fprintf(&reason, "%s %s", c.Plane, c.Op)
	if c.Release != "" {
		fmt.Fprintf(&reason, " release %s", c.Release)
	}
	if c.Outcome == "ok" {
		fmt.Fprintf(&reason, ": ok, %d created", c.Created)
	} else {
		fmt.Fprintf(&reason, ": class %s: %s", c.Class, c.Message)
	}
	fmt.Fprintf(&reason, " (%s)", c.Duration.Round(time.Millisecond))
	outcome := c.Outcome
	if outcome != "ok" {
		outcome = "failed:" + c.Class
	}
	a.s.metrics.planeCall(a.plane, op, c)
	a.s.recordAudit(&store.AuditInput{
		ID: ulid.Make().String(), Time: store.NowUTC(), Actor: a.actor, Action: "connector." + op,
		Object: "plane/" + a.plane, CorrelationID: c.CorrelationID, Outcome: outcome, Reason: reason.String(),
	})
}

var _ connectors.Recorder = (*planeAudit)(nil)
