package sigv2

import (
	"net/url"
	"testing"
)

// awsExample is the worked example of AWS's Signature Version 2 signing
// process, the scheme Landscape's legacy API uses: the DescribeJobFlows
// request of the Amazon Elastic MapReduce Developer Guide (API version
// 2009-03-31), "Generate a Signature"
// (http://docs.amazonwebservices.com/ElasticMapReduce/2009-03-31/DeveloperGuide/generate-a-signature.html,
// also the AWS General Reference page "Signature Version 2 signing
// process"), signed with AWS's documented example secret key. AWS prints
// the string to sign and the signature
// i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf%2FMj6vPxyYIs%3D (URL-encoded).
var awsExample = struct {
	secret, host, path string
	params             url.Values
	stringToSign       string
	get, post          string
}{
	secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	host:   "elasticmapreduce.amazonaws.com",
	path:   "/",
	params: url.Values{
		"Action":           {"DescribeJobFlows"},
		"Version":          {"2009-03-31"},
		"AWSAccessKeyId":   {"AKIAIOSFODNN7EXAMPLE"},
		"SignatureVersion": {"2"},
		"SignatureMethod":  {"HmacSHA256"},
		"Timestamp":        {"2011-10-03T15:19:30"},
	},
	stringToSign: "GET\nelasticmapreduce.amazonaws.com\n/\n" +
		"AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Action=DescribeJobFlows&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2011-10-03T15%3A19%3A30&Version=2009-03-31",
	get: "i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf/Mj6vPxyYIs=",
	// The same request sent as POST, as JuliaServices/CloudBase.jl's
	// test suite signs it (test/runtests.jl, testset "AWSSigV2"): only
	// the verb line differs.
	post: "wseguMzBRgA/4/fan8ZwEa0PIF+ws4WFbTJcG1ts5RY=",
}

func TestAWSPublishedExample(t *testing.T) {
	x := awsExample
	sts := StringToSign("GET", x.host, x.path, x.params)
	if sts != x.stringToSign {
		t.Fatalf("string to sign\n%q\nwant\n%q", sts, x.stringToSign)
	}
	if got := Sign(x.secret, sts); got != x.get {
		t.Errorf("GET signature %s, want AWS's %s", got, x.get)
	}
	if !Verify(x.secret, sts, x.get) {
		t.Error("Verify refused AWS's signature")
	}
	if got := Sign(x.secret, StringToSign("POST", x.host, x.path, x.params)); got != x.post {
		t.Errorf("POST signature %s, want %s", got, x.post)
	}
	// A signature parameter already in the set is not signed.
	withSig := url.Values{}
	for k, v := range x.params {
		withSig[k] = v
	}
	withSig.Set(ParamSignature, x.get)
	if got := StringToSign("GET", "ElasticMapReduce.AmazonAWS.com", "", withSig); got != x.stringToSign {
		t.Errorf("host case, empty path or the signature parameter changed the text:\n%q", got)
	}
}

func TestVerifyRefuses(t *testing.T) {
	x := awsExample
	sts := StringToSign("GET", x.host, x.path, x.params)
	for _, c := range []struct{ name, secret, sts, sig string }{
		{"wrong secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", sts, x.get},
		{"other verb", x.secret, StringToSign("POST", x.host, x.path, x.params), x.get},
		{"other port", x.secret, StringToSign("GET", x.host+":8443", x.path, x.params), x.get},
		{"not base64", x.secret, sts, "i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf/Mj6vPxyYIs"},
		{"empty", x.secret, sts, ""},
	} {
		if Verify(c.secret, c.sts, c.sig) {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestEncode(t *testing.T) {
	for in, want := range map[string]string{
		"AZaz09-_.~":            "AZaz09-_.~",
		"a b":                   "a%20b",
		"a+b":                   "a%2Bb",
		"*":                     "%2A",
		"/":                     "%2F",
		"2011-08-18T08:07:00Z":  "2011-08-18T08%3A07%3A00Z",
		"tag:canary OR tag:lab": "tag%3Acanary%20OR%20tag%3Alab",
		"\u20ac":                "%E2%82%AC",
		"=&%":                   "%3D%26%25",
		"":                      "",
	} {
		if got := Encode(in); got != want {
			t.Errorf("Encode(%q) = %q, want %q", in, got, want)
		}
	}
}

// Landscape's list parameters sort by name in byte order: packages.10
// before packages.2, upper case before lower case.
func TestCanonicalQueryOrder(t *testing.T) {
	v := url.Values{
		"packages.2":  {"b"},
		"packages.10": {"j"},
		"packages.1":  {"a"},
		"Zed":         {"z"},
		"dup":         {"2", "1"},
	}
	want := "Zed=z&dup=1&dup=2&packages.1=a&packages.10=j&packages.2=b"
	if got := CanonicalQuery(v); got != want {
		t.Errorf("canonical query %q, want %q", got, want)
	}
}
