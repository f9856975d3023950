package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/transfer"
)

// parseDuration accepts Go durations plus days ("30d", "7d12h").
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	var days int64
	if i := strings.IndexByte(t, 'd'); i > 0 {
		n, err := strconv.ParseInt(t[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %v", s, err)
		}
		days, t = n, t[i+1:]
	}
	var d time.Duration
	if t != "" {
		var err error
		if d, err = time.ParseDuration(t); err != nil {
			return 0, fmt.Errorf("duration %q: want for example 30d, 72h or 90m", s)
		}
	}
	d += time.Duration(days) * 24 * time.Hour
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return d, nil
}

// minVolumeSize is transfer.MinVolumeSize as --help writes it.
var minVolumeSize = bytesize.Format(transfer.MinVolumeSize)

// volumeSizeUsage is the --volume-size usage text, minimum included.
func volumeSizeUsage(what string) string {
	return what + " (minimum " + minVolumeSize + ")"
}

// parseVolumeSize reads --volume-size: a size of at least
// transfer.MinVolumeSize, else a usage error naming the minimum.
func parseVolumeSize(s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, usageErrorf("--volume-size: %v", err)
	}
	if n < transfer.MinVolumeSize {
		return 0, usageErrorf("--volume-size %s is below the minimum of %s", s, minVolumeSize)
	}
	return n, nil
}

// parseWhen accepts an RFC 3339 time or a duration from now ("72h", "30d").
func parseWhen(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, usageErrorf("--%s %q: want an RFC 3339 time or a duration such as 72h or 30d", flag, s)
	}
	return time.Now().UTC().Add(d).Truncate(time.Second), nil
}
