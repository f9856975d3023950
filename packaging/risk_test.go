package packaging

import (
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/packaging/facts"
)

func factorOf(ds []deploy.Derivation, f deploy.Factor) (float64, bool) {
	for _, d := range ds {
		if d.Factor == f {
			return d.Value, true
		}
	}
	return 0, false
}

func TestRiskFactsDriveTheRubric(t *testing.T) {
	msiService := &facts.Facts{Kind: facts.KindMSI, Identity: facts.Identity{Vendor: "Example Corp"},
		Signature: &facts.Signature{State: facts.SigTrusted, Signer: "CN=Example Corp Code Signing, O=Example Corp"},
		Privilege: facts.Privilege{RequiresAdmin: true, InstallsService: true, Reasons: []string{"ServiceInstall row ExampleSvc"}},
		Services:  []facts.Service{{Name: "ExampleSvc", Account: "LocalSystem"}}, Listeners: []string{"firewall exception TCP 8443"}}
	plainDeb := &facts.Facts{Kind: facts.KindDeb, Signature: &facts.Signature{State: facts.SigUnsigned}, Privilege: facts.Privilege{RequiresAdmin: true}}
	scriptedDeb := &facts.Facts{Kind: facts.KindDeb, Signature: &facts.Signature{State: facts.SigUnsigned}, Privilege: facts.Privilege{RequiresAdmin: true},
		Scripts: []facts.Script{{Name: "postinst", Kind: "maintainer-script"}}}
	kext := &facts.Facts{Kind: facts.KindPkg, Identity: facts.Identity{Vendor: "Other Vendor"}, Signature: &facts.Signature{State: facts.SigUntrusted, Signer: "CN=Someone Else"},
		Privilege: facts.Privilege{RequiresAdmin: true, InstallsDriver: true}}
	expired := &facts.Facts{Kind: facts.KindPE, Signature: &facts.Signature{State: facts.SigExpired, Signer: "CN=Old"}}
	vbs := &facts.Facts{Kind: facts.KindMSI, Signature: &facts.Signature{State: facts.SigUnsigned}, Scripts: []facts.Script{{Name: "CA1", Kind: "custom-action", Detail: "VBScript, deferred"}}}

	cases := []struct {
		name   string
		f      *facts.Facts
		prov   bool
		vulns  *deploy.VulnCounts
		want   map[deploy.Factor]float64
		reason string
	}{
		{"signed MSI with a LocalSystem service and a listener", msiService, true, &deploy.VulnCounts{High: 1},
			map[deploy.Factor]float64{deploy.FactorSupplyChain: 0.1, deploy.FactorPrivilege: 1.0, deploy.FactorExploitability: 1.0, deploy.FactorSBOMVulnerability: 0.7}, "ServiceInstall row ExampleSvc"},
		{"deb without scripts", plainDeb, true, &deploy.VulnCounts{},
			map[deploy.Factor]float64{deploy.FactorSupplyChain: 0.9, deploy.FactorPrivilege: 0.2, deploy.FactorExploitability: 0.2, deploy.FactorSBOMVulnerability: 0.0}, "runs no code of its own as root"},
		{"deb with a postinst", scriptedDeb, true, nil,
			map[deploy.Factor]float64{deploy.FactorPrivilege: 1.0}, ""},
		{"pkg with a kext signed by someone else", kext, true, nil,
			map[deploy.Factor]float64{deploy.FactorSupplyChain: 0.9, deploy.FactorPrivilege: 1.0}, "inconsistent"},
		{"expired signature counts as invalid", expired, false, nil,
			map[deploy.Factor]float64{deploy.FactorSupplyChain: 0.9}, "unknown: no verified provenance"},
		{"VBScript custom action is scripting", vbs, true, nil,
			map[deploy.Factor]float64{deploy.FactorExploitability: 0.6}, "embedded script CA1"},
	}
	for _, c := range cases {
		af, why := RiskFacts(c.f, c.prov, c.vulns)
		ds := af.Derive()
		for fac, want := range c.want {
			if got, ok := factorOf(ds, fac); !ok || got != want {
				t.Errorf("%s: %s = %v (derived %v), want %v", c.name, fac, got, ok, want)
			}
		}
		if _, ok := factorOf(ds, deploy.FactorDataAccess); ok {
			t.Errorf("%s: data access derived from a file", c.name)
		}
		if c.reason != "" {
			found := false
			for _, r := range why {
				found = found || strings.Contains(r.Reason, c.reason)
			}
			if !found {
				t.Errorf("%s: no reason containing %q in %+v", c.name, c.reason, why)
			}
		}
	}
}
