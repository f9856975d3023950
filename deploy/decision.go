package deploy

// Decision is the explained outcome of a policy evaluation. The zero value
// denies (default deny). Checks lists every rule evaluated, passed or not, in
// a fixed order, so the same inputs always give the same explanation.
type Decision struct {
	Allowed bool    `json:"allowed"`
	Checks  []Check `json:"checks"`
}

// Check is one evaluated rule.
type Check struct {
	Rule   string `json:"rule"`   // stable rule name, e.g. "sod.no-self-approval"
	Pass   bool   `json:"pass"`   // whether the rule is satisfied
	Reason string `json:"reason"` // human explanation with the facts used
}

// Reasons returns the reasons of the failed checks, or of every check when
// the decision allows.
func (d Decision) Reasons() []string {
	var out []string
	for _, c := range d.Checks {
		if !c.Pass || d.Allowed {
			out = append(out, c.Reason)
		}
	}
	return out
}

// Failed returns the names of the failed rules.
func (d Decision) Failed() []string {
	var out []string
	for _, c := range d.Checks {
		if !c.Pass {
			out = append(out, c.Rule)
		}
	}
	return out
}

// Err returns nil when the decision allows and a *DeniedError naming what
// was refused otherwise.
func (d Decision) Err(what string) error {
	if d.Allowed {
		return nil
	}
	return &DeniedError{What: what, Reasons: d.Reasons()}
}

// judge accumulates checks; a decision allows only if at least one check
// was made and every check passed.
type judge struct{ checks []Check }

func (j *judge) check(rule string, pass bool, reason string) bool {
	j.checks = append(j.checks, Check{Rule: rule, Pass: pass, Reason: reason})
	return pass
}

func (j *judge) merge(prefix string, d Decision) bool {
	for _, c := range d.Checks {
		if prefix != "" {
			c.Rule = prefix + c.Rule
		}
		j.checks = append(j.checks, c)
	}
	return d.Allowed
}

func (j *judge) decision() Decision {
	ok := len(j.checks) > 0
	for _, c := range j.checks {
		ok = ok && c.Pass
	}
	return Decision{Allowed: ok, Checks: j.checks}
}
