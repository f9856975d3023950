package connectors

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

func asError(err error, target **Error) bool { return errors.As(err, target) }

// WithLogging logs every operation of c at INFO (failures at WARN with the
// class) with the plane, the release key and the correlation id.
func WithLogging(c Connector, l *slog.Logger) Connector { return &logging{c: c, l: l} }

type logging struct {
	c Connector
	l *slog.Logger
}

func (g *logging) log(ctx context.Context, op string, start time.Time, err error, attrs ...any) {
	attrs = append(attrs, "plane", string(g.c.Kind()), "op", op, "duration", time.Since(start).Round(time.Millisecond))
	if err != nil {
		g.l.WarnContext(ctx, "connector operation failed", append(attrs, "class", ClassOf(err).String(), "err", err)...)
		return
	}
	g.l.InfoContext(ctx, "connector operation", attrs...)
}

func (g *logging) Kind() Kind { return g.c.Kind() }

func (g *logging) Publish(ctx context.Context, r Release) (Publication, error) {
	start := time.Now()
	p, err := g.c.Publish(ctx, r)
	g.log(ctx, "publish", start, err, "release", r.Key.String(), "correlation_id", r.CorrelationID, "created", p.Created)
	return p, err
}

func (g *logging) Query(ctx context.Context, k ReleaseKey) (Status, error) {
	start := time.Now()
	s, err := g.c.Query(ctx, k)
	g.log(ctx, "query", start, err, "release", k.String(), "devices", len(s.Devices))
	return s, err
}

func (g *logging) Remediate(ctx context.Context, m Remediation) (Publication, error) {
	start := time.Now()
	p, err := g.c.Remediate(ctx, m)
	g.log(ctx, "remediate", start, err, "action", string(m.Action), "release", m.Release.Key.String(), "correlation_id", m.Release.CorrelationID)
	return p, err
}

func (g *logging) Find(ctx context.Context, id string) ([]Object, error) {
	start := time.Now()
	o, err := g.c.Find(ctx, id)
	g.log(ctx, "find", start, err, "correlation_id", id, "objects", len(o))
	return o, err
}

func (g *logging) Check(ctx context.Context) (Check, error) {
	start := time.Now()
	c, err := g.c.Check(ctx)
	g.log(ctx, "check", start, err)
	return c, err
}
