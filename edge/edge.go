package edge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/bytesize"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// Sentinel errors. Refusals of a bundle wrap one of these or one of
// transfer's (ErrBadSignature, ErrUnknownKey, ErrCorrupt, ErrExpired,
// ErrMissingVolume, ErrBadRecord).
var (
	// ErrNotInitialised: the data directory holds no edge (run Init).
	ErrNotInitialised = errors.New("edge not initialised")
	// ErrAlreadyInitialised: Init on a directory that already holds an edge.
	ErrAlreadyInitialised = errors.New("edge already initialised")
	// ErrForeignTarget: the bundle is addressed to another site (or to
	// none). It is a transfer.ErrForeign refusal.
	ErrForeignTarget = transfer.Narrow(transfer.ErrForeign, "bundle is for another site")
	// ErrStale: the bundle's sequence is not newer than the last applied
	// one and it is not that same bundle (older, replayed or forked). It
	// is transfer.ErrStale, the refusal the hub gives for the same case.
	ErrStale = transfer.ErrStale
	// ErrState: the state file is unreadable or inconsistent.
	ErrState = errors.New("edge state damaged")
	// ErrBusy: another process holds the edge's lock.
	ErrBusy = errors.New("edge busy")
	// ErrNotHubKey: Init was given a key file that is not a hub public key.
	ErrNotHubKey = errors.New("not a hub public key")
	// ErrHubDataDir: Init was asked to make an edge in a hub's data directory.
	ErrHubDataDir = errors.New("a hub's data directory")
	// ErrUnknownIntent: Admit was asked about an intent the edge does not hold.
	ErrUnknownIntent = errors.New("intent not held")
	// ErrIncomplete: the bundle's records reference objects that are
	// neither in the bundle nor held (*IncompleteError names them).
	ErrIncomplete = errors.New("bundle incomplete")
	// ErrForeignSource: a bundle signed by a trusted hub key whose source
	// is not the hub (an edge accepts only the hub's bundles). It is a
	// transfer.ErrForeign refusal.
	ErrForeignSource = transfer.Narrow(transfer.ErrForeign, "bundle is not from the hub")
	// ErrTimeAhead: the bundle would move the edge's trusted time more than
	// MaxTimeLead ahead of max(local clock, trusted time) (*TimeAheadError).
	ErrTimeAhead = errors.New("bundle dated too far ahead")
)

// MaxTimeLead bounds how far one bundle may move the edge's trusted time:
// its created time and every time record must be at most this far ahead of
// max(local clock, trusted time before the bundle). A day covers a local
// clock a few hours slow or set in local time instead of UTC; a hub clock
// years ahead (or a forged-looking 2099) is refused instead of making every
// later bundle look expired (edge/DESIGN.md, Trusted time).
const MaxTimeLead = 24 * time.Hour

// TimeAheadError is a refusal of a bundle dated too far ahead.
type TimeAheadError struct {
	BundleID string
	What     string    // "created time" or "hub time record"
	Time     time.Time // the bundle's time
	Local    time.Time // the edge's local clock
	Trusted  time.Time // trusted time before the bundle (zero: none, or ignored for a reset)
}

func (e *TimeAheadError) Error() string {
	base, against := e.Local, "this edge's clock ("+e.Local.Format(time.RFC3339)+")"
	if e.Trusted.After(base) {
		base = e.Trusted
		against += " and of the newest hub time it accepted (" + e.Trusted.Format(time.RFC3339) + ")"
	}
	return fmt.Sprintf("%v: bundle %s has a %s of %s, %s ahead of %s; one bundle may move the edge's trusted time at most %s ahead. "+
		"If the hub's clock is wrong, correct it and export again; if this edge's clock is behind, set it and run the import again",
		ErrTimeAhead, e.BundleID, e.What, e.Time.UTC().Format(time.RFC3339), span(e.Time.Sub(base)), against, span(MaxTimeLead))
}

func (e *TimeAheadError) Unwrap() error { return ErrTimeAhead }

