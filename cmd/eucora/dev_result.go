package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// devResult is what 'eucora dev' prints once everything is up.
type devResult struct {
	Dir           string       `json:"dir"`
	Keep          bool         `json:"keep"`
	Exe           string       `json:"-"`
	HubURL        string       `json:"hub_url"`
	ConsoleURL    string       `json:"console_url"`
	Tokens        []devToken   `json:"tokens"`
	Planes        []*devPlane  `json:"planes"`
	Sites         []devSite    `json:"sites"`
	APT           devAPTInfo   `json:"apt"`
	Catalog       []devApp     `json:"catalog"`
	Env           []string     `json:"env"`
	Commands      []devCommand `json:"commands"`
	StartupMillis int64        `json:"startup_ms"`
}

// devAPTInfo is the hub's APT publication, which both edges serve.
type devAPTInfo struct {
	Prefix    string   `json:"prefix"`
	Dist      string   `json:"dist"`
	Component string   `json:"component"`
	Keyring   string   `json:"keyring"`
	Packages  int      `json:"packages"`
	Sources   []string `json:"sources"` // one sources.list line per edge
}

// devCommand is a next step to try: a shell command line, run with Env.
type devCommand struct {
	What string `json:"what"`
	Run  string `json:"run"`
}

func (r *devResult) token(name string) string {
	for _, t := range r.Tokens {
		if t.Name == name {
			return t.Token
		}
	}
	return ""
}

func (r *devResult) tokenFile(name string) string {
	for _, t := range r.Tokens {
		if t.Name == name {
			return t.File
		}
	}
	return ""
}

// commands fills in the environment and the next commands; each is run
// by the dev test exactly as printed.
func (r *devResult) commands() {
	q, e := shellQuote, shellQuote(r.Exe)
	as := func(who string) string { return "EUCORA_TOKEN=$(cat " + q(r.tokenFile(who)) + ") " + e }
	r.Env = []string{"EUCORA_HUB=" + r.HubURL, "EUCORA_TOKEN=$(cat " + q(r.tokenFile("admin")) + ")"}
	var ship devSite
	for _, s := range r.Sites {
		r.APT.Sources = append(r.APT.Sources, fmt.Sprintf("deb [signed-by=%s] %s/apt/%s %s %s", r.APT.Keyring, s.URL, r.APT.Prefix, r.APT.Dist, r.APT.Component))
		if s.Class == "air-gapped" {
			ship = s
		}
	}
	ledger, vpn := r.Catalog[0], r.Catalog[1]
	to, back := q(ship.Media+"/to-"+ship.Name+"-2"), q(ship.Media+"/from-"+ship.Name+"-2")
	r.Commands = []devCommand{
		{"watch " + ledger.App + " roll out; before Ring 2 it waits for CAB approval of " + ledger.Intent + "-r1 (approve it as carol, like the VPN below)",
			e + " rollout status " + ledger.App + " --steps"},
		{"the sites' sync state", e + " site status"},
		{"approve the " + vpn.App + " intent as the CAB approver (or in the console's CAB queue)",
			as("carol") + " approve --id cab-" + vpn.Intent + " --subject intent:" + vpn.Intent + " --expires 72h"},
		{"then publish it as its packaging engineer", as("pat") + " intent publish " + vpn.Intent + " --approval cab-" + vpn.Intent + " --evidence " + vpn.Evidence},
		{"carry a bundle to the air-gapped site " + ship.Name,
			e + " hub export --site " + ship.Name + " --out " + to + " && " + e + " edge import --data " + q(ship.Data) + " " + to},
		{"and its receipts and events back", e + " edge export --data " + q(ship.Data) + " --out " + back + " && " + e + " hub import " + back},
		{"the audit trail, verified", e + " events verify"},
	}
}

func (r *devResult) print(w io.Writer) {
	fmt.Fprintf(w, "EUCORA dev environment in %s (started in %.1f s)\n", r.Dir, float64(r.StartupMillis)/1000)
	fmt.Fprintf(w, "Not for production: plaintext HTTP on loopback, sample data, simulated planes.\n\n")
	fmt.Fprintf(w, "Console  %s  (log in with a token below)\nHub API  %s\n\n", r.ConsoleURL, r.HubURL)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tROLE\tSCOPE\tFILE")
	for _, t := range r.Tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Scope, t.File)
	}
	fmt.Fprintln(tw, "\t\t\t")
	fmt.Fprintln(tw, "PLANE\tKIND\tURL\tDEVICES / REGISTERED")
	for _, p := range r.Planes {
		reg := "not registered (credentials in " + p.Credentials + ")"
		if p.Registered {
			reg = "registered, Rings 0-4 = groups ring-0..ring-4"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d / %s\n", p.Name, p.Kind, p.URL, p.Devices, reg)
	}
	fmt.Fprintln(tw, "\t\t\t")
	fmt.Fprintln(tw, "SITE\tCLASS\tSERVES\tSTATE")
	for _, s := range r.Sites {
		how := "syncs with the hub every 10 s"
		if s.Media != "" {
			how = "media folder " + s.Media
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s; data %s\n", s.Name, s.Class, s.URL, how, s.Data)
	}
	fmt.Fprintln(tw, "\t\t\t")
	fmt.Fprintln(tw, "APP\tVERSION\tRISK\tSTATE")
	for _, a := range r.Catalog {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (intent %s)\n", a.App, a.Version, a.Risk, a.State, a.Intent)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nAPT: %d packages mirrored from a sample upstream and published as %s:%s; on a host:\n", r.APT.Packages, r.APT.Prefix, r.APT.Dist)
	for _, s := range r.APT.Sources {
		fmt.Fprintf(w, "  %s\n", s)
	}
	fmt.Fprintf(w, "\nTry, in another shell:\n  export %s\n", strings.Join(r.Env, " "))
	for _, c := range r.Commands {
		fmt.Fprintf(w, "  # %s\n  %s\n", c.What, c.Run)
	}
	what := "removes " + r.Dir
	if r.Keep {
		what = "keeps " + r.Dir
	}
	fmt.Fprintf(w, "\nLogs in %s/logs. Ctrl-C stops everything and %s.\n", r.Dir, what)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
