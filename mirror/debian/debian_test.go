package debian

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/testtool"
)

var versionCases = [][2]string{
	{"1.0", "1.0"}, {"1.0", "1.0-0"}, {"1.0", "1.0-1"}, {"0:1.0", "1.0"},
	{"1:0.9", "2.0"}, {"2:1", "1:9999"}, {"1.0~rc1", "1.0"}, {"1.0~rc1", "1.0~rc2"},
	{"1.0~~", "1.0~"}, {"1.0~~a", "1.0~~"}, {"1.0~", "1.0"}, {"1.0+", "1.0"},
	{"1.0.1", "1.0+1"}, {"1.0a", "1.0"}, {"1.0a", "1.0.1"}, {"1.0-1", "1.0-1ubuntu1"},
	{"1.0-1~bpo1", "1.0-1"}, {"1.0-1+deb12u1", "1.0-1"}, {"1.00", "1.0"}, {"1.001", "1.1"},
	{"1.2.3-4", "1.2.3-10"}, {"10", "9"}, {"1.10", "1.9"}, {"a", "b"}, {"1-2-3", "1-2-4"},
	{"1:1.0-1", "1:1.0-1"}, {"2.4.7-1+b1", "2.4.7-1"}, {"1.0-0", "1.0"}, {"0.0.0~git20200101", "0.0.0"},
	{"7.6p1-4", "7.6-4"}, {"1.0+dfsg1-1", "1.0-1"}, {"1.0.0", "1.0"}, {"1.0-a", "1.0-A"},
	{"3.0~beta-1", "3.0~alpha-9"}, {"0:0", "0"}, {"1:2.30-3", "2.30-4"}, {"0.9-1", "0.10-1"},
	{"1~", "1"}, {"1~a", "1~"}, {"1.2.3~rc1+dfsg-1", "1.2.3~rc1-1"}, {"4.4.0-1~deb10u1", "4.4.0-1"},
}

func TestVersionOrderMatchesDpkg(t *testing.T) {
	testtool.Need(t, "apt-get install dpkg", "dpkg")
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range versionCases {
		for _, pair := range [][2]string{c, {c[1], c[0]}} {
			a, b := pair[0], pair[1]
			want := 0
			for _, op := range []struct {
				op string
				v  int
			}{{"lt", -1}, {"gt", 1}, {"eq", 0}} {
				if exec.Command(dpkg, "--compare-versions", a, op.op, b).Run() == nil {
					want = op.v
					break
				}
			}
			if got := CompareVersions(a, b); got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, dpkg says %d", a, b, got, want)
			}
		}
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, v := range []string{"", "x:1.0", "-1:1.0", "1.0 2", "1:", "1.0_1"} {
		if _, err := ParseVersion(v); err == nil {
			t.Errorf("ParseVersion(%q): want error", v)
		}
	}
}