// span formats a duration for a person: hours up to two days, then days.
func span(d time.Duration) string {
	if d < 48*time.Hour {
		if d%time.Hour == 0 {
			return fmt.Sprintf("%d hours", int64(d/time.Hour))
		}
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d days", int64(d/(24*time.Hour)))
}

// SpaceError is an import refused before anything was written because the
// edge's store lacks room for what the bundle adds.
type SpaceError struct {
	BundleID string
	Dir      string
	Need     transfer.SpaceNeed
	Free     uint64
}

func (e *SpaceError) Error() string {
	f := bytesize.Format
	n := e.Need
	total := n.Total() + cas.Reserve
	short := total - int64(e.Free)
	return fmt.Sprintf("not enough free space in %s to import bundle %s: need %s (%s of whole objects, %s of parts of split objects and %s for those objects once joined; "+
		"%s already held and %s of parts stored by an earlier attempt are not counted) + %s reserve = %s, have %s. "+
		"Nothing was written. Free at least %s on that file system (or move the data directory to a larger one), then run the same 'eucora edge import' again: "+
		"it resumes from what is stored and writes only the rest",
		e.Dir, e.BundleID, f(n.Total()), f(n.Objects), f(n.Parts), f(n.Joined), f(n.Held), f(n.Stored), f(cas.Reserve), f(total), f(int64(e.Free)), f(short))
}

func (e *SpaceError) Unwrap() error { return cas.ErrNoSpace }

// IncompleteError is a refusal of a bundle whose records reference objects
// the edge would not have after applying it.
type IncompleteError struct {
	BundleID string
	Missing  []digest.Digest // the first (at most 10) missing digests, sorted
	Count    int             // how many are missing in all
}

func (e *IncompleteError) Error() string {
	names := make([]string, len(e.Missing))
	for i, d := range e.Missing {
		names[i] = d.Hex()
	}
	more := ""
	if e.Count > len(e.Missing) {
		more = fmt.Sprintf(" and %d more", e.Count-len(e.Missing))
	}
	return fmt.Sprintf("%v: bundle %s references %d object(s) neither in the bundle nor held: %s%s",
		ErrIncomplete, e.BundleID, e.Count, strings.Join(names, ", "), more)
}

func (e *IncompleteError) Unwrap() error { return ErrIncomplete }

// InitCommand is the command that makes an edge, named when none is found.
const InitCommand = "eucora edge init --data DIR --site NAME --hub-key HUB.pub"

// Key and file names inside the data directory.
const (
	keyName    = "edge"     // DIR/keys/edge.key, DIR/keys/edge.pub
	pubFile    = "edge.pub" // DIR/edge.pub, what the hub enrols
	hubKeyFile = "hub.pub"  // DIR/edge/hub.pub, the enrolment hub key
	lockFile   = "lock"     // DIR/edge/lock
	eventActor = "edge"     // actor prefix of the edge's own events
	exportTTL  = 90 * 24 * time.Hour
)

// Edge is an initialised edge appliance's data directory: its state, its
// content store (DIR/cas) and its keys. Methods that change state take an
// exclusive lock on DIR/edge/lock, so two processes never interleave.
type Edge struct {
	dir   datadir.Dir
	key   *signing.PrivateKey
	hub   *signing.PublicKey
	store *cas.Store
	site  string

	// Clock is the local clock (time.Now by default). Expiry is checked
	// against max(Clock(), the newest hub time the edge accepted).
	Clock func() time.Time
}

// Init creates an edge in dir for site: its Ed25519 key pair
// (DIR/keys/edge.key mode 0600, DIR/edge.pub), the enrolment hub key
// (DIR/edge/hub.pub, trusted until a hub-keys record names others) and an empty state. The state file is written last, so
// an interrupted Init is completed by running it again (the key pair
// already written is kept). ErrAlreadyInitialised if dir holds an edge.
// Refused before anything is written: a site name the hub would not
// accept (deploy.CheckSiteName), a directory holding a hub's state
// (ErrHubDataDir) and the edge's own key given as the hub's (ErrNotHubKey).
// A data directory Init created is removed again if it fails.
func Init(dir, site string, hubKey *signing.PublicKey) (_ *Edge, err error) {
	if err := deploy.CheckSiteName(site); err != nil {
		return nil, err
	}
	if hubKey == nil {
		return nil, errors.New("no hub key given: an edge trusts exactly one hub key")
	}
	if dir == "" {
		dir = datadir.Default
	}
	probe := datadir.Dir{Root: dir}
	if err := refuseHubDir(probe); err != nil {
		return nil, err
	}
	if _, err := os.Stat(statePath(probe.Edge())); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyInitialised, statePath(probe.Edge()))
	}
	keyPath := filepath.Join(probe.Keys(), keyName+".key")
	var key *signing.PrivateKey
	if _, err := os.Stat(keyPath); err == nil {
		if key, err = signing.LoadPrivate(keyPath); err != nil {
			return nil, err
		}
		if key.ID == hubKey.ID {
			return nil, fmt.Errorf("%w: the hub key given (%s) is this edge's own public key (%s)", ErrNotHubKey, hubKey.ID, keyPath)
		}
	}
	d, err := datadir.Create(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.Discard()
		}
	}()
	if err := os.MkdirAll(d.Edge(), 0o700); err != nil {
		return nil, err
	}
	if key == nil {
		if key, err = signing.Generate(); err != nil {
			return nil, err
		}
		if _, _, err := signing.WriteKeyPair(d.Keys(), keyName, key); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(d.Root, pubFile), signing.EncodePublic(key.Public()), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(d.Edge(), hubKeyFile), signing.EncodePublic(hubKey), 0o644); err != nil {
		return nil, err
	}
	if err := newState(site, hubKey.ID, key.ID).save(d.Edge()); err != nil {
		return nil, err
	}
	return Open(dir)
}

