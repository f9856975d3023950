package intunesim

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/packaging/intunewin"
)

// contentVersion is one mobileAppContent.
type contentVersion struct {
	id    string
	files []*file
}

// committed reports whether the version has files and all are committed.
func (cv *contentVersion) committed() bool {
	if len(cv.files) == 0 {
		return false
	}
	for _, f := range cv.files {
		if !f.committed {
			return false
		}
	}
	return true
}

// file is one mobileAppContentFile.
type file struct {
	id, name      string
	size, sizeEnc int64
	manifest      any
	isDependency  bool
	created       time.Time

	state     string // uploadState
	polls     int    // polls left before the pending state resolves
	next      string // the state a commit resolves to
	uri       string
	expiry    time.Time
	reason    string // why the commit failed (simulator inspection only)
	digest    [32]byte
	info      intunewin.EncryptionInfo // sent at commit
	committed bool
}

// Upload states (mobileAppContentFileUploadState).
const (
	stRequestPending = "azureStorageUriRequestPending"
	stRequestSuccess = "azureStorageUriRequestSuccess"
	stRenewalPending = "azureStorageUriRenewalPending"
	stRenewalSuccess = "azureStorageUriRenewalSuccess"
	stCommitPending  = "commitFilePending"
	stCommitSuccess  = "commitFileSuccess"
	stCommitFailed   = "commitFileFailed"
)

func (f *file) view(q *request) map[string]any {
	m := map[string]any{
		"@odata.type":                       "#microsoft.graph.mobileAppContentFile",
		"id":                                f.id,
		"name":                              f.name,
		"size":                              f.size,
		"sizeEncrypted":                     f.sizeEnc,
		"manifest":                          f.manifest,
		"isDependency":                      f.isDependency,
		"isCommitted":                       f.committed,
		"uploadState":                       f.state,
		"createdDateTime":                   graphTime(f.created),
		"azureStorageUri":                   nil,
		"azureStorageUriExpirationDateTime": nil,
	}
	if f.uri != "" {
		m["azureStorageUri"] = q.base + f.uri
		m["azureStorageUriExpirationDateTime"] = graphTime(f.expiry)
	}
	if q.beta() {
		m["isFrameworkFile"] = false
		m["sizeInBytes"] = f.size
		m["sizeEncryptedInBytes"] = f.sizeEnc
	}
	return m
}

// advance moves a pending state on by one poll.
func (s *Server) advance(f *file) {
	switch f.state {
	case stRequestPending, stRenewalPending, stCommitPending:
	default:
		return
	}
	if f.polls > 0 {
		f.polls--
		return
	}
	switch f.state {
	case stRequestPending:
		s.sign(f)
		f.state = stRequestSuccess
	case stRenewalPending:
		s.sign(f)
		f.state = stRenewalSuccess
	case stCommitPending:
		f.state = f.next
		f.committed = f.next == stCommitSuccess
	}
}

// sign gives the file a fresh upload URI (a path on this server standing
// for the Azure blob, with a SAS-like query).
func (s *Server) sign(f *file) {
	now := s.o.Now().UTC()
	f.expiry = now.Add(s.o.SASLifetime)
	path := "/blob/" + f.id + "/" + f.id + ".intunewin.bin"
	se := f.expiry.Format(time.RFC3339)
	v := url.Values{"sv": {"2019-07-07"}, "st": {now.Add(-5 * time.Minute).Format(time.RFC3339)}, "se": {se}, "sr": {"b"}, "sp": {"rcw"}, "sig": {s.sasSignature(path, se)}}
	f.uri = path + "?" + v.Encode()
}

func (a *app) version(id string) *contentVersion {
	for _, cv := range a.versions {
		if cv.id == id {
			return cv
		}
	}
	return nil
}

