package testtool

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The helper is run in a child test process so its outcome (skip or fail)
// can be observed from outside.
func TestNeedSkipsOutsideCIAndFailsInCI(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") == "1" {
		Need(t, "apt-get install nothing", "sh", "eucora-no-such-tool-xyz")
		t.Log("not reached")
		return
	}
	for _, c := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP"},
		{"false", false, "--- SKIP"},
		{"true", true, "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestNeedSkipsOutsideCIAndFailsInCI$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTTOOL_CHILD=1", "CI="+c.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.wantFail || !strings.Contains(string(out), c.want) ||
			!strings.Contains(string(out), "eucora-no-such-tool-xyz not installed (apt-get install nothing)") ||
			strings.Contains(string(out), "not reached") {
			t.Fatalf("CI=%q: err %v, output:\n%s", c.ci, err, out)
		}
	}
}

func TestNeedPassesWhenPresent(t *testing.T) {
	Need(t, "", "sh")
}
