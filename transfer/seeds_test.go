package transfer

import (
	"flag"
	"fmt"
	"github.com/eucora/eucora/internal/digest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite fuzz seed corpora under testdata/fuzz")

// TestWriteFuzzSeeds keeps testdata/fuzz in step with the format: run with
// -update-seeds after a format change. Without the flag it checks that the
// committed seeds exist.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVolume")
	if *updateSeeds {
		os.MkdirAll(dir, 0o755)
		vol := seedVolume(t)
		seeds := map[string][]byte{
			"valid":     vol,
			"truncated": vol[:len(vol)/2],
			"flipped":   flip(vol, 600),
			"empty":     {},
		}
		for name, b := range seeds {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mdir := filepath.Join("testdata", "fuzz", "FuzzManifest")
	if *updateSeeds {
		os.MkdirAll(mdir, 0o755)
		key := testKey(t, 1)
		d := digest.FromBytes([]byte("x"))
		good, _ := jsonMarshal(oneObjectManifest(key, d, 1))
		bad := oneObjectManifest(key, d, 1)
		bad.Files[0].Path = "../../etc/passwd"
		evil, _ := jsonMarshal(bad)
		for name, b := range map[string][]byte{"valid": good, "dotdot-path": evil, "truncated": good[:len(good)/2]} {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
			if err := os.WriteFile(filepath.Join(mdir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, d := range []string{dir, mdir} {
		ents, err := os.ReadDir(d)
		if err != nil || len(ents) == 0 {
			t.Fatalf("no fuzz seeds in %s (run go test -run TestWriteFuzzSeeds ./transfer -args -update-seeds): %v", d, err)
		}
	}
}

func flip(b []byte, off int) []byte {
	c := append([]byte(nil), b...)
	if off < len(c) {
		c[off] ^= 0xff
	}
	return c
}
