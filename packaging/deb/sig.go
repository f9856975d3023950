package deb

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/eucora/eucora/packaging/facts"
)

// maxSignatures bounds the _gpg* members read, maxSignatureSize each
// (an OpenPGP signature or a dpkg-sig manifest is a few KiB).
const (
	maxSignatures    = 8
	maxSignatureSize = 1 << 20
)

// DetailNotVerified is the Signature.Detail of a signed .deb read without
// a keyring.
const DetailNotVerified = "debsig signature present, not verified against a keyring"

// sigMember is one _gpg* member and its verification.
type sigMember struct {
	name     string
	data     []byte
	manifest bool   // dpkg-sig clearsigned manifest, else a debsigs detached signature
	issuer   string // key ID or fingerprint the signature names

	// debsigs, with a keyring: the signed bytes go into pw, the check
	// runs in a goroutine and reports on done.
	pw   *io.PipeWriter
	dead bool
	done chan sigResult

	state  facts.SignatureState
	signer string
	detail string
}

type sigResult struct {
	signer *openpgp.Entity
	err    error
}

// errStreamAborted ends a check whose file turned out defective.
var errStreamAborted = errors.New("inspection aborted")

// verifier checks the signatures of one .deb while its members stream by.
// Without a keyring it only names them.
type verifier struct {
	sigs    []*sigMember
	keyring openpgp.EntityList
	cfg     *packet.Config

	// dpkg-sig manifests list the md5, sha1 and size of each member.
	md5, sha1 hash.Hash
	size      int64
	digests   map[string]memberDigest
}

type memberDigest struct {
	md5, sha1 string
	size      int64
}

func newVerifier(sigs []*sigMember, keyring openpgp.EntityList, now time.Time) *verifier {
	v := &verifier{sigs: sigs, keyring: keyring, cfg: &packet.Config{Time: func() time.Time { return now }}}
	for _, s := range sigs {
		s.manifest = bytes.Contains(s.data[:min(len(s.data), 256)], []byte("-----BEGIN PGP SIGNED MESSAGE-----"))
		s.issuer = issuer(s.data)
	}
	if len(keyring) == 0 {
		return v
	}
	for _, s := range sigs {
		if s.manifest {
			if v.digests == nil {
				v.digests = map[string]memberDigest{}
				v.md5, v.sha1 = md5.New(), sha1.New()
			}
			continue
		}
		pr, pw := io.Pipe()
		s.pw, s.done = pw, make(chan sigResult, 1)
		go func(s *sigMember, pr *io.PipeReader) {
			defer func() { // go-crypto parses what the file holds: a panic there is an invalid signature
				if r := recover(); r != nil {
					pr.CloseWithError(errStreamAborted)
					s.done <- sigResult{err: fmt.Errorf("malformed signature: %v", r)}
				}
			}()
			var sigr io.Reader = bytes.NewReader(s.data)
			if bytes.HasPrefix(bytes.TrimSpace(s.data), []byte("-----BEGIN PGP")) {
				blk, err := armor.Decode(bytes.NewReader(s.data))
				if err != nil {
					pr.CloseWithError(err)
					s.done <- sigResult{err: fmt.Errorf("armor: %w", err)}
					return
				}
				sigr = blk.Body
			}
			e, err := openpgp.CheckDetachedSignature(keyring, pr, sigr, v.cfg)
			pr.CloseWithError(errStreamAborted) // unblock the writer if the check ended early
			s.done <- sigResult{signer: e, err: err}
		}(s, pr)
	}
	return v
}

// active reports whether the members' bytes are needed.
func (v *verifier) active() bool { return len(v.keyring) > 0 && len(v.sigs) > 0 }

// begin starts a signed member.
func (v *verifier) begin() {
	if v.md5 != nil {
		v.md5.Reset()
		v.sha1.Reset()
		v.size = 0
	}
}

// Write feeds the signed bytes of the current member to every check. It
// never fails: a check that ended stops taking bytes.
func (v *verifier) Write(p []byte) (int, error) {
	for _, s := range v.sigs {
		if s.pw != nil && !s.dead {
			if _, err := s.pw.Write(p); err != nil {
				s.dead = true
			}
		}
	}
	if v.md5 != nil {
		v.md5.Write(p)
		v.sha1.Write(p)
		v.size += int64(len(p))
	}
	return len(p), nil
}

// end closes a signed member.
func (v *verifier) end(name string) {
	if v.md5 != nil {
		v.digests[name] = memberDigest{hex.EncodeToString(v.md5.Sum(nil)), hex.EncodeToString(v.sha1.Sum(nil)), v.size}
	}
}

// abort ends the checks of a file that turned out defective.
func (v *verifier) abort() {
	for _, s := range v.sigs {
		if s.pw != nil {
			s.pw.CloseWithError(errStreamAborted)
			<-s.done
			s.pw = nil
		}
	}
}

// finish completes the checks and returns the file's signature.
func (v *verifier) finish() *facts.Signature {
	if len(v.sigs) == 0 {
		return &facts.Signature{State: facts.SigUnsigned, Detail: "no _gpg* signature member"}
	}
	names := make([]string, len(v.sigs))
	for i, s := range v.sigs {
		names[i] = s.name
	}
	if len(v.keyring) == 0 {
		d := DetailNotVerified
		if len(v.sigs) > 1 {
			d += " (" + strings.Join(names, ", ") + ")"
		}
		return &facts.Signature{State: facts.SigUntrusted, Format: "debsig", Signer: v.sigs[0].issuer, Detail: d}
	}
	for _, s := range v.sigs {
		if s.manifest {
			v.checkManifest(s)
			continue
		}
		s.pw.Close()
		res := <-s.done
		s.pw = nil
		v.judge(s, res.signer, res.err)
	}
	// An invalid signature wins (something was changed after signing),
	// then a trusted one, then expired, then untrusted.
	var pick *sigMember
	rank := map[facts.SignatureState]int{facts.SigInvalid: 4, facts.SigTrusted: 3, facts.SigExpired: 2, facts.SigUntrusted: 1}
	var details []string
	for _, s := range v.sigs {
		if pick == nil || rank[s.state] > rank[pick.state] {
			pick = s
		}
		details = append(details, s.name+": "+s.detail)
	}
	return &facts.Signature{State: pick.state, Format: "debsig", Signer: pick.signer, Detail: strings.Join(details, "; ")}
}

