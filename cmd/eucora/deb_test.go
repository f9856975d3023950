package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/mirror/mirrortest"
)

const debVersion = "1.4.0~dogfood"

// buildDeb builds the package with dist/build-deb.sh from bin into a new
// directory and returns its path.
func buildDeb(t *testing.T, bin string) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("..", "..", "dist", "build-deb.sh"), bin, debVersion, out)
	// Uncompressed: the same bytes either way, and quick on busy machines.
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000", "DEB_COMPRESSION=none")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, b)
	}
	deb := strings.TrimSpace(string(b))
	if filepath.Base(deb) != "eucora_"+debVersion+"_amd64.deb" {
		t.Fatalf("build-deb.sh printed %q", b)
	}
	return deb
}

// TestDebDogfood builds the Debian package (twice: byte-identical),
// publishes it through EUCORA's own APT mirror (mirror apt create, sync,
// snapshot, publish, serve) and installs it with the real apt-get and dpkg
// into a throwaway root: the installed binary runs, the units verify, the
// packaged configuration checks, the conffiles are registered, the
// postinst created the eucora user, and the completion works.
func TestDebDogfood(t *testing.T) {
	testtool.Need(t, "apt-get install dpkg dpkg-dev apt apt-utils gnupg gpgv xz-utils", "dpkg-deb", "dpkg", "apt-get", "apt-ftparchive", "gpg", "gpgv", "xz", "gzip", "bash")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "eucora")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+debVersion, "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	deb := buildDeb(t, bin)
	first, _ := os.ReadFile(deb)
	second, _ := os.ReadFile(buildDeb(t, bin))
	if len(first) == 0 || !bytes.Equal(first, second) {
		t.Fatalf("two builds of the same binary differ (%d and %d bytes): not reproducible", len(first), len(second))
	}
	contents := mirrortest.Run(t, "", nil, "dpkg-deb", "-c", deb)
	for _, p := range []string{"./usr/bin/eucora", "./lib/systemd/system/eucora-hub.service", "./lib/systemd/system/eucora-edge.service",
		"./etc/eucora/hub.toml", "./etc/eucora/edge.toml", "./usr/share/man/man1/eucora.1.gz", "./usr/share/man/man1/eucora-hub.1.gz",
		"./usr/share/bash-completion/completions/eucora", "./usr/share/zsh/vendor-completions/_eucora"} {
		if !strings.Contains(contents, " "+p+"\n") {
			t.Errorf("package lacks %s", p)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(contents), "\n") {
		if !strings.Contains(l, " root/root ") || !strings.Contains(l, " 2023-11-14 22:13 ") {
			t.Errorf("entry not owned by root or not stamped SOURCE_DATE_EPOCH: %s", l)
		}
	}

	// An upstream repository holding the package, mirrored by EUCORA.
	g := mirrortest.NewGPG(t, "Release <release@example.invalid>")
	u := mirrortest.NewUpstream(t)
	pool := u.Path("pool/main/e/eucora/" + filepath.Base(deb))
	os.MkdirAll(filepath.Dir(pool), 0o755)
	if err := os.WriteFile(pool, first, 0o644); err != nil {
		t.Fatal(err)
	}
	u.Index(mirrortest.IndexOpts{Signer: g})
	up := mirrortest.NewFaultServer(t, u.Dir)
	data := filepath.Join(tmp, "data")
	kr := filepath.Join(tmp, "up.gpg")
	os.WriteFile(kr, g.Pub, 0o644)
	m := func(args ...string) {
		t.Helper()
		mustRun(t, tmp, append(args, "--data", data)...)
	}
	m("mirror", "apt", "create", "upstream", "--url", up.URL, "--dist", "test", "--keyring", kr)
	m("mirror", "apt", "sync", "upstream")
	m("mirror", "apt", "snapshot", "upstream", "--as", "release-1")
	mustRun(t, tmp, "keys", "generate", "--type", "openpgp", "--name", "pub", "--out", filepath.Join(tmp, "keys"))
	m("mirror", "apt", "publish", "release-1", "--key", filepath.Join(tmp, "keys", "pub.key.asc"), "--prefix", "eucora")
	serve := exec.Command(eucoraBin, "mirror", "apt", "serve", "--data", data, "--listen", "127.0.0.1:0", "--output", "json", "--access-log", "off")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() }()
	var started struct{ URL string }
	if err := json.NewDecoder(stdout).Decode(&started); err != nil || started.URL == "" {
		t.Fatalf("mirror apt serve printed no URL: %v", err)
	}

	// apt-get against EUCORA's publication, installing with dpkg into root.
	pubKey, err := os.ReadFile(filepath.Join(tmp, "keys", "pub.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	apt := mirrortest.NewAptClient(t, started.URL+"eucora", "test", pubKey)
	root := filepath.Join(apt.Root, "target")
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	apt.MustRun("update")
	out, err := apt.Run("-y", "-o", "Dir::State::status="+root+"/var/lib/dpkg/status",
		"-o", "DPkg::Options::=--root="+root, "-o", "DPkg::Options::=--force-script-chrootless", "-o", "DPkg::Options::=--force-not-root",
		"-o", "DPkg::Options::=--log="+filepath.Join(apt.Root, "dpkg.log"), "-o", "DPkg::Use-Pty=0", "install", "eucora")
	if err != nil || !strings.Contains(out, "Setting up eucora ("+debVersion+")") {
		t.Fatalf("apt-get install: %v\n%s", err, out)
	}
	installed := filepath.Join(root, "usr/bin/eucora")
	v, err := exec.Command(installed, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), debVersion) {
		t.Fatalf("installed eucora --version: %v %q", err, v)
	}
	status, _ := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	for _, want := range []string{"Package: eucora\n", "Status: install ok installed\n", "Version: " + debVersion + "\n", " /etc/eucora/hub.toml ", " /etc/eucora/edge.toml "} {
		if !strings.Contains(string(status), want) {
			t.Errorf("dpkg status lacks %q:\n%s", want, status)
		}
	}
	for _, p := range []string{"lib/systemd/system/eucora-hub.service", "lib/systemd/system/eucora-edge.service", "usr/share/man/man1/eucora-edge.1.gz"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	// The packaged configuration passes its own check.
	r := eucora(t, tmp, "config", "check", filepath.Join(root, "etc/eucora/hub.toml"), filepath.Join(root, "etc/eucora/edge.toml"))
	if r.code != 0 {
		t.Errorf("packaged configuration: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := exec.LookPath("systemd-sysusers"); err == nil {
		passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
		if !strings.Contains(string(passwd), "eucora:") {
			t.Errorf("postinst created no eucora user in the target root:\n%s", passwd)
		}
	}
	// The installed bash completion completes subcommands.
	compl := `source "$1"; PATH="$2:$PATH"; COMP_WORDS=(eucora hub s); COMP_CWORD=2; _eucora; echo "${COMPREPLY[@]}"`
	cb, err := exec.Command("bash", "-c", compl, "bash", filepath.Join(root, "usr/share/bash-completion/completions/eucora"), filepath.Join(root, "usr/bin")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(cb)) != "serve" {
		t.Errorf("bash completion of 'eucora hub s': %v %q", err, cb)
	}
	verifyUnits(t, root)
	var res map[string]any
	if err := json.Unmarshal([]byte(eucora(t, tmp, "config", "check", filepath.Join(root, "etc/eucora/hub.toml"), "-o", "json").stdout), &res); err != nil || res["ok"] != true {
		t.Errorf("config check -o json: %v %v", err, res)
	}
}

// verifyUnits runs systemd-analyze verify on the installed units, their
// ExecStart pointed at the installed binary (verify checks it exists).
func verifyUnits(t *testing.T, root string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not installed: units not verified")
		return
	}
	dir := t.TempDir()
	var units []string
	for _, u := range []string{"eucora-hub.service", "eucora-edge.service"} {
		b, err := os.ReadFile(filepath.Join(root, "lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/usr/bin/eucora", filepath.Join(root, "usr/bin/eucora"))
		for _, want := range []string{"Type=notify", "WatchdogSec=", "User=eucora", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
			"PrivateTmp=yes", "CapabilityBoundingSet=\n", "RestrictAddressFamilies=", "StateDirectory=eucora/" + strings.TrimSuffix(strings.TrimPrefix(u, "eucora-"), ".service")} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", u, want)
			}
		}
		p := filepath.Join(dir, u)
		os.WriteFile(p, []byte(text), 0o644)
		units = append(units, p)
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
