package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/eucora/eucora/hub"
)

type devOptions struct {
	dir, httpAddr string
	keep          bool
	devices       int
	checkIn       string
}

func devCmd() *cli.Command {
	var o devOptions
	return &cli.Command{
		Name:      "dev",
		Usage:     "a whole EUCORA on this machine for trying it: hub, two edges, simulated planes, a sample catalog",
		UsageText: "eucora dev [--dir DIR] [--keep] [--http ADDR] [--devices N] [--check-in MIN-MAX]",
		Description: "Starts, in one process and one directory: a single-node hub with its console, the five\n" +
			"execution-plane simulators (Intune, Jamf and Landscape registered, with simulated devices in\n" +
			"Rings 0-4), an intermittent edge that syncs with the hub over the network, an air-gapped edge\n" +
			"fed through a media folder, an APT repository mirrored and published by the hub, and a sample\n" +
			"catalog: one app rolling out by itself (it will wait for CAB approval before Ring 2, as\n" +
			"EUCORA-architecture.md section 9.3 requires for its risk) and one in the CAB queue.\n" +
			"It prints the console URL, a token per role and the next commands to try, then runs until\n" +
			"interrupted. The directory (a new temporary one unless --dir) is removed on exit unless\n" +
			"--keep. Plaintext HTTP on loopback only: not for production (docs/tls.md).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "directory for all state (must be empty or absent; default: a new temporary directory)", Destination: &o.dir},
			&cli.BoolFlag{Name: "keep", Usage: "keep the directory on exit", Destination: &o.keep},
			&cli.StringFlag{Name: "http", Value: hub.DefaultHTTPAddr, Usage: "the hub's address (loopback; port 0: any free port)", Destination: &o.httpAddr},
			&cli.IntFlag{Name: "devices", Value: 500, Usage: "simulated Windows devices behind Intune (Jamf and Landscape get a fifth each)", Destination: &o.devices},
			&cli.StringFlag{Name: "check-in", Value: "2s-8s", Usage: "check-in interval range of the simulated devices, MIN-MAX", Destination: &o.checkIn},
		},
		Action: func(c *cli.Context) error { return o.run(c) },
	}
}

func (o *devOptions) run(c *cli.Context) error {
	begun := time.Now()
	out, err := outputFrom(c)
	if err != nil {
		return err
	}
	if o.devices < 5 || o.devices > 100000 {
		return usageErrorf("--devices %d: want 5 to 100000 (one device or more per ring)", o.devices)
	}
	if _, _, err := parseCheckIn("--check-in", o.checkIn); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(o.httpAddr)
	if err != nil {
		return usageErrorf("--http %q: want HOST:PORT", o.httpAddr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageErrorf("--http %s: the dev environment serves plaintext and listens on loopback only (127.0.0.1)", o.httpAddr)
	}
	dir, made, err := o.directory()
	if err != nil {
		return err
	}
	env, err := newDevEnv(c.Context, dir)
	if err != nil {
		return err
	}
	res, err := o.start(env, port)
	if err == nil {
		res.StartupMillis = time.Since(begun).Milliseconds()
		err = out.emit(res, func(w io.Writer) { res.print(w) })
	}
	if err == nil {
		err = o.wait(c, env)
	}
	env.Close()
	switch {
	case o.keep || !made:
		if !out.quiet && !out.json {
			fmt.Fprintf(out.w, "kept %s\n", dir)
		}
	default:
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("removing %s: %w", dir, rerr)
		}
	}
	return err
}

// directory is --dir, checked empty, or a new temporary directory; made
// reports whether this run created it (and so may remove it).
func (o *devOptions) directory() (dir string, made bool, err error) {
	if o.dir == "" {
		dir, err = os.MkdirTemp("", "eucora-dev-")
		return dir, err == nil, err
	}
	ents, err := os.ReadDir(o.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(o.dir, 0o700); err != nil {
			return "", false, fmt.Errorf("--dir: %w", err)
		}
		abs, err := filepath.Abs(o.dir)
		return abs, true, err
	case err != nil:
		return "", false, fmt.Errorf("--dir: %w", err)
	case len(ents) > 0:
		return "", false, usageErrorf("--dir %s is not empty: give an empty or new directory (its contents are never reused or removed)", o.dir)
	}
	abs, err := filepath.Abs(o.dir)
	return abs, true, err
}

// wait runs until interrupted, or until a part stops on its own.
func (o *devOptions) wait(c *cli.Context, env *devEnv) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.Context.Done():
			return nil
		case <-t.C:
			if err := env.Failed(); err != nil {
				return err
			}
		}
	}
}

