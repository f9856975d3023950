// Package bytesize formats and parses byte counts for people: "1.5 GiB",
// "700MiB", "4GB".
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Format renders n with a binary unit ("512 B", "1.5 GiB").
func Format(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Parse reads a byte size: a plain number of bytes or a number with a unit
// (KiB, MiB, GiB, TiB binary, also K, M, G, T; KB, MB, GB, TB decimal; B).
// Fractions are allowed with a unit ("1.5GiB"). The size must be positive.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	}[strings.ToLower(unit)]
	if mult == 0 || num == "" {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 64MiB, 700MiB, 4GiB or 4GB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || f*mult > 1<<62 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit such as 64MiB or 4GiB", s)
	}
	return int64(f * mult), nil
}

// ParseRate reads a bandwidth in bytes per second: a byte size per second
// ("512KiB/s", "1MB/s", "65536") or bits per second with decimal
// prefixes ("4Mbit/s", "100kbit/s").
func ParseRate(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	if num, ok := strings.CutSuffix(t, "bit"); ok {
		mult := 1.0
		switch {
		case strings.HasSuffix(num, "k"), strings.HasSuffix(num, "K"):
			mult = 1e3
		case strings.HasSuffix(num, "M"):
			mult = 1e6
		case strings.HasSuffix(num, "G"):
			mult = 1e9
		}
		if mult != 1 {
			num = num[:len(num)-1]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) || v*mult/8 < 1 {
			return 0, fmt.Errorf("rate %q: want for example 4Mbit/s or 512KiB/s", s)
		}
		return int64(v * mult / 8), nil
	}
	n, err := Parse(t)
	if err != nil {
		return 0, fmt.Errorf("rate %q: want for example 4Mbit/s or 512KiB/s", s)
	}
	return n, nil
}
