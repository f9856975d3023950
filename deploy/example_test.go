package deploy_test

import (
	"fmt"
	"time"

	"github.com/eucora/eucora/deploy"
)

func ExampleScore() {
	in, err := deploy.ParseRiskInput([]byte(`{"model":"v1.0","factors":{"privilege":1,"supply_chain":0.4,
		"exploitability":0.6,"data_access":0.1,"sbom_vulnerability":0.7,"blast_radius":0.4,
		"operational_complexity":0.4,"history":0.1},"privileged_tooling":false,"target_ring":2}`))
	if err != nil {
		panic(err)
	}
	a, _ := deploy.Score(in)
	fmt.Println(a.Score, a.CABRequired)
	for _, c := range a.Contributions[:2] {
		fmt.Printf("%s %g x %g = %g\n", c.Factor, c.Weight, c.Value, c.Contribution)
	}
	// Output:
	// 52.5 true
	// privilege 20 x 1 = 20
	// supply_chain 15 x 0.4 = 6
}

func ExampleAuthorize() {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	pat := deploy.Principal{ID: "pat", Role: deploy.RolePackagingEngineer, Scope: deploy.Scope{Acquisition: "acme"}}
	obj := deploy.Object{Kind: "intent", ID: "i-1", Scope: deploy.Scope{Acquisition: "acme", BU: "fin"}, PackagedBy: "pat", Ring: deploy.Ring2Pilot}
	d := deploy.Authorize(pat, deploy.ActionPublish, obj, at)
	fmt.Println(d.Allowed, d.Failed())
	// Output:
	// false [sod.packaging-no-production sod.packager-separation]
}

func ExampleEvaluatePromotion() {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	risk, _ := deploy.Score(deploy.RiskInput{Model: "v1.0", TargetRing: deploy.Ring2Pilot, Factors: map[deploy.Factor]float64{
		"privilege": 0.2, "supply_chain": 0.1, "exploitability": 0.2, "data_access": 0.1,
		"sbom_vulnerability": 0, "blast_radius": 0.4, "operational_complexity": 0.1, "history": 0.1}})
	d := deploy.EvaluatePromotion(deploy.PromotionInput{
		IntentID: "i-1", Ring: deploy.Ring1Canary, SiteClass: deploy.SiteIntermittent,
		InstallAttempts: 200, InstallSuccesses: 195, TimeToCompliance: 80 * time.Hour,
		Planes: []string{"intune"}, RollbackValidated: []string{"intune"}, Risk: &risk, EvidenceStored: true,
	}, at)
	fmt.Println(d.Allowed)
	for _, r := range d.Reasons() {
		fmt.Println(r)
	}
	// Output:
	// false
	// Ring 1 (Canary) install success 195/200 = 97.50% (need >= 98%)
	// time-to-compliance 80h (intermittent target <= 72h)
}
