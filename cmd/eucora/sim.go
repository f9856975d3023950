package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/connectors/awx/awxsim"
	"github.com/eucora/eucora/connectors/intune/intunesim"
	"github.com/eucora/eucora/connectors/jamf/jamfsim"
	"github.com/eucora/eucora/connectors/landscape/landscapesim"
	"github.com/eucora/eucora/connectors/sccm/sccmsim"
	"github.com/eucora/eucora/connectors/sim"
	"github.com/eucora/eucora/connectors/sim/fleet"
	"github.com/eucora/eucora/internal/httpserve"
)

func simCmd() *cli.Command {
	return &cli.Command{
		Name:        "sim",
		Usage:       "execution-plane simulators, for trying EUCORA without the real services",
		Subcommands: []*cli.Command{simServeCmd()},
	}
}

// planeSim is one running plane simulator as sim serve needs it.
type planeSim struct {
	handler     http.Handler
	faults      *sim.Faults
	credentials any
	close       func()
}

// simPlanes builds each plane's simulator; pageSize 0 keeps the plane's
// own default, a nil fleet the plane's fixture devices.
var simPlanes = map[string]func(pageSize int, f *fleet.Fleet) planeSim{
	"awx": func(pageSize int, _ *fleet.Fleet) planeSim {
		s := awxsim.New(awxsim.Options{PageSize: pageSize})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: s.Close}
	},
	"landscape": func(pageSize int, f *fleet.Fleet) planeSim {
		s := landscapesim.New(landscapesim.Options{PageSize: pageSize, Fleet: f})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
	"intune": func(pageSize int, f *fleet.Fleet) planeSim {
		s := intunesim.New(intunesim.Options{PageSize: pageSize, Fleet: f})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
	"sccm": func(pageSize int, f *fleet.Fleet) planeSim {
		s := sccmsim.New(sccmsim.Options{PageSize: pageSize, Fleet: f})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
	"jamf": func(pageSize int, f *fleet.Fleet) planeSim {
		s := jamfsim.New(jamfsim.Options{PageSize: pageSize, Fleet: f})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
}

// fleetPlatforms are the planes that take a fleet, with the platform of
// a generated one.
var fleetPlatforms = map[string]string{"intune": fleet.Windows, "sccm": fleet.Windows, "jamf": fleet.MacOS, "landscape": fleet.Linux}

func simPlaneNames() string {
	var names []string
	for n := range simPlanes {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, "|")
}

type simServeOptions struct {
	plane, listen, retryAfter string
	pageSize                  int
	throttle, errors5xx       int
	slow                      time.Duration
	fleetFile                 string
	fleetSize                 int
	fleetSeed                 uint64
	fleetCheckIn              string
}

func simServeCmd() *cli.Command {
	var o simServeOptions
	return &cli.Command{
		Name:  "serve",
		Usage: "serve one plane's simulated HTTP API and print its URL and credentials",
		UsageText: "eucora sim serve --plane " + simPlaneNames() + " [--listen ADDR] [--page-size N] [--throttle N [--retry-after S]] [--errors N] [--slow D]\n" +
			"   [--fleet FILE | --fleet-size N [--fleet-seed S] [--fleet-check-in MIN-MAX]]",
		Description: "The simulator keeps state like the real service and checks request bodies; the\n" +
			"fault flags switch on the failures the real service has, for the first N requests.\n" +
			"It runs until interrupted; its state lives in memory only.\n\n" +
			"--fleet (a fleet file, see connectors/sim/fleet) or --fleet-size (a generated fleet\n" +
			"over rings ring-0..ring-4 of 1/4/10/35/50% and the site site-hq) puts simulated\n" +
			"devices behind intune, sccm, jamf or landscape: the ring groups are the plane's\n" +
			"groups (Entra group ids, SCCM collections named after them, Jamf computer groups,\n" +
			"Landscape tags), and each device installs what the plane assigns at its next\n" +
			"check-in, failing at the fleet's rate for the app. POST {\"app\",\"version\",\"rate\"}\n" +
			"to URL/_sim/fleet/failure-rate changes a rate; GET URL/_sim/fleet describes the fleet.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "plane", Required: true, Usage: "the plane to simulate: " + simPlaneNames(), Destination: &o.plane},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8460", Usage: "address to listen on", Destination: &o.listen},
			&cli.IntFlag{Name: "page-size", Usage: "page size of list answers (0: the plane's default)", Destination: &o.pageSize},
			&cli.IntFlag{Name: "throttle", Usage: "answer the first N requests 429", Destination: &o.throttle},
			&cli.StringFlag{Name: "retry-after", Usage: "Retry-After of the 429s (seconds or an HTTP date; empty: none)", Destination: &o.retryAfter},
			&cli.IntFlag{Name: "errors", Usage: "answer the first N requests (after any throttled ones) 503", Destination: &o.errors5xx},
			&cli.DurationFlag{Name: "slow", Usage: "hold every answer back this long", Destination: &o.slow},
			&cli.StringFlag{Name: "fleet", Usage: "simulated devices from a fleet file (JSON)", Destination: &o.fleetFile},
			&cli.IntFlag{Name: "fleet-size", Usage: "simulated devices: a generated fleet of N (0: none)", Destination: &o.fleetSize},
			&cli.Uint64Flag{Name: "fleet-seed", Usage: "seed of the generated fleet (ids, check-ins, failures)", Destination: &o.fleetSeed},
			&cli.StringFlag{Name: "fleet-check-in", Usage: "check-in interval range of the generated fleet, MIN-MAX (whole seconds, e.g. 1s-5s; default 1h-8h)", Destination: &o.fleetCheckIn},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *simServeOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	mk, ok := simPlanes[o.plane]
	if !ok {
		return usageErrorf("--plane %q: want one of %s", o.plane, simPlaneNames())
	}
	if o.pageSize < 0 || o.throttle < 0 || o.errors5xx < 0 || o.slow < 0 || o.fleetSize < 0 {
		return usageErrorf("--page-size, --throttle, --errors, --slow and --fleet-size must not be negative")
	}
	if c.IsSet("fleet-seed") && o.fleetSize == 0 {
		return usageErrorf("--fleet-seed seeds a generated fleet: give --fleet-size too (a fleet file has its own seed)")
	}
	f, err := o.loadFleet()
	if err != nil {
		return err
	}
	ps := mk(o.pageSize, f)
	defer ps.close()
	if o.throttle > 0 {
		ps.faults.Add(sim.Fault{Count: o.throttle, Status: http.StatusTooManyRequests, RetryAfter: o.retryAfter})
	}
	if o.errors5xx > 0 {
		ps.faults.Add(sim.Fault{Skip: o.throttle, Count: o.errors5xx, Status: http.StatusServiceUnavailable})
	}
	if o.slow > 0 {
		ps.faults.Add(sim.Fault{Delay: o.slow})
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	log := serveLogger(out)
	limits := httpserve.Options{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	srv := httpserve.Server(ps.handler, limits)
	url := "http://" + ln.Addr().String()
	started := map[string]any{"plane": o.plane, "url": url, "credentials": ps.credentials}
	if f != nil {
		started["fleet"] = map[string]any{"devices": f.Len(), "groups": f.Groups(), "seed": f.Seed(), "admin_url": url + fleet.AdminPath}
	}
	if err := out.emit(started, func(w io.Writer) {
		fmt.Fprintf(w, "simulated %s at %s\ncredentials: %+v\n", o.plane, url, ps.credentials)
		if f != nil {
			fmt.Fprintf(w, "fleet: %d devices in %s; admin at %s%s\n", f.Len(), strings.Join(f.Groups(), ", "), url, fleet.AdminPath)
		}
	}); err != nil {
		return err
	}
	go func() {
		<-c.Context.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := httpserve.Serve(srv, ln, limits); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadFleet is the fleet the flags ask for: read from --fleet, generated
// by --fleet-size, or none.
func (o *simServeOptions) loadFleet() (*fleet.Fleet, error) {
	if o.fleetFile == "" && o.fleetSize == 0 {
		return nil, nil
	}
	platform, ok := fleetPlatforms[o.plane]
	switch {
	case !ok:
		return nil, usageErrorf("--fleet and --fleet-size: the %s simulator has no simulated devices (intune, jamf, landscape and sccm have)", o.plane)
	case o.fleetFile != "" && o.fleetSize > 0:
		return nil, usageErrorf("--fleet and --fleet-size: give one")
	case o.fleetCheckIn != "" && o.fleetSize == 0:
		return nil, usageErrorf("--fleet-check-in sets a generated fleet's check-ins: give --fleet-size too")
	case o.fleetSize > 0:
		g := fleet.GenerateOptions{N: o.fleetSize, Platform: platform, Seed: o.fleetSeed}
		if o.fleetCheckIn != "" {
			var err error
			if g.CheckInMin, g.CheckInMax, err = parseCheckIn("--fleet-check-in", o.fleetCheckIn); err != nil {
				return nil, err
			}
		}
		f, err := fleet.Generate(g)
		if err != nil {
			return nil, usageErrorf("--fleet-size %d: %v", o.fleetSize, err)
		}
		return f, nil
	}
	fh, err := os.Open(o.fleetFile)
	if err != nil {
		return nil, fmt.Errorf("--fleet: %w", err)
	}
	defer fh.Close()
	f, err := fleet.Load(fh)
	if err != nil {
		return nil, fmt.Errorf("--fleet %s: %w", o.fleetFile, err)
	}
	return f, nil
}

// parseCheckIn reads a check-in interval range, MIN-MAX in whole seconds.
func parseCheckIn(flag, s string) (lo, hi time.Duration, err error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := time.ParseDuration(a)
	hi, err2 := time.ParseDuration(b)
	if !ok || err1 != nil || err2 != nil || lo < time.Second || hi < lo || lo%time.Second != 0 || hi%time.Second != 0 {
		return 0, 0, usageErrorf("%s %q: want MIN-MAX in whole seconds, MIN >= 1s and MAX >= MIN (e.g. 1s-5s)", flag, s)
	}
	return lo, hi, nil
}
