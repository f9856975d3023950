package mirrortest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// AptClient runs the real apt-get against a temporary root, unprivileged:
// every state, cache and configuration directory is redirected.
type AptClient struct {
	t    testing.TB
	Root string
}

// NewAptClient prepares a root whose only source is "deb URL DIST main",
// trusted through keyring (binary OpenPGP keyring bytes).
func NewAptClient(t testing.TB, url, dist string, keyring []byte) *AptClient {
	NeedTools(t, "apt-get")
	root := t.TempDir()
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/apt.conf.d",
		"etc/preferences.d", "etc/trusted.gpg.d", "dl", "log"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "state/status"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "key.gpg"), keyring, 0o644)
	src := "deb [arch=amd64 signed-by=" + filepath.Join(root, "key.gpg") + "] " + url + " " + dist + " main\n"
	os.WriteFile(filepath.Join(root, "etc/sources.list"), []byte(src), 0o644)
	return &AptClient{t: t, Root: root}
}

// Run runs apt-get with args; downloads land in Root/dl.
func (a *AptClient) Run(args ...string) (string, error) {
	r := a.Root
	base := []string{
		"-o", "Dir::State=" + r + "/state", "-o", "Dir::State::status=" + r + "/state/status",
		"-o", "Dir::Cache=" + r + "/cache", "-o", "Dir::Etc::SourceList=" + r + "/etc/sources.list",
		"-o", "Dir::Etc::SourceParts=" + r + "/etc/sources.list.d", "-o", "Dir::Etc::Parts=" + r + "/etc/apt.conf.d",
		"-o", "Dir::Etc::Preferences=" + r + "/etc/preferences", "-o", "Dir::Etc::PreferencesParts=" + r + "/etc/preferences.d",
		"-o", "Dir::Etc::Trusted=" + r + "/etc/trusted.gpg", "-o", "Dir::Etc::TrustedParts=" + r + "/etc/trusted.gpg.d",
		"-o", "Dir::Log=" + r + "/log", "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root",
		"-o", "APT::Architecture=amd64", "-o", "APT::Architectures=amd64", "-o", "Acquire::Languages=none",
		"-o", "Acquire::Retries=0", "-o", "Acquire::http::Proxy=DIRECT", "-q",
	}
	cmd := exec.Command("apt-get", append(base, args...)...)
	cmd.Dir = filepath.Join(r, "dl")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustRun runs apt-get and fails the test on an error or any warning.
func (a *AptClient) MustRun(args ...string) string {
	a.t.Helper()
	out, err := a.Run(args...)
	if err != nil {
		a.t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if strings.Contains(out, "W: ") || strings.Contains(out, "E: ") {
		a.t.Fatalf("apt-get %s warned or failed:\n%s", strings.Join(args, " "), out)
	}
	return out
}
