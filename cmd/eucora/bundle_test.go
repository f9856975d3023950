package main

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/testtool"
)

// bundleFixture makes keys, a source tree and a multi-volume bundle.
type bundleFixture struct {
	dir, src, out string
	volumes       []string
}

func newBundleFixture(t *testing.T, size int, volSize string) *bundleFixture {
	t.Helper()
	dir := t.TempDir()
	f := &bundleFixture{dir: dir, src: filepath.Join(dir, "src"), out: filepath.Join(dir, "out")}
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "hub")
	mustRun(t, dir, "keys", "generate", "--out", "keys", "--name", "other")
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 6; i++ {
		b := make([]byte, size/6)
		if i%2 == 0 {
			rng.Read(b)
		} else {
			for j := range b {
				b[j] = "abcdefgh \n"[rng.Intn(10)]
			}
		}
		p := filepath.Join(f.src, "dir"+string(rune('a'+i%3)), "file"+string(rune('0'+i)))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o640)
	}
	r := mustRun(t, dir, "bundle", "create", "--from", "src", "--out", "out", "--key", "keys/hub.key",
		"--volume-size", volSize, "--target", "site-a", "--seq", "3", "--output", "json")
	var res struct {
		Volumes []string `json:"volumes"`
		ID      string   `json:"bundle_id"`
	}
	decodeJSON(t, r.stdout, &res)
	if len(res.Volumes) == 0 || res.ID == "" {
		t.Fatalf("create output: %s", r.stdout)
	}
	for _, v := range res.Volumes {
		f.volumes = append(f.volumes, filepath.Join(dir, v))
	}
	return f
}

func TestBundleCLIExitCodes(t *testing.T) {
	f := newBundleFixture(t, 3<<20, "1MiB")
	if len(f.volumes) < 3 {
		t.Fatalf("want several volumes, got %d", len(f.volumes))
	}
	d := f.dir
	// Good: directory, any subset, reverse order.
	mustRun(t, d, "bundle", "verify", "--trust", "keys/hub.pub", "out")
	rev := []string{"bundle", "verify", "--trust", "keys/hub.pub", "--complete"}
	for i := len(f.volumes) - 1; i >= 0; i-- {
		rev = append(rev, f.volumes[i])
	}
	mustRun(t, d, rev...)
	// A subset verifies, names the missing volumes, and fails only with --complete.
	r := mustRun(t, d, "bundle", "verify", "--trust", "keys/hub.pub", f.volumes[1])
	if !strings.Contains(r.stdout, "MISSING volume(s) 1, 3") {
		t.Errorf("missing volumes not named:\n%s", r.stdout)
	}
	if r := eucora(t, d, "bundle", "verify", "--complete", "--trust", "keys/hub.pub", f.volumes[1]); r.code != exitMissingVol {
		t.Errorf("--complete with a missing volume: exit %d, want %d", r.code, exitMissingVol)
	}
	// Wrong key.
	if r := eucora(t, d, "bundle", "verify", "--trust", "keys/other.pub", "out"); r.code != exitBadSignature {
		t.Errorf("wrong key: exit %d, want %d", r.code, exitBadSignature)
	}
	// Corrupt payload byte in volume 2: that volume fails (21), the others pass.
	bad := filepath.Join(d, "bad")
	os.MkdirAll(bad, 0o755)
	for i, v := range f.volumes {
		b, _ := os.ReadFile(v)
		if i == 1 {
			b[2048] ^= 0x80
		}
		os.WriteFile(filepath.Join(bad, filepath.Base(v)), b, 0o444)
	}
	r = eucora(t, d, "bundle", "verify", "--trust", "keys/hub.pub", "--output", "json", "bad")
	if r.code != exitCorrupt {
		t.Fatalf("corrupt volume: exit %d, want %d\n%s%s", r.code, exitCorrupt, r.stdout, r.stderr)
	}
	var rep struct {
		Volumes []struct {
			OK       bool   `json:"ok"`
			Error    string `json:"error"`
			ExitCode int    `json:"exit_code"`
		} `json:"volumes"`
	}
	decodeJSON(t, r.stdout, &rep)
	if len(rep.Volumes) != len(f.volumes) || rep.Volumes[0].OK != true || rep.Volumes[1].OK || rep.Volumes[1].ExitCode != exitCorrupt {
		t.Fatalf("per-volume report: %+v", rep)
	}
	// Extract refuses the corrupt bundle and writes nothing.
	if r := eucora(t, d, "bundle", "extract", "--trust", "keys/hub.pub", "--to", "dst", "bad"); r.code != exitCorrupt {
		t.Errorf("extract corrupt: exit %d, want %d (%s)", r.code, exitCorrupt, r.stderr)
	}
	assertNoExtractOutput(t, d, "dst")
	// Extract with a missing volume.
	if r := eucora(t, d, "bundle", "extract", "--trust", "keys/hub.pub", "--to", "dst", f.volumes[0]); r.code != exitMissingVol {
		t.Errorf("extract missing: exit %d, want %d (%s)", r.code, exitMissingVol, r.stderr)
	}
	assertNoExtractOutput(t, d, "dst")
	// Expired bundle.
	mustRun(t, d, "bundle", "create", "--from", "src", "--out", "short", "--key", "keys/hub.key", "--expires", "1s")
	time.Sleep(1100 * time.Millisecond)
	if r := eucora(t, d, "bundle", "verify", "--trust", "keys/hub.pub", "short"); r.code != exitStale {
		t.Errorf("expired: exit %d, want %d (%s%s)", r.code, exitStale, r.stdout, r.stderr)
	}
	if r := eucora(t, d, "bundle", "extract", "--trust", "keys/hub.pub", "--to", "dst", "short"); r.code != exitStale {
		t.Errorf("extract expired: exit %d, want %d", r.code, exitStale)
	}
	// Inspect works from any one volume, without a key.
	r = mustRun(t, d, "bundle", "inspect", f.volumes[2])
	for _, want := range []string{"target       site-a", "sequence     3", "volumes      " + string(rune('0'+len(f.volumes)))} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect lacks %q:\n%s", want, r.stdout)
		}
	}
	// Extract refuses a non-empty target.
	os.MkdirAll(filepath.Join(d, "full"), 0o755)
	os.WriteFile(filepath.Join(d, "full", "x"), nil, 0o644)
	if r := eucora(t, d, "bundle", "extract", "--trust", "keys/hub.pub", "--to", "full", "out"); r.code != exitUsage {
		t.Errorf("non-empty target: exit %d, want %d", r.code, exitUsage)
	}
	// And finally the good extract reproduces the tree.
	mustRun(t, d, "bundle", "extract", "--trust", "keys/hub.pub", "--to", "dst", "out")
	compareTrees(t, f.src, filepath.Join(d, "dst"))
}

