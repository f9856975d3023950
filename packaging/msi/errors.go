package msi

import "errors"

// Errors.
var (
	// ErrNoTable: the database's catalogue does not list the table asked for.
	ErrNoTable = errors.New("no such table")
	// ErrNoStream: the database has no stream of the name asked for.
	ErrNoStream = errors.New("no such stream")
)

func isNoTable(err error) bool { return errors.Is(err, ErrNoTable) }
