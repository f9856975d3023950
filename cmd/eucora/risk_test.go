package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eucora/eucora/deploy"
)

// runCLI runs the eucora app in-process and returns stdout and the exit
// code run() would return.
func runCLI(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	out, err := runApp(t, true, args...)
	return out, exitCode(err), err
}

const issueExample = `{"model":"v1.0","factors":{"privilege":1,"supply_chain":0.4,"exploitability":0.6,"data_access":0.1,"sbom_vulnerability":0.7,"blast_radius":0.4,"operational_complexity":0.4,"history":0.1},"privileged_tooling":false,"target_ring":2}`

func writeInput(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRiskScoreJSON(t *testing.T) {
	out, code, err := runCLI(t, "risk", "score", "--input", writeInput(t, issueExample), "--output", "json")
	if code != exitOK {
		t.Fatal(code, err, out)
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err, out)
	}
	keys := []string{}
	for k := range got {
		keys = append(keys, k)
	}
	wantKeys := map[string]bool{"model": true, "score": true, "contributions": true, "cab_required": true, "reasons": true}
	if len(got) != len(wantKeys) {
		t.Fatalf("keys %v", keys)
	}
	for k := range wantKeys {
		if _, ok := got[k]; !ok {
			t.Fatalf("missing key %s in %s", k, out)
		}
	}
	// 20*1 + 15*0.4 + 10*0.6 + 10*0.1 + 15*0.7 + 10*0.4 + 10*0.4 + 10*0.1 = 52.5
	if got["model"] != "v1.0" || got["score"] != 52.5 || got["cab_required"] != true {
		t.Fatalf("%s", out)
	}
	wantContrib := map[string]any{"privilege": 20.0, "supply_chain": 6.0, "exploitability": 6.0, "data_access": 1.0,
		"sbom_vulnerability": 10.5, "blast_radius": 4.0, "operational_complexity": 4.0, "history": 1.0}
	if !reflect.DeepEqual(got["contributions"], wantContrib) {
		t.Fatalf("contributions %v", got["contributions"])
	}
	if rs := got["reasons"].([]any); len(rs) != 1 || !strings.Contains(rs[0].(string), "risk 52.5 > 50") {
		t.Fatalf("reasons %v", rs)
	}
}

func TestRiskScoreTextAndExplain(t *testing.T) {
	p := writeInput(t, strings.Replace(issueExample, `"privileged_tooling":false`, `"privileged_tooling":true`, 1))
	out, code, _ := runCLI(t, "risk", "score", "--input", p)
	if code != 0 || !strings.Contains(out, "risk score:   52.5") || !strings.Contains(out, "privileged tooling: CAB approval always required") {
		t.Fatalf("%d %s", code, out)
	}
	out, code, _ = runCLI(t, "risk", "explain", "--input", p)
	for _, want := range []string{"FACTOR", "WEIGHT", "CONTRIBUTION", "MEANING", "sbom_vulnerability      15      0.7    10.5", "signed but unknown/unverified vendor", "SCORE"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("explain missing %q:\n%s", want, out)
		}
	}
	out, code, _ = runCLI(t, "risk", "models", "-o", "json")
	var ms []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &ms) != nil || len(ms) != 1 || ms[0]["version"] != "v1.0" || ms[0]["cab_threshold"] != 50.0 {
		t.Fatalf("%d %s", code, out)
	}
}

func TestRiskScoreBadInputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		doc  string
		code int
		msg  string
	}{
		{"factor above 1", nil, strings.Replace(issueExample, `"history":0.1`, `"history":1.2`, 1), exitCorrupt, "factors.history: 1.2 is outside 0..1"},
		{"negative factor", nil, strings.Replace(issueExample, `"privilege":1`, `"privilege":-0.5`, 1), exitCorrupt, "factors.privilege"},
		{"unknown factor", nil, strings.Replace(issueExample, `"history":0.1`, `"history":0.1,"vibes":0.3`, 1), exitCorrupt, "factors.vibes: unknown factor"},
		{"missing factor", nil, strings.Replace(issueExample, `"data_access":0.1,`, ``, 1), exitCorrupt, "factors.data_access: missing"},
		{"unknown model", nil, strings.Replace(issueExample, `v1.0`, `v7`, 1), exitCorrupt, `model: unknown risk model "v7"`},
		{"unknown top-level field", nil, strings.Replace(issueExample, `"target_ring":2`, `"target_ring":2,"ring":3`, 1), exitCorrupt, "ring: unknown field"},
		{"malformed json", nil, `{"model":`, exitCorrupt, "truncated"},
		{"bad output format", []string{"--output", "yaml"}, issueExample, exitUsage, "--output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"risk", "score", "--input", writeInput(t, tc.doc)}, tc.args...)
			out, code, err := runCLI(t, args...)
			if code != tc.code || err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("code %d err %v out %q; want %d %q", code, err, out, tc.code, tc.msg)
			}
			if out != "" {
				t.Fatalf("output on error: %q", out)
			}
		})
	}
	if _, code, err := runCLI(t, "risk", "score"); code != exitUsage {
		t.Fatalf("missing --input: %d %v", code, err)
	}
	if _, code, err := runCLI(t, "risk", "score", "--input", filepath.Join(t.TempDir(), "nope.json")); code != exitError {
		t.Fatalf("missing file: %d %v", code, err)
	}
}

// TestRiskScoreRunExitCodes goes through run(), the binary's real entry
// point, so error reporting and the exit-code table are exercised as a
// user sees them.
func TestRiskScoreRunExitCodes(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = devnull, devnull
	defer func() { os.Stdout, os.Stderr = stdout, stderr }()
	good := writeInput(t, issueExample)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"risk", "score", "--input", good}, exitOK},
		{[]string{"risk", "score", "--input", good, "--output", "json"}, exitOK},
		{[]string{"risk", "explain", "--input", good}, exitOK},
		{[]string{"risk", "models"}, exitOK},
		{[]string{"risk", "score", "--input", writeInput(t, strings.Replace(issueExample, `"history":0.1`, `"history":2`, 1))}, exitCorrupt},
		{[]string{"risk", "score", "--input", writeInput(t, strings.Replace(issueExample, `v1.0`, `v0.1`, 1)), "-o", "json"}, exitCorrupt},
		{[]string{"risk", "score", "--bogus"}, exitUsage},
		{[]string{"risk", "score"}, exitUsage},
		{[]string{"risk", "score", "--input", good, "extra"}, exitUsage},
	} {
		if code := run(append([]string{"eucora"}, tc.args...)); code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
}

func TestDeployErrorsMapToExitCodes(t *testing.T) {
	denied := deploy.Decision{}.Err("publish intent i-1")
	if code := exitCode(denied); code != exitDenied {
		t.Fatalf("policy refusal: exit %d, want %d", code, exitDenied)
	}
	if _, err := deploy.ParseIntent([]byte(`{}`)); exitCode(err) != exitCorrupt {
		t.Fatalf("malformed intent: exit %d", exitCode(err))
	}
}

func TestRiskScoreStdin(t *testing.T) {
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.Reader = strings.NewReader(issueExample)
	if err := app.RunContext(context.Background(), []string{"eucora", "risk", "score", "--input", "-", "-o", "json"}); err != nil {
		t.Fatal(err)
	}
	var got riskScoreOutput
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Score != 52.5 || !got.CABRequired {
		t.Fatalf("%v %s", err, out.String())
	}
}
