package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/eucora/eucora/mirror/sample"
)

// devToken is one principal of the dev environment.
type devToken struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Scope string `json:"scope"`
	File  string `json:"file"`
	Token string `json:"token"`
}

// devPrincipals are the people of the sample catalog, one per duty that
// separation of duties keeps apart (EUCORA-architecture.md section 14.1).
var devPrincipals = []struct{ name, role, scope string }{
	{"pat", "packaging-engineer", "acquisition=acme"},
	{"carol", "cab-approver", ""},
	{"eve", "endpoint-ops", "acquisition=acme"},
	{"audrey", "auditor", ""},
}

func devTokens(env *devEnv, res *devResult) error {
	admin := env.path("tokens", "admin.token")
	if err := os.WriteFile(admin, []byte(res.Tokens[0].Token+"\n"), 0o600); err != nil {
		return err
	}
	res.Tokens[0].File = admin
	for _, p := range devPrincipals {
		f := env.path("tokens", p.name+".token")
		args := []string{"token", "create", "--name", p.name, "--role", p.role, "--out", f}
		if p.scope != "" {
			args = append(args, "--scope", p.scope)
		}
		if _, err := env.asHub(args...); err != nil {
			return err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		scope := p.scope
		if scope == "" {
			scope = "enterprise"
		}
		res.Tokens = append(res.Tokens, devToken{Name: p.name, Role: p.role, Scope: scope, File: f, Token: strings.TrimSpace(string(b))})
	}
	return nil
}

// devPlanes writes each simulator's credentials file in the form 'plane
// add' takes, and registers the planes the sample catalog uses, with
// their ring groups (the simulated fleets' groups ring-0 .. ring-4).
func devPlanes(env *devEnv, res *devResult, planes []*devPlane) error {
	key, err := os.ReadFile(env.path("keys", "corp.asc"))
	if err != nil {
		return err
	}
	repo := map[string]string{"url": res.Sites[0].URL + "/apt/corp", "dist": res.APT.Dist, "key": string(key)}
	for _, p := range planes {
		creds, url, err := devCredentials(p, repo)
		if err != nil {
			return err
		}
		p.Credentials = env.path("planes", p.Name+".json")
		b, _ := json.MarshalIndent(creds, "", "  ")
		if err := os.WriteFile(p.Credentials, append(b, '\n'), 0o600); err != nil {
			return err
		}
		p.URL = url
		if !p.Registered {
			continue
		}
		if _, err := env.asHub("plane", "add", p.Name, "--kind", p.Kind, "--url", url, "--credentials", p.Credentials); err != nil {
			return err
		}
		for ring := 0; ring <= 4; ring++ {
			if _, err := env.asHub("plane", "ring", "set", p.Name, fmt.Sprint(ring), "--group", fmt.Sprintf("ring-%d", ring)); err != nil {
				return err
			}
		}
	}
	return nil
}

// devCredentials maps what a simulator printed to the plane's
// credentials file (connectors/planes.Fields) and the URL to register;
// AWX's hosts install from repo (the intermittent edge's publication).
func devCredentials(p *devPlane, repo map[string]string) (map[string]any, string, error) {
	var c struct {
		Tenant                  string   `json:"tenant"`
		ClientID                string   `json:"client_id"`
		ClientSecret            string   `json:"client_secret"`
		Scope                   string   `json:"scope"`
		Username                string   `json:"username"`
		Password                string   `json:"password"`
		JobTemplate             string   `json:"job_template"`
		AccessKey               string   `json:"access_key"`
		SecretKey               string   `json:"secret_key"`
		TokenPath               string   `json:"token_path"`
		BasePath                string   `json:"base_path"`
		SiteID                  string   `json:"site_id"`
		DistributionPointGroups []string `json:"distribution_point_groups"`
	}
	if err := json.Unmarshal(p.raw, &c); err != nil {
		return nil, "", fmt.Errorf("the %s simulator's credentials: %w", p.Kind, err)
	}
	switch p.Kind {
	case "intune":
		return map[string]any{"tenant": c.Tenant, "client_id": c.ClientID, "client_secret": c.ClientSecret, "login_url": p.URL, "scope": c.Scope}, p.URL, nil
	case "jamf":
		return map[string]any{"client_id": c.ClientID, "client_secret": c.ClientSecret}, p.URL, nil
	case "landscape":
		return map[string]any{"access_key": c.AccessKey, "secret_key": c.SecretKey}, p.URL, nil
	case "sccm":
		return map[string]any{"token_url": p.URL + c.TokenPath, "client_id": c.ClientID, "client_secret": c.ClientSecret, "scope": c.Scope,
			"site_id": c.SiteID, "content_source": `\\dev\eucora\content`, "distribution_point_groups": c.DistributionPointGroups}, p.URL + c.BasePath, nil
	case "awx":
		return map[string]any{"username": c.Username, "password": c.Password, "job_template": c.JobTemplate,
			"repo": repo}, p.URL, nil
	}
	return nil, "", fmt.Errorf("no credentials mapping for plane kind %s", p.Kind)
}

// devAPT writes a small signed upstream repository, mirrors it with the
// hub's APT mirror, and publishes it signed with a new key as corp:stable.
func devAPT(env *devEnv, res *devResult) error {
	repo, err := sample.Write(env.path("upstream"), sample.Options{Packages: sample.Default()})
	if err != nil {
		return err
	}
	url, err := env.serveFiles(repo.Dir)
	if err != nil {
		return err
	}
	data := env.path("hub")
	steps := [][]string{
		{"mirror", "apt", "create", "sample", "--url", url, "--dist", repo.Dist, "--keyring", repo.Keyring, "--data", data},
		{"mirror", "apt", "sync", "sample", "--data", data},
		{"mirror", "apt", "snapshot", "sample", "--as", "sample-1", "--data", data},
		{"keys", "generate", "--type", "openpgp", "--name", "corp", "--out", env.path("keys")},
		{"mirror", "apt", "publish", "sample-1", "--key", env.path("keys", "corp.key.asc"), "--prefix", "corp", "--data", data},
		{"hub", "key", "--out", env.path("keys", "hub.pub")},
	}
	for i, s := range steps {
		run := env.run
		if i == len(steps)-1 {
			run = env.asHub
		}
		if _, err := run(s...); err != nil {
			return err
		}
	}
	res.APT = devAPTInfo{Prefix: "corp", Dist: repo.Dist, Component: repo.Component, Keyring: env.path("keys", "corp.gpg"), Packages: len(repo.Debs)}
	return nil
}

// devSite is one edge of the dev environment.
type devSite struct {
	Name  string `json:"name"`
	Class string `json:"class"`
	Data  string `json:"data"`
	URL   string `json:"url"`
	Media string `json:"media,omitempty"`
}

// devSites enrols an intermittent edge that syncs over the network and an
// air-gapped one that has had one round trip of media, and serves both.
func devSites(env *devEnv, res *devResult) error {
	for _, s := range []devSite{{Name: "branch", Class: "intermittent"}, {Name: "ship", Class: "air-gapped"}} {
		s.Data = env.path("edges", s.Name)
		scope := "acquisition=acme,bu=ops,site=" + s.Name
		if _, err := env.run("edge", "init", "--data", s.Data, "--site", s.Name, "--hub-key", env.path("keys", "hub.pub")); err != nil {
			return err
		}
		if _, err := env.asHub("site", "add", s.Name, "--class", s.Class, "--scope", scope, "--edge-key", filepath.Join(s.Data, "edge.pub")); err != nil {
			return err
		}
		if _, err := env.asHub("site", "assign", s.Name, "--apt", "corp:stable"); err != nil {
			return err
		}
		serve := []string{"edge", "serve", "--data", s.Data, "--listen", "127.0.0.1:0", "--access-log", "off"}
		if s.Class == "air-gapped" {
			s.Media = env.path("media")
			to, back := filepath.Join(s.Media, "to-ship-1"), filepath.Join(s.Media, "from-ship-1")
			for _, step := range [][]string{
				{"hub", "export", "--site", s.Name, "--out", to},
				{"edge", "import", "--data", s.Data, to},
				{"edge", "export", "--data", s.Data, "--out", back},
				{"hub", "import", back},
			} {
				run := env.run
				if step[0] == "hub" {
					run = env.asHub
				}
				if _, err := run(step...); err != nil {
					return err
				}
			}
		} else {
			tok := env.path("tokens", "edge-"+s.Name+".token")
			if _, err := env.asHub("token", "create", "--name", "edge-"+s.Name, "--role", "endpoint-ops", "--scope", scope, "--out", tok); err != nil {
				return err
			}
			serve = append(serve, "--hub", env.hubURL, "--token-file", tok, "--interval", "10s")
		}
		line, err := env.serve("edge-"+s.Name, true, serve...)
		if err != nil {
			return err
		}
		var started serveStarted
		if err := json.Unmarshal(line, &started); err != nil || started.URL == "" {
			return fmt.Errorf("edge %s printed %q, not its URL", s.Name, line)
		}
		s.URL = started.URL
		res.Sites = append(res.Sites, s)
	}
	return nil
}
