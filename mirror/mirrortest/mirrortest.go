// Package mirrortest builds real APT repositories for tests: .deb files
// made with dpkg-deb, indexes made with apt-ftparchive, signatures made
// with gpg in a throwaway GNUPGHOME, served over HTTP on 127.0.0.1 with
// per-path fault injection. Tests that need a tool that is absent are
// skipped with a message naming the package to install.
package mirrortest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/testtool"
)

// NeedTools skips the test when a required system tool is absent, and
// fails it under CI=true (see internal/testtool).
func NeedTools(t testing.TB, tools ...string) {
	t.Helper()
	testtool.Need(t, "apt-get install dpkg-dev apt-utils gnupg gpgv xz-utils", tools...)
}

func Run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// GPG is a throwaway GnuPG home with one unprotected signing key.
type GPG struct {
	Dir string
	Pub []byte // binary public keyring
}

func NewGPG(t testing.TB, uid string) *GPG {
	t.Helper()
	// Short path: gpg-agent's socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	g := &GPG{Dir: dir}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "gpg-agent").Run()
		os.RemoveAll(dir)
	})
	Run(t, "", g.Env(), "gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	g.Pub = []byte(Run(t, "", g.Env(), "gpg", "--batch", "--export"))
	return g
}

// Env is the environment that selects this GnuPG home.
func (g *GPG) Env() []string { return []string{"GNUPGHOME=" + g.Dir} }

// Upstream is an APT repository built with dpkg-deb and apt-ftparchive.
type Upstream struct {
	t    testing.TB
	Dir  string
	Dist string
	Debs map[string][]byte // pool path -> bytes
}

// NewUpstream starts an empty repository (distribution "test", component main, amd64).
func NewUpstream(t testing.TB) *Upstream {
	NeedTools(t, "dpkg-deb", "apt-ftparchive", "gpg", "gpgv", "xz", "gzip")
	u := &Upstream{t: t, Dir: t.TempDir(), Dist: "test", Debs: map[string][]byte{}}
	return u
}

// DebSpec describes a package to build.
type DebSpec struct {
	Name, Version, Arch string
	Fields              map[string]string // Depends, Provides, Section, Priority...
	Payload             int               // bytes of payload
}

