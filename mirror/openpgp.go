package mirror

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/digest"
)

// ReadKeyring reads an OpenPGP public keyring, armored or binary (the
// formats apt accepts for signed-by).
func ReadKeyring(data []byte, source string) (openpgp.EntityList, error) {
	var el openpgp.EntityList
	var err error
	if bytes.Contains(data, []byte("-----BEGIN PGP")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %v: %w", source, err, ErrKeyring)
	}
	if len(el) == 0 {
		return nil, fmt.Errorf("keyring %s: no keys: %w", source, ErrKeyring)
	}
	return el, nil
}

func verifyConfig(now time.Time) *packet.Config {
	return &packet.Config{Time: func() time.Time { return now }}
}

// classify turns a go-crypto verification error into ours; sig is the
// signature (armored or binary) that was checked.
func classify(file string, sig []byte, err error) error {
	signer := signatureIssuer(sig)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return &SignatureError{File: file, Reason: "the signing key is not in the keyring", Err: ErrUnknownKey, Signer: signer}
	default:
		return &SignatureError{File: file, Reason: err.Error(), Err: ErrBadSignature, Signer: signer}
	}
}

// signatureIssuer returns the issuer named by the first signature packet
// of sig (armored or binary): its fingerprint when the packet carries one,
// else its 64-bit key ID, in upper-case hex; "" when there is none.
func signatureIssuer(sig []byte) string {
	var r io.Reader = bytes.NewReader(sig)
	if bytes.Contains(sig, []byte("-----BEGIN PGP")) {
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
				return strings.ToUpper(fmt.Sprintf("%x", s.IssuerFingerprint))
			case s.IssuerKeyId != nil:
				return fmt.Sprintf("%016X", *s.IssuerKeyId)
			}
			return ""
		}
	}
	return ""
}

// describeKeyring names a keyring for messages: what it is (name), the
// file it was read from (file, "" when unknown), its digest (sum, the
// SHA-256 of its bytes) and each key's fingerprint and first user ID.
func describeKeyring(name, file string, sum digest.Digest, el openpgp.EntityList) string {
	var keys []string
	for _, e := range el {
		k := fingerprint(e)
		for _, id := range e.Identities {
			k += " " + id.Name
			break
		}
		keys = append(keys, k)
	}
	from := ""
	if file != "" {
		from = "from " + file + "; "
	}
	return fmt.Sprintf("%s (%ssha256 %s; %d key(s): %s)", name, from, sum.Short(), len(el), strings.Join(keys, ", "))
}

// VerifyInRelease checks a clearsigned InRelease against keyring and returns
// the signed payload. Only the signed bytes are returned: anything outside
// the signed block is discarded.
func VerifyInRelease(data []byte, keyring openpgp.EntityList, now time.Time, file string) ([]byte, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, &SignatureError{File: file, Reason: "not a clearsigned message", Err: ErrBadSignature}
	}
	if _, err := block.VerifySignature(keyring, verifyConfig(now)); err != nil {
		var sig []byte
		if b, _ := clearsign.Decode(data); b != nil {
			sig, _ = io.ReadAll(io.LimitReader(b.ArmoredSignature.Body, 1<<20))
		}
		return nil, classify(file, sig, err)
	}
	// block.Plaintext is the payload with the canonical line endings the
	// signature covered (minus the final line break), as apt sees it.
	out := append([]byte(nil), block.Plaintext...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}

// VerifyDetached checks an armored or binary detached signature of data.
func VerifyDetached(data, sig []byte, keyring openpgp.EntityList, now time.Time, file string) error {
	var err error
	if bytes.Contains(sig, []byte("-----BEGIN PGP")) {
		_, err = openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(data), bytes.NewReader(sig), verifyConfig(now))
	} else {
		_, err = openpgp.CheckDetachedSignature(keyring, bytes.NewReader(data), bytes.NewReader(sig), verifyConfig(now))
	}
	if err != nil {
		return classify(file, sig, err)
	}
	return nil
}

// Signer signs published Release files.
type Signer struct {
	entity *openpgp.Entity
}

