package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/httpserve"
	"github.com/eucora/eucora/internal/progress"
	"github.com/eucora/eucora/internal/sdnotify"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/tlsconf"
	"github.com/eucora/eucora/transfer"
)

func hubCmd() *cli.Command {
	return &cli.Command{
		Name:        "hub",
		Usage:       "run and operate the hub (control plane)",
		Subcommands: []*cli.Command{hubServeCmd(), hubBackupCmd(), hubKeyCmd(), hubRotateKeyCmd(), hubExportCmd(), hubImportCmd(), hubRestoreCmd(), hubTLSCmd()},
	}
}

type hubServeOptions struct {
	data, httpAddr, raftAddr, nodeID, join, token string
	bootstrap, insecureHTTP                       bool
	rolloutInterval, reconcileInterval            time.Duration
	logFormat, accessLog                          string
	tls                                           tlsconf.Files
}

func hubServeCmd() *cli.Command {
	var o hubServeOptions
	return &cli.Command{
		Name:      "serve",
		Usage:     "run a hub node",
		UsageText: "eucora hub serve [--data DIR] [--http ADDR] [--raft ADDR] [--node-id ID] [--bootstrap] [--join URL --token TOKEN]",
		Description: "With no flags: a single-node hub in ./eucora-data on 127.0.0.1:8440 (HTTP) and\n" +
			"127.0.0.1:8441 (Raft) that bootstraps itself and writes a platform-admin token to\n" +
			"DIR/bootstrap.token (mode 0600). A node with no state and no --join bootstraps.\n" +
			"--join URL adds this node through any member, with a platform-admin --token.\n" +
			"With --tls-cert, --tls-key and --tls-ca (from 'eucora hub tls init') the API is served over\n" +
			"TLS and Raft and every node-to-node call run over mutual TLS: a node without a certificate\n" +
			"of --tls-ca cannot join or replicate. Without TLS, a request carrying a token that arrives\n" +
			"on a non-loopback address is refused unless --insecure-http is given (docs/tls.md).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", EnvVars: []string{"EUCORA_DATA"}, Value: datadir.Default, Usage: "data directory", Destination: &o.data},
			&cli.StringFlag{Name: "http", Value: hub.DefaultHTTPAddr, Usage: "HTTP API address", Destination: &o.httpAddr},
			&cli.StringFlag{Name: "raft", Value: hub.DefaultRaftAddr, Usage: "Raft address", Destination: &o.raftAddr},
			&cli.StringFlag{Name: "node-id", Value: hub.DefaultNodeID, Usage: "this node's id", Destination: &o.nodeID},
			&cli.BoolFlag{Name: "bootstrap", Usage: "bootstrap a new cluster (the default without --join)", Destination: &o.bootstrap},
			&cli.StringFlag{Name: "join", Usage: "URL of a member to join through", Destination: &o.join},
			&cli.StringFlag{Name: "token", EnvVars: []string{"EUCORA_TOKEN"}, Usage: "platform-admin token for --join", Destination: &o.token},
			&cli.DurationFlag{Name: "rollout-interval", Value: 5 * time.Second, Usage: "how often the leader's orchestrator takes each rollout's next step", Destination: &o.rolloutInterval},
			&cli.DurationFlag{Name: "reconcile-interval", Value: time.Minute, Usage: "how often each deployed release is compared with its plane (drift)", Destination: &o.reconcileInterval},
			logFormatFlag(&o.logFormat), accessLogFlag(&o.accessLog),
			&cli.BoolFlag{Name: "insecure-http", EnvVars: []string{"EUCORA_INSECURE_HTTP"}, Usage: "accept bearer tokens over plaintext HTTP on a non-loopback address (logs a warning)", Destination: &o.insecureHTTP},
		}, tlsListenFlags(&o.tls, "PEM CA certificate every node's certificate is verified against (mutual TLS)")...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubServeOptions) run(c *cli.Context) error {
	ctx := c.Context
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	log, err := newServeLogger(&output{w: out.w, logw: out.logw, json: out.json}, o.logFormat) // INFO even with --quiet, as before
	if err != nil {
		return err
	}
	access, closeAccess, err := openAccessLog(o.accessLog, log)
	if err != nil {
		return err
	}
	defer closeAccess()
	if o.rolloutInterval <= 0 || o.reconcileInterval <= 0 {
		return usageErrorf("--rollout-interval and --reconcile-interval must be positive")
	}
	m, err := loadTLS(o.tls, tlsconf.ForNode)
	if err != nil {
		return err
	}
	srv, err := hub.New(hub.Config{
		DataDir: o.data, HTTPAddr: o.httpAddr, RaftAddr: o.raftAddr, NodeID: o.nodeID,
		Bootstrap: o.bootstrap || o.join == "", Join: o.join, JoinToken: o.token, Logger: log, Version: version,
		RolloutInterval: o.rolloutInterval, ReconcileInterval: o.reconcileInterval, TLS: m, InsecureHTTP: o.insecureHTTP,
		HTTPLimits: httpserve.Options{AccessLog: access},
	})
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-srv.Ready():
			if err := sdnotify.Ready("serving " + srv.URL()); err != nil {
				log.Warn("systemd notify", "err", err)
			}
			go sdnotify.Watchdog(ctx, sdnotify.HTTPCheck(func() string { return srv.URL() + "/healthz" }), log)
			log.Info("hub ready", "url", srv.URL())
		case <-ctx.Done():
		}
	}()
	<-ctx.Done()
	log.Info("shutting down")
	sdnotify.Stopping()
	if err := srv.Close(); err != nil {
		return err
	}
	return nil
}

