package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/edge"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/httpserve"
	"github.com/eucora/eucora/internal/sdnotify"
	"github.com/eucora/eucora/internal/tlsconf"
)

type edgeServeOptions struct {
	data, listen, hub, tokenFile, interval, bandwidth, accessLog, logFormat string
	executeInterval                                                         string
	tls                                                                     tlsconf.Files
	replaceHubCA                                                            bool
}

func edgeServeCmd() *cli.Command {
	var o edgeServeOptions
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve APT publications and distribution-point content; with --hub, sync with the hub over the network",
		UsageText: "eucora edge serve --data DIR [--listen 127.0.0.1:8450] [--hub URL --token-file FILE] [--interval 30s] [--bandwidth 4Mbit/s] [--access-log stderr|FILE|off]",
		Description: "Serves, every object verified against its digest before it is served, with Range:\n" +
			"  /apt/PREFIX/...                  APT publications the edge holds, byte-identical to the hub's\n" +
			"                                   (apt: deb [signed-by=KEY] http://ADDR/apt/PREFIX DIST COMPONENT)\n" +
			"  /dp/sccm/APP/VERSION/NAME        Windows artifacts (msi, msix, intunewin)\n" +
			"  /dp/jamf/APP/VERSION/NAME        macOS artifacts (pkg, dmg)\n" +
			"  /dp/sha256/HEX                   any held object\n" +
			"  /healthz /readyz /metrics        liveness, readiness, Prometheus metrics\n" +
			"With --hub, every --interval: push an edge export to the hub, pull the site's export\n" +
			"and apply it (same checks as 'edge import'), downloads resumed with Range and capped\n" +
			"by --bandwidth (e.g. 512KiB/s, 4Mbit/s); failures retried with backoff (1s to 5m).\n" +
			"With --tls-cert and --tls-key it serves over TLS. An https --hub is verified against the\n" +
			"hub CA pinned in DIR/edge/hub-ca.pem only ('edge init --tls-ca', or --tls-ca here the first\n" +
			"time; another CA is refused unless --replace-hub-ca). docs/tls.md.\n" +
			"Every request is logged once answered (--access-log): method, path, status, bytes,\n" +
			"duration_ms, remote and user_agent, at INFO.\n" +
			"SIGINT or SIGTERM stops it gracefully. docs/sync-protocol.md describes the flow.",
		Flags: append([]cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8450", Usage: "address to serve on", Destination: &o.listen},
			&cli.StringFlag{Name: "hub", Usage: "hub URL to sync with (needs --token-file)", Destination: &o.hub},
			&cli.StringFlag{Name: "token-file", Usage: "file holding the hub API token", Destination: &o.tokenFile},
			&cli.StringFlag{Name: "interval", Value: "30s", Usage: "time between sync rounds", Destination: &o.interval},
			&cli.StringFlag{Name: "bandwidth", Usage: "download cap, e.g. 512KiB/s or 4Mbit/s (default: none)", Destination: &o.bandwidth},
			accessLogFlag(&o.accessLog), logFormatFlag(&o.logFormat),
			&cli.StringFlag{Name: "execute-interval", Value: "1m", Usage: "time between passes applying the hub's orders to the site-local planes ('edge execute'); off: never",
				Destination: &o.executeInterval},
			&cli.BoolFlag{Name: "replace-hub-ca", Usage: "replace the pinned hub CA with --tls-ca (rotation of the hub's CA)", Destination: &o.replaceHubCA},
		}, tlsListenFlags(&o.tls, "the hub's TLS CA certificate: pinned in DIR/edge/hub-ca.pem when none is, and the only CA an https --hub is verified against")...),
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

// serveStarted is what edge serve prints once it listens.
type serveStarted struct {
	Site      string `json:"site"`
	Listen    string `json:"listen"`
	URL       string `json:"url"`
	Hub       string `json:"hub,omitempty"`
	Bandwidth int64  `json:"bandwidth_bytes_per_second,omitempty"`
}

