package vuln

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/packaging/facts"
)

// KindFeed is the facts.Kind of an OSV feed file in defect errors.
const KindFeed facts.Kind = "osv-feed"

// FeedLimits bound a feed: MaxEntries records (zip entries or array
// elements), MaxMetadata bytes per record, MaxUncompressed bytes read in
// total (decompressed), MaxRatio for a zip entry. osv.dev's all.zip has
// some 500,000 records.
var FeedLimits = facts.Limits{MaxEntries: 4_000_000, MaxMetadata: 16 << 20, MaxUncompressed: 32 << 30, MaxRatio: 200}

func (o FeedOptions) limits() facts.Limits { return o.Limits.Or(FeedLimits).WithDefaults() }

// FeedOptions say how a feed file is checked.
//
// osv.dev's buckets (gs://osv-vulnerabilities, all.zip and the per-ecosystem
// zips) publish no signature and no checksum file: the integrity a
// downloaded feed has is what the operator pins. SHA256 pins the file's
// digest (the --sha256 of `eucora vuln import`); a feed that travels from
// the hub to edges in bundles can also carry a DSSE envelope over a
// FeedStatement signed with a hub key (Signature, verified against Trust).
type FeedOptions struct {
	SHA256    string            // hex or "sha256:hex" digest the file must have; "" = not pinned
	Signature *signing.Envelope // detached statement over the file, see SignFeed
	Trust     signing.Trust     // keys a Signature may be made by
	Limits    facts.Limits      // zero fields take FeedLimits
}

// Feed is a parsed, checked OSV feed: every record decoded and valid, or
// no Feed at all.
type Feed struct {
	Name      string        `json:"name"`   // the file name as given
	SHA256    digest.Digest `json:"sha256"` // of the feed file
	Size      int64         `json:"size"`
	Format    string        `json:"format"`  // "json" (one record), "json-array", "zip"
	Records   []*Record     `json:"-"`       // sorted by id, withdrawn ones included
	Count     int           `json:"records"` // len(Records)
	Withdrawn int           `json:"withdrawn"`
	// Digest is the SHA-256 of the canonical record set: each record's
	// canonical JSON (keys sorted, no insignificant white space) hashed,
	// the "id NUL hash" lines sorted by id, hashed again. It does not
	// depend on the container, file order or formatting.
	Digest digest.Digest `json:"digest"`
	Newest time.Time     `json:"newest_modified"` // the latest modified time of any record
	// Version names the feed in evidence: "sha256:<Digest>@<Newest>".
	Version string `json:"version"`
	// Skipped are zip entries that are not *.json records (the first 20).
	Skipped      []string `json:"skipped,omitempty"`
	SkippedCount int      `json:"skipped_count,omitempty"`
	// Integrity says what was verified: "sha256 pinned", "signed by key ...".
	Integrity []string `json:"integrity"`
}

// FeedStatementType is the DSSE payload type of a signed feed statement.
const FeedStatementType = "application/vnd.eucora.osv-feed-statement+json"

// FeedStatementSchema is FeedStatement.Schema.
const FeedStatementSchema = "eucora.osv-feed-statement/v1"

// FeedStatement is what the hub signs about a feed file it ships: the
// file's digest and size and, optionally, the record-set version it
// parsed to.
type FeedStatement struct {
	Schema  string        `json:"schema"`
	Name    string        `json:"name,omitempty"`
	SHA256  digest.Digest `json:"sha256"`
	Size    int64         `json:"size"`
	Version string        `json:"version,omitempty"`
}

// SignFeed signs a statement about f with k (a DSSE envelope, detached
// from the feed file so a large zip is never base64-encoded).
func SignFeed(k *signing.PrivateKey, f *Feed) (*signing.Envelope, error) {
	st := FeedStatement{Schema: FeedStatementSchema, Name: path.Base(f.Name), SHA256: f.SHA256, Size: f.Size, Version: f.Version}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return signing.Sign(k, FeedStatementType, b), nil
}

// VerifyStatement checks a signed feed statement (SignFeed) against trust
// and returns the statement and the id of the key that signed it. Errors
// wrap ErrIntegrity and the signing error (signing.ErrBadSignature,
// signing.ErrUnknownKey, signing.ErrEnvelope), or ErrIntegrity alone when
// the payload is not a statement or names no valid digest. It checks the
// statement, not a file: ParseFeed with FeedOptions.Signature also checks
// the file's digest and size against it.
func VerifyStatement(env *signing.Envelope, trust signing.Trust) (*FeedStatement, string, error) {
	if len(trust) == 0 {
		return nil, "", fmt.Errorf("%w: a signed feed needs the keys to trust", ErrIntegrity)
	}
	payload, key, err := signing.Verify(env, trust, FeedStatementType)
	if err != nil {
		return nil, "", fmt.Errorf("%w: feed signature: %w", ErrIntegrity, err)
	}
	var st FeedStatement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil || st.Schema != FeedStatementSchema {
		return nil, "", fmt.Errorf("%w: signed payload is not a %s statement", ErrIntegrity, FeedStatementSchema)
	}
	d, err := digest.Parse(string(st.SHA256))
	if err != nil {
		return nil, "", fmt.Errorf("%w: signed statement: %v", ErrIntegrity, err)
	}
	st.SHA256 = d // bare hex, as a Feed's
	return &st, key, nil
}

