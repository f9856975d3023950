package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A real `go test -json` run of a generated module with a passing, a
// failing, a skipped and a nested test is summarised correctly.
func TestReportOnRealGoTestOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a generated module")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.invalid/m\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "m_test.go"), []byte(`package m

import "testing"

func TestOK(t *testing.T) {}
func TestBad(t *testing.T) { t.Log("the evidence"); t.Fatal("broken") }
func TestSkip(t *testing.T) { t.Skip("gpg not installed") }
func TestNested(t *testing.T) {
	t.Run("a", func(t *testing.T) {})
	t.Run("b", func(t *testing.T) { t.Skip() })
}
`), 0o644)
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	raw, _ := cmd.Output() // the run fails: TestBad
	var out bytes.Buffer
	sum, err := report(bytes.NewReader(raw), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if sum.Passed != 3 || sum.Failed != 1 || sum.Skipped != 2 || sum.PackagesFailed != 1 {
		t.Fatalf("summary %+v\n%s", sum, got)
	}
	for _, want := range []string{"the evidence", "broken", "FAIL\texample.invalid/m",
		"example.invalid/m TestSkip: gpg not installed", "example.invalid/m TestNested/b: (no reason given)",
		"\n3 passed, 1 failed, 2 skipped\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=== RUN") {
		t.Errorf("report carries verbose lines:\n%s", got)
	}
}

func TestReportRefusesOtherInput(t *testing.T) {
	for _, in := range []string{`{"Action":`, `{"Action":"pass","Test":7}`} {
		if _, err := report(strings.NewReader(in+"\n"), &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	// Plain text lines (go test's own errors) are passed through.
	var out bytes.Buffer
	if _, err := report(strings.NewReader("no Go files in /x\n"), &out); err != nil || !strings.Contains(out.String(), "no Go files") {
		t.Fatalf("%v %q", err, out.String())
	}
}

func FuzzReport(f *testing.F) {
	f.Add([]byte(`{"Action":"skip","Package":"p","Test":"T"}` + "\n" + `{"Action":"output","Package":"p","Test":"T","Output":"x.go:1: why\n"}`))
	f.Add([]byte("{\"Action\":\"build-output\",\"ImportPath\":\"p\",\"Output\":\"e\\n\"}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sum, _ := report(bytes.NewReader(in), &bytes.Buffer{})
		if sum.Passed < 0 || len(sum.Skips) != sum.Skipped {
			t.Fatalf("%+v", sum)
		}
	})
}
