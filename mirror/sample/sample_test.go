package sample

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/mirror/debian"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// published is the sample repository mirrored and republished by EUCORA.
type published struct {
	sample   *Repo
	upURL    string // the sample repository, served as written
	pubURL   string // EUCORA's publication of it (prefix "dev")
	pubKey   []byte // the publication's binary public keyring
	mirror   *mirror.Repo
	packages []byte // the published Packages index
}

// publishSample writes the default sample repository, serves it over
// loopback and drives the real mirror through it the way 'eucora mirror
// apt create/sync/snapshot/publish' do.
func publishSample(t *testing.T) *published {
	t.Helper()
	s, err := Write(filepath.Join(t.TempDir(), "upstream"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.FileServer(http.Dir(s.Dir)))
	t.Cleanup(up.Close)

	data := t.TempDir()
	store, err := cas.Open(filepath.Join(data, "cas"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := mirror.OpenRepo(filepath.Join(data, "mirror"), store)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := os.ReadFile(s.Keyring)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := &mirror.Mirror{Name: "sample", URL: up.URL, Dist: s.Dist, KeyringFile: s.Keyring}
	check, err := repo.DefineMirror(ctx, m, kr, mirror.DefineOptions{Fetcher: &mirror.Fetcher{}})
	if err != nil {
		t.Fatalf("mirror apt create: %v", err)
	}
	if check.Suite != "stable" || !strings.HasSuffix(check.Release, "/dists/stable/InRelease") {
		t.Fatalf("upstream check %+v: want suite stable verified from InRelease", check)
	}
	res, err := repo.Sync(ctx, "sample", mirror.SyncOptions{Fetcher: &mirror.Fetcher{}})
	if err != nil {
		t.Fatalf("mirror apt sync: %v", err)
	}
	// Sync downloads every package and checks it against the SHA256 of
	// the verified Packages index.
	if res.Packages != 3 || res.Downloaded != 3 || len(res.Warnings) != 0 {
		t.Fatalf("sync result %+v: want 3 packages downloaded, no warnings", res)
	}
	if _, err := repo.CreateSnapshot("sample", "s1"); err != nil {
		t.Fatal(err)
	}
	k, err := mirror.GenerateKey(t.TempDir(), "publish", "EUCORA dev publish")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := mirror.LoadSigner(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := repo.Publish(ctx, "s1", mirror.PublishOptions{Prefix: "dev", Signer: signer})
	if err != nil {
		t.Fatalf("mirror apt publish: %v", err)
	}
	if pr.Dist != "stable" || pr.Packages != 3 || pr.SignedBy != k.Fingerprint {
		t.Fatalf("publish result %+v", pr)
	}
	pub := httptest.NewServer(mirror.NewHandler(repo, nil))
	t.Cleanup(pub.Close)
	pubKey, err := os.ReadFile(k.PublicGPG)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pub.URL + "/dev/dists/stable/main/binary-amd64/Packages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("published Packages: %d %v", resp.StatusCode, err)
	}
	return &published{sample: s, upURL: up.URL, pubURL: pub.URL + "/dev", pubKey: pubKey, mirror: repo, packages: b.Bytes()}
}

// TestWriteMirrorsWithEucora: EUCORA's mirror accepts the sample
// repository (signature, Release, index and package hashes) and
// republishes all three packages with their dependency intact.
func TestWriteMirrorsWithEucora(t *testing.T) {
	p := publishSample(t)
	pkgs, err := debian.ParsePackages(bytes.NewReader(p.packages), "published Packages")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]*debian.Package{}
	for _, pk := range pkgs {
		names = append(names, pk.Name+"="+pk.Version)
		byName[pk.Name] = pk
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "eucora-agent-demo=2.1 eucora-hello=1.0 libeucora-demo=1.0" {
		t.Fatalf("published packages %v", names)
	}
	if d := byName["eucora-hello"].Para.Get("Depends"); d != "libeucora-demo (>= 1.0)" {
		t.Fatalf("eucora-hello Depends %q", d)
	}
	// The published pool files are the bytes Write made.
	for _, pk := range pkgs {
		want, err := os.ReadFile(filepath.Join(p.sample.Dir, filepath.FromSlash(poolPath("main", Package{Name: pk.Name, Version: pk.Version}, "amd64"))))
		if err != nil {
			t.Fatal(err)
		}
		if pk.Size != int64(len(want)) {
			t.Fatalf("%s: published Size %d, written %d", pk.Name, pk.Size, len(want))
		}
	}
	// The private key does not stay in the served tree.
	if _, err := os.Stat(filepath.Join(p.sample.Dir, "key", "sample.key.asc")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("private key left in the repository: %v", err)
	}
}

// TestDebsAreValid: dpkg-deb reads every .deb and extracts exactly the
// files given; the real apt-get updates from and downloads all three from
// both the sample repository and EUCORA's publication of it; gpgv accepts
// the sample signatures.
func TestDebsAreValid(t *testing.T) {
	mirrortest.NeedTools(t, "dpkg-deb", "apt-get")
	p := publishSample(t)
	want := map[string]Package{}
	for _, pk := range Default() {
		want[pk.Name] = pk
	}
	if len(p.sample.Debs) != 3 {
		t.Fatalf("Debs %v", p.sample.Debs)
	}
	debBytes := map[string][]byte{}
	for _, rel := range p.sample.Debs {
		deb := filepath.Join(p.sample.Dir, filepath.FromSlash(rel))
		b, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		debBytes[filepath.Base(rel)] = b
		name := strings.SplitN(filepath.Base(rel), "_", 2)[0]
		pk, ok := want[name]
		if !ok {
			t.Fatalf("unexpected deb %s", rel)
		}
		info := mirrortest.Run(t, "", nil, "dpkg-deb", "--info", deb)
		for _, f := range []string{" Package: " + pk.Name + "\n", " Version: " + pk.Version + "\n", " Architecture: amd64\n",
			" Maintainer: " + maintainer + "\n", " Priority: optional\n"} {
			if !strings.Contains(info, f) {
				t.Fatalf("dpkg-deb --info %s lacks %q:\n%s", rel, f, info)
			}
		}
		if pk.Depends != "" && !strings.Contains(info, " Depends: "+pk.Depends+"\n") {
			t.Fatalf("dpkg-deb --info %s lacks Depends %q:\n%s", rel, pk.Depends, info)
		}
		// Field values dpkg-deb parsed: it refuses malformed control data.
		if got := strings.TrimSpace(mirrortest.Run(t, "", nil, "dpkg-deb", "--field", deb, "Package")); got != pk.Name {
			t.Fatalf("dpkg-deb --field Package = %q", got)
		}
		contents := mirrortest.Run(t, "", nil, "dpkg-deb", "--contents", deb)
		for f := range pk.Files {
			mode := "-rw-r--r--"
			if strings.HasPrefix(f, "usr/bin/") {
				mode = "-rwxr-xr-x"
			}
			line := ""
			for _, l := range strings.Split(contents, "\n") {
				if strings.HasSuffix(l, " ./"+f) {
					line = l
				}
			}
			if !strings.HasPrefix(line, mode+" root/root ") {
				t.Fatalf("dpkg-deb --contents %s: %s listed as %q, want %s root/root:\n%s", rel, f, line, mode, contents)
			}
		}
		x := t.TempDir()
		mirrortest.Run(t, "", nil, "dpkg-deb", "-x", deb, x)
		var got []string
		filepath.Walk(x, func(path string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				r, _ := filepath.Rel(x, path)
				got = append(got, filepath.ToSlash(r))
			}
			return err
		})
		if len(got) != len(pk.Files) {
			t.Fatalf("dpkg-deb -x %s extracted %v, want the %d files given", rel, got, len(pk.Files))
		}
		for f, data := range pk.Files {
			b, err := os.ReadFile(filepath.Join(x, filepath.FromSlash(f)))
			if err != nil || !bytes.Equal(b, data) {
				t.Fatalf("dpkg-deb -x %s: %s differs (%v)", rel, f, err)
			}
		}
	}

	upKey, err := os.ReadFile(p.sample.Keyring)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []struct {
		name, url string
		key       []byte
	}{
		{"sample repository", p.upURL, upKey},
		{"EUCORA publication", p.pubURL, p.pubKey},
	} {
		apt := mirrortest.NewAptClient(t, src.url, "stable", src.key)
		apt.MustRun("update")
		apt.MustRun("download", "eucora-hello", "libeucora-demo", "eucora-agent-demo")
		for base, b := range debBytes {
			got, err := os.ReadFile(filepath.Join(apt.Root, "dl", base))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("%s: apt-get download %s: differs from the written deb (%v)", src.name, base, err)
			}
		}
	}

	t.Run("gpgv", func(t *testing.T) {
		mirrortest.NeedTools(t, "gpgv")
		dd := filepath.Join(p.sample.Dir, "dists", "stable")
		mirrortest.Run(t, "", nil, "gpgv", "--keyring", p.sample.Keyring, filepath.Join(dd, "InRelease"))
		mirrortest.Run(t, "", nil, "gpgv", "--keyring", p.sample.Keyring, filepath.Join(dd, "Release.gpg"), filepath.Join(dd, "Release"))
	})
}

// TestWriteRefusesBadOptions: each bad option is refused with an error
// naming the field, and nothing is written.
func TestWriteRefusesBadOptions(t *testing.T) {
	good := func(name, version string) Package {
		return Package{Name: name, Version: version, Description: "a package", Files: map[string][]byte{"usr/share/doc/" + name + "/README": []byte("x")}}
	}
	withPkg := func(mod func(*Package)) Options {
		p := good("demo", "1.0")
		mod(&p)
		return Options{Packages: []Package{p}}
	}
	withFiles := func(files ...string) Options {
		return withPkg(func(p *Package) {
			for _, f := range files {
				p.Files[f] = []byte("x")
			}
		})
	}
	cases := []struct {
		name  string
		o     Options
		field string
	}{
		{"empty name", withPkg(func(p *Package) { p.Name = "" }), "Packages[0].Name: empty"},
		{"upper-case name", withPkg(func(p *Package) { p.Name = "Demo" }), "Packages[0].Name"},
		{"space in name", withPkg(func(p *Package) { p.Name = "de mo" }), "Packages[0].Name"},
		{"one-letter name", withPkg(func(p *Package) { p.Name = "d" }), "Packages[0].Name"},
		{"empty version", withPkg(func(p *Package) { p.Version = "" }), "Packages[0].Version: empty"},
		{"space in version", withPkg(func(p *Package) { p.Version = "1.0 beta" }), "Packages[0].Version"},
		{"trailing space in version", withPkg(func(p *Package) { p.Version = "1.0 " }), "Packages[0].Version"},
		{"bad epoch", withPkg(func(p *Package) { p.Version = "x:1.0" }), "Packages[0].Version"},
		{"empty revision", withPkg(func(p *Package) { p.Version = "1.0-" }), "Packages[0].Version"},
		{"duplicate package", Options{Packages: []Package{good("demo", "1.0"), good("other", "1"), good("demo", "1.0")}}, "Packages[2]: duplicate package demo 1.0"},
		{"same pool file", Options{Packages: []Package{good("demo", "1.0"), good("demo", "1:1.0")}}, "Packages[1].Version"},
		{"dot-dot path", withFiles("../etc/passwd"), "Packages[0].Files: unsafe path \"../etc/passwd\""},
		{"absolute path", withFiles("/abs"), "Packages[0].Files: unsafe path \"/abs\""},
		{"inner dot-dot", withFiles("usr/../../x"), "Packages[0].Files"},
		{"dot element", withFiles("usr/./x"), "Packages[0].Files"},
		{"empty element", withFiles("usr//x"), "Packages[0].Files"},
		{"newline in path", withFiles("usr/x\ny"), "Packages[0].Files"},
		{"file and directory", withFiles("usr/bin", "usr/bin/x"), "Packages[0].Files"},
		{"empty description", withPkg(func(p *Package) { p.Description = "" }), "Packages[0].Description"},
		{"control char in description", withPkg(func(p *Package) { p.Description = "a\x00b" }), "Packages[0].Description"},
		{"bad depends", withPkg(func(p *Package) { p.Depends = "libx (>= 1.0" }), "Packages[0].Depends"},
		{"newline in depends", withPkg(func(p *Package) { p.Depends = "libx\nPackage: evil" }), "Packages[0].Depends"},
		{"no packages", Options{Packages: []Package{}}, "Packages: no packages"},
		{"dist with slash", Options{Dist: "../x"}, "Dist"},
		{"component with space", Options{Component: "ma in"}, "Component"},
		{"upper-case arch", Options{Arch: "AMD64"}, "Arch"},
		{"origin with newline", Options{Origin: "x\nSHA256: evil"}, "Origin"},
		{"before 1970", Options{Now: time.Unix(-10, 0)}, "Now"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			_, err := Write(dir, c.o)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Write: %v; want an ErrInvalid naming %q", err, c.field)
			}
			if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("refused (%v) but %s was created (%v)", err, dir, serr)
			}
		})
	}
	t.Run("non-empty dir", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "keep"), []byte("mine"), 0o644)
		_, err := Write(dir, Options{})
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not empty (holds keep)") {
			t.Fatalf("Write into a non-empty dir: %v", err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Fatalf("dir now holds %d entries", len(ents))
		}
	})
	t.Run("dir is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		os.WriteFile(f, []byte("mine"), 0o644)
		if _, err := Write(f, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("Write onto a file: %v", err)
		}
		if b, _ := os.ReadFile(f); string(b) != "mine" {
			t.Fatal("file changed")
		}
	})
}