func TestParseRelations(t *testing.T) {
	deps, err := ParseRelations("libc6 (>= 2.34), foo:any | bar (<< 1:2~) [amd64], baz <!nocheck>, \n qux (= 1.0-1)")
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, d := range deps {
		var alts []string
		for _, r := range d {
			alts = append(alts, r.String())
		}
		got += strings.Join(alts, " | ") + "; "
	}
	want := "libc6 (>= 2.34); foo:any | bar (<< 1:2~); baz; qux (= 1.0-1); "
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	r := deps[1][1]
	if !r.Satisfied("1:1.9") || r.Satisfied("1:2~") || r.Satisfied("2:0") {
		t.Fatalf("constraint %v evaluated wrongly", r)
	}
	for _, bad := range []string{"foo (>= )", "foo (1.0)", "Foo", "foo (>= 1.0", "foo [amd64", "foo (>= 1) x"} {
		if _, err := ParseRelations(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseRelations(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestFilter(t *testing.T) {
	pkgs := []Paragraph{
		{{"Package", "nginx"}, {"Priority", "optional"}, {"Section", "httpd"}},
		{{"Package", "nginx-common"}, {"Priority", "optional"}, {"Section", "httpd"}},
		{{"Package", "libc6"}, {"Priority", "required"}, {"Section", "libs"}},
		{{"Package", "bash"}, {"Priority", "required"}, {"Section", "shells"}},
	}
	cases := map[string]string{
		"":                               "nginx nginx-common libc6 bash",
		"nginx":                          "nginx",
		"nginx*":                         "nginx nginx-common",
		"Priority:required":              "libc6 bash",
		"priority:required, !lib*":       "bash",
		"Section:httpd | Section:shells": "nginx nginx-common bash",
		"!(nginx* | Name:bash)":          "libc6",
		"Section:lib? & Priority:req*":   "libc6",
		"Missing:":                       "nginx nginx-common libc6 bash",
	}
	for expr, want := range cases {
		if got := selected(t, pkgs, expr); got != want {
			t.Errorf("filter %q selected %q, want %q", expr, got, want)
		}
	}
	for _, bad := range []string{"(", "nginx |", "a b", "Section:[", "!", "a,,b", "*x:y", strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200),
		strings.Repeat("a", MaxFilterLen+1)} {
		_, err := ParseFilter(bad)
		var fe *FilterError
		if !errors.Is(err, ErrFilterSyntax) || !errors.As(err, &fe) || fe.Expr != bad {
			t.Errorf("ParseFilter(%q) = %v, want a *FilterError (ErrFilterSyntax)", bad, err)
		}
		// Malformed control data (ErrSyntax) is another class of error.
		if errors.Is(err, ErrSyntax) {
			t.Errorf("ParseFilter(%q) = %v: a filter mistake wraps ErrSyntax", bad, err)
		}
	}
}

const sampleRelease = `Origin: Test
Label: Test
Suite: stable
Codename: test
Date: Sat, 28 Nov 2026 16:00:00 UTC
Valid-Until: Sun, 29 Nov 2026 16:00:00 UTC
Acquire-By-Hash: yes
Architectures: amd64 all
Components: main
MD5Sum:
 d41d8cd98f00b204e9800998ecf8427e 0 main/binary-amd64/Packages
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages
 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855 20 main/binary-amd64/Packages.gz
`

func TestParseRelease(t *testing.T) {
	r, err := ParseRelease([]byte(sampleRelease), "Release")
	if err != nil {
		t.Fatal(err)
	}
	if !r.AcquireByHash || r.Codename() != "test" || len(r.Files) != 2 || r.ValidUntil.IsZero() {
		t.Fatalf("parsed wrongly: %+v", r)
	}
	if fs := r.Files["main/binary-amd64/Packages.gz"]; fs.Size != 20 || fs.SHA256[:4] != "e3b0" {
		t.Fatalf("file sum %+v", fs)
	}
	bad := map[string]string{
		"no sha256":    "Origin: x\nMD5Sum:\n d41d8cd98f00b204e9800998ecf8427e 0 Packages\n",
		"short hash":   "SHA256:\n abc 0 Packages\n",
		"bad size":     "SHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 -1 Packages\n",
		"dotdot path":  "SHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 ../../etc/passwd\n",
		"abs path":     "SHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 /etc/passwd\n",
		"two paras":    "A: b\n\nC: d\n",
		"bad date":     "Date: yesterday\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 P\n",
		"not a field":  "hello world\n",
		"continuation": " leading\n",
	}
	for name, data := range bad {
		if _, err := ParseRelease([]byte(data), "Release"); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: ParseRelease = %v, want ErrSyntax", name, err)
		}
	}
}

const samplePackages = `Package: hello
Version: 1:2.10-3
Architecture: amd64
Depends: libc6 (>= 2.34)
Description: greet
 the world
 .
 twice
Filename: pool/main/h/hello/hello_2.10-3_amd64.deb
Size: 1234
SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

Package: world
Version: 1.0
Architecture: all
Filename: pool/main/w/world/world_1.0_all.deb
Size: 1
SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`

func TestParsePackagesRoundTrip(t *testing.T) {
	pkgs, err := ParsePackages(strings.NewReader(samplePackages), "Packages")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0].Key() != "hello_1:2.10-3_amd64" || pkgs[0].Size != 1234 {
		t.Fatalf("parsed %+v", pkgs)
	}
	var b bytes.Buffer
	for i, p := range pkgs {
		if i > 0 {
			b.WriteByte('\n')
		}
		p.Para.WriteTo(&b)
	}
	if b.String() != samplePackages {
		t.Fatalf("round trip differs:\n%s", b.String())
	}
	bad := []string{
		strings.Replace(samplePackages, "Filename: pool/main/h", "Filename: ../h", 1),
		strings.Replace(samplePackages, "Size: 1234", "Size: big", 1),
		strings.Replace(samplePackages, "SHA256: 0123", "SHA256: 9", 1),
		strings.Replace(samplePackages, "Package: hello", "Package: Hello World", 1),
		strings.Replace(samplePackages, "Version: 1:2.10-3", "Version: x:1", 1),
		strings.Replace(samplePackages, "Architecture: all", "Architecture: ../all", 1),
	}
	for i, data := range bad {
		if _, err := ParsePackages(strings.NewReader(data), "Packages"); !errors.Is(err, ErrSyntax) {
			t.Errorf("bad case %d: err = %v, want ErrSyntax", i, err)
		}
	}
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte(sampleRelease))
	f.Add([]byte("SHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 a/b\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRelease(data, "fuzz")
		if err != nil {
			return
		}
		for p, fs := range r.Files {
			if !CleanRelPath(p) || fs.Size < 0 || !isHex64(fs.SHA256) {
				t.Fatalf("accepted unsafe entry %+v", fs)
			}
		}
	})
}

