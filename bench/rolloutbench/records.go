package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/rollout"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// saveRollouts records each intent's rollout as the orchestrator leaves
// it after publishing and observing the ring (plane, targets, telemetry,
// gate, the steps it took), then paused by endpoint ops: a rollout every
// pass reconciles (its release is desired on the plane) and takes no gate
// step of, so that a pass is reconciliation only.
func (h *hub) saveRollouts(ctx context.Context, apps []appRef, ans answers, published time.Time) error {
	return parallel(48, len(apps), func(_, i int) error {
		a := apps[i]
		st := ans[a.intent].status()
		at := published.Add(2 * time.Hour)
		m := deploy.MeasureRing(a.ring, deploy.SiteOnline, published, at, st.Results())
		key := releaseOf(a).Key
		steps := []store.RolloutStep{
			{Op: "publish", Phase: "begin", At: published.Add(-time.Minute), Detail: fmt.Sprintf("%s to 1 group(s) on %s", key, planeName(a.acq))},
			{Op: "publish", Phase: "done", At: published, Created: 3, Objects: 2},
		}
		if a.ring == deploy.Ring0Lab {
			for _, op := range []string{"validate-uninstall", "validate-redeploy"} {
				steps = append(steps, store.RolloutStep{Op: op, Phase: "begin", At: published.Add(30 * time.Minute)},
					store.RolloutStep{Op: op, Phase: "done", At: published.Add(40 * time.Minute), Objects: 2})
			}
		}
		steps = append(steps, store.RolloutStep{Op: "pause", Phase: "done", At: at, Detail: "by token:eve: change freeze for the quarter-end close"})
		r := store.Rollout{IntentID: a.intent, AppID: a.id, Version: a.version, Ring: a.ring, Scope: a.scope(), Base: a.intent,
			State: store.RolloutPaused, OnFailure: store.OnFailurePause, Plane: planeName(a.acq), PlaneKind: "intune",
			PlaneReason: "windows online: Intune is the primary plane (EUCORA-architecture.md section 3.3)", SiteClass: deploy.SiteOnline,
			Targets: []store.Target{{ID: ringGroup(a.acq, int(a.ring))}}, PublishedAt: &published,
			Telemetry: &store.Telemetry{At: at, Measure: m, Assigned: st.Assigned, Objects: len(st.Objects)},
			Gate: &store.GateRecord{At: at, Verdict: deploy.GateWait, Waiting: []string{
				fmt.Sprintf("promotion.time-to-compliance: %s: compliance not reached yet, 2h of 24h elapsed", a.ring)}},
			PausedBy: "token:eve", PauseReason: "change freeze for the quarter-end close", Steps: steps, CreatedAt: published.Add(-time.Minute), UpdatedAt: at}
		if a.ring == deploy.Ring0Lab {
			r.Validation, r.RollbackValidated = "validated", []string{"intune"}
		}
		cmd, err := store.NewCommand(store.CmdRolloutSave, store.RolloutSaveBody{Rollout: r},
			&store.AuditInput{ID: "save-" + a.intent, Time: at, Actor: rollout.Actor, Role: string(deploy.RolePublisher), Action: "rollout.paused", Object: "intent/" + a.intent, CorrelationID: a.intent})
		if err != nil {
			return err
		}
		h.commands.Add(1)
		if _, err := h.st.Apply(ctx, cmd); err != nil {
			return fmt.Errorf("rollout %s: %w", a.intent, err)
		}
		return nil
	})
}

// receiveHeld records, for a site, an edge receipt saying it holds every
// artifact of its scope but the newest of each hundred (what the next
// export must carry): an enrolled edge key and one site.import of a
// receipt with its held list, as the hub merges an edge bundle.
func (h *hub) receiveHeld(ctx context.Context, site string, apps []appRef, inScope func(appRef) bool) error {
	k, err := signing.Generate()
	if err != nil {
		return err
	}
	if _, err := h.apply(ctx, store.CmdSiteEnroll, "site/"+site, admin, store.SiteEnrollBody{Name: site, PublicPEM: string(signing.EncodePublic(k.Public()))}); err != nil {
		return err
	}
	var held []digest.Digest
	var bytes int64
	for _, a := range apps {
		if inScope(a) && a.n%100 != 99 {
			held = append(held, a.artifact)
			bytes += int64(len(a.body))
		}
	}
	slices.Sort(held)
	body := store.SiteImportBody{Site: site, Sequence: 1, Digest: digest.FromBytes([]byte("bundle 1 of " + site)), BundleID: "b-" + site, KeyID: k.Public().ID,
		At: time.Now().UTC(), Receipt: transfer.Receipt{Site: site, Objects: transfer.HeldObjects{Count: int64(len(held)), Bytes: bytes, ListDigest: transfer.HeldListDigest(held)},
			ChainHead: transfer.ChainHead{Hash: transfer.GenesisHash}, Generated: time.Now().UTC()},
		Held: &transfer.HeldList{Site: site, Digests: held}}
	_, err = h.apply(ctx, store.CmdSiteImport, "site/"+site, admin, body)
	return err
}
