package edge

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eucora/eucora/internal/signing"
)

// hubKeyHint says where the right file comes from.
const hubKeyHint = "give the hub's public key, written by 'eucora hub key --out hub.pub' (or DATA/keys/hub.pub on a hub node)"

// LoadHubKey reads the hub public key file an edge is initialised with. It
// refuses anything else with an error (wrapping ErrNotHubKey) that names
// path and says what the file is: a private key, an edge's public key, an
// OpenPGP key, another kind of PEM block or key, or bytes that are no key.
func LoadHubKey(path string) (*signing.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotHubKey, err)
	}
	what, pub := classifyKey(b)
	if pub == nil {
		return nil, fmt.Errorf("%w: %s is %s, not the hub's public key; %s", ErrNotHubKey, path, what, hubKeyHint)
	}
	if site, root := edgeKeyAt(path, pub.ID); site != "" {
		return nil, fmt.Errorf("%w: %s is the public key of edge %s (data directory %s), not the hub's; %s", ErrNotHubKey, path, site, root, hubKeyHint)
	}
	return pub, nil
}

// classifyKey says what b holds; pub is set only for an Ed25519 public key
// in the PEM form 'eucora hub key' writes.
func classifyKey(b []byte) (what string, pub *signing.PublicKey) {
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(trimmed) == 0:
		return "empty", nil
	case bytes.Contains(b, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")):
		return "an OpenPGP public key (an APT signing key or keyring, such as 'keys generate --type openpgp' or 'gpg --export --armor' write)", nil
	case bytes.Contains(b, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")):
		return "an OpenPGP private key (keep it secret; an edge never needs it)", nil
	}
	if tag, ok := openPGPPacket(b); ok && (tag == 5 || tag == 6) {
		if tag == 5 {
			return "a binary OpenPGP private key (keep it secret; an edge never needs it)", nil
		}
		return "a binary OpenPGP public key or keyring (an APT signed-by keyring such as NAME.gpg)", nil
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "not a key file (no PEM block in it)", nil
	}
	switch blk.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return fmt.Sprintf("a PEM PUBLIC KEY block that does not parse (%v)", err), nil
		}
		switch k := k.(type) {
		case ed25519.PublicKey:
			return "an Ed25519 public key", &signing.PublicKey{Key: k, ID: signing.KeyID(k)}
		case *rsa.PublicKey:
			return "an RSA public key (the hub signs with Ed25519)", nil
		case *ecdsa.PublicKey:
			return "an ECDSA public key (the hub signs with Ed25519)", nil
		}
		return fmt.Sprintf("a %T public key (the hub signs with Ed25519)", k), nil
	case "PRIVATE KEY":
		if k, err := signing.ParsePrivate(b, ""); err == nil {
			return fmt.Sprintf("a private key (Ed25519, key id %s: keep it secret; an edge never needs a private key of the hub)", k.ID), nil
		}
		return "a private key (PKCS#8; keep it secret)", nil
	case "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return "a private key (PEM " + blk.Type + "; keep it secret)", nil
	case "CERTIFICATE":
		return "an X.509 certificate", nil
	}
	return "a PEM " + blk.Type + " block", nil
}

// openPGPPacket decodes the header of b's first OpenPGP packet (RFC 4880
// section 4.2: old format 10TTTTLL, new format 11TTTTTT) and reports its
// tag when the packet looks like a key packet, with a key version 3 to 6.
func openPGPPacket(b []byte) (tag int, ok bool) {
	if len(b) < 3 {
		return 0, false
	}
	var lenBytes int
	switch h := b[0]; {
	case h&0xC0 == 0xC0:
		tag = int(h & 0x3F)
		switch l := b[1]; {
		case l < 192:
			lenBytes = 1
		case l < 224:
			lenBytes = 2
		case l == 255:
			lenBytes = 5
		default:
			return 0, false
		}
	case h&0x80 == 0x80:
		tag = int(h>>2) & 0x0F
		lenBytes = [4]int{1, 2, 4, 0}[h&3]
		if lenBytes == 0 {
			return 0, false
		}
	default:
		return 0, false
	}
	if 1+lenBytes >= len(b) {
		return 0, false
	}
	v := b[1+lenBytes]
	return tag, v >= 3 && v <= 6
}

// edgeKeyAt reports the edge whose key id is id when the key file sits in
// that edge's data directory (DIR/edge.pub or DIR/keys/edge.pub), as read
// from its state.
func edgeKeyAt(path, id string) (site, root string) {
	dir := filepath.Dir(path)
	for _, r := range []string{dir, filepath.Dir(dir)} {
		st, err := loadState(filepath.Join(r, "edge"))
		if err == nil && st.EdgeKey == id {
			return st.Site, r
		}
	}
	return "", ""
}