// AddDeb builds a real .deb with dpkg-deb into the pool.
func (u *Upstream) AddDeb(s DebSpec) string {
	u.t.Helper()
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	build := filepath.Join(u.t.TempDir(), s.Name)
	os.MkdirAll(filepath.Join(build, "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(build, "usr/share/doc", s.Name), 0o755)
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.invalid>\n", s.Name, s.Version, s.Arch)
	if s.Fields["Section"] == "" {
		ctl += "Section: utils\n"
	}
	if s.Fields["Priority"] == "" {
		ctl += "Priority: optional\n"
	}
	for k, v := range s.Fields {
		ctl += k + ": " + v + "\n"
	}
	ctl += "Description: test package " + s.Name + "\n fixture built by the mirror tests\n"
	os.WriteFile(filepath.Join(build, "DEBIAN/control"), []byte(ctl), 0o644)
	payload := bytes.Repeat([]byte(s.Name+" "+s.Version+"\n"), s.Payload/(len(s.Name)+len(s.Version)+2)+1)
	os.WriteFile(filepath.Join(build, "usr/share/doc", s.Name, "README"), payload, 0o644)
	rel := fmt.Sprintf("pool/main/%s/%s/%s_%s_%s.deb", s.Name[:1], s.Name, s.Name, strings.ReplaceAll(s.Version, ":", "%3a"), s.Arch)
	out := filepath.Join(u.Dir, rel)
	os.MkdirAll(filepath.Dir(out), 0o755)
	Run(u.t, "", nil, "dpkg-deb", "--root-owner-group", "-Znone", "--build", build, out)
	b, err := os.ReadFile(out)
	if err != nil {
		u.t.Fatal(err)
	}
	u.Debs[rel] = b
	return rel
}

// IndexOpts choose how Index builds and signs the repository.
type IndexOpts struct {
	Signer      *GPG
	ValidUntil  time.Time
	Date        time.Time
	ByHash      bool
	NoInRelease bool // publish Release + Release.gpg only
	PlainOnly   bool // only an uncompressed Packages
	XZOnly      bool // only Packages.xz
}

// Index regenerates Packages, Packages.gz, Packages.xz and a signed Release.
func (u *Upstream) Index(o IndexOpts) {
	u.t.Helper()
	dd := filepath.Join(u.Dir, "dists", u.Dist)
	bin := filepath.Join(dd, "main/binary-amd64")
	os.RemoveAll(dd)
	os.MkdirAll(bin, 0o755)
	pk := Run(u.t, u.Dir, nil, "apt-ftparchive", "packages", "pool")
	os.WriteFile(filepath.Join(bin, "Packages"), []byte(pk), 0o644)
	switch {
	case o.PlainOnly:
	case o.XZOnly:
		Run(u.t, bin, nil, "sh", "-c", "xz Packages")
	default:
		Run(u.t, bin, nil, "sh", "-c", "gzip -9nk Packages && xz -k Packages")
	}
	if o.Date.IsZero() {
		o.Date = time.Now().Add(-time.Hour)
	}
	args := []string{
		"-o", "APT::FTPArchive::Release::Origin=Upstream", "-o", "APT::FTPArchive::Release::Label=Upstream",
		"-o", "APT::FTPArchive::Release::Suite=" + u.Dist, "-o", "APT::FTPArchive::Release::Codename=" + u.Dist,
		"-o", "APT::FTPArchive::Release::Architectures=amd64", "-o", "APT::FTPArchive::Release::Components=main",
		"release", ".",
	}
	rel := Run(u.t, dd, nil, "apt-ftparchive", args...)
	// apt-ftparchive stamps the current time; set the dates we want.
	var lines []string
	for _, l := range strings.Split(rel, "\n") {
		if strings.HasPrefix(l, "Date:") || strings.HasPrefix(l, "Valid-Until:") {
			continue
		}
		lines = append(lines, l)
		if strings.HasPrefix(l, "Codename:") {
			lines = append(lines, "Date: "+o.Date.UTC().Format(time.RFC1123))
			if !o.ValidUntil.IsZero() {
				lines = append(lines, "Valid-Until: "+o.ValidUntil.UTC().Format(time.RFC1123))
			}
			if o.ByHash {
				lines = append(lines, "Acquire-By-Hash: yes")
			}
		}
	}
	os.WriteFile(filepath.Join(dd, "Release"), []byte(strings.Join(lines, "\n")), 0o644)
	if o.ByHash {
		bh := filepath.Join(bin, "by-hash/SHA256")
		os.MkdirAll(bh, 0o755)
		for _, n := range []string{"Packages", "Packages.gz", "Packages.xz"} {
			b, err := os.ReadFile(filepath.Join(bin, n))
			if err != nil {
				continue
			}
			sum := sha256.Sum256(b)
			os.WriteFile(filepath.Join(bh, hex.EncodeToString(sum[:])), b, 0o644)
		}
	}
	g := o.Signer
	if !o.NoInRelease {
		Run(u.t, dd, g.Env(), "gpg", "--batch", "--yes", "--digest-algo", "SHA512", "--clearsign", "-o", "InRelease", "Release")
	}
	Run(u.t, dd, g.Env(), "gpg", "--batch", "--yes", "--digest-algo", "SHA512", "-abs", "-o", "Release.gpg", "Release")
}

// Path is the file of a repository-relative path.
func (u *Upstream) Path(rel string) string { return filepath.Join(u.Dir, filepath.FromSlash(rel)) }

// FaultServer serves a directory (with Range, via http.FileServer) and
// injects faults per path.
type FaultServer struct {
	*httptest.Server
	mu     sync.Mutex
	root   string
	faults map[string]http.HandlerFunc
	hits   map[string]int
}

// NewFaultServer serves root on 127.0.0.1.
func NewFaultServer(t testing.TB, root string) *FaultServer {
	fs := &FaultServer{root: root, faults: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		f := fs.faults[r.URL.Path]
		fs.hits[r.URL.Path]++
		root := fs.root
		fs.mu.Unlock()
		if f != nil {
			f(w, r)
			return
		}
		http.FileServer(http.Dir(root)).ServeHTTP(w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

// SetFault makes path answer with f (nil removes the fault).
func (fs *FaultServer) SetFault(path string, f http.HandlerFunc) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f == nil {
		delete(fs.faults, path)
	} else {
		fs.faults[path] = f
	}
}

// SetRoot switches the served directory.
func (fs *FaultServer) SetRoot(root string) {
	fs.mu.Lock()
	fs.root = root
	fs.mu.Unlock()
}

// Hits returns how many requests path received.
func (fs *FaultServer) Hits(path string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits[path]
}
