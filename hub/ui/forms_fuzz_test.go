package ui

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// The console's parsers of outside input (query strings and form posts)
// never panic, accept only what they document, and name the field of
// everything they refuse.

func fuzzValues(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
}

func checkRefusal(t *testing.T, raw string, err error, fields ...string) {
	t.Helper()
	if err == nil {
		return
	}
	ie, ok := err.(*InputError)
	if !ok || ie.Field == "" || ie.Msg == "" || !utf8.ValidString(ie.Error()) {
		t.Fatalf("%q: refusal %v does not name a field", raw, err)
	}
}

func FuzzParseSitesQuery(f *testing.F) {
	fuzzValues(f, "", "class=online", "class=air-gapped&state=stale&sort=staleness&dir=desc", "class=moon", "sort=x&sort=y", "dir=up", "x=1", "class=%ff")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseSitesQuery(v)
		checkRefusal(t, raw, err)
		if err != nil {
			return
		}
		if (q.Class != "" && !contains(SiteClasses, q.Class)) || (q.State != "" && !contains(SiteStates, q.State)) || !contains(SiteSorts, q.Sort) {
			t.Fatalf("%q: accepted %+v", raw, q)
		}
		// Encode round-trips.
		back, err := url.ParseQuery(q.Encode(q.Sort, q.Desc))
		if err != nil {
			t.Fatal(err)
		}
		if q2, err := ParseSitesQuery(back); err != nil || q2 != q {
			t.Fatalf("%q: %+v encodes to %v, parsed %+v %v", raw, q, back, q2, err)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzParseAuditQuery(f *testing.F) {
	fuzzValues(f, "", "correlation_id=01ABC", "before=10", "before=0", "before=-1", "correlation_id=%3Cscript%3E", "x=1")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseAuditQuery(v)
		checkRefusal(t, raw, err)
		if err == nil && strings.ContainsAny(q.CorrelationID, "<>\"' &") {
			t.Fatalf("%q: accepted correlation id %q", raw, q.CorrelationID)
		}
	})
}

func FuzzParseDriftQuery(f *testing.F) {
	fuzzValues(f, "", "site=lon&plane=intune&app=com.acme.x", "site=A", "app=%3C")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseDriftQuery(v)
		checkRefusal(t, raw, err)
		if err == nil && strings.ContainsAny(q.Site+q.Plane+q.App, "<>\"' &/") {
			t.Fatalf("%q: accepted %+v", raw, q)
		}
	})
}

func FuzzParseForms(f *testing.F) {
	fuzzValues(f, "token=euc_abc&csrf=x", "token=", "token=a+b", "csrf=x&reason=because", "csrf=x&subject=intent:i-1&decision=approved&days=7&conditions=a%0Ab",
		"subject=nope&decision=approved", "subject=intent:x&decision=maybe", "subject=intent:x&decision=rejected&days=3")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if l, err := ParseLoginForm(v); err == nil {
			if l.Token == "" || len(l.Token) > MaxTokenLen || strings.ContainsAny(l.Token, " \t\r\n") {
				t.Fatalf("%q: accepted token %q", raw, l.Token)
			}
		} else {
			checkRefusal(t, raw, err)
		}
		if a, err := ParseActionForm(v); err == nil {
			if len(a.Reason) > MaxReason {
				t.Fatalf("%q: accepted a reason of %d bytes", raw, len(a.Reason))
			}
		} else {
			checkRefusal(t, raw, err)
		}
		if c, err := ParseCABForm(v); err == nil {
			if (c.Decision != "approved" && c.Decision != "rejected") || !containsInt(CABValidityDays, c.Days) || len(c.Conditions) > 20 || !strings.Contains(c.Subject, ":") {
				t.Fatalf("%q: accepted %+v", raw, c)
			}
		} else {
			checkRefusal(t, raw, err)
		}
	})
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
