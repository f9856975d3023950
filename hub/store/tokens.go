package store

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/eucora/eucora/deploy"
)

// tokenHandlers apply API credentials: a token record under its id and,
// for authentication, its id under the SHA-256 of its secret.
var tokenHandlers = map[string]handler{
	CmdTokenCreate: withBody(applyTokenCreate),
	CmdTokenRevoke: withBody(applyTokenRevoke),
}

func applyTokenCreate(b Batch, t Token) (any, error) {
	if _, err := deploy.ParseRole(string(t.Role)); err != nil {
		return nil, fmt.Errorf("%w: role: %v", ErrInvalid, err)
	}
	if t.ID == "" || len(t.Hash) != 64 {
		return nil, fmt.Errorf("%w: token needs id and a sha256 hash", ErrInvalid)
	}
	if ok, err := exists(b, tokenKey(t.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("token %q: %w", t.ID, ErrConflict)
	}
	if ok, err := exists(b, hashKey(t.Hash)); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("token secret: %w", ErrConflict)
	}
	if err := setJSON(b, tokenKey(t.ID), t); err != nil {
		return nil, err
	}
	return t, b.Set(hashKey(t.Hash), []byte(t.ID))
}

func applyTokenRevoke(b Batch, r TokenRevokeBody) (any, error) {
	raw, err := b.Get(tokenKey(r.ID))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("token %q: %w", r.ID, ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	var t Token
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return t, nil // revoking twice is a no-op
	}
	at := r.Time.UTC()
	t.RevokedAt = &at
	return t, setJSON(b, tokenKey(t.ID), t)
}
