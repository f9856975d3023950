package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
)

// TestManPages: 'eucora man' writes eucora.1 and one page per command
// group, which groff formats without a warning, with every leaf command
// and its flags; 'eucora completion' prints both scripts and refuses
// other shells.
func TestManPages(t *testing.T) {
	testtool.Need(t, "apt-get install groff-base", "groff")
	dir := t.TempDir()
	mustRun(t, dir, "man", "--dir", "pages")
	pages, _ := filepath.Glob(filepath.Join(dir, "pages", "*.1"))
	if len(pages) != len(newApp().Commands)+1 {
		t.Fatalf("%d pages for %d command groups", len(pages), len(newApp().Commands))
	}
	for _, p := range pages {
		out, err := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", p).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "pages", "eucora-hub.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH EUCORA-HUB 1", ".SS eucora hub serve", `\fB\-\-rollout\-interval\fR \fIVALUE\fR`, `.SS eucora hub rotate\-key stage`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("eucora-hub.1 lacks %q", want)
		}
	}
	main, _ := os.ReadFile(filepath.Join(dir, "pages", "eucora.1"))
	if !strings.Contains(string(main), "/etc/eucora/hub.toml") || !strings.Contains(string(main), "EXIT CODES") {
		t.Error("eucora.1 lacks FILES or EXIT CODES")
	}
	if r := mustRun(t, dir, "completion", "zsh"); !strings.HasPrefix(r.stdout, "#compdef eucora\n") {
		t.Errorf("zsh script: %q", r.stdout)
	}
	if r := mustRun(t, dir, "completion", "bash"); !strings.Contains(r.stdout, "complete -o bashdefault -o default -F _eucora eucora") {
		t.Errorf("bash script: %q", r.stdout)
	}
	if r := eucora(t, dir, "completion", "fish"); r.code != exitUsage {
		t.Errorf("completion fish: exit %d", r.code)
	}
}
