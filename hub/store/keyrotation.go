package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eucora/eucora/internal/signing"
)

// Hub key rotation in two steps, so no edge is ever handed a bundle signed
// by a key it has not been told to trust:
//
//  1. stage: a next key is created; every bundle still signed by the
//     current key announces it (record "hub-keys"), and an edge that
//     applies one trusts the next key too;
//  2. switch: the next key becomes current; the old public key is kept to
//     verify what it signed (evidence packs).
const (
	CmdKeyStage  = "identity.key.stage"
	CmdKeySwitch = "identity.key.switch"
)

func init() {
	supported[CmdKeyStage], supported[CmdKeySwitch] = 1, 1
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

func applyKeyRotation(b Batch, cmd Command) (any, error) {
	var id Identity
	raw, err := b.Get(keyIdentity)
	if err != nil {
		return nil, fmt.Errorf("hub identity: %w", err)
	}
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, err
	}
	switch cmd.Type {
	case CmdKeyStage:
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
	case CmdKeySwitch:
		body, err := decode[KeySwitchBody](cmd)
		if err != nil {
			return nil, err
		}
		if id.Next == nil {
			return nil, fmt.Errorf("%w: no key is staged ('eucora hub key rotate --stage' first)", ErrInvalid)
		}
		id.Previous = append(id.Previous, RetiredKey{KeyID: id.KeyID, PublicPEM: id.PublicPEM, RetiredAt: body.At.UTC()})
		id.KeyID, id.PrivatePEM, id.PublicPEM, id.Next = id.Next.KeyID, id.Next.PrivatePEM, id.Next.PublicPEM, nil
	default:
		return nil, errors.New("not a key rotation command")
	}
	return id, setJSON(b, keyIdentity, id)
}
