// Package api is the hub's HTTP wire vocabulary: the requests, answers,
// refusal codes and error shape that the hub server, its Go client, the
// edge and the CLI share (docs/api.md documents each).
//
// A JSON name here is part of the API. The hub's stored records (package
// hub/store) are a separate set of types that convert to these ones in
// hub/store/views.go, so renaming a stored field cannot change an answer
// and changing an answer cannot rewrite stored data. The package imports
// only the domain (deploy), the bundle format (transfer) and small
// internal helpers: a client of the hub never pulls in Raft or Pebble.
package api