// contentVersions serves /mobileApps/{id}/contentVersions/...
func (s *Server) contentVersions(q *request, a *app, rest []string) {
	ctx := "deviceAppManagement/mobileApps('" + a.id + "')/" + a.typ[1:] + "/contentVersions"
	if len(rest) == 0 {
		switch q.r.Method {
		case http.MethodGet:
			var items []map[string]any
			for _, cv := range a.versions {
				items = append(items, map[string]any{"@odata.type": "#microsoft.graph.mobileAppContent", "id": cv.id})
			}
			s.page(q, ctx, items)
		case http.MethodPost:
			body, ok := q.decode()
			if !ok {
				return
			}
			for k, v := range body {
				if k != "@odata.type" || v != "#microsoft.graph.mobileAppContent" {
					q.badRequest("The property '%s' does not exist on type 'microsoft.graph.mobileAppContent'.", clipText(k))
					return
				}
			}
			cv := &contentVersion{id: strconv.Itoa(len(a.versions) + 1)}
			a.versions = append(a.versions, cv)
			q.reply(http.StatusCreated, map[string]any{"@odata.context": q.context(ctx + "/$entity"), "@odata.type": "#microsoft.graph.mobileAppContent", "id": cv.id})
		default:
			q.methodNotAllowed()
		}
		return
	}
	cv := a.version(rest[0])
	if cv == nil {
		q.notFound(fmt.Sprintf("The content version '%s' of the app '%s'", clipText(rest[0]), a.id))
		return
	}
	rest = rest[1:]
	if len(rest) == 0 {
		if q.r.Method != http.MethodGet {
			q.methodNotAllowed()
			return
		}
		q.reply(http.StatusOK, map[string]any{"@odata.context": q.context(ctx + "/$entity"), "@odata.type": "#microsoft.graph.mobileAppContent", "id": cv.id})
		return
	}
	if rest[0] != "files" {
		q.badRequest("Resource not found for the segment '%s'.", clipText(rest[0]))
		return
	}
	ctx += "('" + cv.id + "')/files"
	rest = rest[1:]
	if len(rest) == 0 {
		switch q.r.Method {
		case http.MethodGet:
			var items []map[string]any
			for _, f := range cv.files {
				s.advance(f)
				items = append(items, f.view(q))
			}
			s.page(q, ctx, items)
		case http.MethodPost:
			s.createFile(q, cv, ctx)
		default:
			q.methodNotAllowed()
		}
		return
	}
	var f *file
	for _, x := range cv.files {
		if x.id == rest[0] {
			f = x
		}
	}
	if f == nil {
		q.notFound(fmt.Sprintf("The file '%s' of content version '%s'", clipText(rest[0]), cv.id))
		return
	}
	rest = rest[1:]
	if len(rest) == 0 {
		if q.r.Method != http.MethodGet {
			q.methodNotAllowed()
			return
		}
		s.advance(f)
		v := f.view(q)
		v["@odata.context"] = q.context(ctx + "/$entity")
		q.reply(http.StatusOK, v)
		return
	}
	if q.r.Method != http.MethodPost || len(rest) != 1 {
		q.methodNotAllowed()
		return
	}
	switch strings.TrimPrefix(rest[0], "microsoft.graph.") {
	case "commit":
		s.commit(q, f)
	case "renewUpload":
		s.renew(q, f)
	default:
		q.badRequest("Resource not found for the segment '%s'.", clipText(rest[0]))
	}
}

func (s *Server) createFile(q *request, cv *contentVersion, ctx string) {
	body, ok := q.decode()
	if !ok {
		return
	}
	props, err := validate(body, contentFile, q.beta(), true)
	if err != nil {
		q.badRequest("%s", err)
		return
	}
	f := &file{id: s.newID(), created: s.o.Now(), state: stRequestPending, polls: s.o.ConsistencyDelay}
	f.name, _ = props["name"].(string)
	f.size = jsonInt(props["size"])
	f.sizeEnc = jsonInt(props["sizeEncrypted"])
	f.manifest = props["manifest"]
	f.isDependency, _ = props["isDependency"].(bool)
	switch {
	case f.size < 0:
		q.badRequest("The property 'size' must not be negative.")
		return
	case f.sizeEnc < intunewin.EncryptedSize(0):
		q.badRequest("The property 'sizeEncrypted' is %d; an encrypted file has at least %d bytes.", f.sizeEnc, intunewin.EncryptedSize(0))
		return
	case f.sizeEnc > s.o.MaxBlobSize:
		q.badRequest("The file is %d bytes encrypted, over the %d bytes this simulator holds.", f.sizeEnc, s.o.MaxBlobSize)
		return
	}
	cv.files = append(cv.files, f)
	v := f.view(q)
	v["@odata.context"] = q.context(ctx + "/$entity")
	q.reply(http.StatusCreated, v)
}

func (s *Server) renew(q *request, f *file) {
	if f.state != stRequestSuccess && f.state != stRenewalSuccess {
		q.badRequest("The upload of file '%s' cannot be renewed in state %s.", f.id, f.state)
		return
	}
	f.state, f.polls = stRenewalPending, s.o.ConsistencyDelay
	q.noContent()
}