// OpenFeed parses the feed file at path (see ParseFeed).
func OpenFeed(name string, o FeedOptions) (*Feed, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return ParseFeed(f, st.Size(), name, o)
}

// ParseFeed reads an OSV feed: one JSON record, a JSON array of records,
// or a zip of *.json records (osv.dev's all.zip layout; other entries are
// skipped and listed). The file's SHA-256 is computed first and checked
// against o.SHA256 and o.Signature before anything is parsed. Parsing is
// all-or-nothing: the first record that breaks the schema is a
// *RecordError naming the file, entry and field, a container defect or
// limit is a *facts.DefectError, and a record id that appears twice with
// different content is an error; no Feed is returned then.
func ParseFeed(r io.ReaderAt, size int64, name string, o FeedOptions) (*Feed, error) {
	lim := o.limits()
	if size < 0 {
		return nil, facts.Defectf(KindFeed, "%s: negative size", name)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	got := digest.FromHash(h)
	f := &Feed{Name: name, SHA256: got, Size: size}
	if o.SHA256 != "" {
		want, err := digest.Parse(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(o.SHA256)), "sha256:"))
		if err != nil {
			return nil, fmt.Errorf("--sha256 %q: %w", o.SHA256, err)
		}
		if want != got {
			return nil, fmt.Errorf("%s: %w: %w", name, ErrIntegrity, &digest.MismatchError{Object: name, Want: string(want), Got: string(got), WantSize: -1, GotSize: size})
		}
		f.Integrity = append(f.Integrity, "sha256 pinned by the operator")
	}
	var st *FeedStatement
	if o.Signature != nil {
		var key string
		var err error
		if st, key, err = VerifyStatement(o.Signature, o.Trust); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if st.SHA256 != got || st.Size != size {
			return nil, fmt.Errorf("%s: %w: %w", name, ErrIntegrity, &digest.MismatchError{Object: name + " (signed statement)", Want: string(st.SHA256), Got: string(got), WantSize: st.Size, GotSize: size})
		}
		f.Integrity = append(f.Integrity, "signed statement by key "+key)
	}
	if len(f.Integrity) == 0 {
		f.Integrity = []string{"none: neither a pinned sha256 nor a signature was given"}
	}

	p := &feedParser{feed: f, lim: lim, seen: map[string]seenRecord{}}
	head := make([]byte, 4)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	var err error
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")) {
		f.Format = "zip"
		err = p.zip(r, size)
	} else {
		if size > lim.MaxUncompressed {
			return nil, facts.Defectf(KindFeed, "%s: %d bytes, limit %d", name, size, lim.MaxUncompressed)
		}
		err = p.json(io.NewSectionReader(r, 0, size), name, true)
	}
	if err != nil {
		return nil, err
	}
	if len(p.records) == 0 {
		return nil, facts.Defectf(KindFeed, "%s: no OSV record in the feed", name)
	}
	slices.SortFunc(p.records, func(a, b *Record) int { return strings.Compare(a.ID, b.ID) })
	f.Records = p.records
	f.Count = len(p.records)
	sum := sha256.New()
	for _, rec := range p.records {
		s := p.seen[rec.ID]
		fmt.Fprintf(sum, "%s\x00%x\n", rec.ID, s.sum)
		if rec.Modified.After(f.Newest) {
			f.Newest = rec.Modified
		}
		if rec.Withdrawn != nil {
			f.Withdrawn++
		}
	}
	f.Digest = digest.FromHash(sum)
	f.Version = f.Digest.String() + "@" + f.Newest.UTC().Format(time.RFC3339Nano)
	if st != nil && st.Version != "" && st.Version != f.Version {
		return nil, fmt.Errorf("%s: %w: the signed statement names feed version %s, the records make %s", name, ErrIntegrity, st.Version, f.Version)
	}
	return f, nil
}

type seenRecord struct {
	sum   [32]byte
	where string
}

type feedParser struct {
	feed    *Feed
	lim     facts.Limits
	records []*Record
	seen    map[string]seenRecord
	total   int64 // bytes of records read (zip: decompressed)
	n       int   // records read, duplicates included
}

func (p *feedParser) add(b []byte, where string) error {
	p.n++
	if p.n > p.lim.MaxEntries {
		return facts.Defectf(KindFeed, "%s: more than %d records", where, p.lim.MaxEntries)
	}
	rec, err := ParseRecord(b, where)
	if err != nil {
		if isEnvelope(b) {
			return facts.Defectf(KindFeed, "%s: a DSSE envelope, not an OSV record: give it as the feed's signature", where)
		}
		return err
	}
	sum, err := canonicalSum(b)
	if err != nil {
		return &RecordError{File: where, ID: rec.ID, Reason: err.Error()}
	}
	if prev, dup := p.seen[rec.ID]; dup {
		if prev.sum != sum {
			return &RecordError{File: where, ID: rec.ID, Field: "id", Reason: "the same id with different content is also in " + prev.where}
		}
		return nil
	}
	p.seen[rec.ID] = seenRecord{sum: sum, where: where}
	p.records = append(p.records, rec)
	return nil
}

