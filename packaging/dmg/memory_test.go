package dmg

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/eucora/eucora/packaging/facts"
)

func allocs(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Verifying a signed image hashes every byte, streamed: a 48 MiB image
// allocates what a 1 MiB one does.
func TestMemoryDoesNotGrowWithImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 48 MiB image")
	}
	p := pki(t)
	cost := map[int]uint64{}
	for _, size := range []int{1 << 20, 48 << 20} {
		b := buildDMG(t, dmgOpts{data: make([]byte, size), sign: p.valid, pageShift: 12})
		cost[size] = allocs(func() {
			f, err := Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{Trust: facts.NewTrustStore(p.root)})
			if err != nil || f.Signature.State != facts.SigTrusted {
				t.Fatalf("Inspect: %v %+v", err, f)
			}
		})
	}
	if grow := int64(cost[48<<20]) - int64(cost[1<<20]); grow > 1<<20 {
		t.Fatalf("a 47 MiB larger image allocates %d bytes more (1 MiB: %d, 48 MiB: %d)", grow, cost[1<<20], cost[48<<20])
	}
}
