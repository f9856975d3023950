// Package signing holds EUCORA's Ed25519 keys and DSSE envelopes.
//
// Key files are standard PEM so that openssl reads them (docs/bundle-format.md
// shows how to verify a bundle by hand):
//
//	NAME.key  PKCS#8 "PRIVATE KEY" PEM, mode 0600
//	NAME.pub  PKIX "PUBLIC KEY" PEM
//
// A key id is the lowercase hex SHA-256 of the public key's DER
// SubjectPublicKeyInfo, which `openssl pkey -pubin -in NAME.pub -outform DER |
// sha256sum` reproduces.
//
// Envelopes follow DSSE v1: the signature covers
// PAE(payloadType, payload) = "DSSEv1 <len(type)> <type> <len(payload)> <payload>".
package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eucora/eucora/internal/atomicfile"
)

var (
	// ErrBadSignature is returned when a signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey is returned when an envelope is signed only by keys
	// that are not trusted.
	ErrUnknownKey = errors.New("signed by an unknown key")
	// ErrKeyFile is returned for an unreadable or malformed key file.
	ErrKeyFile = errors.New("bad key file")
	// ErrEnvelope is returned for a malformed envelope.
	ErrEnvelope = errors.New("malformed signed envelope")
)

// PrivateKey is an Ed25519 signing key with its id.
type PrivateKey struct {
	Key ed25519.PrivateKey
	ID  string
}

// PublicKey is an Ed25519 verification key with its id.
type PublicKey struct {
	Key ed25519.PublicKey
	ID  string
	// Source says where the key was read from (LoadPublic: the file), for
	// messages such as a refusal naming the keys trusted; may be empty.
	Source string
}

// Public returns the public half.
func (k *PrivateKey) Public() *PublicKey {
	pub := k.Key.Public().(ed25519.PublicKey)
	return &PublicKey{Key: pub, ID: KeyID(pub)}
}

// KeyID returns the fingerprint of pub: hex SHA-256 of its DER
// SubjectPublicKeyInfo.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // cannot fail for a valid ed25519 key
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Generate creates a new key pair.
func Generate() (*PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{Key: priv, ID: KeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// WriteKeyPair writes DIR/NAME.key (0600) and DIR/NAME.pub (0644). It
// refuses to overwrite an existing key.
func WriteKeyPair(dir, name string, k *PrivateKey) (keyPath, pubPath string, err error) {
	if name == "" || filepath.Base(name) != name || name[0] == '.' {
		return "", "", fmt.Errorf("key name %q: must be a plain file name", name)
	}
	keyPath = filepath.Join(dir, name+".key")
	pubPath = filepath.Join(dir, name+".pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return "", "", fmt.Errorf("%s already exists; refusing to overwrite a key", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if err := atomicfile.WriteFile(keyPath, EncodePrivate(k), 0o600); err != nil {
		return "", "", err
	}
	if err := atomicfile.WriteFile(pubPath, EncodePublic(k.Public()), 0o644); err != nil {
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// EncodePrivate returns k as a PKCS#8 PEM block (what NAME.key holds).
func EncodePrivate(k *PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		panic(err) // an Ed25519 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// EncodePublic returns the PEM encoding of pub.
func EncodePublic(pub *PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub.Key)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// LoadPrivate reads a NAME.key file. It refuses a key file that others can
// read.
func LoadPrivate(path string) (*PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %v); chmod 600 it", ErrKeyFile, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	return ParsePrivate(b, path)
}

// ParsePrivate decodes a PKCS#8 PEM Ed25519 private key; name labels errors.
func ParsePrivate(b []byte, name string) (*PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s: no PEM PRIVATE KEY block", ErrKeyFile, name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, name, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not an Ed25519 key", ErrKeyFile, name)
	}
	return &PrivateKey{Key: ek, ID: KeyID(ek.Public().(ed25519.PublicKey))}, nil
}

// LoadPublic reads a NAME.pub file.
func LoadPublic(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	k, err := ParsePublic(b, path)
	if err != nil {
		return nil, err
	}
	k.Source = path
	return k, nil
}

// ParsePublic decodes a PKIX PEM Ed25519 public key; name labels errors.
func ParsePublic(b []byte, name string) (*PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: %s: no PEM PUBLIC KEY block", ErrKeyFile, name)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, name, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not an Ed25519 key", ErrKeyFile, name)
	}
	return &PublicKey{Key: ek, ID: KeyID(ek)}, nil
}

// Envelope is a DSSE v1 envelope (JSON field names as in the DSSE spec).
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"` // standard base64
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"` // standard base64
}

// PAE is DSSE's pre-authentication encoding, the bytes that are signed.
func PAE(payloadType string, payload []byte) []byte {
	head := fmt.Sprintf("DSSEv1 %d %s %d ", len(payloadType), payloadType, len(payload))
	return append([]byte(head), payload...)
}

// Sign wraps payload in a DSSE envelope signed by k.
func Sign(k *PrivateKey, payloadType string, payload []byte) *Envelope {
	sig := ed25519.Sign(k.Key, PAE(payloadType, payload))
	return &Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []Signature{{KeyID: k.ID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
}

// Trust is a set of trusted public keys by id.
type Trust map[string]*PublicKey

// NewTrust builds a Trust from keys.
func NewTrust(keys ...*PublicKey) Trust {
	t := Trust{}
	for _, k := range keys {
		t[k.ID] = k
	}
	return t
}

// Verify checks env against trust and the expected payload type and returns
// the payload and the id of the key that verified it. An envelope verifies
// when at least one signature by a trusted key is valid; a signature by a
// trusted key that does not verify is always an error.
func Verify(env *Envelope, trust Trust, payloadType string) ([]byte, string, error) {
	if env.PayloadType != payloadType {
		return nil, "", fmt.Errorf("%w: payload type %q, want %q", ErrEnvelope, env.PayloadType, payloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("%w: payload: %v", ErrEnvelope, err)
	}
	if len(env.Signatures) == 0 {
		return nil, "", fmt.Errorf("%w: no signatures", ErrEnvelope)
	}
	pae := PAE(payloadType, payload)
	var unknown []string
	var good string
	for _, s := range env.Signatures {
		k, ok := trust[s.KeyID]
		if !ok {
			unknown = append(unknown, s.KeyID)
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil || !ed25519.Verify(k.Key, pae, sig) {
			return nil, "", fmt.Errorf("%w: signature by key %s does not verify", ErrBadSignature, short(s.KeyID))
		}
		good = s.KeyID
	}
	if good == "" {
		return nil, "", fmt.Errorf("%w: key id %s is not trusted", ErrUnknownKey, short(first(unknown)))
	}
	return payload, good, nil
}

// ParseEnvelope decodes a JSON DSSE envelope strictly.
func ParseEnvelope(b []byte) (*Envelope, error) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	return &env, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