func TestCreateRefusesSpecialFiles(t *testing.T) {
	d := t.TempDir()
	mustRun(t, d, "keys", "generate", "--out", "keys", "--name", "hub")
	os.MkdirAll(filepath.Join(d, "src"), 0o755)
	os.Symlink("/etc/passwd", filepath.Join(d, "src", "link"))
	r := eucora(t, d, "bundle", "create", "--from", "src", "--out", "out", "--key", "keys/hub.key")
	if r.code == 0 || !strings.Contains(r.stderr, "symbolic link") {
		t.Fatalf("symlink: exit %d: %s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(d, "out")); len(ents) != 0 {
		t.Fatalf("create left %v", ents)
	}
}

// assertNoExtractOutput checks that the target does not exist (or is empty).
func assertNoExtractOutput(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, name))
	if err == nil && len(ents) > 0 {
		t.Fatalf("%s holds partial output: %v", name, ents)
	}
}

func compareTrees(t *testing.T, a, b string) {
	t.Helper()
	out, err := exec.Command("diff", "-r", a, b).CombinedOutput()
	if err != nil {
		t.Fatalf("trees differ: %v\n%s", err, out)
	}
	modes := func(root string) string {
		var s []string
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			rel, _ := filepath.Rel(root, p)
			s = append(s, rel+" "+info.Mode().String())
			return nil
		})
		sort.Strings(s)
		return strings.Join(s, "\n")
	}
	if ma, mb := modes(a), modes(b); ma != mb {
		t.Fatalf("modes differ:\n%s\n---\n%s", ma, mb)
	}
}

// SIGKILL at random points of an extract; the target never holds partial
// output and a rerun completes the job.
func TestExtractSurvivesSIGKILL(t *testing.T) {
	f := newBundleFixture(t, 48<<20, "16MiB")
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	killed := 0
	for round := 0; round < 6; round++ {
		cmd := exec.Command(eucoraBin, "bundle", "extract", "--quiet", "--trust", "keys/hub.pub", "--to", "dst", "out")
		cmd.Dir = f.dir
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Intn(150)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			// Finished before the kill: start over for another round.
			compareTrees(t, f.src, filepath.Join(f.dir, "dst"))
			os.RemoveAll(filepath.Join(f.dir, "dst"))
			continue
		}
		killed++
		// Either no output at all, or (killed after the final rename) the
		// complete tree.
		if ents, err := os.ReadDir(filepath.Join(f.dir, "dst")); err == nil && len(ents) > 0 {
			compareTrees(t, f.src, filepath.Join(f.dir, "dst"))
			mustRun(t, f.dir, "bundle", "extract", "--quiet", "--trust", "keys/hub.pub", "--to", "dst", "out")
			os.RemoveAll(filepath.Join(f.dir, "dst"))
		}
	}
	mustRun(t, f.dir, "bundle", "extract", "--quiet", "--trust", "keys/hub.pub", "--to", "dst", "out")
	compareTrees(t, f.src, filepath.Join(f.dir, "dst"))
	if ents, _ := filepath.Glob(filepath.Join(f.dir, ".dst.eucora-extract")); len(ents) != 0 {
		t.Errorf("staging left behind: %v", ents)
	}
	t.Logf("killed %d extracts mid-way", killed)
}

// The by-hand procedure in docs/bundle-format.md works on real volumes and
// catches a corrupt one.
func TestVerifyByHandScript(t *testing.T) {
	testtool.Need(t, "apt-get install tar zstd coreutils openssl jq", "tar", "zstd", "sha256sum", "openssl", "base64", "jq")
	f := newBundleFixture(t, 2<<20, "1MiB")
	script, _ := filepath.Abs("../../docs/verify-by-hand.sh")
	for _, v := range f.volumes {
		out, err := exec.Command("sh", script, v, filepath.Join(f.dir, "keys/hub.pub")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK: signature") {
			t.Fatalf("%s: %v\n%s", v, err, out)
		}
	}
	b, _ := os.ReadFile(f.volumes[0])
	b[1024] ^= 1 // object payload
	bad := filepath.Join(f.dir, "bad.tar")
	os.WriteFile(bad, b, 0o644)
	if out, err := exec.Command("sh", script, bad, filepath.Join(f.dir, "keys/hub.pub")).CombinedOutput(); err == nil {
		t.Fatalf("by-hand check accepted a corrupt volume:\n%s", out)
	}
	if out, err := exec.Command("sh", script, f.volumes[0], filepath.Join(f.dir, "keys/other.pub")).CombinedOutput(); err == nil {
		t.Fatalf("by-hand check accepted the wrong key:\n%s", out)
	}
}
