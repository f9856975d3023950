// Package testtool lets tests that drive real system tools (gpg, apt-get,
// zstd, openssl, ...) say what they need. Outside CI a missing tool skips
// the test with the package to install; under CI=true it fails the test,
// because .ci/run installs every tool and a silent skip would hide a
// missing install step.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true, as .ci/run is run).
func InCI() bool { return os.Getenv("CI") == "true" }

// Need skips t (fails it under CI) unless every tool is on PATH. hint names
// what to install, e.g. "apt-get install zstd".
func Need(t testing.TB, hint string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, tool+" not installed ("+hint+")")
		}
	}
}

// Missing reports a missing prerequisite: it fails t under CI and skips it
// otherwise.
func Missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s; CI=true requires it (.ci/run installs it)", why)
	}
	t.Skip(why)
}
