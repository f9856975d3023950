package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eucora/eucora/internal/signing"
)

// identityHandlers apply the hub's identity: created once at bootstrap,
// then its signing key rotated in two steps, so no edge is ever handed a
// bundle signed by a key it has not been told to trust:
//
//  1. stage: a next key is created; every bundle still signed by the
//     current key announces it (record "hub-keys"), and an edge that
//     applies one trusts the next key too;
//  2. switch: the next key becomes current; the old public key is kept to
//     verify what it signed (evidence packs).
var identityHandlers = map[string]handler{
	CmdIdentityInit: withBody(applyIdentityInit),
	CmdKeyStage:     applyKeyStage,
	CmdKeySwitch:    applyKeySwitch,
}

// KeyPair is a staged hub key.
type KeyPair struct {
	KeyID      string    `json:"key_id"`
	PrivatePEM string    `json:"private_pem"`
	PublicPEM  string    `json:"public_pem"`
	StagedAt   time.Time `json:"staged_at"`
}

// RetiredKey is a former hub key, public half only.
type RetiredKey struct {
	KeyID     string    `json:"key_id"`
	PublicPEM string    `json:"public_pem"`
	RetiredAt time.Time `json:"retired_at"`
}

// KeySwitchBody switches to the staged key at At.
type KeySwitchBody struct {
	At time.Time `json:"at"`
}

func applyIdentityInit(b Batch, id Identity) (any, error) {
	var cur Identity
	if raw, err := b.Get(keyIdentity); err == nil {
		// Created once: later inits are no-ops returning the first.
		if err := json.Unmarshal(raw, &cur); err != nil {
			return nil, err
		}
		return cur, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if id.KeyID == "" || id.PrivatePEM == "" || id.PeerSecret == "" {
		return nil, fmt.Errorf("%w: identity needs key_id, private_pem and peer_secret", ErrInvalid)
	}
	return id, setJSON(b, keyIdentity, id)
}

// loadIdentity reads the identity a rotation changes; a rotation needs
// one, so its absence is an error before the body is looked at.
func loadIdentity(b Batch) (Identity, error) {
	var id Identity
	raw, err := b.Get(keyIdentity)
	if err != nil {
		return id, fmt.Errorf("hub identity: %w", err)
	}
	return id, json.Unmarshal(raw, &id)
}

func applyKeyStage(b Batch, cmd Command) (any, error) {
	id, err := loadIdentity(b)
	if err != nil {
		return nil, err
	}
	next, err := decode[KeyPair](cmd)
	if err != nil {
		return nil, err
	}
	if id.Next != nil {
		return nil, fmt.Errorf("%w: key %s is already staged; switch to it first", ErrConflict, clipID(id.Next.KeyID))
	}
	k, err := signing.ParsePrivate([]byte(next.PrivatePEM), "staged key")
	if err != nil || k.ID != next.KeyID || next.KeyID == id.KeyID {
		return nil, fmt.Errorf("%w: staged key: unreadable, mislabelled or the current key (%v)", ErrInvalid, err)
	}
	id.Next = &next
	return id, setJSON(b, keyIdentity, id)
}

func applyKeySwitch(b Batch, cmd Command) (any, error) {
	id, err := loadIdentity(b)
	if err != nil {
		return nil, err
	}
	body, err := decode[KeySwitchBody](cmd)
	if err != nil {
		return nil, err
	}
	if id.Next == nil {
		return nil, fmt.Errorf("%w: no key is staged ('eucora hub key rotate --stage' first)", ErrInvalid)
	}
	id.Previous = append(id.Previous, RetiredKey{KeyID: id.KeyID, PublicPEM: id.PublicPEM, RetiredAt: body.At.UTC()})
	id.KeyID, id.PrivatePEM, id.PublicPEM, id.Next = id.Next.KeyID, id.Next.PrivatePEM, id.Next.PublicPEM, nil
	return id, setJSON(b, keyIdentity, id)
}