// LoadSigner reads an armored private key written by GenerateKey (or
// exported by gpg --export-secret-keys --armor, unprotected).
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	el, err := ReadKeyring(data, path)
	if err != nil {
		return nil, err
	}
	e := el[0]
	if e.PrivateKey == nil {
		return nil, fmt.Errorf("signing key %s: holds no private key: %w", path, ErrKeyring)
	}
	if e.PrivateKey.Encrypted {
		return nil, fmt.Errorf("signing key %s: passphrase-protected keys are not supported: %w", path, ErrKeyring)
	}
	return &Signer{entity: e}, nil
}

func (s *Signer) config() *packet.Config {
	return &packet.Config{DefaultHash: crypto.SHA512}
}

// ClearSign returns the InRelease form of release.
func (s *Signer) ClearSign(release []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, s.entity.PrivateKey, s.config())
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(release); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	// go-crypto armors without the CRC-24 line (RFC 9580); gpgv 2.2, which
	// apt uses, then misreads the END line. Re-armor the signature with it.
	out := b.Bytes()
	i := bytes.Index(out, []byte("-----BEGIN PGP SIGNATURE-----"))
	block, _ := clearsign.Decode(out)
	if i < 0 || block == nil {
		return nil, errors.New("clearsign: unexpected encoder output")
	}
	sig, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, err
	}
	var res bytes.Buffer
	res.Write(out[:i])
	if err := armorChecksum(&res, "PGP SIGNATURE", sig); err != nil {
		return nil, err
	}
	return res.Bytes(), nil
}

// armorChecksum writes data armored with a CRC-24 line, as gpg does.
func armorChecksum(w *bytes.Buffer, blockType string, data []byte) error {
	aw, err := armor.EncodeWithChecksumOption(w, blockType, nil, true)
	if err != nil {
		return err
	}
	if _, err := aw.Write(data); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return err
	}
	w.WriteByte('\n')
	return nil
}

// DetachSign returns an armored detached signature (Release.gpg).
func (s *Signer) DetachSign(release []byte) ([]byte, error) {
	var b bytes.Buffer
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, s.entity, bytes.NewReader(release), s.config()); err != nil {
		return nil, err
	}
	if err := armorChecksum(&b, "PGP SIGNATURE", sig.Bytes()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Fingerprint returns the signing key's fingerprint in upper-case hex.
func (s *Signer) Fingerprint() string { return fingerprint(s.entity) }

// fingerprint returns e's primary key fingerprint in upper-case hex.
func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

// GeneratedKey names the files GenerateKey wrote.
type GeneratedKey struct {
	Fingerprint string `json:"fingerprint"`
	PrivateKey  string `json:"private_key"`
	PublicASC   string `json:"public_key_armored"`
	PublicGPG   string `json:"public_key_binary"`
}

// GenerateKey creates an OpenPGP (v4, Ed25519) signing key and writes
// DIR/NAME.key.asc (0600), DIR/NAME.asc and DIR/NAME.gpg. Existing files
// are not overwritten.
func GenerateKey(dir, name, uid string) (*GeneratedKey, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || name[0] == '.' {
		return nil, fmt.Errorf("key name %q: must be a plain file name", name)
	}
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, DefaultHash: crypto.SHA512}
	e, err := openpgp.NewEntity(uid, "EUCORA APT signing key", "", cfg)
	if err != nil {
		return nil, err
	}
	res := &GeneratedKey{
		Fingerprint: fingerprint(e),
		PrivateKey:  filepath.Join(dir, name+".key.asc"),
		PublicASC:   filepath.Join(dir, name+".asc"),
		PublicGPG:   filepath.Join(dir, name+".gpg"),
	}
	for _, p := range []string{res.PrivateKey, res.PublicASC, res.PublicGPG} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("%s already exists: refusing to overwrite a key", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var priv, privB, pubA, pubB bytes.Buffer
	if err := e.SerializePrivate(&privB, cfg); err != nil {
		return nil, err
	}
	if err := armorChecksum(&priv, openpgp.PrivateKeyType, privB.Bytes()); err != nil {
		return nil, err
	}
	if err := e.Serialize(&pubB); err != nil {
		return nil, err
	}
	if err := armorChecksum(&pubA, openpgp.PublicKeyType, pubB.Bytes()); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(res.PrivateKey, priv.Bytes(), 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(res.PublicASC, pubA.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(res.PublicGPG, pubB.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}
