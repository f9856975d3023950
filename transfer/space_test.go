package transfer

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
)

type memObject struct{ *bytes.Reader }

func (memObject) Close() error { return nil }

// objectBundle writes a bundle of the given objects in volumes of volSize
// and opens it.
func objectBundle(t *testing.T, volSize int64, blobs ...[]byte) *Bundle {
	t.Helper()
	key := testKey(t, 7)
	var objs []ObjectSource
	for _, b := range blobs {
		b := b
		objs = append(objs, ObjectSource{Digest: digest.FromBytes(b), Size: int64(len(b)),
			Open: func() (ReadAtCloser, error) { return memObject{bytes.NewReader(b)}, nil }})
	}
	now := time.Now().UTC().Truncate(time.Second)
	res, err := Create(context.Background(), filepath.Join(t.TempDir(), "b"), key,
		Header{Source: "hub", Target: "lon", Sequence: 1, Created: now, Expires: now.Add(time.Hour)},
		Content{Objects: objs}, CreateOptions{VolumeSize: volSize})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenOne(res.Volumes, trustOf(key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SpaceNeeded counts unsplit objects, and for split objects both the parts
// and the joined object, net of what the store holds.
func TestSpaceNeeded(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	big, small := make([]byte, 2500<<10), make([]byte, 1000)
	rng.Read(big)
	rng.Read(small)
	b := objectBundle(t, 1<<20, big, small)
	var split Object
	for _, o := range b.Manifest.Objects {
		if o.Digest == digest.FromBytes(big) {
			split = o
		}
	}
	if len(split.Parts) < 2 {
		t.Fatalf("big object not split")
	}
	part := split.Parts[0]
	bigN, smallN := int64(len(big)), int64(len(small))
	cases := []struct {
		name  string
		store [][]byte // objects put into the store first
		want  SpaceNeed
	}{
		{"empty store", nil, SpaceNeed{Objects: smallN, Parts: bigN, Joined: bigN}},
		{"split object held whole", [][]byte{big}, SpaceNeed{Objects: smallN, Held: bigN}},
		{"one part stored by an earlier attempt", [][]byte{big[:part.Size]}, SpaceNeed{Objects: smallN, Parts: bigN - part.Size, Joined: bigN, Stored: part.Size}},
		{"everything held", [][]byte{big, small}, SpaceNeed{Held: bigN + smallN}},
	}
	for _, tc := range cases {
		store, err := cas.Open(filepath.Join(t.TempDir(), "cas"))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range tc.store {
			if _, err := store.PutBytes(o); err != nil {
				t.Fatal(err)
			}
		}
		if got := b.SpaceNeeded(store); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// Import reads and verifies an entry even when the store already holds its
// object: a tampered copy is a corrupt bundle and the held object is left
// as it was.
func TestImportVerifiesHeldEntries(t *testing.T) {
	blob := bytes.Repeat([]byte{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233}, 1000)
	rng := rand.New(rand.NewSource(2))
	rng.Read(blob[:4000])
	b := objectBundle(t, 0, blob)
	vol := b.Sorted()[0]
	data, err := os.ReadFile(vol.Path)
	if err != nil {
		t.Fatal(err)
	}
	e := vol.entries[0]
	data[e.dataOff+e.stored/2] ^= 0x40
	if err := os.WriteFile(vol.Path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := cas.Open(filepath.Join(t.TempDir(), "cas"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := store.PutBytes(blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Import(context.Background(), store, ImportOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("import of a tampered held entry: %v", err)
	}
	if err := store.Verify(d); err != nil {
		t.Fatal(err)
	}
}
