package main

import (
	"bufio"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/eucora/eucora/hub"
)

var seriesName = regexp.MustCompile(`eucora_[a-z0-9_]+`)

// sourceSeries returns every metric name the module's non-test sources
// define: the "eucora_..." string literals of files that use
// client_golang's prometheus package.
func sourceSeries(t *testing.T) map[string]string {
	t.Helper()
	lit := regexp.MustCompile(`"(eucora_[a-z0-9_]+)"`)
	found := map[string]string{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == ".git" || d.Name() == "sdkcheck") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "github.com/prometheus/client_golang/prometheus") {
			return nil
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			found[m[1]] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 20 {
		t.Fatalf("found only %d series in the sources: the scan is broken", len(found))
	}
	return found
}

// documentedSeries returns the series named in the first column of a
// table row of docs/metrics.md.
func documentedSeries(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "| `eucora_") {
			continue
		}
		cell := strings.Split(l, "|")[1]
		doc[strings.Trim(strings.TrimSpace(cell), "`")] = true
	}
	return doc
}

// TestMetricsDocumented: every series the sources define, and every
// eucora_ series a real hub serves on /metrics, has a row in
// docs/metrics.md, and every row names a series that exists.
func TestMetricsDocumented(t *testing.T) {
	src := sourceSeries(t)
	doc := documentedSeries(t)
	for name, file := range src {
		if !doc[name] {
			t.Errorf("%s (defined in %s) is not documented in docs/metrics.md", name, file)
		}
	}
	for name := range doc {
		if _, ok := src[name]; !ok {
			t.Errorf("docs/metrics.md documents %s, which no source defines", name)
		}
	}
	// The hub's real scrape (sites' series appear once a site exists; the
	// source scan covers them).
	srv, err := hub.New(hub.Config{DataDir: t.TempDir(), HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), NodeID: "n1", Bootstrap: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	select {
	case <-srv.Ready():
	case <-time.After(60 * time.Second):
		t.Fatal("hub not ready")
	}
	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	served := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "#" || f[1] != "TYPE" || !strings.HasPrefix(f[2], "eucora_") {
			continue
		}
		served++
		if !doc[f[2]] {
			t.Errorf("the hub serves %s, not documented in docs/metrics.md", f[2])
		}
	}
	if served < 10 {
		t.Errorf("the hub served only %d eucora_ series", served)
	}
}

// TestAlertRules: dist/eucora-alerts.yml parses as Prometheus rule groups,
// covers the alerts issue 14 asks for, and uses only exported series.
func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "dist", "eucora-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("dist/eucora-alerts.yml: %v", err)
	}
	src := sourceSeries(t)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("group %s: incomplete rule %+v", g.Name, r)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("%s: unbalanced parentheses in %q", r.Alert, r.Expr)
			}
			names := seriesName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("%s uses no eucora series", r.Alert)
			}
			for _, n := range names {
				if _, ok := src[n]; !ok {
					t.Errorf("%s uses %s, which the binary does not export", r.Alert, n)
				}
			}
		}
	}
	for _, want := range []string{"EucoraSiteStale", "EucoraEventChainBroken", "EucoraRaftNoLeader", "EucoraPlaneThrottled", "EucoraEvidenceStoreUnavailable"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no %s alert", want)
		}
	}
}
