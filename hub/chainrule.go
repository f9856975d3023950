package hub

import (
	"context"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/eucora/eucora/hub/store"
)

// ensureChainRule moves the event log to the one hash rule of every audit
// chain (store.ChainRuleCanonical) once per cluster: the leader proposes
// events.chain-rule when the state still hashes by an older rule, so every
// node switches at the same log index and the events before it keep the
// hashes they were written with (DESIGN.md, Events). Before anything else
// a new cluster does, so its log starts under the current rule.
func (s *Server) ensureChainRule() error {
	r, err := s.store.State().ChainRule()
	if err != nil || r.Rule >= store.ChainRuleCanonical {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	cmd, err := store.NewCommand(store.CmdChainRule, store.ChainRuleBody{Rule: store.ChainRuleCanonical, ID: ulid.Make().String(),
		Time: store.NowUTC(), Actor: "node:" + s.cfg.NodeID}, nil)
	if err != nil {
		return err
	}
	if _, err := s.store.Apply(ctx, cmd); err != nil {
		return err
	}
	s.log.Info("event log moved to hash rule 2 (transfer.EventHash); earlier events keep rule 1", "from_rule", r.Rule)
	return nil
}
