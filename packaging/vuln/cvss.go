package vuln

import (
	"fmt"
	"math"
	"strings"
	"sync"
)

// Severity is a finding's qualitative severity.
type Severity string

// Severities, from the highest.
const (
	SeverityCritical Severity = "CRITICAL"
	SeverityHigh     Severity = "HIGH"
	SeverityMedium   Severity = "MEDIUM"
	SeverityLow      Severity = "LOW"
	SeverityUnknown  Severity = "UNKNOWN"
)

// Severities lists every severity, from the highest.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityUnknown}

// Rank orders severities: UNKNOWN 0, LOW 1 ... CRITICAL 4; -1 for anything else.
func (s Severity) Rank() int {
	switch s {
	case SeverityUnknown:
		return 0
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	}
	return -1
}

// ParseSeverity reads a severity name, case-insensitively; "MODERATE"
// (GitHub's word) is MEDIUM.
func ParseSeverity(s string) (Severity, error) {
	switch u := Severity(strings.ToUpper(strings.TrimSpace(s))); u {
	case SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityUnknown:
		return u, nil
	case "MODERATE":
		return SeverityMedium, nil
	}
	return "", fmt.Errorf("severity %q: want CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", s)
}

// scores caches computed scores: feeds repeat a few thousand distinct
// vectors over hundreds of thousands of records, and each is scored when
// the record is parsed and again when it is matched.
var scores struct {
	sync.Mutex
	m map[string]scoreResult
}

type scoreResult struct {
	score float64
	err   error
}

const maxCachedScores = 1 << 16

func cachedScore(key, vector string, f func(string) (float64, error)) (float64, error) {
	scores.Lock()
	r, ok := scores.m[key]
	scores.Unlock()
	if ok {
		return r.score, r.err
	}
	score, err := f(vector)
	scores.Lock()
	if scores.m == nil || len(scores.m) >= maxCachedScores {
		scores.m = map[string]scoreResult{}
	}
	scores.m[key] = scoreResult{score, err}
	scores.Unlock()
	return score, err
}

// ratingOf is the CVSS v3.x/v4.0 qualitative rating of a score: 9.0-10.0
// Critical, 7.0-8.9 High, 4.0-6.9 Medium, 0.1-3.9 Low. A 0.0 ("None")
// score is reported as LOW: the record still says the package is affected.
func ratingOf(score float64) Severity {
	switch {
	case score >= 9.0:
		return SeverityCritical
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	}
	return SeverityLow
}

// cvssMetrics splits "PREFIX/K:V/K:V" into a map, refusing duplicate and
// unknown metrics and values outside allowed (metric -> allowed values).
func cvssMetrics(vector, prefix string, allowed map[string]string, base []string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(vector, prefix)
	if !ok && prefix != "" {
		return nil, fmt.Errorf("does not start with %q", prefix)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(rest, "/") {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("metric %q is not KEY:VALUE", clip(kv))
		}
		vals, known := allowed[k]
		if !known {
			return nil, fmt.Errorf("unknown metric %q", clip(k))
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("metric %s given twice", k)
		}
		if !oneOf(v, vals) {
			return nil, fmt.Errorf("metric %s:%s: value not one of %s", k, clip(v), vals)
		}
		m[k] = v
	}
	for _, k := range base {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("base metric %s missing", k)
		}
	}
	return m, nil
}

func oneOf(v, list string) bool {
	for _, x := range strings.Split(list, ",") {
		if v == x {
			return true
		}
	}
	return false
}

var cvss3Allowed = map[string]string{
	"AV": "N,A,L,P", "AC": "L,H", "PR": "N,L,H", "UI": "N,R", "S": "U,C", "C": "H,L,N", "I": "H,L,N", "A": "H,L,N",
	"E": "X,U,P,F,H", "RL": "X,O,T,W,U", "RC": "X,U,R,C",
	"CR": "X,L,M,H", "IR": "X,L,M,H", "AR": "X,L,M,H",
	"MAV": "X,N,A,L,P", "MAC": "X,L,H", "MPR": "X,N,L,H", "MUI": "X,N,R", "MS": "X,U,C",
	"MC": "X,N,L,H", "MI": "X,N,L,H", "MA": "X,N,L,H",
}

// CVSS3 returns the base score of a CVSS v3.0 or v3.1 vector
// ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" = 9.8), computed with the
// v3.1 specification's formula and Roundup (section 7.1, Appendix A).
// Temporal and environmental metrics are validated but do not change the
// base score.
func CVSS3(vector string) (float64, error) { return cachedScore("3 "+vector, vector, cvss3) }

