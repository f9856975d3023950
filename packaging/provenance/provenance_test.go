package provenance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/signing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	msiHex  = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	docsHex = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
	spdxHex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	commit  = "8f3a2e1c0b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"
)

func testRun() Run {
	return Run{
		App:      "contoso-agent",
		Version:  "4.2.1",
		Subjects: []ResourceDescriptor{{Name: "ContosoAgent-4.2.1.msi", Digest: map[string]string{"sha256": msiHex}}},
		Docs:     "docs/contoso-agent",
		Inputs: []ResourceDescriptor{{Name: "docs/contoso-agent/install.json", Digest: map[string]string{"sha256": docsHex},
			MediaType: "application/json"}},
		Sources: []ResourceDescriptor{{URI: "git+https://git.example/contoso/agent@refs/tags/v4.2.1", Digest: map[string]string{"gitCommit": commit}}},
		Byproducts: []ResourceDescriptor{{Name: "ContosoAgent-4.2.1.msi.spdx.json", Digest: map[string]string{"sha256": spdxHex},
			MediaType: "application/spdx+json"}},
		BuilderID:      "https://eucora.dev/factory/hub/hub-a",
		BuilderVersion: map[string]string{"eucora": "v1.4.0"},
		InvocationID:   "01JQ3V7K9ZP4N8M2X6C5B1A0DE",
		StartedOn:      time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600)),
		FinishedOn:     time.Date(2026, 3, 14, 9, 27, 5, 250_000_000, time.FixedZone("CET", 3600)),
	}
}

