package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/tlsconf"
)

// tlsListenFlags are --tls-cert, --tls-key and --tls-ca of a listener
// (hub serve, edge serve); caUsage says what the CA verifies there.
func tlsListenFlags(f *tlsconf.Files, caUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"EUCORA_TLS_CERT"}, Usage: "PEM certificate to serve with (from 'eucora hub tls init'); enables TLS", Destination: &f.Cert},
		&cli.StringFlag{Name: "tls-key", EnvVars: []string{"EUCORA_TLS_KEY"}, Usage: "PEM private key of --tls-cert", Destination: &f.Key},
		&cli.StringFlag{Name: "tls-ca", EnvVars: []string{"EUCORA_TLS_CA"}, Usage: caUsage, Destination: &f.CA},
	}
}

// loadTLS loads the material of tlsListenFlags, nil when none was given.
func loadTLS(f tlsconf.Files, use tlsconf.Use) (*tlsconf.Material, error) {
	if f.Empty() {
		return nil, nil
	}
	if err := f.Check(use == tlsconf.ForNode); err != nil {
		return nil, usageErrorf("%v", err)
	}
	return tlsconf.Load(f, use, time.Time{})
}

func hubTLSCmd() *cli.Command {
	return &cli.Command{
		Name:  "tls",
		Usage: "create the TLS material of a hub cluster (a small CA and node certificates)",
		Description: "The hub serves its API over TLS and runs Raft over mutual TLS when 'hub serve' is given\n" +
			"--tls-cert, --tls-key and --tls-ca. docs/tls.md describes the files, what is refused and rotation.",
		Subcommands: []*cli.Command{hubTLSInitCmd()},
	}
}

type hubTLSInitOptions struct {
	dir   string
	nodes repeated
	newCA bool
}

// repeated is a flag value collecting every occurrence as given (a
// cli.StringSliceFlag would split NAME=HOST,IP at its commas).
type repeated []string

func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }
func (r *repeated) String() string     { return strings.Join(*r, " ") }

func hubTLSInitCmd() *cli.Command {
	var o hubTLSInitOptions
	return &cli.Command{
		Name:      "init",
		Usage:     "create a CA (once) and a certificate for each node",
		UsageText: "eucora hub tls init --dir DIR --node NAME[=HOST,IP,...] [--node ...] [--new-ca]",
		Description: "Writes DIR/ca.pem and DIR/ca.key (ECDSA P-256, valid 10 years) unless DIR already holds a CA,\n" +
			"which then signs the new nodes; and for each --node DIR/NAME.pem and DIR/NAME.key (valid 2 years,\n" +
			"for serving and for client authentication, with HOST and IP as subject alternative names: give\n" +
			"every name and address peers, clients and edges reach the node by). Keys are written mode 0600.\n" +
			"Nothing is overwritten: an existing node file is refused, and so is a half-present CA;\n" +
			"--new-ca replaces the CA and the named nodes' files. Copy ca.key to no node: keep it offline.\n" +
			"Each node then runs: eucora hub serve --tls-cert DIR/NAME.pem --tls-key DIR/NAME.key --tls-ca DIR/ca.pem",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Required: true, Usage: "directory for the CA and the node files (created 0700)", Destination: &o.dir},
			&cli.GenericFlag{Name: "node", Required: true, Usage: "NAME[=HOST,IP,...]: a node certificate to create (repeat)", Value: &o.nodes},
			&cli.BoolFlag{Name: "new-ca", Usage: "replace an existing CA in DIR (every node then needs a new certificate)", Destination: &o.newCA},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *hubTLSInitOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	var specs []tlsconf.NodeSpec
	for _, v := range o.nodes {
		spec, err := tlsconf.ParseNodeSpec(v)
		if err != nil {
			return usageErrorf("--node %q: %v", v, err)
		}
		specs = append(specs, spec)
	}
	res, err := tlsconf.Init(tlsconf.InitOptions{Dir: o.dir, Nodes: specs, NewCA: o.newCA})
	if err != nil {
		return err
	}
	return out.emit(res, func(w io.Writer) {
		if res.CACreate {
			fmt.Fprintf(w, "CA created: %s (key %s, mode 0600: keep it offline)\n", res.CA, res.CAKey)
		} else {
			fmt.Fprintf(w, "CA reused: %s\n", res.CA)
		}
		for _, n := range res.Nodes {
			fmt.Fprintf(w, "node %s: %s, key %s (names %s; valid until %s)\n", n.Name, n.Cert, n.Key,
				strings.Join(append(append([]string{}, n.DNS...), n.IPs...), ", "), n.NotAfter.Format("2006-01-02"))
		}
		if len(res.Nodes) > 0 {
			n := res.Nodes[0]
			fmt.Fprintf(w, "serve with: eucora hub serve --tls-cert %s --tls-key %s --tls-ca %s ...\n", n.Cert, n.Key, res.CA)
		}
	})
}
