package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/httpserve"
	"github.com/eucora/eucora/mirror"
)

type mirrorAptServeOptions struct {
	data, listen, accessLog string
}

func mirrorAptServeCmd() *cli.Command {
	var o mirrorAptServeOptions
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve every publication over HTTP at /PREFIX/ (objects verified before serving)",
		UsageText: "eucora mirror apt serve [--listen 127.0.0.1:8080]",
		Flags: []cli.Flag{
			dataFlag(&o.data),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on", Destination: &o.listen},
			accessLogFlag(&o.accessLog),
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *mirrorAptServeOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	log := serveLogger(out)
	access, closeAccess, err := openAccessLog(o.accessLog, log)
	if err != nil {
		return err
	}
	defer closeAccess()
	h, err := mirror.OpenHandler(o.data, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	limits := httpserve.Options{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), AccessLog: access}
	srv := httpserve.Server(h, limits)
	if err := out.emit(map[string]string{"listen": ln.Addr().String(), "url": "http://" + ln.Addr().String() + "/"}, func(w io.Writer) {
		fmt.Fprintf(w, "serving APT publications at http://%s/\n", ln.Addr())
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