func cvss3(vector string) (float64, error) {
	prefix := "CVSS:3.1/"
	if strings.HasPrefix(vector, "CVSS:3.0/") {
		prefix = "CVSS:3.0/"
	}
	m, err := cvssMetrics(vector, prefix, cvss3Allowed, []string{"AV", "AC", "PR", "UI", "S", "C", "I", "A"})
	if err != nil {
		return 0, fmt.Errorf("CVSS v3 vector %q: %v", clip(vector), err)
	}
	changed := m["S"] == "C"
	av := map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[m["AV"]]
	ac := map[string]float64{"L": 0.77, "H": 0.44}[m["AC"]]
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}[m["PR"]]
	if changed {
		pr = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}[m["PR"]]
	}
	ui := map[string]float64{"N": 0.85, "R": 0.62}[m["UI"]]
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	iss := 1 - (1-cia[m["C"]])*(1-cia[m["I"]])*(1-cia[m["A"]])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	exploitability := 8.22 * av * ac * pr * ui
	if impact <= 0 {
		return 0, nil
	}
	if changed {
		return roundup(math.Min(1.08*(impact+exploitability), 10)), nil
	}
	return roundup(math.Min(impact+exploitability, 10)), nil
}

// roundup is CVSS v3.1's Roundup: the smallest number with one decimal
// that is >= x, computed on integers to avoid floating point surprises.
func roundup(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

var cvss2Allowed = map[string]string{
	"AV": "L,A,N", "AC": "H,M,L", "Au": "M,S,N", "C": "N,P,C", "I": "N,P,C", "A": "N,P,C",
	"E": "U,POC,F,H,ND", "RL": "OF,TF,W,U,ND", "RC": "UC,UR,C,ND",
	"CDP": "N,L,LM,MH,H,ND", "TD": "N,L,M,H,ND", "CR": "L,M,H,ND", "IR": "L,M,H,ND", "AR": "L,M,H,ND",
}

// CVSS2 returns the base score of a CVSS v2 vector ("AV:N/AC:L/Au:N/C:N/I:N/A:C"
// = 7.8), with the v2 guide's equations (section 3.2.1).
func CVSS2(vector string) (float64, error) { return cachedScore("2 "+vector, vector, cvss2) }

func cvss2(vector string) (float64, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(vector, "("), "CVSS2#")
	v = strings.TrimSuffix(v, ")")
	m, err := cvssMetrics(v, "", cvss2Allowed, []string{"AV", "AC", "Au", "C", "I", "A"})
	if err != nil {
		return 0, fmt.Errorf("CVSS v2 vector %q: %v", clip(vector), err)
	}
	av := map[string]float64{"L": 0.395, "A": 0.646, "N": 1.0}[m["AV"]]
	ac := map[string]float64{"H": 0.35, "M": 0.61, "L": 0.71}[m["AC"]]
	au := map[string]float64{"M": 0.45, "S": 0.56, "N": 0.704}[m["Au"]]
	cia := map[string]float64{"N": 0, "P": 0.275, "C": 0.660}
	impact := 10.41 * (1 - (1-cia[m["C"]])*(1-cia[m["I"]])*(1-cia[m["A"]]))
	exploitability := 20 * av * ac * au
	f := 1.176
	if impact == 0 {
		f = 0
	}
	return math.Round(((0.6*impact)+(0.4*exploitability)-1.5)*f*10) / 10, nil
}

// v2Rating is NVD's CVSS v2 rating: 0-3.9 Low, 4.0-6.9 Medium, 7.0-10 High.
func v2Rating(score float64) Severity {
	switch {
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	}
	return SeverityLow
}

var cvss4Allowed = map[string]string{
	"AV": "N,A,L,P", "AC": "L,H", "AT": "N,P", "PR": "N,L,H", "UI": "N,P,A",
	"VC": "H,L,N", "VI": "H,L,N", "VA": "H,L,N", "SC": "H,L,N", "SI": "H,L,N", "SA": "H,L,N",
	"E":  "X,A,P,U",
	"CR": "X,H,M,L", "IR": "X,H,M,L", "AR": "X,H,M,L",
	"MAV": "X,N,A,L,P", "MAC": "X,L,H", "MAT": "X,N,P", "MPR": "X,N,L,H", "MUI": "X,N,P,A",
	"MVC": "X,H,L,N", "MVI": "X,H,L,N", "MVA": "X,H,L,N", "MSC": "X,H,L,N", "MSI": "X,S,H,L,N", "MSA": "X,S,H,L,N",
	"S": "X,N,P", "AU": "X,N,Y", "R": "X,A,U,I", "V": "X,D,C", "RE": "X,L,M,H", "U": "X,Clear,Green,Amber,Red",
}

var cvss4Base = []string{"AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"}

