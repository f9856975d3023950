package deploy

import (
	"errors"
	"strings"
	"testing"
)

func TestDeriveRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts ArtifactFacts
		f     Factor
		want  float64
	}{
		{"signed known vendor consistent provenance", ArtifactFacts{Signature: SigKnownVendor, Provenance: "consistent"}, FactorSupplyChain, 0.1},
		{"signed known vendor unknown provenance", ArtifactFacts{Signature: SigKnownVendor}, FactorSupplyChain, 0.4},
		{"signed unknown vendor", ArtifactFacts{Signature: SigUnknownVendor, Provenance: "consistent"}, FactorSupplyChain, 0.4},
		{"unsigned", ArtifactFacts{Signature: SigUnsigned}, FactorSupplyChain, 0.9},
		{"invalid signature", ArtifactFacts{Signature: SigInvalid, Provenance: "consistent"}, FactorSupplyChain, 0.9},
		{"inconsistent provenance", ArtifactFacts{Signature: SigKnownVendor, Provenance: "inconsistent"}, FactorSupplyChain, 0.9},
		{"user context", ArtifactFacts{Privilege: &PrivilegeFacts{}}, FactorPrivilege, 0.2},
		{"admin", ArtifactFacts{Privilege: &PrivilegeFacts{RequiresAdmin: true}}, FactorPrivilege, 1.0},
		{"service", ArtifactFacts{Privilege: &PrivilegeFacts{InstallsService: true}}, FactorPrivilege, 1.0},
		{"driver", ArtifactFacts{Privilege: &PrivilegeFacts{InstallsDriver: true}}, FactorPrivilege, 1.0},
		{"no listeners", ArtifactFacts{Exposure: &ExposureFacts{}}, FactorExploitability, 0.2},
		{"user listener", ArtifactFacts{Exposure: &ExposureFacts{Listeners: 1}}, FactorExploitability, 0.6},
		{"scripting", ArtifactFacts{Exposure: &ExposureFacts{Scripting: true}}, FactorExploitability, 0.6},
		{"privileged listener", ArtifactFacts{Exposure: &ExposureFacts{Listeners: 2, PrivilegedListeners: 1}}, FactorExploitability, 1.0},
		{"own data", ArtifactFacts{DataAccess: &DataAccessFacts{}}, FactorDataAccess, 0.1},
		{"wide fs", ArtifactFacts{DataAccess: &DataAccessFacts{WideFilesystem: true}}, FactorDataAccess, 0.6},
		{"credential store", ArtifactFacts{DataAccess: &DataAccessFacts{CredentialStore: true, WideFilesystem: true}}, FactorDataAccess, 1.0},
		{"no high/critical", ArtifactFacts{Vulns: &VulnCounts{Medium: 9, Low: 40}}, FactorSBOMVulnerability, 0.0},
		{"high only", ArtifactFacts{Vulns: &VulnCounts{High: 1}}, FactorSBOMVulnerability, 0.7},
		{"critical", ArtifactFacts{Vulns: &VulnCounts{Critical: 1, High: 3}}, FactorSBOMVulnerability, 1.0},
		{"ring 0, one site", ArtifactFacts{Blast: &BlastFacts{Ring: 0, Scope: acmeFinLon}}, FactorBlastRadius, 0.2},
		{"ring 2, one site", ArtifactFacts{Blast: &BlastFacts{Ring: 2, Scope: acmeFinLon}}, FactorBlastRadius, 0.4},
		{"ring 1, acquisition", ArtifactFacts{Blast: &BlastFacts{Ring: 1, Scope: acme}}, FactorBlastRadius, 0.7},
		{"ring 4", ArtifactFacts{Blast: &BlastFacts{Ring: 4, Scope: acmeFinLon}}, FactorBlastRadius, 1.0},
		{"enterprise scope", ArtifactFacts{Blast: &BlastFacts{Ring: 1}}, FactorBlastRadius, 1.0},
		{"100 devices", ArtifactFacts{Blast: &BlastFacts{Ring: 1, Scope: acmeFinLon, Devices: 100}}, FactorBlastRadius, 0.2},
		{"101 devices", ArtifactFacts{Blast: &BlastFacts{Ring: 1, Scope: acmeFinLon, Devices: 101}}, FactorBlastRadius, 0.4},
		{"10001 devices", ArtifactFacts{Blast: &BlastFacts{Ring: 1, Scope: acmeFinLon, Devices: 10001}}, FactorBlastRadius, 1.0},
		{"ops none", ArtifactFacts{Operations: &OperationsFacts{}}, FactorOperationalComplexity, 0.1},
		{"ops reboot", ArtifactFacts{Operations: &OperationsFacts{Reboot: true}}, FactorOperationalComplexity, 0.4},
		{"ops two", ArtifactFacts{Operations: &OperationsFacts{Reboot: true, OfflineImport: true}}, FactorOperationalComplexity, 0.7},
		{"ops all", ArtifactFacts{Operations: &OperationsFacts{Reboot: true, OfflineImport: true, SpecialSequencing: true}}, FactorOperationalComplexity, 1.0},
		{"history clean", ArtifactFacts{History: &HistoryFacts{FailureRate: 0.049}}, FactorHistory, 0.1},
		{"history 5% failures", ArtifactFacts{History: &HistoryFacts{FailureRate: 0.05}}, FactorHistory, 0.6},
		{"history rollback hard", ArtifactFacts{History: &HistoryFacts{RollbackDifficult: true}}, FactorHistory, 0.6},
		{"history incident", ArtifactFacts{History: &HistoryFacts{Incidents: 1}}, FactorHistory, 1.0},
	} {
		ds := tc.facts.Derive()
		if len(ds) != 1 || ds[0].Factor != tc.f || ds[0].Value != tc.want || !strings.Contains(ds[0].Rule, "->") {
			t.Errorf("%s: %+v, want %s=%v", tc.name, ds, tc.f, tc.want)
		}
		// Every derived value is a documented rubric level of the model.
		s, _ := ModelV1.Spec(tc.f)
		if strings.HasPrefix(s.Meaning(tc.want), "between") {
			t.Errorf("%s: derived %v is not a rubric level of %s", tc.name, tc.want, tc.f)
		}
	}
	if ds := (ArtifactFacts{}).Derive(); len(ds) != 0 {
		t.Fatalf("no facts derived %v", ds)
	}
}

