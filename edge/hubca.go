package edge

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/tlsconf"
)

// The hub CA an edge pins: given once, at enrolment ('edge init
// --tls-ca') or on the first 'edge serve --hub https://... --tls-ca', it
// is kept in DIR/edge/hub-ca.pem and from then on the edge verifies an
// https hub against exactly it, never against the system's roots.

// hubCAFile is DIR/edge/hub-ca.pem.
const hubCAFile = "hub-ca.pem"

// ErrHubCAPinned: a CA other than the pinned one was given.
var ErrHubCAPinned = errors.New("another hub CA is pinned")

// HubCAPath is where the pinned hub CA is kept.
func (e *Edge) HubCAPath() string { return filepath.Join(e.dir.Edge(), hubCAFile) }

// HubCA returns the pinned hub CA certificates as PEM, nil when none is
// pinned.
func (e *Edge) HubCA() ([]byte, error) {
	b, err := os.ReadFile(e.HubCAPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// PinHubCA pins caPEM (one or more CA certificates, see tlsconf.ParseCAs)
// as the hub's CA. The same CA again is a no-op; another one is refused
// with ErrHubCAPinned unless replace is set. It reports whether the
// pinned CA changed.
func (e *Edge) PinHubCA(caPEM []byte, replace bool) (bool, error) {
	_, certs, err := tlsconf.ParseCAs(caPEM)
	if err != nil {
		return false, err
	}
	norm := tlsconf.EncodeCerts(certs)
	release, err := e.lock()
	if err != nil {
		return false, err
	}
	defer release()
	old, err := e.HubCA()
	if err != nil {
		return false, err
	}
	if bytes.Equal(old, norm) {
		return false, nil
	}
	if old != nil && !replace {
		return false, fmt.Errorf("%w: %s holds the CA pinned at enrolment, and the one given differs; to rotate the hub's CA give --replace-hub-ca once (docs/tls.md)", ErrHubCAPinned, e.HubCAPath())
	}
	if err := atomicfile.WriteFile(e.HubCAPath(), norm, 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// hubTLSConfig is how the edge verifies an https hub: against the pinned
// CA only. Without a pinned CA nothing verifies (an empty pool), so an
// edge never falls back to the system's roots.
func (e *Edge) hubTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	if b, err := e.HubCA(); err == nil && b != nil {
		if p, _, err := tlsconf.ParseCAs(b); err == nil {
			pool = p
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
}
