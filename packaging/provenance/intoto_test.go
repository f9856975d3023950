package provenance

import (
	"encoding/json"
	"testing"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	attestation "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/eucora/eucora/internal/signing"
)

// TestStatementDecodesWithInTotoTypes decodes what New and Sign make with
// the in-toto attestation module's own Go types (protobuf messages, which
// protojson decodes refusing unknown fields) and runs their validators, so
// the plain structs of this package cannot drift from the specification.
// The module is used by this test only: the binary carries no protobuf
// reflection for it.
func TestStatementDecodesWithInTotoTypes(t *testing.T) {
	key := mustKey(t)
	env, err := Sign(mustNew(t), key)
	if err != nil {
		t.Fatal(err)
	}
	payload, _, err := signing.Verify(env, signing.NewTrust(key.Public()), PayloadType)
	if err != nil {
		t.Fatal(err)
	}
	var st attestation.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(payload, &st); err != nil {
		t.Fatalf("in-toto Statement: %v", err)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("in-toto Statement.Validate: %v", err)
	}
	if st.GetType() != attestation.StatementTypeUri || st.GetPredicateType() != PredicateType {
		t.Errorf("type %s, predicate type %s", st.GetType(), st.GetPredicateType())
	}
	if s := st.GetSubject(); len(s) != 1 || s[0].GetName() != "ContosoAgent-4.2.1.msi" || s[0].GetDigest()["sha256"] != msiHex {
		t.Errorf("subject %v", s)
	}
	predJSON, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		t.Fatal(err)
	}
	var p slsa.Provenance
	if err := protojson.Unmarshal(predJSON, &p); err != nil {
		t.Fatalf("SLSA Provenance v1: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("SLSA Provenance.Validate: %v", err)
	}
	bd, rd := p.GetBuildDefinition(), p.GetRunDetails()
	if bd.GetBuildType() != BuildTypeIntake {
		t.Errorf("buildType %s", bd.GetBuildType())
	}
	ext := bd.GetExternalParameters().AsMap()
	if ext["app"] != "contoso-agent" || ext["version"] != "4.2.1" || len(ext["files"].([]any)) != 1 {
		t.Errorf("externalParameters %v", ext)
	}
	deps := bd.GetResolvedDependencies()
	if len(deps) != 3 || deps[0].GetDigest()["sha256"] != msiHex || deps[2].GetDigest()["gitCommit"] != commit ||
		deps[2].GetUri() != "git+https://git.example/contoso/agent@refs/tags/v4.2.1" {
		t.Errorf("resolvedDependencies %v", deps)
	}
	for i, d := range deps {
		if err := d.Validate(); err != nil {
			t.Errorf("resolvedDependencies[%d]: %v", i, err)
		}
	}
	if rd.GetBuilder().GetId() != "https://eucora.dev/factory/hub/hub-a" || rd.GetBuilder().GetVersion()["eucora"] != "v1.4.0" {
		t.Errorf("builder %v", rd.GetBuilder())
	}
	md := rd.GetMetadata()
	run := testRun()
	if md.GetInvocationId() != run.InvocationID || !md.GetStartedOn().AsTime().Equal(run.StartedOn) || !md.GetFinishedOn().AsTime().Equal(run.FinishedOn) {
		t.Errorf("metadata %v", md)
	}
	if b := rd.GetByproducts(); len(b) != 1 || b[0].GetMediaType() != "application/spdx+json" {
		t.Errorf("byproducts %v", b)
	}
	// And the in-toto types refuse what this package refuses for the same
	// reason: a field the specification does not have.
	var bad attestation.Statement
	extra, _ := json.Marshal(map[string]any{"_type": StatementType, "subject": []any{}, "predicateType": PredicateType, "predicate": map[string]any{}, "comment": "x"})
	if err := protojson.Unmarshal(extra, &bad); err == nil {
		t.Error("protojson accepted an unknown statement field")
	}
}
