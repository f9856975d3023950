package transfer

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/internal/testtool"
)

var recT0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// testChain builds n sealed events of origin "lon".
func testChain(t testing.TB, n int) []Event {
	t.Helper()
	prev := GenesisHash
	var out []Event
	for i := 1; i <= n; i++ {
		e := Event{Seq: uint64(i), Time: recT0.Add(time.Duration(i) * time.Minute), Actor: "edge:lon", Action: "import",
			Object: "bundle " + strings.Repeat("a", i), Outcome: "applied", Detail: "<&> detail"}
		if err := e.Seal(prev); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEventChainVerifies(t *testing.T) {
	ev := testChain(t, 5)
	head, err := VerifyChain("lon", ChainHead{Hash: GenesisHash}, ev)
	if err != nil || head.Seq != 5 || head.Hash != ev[4].Hash {
		t.Fatalf("head %+v err %v", head, err)
	}
	// The hash is the documented formula, computed independently here.
	c, _ := CanonicalEvent(ev[0])
	if !strings.HasPrefix(string(c), `{"action":"import","actor":"edge:lon","detail":"<&> detail","object":`) {
		t.Fatalf("canonical form: %s", c)
	}
	if got := digest.FromBytes(append([]byte(GenesisHash), c...)).Hex(); got != ev[0].Hash {
		t.Fatalf("hash %s, formula gives %s", ev[0].Hash, got)
	}
}

func TestEventChainDetectsEditsAndDrops(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func([]Event) []Event
		want string
	}{
		{"edited outcome", func(e []Event) []Event { e[2].Outcome = "refused"; return e }, "edited"},
		{"edited time", func(e []Event) []Event { e[1].Time = e[1].Time.Add(time.Second); return e }, "edited"},
		{"dropped middle", func(e []Event) []Event { return append(e[:2:2], e[3:]...) }, "gap"},
		{"dropped first", func(e []Event) []Event { return e[1:] }, "gap"},
		{"edited and rehashed", func(e []Event) []Event { e[2].Outcome = "refused"; e[2].Seal(e[2].PrevHash); return e }, "does not link"},
		{"reordered", func(e []Event) []Event { e[1], e[2] = e[2], e[1]; return e }, "gap"},
	} {
		ev := tc.mut(testChain(t, 5))
		_, err := VerifyChain("lon", ChainHead{Hash: GenesisHash}, ev)
		var ce *ChainError
		if !errors.As(err, &ce) || !errors.Is(err, ErrChain) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
		// The batch parser catches the same breaks (except a dropped head,
		// which only the receiver's own head reveals).
		if tc.name == "dropped first" {
			continue
		}
		b := mustJSON(t, EventBatch{Origin: "lon", First: ev[0].Seq, Last: ev[len(ev)-1].Seq, Events: ev})
		if _, err := ParseEventBatch(b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: ParseEventBatch accepted a broken chain: %v", tc.name, err)
		}
	}
}

func TestParseRecordsValid(t *testing.T) {
	ev := testChain(t, 3)
	for typ, v := range map[string]any{
		RecordReceipt: Receipt{Site: "lon", AppliedSeq: 4, AppliedDigest: digest.FromBytes([]byte("b")),
			Objects: HeldObjects{Count: 2, Bytes: 10, ListDigest: HeldListDigest(nil)}, ChainHead: ChainHead{Seq: 3, Hash: ev[2].Hash}, Generated: recT0},
		RecordEvents: EventBatch{Origin: "lon", First: 1, Last: 3, Events: ev},
		RecordTime:   TimeAttestation{Hub: "hub", Time: recT0},
		RecordAck:    Ack{Origin: "lon", Sequence: 3, Hash: ev[2].Hash},
	} {
		b := mustJSON(t, v)
		got, err := ParseRecord(typ, b)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if string(mustJSON(t, got)) != string(b) {
			t.Errorf("%s: round trip %s != %s", typ, mustJSON(t, got), b)
		}
	}
}

func TestParseRecordsRefuse(t *testing.T) {
	ev := testChain(t, 2)
	rcpt := `{"site":"lon","applied_seq":1,"applied_digest":"` + strings.Repeat("b", 64) + `","objects":{"count":0,"bytes":0,"list_digest":"` + HeldListDigest(nil).Hex() +
		`"},"chain_head":{"seq":0,"hash":"` + GenesisHash + `"},"generated":"2026-11-28T12:00:00Z"}`
	if _, err := ParseReceipt([]byte(rcpt)); err != nil {
		t.Fatal(err)
	}
	batch := string(mustJSON(t, EventBatch{Origin: "lon", First: 1, Last: 2, Events: ev}))
	for _, tc := range []struct{ typ, in, want string }{
		{RecordReceipt, strings.Replace(rcpt, `"site":"lon"`, `"site":"../x"`, 1), "site"},
		{RecordReceipt, strings.Replace(rcpt, `"applied_seq":1`, `"applied_seq":0`, 1), "both or neither"},
		{RecordReceipt, strings.Replace(rcpt, `Z"}`, `+01:00"}`, 1), "UTC"},
		{RecordReceipt, strings.Replace(rcpt, `"seq":0`, `"seq":0,"extra":1`, 1), "unknown field"},
		{RecordReceipt, rcpt + `{}`, "trailing"},
		{RecordReceipt, strings.Replace(rcpt, `"count":0`, `"count":-1`, 1), "negative"},
		{RecordReceipt, strings.Replace(rcpt, GenesisHash, strings.Repeat("A", 64), 1), "hex"},
		{RecordEvents, strings.Replace(batch, `"first":1`, `"first":2`, 1), "do not match"},
		{RecordEvents, `{"origin":"lon","first":1,"last":1,"events":[]}`, "no events"},
		{RecordEvents, strings.Replace(batch, `"actor":"edge:lon"`, `"actor":""`, 1), "actor"},
		{RecordEvents, strings.Replace(batch, `"actor":"edge:lon"`, `"actor":"edge:lon","role":"platform-admin"`, 1), "fields of the hub's events"},
		{RecordEvents, strings.Replace(batch, `"actor":"edge:lon"`, `"actor":"edge:lon","data":{}`, 1), "fields of the hub's events"},
		{RecordTime, `{"hub":"hub","time":"0001-01-01T00:00:00Z"}`, "missing"},
		{RecordTime, `{"hub":"hub"}`, "missing"},
		{RecordAck, `{"origin":"lon","sequence":0,"hash":"` + GenesisHash + `"}`, "sequence 0"},
		{RecordAck, `{"origin":"lon","sequence":1,"hash":"zz"}`, "hash"},
		{RecordIntent, `{"id":"i-1"}`, "intent"},
		{RecordApproval, `{}`, "approval"},
		{RecordException, `[]`, "exception"},
		{"key-rotation", `{}`, "unknown record type"},
		{RecordAck, strings.Repeat(" ", MaxRecordSize+1), "exceeds"},
	} {
		_, err := ParseRecord(tc.typ, []byte(tc.in))
		if !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %.60q: got %v, want %q", tc.typ, tc.in, err, tc.want)
		}
	}
}