// commit checks the uploaded blob with the encryption info sent, as the
// service does: the MAC under the MAC key, then the plaintext's size and
// SHA-256 after decryption with the encryption key. The verdict shows
// after the commit's pending polls: commitFileSuccess or commitFileFailed.
func (s *Server) commit(q *request, f *file) {
	body, ok := q.decode()
	if !ok {
		return
	}
	raw, _ := body["fileEncryptionInfo"].(map[string]any)
	if raw == nil || len(body) != 1 {
		q.badRequest("The commit body needs exactly one property, 'fileEncryptionInfo'.")
		return
	}
	if _, err := validate(raw, encryptionInfo, q.beta(), true); err != nil {
		q.badRequest("%s", err)
		return
	}
	if f.state != stRequestSuccess && f.state != stRenewalSuccess {
		q.badRequest("The file '%s' cannot be committed in state %s.", f.id, f.state)
		return
	}
	var e intunewin.EncryptionInfo
	for _, x := range []struct {
		name string
		dst  *[]byte
	}{{"encryptionKey", &e.EncryptionKey}, {"macKey", &e.MacKey}, {"initializationVector", &e.InitializationVector}, {"mac", &e.Mac}, {"fileDigest", &e.FileDigest}} {
		b, err := base64.StdEncoding.DecodeString(raw[x.name].(string))
		if err != nil {
			q.badRequest("fileEncryptionInfo.%s is not base64.", x.name)
			return
		}
		*x.dst = b
	}
	e.ProfileIdentifier, _ = raw["profileIdentifier"].(string)
	e.FileDigestAlgorithm, _ = raw["fileDigestAlgorithm"].(string)
	f.next, f.reason = stCommitSuccess, ""
	if err := s.check(f, e); err != nil {
		f.next, f.reason = stCommitFailed, err.Error()
	}
	f.state, f.polls = stCommitPending, s.o.ConsistencyDelay
	q.noContent()
}

func (s *Server) check(f *file, e intunewin.EncryptionInfo) error {
	if err := e.Validate(); err != nil {
		return err
	}
	b := s.blobs[f.id]
	if b == nil || b.committed == nil {
		return errors.New("no block list was committed to the upload URI")
	}
	if b.size != f.sizeEnc {
		return fmt.Errorf("the blob has %d bytes, the file entry said sizeEncrypted %d", b.size, f.sizeEnc)
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(b.reader()), nil }
	sum := sha256.New()
	n, err := intunewin.Decrypt(sum, open, e, f.size)
	if err != nil {
		return err
	}
	copy(f.digest[:], sum.Sum(nil))
	f.info = e
	_ = n
	return nil
}

// blob is one block blob.
type blob struct {
	staged    map[string][]byte
	idLen     int
	committed [][]byte
	// committedIDs are the committed blocks by id, for a later block
	// list that names them.
	committedIDs map[string][]byte
	size         int64
	stagedLen    int64
}

func (b *blob) reader() io.Reader {
	rs := make([]io.Reader, len(b.committed))
	for i, blk := range b.committed {
		rs[i] = bytes.NewReader(blk)
	}
	return io.MultiReader(rs...)
}

