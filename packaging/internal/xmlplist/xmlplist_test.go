package xmlplist

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValues(t *testing.T) {
	v, err := ParseBytes([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
 <key>Label</key><string>com.example &amp; co</string>
 <key>RunAtLoad</key><true/>
 <key>Off</key><false/>
 <key>N</key><integer> 42 </integer>
 <key>R</key><real>1.5</real>
 <key>D</key><date>2026-01-02T03:04:05Z</date>
 <key>Blob</key><data>
   aGVs
   bG8=
 </data>
 <key>List</key><array><string>a</string><dict/></array>
 <key>Label</key><string>second label ignored</string>
</dict></plist>`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind != Dict || v.Str("Label") != "com.example & co" || !v.True("RunAtLoad") || v.True("Off") || v.True("Missing") {
		t.Errorf("dict %+v", v)
	}
	if v.Get("N").Kind != Integer || v.Get("N").Text != "42" || v.Get("R").Text != "1.5" || v.Get("D").Kind != Date {
		t.Errorf("numbers %+v %+v", v.Get("N"), v.Get("R"))
	}
	if string(v.Get("Blob").Data) != "hello" {
		t.Errorf("data %q", v.Get("Blob").Data)
	}
	if l := v.Get("List"); l.Kind != Array || len(l.Items) != 2 || l.Items[1].Kind != Dict {
		t.Errorf("array %+v", l)
	}
	if strings.Join(v.Keys, ",") != "Label,RunAtLoad,Off,N,R,D,Blob,List" {
		t.Errorf("keys %q", v.Keys)
	}
	var nilv *Value
	if nilv.Get("x") != nil || nilv.Str("x") != "" {
		t.Error("nil Value")
	}
}

func TestParseRefuses(t *testing.T) {
	deep := "<plist>" + strings.Repeat("<array>", 100000) + strings.Repeat("</array>", 100000) + "</plist>"
	for _, c := range []struct {
		name, in string
		lim      Limits
		want     string
		is       error
	}{
		{"binary", "bplist00\x00\x01", Limits{}, "", ErrBinary},
		{"nested 100000 deep", deep, Limits{}, "nested deeper than 64", ErrLimit},
		{"too many values", "<plist><array>" + strings.Repeat("<true/>", 11) + "</array></plist>", Limits{MaxValues: 10}, "more than 10 values", ErrLimit},
		{"too many bytes", "<plist><string>" + strings.Repeat("a", 100) + "</string></plist>", Limits{MaxBytes: 50}, "more than 50 bytes", ErrLimit},
		{"entity", `<!DOCTYPE plist [<!ENTITY a "aaaa">]><plist><string>&a;</string></plist>`, Limits{}, "XML", nil},
		{"wrong root", "<dict/>", Limits{}, "root element <dict>", nil},
		{"no plist", "", Limits{}, "no <plist>", nil},
		{"empty plist", "<plist></plist>", Limits{}, "empty <plist>", nil},
		{"value without key", "<plist><dict><string>a</string></dict></plist>", Limits{}, "where a <key> belongs", nil},
		{"key without value", "<plist><dict><key>a</key></dict></plist>", Limits{}, "has no value", nil},
		{"two keys", "<plist><dict><key>a</key><key>b</key></dict></plist>", Limits{}, "followed by another key", nil},
		{"key in array", "<plist><array><key>a</key></array></plist>", Limits{}, "<key> inside an array", nil},
		{"unknown element", "<plist><blob/></plist>", Limits{}, "unknown plist element <blob>", nil},
		{"bad base64", "<plist><data>!!</data></plist>", Limits{}, "<data>", nil},
		{"element in text", "<plist><string>a<b/></string></plist>", Limits{}, "inside a text value", nil},
		{"stray text", "<plist><dict>text</dict></plist>", Limits{}, "text outside a value", nil},
		{"truncated", "<plist><dict><key>a", Limits{}, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(c.in), c.lim)
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("err = %v, want %q (%v)", err, c.want, c.is)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`<plist><dict><key>a</key><array><integer>1</integer><data>AA==</data></array></dict></plist>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseBytes(b, Limits{MaxBytes: 1 << 16, MaxValues: 1000})
	})
}
