package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsAptSpecMatchesCLI: every 'site assign ... --apt SPEC' the README
// and docs show is a spec the CLI accepts (PREFIX:DIST).
func TestDocsAptSpecMatchesCLI(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/*.md")
	docs = append(docs, "../../README.md")
	re := regexp.MustCompile("site assign \\S+ --apt ([^\\s`|)]+)")
	seen := 0
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen++
			if _, err := parseAPTSpec(m[1]); err != nil {
				t.Errorf("%s shows %q, which the CLI refuses: %v", d, m[0], err)
			}
		}
	}
	if seen < 2 {
		t.Fatalf("found %d 'site assign --apt' examples in the docs, want at least 2", seen)
	}
}

// TestReadmePortsDoNotCollide: no two commands of the README bind one port
// (a second hub node and 'edge serve' once both took 8450), counting the
// defaults of a bare 'hub serve' (8440, 8441).
func TestReadmePortsDoNotCollide(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	bind := regexp.MustCompile(`--(?:http|raft|listen)[ =]\S*:(\d+)`)
	byPort := map[string]string{"8440": "hub serve (default HTTP)", "8441": "hub serve (default Raft)"}
	binds := 0
	for _, line := range regexp.MustCompile(`\r?\n`).Split(string(b), -1) {
		for _, m := range bind.FindAllStringSubmatch(line, -1) {
			binds++
			if prev, ok := byPort[m[1]]; ok {
				t.Errorf("port %s is bound by %q and by %q", m[1], prev, line)
				continue
			}
			byPort[m[1]] = line
		}
	}
	if binds < 3 {
		t.Fatalf("found %d port bindings in the README, want at least 3", binds)
	}
}

// FuzzParseAPTSpec: an accepted --apt spec is PREFIX:DIST with both parts
// non-empty, the dist free of ':', and they join back to the input.
func FuzzParseAPTSpec(f *testing.F) {
	for _, s := range []string{"corp:bookworm", "PREFIX:DIST", "a:b:c", ":x", "x:", "", "corp/bookworm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAPTSpec(s)
		if err != nil {
			return
		}
		if a.Prefix == "" || a.Dist == "" || strings.Contains(a.Dist, ":") || a.Prefix+":"+a.Dist != s {
			t.Fatalf("%q parsed as %+v", s, a)
		}
	})
}
