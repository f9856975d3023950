package hub

import (
	"bytes"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/hub/api"
)

var updateDataDir = flag.Bool("update-datadir", false, "rewrite testdata/datadir-v1")

// upgradeBlob is the blob stored in testdata/datadir-v1.
var upgradeBlob = []byte("blob written by the first hub data format\n")

const upgradeBlobHex = "ead22c59e6b824c42e108d05955352125df207d8cfaf5f55215dbf6b79dd5bb5"

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		mode := info.Mode().Perm() | 0o200
		if strings.HasSuffix(p, ".key") {
			mode = 0o600 // git keeps no file modes: a clone has the key 0644, which is refused
		}
		return os.WriteFile(filepath.Join(dst, rel), b, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeReopensDataDirV1 starts a node on a whole data directory (Raft
// log, Pebble state, keys, blobs, token) written by the first version of
// the hub, kept in testdata/datadir-v1 (refresh with -update-datadir only
// when the format changes on purpose, and keep the old one).
func TestUpgradeReopensDataDirV1(t *testing.T) {
	golden := filepath.Join("testdata", "datadir-v1")
	if *updateDataDir {
		os.RemoveAll(golden)
		n := &testNode{id: "n1", dir: t.TempDir(), raftAddr: freeAddr(t), httpAddr: freeAddr(t)}
		n.start(t, true, "", "")
		waitReady(t, n)
		tok := readToken(t, n)
		c := cli(n, tok)
		ctx := ctxT(t)
		if _, err := c.CreateSite(ctx, api.SiteRequest{Name: "berlin", Class: "air-gapped"}); err != nil {
			t.Fatal(err)
		}
		if err := c.PutBlob(ctx, upgradeBlobHex, bytes.NewReader(upgradeBlob), int64(len(upgradeBlob))); err != nil {
			t.Fatal(err)
		}
		n.stop(t)
		copyTree(t, n.dir, golden)
	}
	root := t.TempDir()
	// New addresses: a lone member elects itself by id. Raft runs as in
	// production (the directory holds its bolt log and snapshots), with a
	// short election timeout: a lone member cannot lose its leader.
	n := &testNode{id: "n1", dir: filepath.Join(root, "n1"), httpAddr: freeAddr(t), raftAddr: freeAddr(t), timeout: 50 * time.Millisecond}
	copyTree(t, golden, n.dir)
	n.start(t, false, "", "")
	defer n.stop(t)
	waitReady(t, n)
	tok := readToken(t, n)
	c := cli(n, tok)
	ctx := ctxT(t)
	if s, err := c.Site(ctx, "berlin"); err != nil || s.Class != "air-gapped" {
		t.Fatalf("site from v1: %+v %v", s, err)
	}
	rc, err := c.GetBlob(ctx, upgradeBlobHex)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, upgradeBlob) {
		t.Fatal("blob from v1 differs")
	}
	// The reopened node still takes writes.
	if _, err := c.CreateSite(ctx, api.SiteRequest{Name: "paris", Class: "online"}); err != nil {
		t.Fatal(err)
	}
	checkChains(t, n)
}