// start brings every part up, in dependency order.
func (o *devOptions) start(env *devEnv, port string) (*devResult, error) {
	res := &devResult{Dir: env.dir, Keep: o.keep, Exe: devExe()}
	planes, err := o.startSimulators(env, res)
	if err != nil {
		return nil, err
	}
	if err := o.startHub(env, res, port); err != nil {
		return nil, err
	}
	if err := devTokens(env, res); err != nil {
		return nil, err
	}
	if err := devAPT(env, res); err != nil {
		return nil, err
	}
	if err := devSites(env, res); err != nil {
		return nil, err
	}
	if err := devPlanes(env, res, planes); err != nil {
		return nil, err
	}
	if err := devCatalog(env, res); err != nil {
		return nil, err
	}
	res.commands()
	return res, nil
}

func (o *devOptions) startHub(env *devEnv, res *devResult, port string) error {
	httpAddr := net.JoinHostPort("127.0.0.1", port)
	if port == "0" {
		a, err := freeLoopback()
		if err != nil {
			return err
		}
		httpAddr = a
	}
	raftAddr, err := freeLoopback()
	if err != nil {
		return err
	}
	if l, err := net.Listen("tcp", httpAddr); err != nil {
		return usageErrorf("--http %s: %v (is another hub running? give --http 127.0.0.1:0 for any free port)", httpAddr, err)
	} else {
		l.Close()
	}
	data := env.path("hub")
	if _, err := env.serve("hub", false, "hub", "serve", "--data", data, "--http", httpAddr, "--raft", raftAddr,
		"--rollout-interval", "1s", "--reconcile-interval", "15s", "--access-log", "off"); err != nil {
		return err
	}
	env.hubURL = "http://" + httpAddr
	if err := env.waitHTTP("the hub", env.hubURL+"/readyz", 60*time.Second); err != nil {
		return err
	}
	tok := filepath.Join(data, "bootstrap.token")
	b, err := os.ReadFile(tok)
	if err != nil {
		return fmt.Errorf("the hub wrote no bootstrap token: %w", err)
	}
	env.hubArgs = []string{"--hub", env.hubURL, "--token-file", tok}
	res.HubURL, res.ConsoleURL = env.hubURL, env.hubURL+"/ui/"
	res.Tokens = append(res.Tokens, devToken{Name: "admin", Role: "platform-admin", Scope: "enterprise", File: tok, Token: strings.TrimSpace(string(b))})
	return nil
}

// devPlane is one simulator as it printed itself.
type devPlane struct {
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	URL         string          `json:"url"`
	Devices     int             `json:"devices,omitempty"`
	Registered  bool            `json:"registered"`
	Credentials string          `json:"credentials_file"`
	raw         json.RawMessage // the simulator's credentials
}

// devSimulators are the planes started, with the devices each gets (a
// fraction of --devices) and whether the hub registers it.
var devSimulators = []struct {
	kind     string
	share    int // devices = --devices / share; 0: none
	register bool
}{{"intune", 1, true}, {"jamf", 5, true}, {"landscape", 5, true}, {"sccm", 0, false}, {"awx", 0, false}}

func (o *devOptions) startSimulators(env *devEnv, res *devResult) ([]*devPlane, error) {
	var planes []*devPlane
	for i, s := range devSimulators {
		args := []string{"sim", "serve", "--plane", s.kind, "--listen", "127.0.0.1:0"}
		n := 0
		if s.share > 0 {
			n = max(o.devices/s.share, 5)
			args = append(args, "--fleet-size", fmt.Sprint(n), "--fleet-seed", fmt.Sprint(i+1), "--fleet-check-in", o.checkIn)
		}
		line, err := env.serve("sim-"+s.kind, true, args...)
		if err != nil {
			return nil, err
		}
		var started struct {
			URL         string          `json:"url"`
			Credentials json.RawMessage `json:"credentials"`
		}
		if err := json.Unmarshal(line, &started); err != nil || started.URL == "" {
			return nil, fmt.Errorf("the %s simulator printed %q, not its URL", s.kind, line)
		}
		p := &devPlane{Name: s.kind + "-corp", Kind: s.kind, URL: started.URL, Devices: n, Registered: s.register, raw: started.Credentials}
		planes = append(planes, p)
		res.Planes = append(res.Planes, p)
	}
	return planes, nil
}

// devExe is how the printed commands name this binary: as it was run when
// that was a path, else by name (on PATH).
func devExe() string {
	if strings.ContainsRune(os.Args[0], '/') {
		if abs, err := filepath.Abs(os.Args[0]); err == nil {
			return abs
		}
	}
	return "eucora"
}