// cvss4Levels are the severity distances of metric values within a
// MacroVector (FIRST calculator's METRIC_LEVELS).
var cvss4Levels = map[string]map[string]float64{
	"AV": {"N": 0.0, "A": 0.1, "L": 0.2, "P": 0.3},
	"PR": {"N": 0.0, "L": 0.1, "H": 0.2},
	"UI": {"N": 0.0, "P": 0.1, "A": 0.2},
	"AC": {"L": 0.0, "H": 0.1},
	"AT": {"N": 0.0, "P": 0.1},
	"VC": {"H": 0.0, "L": 0.1, "N": 0.2},
	"VI": {"H": 0.0, "L": 0.1, "N": 0.2},
	"VA": {"H": 0.0, "L": 0.1, "N": 0.2},
	"SC": {"H": 0.1, "L": 0.2, "N": 0.3},
	"SI": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
	"SA": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
	"CR": {"H": 0.0, "M": 0.1, "L": 0.2},
	"IR": {"H": 0.0, "M": 0.1, "L": 0.2},
	"AR": {"H": 0.0, "M": 0.1, "L": 0.2},
	"E":  {"U": 0.2, "P": 0.1, "A": 0},
}

// cvss4LevelOrder is the order the calculator walks cvss4Levels in.
var cvss4LevelOrder = []string{"AV", "PR", "UI", "AC", "AT", "VC", "VI", "VA", "SC", "SI", "SA", "CR", "IR", "AR", "E"}

// cvss4Highest are the highest-severity vectors of each EQ level
// (MAX_COMPOSED; EQ3 is keyed by EQ3 then EQ6).
var (
	cvss4MaxEQ1 = map[byte][]string{'0': {"AV:N/PR:N/UI:N"}, '1': {"AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"}, '2': {"AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"}}
	cvss4MaxEQ2 = map[byte][]string{'0': {"AC:L/AT:N"}, '1': {"AC:H/AT:N", "AC:L/AT:P"}}
	cvss4MaxEQ3 = map[byte]map[byte][]string{
		'0': {'0': {"VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"}, '1': {"VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"}},
		'1': {'0': {"VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"}, '1': {"VC:L/VI:H/VA:L/CR:H/IR:M/AR:H", "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M", "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M", "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H", "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M"}},
		'2': {'1': {"VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"}},
	}
	cvss4MaxEQ4 = map[byte][]string{'0': {"SC:H/SI:S/SA:S"}, '1': {"SC:H/SI:H/SA:H"}, '2': {"SC:L/SI:L/SA:L"}}
	cvss4MaxEQ5 = map[byte][]string{'0': {"E:A"}, '1': {"E:P"}, '2': {"E:U"}}
	// depths of the MacroVectors in severity steps (MAX_SEVERITY)
	cvss4DepthEQ1    = map[byte]float64{'0': 1, '1': 4, '2': 5}
	cvss4DepthEQ2    = map[byte]float64{'0': 1, '1': 2}
	cvss4DepthEQ3EQ6 = map[[2]byte]float64{{'0', '0'}: 7, {'0', '1'}: 6, {'1', '0'}: 8, {'1', '1'}: 8, {'2', '1'}: 10}
	cvss4DepthEQ4    = map[byte]float64{'0': 6, '1': 5, '2': 4}
)

// CVSS4 returns the score of a CVSS v4.0 vector as the specification's
// reference calculator computes it (MacroVector lookup, then the
// interpolation by severity distance of section 8.2). The score is that of
// the vector as written: threat and environmental metrics, when present,
// take part (CVSS-BT, CVSS-BE, CVSS-BTE); supplemental ones do not.
func CVSS4(vector string) (float64, error) { return cachedScore("4 "+vector, vector, cvss4) }

