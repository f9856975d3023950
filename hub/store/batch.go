package store

import (
	"io"

	"github.com/cockroachdb/pebble/v2"
)

type ioCloser = io.Closer

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

var errPebbleNotFound = pebble.ErrNotFound

// pebbleBatch adapts an indexed Pebble batch to Batch.
type pebbleBatch struct{ b *pebble.Batch }

var _ Batch = pebbleBatch{}

func (p pebbleBatch) Get(k []byte) ([]byte, error) { return getRaw(p.b, k) }
func (p pebbleBatch) Set(k, v []byte) error        { return p.b.Set(k, v, nil) }
func (p pebbleBatch) Delete(k []byte) error        { return p.b.Delete(k, nil) }
