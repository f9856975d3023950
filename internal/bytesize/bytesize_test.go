package bytesize

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"4GiB": 4 << 30, "700MiB": 700 << 20, "64MiB": 64 << 20, "1.5GiB": 3 << 29, "4GB": 4e9, "1048576": 1 << 20, "512k": 512 << 10, " 2 MiB ": 2 << 20} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1MiB", "4XB", "1e400GiB", "0", "1.2.3MiB"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB", 5 << 40: "5.0 TiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"4GiB", "1.5 MB", "12", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := Parse(s); err == nil && n <= 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
	})
}
