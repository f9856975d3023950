package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
)

// needTools skips the test when a required system tool is absent.
func needTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install dpkg-dev apt-utils gnupg gpgv xz-utils): %v", tool, err)
		}
	}
}

func run(t testing.TB, dir string, env []string, name string, args ...string) string {
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

// gpgHome is a throwaway GnuPG home with one unprotected signing key.
type gpgHome struct {
	dir string
	pub []byte // binary public keyring
}

func newGPG(t testing.TB, uid string) *gpgHome {
	t.Helper()
	// Short path: gpg-agent's socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	g := &gpgHome{dir: dir}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "gpg-agent").Run()
		os.RemoveAll(dir)
	})
	run(t, "", g.env(), "gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	g.pub = []byte(run(t, "", g.env(), "gpg", "--batch", "--export"))
	return g
}

func (g *gpgHome) env() []string { return []string{"GNUPGHOME=" + g.dir} }

// upstream is an APT repository built with dpkg-deb and apt-ftparchive.
type upstream struct {
	t    testing.TB
	dir  string
	dist string
	debs map[string][]byte // pool path -> bytes
}

func newUpstream(t testing.TB) *upstream {
	needTools(t, "dpkg-deb", "apt-ftparchive", "gpg", "gpgv", "xz", "gzip")
	u := &upstream{t: t, dir: t.TempDir(), dist: "test", debs: map[string][]byte{}}
	return u
}

type debSpec struct {
	name, version, arch string
	fields              map[string]string // Depends, Provides, Section, Priority...
	payload             int               // bytes of payload
}