func (o *edgeServeOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	interval, err := time.ParseDuration(o.interval)
	if err != nil || interval <= 0 {
		return usageErrorf("--interval %q: want a positive duration such as 30s or 5m", o.interval)
	}
	var execEvery time.Duration
	if o.executeInterval != "off" {
		if execEvery, err = time.ParseDuration(o.executeInterval); err != nil || execEvery <= 0 {
			return usageErrorf("--execute-interval %q: want a positive duration such as 1m, or off", o.executeInterval)
		}
	}
	var rate int64
	if o.bandwidth != "" {
		if rate, err = bytesize.ParseRate(o.bandwidth); err != nil {
			return usageErrorf("--bandwidth: %v", err)
		}
	}
	if (o.hub == "") != (o.tokenFile == "") {
		return usageErrorf("--hub and --token-file go together")
	}
	if o.hub != "" {
		if u, err := url.Parse(o.hub); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErrorf("--hub %q: want a URL such as https://hub.example:8440", o.hub)
		}
	}
	var token string
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return usageErrorf("--token-file %s is empty", o.tokenFile)
		}
	}
	listenFiles := tlsconf.Files{Cert: o.tls.Cert, Key: o.tls.Key}
	serveTLS, err := loadTLS(listenFiles, tlsconf.ForServer)
	if err != nil {
		return err
	}
	e, err := edge.Open(o.data)
	if err != nil {
		return err
	}
	if err := o.pinHubCA(e); err != nil {
		return err
	}
	log, err := newServeLogger(out, o.logFormat)
	if err != nil {
		return err
	}
	access, closeAccess, err := openAccessLog(o.accessLog, log)
	if err != nil {
		return err
	}
	defer closeAccess()
	srv, err := edge.NewServer(e, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	limits := httpserve.Options{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), AccessLog: access}
	hs := httpserve.Server(srv, limits)
	served := make(chan error, 1)
	scheme := "http"
	if serveTLS != nil {
		scheme = "https"
		go func() { served <- httpserve.ServeTLS(hs, ln, limits, serveTLS.ServerConfig(tls.NoClientCert)) }()
	} else {
		go func() { served <- httpserve.Serve(hs, ln, limits) }()
	}
	started := serveStarted{Site: e.Site(), Listen: ln.Addr().String(), URL: scheme + "://" + ln.Addr().String(), Hub: o.hub, Bandwidth: rate}
	// One line, so a supervisor or a test can read the address at once.
	switch {
	case out.json:
		if err := json.NewEncoder(out.w).Encode(started); err != nil {
			return err
		}
	case !out.quiet:
		fmt.Fprintf(out.w, "edge %s serving on %s\n", started.Site, started.URL)
	}

	if err := sdnotify.Ready("serving " + started.Listen); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	go sdnotify.Watchdog(ctx, sdnotify.HTTPCheck(func() string { return started.URL + "/healthz" }), log)
	go reconcileUntilDone(ctx, srv, log)
	if execEvery > 0 {
		go e.RunExecute(ctx, execEvery, edge.ExecuteOptions{Log: log})
	}
	if o.hub != "" {
		s := edge.NewSyncer(e, o.hub, token)
		s.Metrics, s.Log, s.Interval = srv.Metrics, log, interval
		if rate > 0 {
			s.Bucket = edge.NewBucket(rate, 0)
		}
		go s.Run(ctx)
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sdnotify.Stopping()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pinHubCA pins --tls-ca as the hub's CA, and refuses an https --hub
// when no CA is pinned (the edge never trusts the system's roots for it).
func (o *edgeServeOptions) pinHubCA(e *edge.Edge) error {
	if o.tls.CA != "" {
		_, caPEM, err := tlsconf.LoadCAFile(o.tls.CA, "--tls-ca")
		if err != nil {
			return err
		}
		if _, err := e.PinHubCA(caPEM, o.replaceHubCA); err != nil {
			return fmt.Errorf("--tls-ca: %w", err)
		}
	} else if o.replaceHubCA {
		return usageErrorf("--replace-hub-ca needs --tls-ca, the hub's new CA")
	}
	if !strings.HasPrefix(o.hub, "https://") {
		return nil
	}
	pinned, err := e.HubCA()
	if err != nil {
		return err
	}
	if pinned == nil {
		return usageErrorf("--hub %s is https, and this edge has no hub CA pinned: give --tls-ca HUB-CA.pem (ca.pem of 'eucora hub tls init') once, or at 'edge init'", o.hub)
	}
	return nil
}

// reconcileUntilDone installs pending APT publications, retrying with
// backoff while the edge is busy, so /readyz turns ready.
func reconcileUntilDone(ctx context.Context, srv *edge.Server, log *slog.Logger) {
	for attempt := 0; ; attempt++ {
		r, err := srv.Reconcile(ctx)
		if err == nil {
			for _, w := range r.Warnings {
				log.Warn("apt install", "warning", w)
			}
			if len(r.Installed) > 0 {
				log.Info("apt publications installed", "assignments", strings.Join(r.Installed, ", "))
			}
			return
		}
		wait := edge.Backoff(attempt, 0.5)
		log.Warn("apt reconcile failed", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// serveLogger logs to stderr (the app's ErrWriter, if set): JSON with
// --output json, warnings only with --quiet.
func serveLogger(out *output) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if out.quiet {
		opts.Level = slog.LevelWarn
	}
	w := out.logw
	if w == nil {
		w = os.Stderr
	}
	if out.json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
