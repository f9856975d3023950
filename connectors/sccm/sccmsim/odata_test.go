package sccmsim

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		in   string
		want wmiPath
		err  string
	}{
		{"SMS_Application", wmiPath{Class: "SMS_Application"}, ""},
		{"sms_application(16777217)", wmiPath{Class: "sms_application", Key: "16777217", HasKey: true}, ""},
		{"SMS_Collection('PS100010')", wmiPath{Class: "SMS_Collection", Key: "PS100010", HasKey: true, Quoted: true}, ""},
		{"SMS_Collection('O''Brien')", wmiPath{Class: "SMS_Collection", Key: "O'Brien", HasKey: true, Quoted: true}, ""},
		{"SMS_Collection('PS100010')/AdminService.AddMembershipRule",
			wmiPath{Class: "SMS_Collection", Key: "PS100010", HasKey: true, Quoted: true, Method: "AddMembershipRule"}, ""},
		{"SMS_ClientOperation.InitiateClientOperation", wmiPath{Class: "SMS_ClientOperation", Method: "InitiateClientOperation", Static: true}, ""},
		{"", wmiPath{}, "no class"},
		{"SMS-App", wmiPath{}, "not a class name"},
		{"SMS_Application(12", wmiPath{}, "unterminated"},
		{"SMS_Application('x", wmiPath{}, "unterminated"},
		{"SMS_Application(abc)", wmiPath{}, "want a number or a quoted string"},
		{"SMS_Application/AdminService.X", wmiPath{}, "want Class(key)/AdminService.Method"},
		{"SMS_Application(1)/Other.X", wmiPath{}, "want Class(key)/AdminService.Method"},
		{"SMS_Application(1)x", wmiPath{}, "want Class(key)/AdminService.Method"},
		{"SMS_Client.Op.Deeper", wmiPath{}, "not a method name"},
	}
	for _, c := range cases {
		got, err := parsePath(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %+v %v, want %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
}

func TestParseFilter(t *testing.T) {
	r := row{"Name": "Pilot", "CollectionType": int64(2), "IsBuiltIn": false, "Comment": nil, "CollectionID": "PS100010"}
	cases := []struct {
		f     string
		match bool
		err   string
	}{
		{"Name eq 'Pilot'", true, ""},
		{"Name eq 'pilot'", true, ""}, // WQL compares without case
		{"Name eq 'Other'", false, ""},
		{"Name ne 'Other'", true, ""},
		{"Name eq 'Pilot' and CollectionType eq 2", true, ""},
		{"Name eq 'Pilot' and CollectionType eq 1", false, ""},
		{"(Name eq 'Pilot') and (IsBuiltIn eq false and CollectionType ne 1)", true, ""},
		{"Comment eq null", true, ""},
		{"Name EQ 'Pilot' AND CollectionType eq 2", true, ""},
		{"Name eq 'It''s'", false, ""},
		{"Name eq 'Pilot' or Name eq 'X'", false, "only eq, ne and and"},
		{"CollectionType gt 1", false, "only eq, ne and and"},
		{"contains(Name,'Pil')", false, "no filter functions"},
		{"startswith(Name,'Pil') eq true", false, "no filter functions"},
		{"not IsBuiltIn", false, "only eq, ne and and"},
		{"Nome eq 'Pilot'", false, "Could not find a property named 'Nome'"},
		{"Name eq 2", false, "incompatible types"},
		{"CollectionType eq '2'", false, "incompatible types"},
		{"IsBuiltIn eq 0", false, "incompatible types"},
		{"Name eq 'Pilot", false, "unterminated"},
		{"Name eq", false, "expected a literal"},
		{"Name", false, "expected an operator"},
		{"(Name eq 'Pilot'", false, "missing ')'"},
		{"Name eq 'Pilot' and", false, "ends where a comparison"},
		{"Name eq 'Pilot' 'x'", false, "unexpected"},
		{"Name eq 'Pilot' ; drop", false, "unexpected character"},
	}
	for _, c := range cases {
		e, err := parseFilter(c.f, collSchema)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.f, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.f, err)
			continue
		}
		if e.eval(r) != c.match {
			t.Errorf("%q: match %v, want %v", c.f, !c.match, c.match)
		}
	}
}