// addDeb builds a real .deb with dpkg-deb into the pool.
func (u *upstream) addDeb(s debSpec) string {
	u.t.Helper()
	if s.arch == "" {
		s.arch = "amd64"
	}
	build := filepath.Join(u.t.TempDir(), s.name)
	os.MkdirAll(filepath.Join(build, "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(build, "usr/share/doc", s.name), 0o755)
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.invalid>\n", s.name, s.version, s.arch)
	if s.fields["Section"] == "" {
		ctl += "Section: utils\n"
	}
	if s.fields["Priority"] == "" {
		ctl += "Priority: optional\n"
	}
	for k, v := range s.fields {
		ctl += k + ": " + v + "\n"
	}
	ctl += "Description: test package " + s.name + "\n fixture built by the mirror tests\n"
	os.WriteFile(filepath.Join(build, "DEBIAN/control"), []byte(ctl), 0o644)
	payload := bytes.Repeat([]byte(s.name+" "+s.version+"\n"), s.payload/(len(s.name)+len(s.version)+2)+1)
	os.WriteFile(filepath.Join(build, "usr/share/doc", s.name, "README"), payload, 0o644)
	rel := fmt.Sprintf("pool/main/%s/%s/%s_%s_%s.deb", s.name[:1], s.name, s.name, strings.ReplaceAll(s.version, ":", "%3a"), s.arch)
	out := filepath.Join(u.dir, rel)
	os.MkdirAll(filepath.Dir(out), 0o755)
	run(u.t, "", nil, "dpkg-deb", "--root-owner-group", "-Znone", "--build", build, out)
	b, err := os.ReadFile(out)
	if err != nil {
		u.t.Fatal(err)
	}
	u.debs[rel] = b
	return rel
}

type indexOpts struct {
	signer     *gpgHome
	validUntil time.Time
	date       time.Time
	byHash     bool
	noInRel    bool // publish Release + Release.gpg only
	plainOnly  bool // only an uncompressed Packages
	xzOnly     bool // only Packages.xz
}

// index regenerates Packages, Packages.gz, Packages.xz and a signed Release.
func (u *upstream) index(o indexOpts) {
	u.t.Helper()
	dd := filepath.Join(u.dir, "dists", u.dist)
	bin := filepath.Join(dd, "main/binary-amd64")
	os.RemoveAll(dd)
	os.MkdirAll(bin, 0o755)
	pk := run(u.t, u.dir, nil, "apt-ftparchive", "packages", "pool")
	os.WriteFile(filepath.Join(bin, "Packages"), []byte(pk), 0o644)
	switch {
	case o.plainOnly:
	case o.xzOnly:
		run(u.t, bin, nil, "sh", "-c", "xz Packages")
	default:
		run(u.t, bin, nil, "sh", "-c", "gzip -9nk Packages && xz -k Packages")
	}
	if o.date.IsZero() {
		o.date = time.Now().Add(-time.Hour)
	}
	args := []string{
		"-o", "APT::FTPArchive::Release::Origin=Upstream", "-o", "APT::FTPArchive::Release::Label=Upstream",
		"-o", "APT::FTPArchive::Release::Suite=" + u.dist, "-o", "APT::FTPArchive::Release::Codename=" + u.dist,
		"-o", "APT::FTPArchive::Release::Architectures=amd64", "-o", "APT::FTPArchive::Release::Components=main",
		"release", ".",
	}
	rel := run(u.t, dd, nil, "apt-ftparchive", args...)
	// apt-ftparchive stamps the current time; set the dates we want.
	var lines []string
	for _, l := range strings.Split(rel, "\n") {
		if strings.HasPrefix(l, "Date:") || strings.HasPrefix(l, "Valid-Until:") {
			continue
		}
		lines = append(lines, l)
		if strings.HasPrefix(l, "Codename:") {
			lines = append(lines, "Date: "+o.date.UTC().Format(time.RFC1123))
			if !o.validUntil.IsZero() {
				lines = append(lines, "Valid-Until: "+o.validUntil.UTC().Format(time.RFC1123))
			}
			if o.byHash {
				lines = append(lines, "Acquire-By-Hash: yes")
			}
		}
	}
	os.WriteFile(filepath.Join(dd, "Release"), []byte(strings.Join(lines, "\n")), 0o644)
	if o.byHash {
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
	g := o.signer
	if !o.noInRel {
		run(u.t, dd, g.env(), "gpg", "--batch", "--yes", "--digest-algo", "SHA512", "--clearsign", "-o", "InRelease", "Release")
	}
	run(u.t, dd, g.env(), "gpg", "--batch", "--yes", "--digest-algo", "SHA512", "-abs", "-o", "Release.gpg", "Release")
}

func (u *upstream) path(rel string) string { return filepath.Join(u.dir, filepath.FromSlash(rel)) }

// faultServer serves a directory (with Range, via http.FileServer) and
// injects faults per path.
type faultServer struct {
	*httptest.Server
	mu     sync.Mutex
	root   string
	faults map[string]http.HandlerFunc
	hits   map[string]int
}

func newFaultServer(t testing.TB, root string) *faultServer {
	fs := &faultServer{root: root, faults: map[string]http.HandlerFunc{}, hits: map[string]int{}}
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

func (fs *faultServer) setFault(path string, f http.HandlerFunc) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f == nil {
		delete(fs.faults, path)
	} else {
		fs.faults[path] = f
	}
}

func (fs *faultServer) setRoot(root string) {
	fs.mu.Lock()
	fs.root = root
	fs.mu.Unlock()
}

// testRepo opens a mirror state and store in a temporary data directory.
func testRepo(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	st, err := cas.Open(filepath.Join(dir, "cas"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(filepath.Join(dir, "mirror"), st)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testSigner(t testing.TB) (*Signer, *GeneratedKey) {
	t.Helper()
	k, err := GenerateKey(t.TempDir(), "publish", "EUCORA test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func fastFetcher() *Fetcher {
	return &Fetcher{IdleTimeout: 500 * time.Millisecond, Retries: 1, Backoff: 10 * time.Millisecond}
}

func httpGet(t testing.TB, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var _ = context.Background
var _ = io.EOF
