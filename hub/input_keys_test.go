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
	"github.com/eucora/eucora/hub/api"
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
		{"site", api.SiteRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeSiteRequest(r); return err }},
		{"token", api.TokenRequest{}, func(r *bytes.Reader) error { _, err := DecodeTokenRequest(r); return err }},
		{"join", api.JoinRequest{}, func(r *bytes.Reader) error { _, err := DecodeJoinRequest(r); return err }},
		{"events", api.EventsIngest{}, func(r *bytes.Reader) error { _, err := DecodeEventsBatch(r); return err }},
		{"app", api.AppRequest{}, func(r *bytes.Reader) error { _, err := DecodeAppRequest(r); return err }},
		{"version", api.VersionRequest{}, func(r *bytes.Reader) error { _, err := DecodeVersionRequest(r, "app"); return err }},
		{"artifact", api.ArtifactRequest{}, func(r *bytes.Reader) error { _, err := DecodeArtifactRequest(r, "app", "1.0", "kim"); return err }},
		{"transition", api.TransitionRequest{}, func(r *bytes.Reader) error { _, err := DecodeTransitionRequest(r); return err }},
		{"assessment", api.AssessmentRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeAssessmentRequest(r); return err }},
		{"approval", api.ApprovalRequest{}, func(r *bytes.Reader) error { _, err := DecodeApprovalRequest(r, approver, time.Now()); return err }},
		{"exception", api.ExceptionRequest{}, func(r *bytes.Reader) error { _, err := DecodeExceptionRequest(r); return err }},
		{"intent", api.IntentRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeIntentRequest(r, "rita"); return err }},
		{"publish", api.PublishRequest{}, func(r *bytes.Reader) error { _, err := DecodePublishRequest(r); return err }},
		{"promote", api.PromoteRequest{}, func(r *bytes.Reader) error { _, _, err := DecodePromoteRequest(r); return err }},
		{"elevation", api.ElevationRequest{}, func(r *bytes.Reader) error { _, _, err := DecodeElevationRequest(r); return err }},
		{"scope", api.ScopeRequest{}, func(r *bytes.Reader) error { _, err := DecodeScopeRequest(r); return err }},
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
