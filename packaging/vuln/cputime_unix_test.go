//go:build unix

package vuln

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time: a benchmark figure that
// other processes on a shared machine do not inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
