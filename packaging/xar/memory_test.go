package xar

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

// allocs returns the bytes allocated while fn runs.
func allocs(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// What InspectPkg allocates does not grow with the payload: a 48 MiB
// member costs what a 1 MiB one does (data is streamed through fixed
// buffers, never held).
func TestMemoryDoesNotGrowWithPayload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 48 MiB package")
	}
	cost := map[int]uint64{}
	for _, size := range []int{1 << 20, 48 << 20} {
		payload := odc(reg("./Library/LaunchDaemons/x.plist", 0o644, []byte(daemonPlist)), reg("./opt/big.bin", 0o644, make([]byte, size)))
		b := componentPkg(t, payload, xarOpts{})
		cost[size] = allocs(func() {
			f, err := InspectPkg(bytes.NewReader(b), int64(len(b)), facts.Options{})
			if err != nil || f.Files.Bytes < int64(size) {
				t.Fatalf("InspectPkg: %v", err)
			}
		})
	}
	if grow := int64(cost[48<<20]) - int64(cost[1<<20]); grow > 1<<20 {
		t.Fatalf("a 47 MiB larger payload allocates %d bytes more (1 MiB: %d, 48 MiB: %d)", grow, cost[1<<20], cost[48<<20])
	}
}
