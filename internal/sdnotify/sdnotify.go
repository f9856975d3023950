// Package sdnotify tells systemd how a serve command is doing: READY=1 once
// it serves (Type=notify units wait for it), WATCHDOG=1 at half of
// WatchdogSec while a health check passes (systemd restarts a process that
// stops pinging), and STOPPING=1 when it shuts down.
//
// It is a thin layer over github.com/coreos/go-systemd/v22/daemon (already
// a dependency of the hub, pure Go, no cgo), which writes to the unixgram
// socket $NOTIFY_SOCKET names and reads $WATCHDOG_USEC and $WATCHDOG_PID.
// Outside systemd (no NOTIFY_SOCKET) every call does nothing.
package sdnotify

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready sends READY=1 with a STATUS line.
func Ready(status string) error { return notify(daemon.SdNotifyReady + "\nSTATUS=" + status) }

// Stopping sends STOPPING=1.
func Stopping() error { return notify(daemon.SdNotifyStopping) }

func notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// Check reports whether the process is healthy; an error stops the pings.
type Check func(ctx context.Context) error

// Watchdog pings WATCHDOG=1 every half of the watchdog interval systemd
// set ($WATCHDOG_USEC, for this pid) while check passes, until ctx ends.
// A failing check is logged and skips the ping, so systemd restarts the
// service if it keeps failing for WatchdogSec. Without a watchdog it
// returns at once.
func Watchdog(ctx context.Context, check Check, log *slog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings unreadable; not pinging", "err", err)
		return
	}
	if interval <= 0 {
		return
	}
	every := interval / 2
	log.Info("systemd watchdog enabled", "interval", interval.String(), "ping_every", every.String())
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, every)
		err := check(cctx)
		cancel()
		if err != nil {
			log.Warn("health check failed; withholding the systemd watchdog ping", "err", err)
		} else if err := notify(daemon.SdNotifyWatchdog); err != nil {
			log.Warn("systemd watchdog ping", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeClient is for the process's own listener only: it carries no
// credentials, so it does not verify the certificate of a TLS listener.
var probeClient = &http.Client{
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
}

// HTTPCheck returns a Check that GETs url() (the process's own /healthz)
// and passes when it answers 200.
func HTTPCheck(url func() string) Check {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url(), nil)
		if err != nil {
			return err
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", url(), resp.Status)
		}
		return nil
	}
}
