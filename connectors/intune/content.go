package intune

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/packaging/intunewin"
)

// zipTime is the time of the setup file inside a built .intunewin: fixed,
// so the same content always zips to the same bytes.
var zipTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func permanent(op, format string, args ...any) *connectors.Error {
	return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Message: fmt.Sprintf(format, args...)}
}

// checkedReader checks the bytes it passes against the release's size and
// digest when they reach EOF.
type checkedReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	c    connectors.Content
	done bool
}

func newChecked(r io.Reader, c connectors.Content) *checkedReader {
	return &checkedReader{r: r, h: sha256.New(), c: c}
}

func (k *checkedReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.h.Write(p[:n])
	k.n += int64(n)
	if err == io.EOF && !k.done {
		k.done = true
		if k.c.Size > 0 && k.n != k.c.Size {
			return n, fmt.Errorf("content %s has %d bytes, the release says %d", k.c.Name, k.n, k.c.Size)
		}
		if got := hex.EncodeToString(k.h.Sum(nil)); k.c.Digest != "" && got != string(k.c.Digest) {
			return n, fmt.Errorf("content %s has SHA-256 %s, the release says %s", k.c.Name, got, k.c.Digest)
		}
	}
	return n, err
}

// prepare makes the encrypted content file of a release in a temporary
// file: the .intunewin's encrypted file for a Win32 app (built from the
// setup file, or the release's own .intunewin), the encrypted installer
// for the other app types. The content is checked against its size and
// digest on the way.
func (c *conn) prepare(r connectors.Release, typ string) (*payload, error) {
	const op = "prepare content"
	ct := r.Content
	src, err := ct.Open()
	if err != nil {
		return nil, permanent(op, "open %s: %v", ct.Name, err)
	}
	defer src.Close()
	in := newChecked(src, ct)
	tmp, err := os.CreateTemp(c.cfg.TempDir, "eucora-intune-*")
	if err != nil {
		return nil, &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Transient, Err: err}
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	fail := func(format string, args ...any) (*payload, error) {
		cleanup()
		return nil, permanent(op, format, args...)
	}
	if typ != "win32LobApp" {
		if _, err := io.Copy(tmp, in); err != nil {
			return fail("%v", err)
		}
		size, _ := tmp.Seek(0, io.SeekCurrent)
		enc, err := os.CreateTemp(c.cfg.TempDir, "eucora-intune-*.bin")
		if err != nil {
			cleanup()
			return nil, &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Transient, Err: err}
		}
		both := func() { cleanup(); enc.Close(); os.Remove(enc.Name()) }
		plain := func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(tmp, 0, size)), nil }
		info, n, err := intunewin.Encrypt(enc, plain, nil)
		if err != nil {
			both()
			return nil, permanent(op, "encrypt %s: %v", ct.Name, err)
		}
		sizeEnc := intunewin.EncryptedSize(n)
		return &payload{
			name: ct.Name, size: n, sizeEnc: sizeEnc, info: info, appFileName: ct.Name, cleanup: both,
			open: func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(enc, 0, sizeEnc)), nil },
		}, nil
	}
	appFileName := ct.Name
	if ct.Type == deploy.PlatformIntuneW {
		if _, err := io.Copy(tmp, in); err != nil {
			return fail("%v", err)
		}
	} else {
		if strings.ContainsAny(ct.Name, `/\`) {
			return fail("content name %q: want a file name, not a path", ct.Name)
		}
		var msi *intunewin.MsiInfo
		if d := r.Install.Detection; ct.Type == deploy.PlatformMSI && d.ProductCode != "" {
			msi = &intunewin.MsiInfo{MsiProductCode: d.ProductCode, MsiProductVersion: d.ProductVersion, MsiExecutionContext: "System", MsiIsMachineInstall: true, MsiPublisher: r.Publisher}
		}
		b, err := intunewin.NewBuilder(ct.Name, intunewin.Options{Name: orDefault(r.DisplayName, ct.Name), MsiInfo: msi, TempDir: c.cfg.TempDir})
		if err != nil {
			return fail("%v", err)
		}
		defer b.Close()
		if err := b.Add(ct.Name, zipTime, in); err != nil {
			return fail("%v", err)
		}
		if _, err := b.Finish(tmp); err != nil {
			return fail("%v", err)
		}
		appFileName = intunewin.OutputName(ct.Name)
	}
	size, _ := tmp.Seek(0, io.SeekCurrent)
	f, err := intunewin.Open(tmp, size)
	if err != nil {
		return fail("%s: %v", ct.Name, err)
	}
	if err := f.Verify(); err != nil {
		return fail("%s: %v", ct.Name, err)
	}
	return &payload{
		name: f.Info.FileName, size: f.Info.UnencryptedContentSize, sizeEnc: f.EncryptedSize(), info: f.Info.EncryptionInfo,
		open: f.OpenEncrypted, appFileName: appFileName, setupFile: f.Info.SetupFile, cleanup: cleanup,
	}, nil
}

// contentBase is the content versions path of an app, with the type-cast
// segment most clients use.
func contentBase(a mobileApp) string {
	return "/deviceAppManagement/mobileApps/" + a.ID + "/microsoft.graph." + a.typeName() + "/contentVersions"
}

// Upload states that end in failure: a file in one is abandoned.
var failedStates = map[string]bool{
	"azureStorageUriRequestFailed": true, "azureStorageUriRequestTimedOut": true, "azureStorageUriRenewalFailed": true,
	"azureStorageUriRenewalTimedOut": true, "commitFileFailed": true, "commitFileTimedOut": true, "error": true,
}

// upload gives the app committed content: it resumes an uncommitted
// content version an earlier attempt left (reusing its file entry when
// the sizes match), or makes a new one; uploads the blocks; commits with
// the encryption info; and returns the content version to make the
// app's committedContentVersion.
func (c *conn) upload(ctx context.Context, a mobileApp, p *payload) (string, error) {
	base := contentBase(a)
	versions, err := list[struct {
		ID string `json:"id"`
	}](ctx, c, "list content versions", base)
	if err != nil {
		return "", err
	}
	sort.Slice(versions, func(i, j int) bool { return numeric(versions[i].ID) > numeric(versions[j].ID) })
	var cv string
	var file *contentFile
	for _, v := range versions {
		if v.ID == a.CommittedContentVersion {
			break // older versions are history
		}
		files, err := list[contentFile](ctx, c, "list content files", base+"/"+v.ID+"/files")
		if err != nil {
			return "", err
		}
		usable := true
		for i := range files {
			f := &files[i]
			if failedStates[f.UploadState] || f.Name != p.name || f.Size != p.size || f.SizeEncrypted != p.sizeEnc || len(files) > 1 {
				usable = false
			} else {
				file = f
			}
		}
		if usable {
			cv = v.ID
			c.log.Info("intune: resuming content version", "app", a.ID, "content_version", cv, "file", file != nil)
		} else {
			file = nil
		}
		break // only the newest uncommitted version is a candidate
	}
	if cv == "" {
		var v struct {
			ID string `json:"id"`
		}
		if err := c.call(ctx, "create content version", http.MethodPost, base, map[string]any{}, &v); err != nil {
			return "", err
		}
		if v.ID == "" {
			return "", permanent("create content version", "the answer has no id")
		}
		cv = v.ID
	}
	files := base + "/" + cv + "/files"
	if file == nil {
		body := map[string]any{"@odata.type": odata("mobileAppContentFile"), "name": p.name, "size": p.size, "sizeEncrypted": p.sizeEnc, "manifest": nil, "isDependency": false}
		var f contentFile
		if err := c.call(ctx, "create content file", http.MethodPost, files, body, &f); err != nil {
			return "", err
		}
		if f.ID == "" {
			return "", permanent("create content file", "the answer has no id")
		}
		file = &f
	}
	fpath := files + "/" + file.ID
	switch file.UploadState {
	case "commitFileSuccess":
		return cv, nil // committed by an earlier attempt that stopped before the PATCH
	case "commitFilePending":
		return cv, c.waitCommit(ctx, fpath)
	}
	f, err := c.waitUpload(ctx, fpath, "azureStorageUriRequestSuccess")
	if err != nil {
		return "", err
	}
	if err := c.putBlocks(ctx, fpath, f, p); err != nil {
		return "", err
	}
	body := map[string]any{"fileEncryptionInfo": p.info}
	if err := c.call(ctx, "commit content file", http.MethodPost, fpath+"/commit", body, nil); err != nil {
		return "", err
	}
	return cv, c.waitCommit(ctx, fpath)
}

func numeric(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// waitUpload polls a file until its upload URI is ready (want is the
// success state of a request or a renewal).
func (c *conn) waitUpload(ctx context.Context, fpath, want string) (contentFile, error) {
	var f contentFile
	err := c.poll(ctx, "wait for the upload URI", func() (bool, error) {
		f = contentFile{}
		if err := c.call(ctx, "get content file", http.MethodGet, fpath, nil, &f); err != nil {
			return false, err
		}
		switch {
		case f.UploadState == want || f.UploadState == "azureStorageUriRenewalSuccess" && want == "azureStorageUriRequestSuccess":
			if f.AzureStorageURI == "" {
				return false, permanent("wait for the upload URI", "state %s without an azureStorageUri", f.UploadState)
			}
			return true, nil
		case failedStates[f.UploadState]:
			return false, &connectors.Error{Plane: connectors.Intune, Op: "wait for the upload URI", Class: connectors.Transient, Code: f.UploadState, Message: "the service could not make an upload URI (" + f.UploadState + "); a retry makes a new content version"}
		}
		return false, nil
	})
	return f, err
}

// waitCommit polls a committed file until the service has checked it.
func (c *conn) waitCommit(ctx context.Context, fpath string) error {
	return c.poll(ctx, "wait for the commit", func() (bool, error) {
		var f contentFile
		if err := c.call(ctx, "get content file", http.MethodGet, fpath, nil, &f); err != nil {
			return false, err
		}
		switch f.UploadState {
		case "commitFileSuccess":
			return true, nil
		case "commitFileFailed", "commitFileTimedOut":
			return false, &connectors.Error{Plane: connectors.Intune, Op: "commit content file", Class: connectors.Permanent, Code: f.UploadState,
				Message: "the service refused the uploaded file (" + f.UploadState + "): its MAC, key or digest does not match what was uploaded"}
		}
		return false, nil
	})
}

// renew asks for a fresh upload URI and waits for it.
func (c *conn) renew(ctx context.Context, fpath string) (contentFile, error) {
	if err := c.call(ctx, "renew upload", http.MethodPost, fpath+"/renewUpload", map[string]any{}, nil); err != nil {
		return contentFile{}, err
	}
	return c.waitUpload(ctx, fpath, "azureStorageUriRenewalSuccess")
}

// maxBlocks is the most blocks one upload may have (four-digit ids).
const maxBlocks = 9999

// putBlocks uploads the encrypted file to the upload URI in blocks (Put
// Block, base64 block ids of equal length), renewing the URI before a
// block when it expires within RenewBefore or when storage refuses it as
// expired, then commits the list (Put Block List).
func (c *conn) putBlocks(ctx context.Context, fpath string, f contentFile, p *payload) error {
	bs := int64(c.cfg.BlockSize)
	blocks := (p.sizeEnc + bs - 1) / bs
	if blocks > maxBlocks {
		return permanent("upload", "%d bytes make %d blocks of %d, more than %d", p.sizeEnc, blocks, bs, maxBlocks)
	}
	src, err := p.open()
	if err != nil {
		return permanent("upload", "open the encrypted file: %v", err)
	}
	defer src.Close()
	buf := make([]byte, bs)
	var ids []string
	for i := int64(0); ; i++ {
		n, rerr := io.ReadFull(src, buf)
		if rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF {
			return permanent("upload", "read the encrypted file: %v", rerr)
		}
		if c.expiring(f) {
			if f, err = c.renew(ctx, fpath); err != nil {
				return err
			}
		}
		id := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%04d", i)))
		if f, err = c.putRenewing(ctx, "put block", fpath, f, "comp=block&blockid="+urlEscape(id), buf[:n]); err != nil {
			return err
		}
		ids = append(ids, id)
		if rerr == io.ErrUnexpectedEOF {
			break
		}
	}
	var list bytes.Buffer
	list.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for _, id := range ids {
		list.WriteString("<Latest>" + id + "</Latest>")
	}
	list.WriteString("</BlockList>")
	if c.expiring(f) {
		if f, err = c.renew(ctx, fpath); err != nil {
			return err
		}
	}
	_, err = c.putRenewing(ctx, "put block list", fpath, f, "comp=blocklist", list.Bytes())
	return err
}

// putRenewing sends one storage request; when storage refuses the upload
// URI (AuthenticationFailed: a SAS that expired), it renews the URI once
// and sends the request again. It returns the file with the URI in use.
func (c *conn) putRenewing(ctx context.Context, op, fpath string, f contentFile, query string, body []byte) (contentFile, error) {
	err := c.putStorage(ctx, op, f.AzureStorageURI, query, body)
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Code != "AuthenticationFailed" {
		return f, err
	}
	c.log.Info("intune: the upload URI was refused; renewing it", "file", fpath)
	if f, err = c.renew(ctx, fpath); err != nil {
		return f, err
	}
	return f, c.putStorage(ctx, op, f.AzureStorageURI, query, body)
}

// expiring reports whether the file's upload URI expires within
// RenewBefore (an unknown expiry is taken as far off).
func (c *conn) expiring(f contentFile) bool {
	exp := f.AzureStorageURIExpirationDateTime
	return !exp.IsZero() && exp.Before(c.now().Add(c.cfg.RenewBefore))
}

func urlEscape(s string) string {
	return strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(s)
}

// putStorage sends a PUT to the storage host: the SAS in the URI
// authorizes it, so no Graph token goes there.
func (c *conn) putStorage(ctx context.Context, op, sas, query string, body []byte) error {
	u := sas
	if strings.Contains(u, "?") {
		u += "&" + query
	} else {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return permanent(op, "upload URI %q: %v", sas, err)
	}
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("x-ms-version", "2019-07-07")
	if strings.HasSuffix(query, "blocklist") {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := c.plain.Do(req)
	if err != nil {
		return netError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return netError(op, err)
	}
	if resp.StatusCode/100 != 2 {
		return classify(op, resp.StatusCode, resp.Header, data, c.now())
	}
	return nil
}
