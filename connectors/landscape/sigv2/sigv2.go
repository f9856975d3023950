// Package sigv2 is the request signature of Landscape's legacy query API:
// AWS's query-API Signature Version 2 with HmacSHA256, which Landscape
// adopted with its own parameter names (access_key_id, signature_method,
// signature_version, timestamp, signature).
//
// The signed text is
//
//	VERB "\n" host "\n" path "\n" canonical-query
//
// where host is the Host header in lower case (with ":port" when the
// request names one), path is the URL path ("/" when empty), and the
// canonical query is every parameter but "signature", sorted by name in
// byte order (then by value), each name and value percent-encoded as RFC
// 3986 says (only A-Z a-z 0-9 - _ . ~ stay as they are, a space is %20,
// never "+"), joined as name=value with "&". The signature is the base64
// of the HMAC-SHA256 of that text keyed with the secret.
//
// The connector signs with it (connectors/landscape) and the simulator
// verifies with it (connectors/landscape/landscapesim); the tests hold it
// to AWS's published example, not to a second implementation.
package sigv2

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// The parameter values and names of the scheme as Landscape spells them.
const (
	// Method is the only signature_method Landscape accepts.
	Method = "HmacSHA256"
	// Version is the only signature_version Landscape accepts.
	Version = "2"
	// TimeFormat is the timestamp parameter's layout (UTC).
	TimeFormat = "2006-01-02T15:04:05Z"

	ParamAccessKey = "access_key_id"
	ParamMethod    = "signature_method"
	ParamVersion   = "signature_version"
	ParamTimestamp = "timestamp"
	ParamSignature = "signature"
)

// Encode percent-encodes s as RFC 3986 section 2 says for a query
// component: the unreserved characters A-Z a-z 0-9 - _ . ~ stay, every
// other byte of its UTF-8 form becomes %XX with upper-case hex.
func Encode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// CanonicalQuery renders params without "signature" as the signed text's
// last line.
func CanonicalQuery(params url.Values) string {
	type kv struct{ k, v string }
	var all []kv
	for k, vs := range params {
		if k == ParamSignature {
			continue
		}
		for _, v := range vs {
			all = append(all, kv{k, v})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].k != all[j].k {
			return all[i].k < all[j].k
		}
		return all[i].v < all[j].v
	})
	parts := make([]string, len(all))
	for i, p := range all {
		parts[i] = Encode(p.k) + "=" + Encode(p.v)
	}
	return strings.Join(parts, "&")
}

// StringToSign is the text the signature covers. host is lowered here;
// an empty path is "/".
func StringToSign(method, host, path string, params url.Values) string {
	if path == "" {
		path = "/"
	}
	return strings.ToUpper(method) + "\n" + strings.ToLower(host) + "\n" + path + "\n" + CanonicalQuery(params)
}

// Sign returns base64(HMAC-SHA256(secret, stringToSign)).
func Sign(secret, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is the signature of stringToSign under
// secret, comparing in constant time.
func Verify(secret, stringToSign, signature string) bool {
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return hmac.Equal(got, m.Sum(nil))
}