// refuseHubDir refuses a data directory that holds a hub's state: an edge
// and a hub never share one (the hub's keys, token and Raft state would sit
// beside the edge's, and each would read the other's cas/).
func refuseHubDir(d datadir.Dir) error {
	for _, p := range []string{d.Hub(), filepath.Join(d.Root, "bootstrap.token"), filepath.Join(d.Keys(), "hub.key")} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%w: %s holds %s: it is a hub's data directory, and an edge needs one of its own; give another --data (for example --data /var/lib/eucora-edge)",
				ErrHubDataDir, d.Root, p)
		}
	}
	return nil
}

// Open opens the edge in dir. ErrNotInitialised if there is none.
func Open(dir string) (*Edge, error) {
	if dir == "" {
		dir = datadir.Default
	}
	d, err := datadir.Open(dir, InitCommand)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotInitialised, err)
	}
	st, err := loadState(d.Edge())
	if err != nil {
		return nil, err
	}
	key, err := signing.LoadPrivate(filepath.Join(d.Keys(), keyName+".key"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotInitialised, err)
	}
	hub, err := signing.LoadPublic(filepath.Join(d.Edge(), hubKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotInitialised, err)
	}
	if hub.ID != st.HubKeyID || key.ID != st.EdgeKey {
		return nil, fmt.Errorf("%w: keys on disk (edge %s, hub %s) are not the ones the state names (edge %s, hub %s)",
			ErrState, key.ID[:16], hub.ID[:16], st.EdgeKey[:min(16, len(st.EdgeKey))], st.HubKeyID[:min(16, len(st.HubKeyID))])
	}
	store, err := cas.Open(d.CAS())
	if err != nil {
		return nil, err
	}
	return &Edge{dir: d, key: key, hub: hub, store: store, site: st.Site, Clock: time.Now}, nil
}

// Site is the edge's site name.
func (e *Edge) Site() string { return e.site }

// PublicKey is the edge's own public key (what the hub enrols).
func (e *Edge) PublicKey() *signing.PublicKey { return e.key.Public() }

// HubKey is the enrolment hub key, the one the edge trusts until it
// applies a hub-keys record (see trust).
func (e *Edge) HubKey() *signing.PublicKey { return e.hub }

// trust is the set of hub keys a bundle may be signed by: the last
// hub-keys record's (current and staged next), else the enrolment key.
func (e *Edge) trust(st *state) signing.Trust {
	var keys []*signing.PublicKey
	for _, k := range st.HubKeys {
		if pub, err := signing.ParsePublic([]byte(k.PublicPEM), "hub key "+k.KeyID); err == nil {
			pub.Source = "the last hub-keys record applied"
			keys = append(keys, pub)
		}
	}
	if len(keys) == 0 {
		keys = append(keys, e.hub)
	}
	return signing.NewTrust(keys...)
}

// Store is the edge's content store.
func (e *Edge) Store() *cas.Store { return e.store }

// lock takes the edge's exclusive lock; call the returned func to release.
func (e *Edge) lock() (func(), error) {
	release, err := datadir.Lock(filepath.Join(e.dir.Edge(), lockFile))
	var be *datadir.BusyError
	if errors.As(err, &be) {
		return nil, fmt.Errorf("%w: another eucora process (%s) is working on the edge in %s; let it finish (an import or export) and run this again", ErrBusy, be.Holder(), e.dir.Root)
	}
	return release, err
}

// now is max(local clock, trusted hub time), in UTC.
func (e *Edge) now(st *state) time.Time {
	n := e.Clock().UTC()
	if st.TrustedTime.After(n) {
		return st.TrustedTime
	}
	return n
}
