package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSimServe runs each plane's simulator with the built binary, as a
// site admin would, and checks it prints its URL and credentials, answers
// on the plane's own API, and honours the fault flags.
func TestSimServe(t *testing.T) {
	probes := map[string]string{"intune": "/beta/deviceAppManagement/mobileApps", "awx": "/api/v2/ping/", "jamf": "/api/v1/packages", "landscape": "/api/?action=GetComputers", "sccm": "/AdminService/wmi/SMS_Application"}
	for plane := range simPlanes {
		t.Run(plane, func(t *testing.T) {
			cmd := exec.Command(eucoraBin, "sim", "serve", "--plane", plane, "--listen", "127.0.0.1:0", "--throttle", "1", "--retry-after", "2", "--output", "json")
			var errb syncBuf
			cmd.Stderr = &errb
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
			var started struct {
				Plane       string
				URL         string
				Credentials map[string]any
			}
			if err := json.NewDecoder(stdout).Decode(&started); err != nil {
				t.Fatalf("no start line: %v\n%s", err, errb.String())
			}
			if started.Plane != plane || started.URL == "" || len(started.Credentials) == 0 {
				t.Fatalf("start line %+v", started)
			}
			path, ok := probes[plane]
			if !ok {
				t.Fatalf("no probe path for %s: add one", plane)
			}
			resp, err := http.Get(started.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
				t.Errorf("first request: %d Retry-After %q, want the --throttle 429", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			resp, err = http.Get(started.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
				t.Errorf("second request: %d", resp.StatusCode)
			}
		})
	}
	if out, err := exec.Command(eucoraBin, "sim", "serve", "--plane", "nosuch").CombinedOutput(); exitOf(err) != exitUsage {
		t.Errorf("unknown plane: exit %d: %s", exitOf(err), out)
	}
}

func exitOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestSimServeFleet runs simulators with simulated devices: a generated
// fleet behind Intune and a fleet file behind Landscape, their admin API,
// and the flags' refusals.
func TestSimServeFleet(t *testing.T) {
	start := func(t *testing.T, args ...string) (url string, started map[string]any) {
		t.Helper()
		cmd := exec.Command(eucoraBin, append([]string{"sim", "serve", "--listen", "127.0.0.1:0", "--output", "json"}, args...)...)
		var errb syncBuf
		cmd.Stderr = &errb
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		if err := json.NewDecoder(stdout).Decode(&started); err != nil {
			t.Fatalf("no start line: %v\n%s", err, errb.String())
		}
		return started["url"].(string), started
	}
	url, started := start(t, "--plane", "intune", "--fleet-size", "200", "--fleet-seed", "7")
	fl, _ := started["fleet"].(map[string]any)
	if fl["devices"] != float64(200) || fl["admin_url"] != url+"/_sim/fleet" || fl["seed"] != float64(7) {
		t.Fatalf("start line %v", started)
	}
	resp, err := http.Get(url + "/_sim/fleet")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Devices int
		Groups  map[string]int
	}
	json.NewDecoder(resp.Body).Decode(&sum)
	resp.Body.Close()
	if sum.Devices != 200 || sum.Groups["ring-4"] != 100 || sum.Groups["site-hq"] != 200 {
		t.Errorf("GET /_sim/fleet: %+v", sum)
	}
	resp, err = http.Post(url+"/_sim/fleet/failure-rate", "application/json", strings.NewReader(`{"app": "com.acme.ledger", "rate": 0.2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST failure-rate: %d", resp.StatusCode)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.json")
	os.WriteFile(file, []byte(`{"seed": 3, "devices": [{"id": "lnx-1", "platform": "linux", "groups": ["ring-0"], "check_in": "1h"}]}`), 0o644)
	if _, started := start(t, "--plane", "landscape", "--fleet", file); started["fleet"].(map[string]any)["devices"] != float64(1) {
		t.Errorf("landscape with a fleet file: %v", started)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"devices": [{"id": "lnx-1", "platform": "beos"}]}`), 0o644)
	for _, tc := range []struct {
		args []string
		exit int
		says string
	}{
		{[]string{"--plane", "awx", "--fleet-size", "10"}, exitUsage, "no simulated devices"},
		{[]string{"--plane", "jamf", "--fleet-size", "10", "--fleet", file}, exitUsage, "give one"},
		{[]string{"--plane", "jamf", "--fleet", file, "--fleet-seed", "2"}, exitUsage, "--fleet-seed"},
		{[]string{"--plane", "sccm", "--fleet-size", "-1"}, exitUsage, "negative"},
		{[]string{"--plane", "sccm", "--fleet", bad}, 1, "devices[0].platform"},
		{[]string{"--plane", "sccm", "--fleet", filepath.Join(dir, "nosuch.json")}, 1, "no such file"},
	} {
		out, err := exec.Command(eucoraBin, append([]string{"sim", "serve", "--listen", "127.0.0.1:0"}, tc.args...)...).CombinedOutput()
		if exitOf(err) != tc.exit || !strings.Contains(string(out), tc.says) {
			t.Errorf("sim serve %v: exit %d: %s, want exit %d saying %q", tc.args, exitOf(err), out, tc.exit, tc.says)
		}
	}
}
