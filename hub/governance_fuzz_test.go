package hub

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
)

// checkGov asserts the governance decoder contract on any input: an error
// is an *InputError with a 4xx status and a message; a success satisfies
// the deploy rules (valid reports why not). It returns the decoded value
// and whether decoding succeeded.
func checkGov[T any](t *testing.T, data []byte, dec func(*bytes.Reader) (T, error), valid func(T) error) (T, bool) {
	t.Helper()
	v, err := dec(bytes.NewReader(data))
	if err != nil {
		var ie *InputError
		if !errors.As(err, &ie) || (ie.Status != 400 && ie.Status != 413 && ie.Status != 422) || ie.Msg == "" {
			t.Fatalf("error %#v is not a 4xx InputError", err)
		}
		return v, false
	}
	if err := valid(v); err != nil {
		t.Fatalf("decoder accepted invalid %+v: %v", v, err)
	}
	return v, true
}

func seeds(f *testing.F, ss ...string) {
	for _, s := range ss {
		f.Add([]byte(s))
	}
}

var sha = "sha256:" + strings.Repeat("a", 64)

func FuzzDecodeAppRequest(f *testing.F) {
	seeds(f, `{"id":"com.acme.ledger","name":"Ledger","owner":"fin","category":"finance","support_tier":"tier-1","licensing_model":"free","allowed_scope":{"acquisition":"acme"}}`,
		`{"id":"a b"}`, `{"id":"x","allowed_scope":{"site":"s"}}`, `{}`, `null`, `[]`, `{"id":"x","lob":"yes"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.Application, error) { return DecodeAppRequest(r) }, deploy.Application.Validate)
	})
}

func FuzzDecodeVersionRequest(f *testing.F) {
	seeds(f, `{"version":"2.4.1","os_matrix":[{"os":"windows","versions":">= 10","arch":"x64"}],"dependencies":[{"app_id":"vc.redist","constraint":">= 14"}]}`,
		`{"version":"1","os_matrix":[]}`, `{"version":"1","os_matrix":[{"os":"w"}],"dependencies":[{"app_id":"app"}]}`, `{"version":null}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.ApplicationVersion, error) { return DecodeVersionRequest(r, "app") }, deploy.ApplicationVersion.Validate)
	})
}

func FuzzDecodeArtifactRequest(f *testing.F) {
	seeds(f, `{"platform":"msi","name":"a.msi","sha256":"`+sha+`","size":10,"signing":{"state":"unsigned"},"scan_decision":"pass"}`,
		`{"platform":"exe"}`, `{"platform":"msi","sha256":"md5:1","size":-1}`, `{"size":1e99}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.Artifact, error) { return DecodeArtifactRequest(r, "app", "1.0", "pat") }, deploy.Artifact.Validate)
	})
}

func FuzzDecodeTransitionRequest(f *testing.F) {
	seeds(f, `{"to":"staged"}`, `{"to":"flying"}`, `{"to":1}`, `{}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (api.TransitionRequest, error) { return DecodeTransitionRequest(r) }, func(v api.TransitionRequest) error {
			if !v.To.Valid() {
				return errors.New("to")
			}
			return nil
		})
	})
}

func FuzzDecodeAssessmentRequest(f *testing.F) {
	seeds(f, `{"id":"as-1","app_id":"a","version":"1","input":{"model":"v1.0","factors":{"privilege":0.2,"supply_chain":0.1,"exploitability":0.2,"data_access":0.1,"sbom_vulnerability":0,"blast_radius":0.4,"operational_complexity":0.1,"history":0.1},"privileged_tooling":false,"target_ring":2}}`,
		`{"id":"as-1","app_id":"a","version":"1","input":{"model":"v1.0","factors":{"privilege":2}}}`, `{"id":"x","app_id":"a","version":"1","input":null}`,
		`{"id":"x","app_id":"a","version":"1","input":{"model":"v1.0","model":"v1.0"}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.RiskInput, error) {
			_, in, err := DecodeAssessmentRequest(r)
			return in, err
		}, func(in deploy.RiskInput) error { _, err := deploy.Score(in); return err })
	})
}

func FuzzDecodeApprovalRequest(f *testing.F) {
	seeds(f, `{"id":"cab-1","subject":"intent:i-1","requested_by":"rita","decision":"approved","expires_at":"2026-12-01T00:00:00Z"}`,
		`{"id":"cab-1","subject":"","requested_by":"rita","decision":"maybe"}`, `{"id":"c","subject":"s","requested_by":"r","decision":"approved","expires_at":"2020-01-01T00:00:00Z"}`)
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.ApprovalRecord, error) {
			return DecodeApprovalRequest(r, deploy.Principal{ID: "carol", Role: deploy.RoleCABApprover}, at)
		}, deploy.ApprovalRecord.Validate)
	})
}

func FuzzDecodeExceptionRequest(f *testing.F) {
	seeds(f, `{"id":"ex-1","intent_id":"i-1","findings":["CVE-1"],"justification":"why","compensating_controls":["edr"],"accountable_owner":"fin","requested_by":"pat","expires_at":"2026-12-01T00:00:00Z"}`,
		`{"id":"ex-1","intent_id":"i-1","compensating_controls":[]}`, `{"id":"ex-1","artifact":"nope"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.Exception, error) { return DecodeExceptionRequest(r) }, func(e deploy.Exception) error {
			if e.Artifact == "" {
				e.Artifact = digest.Digest("sha256:" + strings.Repeat("0", 64)) // filled from the intent by the handler
			}
			return e.Validate()
		})
	})
}

