package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/mirror"
)

type keysGenerateOptions struct {
	out, name, typ string
}

func keysCmd() *cli.Command {
	return &cli.Command{
		Name:        "keys",
		Usage:       "manage signing keys",
		Subcommands: []*cli.Command{keysGenerateCmd()},
	}
}

func keysGenerateCmd() *cli.Command {
	var o keysGenerateOptions
	return &cli.Command{
		Name:      "generate",
		Usage:     "generate a signing key pair",
		UsageText: "eucora keys generate --out DIR --name NAME [--type ed25519|openpgp]",
		Description: "ed25519 (default) writes DIR/NAME.key (PKCS#8 PEM, mode 0600) and DIR/NAME.pub\n" +
			"(PKIX PEM). The key id is the SHA-256 of the public key's DER encoding:\n" +
			"  openssl pkey -pubin -in NAME.pub -outform DER | sha256sum\n" +
			"openpgp writes DIR/NAME.key.asc (armored private key, mode 0600), DIR/NAME.asc and\n" +
			"DIR/NAME.gpg (public key, armored and binary; NAME.gpg is an apt signed-by keyring).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "directory to write the keys to", Required: true, Destination: &o.out},
			&cli.StringFlag{Name: "name", Usage: "key name (file name without extension)", Required: true, Destination: &o.name},
			&cli.StringFlag{Name: "type", Value: "ed25519", Usage: "ed25519 (bundles, hub, edge) or openpgp (APT publish)", Destination: &o.typ},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *keysGenerateOptions) run(c *cli.Context) error {
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	switch o.typ {
	case "ed25519":
	case "openpgp":
		return o.runOpenPGP(out)
	default:
		return usageErrorf("--type: unknown key type %q (want ed25519 or openpgp)", o.typ)
	}
	k, err := signing.Generate()
	if err != nil {
		return err
	}
	keyPath, pubPath, err := signing.WriteKeyPair(o.out, o.name, k)
	if err != nil {
		return err
	}
	res := map[string]string{"type": o.typ, "key_id": k.ID, "private_key": keyPath, "public_key": pubPath}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "key id:      %s\nprivate key: %s (keep it secret, mode 0600)\npublic key:  %s\n", k.ID, keyPath, pubPath)
	})
}

// runOpenPGP is run for --type openpgp.
func (o *keysGenerateOptions) runOpenPGP(out *output) error {
	k, err := mirror.GenerateKey(o.out, o.name, "EUCORA APT "+o.name)
	if err != nil {
		return err
	}
	res := map[string]string{"type": o.typ, "key_id": k.Fingerprint, "private_key": k.PrivateKey,
		"public_key": k.PublicASC, "public_key_binary": k.PublicGPG}
	return out.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "fingerprint: %s\nprivate key: %s (keep it secret, mode 0600)\npublic key:  %s (armored), %s (binary, apt signed-by)\n",
			k.Fingerprint, k.PrivateKey, k.PublicASC, k.PublicGPG)
	})
}
