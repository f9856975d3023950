package deploy

import (
	"fmt"
	"sort"
	"time"
)

// Retention numbers of EUCORA-architecture.md section 7.5: retain prior LOB versions for 90 days, or
// the last 2 releases, whichever keeps more.
const (
	RetentionPeriod   = 90 * 24 * time.Hour
	RetentionReleases = 2
)

// Release is one released version of a LOB app.
type Release struct {
	Version    string    `json:"version"`
	ReleasedAt time.Time `json:"released_at"`
}

// RetentionVerdict says whether a version must be kept, and why.
type RetentionVerdict struct {
	Version   string `json:"version"`
	Keep      bool   `json:"keep"`
	Removable bool   `json:"removable"`
	Reason    string `json:"reason"`
}

// PlanRetention applies EUCORA-architecture.md section 7.5 at time at. Releases are ordered by
// ReleasedAt (ties by version string); the newest is current and always
// kept. A prior version is superseded when the next release came out and
// is kept while at - superseded < 90 days (at exactly 90 days it becomes
// removable), or when it is one of the 2 most recent prior releases.
// Releases dated after at are not yet current and are kept. The verdicts
// are returned newest first.
func PlanRetention(releases []Release, at time.Time) ([]RetentionVerdict, error) {
	rs := append([]Release(nil), releases...)
	seen := map[string]bool{}
	for i, r := range rs {
		if err := checkIdent(fmt.Sprintf("releases[%d].version", i), r.Version); err != nil {
			return nil, err
		}
		if seen[r.Version] {
			return nil, fieldErrorf(fmt.Sprintf("releases[%d].version", i), "%s listed twice", r.Version)
		}
		seen[r.Version] = true
		if r.ReleasedAt.IsZero() {
			return nil, fieldErrorf(fmt.Sprintf("releases[%d].released_at", i), "missing")
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].ReleasedAt.Equal(rs[j].ReleasedAt) {
			return rs[i].ReleasedAt.After(rs[j].ReleasedAt)
		}
		return rs[i].Version > rs[j].Version
	})
	out := make([]RetentionVerdict, 0, len(rs))
	prior := 0 // prior releases seen so far (newest first)
	var current *Release
	var supersededAt time.Time
	for i := range rs {
		r := rs[i]
		v := RetentionVerdict{Version: r.Version}
		switch {
		case r.ReleasedAt.After(at):
			v.Keep, v.Reason = true, fmt.Sprintf("scheduled release (released_at %s is after %s)", ts(r.ReleasedAt), ts(at))
		case current == nil:
			current = &rs[i]
			v.Keep, v.Reason = true, "current release"
		default:
			prior++
			age := at.Sub(supersededAt)
			within := age < RetentionPeriod
			recent := prior <= RetentionReleases
			switch {
			case within && recent:
				v.Keep, v.Reason = true, fmt.Sprintf("superseded %s ago (< 90 days) and one of the last %d prior releases (#%d)", fmtAge(age), RetentionReleases, prior)
			case within:
				v.Keep, v.Reason = true, fmt.Sprintf("superseded %s ago, within the 90-day retention", fmtAge(age))
			case recent:
				v.Keep, v.Reason = true, fmt.Sprintf("one of the last %d prior releases (#%d), although superseded %s ago", RetentionReleases, prior, fmtAge(age))
			default:
				v.Removable, v.Reason = true, fmt.Sprintf("superseded %s ago (>= 90 days) and older than the last %d prior releases (#%d)", fmtAge(age), RetentionReleases, prior)
			}
		}
		if !r.ReleasedAt.After(at) {
			supersededAt = r.ReleasedAt
		}
		out = append(out, v)
	}
	return out, nil
}

func fmtAge(d time.Duration) string {
	days := d / (24 * time.Hour)
	rest := d % (24 * time.Hour)
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, rest)
}
