package msix

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// withBlockMap is a package of one payload file a.txt and the given
// block map.
func withBlockMap(t *testing.T, payload, bm string) *zip.Reader {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range [][2]string{{"a.txt", payload}, {"AppxBlockMap.xml", bm}} {
		w, _ := zw.Create(e[0])
		w.Write([]byte(e[1]))
	}
	zw.Close()
	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

func TestCheckBlockMap(t *testing.T) {
	const sha = `HashMethod="http://www.w3.org/2001/04/xmlenc#sha256"`
	// SHA-256("hello") in base64.
	const hello = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
	cases := []struct{ name, payload, bm, want string }{
		{"matches", "hello", `<BlockMap ` + sha + `><File Name="a.txt" Size="5"><Block Hash="` + hello + `"/></File></BlockMap>`, ""},
		{"block hash differs", "hellO", `<BlockMap ` + sha + `><File Name="a.txt" Size="5"><Block Hash="` + hello + `"/></File></BlockMap>`, "file modified after signing: a.txt block 0 hash"},
		{"size differs", "hello!", `<BlockMap ` + sha + `><File Name="a.txt" Size="5"><Block Hash="` + hello + `"/></File></BlockMap>`, "is 6 bytes, the block map says 5"},
		{"file not in the block map", "hello", `<BlockMap ` + sha + `></BlockMap>`, "not in AppxBlockMap.xml: added after signing"},
		{"block map lists a missing file", "hello", `<BlockMap ` + sha + `><File Name="a.txt" Size="5"><Block Hash="` + hello + `"/></File><File Name="b\c.dll" Size="1"><Block Hash="x"/></File></BlockMap>`, `no such file`},
		{"block count wrong", "hello", `<BlockMap ` + sha + `><File Name="a.txt" Size="5"></File></BlockMap>`, "lists 0 blocks"},
		{"hash not base64", "hello", `<BlockMap ` + sha + `><File Name="a.txt" Size="5"><Block Hash="***"/></File></BlockMap>`, "not base64"},
		{"unknown hash method", "hello", `<BlockMap HashMethod="md5"><File Name="a.txt" Size="5"/></BlockMap>`, "is not SHA-256"},
		{"not XML", "hello", `<BlockMap`, "does not parse"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			why, err := checkBlockMap(withBlockMap(t, c.payload, c.bm), facts.KindMSIX, facts.Limits{}.WithDefaults())
			if err != nil {
				t.Fatal(err)
			}
			if (c.want == "") != (why == "") || !strings.Contains(why, c.want) {
				t.Errorf("got %q, want %q", why, c.want)
			}
		})
	}
}

func TestParseDigestBlob(t *testing.T) {
	d := strings.Repeat("x", 32)
	for _, c := range []struct{ blob, want string }{
		{"APPX" + "AXPC" + d + "AXCD" + d + "AXCT" + d + "AXBM" + d, ""},
		{"XXXX" + "AXPC" + d, "no APPX header"},
		{"APPX" + "AXPC" + d[:10], "truncated"},
		{"APPX" + "ZZZZ" + d, "unknown tag"},
		{"APPX" + "AXPC" + d + "AXPC" + d, "twice"},
	} {
		_, why := parseDigestBlob([]byte(c.blob), 32)
		if (c.want == "") != (why == "") || !strings.Contains(why, c.want) {
			t.Errorf("%q: got %q, want %q", c.blob[:8], why, c.want)
		}
	}
}
