// Command eucora is EUCORA's single binary: hub, edge, bundle, mirror and
// governance commands. Commands here only parse flags, call into packages
// and print results; exit codes are mapped in exitcodes.go.
//
// # Where a command lives
//
// A command is in the file named for its path without the leaf, the words
// joined by '_' ('-' becomes '_' too): 'eucora hub export' in hub.go,
// 'eucora mirror apt create' in mirror_apt.go, 'eucora hub rotate-key stage'
// in hub_rotate_key.go. A group command is in the file of its parent
// ('eucora mirror apt' in mirror.go) and a top-level command without
// subcommands in its own (status.go, assess.go). A group whose file would
// grow past about 500 lines has its larger commands in files of their own,
// named for the full path: mirror_apt_serve.go, edge_serve.go. So look
// for <path>.go first, then <path without leaf>.go.
//
// Helpers shared by several groups live in files named for what they are:
// output.go (--output, --quiet, tables), flags.go, args.go (positional
// arguments), exitcodes.go (the one table from errors to exit codes),
// hubclient.go (the hub client session), media.go (bundles on reused
// media), units.go (durations, sizes), accesslog.go, governance.go (what
// the governance commands share). A test file is named for the code file
// it tests, <file>_test.go or <file>_<topic>_test.go; tests that follow a
// scenario across groups are named for it (sync_e2e_test.go).
//
// # How a command is written
//
// Each command is an options struct holding its flags' destinations, a
// constructor binding the flags to a fresh struct, and one run method:
//
//	type hubExportOptions struct{ site, out string }
//
//	func hubExportCmd() *cli.Command {
//		var o hubExportOptions
//		return &cli.Command{Name: "export", ..., Action: func(c *cli.Context) error { return o.run(c) }}
//	}
//
//	func (o *hubExportOptions) run(c *cli.Context) error { ... }
//
// The names follow the path: <path>Options, <path>Cmd, with the words in
// camel case (mirrorAptCreateOptions, hubRotateKeyStageCmd); a group has
// only its <path>Cmd. Every command supports --output json through
// outputFrom and output.emit, and returns errors for exitcodes.go to map.
// No init() registers anything: the command tree is commands() in main.go,
// the exit codes are the table in exitcodes.go.
package main
