package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub"
	"github.com/eucora/eucora/hub/client"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/tlsconf"
)

// hubClientFlags are the flags of every command that talks to a hub.
func hubClientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "hub", EnvVars: []string{"EUCORA_HUB"}, Value: "http://" + hub.DefaultHTTPAddr, Usage: "hub URL (any member)"},
		&cli.StringFlag{Name: "token", EnvVars: []string{"EUCORA_TOKEN"}, Usage: "bearer token"},
		&cli.StringFlag{Name: "token-file", Usage: "file holding the bearer token (default: DATA/" + hub.BootstrapTokenFile + " if readable)"},
		&cli.StringFlag{Name: "data", EnvVars: []string{"EUCORA_DATA"}, Value: datadir.Default,
			Usage: "the hub's data directory, whose " + hub.BootstrapTokenFile + " is the token when no other is given"},
		&cli.BoolFlag{Name: "stale", Usage: "read from the node asked, without a leader round trip"},
		&cli.StringFlag{Name: "tls-ca", EnvVars: []string{"EUCORA_TLS_CA"}, Usage: "PEM CA certificate to verify an https:// hub against (default: the system's roots)"},
	}
}

// hubClient builds a client from --hub and the token flags, in the order
// --token, EUCORA_TOKEN, --token-file, DATA/bootstrap.token (DATA: --data,
// EUCORA_DATA, ./eucora-data). A 401 answer then says where it looked.
func hubClient(c *cli.Context) (*client.Client, error) {
	tok := c.String("token")
	var hint string
	if tok != "" {
		hint = "the token given by --token or EUCORA_TOKEN was refused"
	} else {
		path := c.String("token-file")
		explicit := path != ""
		if !explicit {
			data := c.String("data")
			if data == "" {
				data = datadir.Default
			}
			path = filepath.Join(data, hub.BootstrapTokenFile)
		}
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			tok = strings.TrimSpace(string(b))
			hint = "the token read from " + path + " was refused; pass another with --token, EUCORA_TOKEN or --token-file"
		case explicit:
			return nil, usageErrorf("--token-file: %v", err)
		default:
			// An unreadable default is not an error: the hub answers 401,
			// and the hint says where the token was looked for.
			hint = fmt.Sprintf("no token given: --token, EUCORA_TOKEN and --token-file are unset and %s %s; "+
				"pass --data DIR (or EUCORA_DATA) of the hub's data directory, --token-file FILE or --token TOKEN",
				path, reason(err))
		}
	}
	cl := client.New(c.String("hub"), tok)
	if ca := c.String("tls-ca"); ca != "" {
		pool, _, err := tlsconf.LoadCAFile(ca, "--tls-ca")
		if err != nil {
			return nil, err
		}
		cl.HTTP.Transport = tlsconf.Transport(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool})
	}
	cl.Stale = c.Bool("stale")
	cl.AuthHint = hint
	return cl, nil
}

// reason says briefly why a token file could not be read.
func reason(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "does not exist"
	case errors.Is(err, os.ErrPermission):
		return "is not readable by this user"
	}
	return "could not be read (" + err.Error() + ")"
}

// hubSession returns what every hub command needs: the output settings and
// a client for the hub named by the flags.
func hubSession(c *cli.Context) (*output, *client.Client, error) {
	out, err := outputFrom(c)
	if err != nil {
		return nil, nil, err
	}
	cl, err := hubClient(c)
	if err != nil {
		return nil, nil, err
	}
	return out, cl, nil
}

// hubSessionArgs is hubSession for a command that takes exactly nargs
// positional arguments, which are checked first.
func hubSessionArgs(c *cli.Context, nargs int) (*output, *client.Client, []string, error) {
	args, err := positional(c, nargs)
	if err != nil {
		return nil, nil, nil, err
	}
	out, cl, err := hubSession(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return out, cl, args, nil
}