type hubBackupOptions struct {
	out       string
	withBlobs bool
}

func hubBackupCmd() *cli.Command {
	var o hubBackupOptions
	return &cli.Command{
		Name:      "backup",
		Usage:     "write a consistent, verifiable backup of the hub's state",
		UsageText: "eucora hub backup --out FILE [--with-blobs]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "backup file to write", Destination: &o.out},
			&cli.BoolFlag{Name: "with-blobs", Usage: "include every blob", Destination: &o.withBlobs},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubBackupOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	start := time.Now()
	body, err := cl.Backup(c.Context, o.withBlobs)
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := atomicfile.Create(o.out, 0o600)
	if err != nil {
		return err
	}
	defer f.Abort()
	m, err := hub.ReadBackup(io.TeeReader(body, f), nil)
	if err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	res := map[string]any{"file": o.out, "applied_index": m.AppliedIndex, "files": len(m.Files), "blobs": m.Blobs, "node_id": m.NodeID, "seconds": secs}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "backup %s: %d files, %d blobs, applied index %d (from %s), verified, %.1fs\n", o.out, len(m.Files), m.Blobs, m.AppliedIndex, m.NodeID, secs)
	})
}

type hubRestoreOptions struct {
	data, nodeID, raft string
}

func hubRestoreCmd() *cli.Command {
	var o hubRestoreOptions
	return &cli.Command{
		Name:      "restore",
		Usage:     "rebuild a single hub node from a backup",
		UsageText: "eucora hub restore FILE --data DIR [--node-id ID] [--raft ADDR]",
		Description: "Verifies FILE completely, then installs its state and blobs in DIR, which must hold\n" +
			"no hub state, as a one-node cluster whose only member is --node-id at --raft.\n" +
			"Start it with 'eucora hub serve --data DIR' and the same --node-id and --raft,\n" +
			"then grow it back to three with 'eucora hub serve --join URL' on two new nodes.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: datadir.Default, Usage: "data directory to create", Destination: &o.data},
			&cli.StringFlag{Name: "node-id", Value: hub.DefaultNodeID, Usage: "id of the restored node", Destination: &o.nodeID},
			&cli.StringFlag{Name: "raft", Value: hub.DefaultRaftAddr, Usage: "Raft address of the restored node", Destination: &o.raft},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubRestoreOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	args, err := positional(c, 1)
	if err != nil {
		return err
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	m, err := hub.Restore(f, o.data, o.nodeID, o.raft)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	res := map[string]any{"data": o.data, "applied_index": m.AppliedIndex, "blobs": m.Blobs, "seconds": secs}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "restored %s into %s: %d blobs, state at index %d, %.1fs\nstart it with: eucora hub serve --data %s --node-id %s --raft %s\n", args[0], o.data, m.Blobs, m.AppliedIndex, secs, o.data, o.nodeID, o.raft)
	})
}

type hubKeyOptions struct {
	outFile string
}

// hubKeyCmd exports the hub's public signing key, which edges are
// initialised with ('eucora edge init --hub-key FILE').
func hubKeyCmd() *cli.Command {
	var o hubKeyOptions
	return &cli.Command{
		Name:      "key",
		Usage:     "export the hub's public signing key (edges trust it)",
		UsageText: "eucora hub key --out FILE",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "file to write the PEM public key to", Destination: &o.outFile},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubKeyOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	// Never write what does not parse or does not match its id.
	pub, err := cl.HubPublicKey(c.Context)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(o.outFile, signing.EncodePublic(pub), 0o644); err != nil {
		return err
	}
	return out.emit(map[string]string{"key_id": pub.ID, "file": o.outFile}, func(w io.Writer) {
		fmt.Fprintf(w, "hub key %s written to %s\n", pub.ID, o.outFile)
	})
}

