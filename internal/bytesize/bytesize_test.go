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

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "512KiB/s", want: 512 << 10},
		{in: "1MiB/s", want: 1 << 20},
		{in: "65536", want: 65536},
		{in: "4Mbit/s", want: 500_000},
		{in: "100kbit/s", want: 12_500},
		{in: "1Gbit", want: 125_000_000},
		{in: "fast", bad: true},
		{in: "0", bad: true},
		{in: "-1Mbit/s", bad: true},
		{in: "4Xbit/s", bad: true},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseRate(%q) = %d, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}
