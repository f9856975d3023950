package fleet

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Ring is one ring's group and its share of a generated fleet.
type Ring struct {
	Group string
	Share float64
}

// RingGroup is the group name of a ring in generated fleets: "ring-N".
func RingGroup(ring int) string { return fmt.Sprintf("ring-%d", ring) }

// SiteGroup is the group name of a site in generated fleets: "site-NAME".
func SiteGroup(site string) string { return "site-" + site }

// DefaultRings is the ring layout of EUCORA's rollout: ring 0 (lab) 1%,
// ring 1 (canary) 4%, ring 2 (pilot) 10%, ring 3 (department) 35% and
// ring 4 (global) 50% of the devices.
var DefaultRings = []Ring{
	{RingGroup(0), 0.01}, {RingGroup(1), 0.04}, {RingGroup(2), 0.10}, {RingGroup(3), 0.35}, {RingGroup(4), 0.50},
}

// GenerateOptions describe a generated fleet. Zero values take the
// defaults in brackets.
type GenerateOptions struct {
	// N is the number of devices (1 to MaxDevices).
	N int
	// Platform of every device [windows].
	Platform string
	// Sites the devices are spread over, evenly [hq].
	Sites []string
	// Rings are the ring groups and their shares (normalized to sum to
	// one) [DefaultRings].
	Rings []Ring
	// CheckInMin and CheckInMax bound the devices' check-in intervals,
	// drawn uniformly per device, whole seconds [1h, 8h].
	CheckInMin, CheckInMax time.Duration
	// Seed of the fleet: the same options make the same fleet.
	Seed uint64
}

// MaxDevices is the most devices Generate and Load make.
const MaxDevices = 1_000_000

// Generate makes a fleet of N devices split over the rings in their
// shares (largest remainders; every ring gets a device when N allows)
// and over the sites evenly. Each device belongs to exactly two groups:
// its ring's ("ring-N") and its site's ("site-NAME"). A ring's assignment
// targets that ring's group only: rings do not nest, so the devices of a
// release to ring 3 are the ring-3 group's, and a rollout that reaches
// ring 3 has assigned rings 0 to 3 in turn.
//
// Devices get GUID-shaped ids and names "PC-00001" (windows), "MAC-",
// "LNX-", "IOS-" or "AND-" numbered in generation order.
func Generate(o GenerateOptions) (*Fleet, error) {
	if o.N < 1 || o.N > MaxDevices {
		return nil, fieldErr("n", "%d: want 1 to %d devices", o.N, MaxDevices)
	}
	if o.Platform == "" {
		o.Platform = Windows
	}
	if !slices.Contains(Platforms, o.Platform) {
		return nil, fieldErr("platform", "%q is not one of %v", clip(o.Platform), Platforms)
	}
	if len(o.Sites) == 0 {
		o.Sites = []string{"hq"}
	}
	for i, s := range o.Sites {
		if !groupPattern.MatchString(SiteGroup(s)) || s == "" {
			return nil, fieldErr(fmt.Sprintf("sites[%d]", i), "%q: want letters, digits, '.', '_' or '-'", clip(s))
		}
	}
	if len(o.Rings) == 0 {
		o.Rings = DefaultRings
	}
	total := 0.0
	for i, r := range o.Rings {
		if !groupPattern.MatchString(r.Group) {
			return nil, fieldErr(fmt.Sprintf("rings[%d].group", i), "%q: want 1-64 letters, digits, '.', '_' or '-'", clip(r.Group))
		}
		if math.IsNaN(r.Share) || math.IsInf(r.Share, 0) || r.Share <= 0 {
			return nil, fieldErr(fmt.Sprintf("rings[%d].share", i), "%v: want a positive share", r.Share)
		}
		total += r.Share
	}
	if o.CheckInMin == 0 {
		o.CheckInMin = time.Hour
	}
	if o.CheckInMax == 0 {
		o.CheckInMax = max(8*time.Hour, o.CheckInMin)
	}
	switch {
	case o.CheckInMin < time.Second || o.CheckInMin%time.Second != 0:
		return nil, fieldErr("check_in_min", "%s: want whole seconds, at least one", o.CheckInMin)
	case o.CheckInMax%time.Second != 0:
		return nil, fieldErr("check_in_max", "%s: want whole seconds", o.CheckInMax)
	case o.CheckInMax < o.CheckInMin:
		return nil, fieldErr("check_in_max", "%s is below check_in_min %s", o.CheckInMax, o.CheckInMin)
	}
	counts := split(o.N, o.Rings, total)
	prefix := map[string]string{Windows: "PC", MacOS: "MAC", Linux: "LNX", IOS: "IOS", Android: "AND"}[o.Platform]
	span := uint64((o.CheckInMax-o.CheckInMin)/time.Second) + 1
	devices := make([]Device, 0, o.N)
	ring := 0
	for i := range o.N {
		for counts[ring] == 0 {
			ring++
		}
		counts[ring]--
		site := o.Sites[i%len(o.Sites)]
		h := mix(newHash(o.Seed).str("device").u64(uint64(i)).sum())
		h2 := mix(h ^ 0x9e3779b97f4a7c15)
		devices = append(devices, Device{
			ID:       guid(h, h2),
			Name:     fmt.Sprintf("%s-%05d", prefix, i+1),
			Platform: o.Platform,
			Site:     site,
			Groups:   []string{o.Rings[ring].Group, SiteGroup(site)},
			CheckIn:  o.CheckInMin + time.Duration(mix(h2)%span)*time.Second,
		})
	}
	return New(o.Seed, devices)
}

// split shares n over the rings by largest remainders, then moves a
// device to every empty ring from the largest while n allows.
func split(n int, rings []Ring, total float64) []int {
	counts := make([]int, len(rings))
	rem := make([]float64, len(rings))
	left := n
	for i, r := range rings {
		exact := float64(n) * r.Share / total
		counts[i] = int(math.Floor(exact))
		rem[i] = exact - float64(counts[i])
		left -= counts[i]
	}
	for ; left > 0; left-- {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		counts[best]++
		rem[best] = -1
	}
	for i := range counts {
		if counts[i] > 0 {
			continue
		}
		big := 0
		for j := range counts {
			if counts[j] > counts[big] {
				big = j
			}
		}
		if counts[big] < 2 {
			break
		}
		counts[big]--
		counts[i]++
	}
	return counts
}

func guid(a, b uint64) string {
	a = a&^0xf000 | 0x4000                          // version 4
	b = b&^(0xc<<60) | 0x8<<60                      // variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", // 8-4-4-4-12
		uint32(a>>32), uint16(a>>16), uint16(a), uint16(b>>48), b&0xffffffffffff)
}
