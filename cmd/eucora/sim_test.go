package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
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
