// Package edge is the appliance at a remote site: local store, content
// serving, sync with the hub over network or media, offline enforcement.
package edge
