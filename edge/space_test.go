package edge

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
)

// mountTmpfs mounts a tmpfs of size bytes at a fresh directory and returns
// it. It needs root; without it the test is skipped, or fails under CI=true.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs (needs root): %v %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func remountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", fmt.Sprintf("remount,size=%d", size), dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v %s", dir, err, out)
	}
}

func fsUsage(t *testing.T, dir string) (used, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, int64(st.Bavail) * st.Bsize
}

// The free-space check of an import counts the parts of split objects and
// the objects joined from them, net of what is held, and refuses before
// writing anything; on a real (tmpfs) file system too small for parts plus
// joined object, nothing is written, the message says what is needed with
// the reserve and how to resume; with room the same import applies; and a
// held split object in a later bundle takes no room at all.
func TestImportSpaceSplitObjects(t *testing.T) {
	const obj = 8 << 20
	mnt := mountTmpfs(t, cas.Reserve+obj*3/2)
	hub := mustKey(t)
	e, err := Init(filepath.Join(mnt, "data"), "lon", hub.Public())
	if err != nil {
		t.Fatal(err)
	}
	e.Clock = func() time.Time { return t0 }
	rng := rand.New(rand.NewSource(9))
	big := randBlob(rng, obj)
	b1 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 1, blobs: [][]byte{big}, volSize: 3 << 20})
	if n := len(b1.Signed.Manifest.Objects[0].Parts); n < 2 {
		t.Fatalf("object not split: %d part(s)", n)
	}

	// Room for the parts but not for parts plus the joined object.
	before := takeSnapshot(t, e)
	head := mustState(t, e).Chain.Seq
	res, err := e.Import(context.Background(), []string{dirOf(b1)}, ImportOptions{})
	var se *SpaceError
	if !errors.Is(err, cas.ErrNoSpace) || !errors.As(err, &se) {
		t.Fatalf("want a *SpaceError, got %v", err)
	}
	t.Logf("%v", err)
	if se.Need.Parts != obj || se.Need.Joined != obj || se.Need.Objects != 0 {
		t.Fatalf("need %+v", se.Need)
	}
	for _, want := range []string{"need 16.0 MiB", "8.0 MiB of parts of split objects", "8.0 MiB for those objects once joined",
		"+ 64.0 MiB reserve = 80.0 MiB", "Nothing was written", "run the same 'eucora edge import' again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if res == nil || res.Outcome != OutcomeFailed {
		t.Fatalf("result %+v", res)
	}
	if !before.equal(takeSnapshot(t, e)) {
		t.Fatalf("the refused import wrote objects: %v", storeList(t, e.store))
	}
	if st := mustState(t, e); st.Chain.Seq != head+1 || st.Pending[len(st.Pending)-1].Outcome != OutcomeFailed {
		t.Fatalf("audit event %+v", st.Pending[len(st.Pending)-1])
	}
	if ents, _ := os.ReadDir(filepath.Join(e.store.Root(), "tmp")); len(ents) != 0 {
		t.Fatalf("%d temporary files left", len(ents))
	}

	// With room for both, the same import applies and keeps only the
	// joined object.
	remountTmpfs(t, mnt, cas.Reserve+obj*5/2)
	mustImport(t, e, b1)
	if got := storeList(t, e.store); len(got) != 1 {
		t.Fatalf("store holds %d objects, want the joined one", len(got))
	}

	// A later bundle carrying the held split object and 1 MiB more needs
	// room for the 1 MiB only (twice if the writer split it too): the held
	// object's parts are read and verified, not written.
	small := randBlob(rng, 1<<20)
	b2 := writeBundle(t, bundleSpec{key: hub, target: "lon", seq: 2, pred: b1.Signed.Digest, blobs: [][]byte{big, small}, volSize: 3 << 20})
	used, _ := fsUsage(t, mnt)
	remountTmpfs(t, mnt, used+cas.Reserve+3<<20)
	res = mustImport(t, e, b2)
	if res.ObjectsAdded != 1 || res.BytesAdded != 1<<20 {
		t.Fatalf("bundle 2: %+v", res)
	}
	if got := storeList(t, e.store); len(got) != 2 {
		t.Fatalf("store holds %d objects, want 2", len(got))
	}
}