func cvss4(vector string) (float64, error) {
	m, err := cvssMetrics(vector, "CVSS:4.0/", cvss4Allowed, cvss4Base)
	if err != nil {
		return 0, fmt.Errorf("CVSS v4 vector %q: %v", clip(vector), err)
	}
	eff := func(k string) string {
		v := m[k]
		if v == "" {
			v = "X"
		}
		if v == "X" {
			switch k {
			case "E":
				return "A"
			case "CR", "IR", "AR":
				return "H"
			}
		}
		if mv := m["M"+k]; mv != "" && mv != "X" {
			return mv
		}
		return v
	}
	if eff("VC") == "N" && eff("VI") == "N" && eff("VA") == "N" && eff("SC") == "N" && eff("SI") == "N" && eff("SA") == "N" {
		return 0, nil
	}
	av, pr, ui := eff("AV"), eff("PR"), eff("UI")
	var eq [6]byte
	switch {
	case av == "N" && pr == "N" && ui == "N":
		eq[0] = '0'
	case (av == "N" || pr == "N" || ui == "N") && av != "P":
		eq[0] = '1'
	default:
		eq[0] = '2'
	}
	eq[1] = '1'
	if eff("AC") == "L" && eff("AT") == "N" {
		eq[1] = '0'
	}
	vc, vi, va := eff("VC"), eff("VI"), eff("VA")
	switch {
	case vc == "H" && vi == "H":
		eq[2] = '0'
	case vc == "H" || vi == "H" || va == "H":
		eq[2] = '1'
	default:
		eq[2] = '2'
	}
	switch {
	case eff("MSI") == "S" || eff("MSA") == "S":
		eq[3] = '0'
	case eff("SC") == "H" || eff("SI") == "H" || eff("SA") == "H":
		eq[3] = '1'
	default:
		eq[3] = '2'
	}
	eq[4] = map[string]byte{"A": '0', "P": '1', "U": '2'}[eff("E")]
	eq[5] = '1'
	if eff("CR") == "H" && vc == "H" || eff("IR") == "H" && vi == "H" || eff("AR") == "H" && va == "H" {
		eq[5] = '0'
	}
	macro := string(eq[:])
	value, ok := cvss4Macro[macro]
	if !ok {
		return 0, fmt.Errorf("CVSS v4 vector %q: MacroVector %s has no score", clip(vector), macro)
	}
	lower := func(i int, by byte) (float64, bool) {
		x := eq
		x[i] += by
		s, ok := cvss4Macro[string(x[:])]
		return s, ok
	}
	next1, ok1 := lower(0, 1)
	next2, ok2 := lower(1, 1)
	var next36 float64
	var ok36 bool
	switch {
	case eq[2] == '0' && eq[5] == '0':
		l, okl := lower(5, 1)
		r, okr := lower(2, 1)
		// the calculator takes Math.max of the two; a missing one is NaN there
		switch {
		case okl && okr:
			next36, ok36 = math.Max(l, r), true
		}
	case eq[2] == '1' && eq[5] == '0':
		next36, ok36 = lower(5, 1)
	case eq[2] == '2' && eq[5] == '1':
		// 21 -> 32 does not exist
	default: // 01 -> 11, 11 -> 21
		next36, ok36 = lower(2, 1)
	}
	next4, ok4 := lower(3, 1)
	_, ok5 := lower(4, 1)

	// the highest-severity vector of this MacroVector at or above the scored one
	var dist map[string]float64
	found := false
	for _, a := range cvss4MaxEQ1[eq[0]] {
		for _, b := range cvss4MaxEQ2[eq[1]] {
			for _, c := range cvss4MaxEQ3[eq[2]][eq[5]] {
				for _, d := range cvss4MaxEQ4[eq[3]] {
					for _, e := range cvss4MaxEQ5[eq[4]] {
						if found {
							continue
						}
						maxv := parseCompact(a + "/" + b + "/" + c + "/" + d + "/" + e)
						dd := map[string]float64{}
						all := true
						for _, k := range cvss4LevelOrder {
							dd[k] = cvss4Levels[k][eff(k)] - cvss4Levels[k][maxv[k]]
							if dd[k] < 0 {
								all = false
							}
						}
						if all {
							dist, found = dd, true
						}
					}
				}
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("CVSS v4 vector %q: no highest-severity vector of MacroVector %s is above it", clip(vector), macro)
	}
	cur1 := dist["AV"] + dist["PR"] + dist["UI"]
	cur2 := dist["AC"] + dist["AT"]
	cur36 := dist["VC"] + dist["VI"] + dist["VA"] + dist["CR"] + dist["IR"] + dist["AR"]
	cur4 := dist["SC"] + dist["SI"] + dist["SA"]
	const step = 0.1
	n := 0
	var s1, s2, s36, s4, s5 float64
	if ok1 {
		n++
		s1 = (value - next1) * (cur1 / (cvss4DepthEQ1[eq[0]] * step))
	}
	if ok2 {
		n++
		s2 = (value - next2) * (cur2 / (cvss4DepthEQ2[eq[1]] * step))
	}
	if ok36 {
		n++
		s36 = (value - next36) * (cur36 / (cvss4DepthEQ3EQ6[[2]byte{eq[2], eq[5]}] * step))
	}
	if ok4 {
		n++
		s4 = (value - next4) * (cur4 / (cvss4DepthEQ4[eq[3]] * step))
	}
	if ok5 {
		n++ // EQ5's proportion is always 0
	}
	mean := 0.0
	if n > 0 {
		mean = (s1 + s2 + s36 + s4 + s5) / float64(n)
	}
	score := math.Max(0, math.Min(10, value-mean))
	// round half up, lifted by the reference calculator's EPSILON (1e-6) so
	// a tie that floating point left one ULP below x.x5 rounds up
	// (cvss-v4-calculator issue #66, fixed 2024-11-01)
	return math.Floor((score+1e-6)*10+0.5) / 10, nil
}

func parseCompact(v string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(v, "/") {
		k, val, _ := strings.Cut(kv, ":")
		m[k] = val
	}
	return m
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