func hubRotateKeyCmd() *cli.Command {
	return &cli.Command{
		Name:  "rotate-key",
		Usage: "rotate the hub's signing key in two steps: stage, then switch",
		Description: "'stage' creates the next key; every bundle signed by the current key announces it,\n" +
			"and an edge that applies one trusts it. 'switch' makes it the signing key once every\n" +
			"enrolled site has applied an announcing bundle (see 'eucora site status'); --force\n" +
			"switches anyway, and sites that missed the announcement refuse new bundles until\n" +
			"re-initialised with the new key ('eucora hub key --out').",
		Subcommands: []*cli.Command{hubRotateKeyStageCmd(), hubRotateKeySwitchCmd()},
	}
}

type hubExportOptions struct {
	site, outDir, volSize    string
	full, replace, ifChanged bool
}

func hubExportCmd() *cli.Command {
	var o hubExportOptions
	return &cli.Command{
		Name:      "export",
		Usage:     "write the next bundle for a site into a directory (a USB stick, a transfer folder)",
		UsageText: "eucora hub export --site NAME --out DIR [--volume-size SIZE] [--full] [--if-changed] [--replace]",
		Description: "The hub builds the bundle (next sequence, its predecessor's digest, everything the\n" +
			"site lacks according to its last receipt) and this command copies its volumes into\n" +
			"DIR, checking free space first and verifying every volume against the hub key.\n" +
			"DIR may already hold earlier bundles (a stick reused round after round): the new\n" +
			"one is written beside them and 'eucora edge import DIR' applies what is new;\n" +
			"--replace removes the earlier bundles' volumes once the new one is written.\n" +
			"--if-changed writes nothing (exit 0) when the bundle would carry nothing the last\n" +
			"export did not.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "site", Required: true, Usage: "site to export to", Destination: &o.site},
			&cli.StringFlag{Name: "out", Required: true, Usage: "directory to write the volumes to", Destination: &o.outDir},
			&cli.StringFlag{Name: "volume-size", Value: "4000MiB", Usage: volumeSizeUsage("largest volume file (default fits FAT32)"), Destination: &o.volSize},
			&cli.BoolFlag{Name: "full", Usage: "carry everything, ignoring what the site says it holds", Destination: &o.full},
			&cli.BoolFlag{Name: "if-changed", Usage: "skip the export when it would carry nothing new since the last one", Destination: &o.ifChanged},
			&cli.BoolFlag{Name: "replace", Usage: "once the new bundle is written, remove the earlier eucora bundles DIR holds (other files stay)", Destination: &o.replace},
		}, hubClientFlags()...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubExportOptions) run(c *cli.Context) error {
	out, cl, err := hubSession(c)
	if err != nil {
		return err
	}
	vs, err := parseVolumeSize(o.volSize)
	if err != nil {
		return err
	}
	cl.HTTP.Timeout = 0 // an export may take long; the context bounds it
	hubPub, err := cl.HubPublicKey(c.Context)
	if err != nil {
		return err
	}
	em, err := prepareExportMedia(o.outDir)
	if err != nil {
		return err
	}
	x, err := cl.ExportSite(c.Context, o.site, api.ExportRequest{VolumeSize: vs, Full: o.full, IfChanged: o.ifChanged})
	if err != nil {
		return err
	}
	if o.ifChanged && x.Reused {
		return out.emit(map[string]any{"skipped": true, "export": x, "files": []string{}}, func(w io.Writer) {
			fmt.Fprintf(w, "nothing new for site %s since export %d (%s): skipped, nothing written to %s\n", o.site, x.Sequence,
				x.Created.UTC().Format(time.RFC3339), o.outDir)
		})
	}
	bar := progress.NewBytes(out.progressEnabled(), x.VolumeBytes(), "copying")
	files, err := cl.DownloadExport(c.Context, x, o.outDir, bar.Add)
	bar.Finish()
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if _, err := transfer.OpenOne(files, signing.NewTrust(hubPub)); err != nil {
		return fmt.Errorf("downloaded export %d does not verify against the hub key: %w", x.Sequence, err)
	}
	if err := em.finish(o.replace, files); err != nil {
		return err
	}
	return out.emit(map[string]any{"skipped": false, "export": x, "files": files, "other_bundles": em.Others, "removed": em.Removed}, func(w io.Writer) {
		fmt.Fprintf(w, "export %d for site %s: %d objects (%s), %d records, %d volume(s) in %s\n", x.Sequence, o.site, x.Objects,
			bytesize.Format(x.ObjectBytes), x.Records, len(x.Volumes), o.outDir)
		if x.Predecessor != "" {
			fmt.Fprintf(w, "predecessor %s\n", x.Predecessor.Short())
		}
		em.print(w, o.outDir, "eucora edge import "+o.outDir)
	})
}
