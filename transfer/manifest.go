package transfer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/internal/charset"
	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// Format constants (docs/bundle-format.md). The writer produces v2; readers
// accept v1 and v2.
const (
	// FormatV1 is the first format: the manifest signs each entry's raw
	// digest and size only, not the stored (compressed) bytes.
	FormatV1 = "eucora-bundle/v1"
	// FormatV2 also signs the encoding, stored size and stored digest of
	// every compressed entry, so no byte of a stored entry is unsigned.
	FormatV2 = "eucora-bundle/v2"
	// PayloadTypeV1 is the DSSE payload type of a v1 manifest.
	PayloadTypeV1 = "application/vnd.eucora.bundle-manifest.v1+json"
	// PayloadTypeV2 is the DSSE payload type of a v2 manifest.
	PayloadTypeV2 = "application/vnd.eucora.bundle-manifest.v2+json"
	// Format and PayloadType are what the writer produces.
	Format      = FormatV2
	PayloadType = PayloadTypeV2
	// EncodingZstd marks a part stored as zstd frames (a ".zst" entry).
	EncodingZstd = "zstd"
	// MaxStoredSize caps a stored entry (the ustar size field's range).
	MaxStoredSize = 1<<33 - 1
	// ManifestEntry is the tar entry holding the signed manifest, the last
	// entry of every volume.
	ManifestEntry = "MANIFEST.dsse.json"
	// MaxManifestSize caps the signed manifest entry a reader will load.
	MaxManifestSize = 64 << 20
	// MaxVolumes caps the number of volumes of one bundle.
	MaxVolumes = 9999
	// MaxPartSize caps one tar entry's raw size (ustar's size field holds
	// at most 8 GiB; larger objects are split into parts).
	MaxPartSize = 4 << 30
	// ModeMask is the set of mode bits a bundle carries.
	ModeMask = 0o777
)

// Manifest is the signed description of a bundle: who made it for whom,
// where it stands in the site's sequence, and every byte it carries.
type Manifest struct {
	Format      string        `json:"format"`
	BundleID    string        `json:"bundle_id"`
	Source      string        `json:"source"`
	Target      string        `json:"target,omitempty"`
	Sequence    uint64        `json:"sequence"`
	Predecessor digest.Digest `json:"predecessor,omitempty"`
	Created     time.Time     `json:"created"`
	Expires     time.Time     `json:"expires"`
	KeyID       string        `json:"key_id"`
	Volumes     int           `json:"volumes"`
	Objects     []Object      `json:"objects"`
	Files       []File        `json:"files,omitempty"`
	Dirs        []Dir         `json:"dirs,omitempty"`
	Records     []Record      `json:"records,omitempty"`
}

// Object is one content object, stored as one or more parts. A part is a
// tar entry named by the SHA-256 of its raw bytes; an unsplit object has
// one part whose digest is the object's.
type Object struct {
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	MediaType string        `json:"media_type,omitempty"`
	Parts     []Part        `json:"parts"`
}

// Part is one tar entry: its raw digest and size and the volume (1-based)
// that holds it. In format v2 a compressed entry also carries its encoding
// and the size and SHA-256 of its stored bytes (the tar entry's data); a raw
// entry omits them, as its stored bytes are its raw bytes.
type Part struct {
	Digest       digest.Digest `json:"digest"`
	Size         int64         `json:"size"`
	Volume       int           `json:"volume"`
	Encoding     string        `json:"encoding,omitempty"`
	StoredSize   int64         `json:"stored_size,omitempty"`
	StoredDigest digest.Digest `json:"stored_digest,omitempty"`
}

// payloadTypes maps each known format to its DSSE payload type.
var payloadTypes = map[string]string{FormatV1: PayloadTypeV1, FormatV2: PayloadTypeV2}

// formatOfPayloadType returns the format a payload type announces, or "".
func formatOfPayloadType(pt string) string {
	for f, t := range payloadTypes {
		if t == pt {
			return f
		}
	}
	return ""
}

// validatePart checks the stored-form fields of a part for format.
func validatePart(format string, p Part) error {
	if format == FormatV1 || p.Encoding == "" {
		if p.Encoding != "" || p.StoredSize != 0 || p.StoredDigest != "" {
			if format == FormatV1 {
				return fmt.Errorf("encoding, stored_size and stored_digest do not exist in %s", FormatV1)
			}
			return fmt.Errorf("stored_size and stored_digest are only for an encoded part (a raw part's stored bytes are its raw bytes)")
		}
		return nil
	}
	if p.Encoding != EncodingZstd {
		return fmt.Errorf("encoding %q: want %q or none", p.Encoding, EncodingZstd)
	}
	if p.StoredSize < 1 || p.StoredSize > MaxStoredSize {
		return fmt.Errorf("stored_size %d: want 1..%d", p.StoredSize, int64(MaxStoredSize))
	}
	if _, err := digest.Parse(string(p.StoredDigest)); err != nil {
		return fmt.Errorf("stored_digest: %v", err)
	}
	return nil
}

