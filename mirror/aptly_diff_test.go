package mirror

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/eucora/eucora/mirror/debian"
	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestFiltersAgainstAptly is a differential test against aptly 1.5.0 (the
// Debian package "aptly"): real .debs built with dpkg-deb, indexed with
// apt-ftparchive, with alternatives, virtual packages, versioned
// dependencies and Provides, priorities, Source fields and Architecture:
// all. For each expression (ours and aptly's spelling of it) the package
// sets selected by our filter (and --with-deps resolution) and by `aptly
// snapshot search [-with-deps]` are compared. Where the two deliberately
// differ (which dependency provider or alternative is chosen) the case
// says how, checks that difference exactly, and compares the rest.
func TestFiltersAgainstAptly(t *testing.T) {
	mirrortest.NeedTools(t, "aptly")
	u := mirrortest.NewUpstream(t)
	type f = map[string]string
	for _, s := range []mirrortest.DebSpec{
		{Name: "nginx", Version: "1.22.1-9", Fields: f{"Depends": "nginx-common (= 1.22.1-9), libc6 (>= 2.34)", "Section": "httpd"}},
		{Name: "nginx", Version: "1.18.0-6", Fields: f{"Depends": "nginx-common, libc6", "Section": "httpd"}},
		{Name: "nginx-common", Version: "1.22.1-9", Arch: "all", Fields: f{"Source": "nginx", "Section": "httpd", "Pre-Depends": "dpkg (>= 1.17)"}},
		{Name: "nginx-common", Version: "1.18.0-6", Arch: "all", Fields: f{"Source": "nginx", "Section": "httpd"}},
		{Name: "libnginx-mod-stream", Version: "1.22.1-9+b1", Fields: f{"Source": "nginx (1.22.1-9)", "Depends": "nginx (>= 1.22)", "Section": "httpd"}},
		{Name: "libc6", Version: "2.36-9", Fields: f{"Priority": "required", "Section": "libs", "Depends": "libgcc-s1"}},
		{Name: "libc6", Version: "2.31-13", Fields: f{"Priority": "required", "Section": "libs", "Depends": "libgcc-s1"}},
		{Name: "libgcc-s1", Version: "12.2.0-14", Fields: f{"Source": "gcc-12", "Priority": "optional", "Section": "libs"}},
		{Name: "dpkg", Version: "1.21.22", Fields: f{"Priority": "required", "Section": "admin"}},
		{Name: "mawk", Version: "1.3.4-2", Fields: f{"Priority": "required", "Provides": "awk", "Section": "interpreters"}},
		{Name: "gawk", Version: "5.2.1-2", Fields: f{"Provides": "awk", "Section": "interpreters"}},
		{Name: "exim4", Version: "4.96-15", Fields: f{"Provides": "mail-transport-agent", "Priority": "standard", "Section": "mail"}},
		{Name: "postfix", Version: "3.7.9-0", Fields: f{"Provides": "mail-transport-agent", "Section": "mail"}},
		{Name: "mailapp", Version: "2.0", Fields: f{"Depends": "mail-transport-agent", "Section": "mail"}},
		{Name: "awkapp", Version: "1.0", Fields: f{"Depends": "awk", "Section": "utils"}},
		{Name: "altapp", Version: "1.0", Fields: f{"Depends": "no-such-thing | libgcc-s1 (>= 12)", "Section": "utils"}},
		{Name: "altapp2", Version: "1.0", Fields: f{"Depends": "gawk | mawk", "Section": "utils"}},
		{Name: "verapp", Version: "3.0", Fields: f{"Depends": "libc6 (<< 2.35)", "Section": "utils"}},
		{Name: "chain", Version: "1.0", Fields: f{"Pre-Depends": "libnginx-mod-stream", "Section": "utils"}},
		{Name: "tool-doc", Version: "0.9~rc1", Arch: "all", Fields: f{"Section": "doc", "Priority": "extra"}},
	} {
		u.AddDeb(s)
	}
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u.Index(mirrortest.IndexOpts{Signer: g})
	data, err := os.ReadFile(u.Path("dists/test/main/binary-amd64/Packages"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := debian.ParsePackages(bytes.NewReader(data), "Packages")
	if err != nil {
		t.Fatal(err)
	}

	// aptly: a local repo of the same .debs, frozen as a snapshot.
	root := t.TempDir()
	conf := filepath.Join(root, "aptly.conf")
	os.WriteFile(conf, []byte(`{"rootDir": "`+filepath.Join(root, "db")+`", "architectures": ["amd64"]}`), 0o644)
	aptly := func(args ...string) (string, error) {
		cmd := exec.Command("aptly", append([]string{"-config=" + conf}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil && strings.Contains(errb.String(), "no results") {
			return "", nil
		}
		if err != nil {
			return "", &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: errb.Bytes()}
		}
		return out.String(), nil
	}
	for _, args := range [][]string{{"repo", "create", "r"}, {"repo", "add", "r", u.Path("pool")}, {"snapshot", "create", "s", "from", "repo", "r"}} {
		if _, err := aptly(args...); err != nil {
			t.Fatalf("aptly %v: %v: %s", args, err, err.(*exec.ExitError).Stderr)
		}
	}

	ours := func(expr string, withDeps bool) []string {
		fl, err := debian.ParseFilter(expr)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", expr, err)
		}
		var universe []*candidate
		for _, p := range pkgs {
			universe = append(universe, &candidate{p: p, selected: fl.Match(p.Para)})
		}
		if withDeps {
			resolveDeps(universe)
		}
		var out []string
		for _, c := range universe {
			if c.selected {
				out = append(out, c.p.Key())
			}
		}
		sort.Strings(out)
		return out
	}
	theirs := func(expr string, withDeps bool) []string {
		args := []string{"snapshot", "search"}
		if withDeps {
			args = append(args, "-with-deps")
		}
		out, err := aptly(append(args, "s", expr)...)
		if err != nil {
			t.Fatalf("aptly %v: %v: %s", args, err, err.(*exec.ExitError).Stderr)
		}
		keys := strings.Fields(out)
		sort.Strings(keys)
		return keys
	}

	cases := []struct {
		ours, aptly string
		withDeps    bool
		// Deliberate differences in dependency choice: among the keys in
		// choice we select exactly pick; aptly selects at least one of them
		// (its choice of a provider follows its own unsorted index order).
		// Everything outside choice must agree.
		choice, pick []string
		why          string
	}{
		{ours: "nginx", aptly: "nginx"},
		{ours: "nginx (>= 1.22)", aptly: "nginx (>= 1.22)"},
		{ours: "nginx (<< 1.22)", aptly: "nginx (<< 1.22)"},
		{ours: "nginx (= 1.18.0-6)", aptly: "nginx (= 1.18.0-6)"},
		{ours: "nginx (<= 1.18.0-6) | nginx-common (>> 1.18.0-6)", aptly: "nginx (<= 1.18.0-6) | nginx-common (>> 1.18.0-6)"},
		{ours: "Priority:required", aptly: "Priority (required)"},
		{ours: "!Priority:optional", aptly: "!Priority (optional)"},
		{ours: "Section:mail, Provides:mail-transport-agent", aptly: "Section (mail), Provides (mail-transport-agent)"},
		{ours: "Name:lib*", aptly: "Name (% lib*)"},
		{ours: "$Architecture:all", aptly: "$Architecture (all)"},
		{ours: "$Architecture:amd64", aptly: "$Architecture (amd64)"},
		{ours: "$Architecture:amd64, Section:doc", aptly: "$Architecture (amd64), Section (doc)"},
		{ours: "$Version (>= 2.0)", aptly: "$Version (>= 2.0)"},
		{ours: "$Version (<< 1.0)", aptly: "$Version (<< 1.0)"},
		{ours: "$Version:1.2*", aptly: "$Version (% 1.2*)"},
		{ours: "$Source:nginx", aptly: "$Source (nginx)"},
		{ours: "Source:nginx", aptly: "$Source (nginx)"},
		{ours: "$Source:gcc-12 | $Source:dpkg", aptly: "$Source (gcc-12) | $Source (dpkg)"},
		{ours: "$SourceVersion:1.22.1-9", aptly: "$SourceVersion (1.22.1-9)"},
		{ours: "$PackageType:deb, Section:httpd", aptly: "$PackageType (deb), Section (httpd)"},
		{ours: "$Source:nginx, $Version (>= 1.22)", aptly: "$Source (nginx), $Version (>= 1.22)"},
		// Dependencies.
		{ours: "nginx (>= 1.22)", aptly: "nginx (>= 1.22)", withDeps: true},
		{ours: "chain", aptly: "chain", withDeps: true},
		{ours: "verapp", aptly: "verapp", withDeps: true},
		{ours: "altapp", aptly: "altapp", withDeps: true},
		{ours: "awkapp | gawk", aptly: "awkapp | gawk", withDeps: true},
		{ours: "mailapp | postfix", aptly: "mailapp | postfix", withDeps: true},
		{ours: "awkapp", aptly: "awkapp", withDeps: true,
			choice: []string{"gawk_5.2.1-2_amd64", "mawk_1.3.4-2_amd64"}, pick: []string{"mawk_1.3.4-2_amd64"},
			why: "virtual awk: we take the Priority required provider (mawk) over the higher version (gawk); aptly its first provider in its index order"},
		{ours: "mailapp", aptly: "mailapp", withDeps: true,
			choice: []string{"exim4_4.96-15_amd64", "postfix_3.7.9-0_amd64"}, pick: []string{"exim4_4.96-15_amd64"},
			why: "virtual mail-transport-agent, no provider required/important: we take the highest version (exim4 4.96); aptly its first provider in its index order"},
		{ours: "altapp2", aptly: "altapp2", withDeps: true,
			choice: []string{"gawk_5.2.1-2_amd64", "mawk_1.3.4-2_amd64"}, pick: []string{"gawk_5.2.1-2_amd64"},
			why: "gawk | mawk, neither selected: we add the first alternative only; aptly adds every alternative"},
	}
	agree, differ := 0, 0
	split := func(keys, choice []string) (in, out []string) {
		for _, k := range keys {
			if contains(choice, k) {
				in = append(in, k)
			} else {
				out = append(out, k)
			}
		}
		return in, out
	}
	for _, c := range cases {
		o, a := ours(c.ours, c.withDeps), theirs(c.aptly, c.withDeps)
		if c.choice == nil {
			if strings.Join(o, " ") == strings.Join(a, " ") {
				agree++
			} else {
				t.Errorf("%q (aptly %q, with deps %v):\n ours  %v\n aptly %v", c.ours, c.aptly, c.withDeps, o, a)
			}
			continue
		}
		differ++
		oIn, oOut := split(o, c.choice)
		aIn, aOut := split(a, c.choice)
		if strings.Join(oIn, " ") != strings.Join(c.pick, " ") {
			t.Errorf("%q with deps: we chose %v among %v, want %v (%s)", c.ours, oIn, c.choice, c.pick, c.why)
		}
		if len(aIn) == 0 {
			t.Errorf("%q with deps: aptly chose none of %v: %v", c.aptly, c.choice, a)
		}
		if strings.Join(oOut, " ") != strings.Join(aOut, " ") {
			t.Errorf("%q with deps, apart from %v:\n ours  %v\n aptly %v", c.ours, c.choice, oOut, aOut)
		}
		t.Logf("%q with deps: ours %v, aptly %v (%s)", c.ours, oIn, aIn, c.why)
	}
	t.Logf("%d of %d comparable expressions agree with aptly; %d differ only in the documented dependency choice", agree, len(cases)-differ, differ)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