// canonicalSum hashes the record's canonical JSON: decoded generically
// (numbers kept as written) and marshalled again, which sorts object keys
// and drops insignificant white space.
func canonicalSum(b []byte) ([32]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return [32]byte{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// budget fails a read once more than limit bytes have been consumed; it
// bounds what a json.Decoder buffers for one value.
type budget struct {
	r     io.Reader
	n     int64
	limit int64
}

var errBudget = errors.New("record too large")

func (b *budget) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		return 0, errBudget
	}
	if int64(len(p)) > b.limit-b.n {
		p = p[:b.limit-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// json reads one record or an array of records from r. top is false for a
// zip entry (whose size ReadZipEntry already bounded).
func (p *feedParser) json(r io.Reader, where string, top bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	// skip a UTF-8 byte order mark and white space to see the first byte
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	var first byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return facts.Defectf(KindFeed, "%s: empty: no JSON record or array", where)
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			first = c
			br.UnreadByte()
			break
		}
	}
	bud := &budget{r: br, limit: p.lim.MaxMetadata + 1}
	dec := json.NewDecoder(bud)
	tooBig := func(at string) error {
		return facts.Defectf(KindFeed, "%s: a record is over %d bytes", at, p.lim.MaxMetadata)
	}
	readValue := func(at string) (json.RawMessage, error) {
		var raw json.RawMessage
		// what the decoder may read for this value: its buffer (read ahead)
		// plus one record's worth
		bud.limit = bud.n + p.lim.MaxMetadata + 1
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, errBudget) {
				return nil, tooBig(at)
			}
			return nil, &RecordError{File: at, Reason: jsonReason(err)}
		}
		if int64(len(raw)) > p.lim.MaxMetadata {
			return nil, tooBig(at)
		}
		return raw, nil
	}
	switch first {
	case '{':
		if top {
			p.feed.Format = "json"
		}
		raw, err := readValue(where)
		if err != nil {
			return err
		}
		if err := p.count(int64(len(raw)), where); err != nil {
			return err
		}
		if err := p.add(raw, where); err != nil {
			return err
		}
	case '[':
		if top {
			p.feed.Format = "json-array"
		}
		if _, err := dec.Token(); err != nil {
			return &RecordError{File: where, Reason: jsonReason(err)}
		}
		for i := 0; dec.More(); i++ {
			at := fmt.Sprintf("%s[%d]", where, i)
			raw, err := readValue(at)
			if err != nil {
				return err
			}
			if err := p.count(int64(len(raw)), at); err != nil {
				return err
			}
			if err := p.add(raw, at); err != nil {
				return err
			}
		}
		bud.limit = bud.n + 1<<20
		if _, err := dec.Token(); err != nil {
			return &RecordError{File: where, Reason: "the array does not end: " + jsonReason(err)}
		}
	default:
		return facts.Defectf(KindFeed, "%s: neither a JSON record or array nor a zip (starts with %q)", where, first)
	}
	bud.limit = bud.n + 1<<20
	if _, err := dec.Token(); err != io.EOF {
		return facts.Defectf(KindFeed, "%s: data after the JSON value", where)
	}
	return nil
}

// isEnvelope reports whether b is a DSSE envelope rather than a record.
func isEnvelope(b []byte) bool {
	var e struct {
		PayloadType *string         `json:"payloadType"`
		Signatures  json.RawMessage `json:"signatures"`
		ID          *string         `json:"id"`
	}
	return json.Unmarshal(b, &e) == nil && e.PayloadType != nil && e.Signatures != nil && e.ID == nil
}

func (p *feedParser) count(n int64, where string) error {
	p.total += n
	if p.total > p.lim.MaxUncompressed {
		return facts.Defectf(KindFeed, "%s: over %d bytes of records in total", where, p.lim.MaxUncompressed)
	}
	return nil
}

func (p *feedParser) zip(r io.ReaderAt, size int64) error {
	zr, err := facts.OpenZip(r, size, KindFeed, p.lim)
	if err != nil {
		return fmt.Errorf("%s: %w", p.feed.Name, err)
	}
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		if !strings.HasSuffix(strings.ToLower(zf.Name), ".json") {
			p.feed.SkippedCount++
			if len(p.feed.Skipped) < 20 {
				p.feed.Skipped = append(p.feed.Skipped, zf.Name)
			}
			continue
		}
		where := path.Base(p.feed.Name) + ":" + zf.Name
		b, err := facts.ReadZipEntry(zf, KindFeed, p.lim.MaxMetadata)
		if err != nil {
			return fmt.Errorf("%s: %w", p.feed.Name, err)
		}
		if err := p.count(int64(len(b)), where); err != nil {
			return err
		}
		if err := p.json(bytes.NewReader(b), where, false); err != nil {
			return err
		}
	}
	return nil
}