// File is a regular file of the carried tree.
type File struct {
	Path   string        `json:"path"`
	Mode   uint32        `json:"mode"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// Dir is a directory of the carried tree.
type Dir struct {
	Path string `json:"path"`
	Mode uint32 `json:"mode"`
}

// Record is a typed record carried by the bundle (an intent, an approval, a
// batch of audit events, a receipt...): its bytes are an object.
type Record struct {
	Type   string        `json:"type"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

var (
	ulidChars       = charset.Of("0-9A-HJKMNP-TV-Z") // Crockford base32, upper case
	recordTypeFirst = charset.Of("a-z")
	recordTypeRest  = charset.Of("a-z0-9.-")
	nameFirst       = charset.Of("A-Za-z0-9")
	nameRest        = charset.Of("A-Za-z0-9._@-")
)

// validBundleID matches `^[0-9A-HJKMNP-TV-Z]{26}$` (a ULID).
func validBundleID(s string) bool { return charset.Match(s, 26, 26, ulidChars, ulidChars) }

// validRecordType matches `^[a-z][a-z0-9.-]{0,63}$`.
func validRecordType(s string) bool {
	return charset.Match(s, 1, 64, recordTypeFirst, recordTypeRest)
}

// validName matches `^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`.
func validName(s string) bool { return charset.Match(s, 1, 128, nameFirst, nameRest) }

// ParseManifest decodes a manifest payload strictly (unknown fields,
// duplicate and case-variant keys are errors) and validates it. It does not check signatures: use ReadSigned.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := deploy.CheckKeys(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest: trailing data after the JSON object", ErrCorrupt)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	return &m, nil
}