// azureError answers in Azure Storage's XML error shape.
func (q *request) azureError(status int, code, msg string) {
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.Header().Set("x-ms-request-id", q.reqID)
	q.w.Header().Set("x-ms-version", "2019-07-07")
	q.w.Header().Set("x-ms-error-code", code)
	q.w.WriteHeader(status)
	fmt.Fprintf(q.w, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>%s\nRequestId:%s\nTime:%s</Message></Error>", code, xmlText(msg), q.reqID, graphTime(time.Now()))
}

func xmlText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// blobRequest serves the Azure block blob endpoint: PUT ?comp=block,
// PUT ?comp=blocklist and PUT (Put Blob), each with a valid SAS.
func (s *Server) blobRequest(q *request, parts []string) {
	q.w.Header().Set("x-ms-request-id", q.reqID)
	if len(parts) != 2 {
		q.azureError(http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist.")
		return
	}
	if q.r.Header.Get("Authorization") != "" {
		// A client that sends its Graph token to the storage host leaks
		// it; the SAS alone authorizes.
		q.azureError(http.StatusBadRequest, "InvalidAuthenticationInfo", "Authentication information is not given in the correct format: a SAS request must not carry an Authorization header.")
		return
	}
	v := q.r.URL.Query()
	se := v.Get("se")
	exp, err := time.Parse(time.RFC3339, se)
	if err != nil || !hmacEqual(v.Get("sig"), s.sasSignature(q.r.URL.Path, se)) {
		q.azureError(http.StatusForbidden, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.")
		return
	}
	if !s.o.Now().Before(exp) {
		q.azureError(http.StatusForbidden, "AuthenticationFailed", fmt.Sprintf("Signed expiry time [%s] has to be after the current time [%s].", se, s.o.Now().UTC().Format(time.RFC1123)))
		return
	}
	if q.r.Method != http.MethodPut {
		q.azureError(http.StatusMethodNotAllowed, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := parts[0]
	if !s.fileExists(id) {
		q.azureError(http.StatusNotFound, "ContainerNotFound", "The specified container does not exist.")
		return
	}
	b := s.blobs[id]
	if b == nil {
		b = &blob{staged: map[string][]byte{}}
		s.blobs[id] = b
	}
	switch v.Get("comp") {
	case "block":
		s.putBlock(q, b, v.Get("blockid"))
	case "blocklist":
		s.putBlockList(q, b)
	case "":
		if q.r.Header.Get("x-ms-blob-type") != "BlockBlob" {
			q.azureError(http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type.")
			return
		}
		data, ok := s.readBody(q, s.o.MaxBlobSize)
		if !ok {
			return
		}
		b.committed, b.committedIDs, b.size, b.staged, b.stagedLen = [][]byte{data}, nil, int64(len(data)), map[string][]byte{}, 0
		q.w.WriteHeader(http.StatusCreated)
	default:
		q.azureError(http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: comp.")
	}
}

func (s *Server) fileExists(id string) bool {
	for _, a := range s.apps {
		for _, cv := range a.versions {
			for _, f := range cv.files {
				if f.id == id {
					return true
				}
			}
		}
	}
	return false
}

func hmacEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) readBody(q *request, limit int64) ([]byte, bool) {
	data, err := io.ReadAll(io.LimitReader(q.r.Body, limit+1))
	if err != nil {
		q.azureError(http.StatusBadRequest, "InvalidInput", "The request body could not be read: "+err.Error())
		return nil, false
	}
	if int64(len(data)) > limit {
		q.azureError(http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.")
		return nil, false
	}
	return data, true
}

func (s *Server) putBlock(q *request, b *blob, blockID string) {
	raw, err := base64.StdEncoding.DecodeString(blockID)
	if blockID == "" || err != nil || len(raw) > 64 {
		q.azureError(http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: blockid.")
		return
	}
	if b.idLen != 0 && len(raw) != b.idLen {
		q.azureError(http.StatusBadRequest, "InvalidBlobOrBlock", "The specified blob or block content is invalid: every block id of a blob must have the same length.")
		return
	}
	data, ok := s.readBody(q, s.o.MaxBlobSize-b.stagedLen)
	if !ok {
		return
	}
	b.idLen = len(raw)
	b.stagedLen += int64(len(data)) - int64(len(b.staged[blockID]))
	b.staged[blockID] = data
	q.w.WriteHeader(http.StatusCreated)
}

// blockList is the Put Block List body.
type blockList struct {
	XMLName xml.Name `xml:"BlockList"`
	Items   []struct {
		XMLName xml.Name
		ID      string `xml:",chardata"`
	} `xml:",any"`
}

func (s *Server) putBlockList(q *request, b *blob) {
	data, ok := s.readBody(q, 4<<20)
	if !ok {
		return
	}
	var bl blockList
	if err := xml.Unmarshal(data, &bl); err != nil {
		q.azureError(http.StatusBadRequest, "InvalidXmlDocument", "XML specified is not syntactically valid.")
		return
	}
	var out [][]byte
	ids := map[string][]byte{}
	var size int64
	for _, it := range bl.Items {
		id := strings.TrimSpace(it.ID)
		var blk []byte
		var found bool
		switch it.XMLName.Local {
		case "Latest":
			if blk, found = b.staged[id]; !found {
				blk, found = b.committedIDs[id]
			}
		case "Uncommitted":
			blk, found = b.staged[id]
		case "Committed":
			blk, found = b.committedIDs[id]
		}
		if !found {
			q.azureError(http.StatusBadRequest, "InvalidBlockList", "The specified block list is invalid.")
			return
		}
		out = append(out, blk)
		ids[id] = blk
		size += int64(len(blk))
	}
	if len(out) == 0 {
		q.azureError(http.StatusBadRequest, "InvalidBlockList", "The specified block list is invalid.")
		return
	}
	b.committed, b.committedIDs, b.size, b.staged, b.stagedLen = out, ids, size, map[string][]byte{}, 0
	q.w.WriteHeader(http.StatusCreated)
}
