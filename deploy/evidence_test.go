package deploy

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./deploy -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from golden file (go test ./deploy -run %s -update to refresh):\ngot  %s\nwant %s", p, t.Name(), got, want)
	}
}

func TestEvidencePackGolden(t *testing.T) {
	p := fixturePack(t)
	b, d, err := p.CanonicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "evidence-pack.canonical.json", b)
	golden(t, "evidence-pack.digest", []byte(d.String()+"\n"))
	if digest.FromBytes(b) != d {
		t.Fatal("content address is not the SHA-256 of the canonical bytes")
	}
	env, d2, err := SignEvidence(p, testKey())
	if err != nil || d2 != d {
		t.Fatal(err)
	}
	envJSON, _ := json.MarshalIndent(env, "", "  ")
	golden(t, "evidence-pack.dsse.json", append(envJSON, '\n'))

	// Complete pack with an exception, scope change and a failed scan.
	p.PolicyDecision = ScanException
	p.Artifacts[0].Decision = ScanFail
	p.Exceptions = []Exception{*fixtureException()}
	p.ScopeDiff = ptr(DiffScope(acmeFin, acme, inventory))
	b, _, err = p.CanonicalBytes()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "evidence-pack-exception.canonical.json", b)
	if ms := p.Missing(); len(ms) != 0 {
		t.Fatalf("golden exception pack incomplete: %v", ms)
	}
}

