package transfer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// testKey is deterministic so fuzz seeds stay valid.
func testKey(t testing.TB, seed byte) *signing.PrivateKey {
	t.Helper()
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return &signing.PrivateKey{Key: k, ID: signing.KeyID(k.Public().(ed25519.PublicKey))}
}

func trustOf(keys ...*signing.PrivateKey) signing.Trust {
	t := signing.Trust{}
	for _, k := range keys {
		t[k.ID] = k.Public()
	}
	return t
}

// makeTree writes a tree with directories, modes, an empty file, duplicate
// content, compressible text and incompressible bytes of the given size.
func makeTree(t testing.TB, root string, bigSize int) {
	t.Helper()
	rng := rand.New(rand.NewSource(1))
	big := make([]byte, bigSize)
	rng.Read(big)
	var text bytes.Buffer
	for i := 0; text.Len() < 300<<10; i++ {
		text.WriteString("Package: demo\nVersion: 1.0-")
		text.WriteString(string(rune('a' + i%26)))
		text.WriteString("\nDescription: compressible text\n\n")
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"pool/main/big.bin", big, 0o644},
		{"pool/main/big-copy.bin", big, 0o600},
		{"dists/stable/Packages", text.Bytes(), 0o644},
		{"dists/stable/Packages.copy", text.Bytes(), 0o644},
		{"scripts/install.sh", []byte("#!/bin/sh\necho install\n"), 0o755},
		{"empty", nil, 0o640},
		{"a/b/c/d/deep.txt", []byte("deep"), 0o644},
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
	}
	os.MkdirAll(filepath.Join(root, "emptydir"), 0o750)
	os.Chmod(filepath.Join(root, "emptydir"), 0o750)
	os.Chmod(filepath.Join(root, "scripts"), 0o700)
}

func mustCreate(t testing.TB, src, out string, key *signing.PrivateKey, volSize int64, h Header, records ...RecordSource) *Result {
	t.Helper()
	res, err := Create(context.Background(), out, key, h, Content{Tree: src, Records: records}, CreateOptions{VolumeSize: volSize})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// craftVolume writes a volume from raw entries and a manifest signed by
// key, exactly as the writer would lay it out, for hostile-input tests.
type rawEntry struct {
	name string
	data []byte
}

func craftVolume(t testing.TB, path string, entries []rawEntry, m *Manifest, key *signing.PrivateKey) {
	t.Helper()
	craftVolumeAs(t, path, entries, m, key, payloadTypes[m.Format])
}

// craftVolumeAs is craftVolume with the envelope's payload type given.
func craftVolumeAs(t testing.TB, path string, entries []rawEntry, m *Manifest, key *signing.PrivateKey, payloadType string) {
	t.Helper()
	var buf bytes.Buffer
	write := func(name string, data []byte) {
		h, err := ustarHeader(name, int64(len(data)), 1700000000)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(h)
		buf.Write(data)
		buf.Write(make([]byte, padLen(int64(len(data)))))
	}
	for _, e := range entries {
		write(e.name, e.data)
	}
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(signing.Sign(key, payloadType, payload))
	write(ManifestEntry, env)
	buf.Write(make([]byte, 2*blockSize))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// oneObjectManifest describes a bundle of one file holding one object.
func oneObjectManifest(key *signing.PrivateKey, d digest.Digest, size int64) *Manifest {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &Manifest{
		Format: Format, BundleID: "01JD0000000000000000000000", Source: "hub", Created: now, Expires: now.Add(24 * 365 * 10 * time.Hour),
		KeyID: key.ID, Volumes: 1,
		Objects: []Object{{Digest: d, Size: size, Parts: []Part{{Digest: d, Size: size, Volume: 1}}}},
		Files:   []File{{Path: "f", Mode: 0o644, Digest: d, Size: size}},
	}
}

// storedAsZstd marks the single part of m as stored compressed as stored.
func storedAsZstd(m *Manifest, stored []byte) {
	p := &m.Objects[0].Parts[0]
	p.Encoding, p.StoredSize, p.StoredDigest = EncodingZstd, int64(len(stored)), digest.FromBytes(stored)
}

func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
