package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

var (
	// errNotForHub: a bundle given to 'hub import' that is not addressed to
	// the hub (a hub bundle for a site, or another site's).
	errNotForHub = errors.New("bundle is not for the hub")
	// errUnregisteredSite: an edge bundle from a site the hub does not know.
	errUnregisteredSite = errors.New("bundle from an unregistered site")
)

// hubImportItem is what 'hub import' did with one bundle it found.
type hubImportItem struct {
	*mediaBundle
	// Outcome: "applied" or "duplicate" (the hub's answer), "refused"
	// (here or by the hub), "stale" or "not-for-us" (left alone).
	Outcome string            `json:"outcome"`
	Detail  string            `json:"detail,omitempty"`
	Result  *api.ImportResult `json:"result,omitempty"`
}

// runHubImport hands the edge bundles found in paths to the hub, in
// (site, sequence) order. With several bundles, one older than what the
// hub merged from its site is reported as stale and not sent. A bundle
// refused here is reported to the hub, which audits it. The error is the
// first refusal; a local failure or an unreachable hub stops at once.
func runHubImport(ctx context.Context, out *output, cl *client.Client, paths []string) error {
	files, err := transfer.ExpandPaths(paths)
	if err != nil {
		return err
	}
	groups, bad := readMedia(files)
	if len(groups) == 0 {
		return bad[0].Err
	}
	several := len(groups)+len(bad) > 1
	var items []*hubImportItem
	var first error
	refuse := func(it *hubImportItem, outcome string, err error) {
		it.Outcome, it.Detail = outcome, err.Error()
		if first == nil {
			first = err
		}
	}
	for _, f := range bad {
		it := &hubImportItem{mediaBundle: &mediaBundle{Files: []string{f.Path}}}
		items = append(items, it)
		refuse(it, "refused", f.Err)
	}
	sites := map[string]*siteKey{}
	for _, g := range groups {
		it := &hubImportItem{mediaBundle: g}
		items = append(items, it)
		if g.Target != transfer.HubEndpoint {
			refuse(it, "not-for-us", wrongSide(g))
			continue
		}
		sk, err := siteKeyOf(ctx, cl, sites, g, several)
		if err != nil {
			if errors.Is(err, errUnregisteredSite) {
				refuse(it, "refused", err)
				continue
			}
			return err
		}
		if sk.sync != nil && g.Sequence < sk.sync.LastImportSeq {
			it.Outcome = "stale"
			it.Detail = fmt.Sprintf("older than sequence %d, the last the hub merged from %s: not sent", sk.sync.LastImportSeq, g.Source)
			continue
		}
		sg, recs, err := transfer.ReadRecords(ctx, g.Files, signing.NewTrust(sk.pub), os.TempDir())
		if err != nil {
			code, ok := transfer.RefusalOf(err)
			if !ok {
				return err
			}
			rep := api.ImportRefusal{Code: code, Reason: err.Error(), BundleID: g.BundleID, Sequence: g.Sequence, Digest: g.Digest}
			if rerr := cl.ReportImportRefusal(ctx, g.Source, rep); rerr != nil {
				err = fmt.Errorf("%w (reporting the refusal to the hub failed: %v)", err, rerr)
			} else {
				err = fmt.Errorf("%w (refusal recorded at the hub)", err)
			}
			refuse(it, "refused", err)
			continue
		}
		res, err := cl.ImportSite(ctx, g.Source, api.NewImportRequest(sg.Envelope, recs))
		if err != nil {
			if _, ok := transfer.RefusalOf(err); ok {
				refuse(it, "refused", err)
				continue
			}
			return err
		}
		it.Result, it.Outcome = &res, res.Outcome
		it.Sequence, it.Digest = sg.Sequence, string(sg.Digest)
	}
	if !several && first != nil {
		return first // one bundle, refused: the error says it all
	}
	var data any = map[string]any{"bundles": items}
	if len(items) == 1 && items[0].Result != nil {
		data = items[0].Result
	}
	if err := out.emit(data, func(w io.Writer) { printHubImport(w, items) }); err != nil && first == nil {
		first = err
	}
	return first
}

// siteKey is a site's enrolled edge key and sync state, looked up once.
type siteKey struct {
	pub  *signing.PublicKey
	sync *api.SiteSync // nil when not asked for or not readable with this token
}

