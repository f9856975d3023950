package api

import (
	"encoding/json"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/digest"
)

// The packaging factory (EUCORA-architecture.md section 7).
type (
	// VulnFeed is an imported offline vulnerability feed (OSV records).
	VulnFeed struct {
		ID         string        `json:"id"`
		Name       string        `json:"name"`
		Blob       digest.Digest `json:"blob"`
		Size       int64         `json:"size"`
		Records    int           `json:"records"`
		Newest     time.Time     `json:"newest"`
		Source     string        `json:"source,omitempty"`
		ImportedBy string        `json:"imported_by"`
		ImportedAt time.Time     `json:"imported_at"`
	}
	// VulnFeedRequest imports the feed stored as blob Blob (PUT
	// /v1/blobs/sha256/HEX first). SHA256, when given, is the checksum the
	// feed's publisher gave; it must match the blob.
	VulnFeedRequest struct {
		Blob   digest.Digest `json:"blob"`
		Name   string        `json:"name"` // the file's name (.json or .zip)
		SHA256 string        `json:"sha256,omitempty"`
		Source string        `json:"source,omitempty"`
	}
	// CodeSignRoot is a trusted code-signing root certificate.
	CodeSignRoot struct {
		Fingerprint string    `json:"fingerprint"`
		Subject     string    `json:"subject"`
		PEM         string    `json:"pem"`
		AddedBy     string    `json:"added_by"`
		AddedAt     time.Time `json:"added_at"`
	}
	// CodeSignRootRequest adds the PEM certificates as roots.
	CodeSignRootRequest struct {
		PEM string `json:"pem"`
	}
	// SigningKey is a signing key the hub knows, with its one role.
	SigningKey struct {
		KeyID     string    `json:"key_id"`
		Role      string    `json:"role"`
		PublicPEM string    `json:"public_pem"`
		CreatedAt time.Time `json:"created_at"`
	}
	// Package is a factory-made artifact as `eucora package show` shows it:
	// the artifact (with its intake record), the facts read, and the
	// verification of its provenance done for this answer.
	Package struct {
		Artifact   Artifact        `json:"artifact"`
		Facts      json.RawMessage `json:"facts"`
		Findings   json.RawMessage `json:"findings,omitempty"` // the scan report's findings
		Decision   json.RawMessage `json:"decision,omitempty"` // the policy decision document
		Provenance *Provenance     `json:"provenance,omitempty"`
		// Derived are the risk factors the facts decide, with the rule.
		Derived []deploy.Derivation `json:"derived"`
	}
	// Provenance is the verification of a package's provenance.
	Provenance struct {
		Envelope digest.Digest `json:"envelope"`
		KeyID    string        `json:"key_id"`
		Verified bool          `json:"verified"`
		Error    string        `json:"error,omitempty"`
		Builder  string        `json:"builder,omitempty"`
		RunID    string        `json:"run_id,omitempty"`
		Started  time.Time     `json:"started,omitzero"`
		Finished time.Time     `json:"finished,omitzero"`
	}
)
