package hub

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/store"
)

// Every API decoder refuses a repeated key and a key that matches a field
// only when case is ignored, with a 400 naming the key, before validating.
func TestDecodersRefuseDuplicateAndCaseVariantKeys(t *testing.T) {
	approver := deploy.Principal{ID: "carol", Role: deploy.RoleCABApprover}
	decoders := []struct {
		name string
		typ  any
		dec  func(r *bytes.Reader) error
	}{
		{"site", SiteRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeSiteRequest(r); return err }},
		{"token", TokenRequest{}, func(r *bytes.Reader) error { _, err := DecodeTokenRequest(r); return err }},
		{"join", JoinRequest{}, func(r *bytes.Reader) error { _, err := DecodeJoinRequest(r); return err }},
		{"events", store.EventsIngestBody{}, func(r *bytes.Reader) error { _, err := DecodeEventsBatch(r); return err }},
		{"app", AppRequest{}, func(r *bytes.Reader) error { _, err := DecodeAppRequest(r); return err }},
		{"version", VersionRequest{}, func(r *bytes.Reader) error { _, err := DecodeVersionRequest(r, "app"); return err }},
		{"artifact", ArtifactRequest{}, func(r *bytes.Reader) error { _, err := DecodeArtifactRequest(r, "app", "1.0", "kim"); return err }},
		{"transition", TransitionRequest{}, func(r *bytes.Reader) error { _, err := DecodeTransitionRequest(r); return err }},
		{"assessment", AssessmentRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeAssessmentRequest(r); return err }},
		{"approval", ApprovalRequest{}, func(r *bytes.Reader) error { _, err := DecodeApprovalRequest(r, approver, time.Now()); return err }},
		{"exception", ExceptionRequest{}, func(r *bytes.Reader) error { _, err := DecodeExceptionRequest(r); return err }},
		{"intent", IntentRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeIntentRequest(r, "rita"); return err }},
		{"publish", PublishRequest{}, func(r *bytes.Reader) error { _, err := DecodePublishRequest(r); return err }},
		{"promote", PromoteRequest{}, func(r *bytes.Reader) error { _, _, err := DecodePromoteRequest(r); return err }},
		{"elevation", ElevationRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeElevationRequest(r); return err }},
		{"scope", ScopeRequest{}, func(r *bytes.Reader) error { _, err := DecodeScopeRequest(r); return err }},
	}
	cases := 0
	for _, d := range decoders {
		ft := reflect.TypeOf(d.typ)
		for i := 0; i < ft.NumField(); i++ {
			tag, _, _ := strings.Cut(ft.Field(i).Tag.Get("json"), ",")
			if tag == "" || tag == "-" || strings.ToUpper(tag) == tag {
				continue
			}
			variant := strings.ToUpper(tag[:1]) + tag[1:]
			for _, body := range []struct{ doc, key string }{
				{`{"` + tag + `":null,"` + tag + `":null}`, tag},
				{`{"` + variant + `":null}`, variant},
				{`{"` + tag + `":null,"` + strings.ToUpper(tag) + `":null}`, strings.ToUpper(tag)},
			} {
				cases++
				err := d.dec(bytes.NewReader([]byte(body.doc)))
				var ie *InputError
				if !errors.As(err, &ie) || ie.Status != http.StatusBadRequest || ie.Field != body.key {
					t.Errorf("%s %s: %v, want 400 naming %q", d.name, body.doc, err, body.key)
				}
			}
		}
	}
	t.Logf("%d decoders, %d bodies", len(decoders), cases)
}
