package vuln

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging/facts"
)

// fixtureRecords returns every fixture record file's bytes by base name.
func fixtureRecords(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/osv/*.json")
	more, _ := filepath.Glob("testdata/handmade/*.json")
	out := map[string][]byte{}
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

type zipEntry struct {
	name string
	data []byte
}

func buildZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sortedEntries(recs map[string][]byte) []zipEntry {
	var out []zipEntry
	for n, b := range recs {
		out = append(out, zipEntry{n, b})
	}
	return out
}

func jsonArray(recs ...[]byte) []byte {
	return []byte("[\n" + string(bytes.Join(recs, []byte(",\n"))) + "\n]\n")
}

func parse(t testing.TB, b []byte, name string, o FeedOptions) (*Feed, error) {
	t.Helper()
	return ParseFeed(bytes.NewReader(b), int64(len(b)), name, o)
}

// TestParseFeedFormats: the same records as one zip (osv.dev's all.zip
// layout), one JSON array and, for one record, a plain JSON file; the
// record-set version does not depend on the container, order or format.
func TestParseFeedFormats(t *testing.T) {
	recs := fixtureRecords(t)
	entries := sortedEntries(recs)
	zipped := buildZip(t, append(entries, zipEntry{"README.txt", []byte("not a record")}, zipEntry{"dir/", nil})...)
	fz, err := parse(t, zipped, "all.zip", FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fz.Format != "zip" || fz.Count != len(recs) || fz.SkippedCount != 1 || fz.Skipped[0] != "README.txt" {
		t.Fatalf("zip feed: format %s, %d records (want %d), skipped %v", fz.Format, fz.Count, len(recs), fz.Skipped)
	}
	if fz.Withdrawn != 1 || fz.Newest.Format(time.RFC3339) != "2024-09-03T05:32:41Z" || !strings.HasSuffix(fz.Version, "@2024-09-03T05:32:41Z") {
		t.Errorf("withdrawn %d, newest %v, version %s", fz.Withdrawn, fz.Newest, fz.Version)
	}
	var arr [][]byte
	for i := len(entries) - 1; i >= 0; i-- { // another order
		arr = append(arr, entries[i].data)
	}
	fa, err := parse(t, jsonArray(arr...), "feed.json", FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fa.Format != "json-array" || fa.Version != fz.Version || fa.Digest != fz.Digest || fa.SHA256 == fz.SHA256 {
		t.Fatalf("array feed %s %s, zip feed %s", fa.Format, fa.Version, fz.Version)
	}
	if !strings.HasPrefix(fz.Version, "sha256:") || !strings.Contains(fz.Version, "@20") {
		t.Errorf("version %q", fz.Version)
	}
	// reformatting a record (white space, key order) keeps the version
	one := recs["GO-2022-0229.json"]
	f1, err := parse(t, one, "GO-2022-0229.json", FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reformatted := []byte("\ufeff  \n" + strings.Replace(string(one), `"schema_version":"1.3.1","id":"GO-2022-0229"`, `"id" : "GO-2022-0229" ,  "schema_version":"1.3.1"`, 1) + "\n\n")
	f2, err := parse(t, reformatted, "other.json", FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f1.Format != "json" || f1.Count != 1 || f1.Version != f2.Version || f1.SHA256 == f2.SHA256 {
		t.Errorf("one record: %s %d %s vs %s", f1.Format, f1.Count, f1.Version, f2.Version)
	}
	// changing any content changes the version
	changed := bytes.Replace(one, []byte("Project Wycheproof"), []byte("Project Wycheproof."), 1)
	f3, err := parse(t, changed, "x.json", FeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f3.Version == f1.Version {
		t.Error("a change in credits did not change the version")
	}
	// the same record twice is fine; the same id with other content is not
	if f, err := parse(t, jsonArray(one, one), "dup.json", FeedOptions{}); err != nil || f.Count != 1 {
		t.Errorf("identical duplicate: %v", err)
	}
	_, err = parse(t, jsonArray(one, changed), "dup.json", FeedOptions{})
	var re *RecordError
	if !errors.As(err, &re) || re.ID != "GO-2022-0229" || !strings.Contains(err.Error(), "dup.json[0]") {
		t.Errorf("conflicting duplicate: %v", err)
	}
	// OpenFeed reads a file
	p := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(p, zipped, 0o644)
	if f, err := OpenFeed(p, FeedOptions{}); err != nil || f.Version != fz.Version {
		t.Errorf("OpenFeed: %v", err)
	}
}

// TestParseFeedIntegrity: a pinned SHA-256 and a hub-signed statement are
// checked before anything is parsed.
func TestParseFeedIntegrity(t *testing.T) {
	recs := fixtureRecords(t)
	zipped := buildZip(t, sortedEntries(recs)...)
	sum := digest.FromBytes(zipped)
	f, err := parse(t, zipped, "all.zip", FeedOptions{SHA256: sum.Hex()})
	if err != nil || f.Integrity[0] != "sha256 pinned by the operator" {
		t.Fatalf("pinned: %v %v", err, f)
	}
	if _, err := parse(t, zipped, "all.zip", FeedOptions{SHA256: "SHA256:" + strings.ToUpper(sum.Hex())}); err != nil {
		t.Errorf("upper-case pin: %v", err)
	}
	if f, _ := parse(t, zipped, "all.zip", FeedOptions{}); !strings.HasPrefix(f.Integrity[0], "none") {
		t.Errorf("unpinned integrity %v", f.Integrity)
	}
	wrong := digest.FromBytes([]byte("x"))
	_, err = parse(t, zipped, "all.zip", FeedOptions{SHA256: wrong.Hex()})
	var me *digest.MismatchError
	if !errors.Is(err, ErrIntegrity) || !errors.As(err, &me) || me.Want != wrong.Hex() {
		t.Errorf("wrong pin: %v", err)
	}
	if _, err := parse(t, zipped, "all.zip", FeedOptions{SHA256: "abc"}); err == nil || errors.Is(err, ErrIntegrity) {
		t.Errorf("malformed pin: %v", err)
	}
	// a pinned but malformed feed is still refused (pinning is not parsing)
	bad := []byte(`{"id":"A-1"}`)
	if _, err := parse(t, bad, "bad.json", FeedOptions{SHA256: digest.FromBytes(bad).Hex()}); !errors.Is(err, ErrRecord) {
		t.Errorf("pinned bad record: %v", err)
	}

	hub, _ := signing.Generate()
	other, _ := signing.Generate()
	env, err := SignFeed(hub, f)
	if err != nil {
		t.Fatal(err)
	}
	trust := signing.NewTrust(hub.Public())
	g, err := parse(t, zipped, "all.zip", FeedOptions{Signature: env, Trust: trust})
	if err != nil || g.Version != f.Version || !strings.Contains(g.Integrity[0], hub.ID) {
		t.Fatalf("signed: %v %v", err, g)
	}
	for name, c := range map[string]struct {
		b   []byte
		env *signing.Envelope
		tr  signing.Trust
	}{
		"unknown key":       {zipped, env, signing.NewTrust(other.Public())},
		"no trust":          {zipped, env, nil},
		"other file":        {buildZip(t, zipEntry{"GO-2022-0229.json", recs["GO-2022-0229.json"]}), env, trust},
		"tampered envelope": {zipped, tamper(env), trust},
		"wrong payload type": {zipped, func() *signing.Envelope {
			e := signing.Sign(hub, "application/vnd.eucora.something-else", []byte("{}"))
			return e
		}(), trust},
		"not a statement": {zipped, signing.Sign(hub, FeedStatementType, []byte(`{"schema":"nope"}`)), trust},
		"version differs": {zipped, func() *signing.Envelope {
			ff := *f
			ff.Version = "sha256:" + strings.Repeat("0", 64) + "@2020-01-01T00:00:00Z"
			e, _ := SignFeed(hub, &ff)
			return e
		}(), trust},
	} {
		if _, err := parse(t, c.b, "all.zip", FeedOptions{Signature: c.env, Trust: c.tr}); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", name, err)
		}
	}
}

func tamper(env *signing.Envelope) *signing.Envelope {
	e := *env
	e.Signatures = append([]signing.Signature(nil), env.Signatures...)
	sig := []byte(e.Signatures[0].Sig)
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	e.Signatures[0].Sig = string(sig)
	return &e
}

// TestParseFeedHostile: malformed, truncated and hostile feeds are refused
// with an error naming the file (and entry) and the defect; nothing is
// returned.
func TestParseFeedHostile(t *testing.T) {
	recs := fixtureRecords(t)
	good := recs["GO-2022-0229.json"]
	zipped := buildZip(t, sortedEntries(recs)...)
	small := facts.Limits{MaxEntries: 5, MaxMetadata: 4096, MaxUncompressed: 1 << 20}
	bomb := buildZip(t, zipEntry{"big.json", bytes.Repeat([]byte(" "), 8<<20)})
	var cases = []struct {
		name string
		b    []byte
		o    FeedOptions
		want string
	}{
		{"empty", nil, FeedOptions{}, "empty"},
		{"white space", []byte(" \n\t "), FeedOptions{}, "empty"},
		{"not json", []byte("hello"), FeedOptions{}, "neither a JSON record"},
		{"envelope as feed", []byte(`  {"payloadType":"x","payload":"","signatures":[]}`), FeedOptions{}, "DSSE envelope"},
		{"record without id", []byte(`{"payloadType":"x","modified":"2024-01-01T00:00:00Z"}`), FeedOptions{}, "field id"},
		{"array of numbers", []byte(`[1,2]`), FeedOptions{}, "feed.json[0]"},
		{"unterminated array", []byte("[" + string(good)), FeedOptions{}, "does not end"},
		{"array then junk", []byte("[" + string(good) + "] x"), FeedOptions{}, "data after"},
		{"object then junk", []byte(string(good) + " {}"), FeedOptions{}, "data after"},
		{"one bad record among good ones", jsonArray(good, []byte(`{"id":"B-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"fixed":"1"}]}]}]}`), recs["GO-2022-0969.json"]), FeedOptions{}, "feed.json[1] (B-1): field affected[0].ranges[0].events"},
		{"truncated record", good[:len(good)/2], FeedOptions{}, "not JSON"},
		{"record over the limit", []byte(`{"id":"A-1","modified":"2024-01-01T00:00:00Z","details":"` + strings.Repeat("x", 8000) + `"}`), FeedOptions{Limits: small}, "over 4096 bytes"},
		{"array element over the limit", []byte(`[` + string(good) + `,{"id":"A-1","details":"` + strings.Repeat("x", 8000) + `"}]`), FeedOptions{Limits: small}, "feed.json[1]: a record is over"},
		{"too many records", jsonArray(good, good, good, good, good, good), FeedOptions{Limits: facts.Limits{MaxEntries: 5}}, "more than 5 records"},
		{"json over total", jsonArray(good, good), FeedOptions{Limits: facts.Limits{MaxUncompressed: 100}}, "limit 100"},
		{"no records", []byte(`[]`), FeedOptions{}, "no OSV record"},
		{"zip without records", buildZip(t, zipEntry{"README", []byte("x")}), FeedOptions{}, "no OSV record"},
		{"zip bad record", buildZip(t, zipEntry{"a/GO-1.json", good}, zipEntry{"a/BAD.json", []byte(`{"id":"X-1","modified":"now"}`)}), FeedOptions{}, "feed.json:a/BAD.json (X-1): field modified"},
		{"zip entry not json", buildZip(t, zipEntry{"BAD.json", []byte(`PK junk`)}), FeedOptions{}, "BAD.json: neither a JSON record"},
		{"zip too many entries", zipped, FeedOptions{Limits: small}, "entries, limit 5"},
		{"zip bomb ratio", bomb, FeedOptions{}, "zip bomb"},
		{"zip entry over the record limit", buildZip(t, zipEntry{"x.json", bytes.Repeat([]byte(" "), 5000)}), FeedOptions{Limits: small}, "over 4096 bytes"},
		{"zip total over the limit", buildZip(t, zipEntry{"a.json", good}, zipEntry{"b.json", recs["GO-2022-0969.json"]}), FeedOptions{Limits: facts.Limits{MaxUncompressed: 2000}}, "limit 2000"},
		{"zip truncated", zipped[:len(zipped)-30], FeedOptions{}, "zip container"},
		{"zip truncated in the middle", zipped[:len(zipped)/2], FeedOptions{}, "zip container"},
		{"zip escaping name", buildZip(t, zipEntry{"../GO-1.json", good}), FeedOptions{}, "escapes"},
		{"zip corrupt data", corruptZip(t, good), FeedOptions{}, "GO-1.json"},
		{"zip empty", buildZip(t), FeedOptions{}, "no OSV record"},
	}
	for _, c := range cases {
		f, err := parse(t, c.b, "feed.json", c.o)
		if err == nil {
			t.Errorf("%s: accepted (%d records)", c.name, f.Count)
			continue
		}
		if f != nil {
			t.Errorf("%s: a Feed came back with the error", c.name)
		}
		if !errors.Is(err, facts.ErrDefect) {
			t.Errorf("%s: %v is not a defect", c.name, err)
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "feed.json") {
			t.Errorf("%s: %v, want it to name feed.json and mention %q", c.name, err, c.want)
		}
	}
	t.Logf("%d malformed or hostile feeds refused", len(cases))
}

// corruptZip stores one entry uncompressed and flips a byte of its data,
// so the CRC check fails.
func corruptZip(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "GO-1.json", Method: zip.Store})
	w.Write(data)
	zw.Close()
	out := b.Bytes()
	i := bytes.Index(out, data[:20])
	out[i+10] ^= 0x20
	return out
}

func ExampleParseFeed() {
	rec := []byte(`{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.0"}]}]}]}`)
	f, err := ParseFeed(bytes.NewReader(rec), int64(len(rec)), "GHSA-1.json", FeedOptions{SHA256: digest.FromBytes(rec).Hex()})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Format, f.Count, f.Integrity[0])
	// Output: json 1 sha256 pinned by the operator
}
