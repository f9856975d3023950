package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/eucora/eucora/hub/api"
)

func TestBackupRestoreGrowsBackToThree(t *testing.T) {
	nodes, tok := makeCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	c := cli(nodes[1], tok)
	for _, name := range []string{"berlin", "paris"} {
		createSite(t, nodes, tok, api.SiteRequest{Name: name, Class: "air-gapped"})
	}
	data := bytes.Repeat([]byte("backup"), 5000)
	sum := sha256.Sum256(data)
	hx := hex.EncodeToString(sum[:])
	if err := retry(t, func() error { return c.PutBlob(ctx, hx, bytes.NewReader(data), int64(len(data))) }); err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	if err := retry(t, func() (err error) { resp, err = c.Raw(ctx, "GET", "/v1/backup?blobs=true", nil, nil); return err }); err != nil {
		t.Fatal(err)
	}
	backup, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m, err := ReadBackup(bytes.NewReader(backup), nil)
	if err != nil || m.Blobs != 1 || m.AppliedIndex == 0 {
		t.Fatalf("manifest %+v %v", m, err)
	}
	// Any damage fails verification.
	for _, at := range []int{700, len(backup) / 2, len(backup) - 1500} {
		bad := bytes.Clone(backup)
		bad[at] ^= 0x40
		if _, err := ReadBackup(bytes.NewReader(bad), nil); !errors.Is(err, ErrBadBackup) {
			t.Errorf("flipped byte %d: %v", at, err)
		}
	}
	if _, err := ReadBackup(bytes.NewReader(backup[:len(backup)/2]), nil); !errors.Is(err, ErrBadBackup) {
		t.Errorf("truncated backup: %v", err)
	}
	// The whole old cluster is lost; restore one node and grow back.
	for _, n := range nodes {
		n.stop(t)
	}
	root := t.TempDir()
	r1 := newTestNode(t, root, "r1")
	if _, err := Restore(bytes.NewReader(backup), r1.dir, r1.id, r1.raftAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(bytes.NewReader(backup), r1.dir, r1.id, r1.raftAddr); err == nil {
		t.Fatal("restore over existing state succeeded")
	}
	r1.start(t, false, "", "")
	t.Cleanup(func() { r1.stop(t) })
	waitReady(t, r1)
	rc := cli(r1, tok) // the old admin token still works
	sites, err := rc.Sites(ctx)
	if err != nil || len(sites) != 2 {
		t.Fatalf("restored sites %+v %v", sites, err)
	}
	got, err := rc.GetBlob(ctx, hx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got)
	got.Close()
	if !bytes.Equal(b, data) {
		t.Fatal("restored blob differs")
	}
	grown := []*testNode{r1, newTestNode(t, root, "r2"), newTestNode(t, root, "r3")}
	for _, n := range grown[1:] {
		n.start(t, false, r1.url(), tok)
		t.Cleanup(func() { n.stop(t) })
		waitReady(t, n)
	}
	eventually(t, "three members, no stale records", func() bool {
		s, err := rc.Status(ctx)
		if err != nil || len(s.Nodes) != 3 {
			return false
		}
		recs, _ := r1.srv.Store().State().Nodes()
		return len(recs) == 3
	})
	eventually(t, "sites on the new members", func() bool { return hasAll(t, grown, []string{"berlin", "paris"}) })
	if _, err := os.Stat(filepath.Join(r1.dir, BootstrapTokenFile)); err == nil {
		t.Error("restored node minted a new bootstrap token")
	}
}