// Validate checks every structural rule of the format: digests and names,
// part sizes summing to object sizes, each entry in exactly one volume,
// every volume non-empty, tree paths safe and free of conflicts, every
// reference resolving.
func (m *Manifest) Validate() error {
	if _, ok := payloadTypes[m.Format]; !ok {
		return fmt.Errorf("format %q: this reader knows %q and %q", m.Format, FormatV2, FormatV1)
	}
	if !validBundleID(m.BundleID) {
		return fmt.Errorf("bundle_id %q is not a ULID", m.BundleID)
	}
	if !validName(m.Source) {
		return fmt.Errorf("source %q: want 1-128 characters of A-Z a-z 0-9 . _ @ -", m.Source)
	}
	if m.Target != "" && !validName(m.Target) {
		return fmt.Errorf("target %q: want 1-128 characters of A-Z a-z 0-9 . _ @ -", m.Target)
	}
	if m.Predecessor != "" {
		if _, err := digest.Parse(string(m.Predecessor)); err != nil {
			return fmt.Errorf("predecessor: %v", err)
		}
	}
	if m.Created.IsZero() || m.Expires.IsZero() || m.Expires.Before(m.Created) {
		return fmt.Errorf("created %s and expires %s: expiry must follow creation", m.Created, m.Expires)
	}
	if len(m.KeyID) != 64 {
		return fmt.Errorf("key_id %q: want 64 hex characters", m.KeyID)
	}
	if m.Volumes < 1 || m.Volumes > MaxVolumes {
		return fmt.Errorf("volumes %d: want 1..%d", m.Volumes, MaxVolumes)
	}
	entries := map[digest.Digest]Part{}
	perVolume := make([]int, m.Volumes+1)
	objects := map[digest.Digest]int64{}
	for i, o := range m.Objects {
		if _, err := digest.Parse(string(o.Digest)); err != nil {
			return fmt.Errorf("objects[%d].digest: %v", i, err)
		}
		if _, dup := objects[o.Digest]; dup {
			return fmt.Errorf("objects[%d]: object %s listed twice", i, o.Digest.Short())
		}
		if o.Size < 0 {
			return fmt.Errorf("objects[%d].size %d is negative", i, o.Size)
		}
		objects[o.Digest] = o.Size
		if len(o.Parts) == 0 {
			return fmt.Errorf("objects[%d] (%s) has no parts", i, o.Digest.Short())
		}
		if len(o.Parts) == 1 && (o.Parts[0].Digest != o.Digest || o.Parts[0].Size != o.Size) {
			return fmt.Errorf("objects[%d] (%s): a single part must be the object itself", i, o.Digest.Short())
		}
		var sum int64
		for j, p := range o.Parts {
			if _, err := digest.Parse(string(p.Digest)); err != nil {
				return fmt.Errorf("objects[%d].parts[%d].digest: %v", i, j, err)
			}
			if p.Size < 0 || p.Size > MaxPartSize || (len(o.Parts) > 1 && p.Size == 0) {
				return fmt.Errorf("objects[%d].parts[%d].size %d out of range", i, j, p.Size)
			}
			if p.Volume < 1 || p.Volume > m.Volumes {
				return fmt.Errorf("objects[%d].parts[%d].volume %d: want 1..%d", i, j, p.Volume, m.Volumes)
			}
			if err := validatePart(m.Format, p); err != nil {
				return fmt.Errorf("objects[%d].parts[%d]: %v", i, j, err)
			}
			if prev, ok := entries[p.Digest]; ok && prev != p {
				return fmt.Errorf("objects[%d].parts[%d]: entry %s placed twice", i, j, p.Digest.Short())
			} else if !ok {
				entries[p.Digest] = p
				perVolume[p.Volume]++
			}
			sum += p.Size
			if sum < 0 {
				return fmt.Errorf("objects[%d]: part sizes overflow", i)
			}
		}
		if sum != o.Size {
			return fmt.Errorf("objects[%d] (%s): parts sum to %d bytes, object is %d", i, o.Digest.Short(), sum, o.Size)
		}
	}
	if m.Volumes > 1 {
		for v := 1; v <= m.Volumes; v++ {
			if perVolume[v] == 0 {
				return fmt.Errorf("volume %d of %d holds no entries", v, m.Volumes)
			}
		}
	}
	kinds := map[string]byte{} // 'f' file, 'd' dir
	for i, d := range m.Dirs {
		if err := ValidatePath(d.Path); err != nil {
			return fmt.Errorf("dirs[%d]: %v", i, err)
		}
		if d.Mode&^ModeMask != 0 {
			return fmt.Errorf("dirs[%d] %q: mode %o has bits outside %o", i, d.Path, d.Mode, ModeMask)
		}
		if _, dup := kinds[d.Path]; dup {
			return fmt.Errorf("dirs[%d]: %q listed twice", i, d.Path)
		}
		kinds[d.Path] = 'd'
	}
	for i, f := range m.Files {
		if err := ValidatePath(f.Path); err != nil {
			return fmt.Errorf("files[%d]: %v", i, err)
		}
		if f.Mode&^ModeMask != 0 {
			return fmt.Errorf("files[%d] %q: mode %o has bits outside %o", i, f.Path, f.Mode, ModeMask)
		}
		if _, dup := kinds[f.Path]; dup {
			return fmt.Errorf("files[%d]: %q listed twice", i, f.Path)
		}
		kinds[f.Path] = 'f'
		size, ok := objects[f.Digest]
		if !ok {
			return fmt.Errorf("files[%d] %q: object %s is not in the bundle", i, f.Path, f.Digest.Short())
		}
		if size != f.Size {
			return fmt.Errorf("files[%d] %q: size %d, object is %d bytes", i, f.Path, f.Size, size)
		}
	}
	// No path may live under a file.
	for p := range kinds {
		for dir := parentOf(p); dir != ""; dir = parentOf(dir) {
			if kinds[dir] == 'f' {
				return fmt.Errorf("path %q lies under file %q", p, dir)
			}
		}
	}
	for i, r := range m.Records {
		if !validRecordType(r.Type) {
			return fmt.Errorf("records[%d].type %q: want a-z, 0-9, '.', '-'", i, r.Type)
		}
		size, ok := objects[r.Digest]
		if !ok {
			return fmt.Errorf("records[%d] (%s): object %s is not in the bundle", i, r.Type, r.Digest.Short())
		}
		if size != r.Size {
			return fmt.Errorf("records[%d] (%s): size %d, object is %d bytes", i, r.Type, r.Size, size)
		}
	}
	return nil
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// EntriesOf returns the entries (unique parts) that volume v holds, sorted
// by digest.
func (m *Manifest) EntriesOf(v int) []Part {
	seen := map[digest.Digest]bool{}
	var out []Part
	for _, o := range m.Objects {
		for _, p := range o.Parts {
			if p.Volume == v && !seen[p.Digest] {
				seen[p.Digest] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}

// entryIndex maps each entry digest to its part (size and volume).
func (m *Manifest) entryIndex() map[digest.Digest]Part {
	idx := map[digest.Digest]Part{}
	for _, o := range m.Objects {
		for _, p := range o.Parts {
			idx[p.Digest] = p
		}
	}
	return idx
}

// TotalSize is the sum of object sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, o := range m.Objects {
		n += o.Size
	}
	return n
}

// Signed is a verified manifest with its provenance.
type Signed struct {
	*Manifest
	// Digest is the SHA-256 of the manifest payload: the bundle's identity,
	// which a successor names as its predecessor.
	Digest digest.Digest
	// KeyID is the trusted key that verified the signature.
	KeyID string
	// Payload is the exact signed manifest JSON.
	Payload []byte
	// Envelope is the exact DSSE envelope bytes (MANIFEST.dsse.json).
	Envelope []byte
}

// ReadSigned parses a DSSE envelope, verifies it against trust and parses
// the manifest. Errors wrap ErrBadSignature, ErrUnknownKey or ErrCorrupt.
func ReadSigned(envelope []byte, trust signing.Trust) (*Signed, error) {
	env, err := parseCanonicalEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	format := formatOfPayloadType(env.PayloadType)
	if format == "" {
		return nil, fmt.Errorf("%w: payload type %q: this reader knows %q and %q", ErrCorrupt, env.PayloadType, PayloadTypeV2, PayloadTypeV1)
	}
	payload, keyID, err := signing.Verify(env, trust, env.PayloadType)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			signers := make([]string, len(env.Signatures))
			for i, sig := range env.Signatures {
				signers[i] = keyIDText(sig.KeyID)
			}
			return nil, fmt.Errorf("%w: the bundle is signed by key %s, which is not trusted here (trusted: %s)",
				ErrUnknownKey, strings.Join(signers, ", "), trustedIDs(trust))
		}
		if isSigErr(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	m, err := parseManifestAs(payload, format)
	if err != nil {
		return nil, err
	}
	if m.KeyID != keyID {
		return nil, fmt.Errorf("%w: manifest names key %s but was signed by %s", ErrBadSignature, short(m.KeyID), short(keyID))
	}
	return &Signed{Manifest: m, Digest: digest.FromBytes(payload), KeyID: keyID, Payload: payload, Envelope: envelope}, nil
}

// ReadUnverified parses an envelope's manifest without checking the
// signature, for `bundle inspect`. Never act on its contents.
func ReadUnverified(envelope []byte) (*Signed, error) {
	env, err := parseCanonicalEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	format := formatOfPayloadType(env.PayloadType)
	if format == "" {
		return nil, fmt.Errorf("%w: payload type %q", ErrCorrupt, env.PayloadType)
	}
	payload, err := decodeB64(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrCorrupt, err)
	}
	m, err := parseManifestAs(payload, format)
	if err != nil {
		return nil, err
	}
	return &Signed{Manifest: m, Digest: digest.FromBytes(payload), Payload: payload, Envelope: envelope}, nil
}

// parseManifestAs parses a payload whose envelope announced format: the
// payload must say the same.
func parseManifestAs(payload []byte, format string) (*Manifest, error) {
	m, err := ParseManifest(payload)
	if err != nil {
		return nil, err
	}
	if m.Format != format {
		return nil, fmt.Errorf("%w: manifest format %q under payload type %q", ErrCorrupt, m.Format, payloadTypes[format])
	}
	return m, nil
}

// keyIDText shows a key id read from a bundle: as is when it looks like
// one (hex), else quoted and cut, since it is untrusted input.
func keyIDText(id string) string {
	if id != "" && len(id) <= 64 && strings.Trim(id, "0123456789abcdef") == "" {
		return id
	}
	return fmt.Sprintf("%q", clip.String(id, 80))
}

// trustedIDs lists the trusted key ids (shortened, sorted) for messages.
func trustedIDs(trust signing.Trust) string {
	if len(trust) == 0 {
		return "no keys"
	}
	ids := make([]string, 0, len(trust))
	for id, k := range trust {
		if k.Source != "" {
			ids = append(ids, short(id)+" from "+k.Source)
		} else {
			ids = append(ids, short(id))
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// Expired reports whether the bundle has expired at time now.
func (m *Manifest) Expired(now time.Time) bool { return !now.Before(m.Expires) }

// CheckExpiry returns an ErrExpired error when the bundle has expired at now.
func (m *Manifest) CheckExpiry(now time.Time) error {
	if m.Expired(now) {
		return fmt.Errorf("%w: bundle %s expired at %s (now %s)", ErrExpired, m.BundleID, m.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// parseCanonicalEnvelope decodes the manifest envelope and requires it to
// be exactly the compact JSON the writer produces. Go's decoder matches
// keys case-insensitively and skips whitespace; requiring canonical bytes
// means no byte of a volume can change unnoticed.
func parseCanonicalEnvelope(b []byte) (*signing.Envelope, error) {
	env, err := signing.ParseEnvelope(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	canon, err := json.Marshal(env)
	if err != nil || !bytes.Equal(canon, b) {
		return nil, fmt.Errorf("%w: manifest envelope is not in canonical form (%d bytes, canonical %d)", ErrCorrupt, len(b), len(canon))
	}
	return env, nil
}
