package hub

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoHubFileOver600Lines keeps the hub navigable: a file that grows
// past 600 lines is split by domain, as hub/store and the governance
// handlers are.
func TestNoHubFileOver600Lines(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := bytes.Count(b, []byte("\n")); n > 600 {
			t.Errorf("hub/%s has %d lines; split it by domain (at most 600)", path, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
