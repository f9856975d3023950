package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
)

// checkDecoded asserts the decoder contract on any input: an error is an
// *InputError with a 4xx status; a success is valid and survives a JSON
// round trip unchanged.
func checkDecoded[T any](t *testing.T, data []byte, dec func(*bytes.Reader) (T, error), valid func(T) error) {
	t.Helper()
	v, ok := checkGov(t, data, dec, valid)
	if !ok {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := dec(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(v, v2) {
		t.Fatalf("round trip: %+v -> %s -> %+v, %v", v, b, v2, err)
	}
}

func FuzzDecodeSiteRequest(f *testing.F) {
	for _, s := range []string{
		`{"name":"berlin","class":"air-gapped","scope":{"acquisition":"acme","bu":"eu","site":"ber"}}`,
		`{"name":"a","class":"online"}`, `{"name":"a","class":"online","x":1}`, `{}`, `[]`, `null`, `{"name":"a"}{}`,
		`{"name":"a","class":"online","scope":{"site":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, data, func(r *bytes.Reader) (api.SiteRequest, error) { v, _, err := DecodeSiteRequest(r); return v, err },
			func(v api.SiteRequest) error {
				return store.ValidateSite(store.Site{Name: v.Name, Class: v.Class, Scope: v.Scope})
			})
	})
}

func FuzzDecodeTokenRequest(f *testing.F) {
	for _, s := range []string{
		`{"name":"ops","role":"auditor"}`, `{"name":"ops","role":"platform-admin","scope":{"acquisition":"a"}}`,
		`{"name":"ops","role":"root"}`, `{"name":"","role":"auditor"}`, `{"role":7}`,
		`{"name":"ops","role":"auditor","role":"platform-admin"}`, `{"name":"ops","Role":"platform-admin"}`,
		`{"name":"ops","role":"auditor","scope":{"bu":"a","bu":"b"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeTokenRequest(bytes.NewReader(data)); err == nil {
			// Accepted: every top-level key is spelled exactly as a field
			// and appears once, so the role read is the only role sent.
			seen := map[string]bool{}
			for _, k := range topLevelKeys(data) {
				if seen[k] || (k != "name" && k != "role" && k != "scope") {
					t.Fatalf("accepted %q with key %q", data, k)
				}
				seen[k] = true
			}
		}
		checkDecoded(t, data, func(r *bytes.Reader) (api.TokenRequest, error) { return DecodeTokenRequest(r) },
			func(v api.TokenRequest) error {
				if !store.ValidName(v.Name) {
					return errors.New("name")
				}
				return v.Scope.Validate()
			})
	})
}

func FuzzDecodeJoinRequest(f *testing.F) {
	f.Add([]byte(`{"node_id":"n2","raft_addr":"127.0.0.1:8451","http_addr":"http://127.0.0.1:8450"}`))
	f.Add([]byte(`{"node_id":"n2","raft_addr":"nope","http_addr":"ftp://x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, data, func(r *bytes.Reader) (api.JoinRequest, error) { return DecodeJoinRequest(r) },
			func(v api.JoinRequest) error {
				if !store.ValidName(v.NodeID) || !strings.Contains(v.RaftAddr, ":") {
					return errors.New("join")
				}
				return nil
			})
	})
}

func FuzzDecodeEventsBatch(f *testing.F) {
	f.Add([]byte(`{"origin":"berlin","events":[{"sequence":1,"id":"e1","time":"2026-11-28T12:00:00Z","actor":"apt","action":"install","object":"pkg/curl","outcome":"ok","data":{"v":"8.0"}}]}`))
	f.Add([]byte(`{"origin":"hub","events":[{"sequence":1,"time":"2026-11-28T12:00:00Z","action":"x","outcome":"ok"}]}`))
	f.Add([]byte(`{"origin":"b","events":[]}`))
	f.Add([]byte(`{"origin":"b","events":[{"sequence":18446744073709551615,"time":"2026-11-28T12:00:00+02:00","action":"x","outcome":"ok","data":[1,2]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, data, func(r *bytes.Reader) (store.EventsIngestBody, error) { return DecodeEventsBatch(r) },
			store.ValidateIngest)
	})
}

// topLevelKeys lists the keys of a JSON object in order, repeats included.
func topLevelKeys(data []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	var keys []string
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			expectKey = depth == 1 && tok == json.Delim('{')
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
		default:
			if depth == 1 && expectKey {
				keys = append(keys, tok.(string))
				expectKey = false
				continue
			}
		}
		expectKey = depth == 1
	}
}

func FuzzDecodeRingTargetsRequest(f *testing.F) {
	for _, s := range []string{
		`{"targets":[{"id":"ring-1"}]}`, `{"targets":[{"id":"a","name":"A"},{"id":"b","exclude":true}]}`, `{"targets":[]}`,
		`{"targets":[{"id":""}]}`, `{"targets":[{"id":"a"},{"id":"a"}]}`, `{"targets":[{"id":"a","x":1}]}`, `{"targets":{}}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, data, func(r *bytes.Reader) (api.RingTargetsRequest, error) { return DecodeRingTargetsRequest(r) },
			func(v api.RingTargetsRequest) error { return store.ValidateTargets(store.TargetsFromAPI(v.Targets)) })
	})
}

func FuzzDecodeDriftPolicy(f *testing.F) {
	for _, s := range []string{
		`{"phase":3,"rules":[{"family":"linux","site_class":"online","acquisition":"acme","mode":"enforce"}]}`,
		`{"phase":2,"rules":[{"family":"linux","site_class":"online","mode":"enforce"}]}`, `{"phase":9}`, `{"phase":0,"rules":[]}`,
		`{"rules":[{"family":"beos","site_class":"online","mode":"detect"}]}`, `{"phase":"3"}`, `{"phase":1,"phase":3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, data, func(r *bytes.Reader) (deploy.DriftPolicy, error) { return DecodeDriftPolicy(r) },
			func(v deploy.DriftPolicy) error { return v.Validate() })
	})
}

func FuzzDecodeIncidentRequest(f *testing.F) {
	for _, s := range []string{
		`{"app_id":"com.acme.ledger","severity":"high","security":true,"attributable":true,"summary":"CVE exploited"}`,
		`{"id":"inc-1","app_id":"a","version":"1.0","severity":"low","summary":"x"}`, `{"app_id":"a","severity":"urgent","summary":"x"}`,
		`{"app_id":"a","severity":"low","summary":""}`, `{"app_id":"a","severity":"low","summary":"x","attributable":true}`,
		`{"id":"BAD ID","app_id":"a","severity":"low","summary":"x"}`, `{"severity":"low","summary":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoded(t, data, func(r *bytes.Reader) (api.IncidentRequest, error) { return DecodeIncidentRequest(r) },
			func(v api.IncidentRequest) error {
				i := store.Incident{ID: v.ID, AppID: v.AppID, Version: v.Version, Severity: v.Severity, Security: v.Security, Attributable: v.Attributable, Summary: v.Summary}
				if i.ID == "" {
					i.ID = "x"
				}
				return store.ValidateIncident(i)
			})
	})
}
