package debian

import (
	"errors"
	"strings"
	"testing"
)

var filterPkgs = []Paragraph{
	{{"Package", "nginx"}, {"Version", "1.22.1-9"}, {"Architecture", "amd64"}, {"Priority", "optional"}, {"Filename", "pool/main/n/nginx/nginx_1.22.1-9_amd64.deb"}},
	{{"Package", "nginx-common"}, {"Source", "nginx"}, {"Version", "1.22.1-9"}, {"Architecture", "all"}, {"Filename", "pool/main/n/nginx/nginx-common_1.22.1-9_all.deb"}},
	{{"Package", "libnginx-mod-http-geoip"}, {"Source", "nginx (1.22.1-9)"}, {"Version", "1:1.22.1-9+b1"}, {"Architecture", "amd64"}, {"Filename", "pool/main/n/nginx/libnginx-mod-http-geoip_1.22.1-9+b1_amd64.deb"}},
	{{"Package", "oldtool"}, {"Version", "1.9"}, {"Architecture", "i386"}, {"Filename", "pool/main/o/oldtool/oldtool_1.9_i386.deb"}},
	{{"Package", "di-utils"}, {"Source", "debian-installer-utils"}, {"Version", "2.0~rc1"}, {"Architecture", "amd64"}, {"Filename", "pool/main/d/di/di-utils_2.0~rc1_amd64.udeb"}},
}

// selected returns the names of the packages of ps that filter expr
// selects, in order, space-separated.
func selected(t *testing.T, ps []Paragraph, expr string) string {
	t.Helper()
	f, err := ParseFilter(expr)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", expr, err)
	}
	var got []string
	for _, p := range ps {
		if f.Match(p) {
			got = append(got, p.Get("Package"))
		}
	}
	return strings.Join(got, " ")
}

// TestFilterSpecialFieldsAndRelations: aptly's $ fields, Source matching
// the implied source, and version relations.
func TestFilterSpecialFieldsAndRelations(t *testing.T) {
	cases := map[string]string{
		// $Architecture: an exact value also selects Architecture: all, as aptly.
		"$Architecture:amd64":  "nginx nginx-common libnginx-mod-http-geoip di-utils",
		"$architecture:i386":   "nginx-common oldtool",
		"$Architecture:am*":    "nginx libnginx-mod-http-geoip di-utils",
		"$Architecture:source": "",
		"Architecture:amd64":   "nginx libnginx-mod-http-geoip di-utils", // the plain field is raw
		// $Version and relations.
		"$Version:1.22*":              "nginx nginx-common",
		"$Version (>= 1.22)":          "nginx nginx-common libnginx-mod-http-geoip di-utils",
		"$Version (<< 2.0)":           "nginx nginx-common oldtool di-utils",
		"nginx (>= 1.22)":             "nginx",
		"nginx (<< 1.22)":             "",
		"nginx* (= 1.22.1-9)":         "nginx nginx-common",
		"nginx (<= 1.22.1-9)":         "nginx",
		"nginx (>> 1.22.1-9)":         "",
		"nginx(>>1.22.1-8)":           "nginx",
		"Name:oldtool (<< 2.0)":       "oldtool",
		"* (>= 1:0)":                  "libnginx-mod-http-geoip",
		"!$Version (>= 1.0)":          "",
		"$Version (= 2.0~rc1) | old*": "oldtool di-utils",
		// Source and $Source: the source name, or the package's own.
		"Source:nginx":                        "nginx nginx-common libnginx-mod-http-geoip",
		"$Source:nginx":                       "nginx nginx-common libnginx-mod-http-geoip",
		"source:oldtool":                      "oldtool",
		"$Source:debian-installer-*":          "di-utils",
		"$SourceVersion:1.22.1-9":             "nginx nginx-common libnginx-mod-http-geoip",
		"$Source:nginx, $Version (>= 1:0)":    "libnginx-mod-http-geoip",
		"$PackageType:udeb":                   "di-utils",
		"$PackageType:deb":                    "nginx nginx-common libnginx-mod-http-geoip oldtool",
		"($Source:nginx (>= 1.22)) | oldtool": "nginx nginx-common libnginx-mod-http-geoip oldtool",
	}
	for expr, want := range cases {
		if got := selected(t, filterPkgs, expr); got != want {
			t.Errorf("filter %q selected %q, want %q", expr, got, want)
		}
	}
	bad := map[string]string{
		"$Arch:amd64":         "unknown special field",
		"$Foo":                "unknown special field",
		"$Source":             "needs a value",
		"$Version":            "needs a version relation",
		"nginx (1.22)":        "want (OP VERSION)",
		"nginx (< 1.22)":      "ambiguous",
		"nginx (> 1.22)":      "ambiguous",
		"nginx (>= )":         "version",
		"nginx (>= 1.2-)":     "revision",
		"nginx (>= 1.22":      "not closed",
		"nginx (~ 1.*)":       "want (OP VERSION)",
		"nginx (>= 1) (<< 2)": "unexpected",
	}
	for expr, want := range bad {
		_, err := ParseFilter(expr)
		if !errors.Is(err, ErrFilterSyntax) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFilter(%q) = %v, want ErrFilterSyntax saying %q", expr, err, want)
		}
	}
}