func TestBuildRiskInput(t *testing.T) {
	facts := ArtifactFacts{Signature: SigUnsigned, Privilege: &PrivilegeFacts{InstallsService: true}, Exposure: &ExposureFacts{Listeners: 1},
		Vulns: &VulnCounts{High: 2}, Blast: &BlastFacts{Ring: 2, Scope: acmeFin}}
	manual := map[Factor]float64{FactorDataAccess: 0.1, FactorOperationalComplexity: 0.4, FactorHistory: 0.1}
	in, ds, err := BuildRiskInput("v1.0", facts, manual, false, Ring2Pilot)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 5 || ds[0].Factor != FactorPrivilege || ds[1].Factor != FactorSupplyChain {
		t.Fatalf("derivations in model order: %+v", ds)
	}
	a, err := Score(in)
	// 20*1 + 15*0.9 + 10*0.6 + 10*0.1 + 15*0.7 + 10*0.4 + 10*0.4 + 10*0.1 = 60
	if err != nil || a.Score != 60 || !a.CABRequired {
		t.Fatalf("%+v %v", a, err)
	}
	// A manual value contradicting a fact is refused, naming both.
	manual[FactorSupplyChain] = 0.1
	_, _, err = BuildRiskInput("v1.0", facts, manual, false, Ring2Pilot)
	var ce *FactorConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "factors.supply_chain: manual value 0.1 contradicts 0.9") {
		t.Fatal(err)
	}
	// The same value as derived is accepted.
	manual[FactorSupplyChain] = 0.9
	if _, _, err := BuildRiskInput("v1.0", facts, manual, false, Ring2Pilot); err != nil {
		t.Fatal(err)
	}
	// Facts that leave a factor undetermined need a manual value.
	delete(manual, FactorHistory)
	if _, _, err := BuildRiskInput("v1.0", facts, manual, false, Ring2Pilot); err == nil || !strings.Contains(err.Error(), "factors.history: missing") {
		t.Fatal(err)
	}
}