func TestHeldListDigest(t *testing.T) {
	a, b := digest.FromBytes([]byte("a")), digest.FromBytes([]byte("b"))
	if HeldListDigest([]digest.Digest{a, b}) != HeldListDigest([]digest.Digest{b, a, b}) {
		t.Fatal("order or duplicates change the list digest")
	}
	lo, hi := a, b
	if hi < lo {
		lo, hi = hi, lo
	}
	if want := digest.FromBytes([]byte(lo.Hex() + "\n" + hi.Hex() + "\n")); HeldListDigest([]digest.Digest{a, b}) != want {
		t.Fatal("list digest is not the documented formula")
	}
	if HeldListDigest(nil) != digest.FromBytes(nil) {
		t.Fatal("empty list digest")
	}
}

// FuzzParseRecord: no input panics any parser, and whatever a parser
// accepts re-encodes to a record it accepts again with the same meaning.
func FuzzParseRecord(f *testing.F) {
	ev := testChain(f, 2)
	for _, s := range []struct {
		typ string
		v   any
	}{
		{RecordEvents, EventBatch{Origin: "lon", First: 1, Last: 2, Events: ev}},
		{RecordTime, TimeAttestation{Hub: "hub", Time: recT0}},
		{RecordAck, Ack{Origin: "lon", Sequence: 2, Hash: ev[1].Hash}},
		{RecordReceipt, Receipt{Site: "lon", Objects: HeldObjects{ListDigest: HeldListDigest(nil)}, ChainHead: ChainHead{Hash: GenesisHash}, Generated: recT0}},
	} {
		f.Add(s.typ, mustJSON(f, s.v))
	}
	f.Add(RecordOrder, mustJSON(f, testOrder()))
	f.Add(RecordExecution, mustJSON(f, testReport()))
	f.Add(RecordIntent, []byte(`{"id":"i-1"}`))
	f.Add(RecordAPT, []byte(`{"prefix":"ubuntu","dist":"jammy","publication":"`+strings.Repeat("a", 64)+`"}`))
	f.Add(RecordHeld, []byte(`{"site":"lon","digests":["`+strings.Repeat("a", 64)+`","`+strings.Repeat("b", 64)+`"]}`))
	f.Add(RecordSite, []byte(`{"name":"lon","class":"online","scope":{}}`))
	f.Add(RecordRisk, []byte(`{"intent_id":"i-1","assessment":{"model":"v1.0"}}`))
	f.Add(RecordArtifact, []byte(`{"app_id":"a","version":"1","platform":"msi","name":"a.msi"}`))
	f.Add(RecordHubKeys, []byte(`{"current":{"key_id":"x","public_pem":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"}}`))
	f.Add(RecordVulnFeed, []byte(`{"payloadType":"application/vnd.eucora.osv-feed-statement+json","payload":"e30=","signatures":[{"keyid":"k","sig":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		v, err := ParseRecord(typ, data)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error does not wrap ErrBadRecord: %v", err)
			}
			return
		}
		again, err := ParseRecord(typ, mustJSON(t, v))
		if err != nil {
			t.Fatalf("re-encoded %s record refused: %v", typ, err)
		}
		if string(mustJSON(t, again)) != string(mustJSON(t, v)) {
			t.Fatalf("%s round trip changed the record", typ)
		}
	})
}

// TestCanonicalEventFieldSet pins the one canonical form of an audit
// event: an edge's event hashes as edges always hashed it (so edge chains
// need no migration), and the hub's extra fields are covered when set.
func TestCanonicalEventFieldSet(t *testing.T) {
	edge := Event{Seq: 1, Time: recT0, Actor: "edge:lon", Action: "import", Object: "bundle <&>", Outcome: "applied", PrevHash: GenesisHash}
	c, err := CanonicalEvent(edge)
	want := `{"action":"import","actor":"edge:lon","object":"bundle <&>","outcome":"applied","prev_hash":"` + GenesisHash + `","seq":1,"time":"2026-11-28T12:00:00Z"}`
	if err != nil || string(c) != want {
		t.Fatalf("edge event canonical form:\n%s\nwant\n%s", c, want)
	}
	if h, _ := EventHash(edge); h != "ed51e83b07692095cfa35245ff669eaa852d13ffdb3fd9e756eb97aeba2c52de" {
		t.Fatalf("edge event hash %s changed: every edge chain would break", h)
	}
	hub := edge
	hub.Detail, hub.ID, hub.Role, hub.CorrelationID, hub.Data = "why", "01J", "platform-admin", "c-1", json.RawMessage(`{"b": 1.50, "a":"<>"}`)
	c, _ = CanonicalEvent(hub)
	want = `{"action":"import","actor":"edge:lon","correlation_id":"c-1","data":{"a":"<>","b":1.50},"detail":"why","id":"01J","object":"bundle <&>",` +
		`"outcome":"applied","prev_hash":"` + GenesisHash + `","role":"platform-admin","seq":1,"time":"2026-11-28T12:00:00Z"}`
	if string(c) != want {
		t.Fatalf("hub event canonical form:\n%s\nwant\n%s", c, want)
	}
	base, _ := EventHash(hub)
	for name, edit := range map[string]func(e *Event){
		"id": func(e *Event) { e.ID = "02J" }, "role": func(e *Event) { e.Role = "auditor" },
		"correlation_id": func(e *Event) { e.CorrelationID = "c-2" }, "data": func(e *Event) { e.Data = json.RawMessage(`{"a":"<>","b":1.5}`) },
		"detail": func(e *Event) { e.Detail = "" }, "prev_hash": func(e *Event) { e.PrevHash = strings.Repeat("1", 64) },
	} {
		e := hub
		edit(&e)
		if h, _ := EventHash(e); h == base {
			t.Errorf("an edit of %s does not change the hash", name)
		}
	}
	// Absent and JSON null data are the same: both omitted.
	n1, n2 := edge, edge
	n2.Data = json.RawMessage("null")
	h1, _ := EventHash(n1)
	if h2, _ := EventHash(n2); h1 != h2 {
		t.Fatal("null data is hashed differently from absent data")
	}
}

// The by-hand recipe of docs/sync-records.md recomputes event hashes.
func TestEventHashByHand(t *testing.T) {
	testtool.Need(t, "apt-get install jq coreutils", "jq", "sha256sum", "sh")
	for _, e := range testChain(t, 3) {
		p := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(p, mustJSON(t, e), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", "-c", `jq -cS 'del(.hash)' "$1" | tr -d '\n' > "$1.body" && printf '%s' "$2" | cat - "$1.body" | sha256sum`, "sh", p, e.PrevHash).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(string(out))[0]; got != e.Hash {
			t.Fatalf("event %d: by hand %s, hash %s", e.Seq, got, e.Hash)
		}
	}
}

func TestEventBatchAfterMergesExactlyOnce(t *testing.T) {
	ev := testChain(t, 6)
	batch := func(from, to int) EventBatch {
		return EventBatch{Origin: "lon", First: uint64(from), Last: uint64(to), Events: ev[from-1 : to]}
	}
	head := ChainHead{Hash: GenesisHash}
	var merged []Event
	for _, b := range []EventBatch{batch(1, 3), batch(1, 3), batch(2, 5), batch(1, 2), batch(1, 6)} {
		got, err := b.After(head)
		if err != nil {
			t.Fatal(err)
		}
		merged = append(merged, got...)
		if len(got) > 0 {
			head = ChainHead{Seq: got[len(got)-1].Seq, Hash: got[len(got)-1].Hash}
		}
	}
	if len(merged) != 6 || head.Seq != 6 {
		t.Fatalf("merged %d events, head %d", len(merged), head.Seq)
	}
	for i, e := range merged {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d merged as %d", e.Seq, i+1)
		}
	}
	// A gap waits for a batch that covers it.
	if _, err := batch(4, 6).After(ChainHead{Seq: 2, Hash: ev[1].Hash}); !errors.Is(err, ErrChain) {
		t.Fatalf("gap: %v", err)
	}
	// A different history for the receiver's head event is a fork.
	if _, err := batch(2, 6).After(ChainHead{Seq: 3, Hash: strings.Repeat("f", 64)}); !errors.Is(err, ErrChain) {
		t.Fatalf("fork: %v", err)
	}
}

func TestReadRecord(t *testing.T) {
	store, err := cas.Open(filepath.Join(t.TempDir(), "cas"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"hub":"hub","time":"2026-11-28T12:00:00Z"}`)
	d, err := store.PutBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecord(store, Record{Type: RecordTime, Digest: d, Size: int64(len(data))})
	if err != nil || string(got) != string(data) {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := ReadRecord(store, Record{Type: RecordTime, Digest: d, Size: 3}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("size mismatch: %v", err)
	}
	if _, err := ReadRecord(store, Record{Type: RecordTime, Digest: d, Size: MaxRecordSize + 1}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("oversize: %v", err)
	}
	if _, err := ReadRecord(store, Record{Type: RecordTime, Digest: digest.FromBytes([]byte("absent")), Size: 6}); err == nil {
		t.Fatal("absent record read")
	}
}

func TestNewRecordTypes(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	good := []struct{ typ, data string }{
		{RecordAPT, `{"prefix":"ubuntu/main","dist":"jammy","publication":"` + a + `"}`},
		{RecordHeld, `{"site":"lon","digests":["` + a + `","` + b + `"]}`},
		{RecordHeld, `{"site":"lon","digests":[]}`},
		{RecordSite, `{"name":"lon","class":"air-gapped","scope":{"acquisition":"acme","bu":"ops","site":"lon"}}`},
	}
	for _, g := range good {
		if _, err := ParseRecord(g.typ, []byte(g.data)); err != nil {
			t.Errorf("%s %s: %v", g.typ, g.data, err)
		}
	}
	bad := []struct{ typ, data, want string }{
		{RecordAPT, `{"prefix":"../x","dist":"jammy","publication":"` + a + `"}`, "prefix"},
		{RecordAPT, `{"prefix":"/abs","dist":"jammy","publication":"` + a + `"}`, "prefix"},
		{RecordAPT, `{"prefix":"u","dist":"","publication":"` + a + `"}`, "dist"},
		{RecordAPT, `{"prefix":"u","dist":"j","publication":"zz"}`, "publication"},
		{RecordAPT, `{"prefix":"u","dist":"j","publication":"` + a + `","x":1}`, "unknown field"},
		{RecordHeld, `{"site":"lon","digests":["` + b + `","` + a + `"]}`, "ascending"},
		{RecordHeld, `{"site":"lon","digests":["` + a + `","` + a + `"]}`, "ascending"},
		{RecordHeld, `{"site":"../x","digests":[]}`, "site"},
		{RecordHeld, `{"site":"lon","digests":["A` + a[1:] + `"]}`, "digests[0]"},
		{RecordArtifact, `{"app_id":"a"}`, "artifact"},
		{RecordHubKeys, `{"current":{"key_id":"x","public_pem":"junk"}}`, "current"},
		{RecordHubKeys, `{}`, "current"},
		{RecordSite, `{"name":"lon","class":"offline","scope":{}}`, "class"},
		{RecordSite, `{"name":"../x","class":"online","scope":{}}`, "name"},
		{RecordApp, `{"id":"a"}`, "application"},
		{RecordRisk, `{"intent_id":"","assessment":{"model":"v1.0"}}`, "intent_id"},
		{RecordRisk, `{"intent_id":"i","assessment":{}}`, "model"},
	}
	for _, c := range bad {
		_, err := ParseRecord(c.typ, []byte(c.data))
		if err == nil || !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: got %v, want an ErrBadRecord naming %q", c.typ, c.data, err, c.want)
		}
	}
}

func TestHubKeysRecord(t *testing.T) {
	k1, _ := signing.Generate()
	k2, _ := signing.Generate()
	ref := func(k *signing.PrivateKey) KeyRef {
		return KeyRef{KeyID: k.ID, PublicPEM: string(signing.EncodePublic(k.Public()))}
	}
	r2 := ref(k2)
	if _, err := ParseRecord(RecordHubKeys, mustJSON(t, HubKeys{Current: ref(k1), Next: &r2})); err != nil {
		t.Fatal(err)
	}
	for name, hk := range map[string]HubKeys{
		"next is current": {Current: ref(k1), Next: &KeyRef{KeyID: k1.ID, PublicPEM: ref(k1).PublicPEM}},
		"mislabelled":     {Current: KeyRef{KeyID: k2.ID, PublicPEM: ref(k1).PublicPEM}},
	} {
		if _, err := ParseRecord(RecordHubKeys, mustJSON(t, hk)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestVulnFeedRecord: a vuln-feed record is a DSSE envelope of the shape
// signing.Sign writes; anything else is a malformed record naming what is
// wrong (the signature itself is the receiver's to verify).
func TestVulnFeedRecord(t *testing.T) {
	k, _ := signing.Generate()
	env := signing.Sign(k, "application/vnd.eucora.osv-feed-statement+json", []byte(`{"schema":"eucora.osv-feed-statement/v1"}`))
	good := mustJSON(t, env)
	got, err := ParseRecord(RecordVulnFeed, good)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := got.(*signing.Envelope); !ok || e.Payload != env.Payload || len(e.Signatures) != 1 || e.Signatures[0].KeyID != k.ID {
		t.Fatalf("parsed %T %+v", got, got)
	}
	sig := `{"keyid":"k","sig":"AAAA"}`
	many := strings.TrimSuffix(strings.Repeat(sig+",", MaxVulnFeedSignatures+1), ",")
	for _, c := range []struct{ data, want string }{
		{`{"schema":"eucora.osv-feed-statement/v1","sha256":"` + strings.Repeat("a", 64) + `","size":1}`, "unknown field"},
		{`{"payloadType":"","payload":"e30=","signatures":[` + sig + `]}`, "payloadType"},
		{`{"payloadType":"t","payload":"","signatures":[` + sig + `]}`, "payload"},
		{`{"payloadType":"t","payload":"not base64!","signatures":[` + sig + `]}`, "payload"},
		{`{"payloadType":"t","payload":"e30="}`, "no signatures"},
		{`{"payloadType":"t","payload":"e30=","signatures":[]}`, "no signatures"},
		{`{"payloadType":"t","payload":"e30=","signatures":[` + many + `]}`, "at most"},
		{`{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`, "keyid"},
		{`{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":"%%"}]}`, "sig"},
		{`{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":"AAAA","extra":1}]}`, "unknown field"},
		{`{"payloadType":"t","payloadtype":"u","payload":"e30=","signatures":[` + sig + `]}`, "case-sensitive"},
		{string(good) + `{}`, "trailing"},
		{`[]`, "vuln-feed"},
	} {
		_, err := ParseRecord(RecordVulnFeed, []byte(c.data))
		if !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.70s: got %v, want an ErrBadRecord naming %q", c.data, err, c.want)
		}
	}
}

// TestCanonicalEventFastPath: the direct encoding of an event without data
// gives exactly deploy.Canonical's bytes, for every kind of string.
func TestCanonicalEventFastPath(t *testing.T) {
	strs := []string{"", "plain", "<&>", "quote \" back \\ slash", "\n\r\t\b\f\x00\x1f\x7f", "\u2028\u2029", "é 日本 🙂", "\ufffd", "bad \xff utf8", strings.Repeat("x", 300)}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		pick := func() string { return strs[rnd.IntN(len(strs))] }
		b := eventBody{Seq: rnd.Uint64(), Time: recT0.Add(time.Duration(rnd.Int64N(1e15))), Actor: pick(), Action: pick(), Object: pick(), Outcome: pick(),
			Detail: pick(), ID: pick(), Role: pick(), CorrelationID: pick(), PrevHash: pick()}
		if i%7 == 0 {
			b.Time = b.Time.In(time.FixedZone("x", 3600))
		}
		want, err := deploy.Canonical(b)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := canonicalEventFast(b)
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("fast path differs:\n%s\n%s", got, want)
		}
		c, _ := CanonicalEvent(Event{Seq: b.Seq, Time: b.Time, Actor: b.Actor, Action: b.Action, Object: b.Object, Outcome: b.Outcome,
			Detail: b.Detail, ID: b.ID, Role: b.Role, CorrelationID: b.CorrelationID, PrevHash: b.PrevHash})
		if !bytes.Equal(c, want) {
			t.Fatalf("CanonicalEvent differs:\n%s\n%s", c, want)
		}
	}
}