func FuzzParsePackages(f *testing.F) {
	f.Add([]byte(samplePackages))
	f.Add([]byte("Package: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParsePackages(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if !CleanRelPath(p.Filename) || !ValidName(p.Name) || p.Size < 0 {
				t.Fatalf("accepted invalid package %+v", p)
			}
			if _, err := ParseRelations(p.Para.Get("Depends")); err != nil {
				_ = err // relations are parsed lazily; an error is a valid outcome
			}
		}
	})
}

func FuzzParseControl(f *testing.F) {
	f.Add([]byte(samplePackages))
	f.Add([]byte("A: b\n c\n\n#x\nD:e\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParseParagraphs(data, "fuzz")
		if err != nil {
			return
		}
		// Writing and re-reading is stable.
		var b bytes.Buffer
		for _, p := range ps {
			p.WriteTo(&b)
			b.WriteByte('\n')
		}
		ps2, err := ParseParagraphs(b.Bytes(), "again")
		if err != nil {
			t.Fatalf("re-parse of written paragraphs failed: %v\n%q", err, b.String())
		}
		if len(ps2) != len(ps) {
			t.Fatalf("paragraph count %d != %d", len(ps2), len(ps))
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	f.Add("nginx* | Priority:required, !Section:libs")
	f.Add("((a))")
	f.Add("$Version (>= 1:2.0-1) | Source:nginx, $Architecture:amd64")
	f.Add("nginx* (<< 2.0~rc1), !$PackageType:udeb, $SourceVersion:1.*")
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFilter(s)
		if err != nil {
			if !errors.Is(err, ErrFilterSyntax) || errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseFilter(%q) = %v, not ErrFilterSyntax alone", s, err)
			}
			return
		}
		fl.Match(Paragraph{{"Package", "abc"}, {"Section", "x"}, {"Version", "1.0-1"}, {"Source", "src (1.0)"}})
		if fl.root != nil {
			_ = fl.root.String()
		}
	})
}
