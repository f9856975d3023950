package sccm

import (
	"context"
	"fmt"

	"github.com/eucora/eucora/connectors"
)

// Remediate implements connectors.Connector.
//
//   - PinPrior deploys the prior application to the prior release's
//     collection (its own name, made from this release's targets if the
//     site no longer holds it; an existing one keeps its rules, so the
//     prior's devices are the prior's) and removes this release's
//     deployment. The newer application stays, undeployed.
//   - Supersede publishes the release with its supersedence rule over the
//     prior's deployment type (a new revision when the application lacked
//     it).
//   - Uninstall replaces the release's install deployment with an
//     uninstall deployment (DesiredConfigType 2, required) to its
//     collection.
//   - Redeploy removes an uninstall deployment, publishes the install
//     deployment again and asks the collection's clients to download
//     policy now (InitiateClientOperation type 8).
func (c *connector) Remediate(ctx context.Context, m connectors.Remediation) (connectors.Publication, error) {
	r := m.Release
	op := "remediate " + string(m.Action)
	if err := validate(r); err != nil {
		return connectors.Publication{Key: r.Key}, badInput(op, err)
	}
	switch m.Action {
	case connectors.PinPrior, connectors.Supersede:
		if r.Prior == nil {
			return connectors.Publication{Key: r.Key}, badInput(op, fmt.Errorf("release %s: %s needs the prior release", r.Key, m.Action))
		}
		if r.Prior.AppKey() == r.Key.AppKey() {
			return connectors.Publication{Key: r.Key}, badInput(op, fmt.Errorf("release %s: its prior %s is the same application version", r.Key, *r.Prior))
		}
	}
	switch m.Action {
	case connectors.PinPrior:
		return c.pinPrior(ctx, r)
	case connectors.Supersede:
		return c.publish(ctx, r, actionInstall)
	case connectors.Uninstall:
		return c.publish(ctx, r, actionUninstall)
	case connectors.Redeploy:
		pub, err := c.publish(ctx, r, actionInstall)
		if err != nil {
			return pub, err
		}
		var colID string
		for _, o := range pub.Objects {
			if o.Kind == "collection" {
				colID = o.ID
			}
		}
		err = c.c.call(ctx, "nudge clients", "SMS_ClientOperation.InitiateClientOperation",
			map[string]any{"TargetCollectionID": colID, "Type": 8, "RandomizationWindow": 0})
		return pub, err
	}
	return connectors.Publication{Key: r.Key}, badInput(op, fmt.Errorf("unknown action %q", m.Action))
}

func (c *connector) pinPrior(ctx context.Context, r connectors.Release) (connectors.Publication, error) {
	const op = "remediate pin-prior"
	prior := *r.Prior
	pub := connectors.Publication{Key: prior}
	scope, err := c.authoringScope(ctx)
	if err != nil {
		return pub, err
	}
	found, err := c.findApp(ctx, op, scope, prior)
	if err != nil {
		return pub, err
	}
	if found == nil {
		return pub, &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.Permanent, NotFound: true,
			Message: fmt.Sprintf("the prior release %s has no application %s on the site", prior, modelName(scope, prior))}
	}
	a := app{smsApplication: *found}
	pub.Objects = append(pub.Objects, a.object())
	col, err := c.ensureCollection(ctx, prior, r.CorrelationID, r.Targets, false, &pub)
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, collectionObject(col))
	if err := c.removeAssignments(ctx, assignmentName(prior, prior, actionUninstall)); err != nil {
		return pub, err
	}
	asg, err := c.ensureAssignment(ctx, deployment{App: a, AppKey: prior, CollKey: prior, Coll: col, Action: actionInstall,
		Corr: r.CorrelationID, Required: r.Required, Deadline: r.Deadline}, &pub)
	if err != nil {
		return pub, err
	}
	pub.Objects = append(pub.Objects, assignmentObject(asg))
	// Only now that the prior is deployed does the newer one go.
	if err := c.removeAssignments(ctx, assignmentName(r.Key, r.Key, actionInstall)); err != nil {
		return pub, err
	}
	return pub, nil
}
