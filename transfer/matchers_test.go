package transfer

import (
	"regexp"
	"strings"
	"testing"

	"github.com/eucora/eucora/internal/charset/charsettest"
)

const (
	ulidExample = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	hexExample  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

var (
	bundleIDCases = []string{
		"", ulidExample, ulidExample[:25], ulidExample + "0", strings.ToLower(ulidExample),
		strings.Repeat("0", 26), strings.Repeat("Z", 26), strings.Repeat("I", 26), strings.Repeat("L", 26),
		strings.Repeat("O", 26), strings.Repeat("U", 26), strings.Repeat("H", 26), strings.Repeat("J", 26),
		strings.Repeat("K", 26), strings.Repeat("M", 26), strings.Repeat("N", 26), strings.Repeat("P", 26),
		strings.Repeat("T", 26), strings.Repeat("V", 26), ulidExample + "\n", "é" + ulidExample[2:],
	}
	recordTypeCases = []string{
		"", "a", "z", "0", "A", "-", ".", "intent", "audit.events", "a-b", "a_b", "a0.9-z", "0a", "-a", ".a",
		"aB", "a@b", "intent\n", "é", "aé", "a\xff", "a" + strings.Repeat("z", 63), "a" + strings.Repeat("z", 64),
	}
	nameCases = []string{
		"", "a", "Z", "0", "9", "a.b", "a_b", "a@b", "a-b", "a+b", "a:b", "a/b", "a b",
		".a", "_a", "@a", "-a", "hub\n", "é", "aé", "a\xff", "a\x00",
		"a" + strings.Repeat("z", 127), "a" + strings.Repeat("z", 128),
	}
	partialCases = []string{
		"", "." + ulidExample + ".0001.partial", "." + ulidExample + ".9999.partial",
		ulidExample + ".0001.partial", "." + ulidExample + ".001.partial", "." + ulidExample + ".00001.partial",
		"." + ulidExample + ".0001.partial\n", "." + ulidExample + ".0001.partia", "." + ulidExample + ".0001.partials",
		"." + ulidExample + ".000a.partial", "." + ulidExample + "x0001.partial", "." + ulidExample + ".0001xpartial",
		"." + strings.ToLower(ulidExample) + ".0001.partial", "." + ulidExample[1:] + ".0001.partial",
		"." + ulidExample + "0.0001.partial", "." + ulidExample + ".0001", ".é" + ulidExample[2:] + ".0001.partial",
	}
	entryCases = []string{
		"", "objects/", "objects/" + hexExample, "objects/" + hexExample + ".zst", "objects/" + hexExample[1:],
		"objects/" + hexExample + "0", "objects/" + hexExample + ".zst.zst", "objects/" + hexExample + ".zs",
		"objects/" + hexExample + ".ZST", "objects/" + strings.ToUpper(hexExample), "objects/" + hexExample + "\n",
		"objects/" + hexExample + ".zst\n", "/objects/" + hexExample, "object/" + hexExample, "objects//" + hexExample[1:],
		"objects/" + hexExample[:62] + ".zst", "objects/" + hexExample[:60] + ".zst", "objects/" + strings.Repeat("g", 64),
		"objects/" + hexExample[:63] + "é",
	}
)

func TestBundleIDMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
	in := append(charsettest.Mutations(ulidExample, "0123456789ABCDEFGHJKMNPQRS", "TVWXYZ"+ulidExample[6:]), bundleIDCases...)
	charsettest.AgreeAll(t, re, validBundleID, in)
}

func FuzzBundleIDMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
	for _, s := range bundleIDCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, validBundleID, s) })
}

func TestRecordTypeMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[a-z][a-z0-9.-]{0,63}$`)
	in := append(charsettest.Mutations("a"+strings.Repeat("z", 62)+"-", "a.0-9"), recordTypeCases...)
	charsettest.AgreeAll(t, re, validRecordType, in)
}

func FuzzRecordTypeMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[a-z][a-z0-9.-]{0,63}$`)
	for _, s := range recordTypeCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, validRecordType, s) })
}

func TestNameMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)
	in := append(charsettest.Mutations("a"+strings.Repeat("Z", 126)+"@", "0.@_-9"), nameCases...)
	charsettest.AgreeAll(t, re, validName, in)
	charsettest.AgreeAll(t, re, ValidName, in)
}

func FuzzNameMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)
	for _, s := range nameCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, ValidName, s) })
}

func TestPartialNameMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^\.[0-9A-HJKMNP-TV-Z]{26}\.[0-9]{4}\.partial$`)
	in := append(charsettest.Mutations("."+ulidExample+".0123.partial", ".ZZZZZZZZZZZZZZZZZZZZZZZZZZ.9999.partial"), partialCases...)
	charsettest.AgreeAll(t, re, isPartialName, in)
}

func FuzzPartialNameMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^\.[0-9A-HJKMNP-TV-Z]{26}\.[0-9]{4}\.partial$`)
	for _, s := range partialCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { charsettest.Agree(t, re, isPartialName, s) })
}

// checkEntryName compares splitEntryName and parseEntryName with the
// submatches of the original regexp.
func checkEntryName(t *testing.T, re *regexp.Regexp, s string) bool {
	t.Helper()
	m := re.FindStringSubmatch(s)
	hex, zst, ok := splitEntryName(s)
	if ok != (m != nil) || ok && (hex != m[1] || zst != (m[2] == ".zst")) {
		t.Errorf("splitEntryName(%q) = %q, %v, %v; regexp gives %q", s, hex, zst, ok, m)
	}
	d, pzst, pok := parseEntryName(s)
	if pok != ok || string(d) != hex || pzst != zst {
		t.Errorf("parseEntryName(%q) = %q, %v, %v; want %q, %v, %v", s, d, pzst, pok, hex, zst, ok)
	}
	return ok
}

func TestEntryNameMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^objects/([0-9a-f]{64})(\.zst)?$`)
	in := append(charsettest.Mutations("objects/"+hexExample, "objects/"+hexExample+".zst"), entryCases...)
	var accepted, zst int
	for _, s := range in {
		if checkEntryName(t, re, s) {
			accepted++
			if strings.HasSuffix(s, ".zst") {
				zst++
			}
		}
	}
	if accepted == 0 || accepted == len(in) || zst == 0 || zst == accepted {
		t.Errorf("%d of %d accepted, %d compressed; want a mix", accepted, len(in), zst)
	}
}

func FuzzEntryNameMatchesRegexp(f *testing.F) {
	re := regexp.MustCompile(`^objects/([0-9a-f]{64})(\.zst)?$`)
	for _, s := range entryCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkEntryName(t, re, s) })
}