// siteKeyOf looks up the key of g's site, and its sync state when
// withSync (only several bundles are judged against it).
func siteKeyOf(ctx context.Context, cl *client.Client, cache map[string]*siteKey, g *mediaBundle, withSync bool) (*siteKey, error) {
	name := g.Source
	if sk := cache[name]; sk != nil {
		return sk, nil
	}
	s, err := cl.Site(ctx, name)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%w: bundle %s (sequence %d) is from %q, which is not a site of this hub ('eucora site list'; "+
			"'eucora site add %s --edge-key EDGE.pub' registers it)", errUnregisteredSite, g.BundleID, g.Sequence, name, name)
	}
	if err != nil {
		return nil, fmt.Errorf("bundle is from %q: %w", name, err)
	}
	if s.EdgeKeyPEM == "" {
		return nil, fmt.Errorf("site %s has no enrolled edge key: 'eucora site enroll %s --edge-key EDGE.pub'", name, name)
	}
	pub, err := signing.ParsePublic([]byte(s.EdgeKeyPEM), "site "+name+" edge key")
	if err != nil {
		return nil, err
	}
	sk := &siteKey{pub: pub}
	if withSync {
		if ss, err := cl.SiteSyncState(ctx, name); err == nil {
			sk.sync = &ss
		}
	}
	cache[name] = sk
	return sk, nil
}

// wrongSide says what a bundle not addressed to the hub is and where it
// belongs.
func wrongSide(g *mediaBundle) error {
	if g.Source == transfer.HubEndpoint {
		return fmt.Errorf("%w: bundle %s (sequence %d) is the hub's bundle for site %s: carry it to %s and run `eucora edge import --data DIR PATH` there",
			errNotForHub, g.BundleID, g.Sequence, g.Target, g.Target)
	}
	return fmt.Errorf("%w: bundle %s (sequence %d) is from %q for %q, not for the hub", errNotForHub, g.BundleID, g.Sequence, g.Source, g.Target)
}

func printHubImport(w io.Writer, items []*hubImportItem) {
	for _, it := range items {
		if res := it.Result; res != nil {
			fmt.Fprintf(w, "%s: site %s bundle %d (%s): %d events merged, %d already held\n", res.Outcome, res.Site, it.Sequence,
				digest.Digest(it.Digest).Short(), res.EventsAccepted, res.EventsDuplicate)
			if res.Gap != nil {
				fmt.Fprintf(w, "gap: events %d..%d have not arrived; a later export will carry them\n", res.Gap.From, res.Gap.To)
			}
			if !res.ChainOK {
				fmt.Fprintf(w, "EVENT CHAIN BROKEN: %s\n", res.ChainError)
			}
			for _, m := range res.Warnings {
				fmt.Fprintf(w, "warning: %s\n", m)
			}
			continue
		}
		if it.BundleID == "" {
			fmt.Fprintf(w, "%s: %s\n", it.Outcome, it.Detail)
			continue
		}
		fmt.Fprintf(w, "%s: bundle %s sequence %d from %s: %s\n", it.Outcome, it.BundleID, it.Sequence, it.Source, it.Detail)
	}
}

type hubImportOptions struct{}

func hubImportCmd() *cli.Command {
	var o hubImportOptions
	return &cli.Command{
		Name:      "import",
		Usage:     "hand an edge's bundle (receipt, events) to the hub",
		UsageText: "eucora hub import PATH...",
		Description: "PATH is volume files or directories of them, in any order. The bundle is verified\n" +
			"here and again by the hub against the site's enrolled key; the hub merges its\n" +
			"events exactly once, checks the edge's hash chain and updates the site's sync state.\n" +
			"A bundle refused here (bad signature, damaged or missing volume) is also reported\n" +
			"to the hub, which records the refusal in its audit log. A bundle from a site this\n" +
			"hub does not know, or one the hub wrote for a site, is refused (22).\n\n" +
			"A directory reused round after round may hold several exports: they are merged in\n" +
			"sequence order, each as above; older ones are reported (stale, with their\n" +
			"sequence numbers) and sent nowhere. With --output json, one bundle gives the\n" +
			"hub's import result, several give {\"bundles\":[{\"sequence\",\"outcome\",...}]}.",
		Flags:  hubClientFlags(),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubImportOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	paths := c.Args().Slice()
	if len(paths) == 0 {
		return usageErrorf("give the volume files or directories to import")
	}
	return runHubImport(c.Context, out, cl, paths)
}
