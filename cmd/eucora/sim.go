package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
// own default.
var simPlanes = map[string]func(pageSize int) planeSim{
	"awx": func(pageSize int) planeSim {
		s := awxsim.New(awxsim.Options{PageSize: pageSize})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: s.Close}
	},
	"landscape": func(pageSize int) planeSim {
		s := landscapesim.New(landscapesim.Options{PageSize: pageSize})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
	"intune": func(pageSize int) planeSim {
		s := intunesim.New(intunesim.Options{PageSize: pageSize})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
	"sccm": func(pageSize int) planeSim {
		s := sccmsim.New(sccmsim.Options{PageSize: pageSize})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
	"jamf": func(pageSize int) planeSim {
		s := jamfsim.New(jamfsim.Options{PageSize: pageSize})
		return planeSim{handler: s.Handler(), faults: s.Faults(), credentials: s.Credentials(), close: func() {}}
	},
}

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
}

func simServeCmd() *cli.Command {
	var o simServeOptions
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve one plane's simulated HTTP API and print its URL and credentials",
		UsageText: "eucora sim serve --plane " + simPlaneNames() + " [--listen ADDR] [--page-size N] [--throttle N [--retry-after S]] [--errors N] [--slow D]",
		Description: "The simulator keeps state like the real service and checks request bodies; the\n" +
			"fault flags switch on the failures the real service has, for the first N requests.\n" +
			"It runs until interrupted; its state lives in memory only.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "plane", Required: true, Usage: "the plane to simulate: " + simPlaneNames(), Destination: &o.plane},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8460", Usage: "address to listen on", Destination: &o.listen},
			&cli.IntFlag{Name: "page-size", Usage: "page size of list answers (0: the plane's default)", Destination: &o.pageSize},
			&cli.IntFlag{Name: "throttle", Usage: "answer the first N requests 429", Destination: &o.throttle},
			&cli.StringFlag{Name: "retry-after", Usage: "Retry-After of the 429s (seconds or an HTTP date; empty: none)", Destination: &o.retryAfter},
			&cli.IntFlag{Name: "errors", Usage: "answer the first N requests (after any throttled ones) 503", Destination: &o.errors5xx},
			&cli.DurationFlag{Name: "slow", Usage: "hold every answer back this long", Destination: &o.slow},
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
	if o.pageSize < 0 || o.throttle < 0 || o.errors5xx < 0 || o.slow < 0 {
		return usageErrorf("--page-size, --throttle, --errors and --slow must not be negative")
	}
	ps := mk(o.pageSize)
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
	if err := out.emit(map[string]any{"plane": o.plane, "url": url, "credentials": ps.credentials}, func(w io.Writer) {
		fmt.Fprintf(w, "simulated %s at %s\ncredentials: %+v\n", o.plane, url, ps.credentials)
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
