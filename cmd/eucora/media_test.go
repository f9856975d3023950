package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/client"
)

// stickWorld is the README's air-gapped journey on one stick directory,
// run with the built binary against an in-process hub.
type stickWorld struct {
	t                 *testing.T
	tmp, url, tok     string
	hubKey, edge, usb string
	toHub             string
	hubFlags          []string
	site              string
}

func newStickWorld(t *testing.T) *stickWorld {
	url, tok := startHub(t)
	tmp := t.TempDir()
	w := &stickWorld{t: t, tmp: tmp, url: url, tok: tok, hubKey: filepath.Join(tmp, "hub.pub"), edge: filepath.Join(tmp, "srv"),
		usb: filepath.Join(tmp, "usb"), hubFlags: []string{"--hub", url, "--token", tok}, site: "plant-7"}
	w.toHub = filepath.Join(w.usb, "to-hub")
	w.hub(0, "hub", "key", "--out", w.hubKey)
	w.run(0, "edge", "init", "--data", w.edge, "--site", w.site, "--hub-key", w.hubKey)
	w.hub(0, "site", "add", w.site, "--class", "air-gapped", "--edge-key", filepath.Join(w.edge, "edge.pub"))
	return w
}

// run runs the binary and checks its exit code.
func (w *stickWorld) run(want int, args ...string) result {
	w.t.Helper()
	r := eucora(w.t, w.tmp, args...)
	if r.code != want {
		w.t.Fatalf("eucora %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// hub runs a hub client command.
func (w *stickWorld) hub(want int, args ...string) result {
	w.t.Helper()
	return w.run(want, append(args, w.hubFlags...)...)
}

func (w *stickWorld) events() []api.Event {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := client.New(w.url, w.tok)
	var out []api.Event
	after := ""
	for {
		p, err := cl.Events(ctx, after, 1000)
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, p.Events...)
		if p.Next == "" || len(p.Events) == 0 {
			return out
		}
		after = p.Next
	}
}

// refusedImports returns the hub's refused-import audit events.
func (w *stickWorld) refusedImports() []api.Event {
	var out []api.Event
	for _, e := range w.events() {
		if e.Action == "sites.import" && e.Outcome == "refused" {
			out = append(out, e)
		}
	}
	return out
}

type mediaJSON struct {
	Imports []struct {
		Outcome  string `json:"outcome"`
		Sequence uint64 `json:"sequence"`
	} `json:"imports"`
	Skipped []struct {
		Reason   string `json:"reason"`
		Sequence uint64 `json:"sequence"`
	} `json:"skipped"`
}

type hubImportJSON struct {
	Bundles []struct {
		Outcome  string `json:"outcome"`
		Sequence uint64 `json:"sequence"`
	} `json:"bundles"`
}

type exportJSON struct {
	Skipped bool `json:"skipped"`
	Export  struct {
		Sequence uint64 `json:"sequence"`
	} `json:"export"`
	Files  []string `json:"files"`
	Others []struct {
		Sequence uint64 `json:"sequence"`
	} `json:"other_bundles"`
	Removed []string `json:"removed"`
}

// TestStickReusedThreeRounds follows the README's loop three times over on
// one stick directory: hub export -> edge import -> edge export -> hub
// import, every export into the same /media/usb and /media/usb/to-hub.
// Each import applies the new bundle and reports the earlier ones with
// their sequence numbers; each export says what the stick already holds;
// --replace then leaves one bundle and every file that is not a volume.
func TestStickReusedThreeRounds(t *testing.T) {
	w := newStickWorld(t)
	if err := os.MkdirAll(w.usb, 0o755); err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(w.usb, "README.txt")
	os.WriteFile(readme, []byte("plant-7 transfer stick\n"), 0o644)
	for round := uint64(1); round <= 3; round++ {
		// Hub -> stick.
		var x exportJSON
		decodeJSON(t, w.hub(0, "hub", "export", "--site", w.site, "--out", w.usb, "-o", "json").stdout, &x)
		if x.Skipped || x.Export.Sequence != round || uint64(len(x.Others)) != round-1 {
			t.Fatalf("round %d: hub export %+v", round, x)
		}
		// Stick -> edge.
		r := w.run(0, "edge", "import", "--data", w.edge, w.usb, "-o", "json")
		if round == 1 {
			var one struct {
				Outcome  string `json:"outcome"`
				Sequence uint64 `json:"sequence"`
			}
			decodeJSON(t, r.stdout, &one)
			if one.Outcome != "applied" || one.Sequence != 1 {
				t.Fatalf("round 1: edge import %+v", one)
			}
		} else {
			var m mediaJSON
			decodeJSON(t, r.stdout, &m)
			if len(m.Imports) != 1 || m.Imports[0].Outcome != "applied" || m.Imports[0].Sequence != round || uint64(len(m.Skipped)) != round-1 {
				t.Fatalf("round %d: edge import %s", round, r.stdout)
			}
			for _, s := range m.Skipped {
				want := "stale"
				if s.Sequence == round-1 {
					want = "duplicate"
				}
				if s.Reason != want {
					t.Errorf("round %d: bundle %d reported %q, want %q", round, s.Sequence, s.Reason, want)
				}
			}
			text := w.run(0, "edge", "import", "--data", w.edge, w.usb).stdout
			if !strings.Contains(text, "duplicate: bundle") || !strings.Contains(text, "sequence "+strconv.FormatUint(round, 10)) {
				t.Errorf("round %d: second edge import says %q", round, text)
			}
		}
		// Edge -> stick.
		var ex exportJSON
		decodeJSON(t, w.run(0, "edge", "export", "--data", w.edge, "--out", w.toHub, "-o", "json").stdout, &ex)
		if uint64(len(ex.Others)) != round-1 {
			t.Fatalf("round %d: edge export found %d earlier bundles", round, len(ex.Others))
		}
		// Stick -> hub.
		r = w.hub(0, "hub", "import", w.toHub, "-o", "json")
		if round == 1 {
			var one struct {
				Outcome        string `json:"outcome"`
				LastAppliedSeq uint64 `json:"last_applied_seq"`
			}
			decodeJSON(t, r.stdout, &one)
			if one.Outcome != "applied" || one.LastAppliedSeq != 1 {
				t.Fatalf("round 1: hub import %+v", one)
			}
		} else {
			var h hubImportJSON
			decodeJSON(t, r.stdout, &h)
			got := map[uint64]string{}
			for _, b := range h.Bundles {
				got[b.Sequence] = b.Outcome
			}
			if len(h.Bundles) != int(round) || got[round] != "applied" || got[round-1] != "duplicate" || (round == 3 && got[1] != "stale") {
				t.Fatalf("round %d: hub import %s", round, r.stdout)
			}
		}
		var st struct {
			LastAppliedSeq uint64 `json:"last_applied_seq"`
			LastImportSeq  uint64 `json:"last_import_seq"`
			ChainOK        bool   `json:"chain_ok"`
		}
		decodeJSON(t, w.hub(0, "site", "status", w.site, "-o", "json").stdout, &st)
		if st.LastAppliedSeq != round || st.LastImportSeq != round || !st.ChainOK {
			t.Fatalf("round %d: site status %+v", round, st)
		}
	}
	if n := len(w.refusedImports()); n != 0 {
		t.Fatalf("the loop left %d refused imports at the hub", n)
	}
	// The exports say what the stick holds.
	text := w.hub(0, "hub", "export", "--site", w.site, "--out", w.usb, "--full").stdout
	if !strings.Contains(text, "also holds 3 earlier bundle(s)") || !strings.Contains(text, "--replace") {
		t.Fatalf("hub export onto a used stick says %q", text)
	}
	// --replace keeps the new bundle and whatever is not a eucora volume.
	var x exportJSON
	decodeJSON(t, w.hub(0, "hub", "export", "--site", w.site, "--out", w.usb, "--full", "--replace", "-o", "json").stdout, &x)
	left, _ := filepath.Glob(filepath.Join(w.usb, "*.tar"))
	if len(x.Others) != 4 || len(x.Removed) != 4 || len(left) != len(x.Files) || len(left) == 0 {
		t.Fatalf("hub export --replace: %+v; left %v", x, left)
	}
	if _, err := os.Stat(readme); err != nil {
		t.Fatalf("--replace removed a file that is not a volume: %v", err)
	}
	if _, err := os.Stat(w.toHub); err != nil {
		t.Fatalf("--replace removed the to-hub directory: %v", err)
	}
	var ex exportJSON
	decodeJSON(t, w.run(0, "edge", "export", "--data", w.edge, "--out", w.toHub, "--replace", "-o", "json").stdout, &ex)
	left, _ = filepath.Glob(filepath.Join(w.toHub, "*.tar"))
	if len(ex.Others) != 3 || len(ex.Removed) != 3 || len(left) != 1 {
		t.Fatalf("edge export --replace: %+v; left %v", ex, left)
	}
	r := w.run(0, "edge", "import", "--data", w.edge, w.usb)
	if !strings.Contains(r.stdout, "applied bundle") {
		t.Fatalf("edge import after --replace: %s", r.stdout)
	}
}

// TestWrongSideAndLocalRefusals: a bundle given to the wrong side says what
// it is and where it belongs (exit 22); a bundle from a site the hub does
// not know exits 22; a bundle 'hub import' refuses locally is still
// recorded at the hub, once; --if-changed skips an export that would carry
// nothing new.
func TestWrongSideAndLocalRefusals(t *testing.T) {
	w := newStickWorld(t)
	w.hub(0, "hub", "export", "--site", w.site, "--out", w.usb)
	w.run(0, "edge", "import", "--data", w.edge, w.usb)
	w.run(0, "edge", "export", "--data", w.edge, "--out", w.toHub)

	// The edge's own export given to edge import: refused, audited at the edge.
	head := edgeStatus(t, w.tmp, w.edge).Chain.Seq
	r := w.run(exitStale, "edge", "import", "--data", w.edge, w.toHub)
	if !strings.Contains(r.stdout+r.stderr, "is plant-7's export for the hub") || !strings.Contains(r.stderr, "carry it to the hub and run `eucora hub import") {
		t.Errorf("edge import of its own export says:\n%s%s", r.stdout, r.stderr)
	}
	if got := edgeStatus(t, w.tmp, w.edge).Chain.Seq; got != head+1 {
		t.Errorf("edge import of its own export: chain head %d, want %d (one audit event)", got, head+1)
	}
	// A hub bundle given to hub import, alone and with a second one.
	for i := 0; i < 2; i++ {
		r = w.hub(exitStale, "hub", "import", w.usb)
		if !strings.Contains(r.stdout+r.stderr, "is the hub's bundle for site plant-7: carry it to plant-7 and run `eucora edge import") {
			t.Errorf("hub import of a hub bundle (%d on the stick) says:\n%s%s", i+1, r.stdout, r.stderr)
		}
		w.hub(0, "hub", "export", "--site", w.site, "--out", w.usb)
	}
	// The own export among hub bundles: reported, the new hub bundle applied.
	own, _ := filepath.Glob(filepath.Join(w.toHub, "*.tar"))
	b, _ := os.ReadFile(own[0])
	os.WriteFile(filepath.Join(w.usb, filepath.Base(own[0])), b, 0o644)
	r = w.run(0, "edge", "import", "--data", w.edge, w.usb)
	if !strings.Contains(r.stdout, "applied bundle") || !strings.Contains(r.stdout, "not-for-us: bundle") || !strings.Contains(r.stdout, "own export: carry it to the hub") {
		t.Errorf("edge import of a mixed stick says:\n%s", r.stdout)
	}

	// A site the hub does not know: 22, naming it.
	ghost := filepath.Join(w.tmp, "ghost")
	w.run(0, "edge", "init", "--data", ghost, "--site", "ghost", "--hub-key", w.hubKey)
	w.run(0, "edge", "export", "--data", ghost, "--out", filepath.Join(w.tmp, "ghost-out"))
	r = w.hub(exitStale, "hub", "import", filepath.Join(w.tmp, "ghost-out"))
	if !strings.Contains(r.stderr, `is from "ghost", which is not a site of this hub`) {
		t.Errorf("hub import from an unregistered site says:\n%s", r.stderr)
	}

	// Refused here, recorded there: a flipped byte (21), another key (20).
	refused := len(w.refusedImports())
	flipped := filepath.Join(w.tmp, "flipped")
	w.run(0, "edge", "export", "--data", w.edge, "--out", flipped)
	vols, _ := filepath.Glob(filepath.Join(flipped, "*.tar"))
	b, _ = os.ReadFile(vols[0])
	b[600] ^= 1
	os.WriteFile(vols[0], b, 0o644)
	imposter := filepath.Join(w.tmp, "imposter")
	w.run(0, "edge", "init", "--data", imposter, "--site", w.site, "--hub-key", w.hubKey)
	forged := filepath.Join(w.tmp, "forged")
	w.run(0, "edge", "export", "--data", imposter, "--out", forged)
	for _, c := range []struct {
		dir  string
		exit int
		code string
	}{{flipped, exitCorrupt, "corrupt"}, {forged, exitBadSignature, "unknown_key"}} {
		r = w.hub(c.exit, "hub", "import", c.dir)
		if !strings.Contains(r.stderr, "refusal recorded at the hub") {
			t.Errorf("%s: hub import says:\n%s", c.code, r.stderr)
		}
		evs := w.refusedImports()
		if len(evs) != refused+1 {
			t.Fatalf("%s: %d refused-import events at the hub, want %d", c.code, len(evs), refused+1)
		}
		refused++
		if ev := evs[len(evs)-1]; ev.Object != "site/plant-7" || !strings.HasPrefix(ev.Reason, c.code+": refused by the importing client") {
			t.Errorf("%s: hub audit event %+v", c.code, ev)
		}
	}

	// --if-changed: a site with no export gets one, then nothing new is skipped.
	w.hub(0, "site", "add", "plant-9", "--class", "air-gapped", "--edge-key", filepath.Join(ghost, "edge.pub"))
	out9 := filepath.Join(w.tmp, "usb9")
	var x exportJSON
	decodeJSON(t, w.hub(0, "hub", "export", "--site", "plant-9", "--out", out9, "--if-changed", "-o", "json").stdout, &x)
	if x.Skipped || x.Export.Sequence != 1 || len(x.Files) == 0 {
		t.Fatalf("first export --if-changed: %+v", x)
	}
	decodeJSON(t, w.hub(0, "hub", "export", "--site", "plant-9", "--out", out9, "--if-changed", "-o", "json").stdout, &x)
	if !x.Skipped || x.Export.Sequence != 1 || len(x.Files) != 0 {
		t.Fatalf("second export --if-changed: %+v", x)
	}
	if text := w.hub(0, "hub", "export", "--site", "plant-9", "--out", out9, "--if-changed").stdout; !strings.HasPrefix(text, "nothing new for site plant-9 since export 1") {
		t.Fatalf("export --if-changed says %q", text)
	}
	if vols, _ := filepath.Glob(filepath.Join(out9, "*.tar")); len(vols) != 1 {
		t.Fatalf("skipped exports wrote volumes: %v", vols)
	}
}
