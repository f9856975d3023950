package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/digest"
)

// PackageAdd says how one file is taken in (see hub/factory_intake.go).
type PackageAdd struct {
	Name    string        // the file's name
	Docs    digest.Digest // blob of the deployment documentation, if any
	SBOM    digest.Digest // blob of a vendor SBOM, if any
	RunID   string
	Sources []string
	Started time.Time
}

// AddPackage streams one package file (size bytes, or -1) to the hub's
// factory for app and version.
func (c *Client) AddPackage(ctx context.Context, app, version string, body io.Reader, size int64, o PackageAdd) (api.Package, error) {
	q := url.Values{"name": {o.Name}}
	if o.Docs != "" {
		q.Set("docs", string(o.Docs))
	}
	if o.SBOM != "" {
		q.Set("sbom", string(o.SBOM))
	}
	if o.RunID != "" {
		q.Set("run_id", o.RunID)
	}
	for _, s := range o.Sources {
		q.Add("source", s)
	}
	if !o.Started.IsZero() {
		q.Set("started", o.Started.UTC().Format(time.RFC3339))
	}
	var out api.Package
	path := "/v1/apps/" + esc(app) + "/versions/" + esc(version) + "/packages?" + q.Encode()
	resp, err := c.rawSized(ctx, "POST", path, io.NopCloser(body), size, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&out); err != nil {
		return out, fmt.Errorf("decode package answer: %w", err)
	}
	return out, nil
}

// Package returns a factory-made artifact with its facts and verified provenance.
func (c *Client) Package(ctx context.Context, app, version string, d digest.Digest) (api.Package, error) {
	var out api.Package
	return out, c.do(ctx, "GET", "/v1/apps/"+esc(app)+"/versions/"+esc(version)+"/packages/"+d.Hex(), nil, &out)
}

// ImportVulnFeed streams an OSV feed file (one record, an array, or a zip
// of records) to the hub.
func (c *Client) ImportVulnFeed(ctx context.Context, name string, body io.Reader, size int64, sha256, source string) (api.VulnFeed, error) {
	q := url.Values{"name": {name}}
	if sha256 != "" {
		q.Set("sha256", sha256)
	}
	if source != "" {
		q.Set("source", source)
	}
	var out api.VulnFeed
	resp, err := c.rawSized(ctx, "POST", "/v1/vuln/feeds?"+q.Encode(), io.NopCloser(body), size, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&out); err != nil {
		return out, fmt.Errorf("decode feed answer: %w", err)
	}
	return out, nil
}

// VulnFeed returns the current feed.
func (c *Client) VulnFeed(ctx context.Context) (api.VulnFeed, error) {
	var out api.VulnFeed
	return out, c.do(ctx, "GET", "/v1/vuln/feeds/current", nil, &out)
}

// AddCodeSignRoots trusts the PEM bundle's CA certificates.
func (c *Client) AddCodeSignRoots(ctx context.Context, pem string) ([]api.CodeSignRoot, error) {
	var out struct {
		Roots []api.CodeSignRoot `json:"roots"`
	}
	return out.Roots, c.do(ctx, "POST", "/v1/codesign-roots", api.CodeSignRootRequest{PEM: pem}, &out)
}

// CodeSignRoots lists the trusted code-signing roots.
func (c *Client) CodeSignRoots(ctx context.Context) ([]api.CodeSignRoot, error) {
	var out struct {
		Roots []api.CodeSignRoot `json:"roots"`
	}
	return out.Roots, c.do(ctx, "GET", "/v1/codesign-roots", nil, &out)
}

// SigningKeys lists the registered signing keys and their roles.
func (c *Client) SigningKeys(ctx context.Context) ([]api.SigningKey, error) {
	var out struct {
		Keys []api.SigningKey `json:"keys"`
	}
	return out.Keys, c.do(ctx, "GET", "/v1/signing-keys", nil, &out)
}
