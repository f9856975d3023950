package deb

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/eucora/eucora/internal/testtool"
	"github.com/eucora/eucora/packaging/facts"
)

// gpgKey is a key made by the real gpg in a home of its own.
type gpgKey struct {
	home, uid, fpr string
	pub            openpgp.EntityList
}

func newGPGKey(t *testing.T, uid, expire string) *gpgKey {
	t.Helper()
	testtool.Need(t, "apt-get install gnupg", "gpg")
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	k := &gpgKey{home: home, uid: uid}
	k.gpg(t, nil, "--quick-gen-key", uid, "ed25519", "sign", expire)
	for _, line := range strings.Split(string(k.gpg(t, nil, "--with-colons", "--fingerprint", uid)), "\n") {
		if strings.HasPrefix(line, "fpr:") {
			k.fpr = strings.Split(line, ":")[9]
			break
		}
	}
	k.pub, err = openpgp.ReadKeyRing(bytes.NewReader(k.gpg(t, nil, "--export", uid)))
	if err != nil || k.fpr == "" {
		t.Fatalf("key: %v %q", err, k.fpr)
	}
	return k
}

func (k *gpgKey) gpg(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--homedir", k.home, "--batch", "--yes", "--passphrase", "", "--pinentry-mode", "loopback"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// signed returns the bytes debsigs signs: debian-binary, control.tar* and
// data.tar* concatenated.
func signed(ms []arEntry) []byte {
	var b []byte
	for _, m := range ms[:3] {
		b = append(b, m.data...)
	}
	return b
}

func inspectKeyring(t *testing.T, deb []byte, kr openpgp.EntityList, now time.Time) *facts.Signature {
	t.Helper()
	f, err := InspectWithKeyring(bytes.NewReader(deb), int64(len(deb)), facts.Options{Now: now}, kr)
	if err != nil {
		t.Fatal(err)
	}
	return f.Signature
}

func TestDebsigSignatures(t *testing.T) {
	key := newGPGKey(t, "EUCORA Test Signer <sign@eucora.example>", "1y")
	other := newGPGKey(t, "Someone Else <else@eucora.example>", "1y")
	ms := arMembers(t, mustRead(t, buildDeb(t, demoFiles(), "xz")))
	armored := key.gpg(t, signed(ms), "--armor", "--detach-sign")
	binary := key.gpg(t, signed(ms), "--detach-sign")
	var now time.Time // Inspect judges at time.Now(), after the signing

	// Appended by the real ar, as debsigs leaves it: "_gpgorigin/".
	testtool.Need(t, "apt-get install binutils", "ar")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.deb"), arBuild(ms...))
	writeFile(t, filepath.Join(dir, "_gpgorigin"), armored)
	cmd := exec.Command("ar", "q", "p.deb", "_gpgorigin")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ar q: %v\n%s", err, b)
	}
	debsigned := mustRead(t, filepath.Join(dir, "p.deb"))
	if out := run(t, "dpkg-deb", "-f", filepath.Join(dir, "p.deb"), "Package"); out != "eucora-demo\n" {
		t.Fatalf("dpkg-deb reads the signed deb as %q", out)
	}

	t.Run("not verified without a keyring", func(t *testing.T) {
		f, err := Inspect(bytes.NewReader(debsigned), int64(len(debsigned)), facts.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := facts.Signature{State: facts.SigUntrusted, Format: "debsig", Signer: key.fpr, Detail: DetailNotVerified}
		if !reflect.DeepEqual(*f.Signature, want) {
			t.Errorf("signature %+v, want %+v", f.Signature, want)
		}
		checkDemoFacts2(t, f)
	})
	t.Run("trusted with the signer's key", func(t *testing.T) {
		for _, deb := range [][]byte{debsigned, arBuild(append(ms, arEntry{"_gpgorigin", binary})...)} {
			s := inspectKeyring(t, deb, key.pub, now)
			if s.State != facts.SigTrusted || s.Signer != "EUCORA Test Signer <sign@eucora.example> ("+key.fpr+")" || !strings.Contains(s.Detail, "_gpgorigin: good signature by EUCORA Test Signer") {
				t.Errorf("signature %+v", s)
			}
		}
	})
	t.Run("untrusted with another keyring", func(t *testing.T) {
		s := inspectKeyring(t, debsigned, other.pub, now)
		if s.State != facts.SigUntrusted || s.Signer != key.fpr || !strings.Contains(s.Detail, "signing key "+key.fpr+" is not in the keyring") {
			t.Errorf("signature %+v", s)
		}
	})
	t.Run("invalid when data.tar changed after signing", func(t *testing.T) {
		plain := arMembers(t, mustRead(t, buildDeb(t, demoFiles(), "none")))
		sig := key.gpg(t, signed(plain), "--detach-sign")
		i := bytes.Index(plain[2].data, []byte("echo demo"))
		tampered := append([]arEntry(nil), plain...)
		tampered[2].data = bytes.Clone(plain[2].data)
		copy(tampered[2].data[i:], "echo evil")
		deb := arBuild(append(tampered, arEntry{"_gpgorigin", sig})...)
		s := inspectKeyring(t, deb, key.pub, now)
		if s.State != facts.SigInvalid || !strings.Contains(s.Detail, "does not verify over debian-binary, control and data") {
			t.Errorf("signature %+v", s)
		}
		// the same file unchanged is trusted, and the facts are read either way
		if s := inspectKeyring(t, arBuild(append(plain, arEntry{"_gpgorigin", sig})...), key.pub, now); s.State != facts.SigTrusted {
			t.Errorf("untampered: %+v", s)
		}
	})
	t.Run("expired key", func(t *testing.T) {
		short := newGPGKey(t, "Short Lived <short@eucora.example>", "1d")
		deb := arBuild(append(ms, arEntry{"_gpgorigin", short.gpg(t, signed(ms), "--detach-sign")})...)
		s := inspectKeyring(t, deb, short.pub, time.Now().Add(72*time.Hour))
		if s.State != facts.SigExpired || !strings.HasPrefix(s.Signer, "Short Lived") {
			t.Errorf("signature %+v", s)
		}
		if s := inspectKeyring(t, deb, short.pub, now); s.State != facts.SigTrusted {
			t.Errorf("before expiry: %+v", s)
		}
	})
	t.Run("two signatures, one trusted", func(t *testing.T) {
		deb := arBuild(append(ms, arEntry{"_gpgorigin", armored}, arEntry{"_gpgbuilder", other.gpg(t, signed(ms), "--detach-sign")})...)
		s := inspectKeyring(t, deb, key.pub, now)
		if s.State != facts.SigTrusted || !strings.Contains(s.Detail, "_gpgbuilder: signing key "+other.fpr+" is not in the keyring") {
			t.Errorf("signature %+v", s)
		}
		f, _ := Inspect(bytes.NewReader(deb), int64(len(deb)), facts.Options{})
		if f.Signature.Detail != DetailNotVerified+" (_gpgorigin, _gpgbuilder)" {
			t.Errorf("without keyring: %+v", f.Signature)
		}
	})
	t.Run("garbage signature member", func(t *testing.T) {
		for _, junk := range [][]byte{[]byte("not a signature"), []byte("-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"), nil} {
			hostileCount++
			deb := arBuild(append(ms, arEntry{"_gpgorigin", junk})...)
			f, err := Inspect(bytes.NewReader(deb), int64(len(deb)), facts.Options{})
			if err != nil || f.Signature.State != facts.SigUntrusted || f.Signature.Signer != "" {
				t.Errorf("no keyring: %v %+v", err, f.Signature)
			}
			if s := inspectKeyring(t, deb, key.pub, now); s.State != facts.SigInvalid {
				t.Errorf("keyring: %+v", s)
			}
		}
	})
	t.Run("a defective file ends the checks", func(t *testing.T) {
		bad := append([]arEntry(nil), ms...)
		bad[2].data = bad[2].data[:len(bad[2].data)/2]
		deb := arBuild(append(bad, arEntry{"_gpgorigin", armored})...)
		hostileCount++
		_, err := InspectWithKeyring(bytes.NewReader(deb), int64(len(deb)), facts.Options{}, key.pub)
		wantDefect(t, err, "data.tar.xz")
	})
}

// checkDemoFacts2 checks that a signature does not change the facts.
func checkDemoFacts2(t *testing.T, f *facts.Facts) {
	t.Helper()
	if f.Identity.Name != "eucora-demo" || f.Files.Count == 0 || !f.Privilege.InstallsService {
		t.Errorf("facts %+v", f)
	}
}

// dpkg-sig writes _gpgbuilder: a clearsigned manifest of each member's
// md5, sha1 and size.
func TestDpkgSigManifest(t *testing.T) {
	key := newGPGKey(t, "EUCORA Builder <build@eucora.example>", "1y")
	ms := arMembers(t, mustRead(t, buildDeb(t, minimalFiles(), "gzip")))
	manifest := func(ms []arEntry) []byte {
		var b strings.Builder
		b.WriteString("Version: 4\nSigner: \nDate: Mon Jan  1 00:00:00 2024\nRole: builder\nFiles: \n")
		for _, m := range ms[:3] {
			fmt.Fprintf(&b, "\t%x %x %d %s\n", md5.Sum(m.data), sha1.Sum(m.data), len(m.data), m.name)
		}
		return key.gpg(t, []byte(b.String()), "--clearsign")
	}
	var now time.Time // Inspect judges at time.Now(), after the signing
	good := arBuild(append(ms, arEntry{"_gpgbuilder", manifest(ms)})...)
	if s := inspectKeyring(t, good, key.pub, now); s.State != facts.SigTrusted || !strings.Contains(s.Detail, "member digests match") {
		t.Errorf("good manifest: %+v", s)
	}
	f, err := Inspect(bytes.NewReader(good), int64(len(good)), facts.Options{})
	if err != nil || f.Signature.State != facts.SigUntrusted || f.Signature.Signer != key.fpr {
		t.Errorf("no keyring: %v %+v", err, f.Signature)
	}
	// the data member replaced after signing: the manifest no longer matches
	other := arMembers(t, mustRead(t, buildDeb(t, demoFiles(), "gzip")))
	swapped := append([]arEntry(nil), ms...)
	swapped[2] = other[2]
	deb := arBuild(append(swapped, arEntry{"_gpgbuilder", manifest(ms)})...)
	if s := inspectKeyring(t, deb, key.pub, now); s.State != facts.SigInvalid || !strings.Contains(s.Detail, "digest of data.tar.gz does not match") {
		t.Errorf("swapped data: %+v", s)
	}
	// a manifest that leaves a member out does not cover the package
	partial := key.gpg(t, []byte("Version: 4\nFiles: \n\t"+fmt.Sprintf("%x %x %d debian-binary", md5.Sum(ms[0].data), sha1.Sum(ms[0].data), len(ms[0].data))+"\n"), "--clearsign")
	deb = arBuild(append(ms, arEntry{"_gpgbuilder", partial})...)
	if s := inspectKeyring(t, deb, key.pub, now); s.State != facts.SigInvalid || !strings.Contains(s.Detail, "does not cover") {
		t.Errorf("partial manifest: %+v", s)
	}
	// a clearsigned text that is not a manifest
	deb = arBuild(append(ms, arEntry{"_gpgbuilder", key.gpg(t, []byte("hello\n"), "--clearsign")})...)
	if s := inspectKeyring(t, deb, key.pub, now); s.State != facts.SigInvalid || !strings.Contains(s.Detail, "no Files field") {
		t.Errorf("not a manifest: %+v", s)
	}
}
