package debian

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

// dpkgVerdict asks dpkg --compare-versions about v: hard is true when dpkg
// refuses v with an error (exit 2), warned when it accepts v with a syntax
// warning (an upstream part not starting with a digit, an invalid
// character).
func dpkgVerdict(t testing.TB, dpkg, v string) (hard, warned bool) {
	t.Helper()
	cmd := exec.Command(dpkg, "--compare-versions", v, "eq", v)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		return true, false
	} else if err != nil && !ok {
		t.Fatalf("dpkg: %v", err)
	}
	return false, strings.Contains(stderr.String(), "warning")
}

// dpkgOrder returns dpkg's order of a and b (-1, 0, 1).
func dpkgOrder(t testing.TB, dpkg, a, b string) int {
	t.Helper()
	for _, op := range []struct {
		op string
		v  int
	}{{"lt", -1}, {"gt", 1}, {"eq", 0}} {
		if exec.Command(dpkg, "--compare-versions", a, op.op, b).Run() == nil {
			return op.v
		}
	}
	t.Fatalf("dpkg orders %q and %q neither lt, gt nor eq", a, b)
	return 0
}

// checkAgainstDpkg: whatever dpkg refuses, ParseVersion refuses; whatever
// dpkg accepts without a warning, ParseVersion accepts and orders as dpkg
// does against a few fixed versions. (What dpkg accepts with a warning we
// may refuse: policy forbids those characters.)
func checkAgainstDpkg(t *testing.T, dpkg, v string) {
	t.Helper()
	hard, warned := dpkgVerdict(t, dpkg, v)
	_, err := ParseVersion(v)
	switch {
	case hard && err == nil:
		t.Errorf("ParseVersion(%q) accepted a version dpkg refuses", v)
	case !hard && !warned && err != nil:
		t.Errorf("ParseVersion(%q) = %v; dpkg accepts it", v, err)
	case err == nil && !warned:
		for _, w := range []string{"1.2", "1.2-1", "1:0", "1.2~rc1"} {
			if got, want := CompareVersions(v, w), dpkgOrder(t, dpkg, v, w); got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, dpkg says %d", v, w, got, want)
			}
		}
	}
}

func TestParseVersionAgainstDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed: cannot compare against dpkg --compare-versions")
	}
	for _, v := range []string{
		"1.2-", "1-", "1.0-1-", "1:1.2-", // empty revision
		"1.2", "1.2-1", "1--1", "1.0~-1", "1-~", "1.0-1.", "00:1", "1:1:1", "1:1.0-1+b2",
		"1:", "0:", ":1", "1.0-a:b", "x:1", "1 :1", // epoch
		"2147483647:1", "2147483648:1", "9999999999:1", "99999999999999999999:1",
		"1.0 1", "a", "+1", "1.0_1", "1.0-1_2", "1:1.0-a:b",
	} {
		checkAgainstDpkg(t, dpkg, v)
	}
}

func TestParseVersionEmptyRevision(t *testing.T) {
	for _, v := range []string{"1.2-", "1:1.2-", "1.0-1-"} {
		_, err := ParseVersion(v)
		if err == nil || !strings.Contains(err.Error(), "revision") || !strings.Contains(err.Error(), "empty") {
			t.Errorf("ParseVersion(%q) = %v, want an error saying the revision is empty", v, err)
		}
	}
	// A package whose Version has an empty revision is refused with the
	// stanza named.
	data := strings.Replace(samplePackages, "Version: 1:2.10-3", "Version: 1:2.10-", 1)
	if _, err := ParsePackages(strings.NewReader(data), "Packages"); err == nil || !strings.Contains(err.Error(), "package hello") {
		t.Errorf("ParsePackages with Version 1:2.10- = %v, want an error naming the package", err)
	}
	if _, err := ParseRelations("libc6 (>= 2.34-)"); err == nil {
		t.Error("ParseRelations accepted a constraint with an empty revision")
	}
}

// FuzzVersionDpkg checks ParseVersion and CompareVersions against dpkg
// itself (skipped when dpkg is absent).
func FuzzVersionDpkg(f *testing.F) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		f.Skip("dpkg not installed")
	}
	for _, s := range []string{"1.2-", "1:2.3-4", "1.0~rc1+dfsg-1", "2147483648:1", "1:", "1.0-a:b", "0.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// dpkg takes a leading '-' as an option, and its argv holds no NUL.
		if v == "" || len(v) > 64 || !utf8.ValidString(v) || strings.HasPrefix(strings.TrimSpace(v), "-") || strings.ContainsAny(v, "\x00\n\r") {
			return
		}
		checkAgainstDpkg(t, dpkg, v)
	})
}