func TestCanonicalForm(t *testing.T) {
	b, err := Canonical(map[string]any{"b": 1, "a": []any{"<&>", 2.5, nil, true}, "é": map[string]int{"z": 1, "A": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":["<&>",2.5,null,true],"b":1,"é":{"A":2,"z":1}}`; string(b) != want {
		t.Fatalf("%s\nwant %s", b, want)
	}
	// Time zones do not change the bytes or the address.
	p := fixturePack(t)
	_, d1, _ := p.CanonicalBytes()
	loc := time.FixedZone("X", 5*3600+1800)
	p.CreatedAt = p.CreatedAt.In(loc)
	p.RolloutPlan.Schedule.NotBefore = p.RolloutPlan.Schedule.NotBefore.In(loc)
	_, d2, _ := p.CanonicalBytes()
	if d1 != d2 {
		t.Fatal("canonical bytes depend on the time zone")
	}
	// Any change changes the address.
	p.Artifacts[0].Size++
	if _, d3, _ := p.CanonicalBytes(); d3 == d1 {
		t.Fatal("changed pack kept its address")
	}
	// Canonical bytes re-parse to a pack with the same canonical bytes.
	c, _, _ := fixturePack(t).CanonicalBytes()
	q, err := ParseEvidencePack(c)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _, _ := q.CanonicalBytes(); !bytes.Equal(c, c2) {
		t.Fatalf("not stable under re-parse:\n%s\n%s", c, c2)
	}
}

func TestEvidenceCompleteness(t *testing.T) {
	p := fixturePack(t)
	if ae := ArtifactEvidenceFrom(fixtureArtifact()); ae.SHA256 != p.Artifacts[0].SHA256 || ae.Size != 4096 || ae.Decision != ScanPass || ae.Signing.State != SigKnownVendor {
		t.Fatalf("%+v", ae)
	}
	if ms := p.Missing(); len(ms) != 0 {
		t.Fatalf("fixture incomplete: %v", ms)
	}
	for _, tc := range []struct {
		item EvidenceItem
		mut  func(*EvidencePack)
	}{
		{EvidenceArtifactHashes, func(p *EvidencePack) { p.Artifacts[0].SHA256 = "nope" }},
		{EvidenceArtifactSignatures, func(p *EvidencePack) { p.Artifacts[0].Signing = Signing{} }},
		{EvidenceSBOM, func(p *EvidencePack) { p.SBOM = nil }},
		{EvidenceScanReport, func(p *EvidencePack) { p.ScanReport.MediaType = "" }},
		{EvidencePolicyDecision, func(p *EvidencePack) { p.PolicyDecision = "" }},
		{EvidenceInstallDoc, func(p *EvidencePack) { p.InstallDoc = nil }},
		{EvidenceUninstallDoc, func(p *EvidencePack) { p.UninstallDoc = nil }},
		{EvidenceDetectionDoc, func(p *EvidencePack) { p.DetectionDoc = nil }},
		{EvidenceRolloutPlan, func(p *EvidencePack) { p.RolloutPlan.Targeting = nil }},
		{EvidenceRollbackPlan, func(p *EvidencePack) { p.RollbackPlans[0].Strategy = "" }},
		{EvidenceTestLab, func(p *EvidencePack) { p.TestEvidence.Lab = nil }},
		{EvidenceTestRing0, func(p *EvidencePack) { p.TestEvidence.Ring0 = nil }},
		{EvidenceExceptions, func(p *EvidencePack) { p.PolicyDecision = ScanException }},
		{EvidenceExceptions, func(p *EvidencePack) { p.Artifacts[0].Decision = ScanFail }},
		{EvidenceScopeDiff, func(p *EvidencePack) { p.ScopeDiff = nil }},
		{EvidenceRiskAssessment, func(p *EvidencePack) { p.Risk = nil }},
	} {
		p := fixturePack(t)
		tc.mut(&p)
		ms := p.Missing()
		if len(ms) != 1 || ms[0].Item != tc.item || ms[0].Reason == "" {
			t.Errorf("%s: missing %v", tc.item, ms)
		}
		d := p.CheckComplete()
		if d.Allowed || !slices.Equal(d.Failed(), []string{"evidence." + string(tc.item)}) {
			t.Errorf("%s: %v", tc.item, d.Failed())
		}
	}
	// An empty pack names every item (exception records only when required).
	empty := EvidencePack{}
	var names []EvidenceItem
	for _, m := range empty.Missing(EvidenceExceptions) {
		names = append(names, m.Item)
	}
	if !slices.Equal(names, EvidenceItems) {
		t.Fatalf("empty pack missing %v\nwant %v", names, EvidenceItems)
	}
}

func TestSignAndVerifyEvidence(t *testing.T) {
	k := testKey()
	p := fixturePack(t)
	env, d, err := SignEvidence(p, k)
	if err != nil {
		t.Fatal(err)
	}
	trust := signing.NewTrust(k.Public())
	got, gd, keyID, err := VerifyEvidence(env, trust)
	if err != nil || gd != d || keyID != k.ID || got.IntentID != p.IntentID {
		t.Fatal(err)
	}
	// Untrusted key.
	other := ed25519Key(t, "another-key-seed-000000000000002")
	if _, _, _, err := VerifyEvidence(env, signing.NewTrust(other.Public())); !errors.Is(err, signing.ErrUnknownKey) {
		t.Fatal(err)
	}
	// Tampered payload.
	bad := *env
	bad.Payload = strings.Replace(env.Payload, env.Payload[10:14], "AAAA", 1)
	if _, _, _, err := VerifyEvidence(&bad, trust); err == nil {
		t.Fatal("tampered envelope verified")
	}
	// A correctly signed but non-canonical payload is refused.
	c, _, _ := p.CanonicalBytes()
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, c, "", " ")
	nc := signing.Sign(k, EvidencePayloadType, pretty.Bytes())
	if _, _, _, err := VerifyEvidence(nc, trust); !errors.Is(err, ErrNotCanonical) {
		t.Fatal(err)
	}
	// Invalid packs are not signed.
	p.Schema = "v0"
	if _, _, err := SignEvidence(p, k); err == nil {
		t.Fatal("signed a pack with a bad schema")
	}
}

func TestEvidenceStoreWriteOnce(t *testing.T) {
	s := NewMemEvidenceStore()
	p := fixturePack(t)
	d, err := StoreEvidence(s, p)
	if err != nil {
		t.Fatal(err)
	}
	// Idempotent: storing again returns the same address, changes nothing.
	if d2, err := StoreEvidence(s, p); err != nil || d2 != d {
		t.Fatal(err)
	}
	// Write-once: raw overwrite is refused.
	if err := s.PutEvidence(d, []byte("{}")); !errors.Is(err, ErrEvidenceExists) {
		t.Fatal(err)
	}
	got, err := LoadEvidence(s, d)
	if err != nil || got.IntentID != p.IntentID {
		t.Fatal(err)
	}
	if _, err := LoadEvidence(s, dg('0')); !errors.Is(err, ErrEvidenceNotFound) {
		t.Fatal(err)
	}
	// Verified on read: a corrupted store is detected.
	s.m[d][5] ^= 1
	var mm *digest.MismatchError
	if _, err := LoadEvidence(s, d); !errors.As(err, &mm) || mm.Want != string(d) {
		t.Fatal(err)
	}
	// A failing store surfaces its error so the caller refuses publish.
	if _, err := StoreEvidence(failingStore{}, p); err == nil || !strings.Contains(err.Error(), "evidence store: disk full") {
		t.Fatal(err)
	}
}

type failingStore struct{}

func (failingStore) PutEvidence(digest.Digest, []byte) error   { return errors.New("disk full") }
func (failingStore) GetEvidence(digest.Digest) ([]byte, error) { return nil, ErrEvidenceNotFound }

func ed25519Key(t *testing.T, seed string) *signing.PrivateKey {
	t.Helper()
	if len(seed) != ed25519.SeedSize {
		t.Fatalf("seed must be %d bytes", ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed([]byte(seed))
	return &signing.PrivateKey{Key: priv, ID: signing.KeyID(priv.Public().(ed25519.PublicKey))}
}

func FuzzParseEvidencePack(f *testing.F) {
	for _, name := range []string{"evidence-pack.canonical.json", "evidence-pack-exception.canonical.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"schema":"eucora.evidence-pack/v1","intent_id":"i","app_id":"a","version":"1","created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"schema":"eucora.evidence-pack/v1","schema":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseEvidencePack(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error does not wrap ErrInvalidInput: %v", err)
			}
			return
		}
		c, d, err := p.CanonicalBytes()
		if err != nil {
			return // e.g. a time outside encoding/json's range
		}
		q, err := ParseEvidencePack(c)
		if err != nil {
			t.Fatalf("canonical bytes do not parse: %v\n%s", err, c)
		}
		c2, d2, err := q.CanonicalBytes()
		if err != nil || !bytes.Equal(c, c2) || d != d2 {
			t.Fatalf("canonical form not stable:\n%s\n%s", c, c2)
		}
		_ = p.Missing()
	})
}

// FuzzCanonical: for any JSON value, the canonical form is valid JSON,
// decodes to the same value, and is a fixed point.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[true,null,"<&>\u2028"],"é":{"z":1.5e300,"A":-0}}`))
	f.Add([]byte(`"\ud800"`))
	f.Add([]byte(`[1e-7, 123456789012345678901234567890]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		c, err := Canonical(v)
		if err != nil {
			t.Fatalf("canonical of decoded JSON failed: %v", err)
		}
		var w any
		if err := json.Unmarshal(c, &w); err != nil {
			t.Fatalf("canonical form is not JSON: %v\n%s", err, c)
		}
		c2, err := Canonical(w)
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("not a fixed point:\n%s\n%s", c, c2)
		}
		if bytes.ContainsAny(c, "\n\t") {
			t.Fatalf("insignificant whitespace: %s", c)
		}
	})
}