func mustNew(t testing.TB) Statement {
	t.Helper()
	st, err := New(testRun())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustKey(t testing.TB) *signing.PrivateKey {
	t.Helper()
	k, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGoldenStatement(t *testing.T) {
	b, err := json.MarshalIndent(mustNew(t), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "statement.json.golden")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from what New makes now (run with -update to accept):\n%s", path, b)
	}
	// The golden file decodes strictly to the same statement.
	st, err := decodeStatement(want)
	if err != nil || !reflect.DeepEqual(st, mustNew(t)) {
		t.Errorf("golden statement decodes to %+v, %v", st, err)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pkg := mustKey(t)
	st := mustNew(t)
	env, err := Sign(st, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if env.PayloadType != "application/vnd.in-toto+json" || len(env.Signatures) != 1 || env.Signatures[0].KeyID != pkg.ID {
		t.Fatalf("envelope %+v", env)
	}
	// Through the envelope's JSON, as it is stored and shipped.
	raw, _ := json.Marshal(env)
	env2, err := signing.ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, artifact := range []string{"sha256:" + msiHex, msiHex, "SHA256:" + strings.ToUpper(msiHex)} {
		got, keyID, err := Verify(env2, signing.NewTrust(pkg.Public()), artifact)
		if err != nil {
			t.Fatalf("%s: %v", artifact, err)
		}
		if keyID != pkg.ID || !reflect.DeepEqual(got, st) {
			t.Errorf("%s: key %s, statement %+v", artifact, keyID, got)
		}
	}
	// Verify with the trust of several packaging keys (rotation).
	if _, _, err := Verify(env2, signing.NewTrust(mustKey(t).Public(), pkg.Public()), msiHex); err != nil {
		t.Errorf("two packaging keys: %v", err)
	}
}

// signed wraps payload as the packaging key would.
func signed(key *signing.PrivateKey, payload []byte) *signing.Envelope {
	return signing.Sign(key, PayloadType, payload)
}

// statementJSON is the test statement as a generic JSON tree, edited by
// the caller and encoded again.
func statementJSON(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	b, _ := json.Marshal(mustNew(t))
	var m map[string]any
	json.Unmarshal(b, &m)
	edit(m)
	out, _ := json.Marshal(m)
	return out
}

func pred(m map[string]any) map[string]any { return m["predicate"].(map[string]any) }
func sub(m map[string]any, k string) map[string]any {
	return m[k].(map[string]any)
}

func TestVerifyRefuses(t *testing.T) {
	pkg, publisher, stranger := mustKey(t), mustKey(t), mustKey(t)
	trust := signing.NewTrust(pkg.Public())
	good, _ := json.Marshal(mustNew(t))
	env, _ := Sign(mustNew(t), pkg)

	tampered := *env
	tampered.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(good, []byte("4.2.1"), []byte("4.2.2"), 1))
	badSig := *env
	badSig.Signatures = []signing.Signature{{KeyID: pkg.ID, Sig: base64.StdEncoding.EncodeToString(make([]byte, 64))}}
	pubEnv, _ := Sign(mustNew(t), publisher)
	strangerEnv, _ := Sign(mustNew(t), stranger)
	otherType := signing.Sign(pkg, "application/vnd.eucora.evidence-pack+json", good)

	otherRun := testRun()
	otherRun.Subjects[0].Digest["sha256"] = strings.Repeat("ab", 32)
	otherSt, _ := New(otherRun)
	otherEnv, _ := Sign(otherSt, pkg)

	late := testRun()
	late.StartedOn, late.FinishedOn = late.FinishedOn, late.StartedOn
	lateSt := mustNew(t)
	lateSt.Predicate.RunDetails.Metadata = BuildMetadata{InvocationID: "x", StartedOn: late.StartedOn, FinishedOn: late.FinishedOn}
	lateBytes, _ := json.Marshal(lateSt)

	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)

	for _, c := range []struct {
		name     string
		env      *signing.Envelope
		artifact string
		is       error
		want     string
	}{
		{"tampered payload", &tampered, msiHex, signing.ErrBadSignature, "does not verify"},
		{"zero signature", &badSig, msiHex, signing.ErrBadSignature, "does not verify"},
		{"unknown key", strangerEnv, msiHex, signing.ErrUnknownKey, "not trusted"},
		{"publisher key", pubEnv, msiHex, signing.ErrUnknownKey, "not trusted"},
		{"payload type", otherType, msiHex, signing.ErrEnvelope, "payload type"},
		{"no envelope", nil, msiHex, signing.ErrEnvelope, "no provenance envelope"},
		{"no signatures", &signing.Envelope{PayloadType: PayloadType, Payload: env.Payload}, msiHex, signing.ErrEnvelope, "no signatures"},
		{"bad artifact digest", env, "sha256:xyz", nil, "artifact digest"},
		{"subject mismatch", otherEnv, msiHex, ErrSubjectMismatch, "provenance is about sha256:" + strings.Repeat("ab", 32) + ", not the artifact sha256:" + msiHex},
		{"unordered times", signed(pkg, lateBytes), msiHex, ErrTimeOrder, "finishedOn 2026-03-14T08:26:53Z is before startedOn 2026-03-14T08:27:05.25Z"},
		{"predicate type", signed(pkg, statementJSON(t, func(m map[string]any) {
			m["predicateType"] = "https://slsa.dev/provenance/v0.2"
			m["predicate"] = map[string]any{"builder": map[string]any{"id": "x"}, "buildType": "y", "invocation": map[string]any{}}
		})), msiHex, ErrPredicateType, `predicateType: "https://slsa.dev/provenance/v0.2"`},
		{"statement type", signed(pkg, statementJSON(t, func(m map[string]any) { m["_type"] = "https://in-toto.io/Statement/v0.1" })),
			msiHex, ErrMalformed, "_type"},
		{"unknown top field", signed(pkg, statementJSON(t, func(m map[string]any) { m["comment"] = "x" })), msiHex, ErrMalformed, "comment: unknown field"},
		{"unknown predicate field", signed(pkg, statementJSON(t, func(m map[string]any) { pred(m)["buildConfig"] = map[string]any{} })),
			msiHex, ErrMalformed, "predicate.buildConfig: unknown field"},
		{"unknown metadata field", signed(pkg, statementJSON(t, func(m map[string]any) { sub(sub(pred(m), "runDetails"), "metadata")["reproducible"] = true })),
			msiHex, ErrMalformed, "predicate.runDetails.metadata.reproducible: unknown field"},
		{"unknown external parameter", signed(pkg, statementJSON(t, func(m map[string]any) {
			sub(sub(pred(m), "buildDefinition"), "externalParameters")["force"] = true
		})), msiHex, ErrMalformed, "externalParameters.force: unknown field"},
		{"unknown subject field", signed(pkg, statementJSON(t, func(m map[string]any) {
			m["subject"].([]any)[0].(map[string]any)["content"] = "AAAA"
		})), msiHex, ErrMalformed, "subject[0].content: unknown field"},
		{"case-variant key", signed(pkg, bytes.Replace(good, []byte(`"_type"`), []byte(`"_TYPE"`), 1)), msiHex, ErrMalformed, "_TYPE: unknown field"},
		{"duplicate key", signed(pkg, bytes.Replace(good, []byte(`"predicateType"`), []byte(`"predicateType":"https://slsa.dev/provenance/v1","predicateType"`), 1)),
			msiHex, ErrMalformed, "predicateType: key given twice"},
		{"duplicate digest key", signed(pkg, bytes.Replace(good, []byte(`"digest":{"sha256"`), []byte(`"digest":{"sha256":"00","sha256"`), 1)),
			msiHex, ErrMalformed, "subject[0].digest.sha256: key given twice"},
		{"trailing data", signed(pkg, append(append([]byte{}, good...), []byte(` {}`)...)), msiHex, ErrMalformed, "trailing data"},
		{"not JSON", signed(pkg, []byte("not json")), msiHex, ErrMalformed, "not valid JSON"},
		{"empty", signed(pkg, nil), msiHex, ErrMalformed, "not valid JSON"},
		{"array", signed(pkg, []byte("[]")), msiHex, ErrMalformed, "is a JSON array, want an object"},
		{"truncated", signed(pkg, good[:len(good)/2]), msiHex, ErrMalformed, "not valid JSON"},
		{"too deep", signed(pkg, []byte(`{"_type":`+deep+`}`)), msiHex, ErrMalformed, "nested more than 32 deep"},
		{"too large", signed(pkg, bytes.Repeat([]byte(" "), MaxStatementSize+1)), msiHex, ErrMalformed, "limit"},
		{"type confusion", signed(pkg, statementJSON(t, func(m map[string]any) { m["subject"] = "ContosoAgent.msi" })), msiHex, ErrMalformed, "subject: is a JSON string"},
		{"time not RFC 3339", signed(pkg, statementJSON(t, func(m map[string]any) { sub(sub(pred(m), "runDetails"), "metadata")["startedOn"] = "yesterday" })),
			msiHex, ErrMalformed, `predicate.runDetails.metadata.startedOn: "yesterday" is not an RFC 3339 time`},
		{"time a number", signed(pkg, statementJSON(t, func(m map[string]any) { sub(sub(pred(m), "runDetails"), "metadata")["finishedOn"] = 1773477000 })),
			msiHex, ErrMalformed, "predicate.runDetails.metadata.finishedOn: is not a string, want an RFC 3339 time string"},
		{"no subject", signed(pkg, statementJSON(t, func(m map[string]any) { m["subject"] = []any{} })), msiHex, ErrMalformed, "subject: empty"},
		{"subject without sha256", signed(pkg, statementJSON(t, func(m map[string]any) {
			m["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha512": strings.Repeat("0", 128)}
		})), msiHex, ErrMalformed, "subject[0].digest: no sha256"},
		{"digest not hex", signed(pkg, statementJSON(t, func(m map[string]any) {
			m["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": strings.ToUpper(msiHex)}
		})), msiHex, ErrMalformed, "subject[0].digest.sha256"},
		{"dependency without digest", signed(pkg, statementJSON(t, func(m map[string]any) {
			delete(sub(pred(m), "buildDefinition")["resolvedDependencies"].([]any)[2].(map[string]any), "digest")
		})), msiHex, ErrMalformed, "resolvedDependencies[2].digest: missing"},
		{"other build type", signed(pkg, statementJSON(t, func(m map[string]any) {
			sub(pred(m), "buildDefinition")["buildType"] = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
		})),
			msiHex, ErrMalformed, "buildType"},
		{"builder id not a URI", signed(pkg, statementJSON(t, func(m map[string]any) { sub(sub(pred(m), "runDetails"), "builder")["id"] = "hub-a" })),
			msiHex, ErrMalformed, "builder.id"},
		{"no invocation id", signed(pkg, statementJSON(t, func(m map[string]any) { delete(sub(sub(pred(m), "runDetails"), "metadata"), "invocationId") })),
			msiHex, ErrMalformed, "invocationId: missing"},
		{"no start", signed(pkg, statementJSON(t, func(m map[string]any) { delete(sub(sub(pred(m), "runDetails"), "metadata"), "startedOn") })),
			msiHex, ErrMalformed, "startedOn: missing"},
		{"no predicate", signed(pkg, statementJSON(t, func(m map[string]any) { delete(m, "predicate") })), msiHex, ErrMalformed, "predicate: missing"},
		{"no app", signed(pkg, statementJSON(t, func(m map[string]any) { delete(sub(sub(pred(m), "buildDefinition"), "externalParameters"), "app") })),
			msiHex, ErrMalformed, "externalParameters.app: missing"},
	} {
		_, keyID, err := Verify(c.env, trust, c.artifact)
		if err == nil || keyID != "" {
			t.Errorf("%s: verified (key %q)", c.name, keyID)
			continue
		}
		if c.is != nil && !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v naming %q", c.name, err, c.is, c.want)
		}
	}
	// The subject mismatch carries both digests.
	_, _, err := Verify(otherEnv, trust, "sha256:"+msiHex)
	var sm *SubjectMismatchError
	if !errors.As(err, &sm) || sm.Artifact != "sha256:"+msiHex || !reflect.DeepEqual(sm.Subjects, []string{"sha256:" + strings.Repeat("ab", 32)}) {
		t.Errorf("mismatch: %#v", err)
	}
	// A field error names its field.
	_, _, err = Verify(signed(pkg, lateBytes), trust, msiHex)
	var se *StatementError
	if !errors.As(err, &se) || se.Field != "predicate.runDetails.metadata" {
		t.Errorf("time order: %#v", err)
	}
}

