package deploy

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

func TestCheckArtifactName(t *testing.T) {
	refused := []string{
		// the names of the report
		"../evil.msi", "/etc/cron.d/x.msi", "evil.msi\x00.txt", "a\nb.msi", strings.Repeat("a", 4996) + ".msi",
		// more
		"", ".", "..", "../", "a/b.msi", `..\evil.msi`, `C:\evil.msi`, "a\\b.msi", "-rf.msi", "--help",
		" setup.msi", "setup.msi ", "\u00a0setup.msi", "setup.msi\u3000", "setup.msi.", "setup.", "a\tb.msi", "a\rb.msi", "a\x7fb.msi", "a\u0085b.msi", "a\u009bb.msi",
		"a:b.msi", "a<b.msi", "a>b.msi", `a"b.msi`, "a|b.msi", "a?b.msi", "a*b.msi", "\xff.msi", "a\xc3.msi",
		strings.Repeat("a", 252) + ".msi", // 256 bytes
		strings.Repeat("é", 128),          // 256 bytes
	}
	for _, n := range refused {
		err := CheckArtifactName(n)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "name" || !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%q: %v, want a field error on name", clip(n), err)
		}
	}
	accepted := []string{"setup.msi", "Ledger 2.4.1 (x64).msi", "ledger_2.4.1+build.7.pkg", "a..b.msi", ".hidden.dmg", "café-✓.pkg",
		"x", strings.Repeat("a", 251) + ".msi", "~setup.msi", "setup-.msi"}
	for _, n := range accepted {
		if err := CheckArtifactName(n); err != nil {
			t.Errorf("%q: %v", clip(n), err)
		}
	}
	t.Logf("%d refused, %d accepted", len(refused), len(accepted))
}

func TestCheckArtifactNames(t *testing.T) {
	art := func(v string, p Platform, name string, c byte) Artifact {
		return Artifact{AppID: "com.acme.ledger", Version: v, Platform: p, Name: name, SHA256: dg(c)}
	}
	for _, tc := range []struct {
		name  string
		arts  []Artifact
		clash bool
	}{
		{"two setup.msi in one version", []Artifact{art("1.0", PlatformMSI, "setup.msi", 'a'), art("1.0", PlatformMSI, "setup.msi", 'b')}, true},
		{"msi and msix share the sccm channel", []Artifact{art("1.0", PlatformMSI, "setup", 'a'), art("1.0", PlatformMSIX, "setup", 'b')}, true},
		{"names differing in case only", []Artifact{art("1.0", PlatformPKG, "Setup.pkg", 'a'), art("1.0", PlatformDMG, "setup.PKG", 'b')}, true},
		{"two debs of one name", []Artifact{art("1.0", PlatformDeb, "x.deb", 'a'), art("1.0", PlatformDeb, "x.deb", 'b')}, true},
		{"same name on another channel", []Artifact{art("1.0", PlatformMSI, "setup", 'a'), art("1.0", PlatformPKG, "setup", 'b')}, false},
		{"same name in another version", []Artifact{art("1.0", PlatformMSI, "setup.msi", 'a'), art("1.1", PlatformMSI, "setup.msi", 'b')}, false},
		{"the same artifact twice", []Artifact{art("1.0", PlatformMSI, "setup.msi", 'a'), art("1.0", PlatformMSI, "setup.msi", 'a')}, false},
		{"distinct names", []Artifact{art("1.0", PlatformMSI, "a.msi", 'a'), art("1.0", PlatformMSI, "b.msi", 'b')}, false},
	} {
		err := CheckArtifactNames(tc.arts)
		if got := errors.Is(err, ErrArtifactNameTaken); got != tc.clash || (err != nil && !tc.clash) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.clash && !strings.Contains(err.Error(), tc.arts[1].SHA256.Short()) {
			t.Errorf("%s: %v does not name the artifacts", tc.name, err)
		}
	}
}

// FuzzCheckArtifactName: an accepted name is one file name component on
// every platform.
func FuzzCheckArtifactName(f *testing.F) {
	for _, s := range []string{"setup.msi", "../evil.msi", "a\x00b", "..", "a/b", `a\b`, "-x", "é.pkg", "a.", " a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckArtifactName(name) != nil {
			return
		}
		if name == "" || len(name) > MaxArtifactNameLen || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00<>:\"|?*") ||
			filepath.Base(name) != name || strings.HasPrefix(name, "-") || strings.HasSuffix(name, ".") || strings.TrimSpace(name) != name {
			t.Fatalf("accepted %q", name)
		}
		for _, r := range name {
			if unicode.IsControl(r) || r == unicode.ReplacementChar && !strings.Contains(name, "\uFFFD") {
				t.Fatalf("accepted %q", name)
			}
		}
	})
}
