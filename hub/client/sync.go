package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/internal/atomicfile"
	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/transfer"
)

// Site sync API (docs/sync-protocol.md).

func sitePath(name string, rest ...string) string {
	p := "/v1/sites/" + url.PathEscape(name)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// EnrollSite registers a site's edge public key.
func (c *Client) EnrollSite(ctx context.Context, name string, publicPEM []byte) (api.Site, error) {
	var s api.Site
	return s, c.do(ctx, "PUT", sitePath(name, "edge-key"), api.EnrollRequest{PublicKeyPEM: string(publicPEM)}, &s)
}

// AssignAPT sets the APT publications a site serves. A publication the hub
// does not publish is refused with an *APIError (422) of Code
// api.CodeUnknownPublication, and the site's list is left as it was.
func (c *Client) AssignAPT(ctx context.Context, name string, pubs []api.APTAssignment) (api.AssignResult, error) {
	var s api.AssignResult
	return s, c.do(ctx, "PUT", sitePath(name, "apt"), api.AssignRequest{Publications: pubs}, &s)
}

// ExportSite asks the hub for the site's next bundle.
func (c *Client) ExportSite(ctx context.Context, name string, r api.ExportRequest) (api.Export, error) {
	var e api.Export
	return e, c.do(ctx, "POST", sitePath(name, "exports"), r, &e)
}

// SiteExport returns a recorded export.
func (c *Client) SiteExport(ctx context.Context, name string, seq uint64) (api.Export, error) {
	var e api.Export
	return e, c.do(ctx, "GET", sitePath(name, "exports", strconv.FormatUint(seq, 10)), nil, &e)
}

// ExportManifest returns an export's exact DSSE envelope bytes.
func (c *Client) ExportManifest(ctx context.Context, name string, seq uint64) ([]byte, error) {
	resp, err := c.Raw(ctx, "GET", sitePath(name, "exports", strconv.FormatUint(seq, 10), "manifest"), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	env, err := io.ReadAll(io.LimitReader(resp.Body, transfer.MaxManifestSize+1))
	if err == nil && len(env) > transfer.MaxManifestSize {
		err = fmt.Errorf("manifest of export %d exceeds %d bytes", seq, transfer.MaxManifestSize)
	}
	return env, err
}

// ExportPart opens one object or volume of an export from offset, with a
// Range request when offset > 0. The answer is 206 starting at offset, or
// 200 with the whole part when the server (or a proxy) ignored the Range:
// the caller checks StatusCode and Content-Range. kind is "objects" or
// "volumes".
func (c *Client) ExportPart(ctx context.Context, name string, seq uint64, kind, id string, offset int64) (*http.Response, error) {
	var h http.Header
	if offset > 0 {
		h = http.Header{"Range": []string{fmt.Sprintf("bytes=%d-", offset)}}
	}
	return c.Raw(ctx, "GET", sitePath(name, "exports", strconv.FormatUint(seq, 10), kind, id), nil, h)
}

// ImportSite hands an edge bundle to the hub.
func (c *Client) ImportSite(ctx context.Context, name string, r *api.ImportRequest) (api.ImportResult, error) {
	var out api.ImportResult
	return out, c.do(ctx, "POST", sitePath(name, "imports"), r, &out)
}

// SiteSyncState returns a site's sync state.
func (c *Client) SiteSyncState(ctx context.Context, name string) (api.SiteSync, error) {
	var s api.SiteSync
	return s, c.do(ctx, "GET", sitePath(name, "sync"), nil, &s)
}

// StageHubKey creates the next hub key, announced by every bundle from now.
func (c *Client) StageHubKey(ctx context.Context) (api.HubKey, error) {
	var k api.HubKey
	return k, c.do(ctx, "POST", "/v1/hub/key/stage", struct{}{}, &k)
}

// SwitchHubKey makes the staged key the one that signs.
func (c *Client) SwitchHubKey(ctx context.Context, force bool) (api.HubKey, error) {
	var k api.HubKey
	return k, c.do(ctx, "POST", "/v1/hub/key/switch", api.KeySwitchRequest{Force: force}, &k)
}

// DownloadExport copies an export's volumes into dir: free space checked
// first, each volume written under a temporary name, checked against its
// size and SHA-256, then renamed. progress (may be nil) gets byte counts.
// It returns the volume paths.
func (c *Client) DownloadExport(ctx context.Context, x api.Export, dir string, progress func(int64)) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := cas.CheckSpace(dir, uint64(x.VolumeBytes())); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var files []string
	for _, v := range x.Volumes {
		if v.Name != filepath.Base(v.Name) || strings.HasPrefix(v.Name, ".") {
			return nil, fmt.Errorf("hub named a volume %q", v.Name)
		}
		dst := filepath.Join(dir, v.Name)
		resp, err := c.ExportPart(ctx, x.Site, x.Sequence, "volumes", v.Name, 0)
		if err != nil {
			return nil, err
		}
		err = copyVerified(dst, resp.Body, v.SHA256, v.Size, progress)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		files = append(files, dst)
	}
	return files, nil
}

// copyVerified writes r to dst atomically, checking size and digest
// before the file takes its name.
func copyVerified(dst string, r io.Reader, want digest.Digest, size int64, progress func(int64)) error {
	f, err := atomicfile.Create(dst, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort() // a no-op after Commit
	ver := digest.NewVerifier(want, size)
	w := io.MultiWriter(f, ver)
	if progress != nil {
		w = io.MultiWriter(w, progressWriter(progress))
	}
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	if err := ver.Verify(); err != nil {
		return err
	}
	return f.Commit()
}

type progressWriter func(int64)

func (p progressWriter) Write(b []byte) (int, error) { p(int64(len(b))); return len(b), nil }

// ReportImportRefusal records at the hub a site's bundle refused locally.
func (c *Client) ReportImportRefusal(ctx context.Context, site string, r api.ImportRefusal) error {
	return c.do(ctx, "POST", sitePath(site, "import-refusals"), r, nil)
}