// TestWriteIsDeterministic: two Writes with the same Now give the same
// .deb, Packages and Release bytes (only the signatures and key differ);
// another Now changes the .deb files.
func TestWriteIsDeterministic(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	a, err := Write(filepath.Join(t.TempDir(), "a"), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir() // an existing empty directory is accepted
	b, err := Write(bdir, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint == b.Fingerprint {
		t.Fatal("two Writes share a signing key")
	}
	files := append([]string{"dists/stable/main/binary-amd64/Packages", "dists/stable/main/binary-amd64/Packages.gz", "dists/stable/Release"}, a.Debs...)
	if strings.Join(a.Debs, " ") != strings.Join(b.Debs, " ") || len(a.Debs) != 3 {
		t.Fatalf("Debs %v vs %v", a.Debs, b.Debs)
	}
	for _, f := range files {
		x, err1 := os.ReadFile(filepath.Join(a.Dir, f))
		y, err2 := os.ReadFile(filepath.Join(b.Dir, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Fatalf("%s differs between two Writes with the same Now (%v, %v)", f, err1, err2)
		}
	}
	rel, _ := os.ReadFile(filepath.Join(a.Dir, "dists/stable/Release"))
	if !bytes.Contains(rel, []byte("\nDate: Tue, 04 Mar 2025 05:06:07 UTC\n")) {
		t.Fatalf("Release Date:\n%s", rel)
	}
	// Every mtime (ar headers, both tars) is Now; every tar entry is root's.
	for _, rel := range a.Debs {
		deb, _ := os.ReadFile(filepath.Join(a.Dir, rel))
		checkStamps(t, rel, deb, now)
	}
	c, err := Write(filepath.Join(t.TempDir(), "c"), Options{Now: now.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(filepath.Join(a.Dir, a.Debs[0]))
	y, _ := os.ReadFile(filepath.Join(c.Dir, c.Debs[0]))
	if bytes.Equal(x, y) {
		t.Fatal("a different Now gave the same .deb: the mtimes are not Now")
	}
}

// checkStamps reads deb's ar members and their tars and fails unless each
// ar header and tar entry has mtime now, uid and gid 0.
func checkStamps(t *testing.T, name string, deb []byte, now time.Time) {
	t.Helper()
	if !bytes.HasPrefix(deb, []byte("!<arch>\n")) {
		t.Fatalf("%s: no ar magic", name)
	}
	rest := deb[8:]
	var members []string
	for len(rest) >= 60 {
		h := string(rest[:60])
		size, err := strconv.Atoi(strings.TrimSpace(h[48:58]))
		if err != nil || size > len(rest)-60 {
			t.Fatalf("%s: bad ar header %q", name, h)
		}
		member := strings.TrimSpace(h[:16])
		members = append(members, member)
		if mt := strings.TrimSpace(h[16:28]); mt != strconv.FormatInt(now.Unix(), 10) {
			t.Fatalf("%s: ar member %s mtime %s, want %d", name, member, mt, now.Unix())
		}
		if strings.TrimSpace(h[28:34]) != "0" || strings.TrimSpace(h[34:40]) != "0" {
			t.Fatalf("%s: ar member %s not owned by 0/0: %q", name, member, h)
		}
		data := rest[60 : 60+size]
		rest = rest[60+size+size%2:]
		if !strings.HasSuffix(member, ".tar.gz") {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %s: %v", name, member, err)
		}
		tr := tar.NewReader(zr)
		for {
			hd, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", name, member, err)
			}
			if !hd.ModTime.Equal(now) || hd.Uid != 0 || hd.Gid != 0 || hd.Uname != "root" || hd.Gname != "root" {
				t.Fatalf("%s: %s: %s has mtime %s owner %d/%d %s/%s, want %s root", name, member, hd.Name, hd.ModTime, hd.Uid, hd.Gid, hd.Uname, hd.Gname, now)
			}
		}
	}
	if len(rest) != 0 || strings.Join(members, " ") != "debian-binary control.tar.gz data.tar.gz" {
		t.Fatalf("%s: ar members %v, %d trailing bytes", name, members, len(rest))
	}
}
