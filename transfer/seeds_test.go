package transfer

import (
	"flag"
	"fmt"
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
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no fuzz seeds in %s (run go test -run TestWriteFuzzSeeds -update-seeds): %v", dir, err)
	}
}

func flip(b []byte, off int) []byte {
	c := append([]byte(nil), b...)
	if off < len(c) {
		c[off] ^= 0xff
	}
	return c
}
