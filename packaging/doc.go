// Package packaging is artifact intake: hashes, metadata, SBOM, vulnerability
// policy, provenance and signatures.
package packaging