func FuzzDecodeIntentRequest(f *testing.F) {
	seeds(f, `{"id":"i-1","app_id":"a","version":"1","artifact":"`+sha+`","ring":2,"scope":{"acquisition":"acme","bu":"fin"},"schedule":{"not_before":"2026-11-28T12:00:00Z","deadline":"2026-12-01T00:00:00Z"},"assessment_id":"as-1"}`,
		`{"id":"i-1","app_id":"a","version":"1","artifact":"`+sha+`","ring":2,"scope":null}`, `{"ring":-1}`,
		`{"id":"i-1","app_id":"a","version":"1","artifact":"`+sha+`","ring":1,"scope":{"acquisition":"acme"},"schedule":{"not_before":"2026-11-28T12:00:00Z","deadline":"2026-11-27T00:00:00Z"},"assessment_id":"as-1"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.Intent, error) {
			_, in, err := DecodeIntentRequest(r, "rita")
			return in, err
		}, deploy.Intent.Validate)
	})
}

func FuzzDecodePublishRequest(f *testing.F) {
	seeds(f, `{}`, `{"approval":"cab-1","exception":"ex-1","evidence":"`+sha+`"}`, `{"approval":"a b"}`, `{"evidence":"x"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (api.PublishRequest, error) { return DecodePublishRequest(r) }, func(v api.PublishRequest) error {
			if (v.Approval != "" && !deploy.ValidIdentifier(v.Approval)) || (v.Exception != "" && !deploy.ValidIdentifier(v.Exception)) {
				return errors.New("ids")
			}
			return nil
		})
	})
}

func FuzzDecodePromoteRequest(f *testing.F) {
	seeds(f, `{"site_class":"online","install_attempts":100,"install_successes":98,"time_to_compliance":"24h","planes":["intune"],"rollback_validated":["intune"]}`,
		`{"site_class":"air-gapped","install_attempts":1,"install_successes":2,"time_to_compliance":"1h"}`, `{"site_class":"online","time_to_compliance":"-1h"}`,
		`{"site_class":"air-gapped","install_attempts":5,"install_successes":5,"time_to_compliance":"200h","transfer_window":"x"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.PromotionInput, error) {
			_, in, err := DecodePromoteRequest(r)
			return in, err
		}, func(in deploy.PromotionInput) error {
			if _, ok := deploy.TimeToCompliance(in.SiteClass); !ok || in.TimeToCompliance <= 0 || in.InstallSuccesses < 0 || in.InstallSuccesses > in.InstallAttempts {
				return fmt.Errorf("measured %+v", in)
			}
			return nil
		})
	})
}

func FuzzDecodeElevationRequest(f *testing.F) {
	seeds(f, `{"id":"el-1","device":{"device_id":"pc","cohort":"fin","managed":true},"device_scope":{"acquisition":"acme"},"app":{"app_id":"a","risk_score":20,"risk_model":"v1.0"},"duration":"1h"}`,
		`{"id":"el-1","duration":"forever"}`, `{"id":"el 1"}`, `{"id":"e","duration":"1h","device_scope":{"bu":"x"}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.ElevationRequest, error) {
			_, er, err := DecodeElevationRequest(r)
			return er, err
		}, func(er deploy.ElevationRequest) error {
			if !deploy.ValidIdentifier(er.ID) || er.Duration <= 0 {
				return errors.New("elevation")
			}
			return er.DeviceScope.Validate()
		})
	})
}

func FuzzDecodeEvidencePack(f *testing.F) {
	seeds(f, `{"schema":"`+deploy.EvidenceSchema+`","intent_id":"i-1","app_id":"a","version":"1","created_at":"2026-11-28T12:00:00Z"}`,
		`{"schema":"nope"}`, ``, `{"schema":"`+deploy.EvidenceSchema+`","intent_id":"i-1","intent_id":"i-2"}`, `{"risk_assessment":{"score":"x"}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (deploy.EvidencePack, error) { return DecodeEvidencePack(r) }, func(p deploy.EvidencePack) error {
			return p.Validate()
		})
	})
}

func FuzzDecodeScopeRequest(f *testing.F) {
	seeds(f, `{"scope":{"acquisition":"acme","bu":"fin"},"approval":"cab-s"}`, `{"scope":{"site":"x"}}`, `{"approval":"a b"}`, `{"scope":null}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkGov(t, data, func(r *bytes.Reader) (api.ScopeRequest, error) { return DecodeScopeRequest(r) }, func(v api.ScopeRequest) error {
			if v.Approval != "" && !deploy.ValidIdentifier(v.Approval) {
				return errors.New("approval")
			}
			return v.Scope.Validate()
		})
	})
}