func TestNewAndSignRefuseInvalidStatements(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Run)
		is   error
		want string
	}{
		{"no subjects", func(r *Run) { r.Subjects = nil }, ErrMalformed, "subject: empty"},
		{"unnamed subject", func(r *Run) { r.Subjects[0].Name = "" }, ErrMalformed, "subject[0].name"},
		{"no app", func(r *Run) { r.App = " " }, ErrMalformed, "app"},
		{"no version", func(r *Run) { r.Version = "" }, ErrMalformed, "version"},
		{"no builder", func(r *Run) { r.BuilderID = "" }, ErrMalformed, "builder.id"},
		{"no run id", func(r *Run) { r.InvocationID = "" }, ErrMalformed, "invocationId"},
		{"no finish", func(r *Run) { r.FinishedOn = time.Time{} }, ErrMalformed, "finishedOn"},
		{"finish before start", func(r *Run) { r.FinishedOn = r.StartedOn.Add(-time.Second) }, ErrTimeOrder, "before"},
		{"input without digest", func(r *Run) { r.Inputs[0].Digest = nil }, ErrMalformed, "resolvedDependencies[1].digest"},
		{"short git commit", func(r *Run) { r.Sources[0].Digest["gitCommit"] = "8f3a2e1" }, ErrMalformed, "gitCommit"},
		{"byproduct without name", func(r *Run) { r.Byproducts[0].Name = "" }, ErrMalformed, "byproducts[0]"},
	} {
		r := testRun()
		c.edit(&r)
		if _, err := New(r); !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New %s: %v, want %v naming %q", c.name, err, c.is, c.want)
		}
	}
	st := mustNew(t)
	st.PredicateType = "https://cyclonedx.org/bom"
	if _, err := Sign(st, mustKey(t)); !errors.Is(err, ErrPredicateType) {
		t.Errorf("Sign of a non-provenance statement: %v", err)
	}
	if _, err := Sign(mustNew(t), nil); !errors.Is(err, signing.ErrKeyFile) {
		t.Errorf("Sign without a key: %v", err)
	}
	// A git commit may be SHA-256 (git's sha256 object format).
	r := testRun()
	r.Sources[0].Digest["gitCommit"] = strings.Repeat("c", 64)
	if _, err := New(r); err != nil {
		t.Errorf("sha256 git commit: %v", err)
	}
}

func TestArtifact(t *testing.T) {
	d, err := Artifact("a.msi", "sha256:"+strings.ToUpper(msiHex))
	if err != nil || d.Name != "a.msi" || !reflect.DeepEqual(d.Digest, map[string]string{"sha256": msiHex}) {
		t.Errorf("%+v %v", d, err)
	}
	for _, bad := range []string{"", "sha256:", "sha1:" + msiHex, msiHex[:63], "sha256:" + msiHex + "00"} {
		if _, err := Artifact("a.msi", bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
