package sbom

import (
	"errors"
	"reflect"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

func FuzzImport(f *testing.F) {
	for _, d := range []string{vendorSPDX22, vendorCycloneDX14, vendorSyft16, vendorSyft7, "{}", "[]", `{"bomFormat":"CycloneDX"}`} {
		f.Add([]byte(d))
	}
	for _, fa := range []*facts.Facts{debFacts(), msiFacts()} {
		for _, w := range []func(*facts.Facts, Doc) ([]byte, error){SPDX, CycloneDX} {
			b, err := w(fa, testDoc)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	lim := facts.Limits{MaxEntries: 50, MaxMetadata: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := Import(b, lim)
		if err != nil {
			var ie *ImportError
			if !errors.Is(err, ErrImport) || !errors.As(err, &ie) {
				t.Fatalf("error is not an ImportError: %v", err)
			}
			return
		}
		if len(im.Components) > lim.MaxEntries {
			t.Fatalf("%d components over the limit %d", len(im.Components), lim.MaxEntries)
		}
		for _, c := range im.Components {
			if c.Name == "" {
				t.Fatalf("component without a name: %+v", c)
			}
			if c.PURL != "" {
				if _, err := ParsePURL(c.PURL); err != nil {
					t.Fatalf("imported a bad purl: %v", err)
				}
			}
		}
		again, err := Import(b, lim)
		if err != nil || !reflect.DeepEqual(again, im) {
			t.Fatalf("a second import differs: %v", err)
		}
	})
}

func FuzzPURL(f *testing.F) {
	for _, s := range []string{"pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie", "pkg:npm/%40angular/core@17.0.0",
		"pkg:maven/org.apache/x@1?type=jar#sub/path", "pkg:generic/a%20b@1:2+3?checksum=sha256:00", "pkg://x/y/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePURL(s)
		if err != nil {
			if !errors.Is(err, ErrPURL) {
				t.Fatalf("error is not ErrPURL: %v", err)
			}
			return
		}
		if p.Name == "" || p.Type == "" {
			t.Fatalf("parsed without a type or name: %+v", p)
		}
		enc := p.String()
		again, err := ParsePURL(enc)
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", s, enc, err)
		}
		if again.String() != enc {
			t.Fatalf("%q -> %q -> %q: not canonical", s, enc, again.String())
		}
	})
}