// judge turns a go-crypto verification result into a state.
func (v *verifier) judge(s *sigMember, e *openpgp.Entity, err error) {
	s.signer = s.issuer
	if e != nil {
		s.signer = entityName(e)
	}
	switch {
	case err == nil:
		s.state, s.detail = facts.SigTrusted, "good signature by "+s.signer
	case errors.Is(err, pgperrors.ErrUnknownIssuer) && s.issuer == "":
		s.state, s.detail = facts.SigInvalid, "no OpenPGP signature naming its key"
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		s.state, s.detail = facts.SigUntrusted, "signing key "+s.issuer+" is not in the keyring"
	case e != nil && (errors.Is(err, pgperrors.ErrKeyExpired) || errors.Is(err, pgperrors.ErrSignatureExpired)):
		s.state, s.detail = facts.SigExpired, fmt.Sprintf("signature by %s verifies but %v", s.signer, err)
	default:
		s.state, s.detail = facts.SigInvalid, fmt.Sprintf("signature does not verify over debian-binary, control and data: %v", err)
	}
}

// checkManifest verifies a dpkg-sig clearsigned manifest and the member
// digests it lists.
func (v *verifier) checkManifest(s *sigMember) {
	defer func() { // go-crypto parses what the file holds
		if r := recover(); r != nil {
			s.state, s.signer, s.detail = facts.SigInvalid, s.issuer, fmt.Sprintf("malformed signature: %v", r)
		}
	}()
	blk, _ := clearsign.Decode(s.data)
	if blk == nil {
		s.state, s.signer, s.detail = facts.SigInvalid, s.issuer, "not a clearsigned message"
		return
	}
	e, err := blk.VerifySignature(v.keyring, v.cfg)
	v.judge(s, e, err)
	if s.state != facts.SigTrusted && s.state != facts.SigExpired {
		return
	}
	listed, err := manifestFiles(blk.Plaintext)
	if err != nil {
		s.state, s.detail = facts.SigInvalid, "dpkg-sig manifest: "+err.Error()
		return
	}
	for name, want := range listed {
		got, ok := v.digests[name]
		if !ok {
			s.state, s.detail = facts.SigInvalid, fmt.Sprintf("dpkg-sig manifest lists %s, which is not a signed member here", name)
			return
		}
		if got != want {
			s.state, s.detail = facts.SigInvalid, fmt.Sprintf("dpkg-sig manifest digest of %s does not match the member (changed after signing)", name)
			return
		}
	}
	for name := range v.digests {
		if _, ok := listed[name]; !ok {
			s.state, s.detail = facts.SigInvalid, fmt.Sprintf("dpkg-sig manifest does not cover %s", name)
			return
		}
	}
	s.detail += " (dpkg-sig manifest, member digests match)"
}

// manifestFiles parses the Files: field of a dpkg-sig manifest: lines of
// "md5 sha1 size name".
func manifestFiles(text []byte) (map[string]memberDigest, error) {
	out := map[string]memberDigest{}
	in := false
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimRight(line, "\r")
		if !in {
			in = strings.HasPrefix(line, "Files:")
			continue
		}
		if line == "" || (line[0] != ' ' && line[0] != '\t') {
			break
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("Files line %q is not md5 sha1 size name", clip(strings.TrimSpace(line), 80))
		}
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("Files line for %s: size %q", f[3], f[2])
		}
		out[f[3]] = memberDigest{strings.ToLower(f[0]), strings.ToLower(f[1]), n}
	}
	if len(out) == 0 {
		return nil, errors.New("no Files field")
	}
	return out, nil
}

// entityName names a key: its primary user ID and fingerprint.
func entityName(e *openpgp.Entity) string {
	fp := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
	if id := e.PrimaryIdentity(); id != nil && id.Name != "" {
		return id.Name + " (" + fp + ")"
	}
	return fp
}

// issuer returns the key a signature (armored or binary, detached or
// clearsigned) names: its issuer fingerprint, else its key ID, in upper
// case hex; "" when it names none.
func issuer(sig []byte) (id string) {
	defer func() {
		if recover() != nil {
			id = ""
		}
	}()
	var r io.Reader = bytes.NewReader(sig)
	if blk, _ := clearsign.Decode(sig); blk != nil {
		r = blk.ArmoredSignature.Body
	} else if bytes.Contains(sig[:min(len(sig), 256)], []byte("-----BEGIN PGP")) {
		b, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return ""
		}
		r = b.Body
	}
	pr := packet.NewReader(io.LimitReader(r, 1<<20))
	for i := 0; i < 16; i++ {
		p, err := pr.Next()
		if err != nil {
			return ""
		}
		if s, ok := p.(*packet.Signature); ok {
			switch {
			case len(s.IssuerFingerprint) > 0:
				return strings.ToUpper(hex.EncodeToString(s.IssuerFingerprint))
			case s.IssuerKeyId != nil:
				return fmt.Sprintf("%016X", *s.IssuerKeyId)
			}
			return ""
		}
	}
	return ""
}
