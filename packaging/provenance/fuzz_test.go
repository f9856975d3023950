package provenance

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/eucora/eucora/internal/signing"
)

// FuzzVerify signs arbitrary payloads with the packaging key, so that
// Verify's statement decoding and validation, which only a signed payload
// reaches, see them.
func FuzzVerify(f *testing.F) {
	good, _ := json.Marshal(mustNew(f))
	f.Add(good)
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","_type":"x"}`))
	f.Add([]byte(`{"predicate":{"runDetails":{"metadata":{"startedOn":"2026-01-01T00:00:00Z"}}}}`))
	f.Add([]byte(`[[[[[[{}]]]]]]`))
	key := mustKey(f)
	trust := signing.NewTrust(key.Public())
	f.Fuzz(func(t *testing.T, payload []byte) {
		st, keyID, err := Verify(signing.Sign(key, PayloadType, payload), trust, msiHex)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrPredicateType) && !errors.Is(err, ErrTimeOrder) && !errors.Is(err, ErrSubjectMismatch) {
				t.Fatalf("untyped refusal: %v", err)
			}
			return
		}
		if keyID != key.ID {
			t.Fatalf("key %s", keyID)
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("verified an invalid statement: %v", err)
		}
		// What verified signs and verifies again to the same statement.
		env, err := Sign(st, key)
		if err != nil {
			t.Fatalf("cannot sign what verified: %v", err)
		}
		again, _, err := Verify(env, trust, msiHex)
		if err != nil || !reflect.DeepEqual(normalise(again), normalise(st)) {
			t.Fatalf("re-signed statement: %v", err)
		}
	})
}

// normalise drops what a JSON round trip may change without changing
// meaning: empty and nil slices and maps, time zones.
func normalise(st Statement) Statement {
	b, _ := json.Marshal(st)
	var out Statement
	json.Unmarshal(b, &out)
	md := &out.Predicate.RunDetails.Metadata
	md.StartedOn, md.FinishedOn = md.StartedOn.UTC(), md.FinishedOn.UTC()
	return out
}
