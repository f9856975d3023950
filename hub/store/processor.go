package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/eucora/eucora/deploy"
)

// Batch is the write set one apply works on. Get sees earlier Sets of the
// same batch. The FSM passes a Pebble indexed batch; recovery tools may pass
// anything that keeps this contract.
type Batch interface {
	Get(key []byte) ([]byte, error) // ErrNotFound when absent
	Set(key, value []byte) error
	Delete(key []byte) error // deleting an absent key is not an error
}

// Processor applies decoded commands to a Batch. It is deterministic: the
// result depends only on the command and the batch's prior contents. It
// checks every precondition before its first Set, so a refused command
// writes nothing but (where it carries one) its audit event.
type Processor struct{}

// Process applies cmd. The returned value is the command's result; the error
// is a domain error (ErrConflict, ErrNotFound, ErrInvalid) or an
// *UnsupportedCommandError, on which the caller must halt.
func (Processor) Process(b Batch, cmd Command) (any, error) {
	if v, ok := supported[cmd.Type]; !ok || cmd.Version < 1 || cmd.Version > v {
		return nil, &UnsupportedCommandError{Type: cmd.Type, Version: cmd.Version}
	}
	apply, ok := handlers[cmd.Type]
	if !ok {
		return nil, &UnsupportedCommandError{Type: cmd.Type, Version: cmd.Version}
	}
	res, err := apply(b, cmd)
	if cmd.Audit != nil {
		a := *cmd.Audit
		if a.Outcome == "" {
			// A proposer's reason stands for a write that succeeded; a
			// refusal's reason is the refusal.
			var why string
			a.Outcome, why = outcomeOf(err)
			if err != nil {
				a.Reason = why
			}
			// A site bundle merged before is audited as the duplicate it
			// is, not as a second "ok" import.
			if r, ok := res.(*SiteImportResult); ok && err == nil && r.Outcome == ImportDuplicate {
				a.Outcome, a.Reason = ImportDuplicate, fmt.Sprintf("bundle sequence %d was merged before: nothing changed", r.Sequence)
			}
		}
		if aerr := appendEvent(b, HubOrigin, 0, Event{
			ID: a.ID, Time: a.Time.UTC(), Actor: a.Actor, Role: a.Role, Action: a.Action, Object: a.Object,
			CorrelationID: a.CorrelationID, Outcome: a.Outcome, Reason: a.Reason,
		}); aerr != nil {
			return nil, aerr
		}
	}
	return res, err
}

func outcomeOf(err error) (string, string) {
	switch {
	case err == nil:
		return "ok", ""
	case errors.Is(err, deploy.ErrDenied):
		return "denied", err.Error()
	case errors.Is(err, ErrConflict):
		return "conflict", err.Error()
	case errors.Is(err, ErrNotFound):
		return "not-found", err.Error()
	default:
		return "failed", err.Error()
	}
}

// handler applies one command type to b. Process calls it only for a type
// and version listed in supported; like the Processor it must check every
// precondition before its first Set. Its error is a domain error; its
// value is the command's result.
type handler func(b Batch, cmd Command) (any, error)

// handlerTable is one domain's commands: each domain file declares its
// table beside the functions it names.
type handlerTable struct {
	domain   string
	handlers map[string]handler
}

// handlerTables lists every domain's table; handlers is their union, built
// once at init.
var handlerTables = []handlerTable{
	{"cluster", clusterHandlers},
	{"identity", identityHandlers},
	{"tokens", tokenHandlers},
	{"sites", siteHandlers},
	{"planes", planeHandlers},
	{"sync", syncHandlers},
	{"execution", executionHandlers},
	{"events", eventHandlers},
	{"blobs", blobHandlers},
	{"catalog", catalogHandlers},
	{"review", reviewHandlers},
	{"intents", intentHandlers},
	{"factory", factoryHandlers},
	{"rollout", rolloutHandlers},
}

var handlers = mergeHandlers(handlerTables)

// mergeHandlers returns the union of tables. It panics on a command type
// two tables claim: which one would apply it is a programming error, not a
// choice to make at run time.
func mergeHandlers(tables []handlerTable) map[string]handler {
	all := map[string]handler{}
	owner := map[string]string{}
	for _, t := range tables {
		for typ, h := range t.handlers {
			if d, dup := owner[typ]; dup {
				panic(fmt.Sprintf("store: command %q has a handler in both the %s and the %s table", typ, d, t.domain))
			}
			if h == nil {
				panic(fmt.Sprintf("store: command %q has a nil handler in the %s table", typ, t.domain))
			}
			all[typ], owner[typ] = h, t.domain
		}
	}
	return all
}

// withBody is the handler of a command whose apply needs only its decoded
// body.
func withBody[T any](fn func(Batch, T) (any, error)) handler {
	return func(b Batch, cmd Command) (any, error) {
		body, err := decode[T](cmd)
		if err != nil {
			return nil, err
		}
		return fn(b, body)
	}
}

func decode[T any](cmd Command) (T, error) {
	var v T
	if err := json.Unmarshal(cmd.Body, &v); err != nil {
		return v, fmt.Errorf("%w: %s body: %v", ErrInvalid, cmd.Type, err)
	}
	return v, nil
}

func exists(b Batch, k []byte) (bool, error) {
	_, err := b.Get(k)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// getRec reads the JSON record under k; a missing one is ErrNotFound
// naming what.
func getRec[T any](b Batch, k []byte, what string) (T, error) {
	var v T
	raw, err := b.Get(k)
	if errors.Is(err, ErrNotFound) {
		return v, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(raw, &v)
}

func setJSON(b Batch, k []byte, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Set(k, j)
}

func setUint(b Batch, k []byte, n uint64) error {
	return b.Set(k, binary.BigEndian.AppendUint64(nil, n))
}

// batchGetter reads a Batch through the getter interface of the State's
// readers (getJSON, getUint).
type batchGetter struct{ b Batch }

func (g batchGetter) Get(k []byte) ([]byte, ioCloser, error) {
	v, err := g.b.Get(k)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errPebbleNotFound
	}
	return v, nopCloser{}, err
}
