package sitesync

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/eucora/eucora/transfer"
)

// maxImportEnvelope bounds the envelope of an import request.
const maxImportEnvelope = transfer.MaxRecordSize

// BodyError is an import request body that is not the JSON the import
// takes (malformed, an unknown, misplaced or repeated field, trailing data)
// or, with TooLarge, has a value longer than its limit. Field names the
// offending field when there is one. Nothing of the bundle was verified:
// the caller answers it as a bad request (400, 413 when TooLarge).
type BodyError struct {
	Field    string
	Msg      string
	TooLarge bool
}

func (e *BodyError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

// readImportBody streams the body of POST /v1/sites/{name}/imports,
//
//	{"envelope": "<base64>" | {envelope object}, "records": {"<hex>": "<base64>", ...}}
//
// with "envelope" first, as the CLI sends it. Once the envelope is read,
// expect verifies it and returns the records its manifest lists (by
// digest hex) or a *transfer.RefusalError; each record value is then
// decoded from base64 as it arrives and refused as soon as it is longer
// than the manifest says, so memory is bounded by the records the signed
// manifest lists (each at most transfer.MaxRecordSize), never by what the
// request sends. Records whose type the hub does not take (hubTakesRecord)
// are read and dropped. A key not listed, a key repeated, a key in other
// case, unknown fields, a body cut short and trailing data are refused.
// Errors are *BodyError, *transfer.RefusalError or r's read error (never
// io.EOF).
func readImportBody(r io.Reader, expect func(env []byte) (map[string]transfer.Record, error)) (recs map[string][]byte, err error) {
	d := &importScanner{br: bufio.NewReaderSize(r, 64<<10)}
	if err := d.expect('{'); err != nil {
		return nil, err
	}
	key, err := d.key()
	if err != nil {
		return nil, err
	}
	switch key {
	case "envelope":
	case "records":
		return nil, d.bad("records", "must follow envelope (send \"envelope\" first)")
	default:
		return nil, d.bad(key, "unknown field")
	}
	env, err := d.envelope()
	if err != nil {
		return nil, err
	}
	want, err := expect(env)
	if err != nil {
		return nil, err
	}
	recs = map[string][]byte{}
	c, err := d.next()
	if err != nil {
		return nil, d.orEOF(err)
	}
	if c == ',' {
		if key, err = d.key(); err != nil {
			return nil, err
		}
		switch key {
		case "records":
		case "envelope":
			return nil, d.bad("envelope", "duplicate key (each key may appear once in an object)")
		default:
			return nil, d.bad(key, "unknown field")
		}
		if err := d.records(want, recs); err != nil {
			return nil, err
		}
		if c, err = d.next(); err != nil {
			return nil, d.orEOF(err)
		}
	}
	if c != '}' {
		return nil, d.bad("", "malformed JSON: want , or } after a field, got %q", c)
	}
	if _, err := d.next(); err != io.EOF {
		return nil, &BodyError{Msg: "trailing data after the JSON body"}
	}
	return recs, nil
}

type importScanner struct {
	br  *bufio.Reader
	off int64
}

func (d *importScanner) bad(field, format string, args ...any) error {
	return &BodyError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (d *importScanner) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return d.bad("", "malformed JSON: body ends at byte %d", d.off)
	}
	return err // the reader's: the caller knows its limit
}

// next returns the next byte that is not white space.
func (d *importScanner) next() (byte, error) {
	for {
		c, err := d.br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, d.readErr(err)
		}
		d.off++
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, nil
	}
}

func (d *importScanner) expect(want byte) error {
	c, err := d.next()
	if err == io.EOF {
		return &BodyError{Msg: "empty body: a JSON object is required"}
	}
	if err != nil {
		return err
	}
	if c != want {
		return d.bad("", "malformed JSON at byte %d: want %q, got %q", d.off, want, c)
	}
	return nil
}

// rawString reads a JSON string after its opening quote, up to limit raw
// bytes, and returns it decoded.
func (d *importScanner) rawString(limit int, field string) (string, error) {
	raw := []byte{'"'}
	esc := false
	for {
		c, err := d.br.ReadByte()
		if err != nil {
			return "", d.readErr(err)
		}
		d.off++
		raw = append(raw, c)
		if len(raw) > limit {
			return "", &BodyError{TooLarge: true, Field: field, Msg: fmt.Sprintf("longer than %d bytes", limit)}
		}
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", d.bad(field, "malformed JSON string: %v", err)
			}
			return s, nil
		}
	}
}

// key reads `"name":`.
func (d *importScanner) key() (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	k, err := d.rawString(256, "")
	if err != nil {
		return "", err
	}
	return k, d.expect(':')
}

// envelope reads the envelope value: base64 of the exact envelope bytes,
// or the envelope object itself.
func (d *importScanner) envelope() ([]byte, error) {
	c, err := d.next()
	if err != nil {
		return nil, d.orEOF(err)
	}
	switch c {
	case '"':
		s, err := d.rawString(maxImportEnvelope*4/3+8, "envelope")
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("envelope: want base64 of the MANIFEST.dsse.json bytes: %v", err))
		}
		return b, nil
	case '{':
		return d.object()
	}
	return nil, transfer.Refuse(transfer.RefusedCorrupt, errors.New("envelope: want base64 of the MANIFEST.dsse.json bytes or the envelope object"))
}

func (d *importScanner) orEOF(err error) error {
	if err == io.EOF {
		return d.readErr(err)
	}
	return err
}

// object reads a JSON object after its opening brace, raw.
func (d *importScanner) object() ([]byte, error) {
	raw := []byte{'{'}
	depth, inStr, esc := 1, false, false
	for depth > 0 {
		c, err := d.br.ReadByte()
		if err != nil {
			return nil, d.readErr(err)
		}
		d.off++
		raw = append(raw, c)
		if len(raw) > maxImportEnvelope {
			return nil, &BodyError{TooLarge: true, Field: "envelope", Msg: fmt.Sprintf("longer than %d bytes", maxImportEnvelope)}
		}
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	if !json.Valid(raw) {
		return nil, d.bad("envelope", "malformed JSON object")
	}
	return raw, nil
}

// records reads the records object, keeping the values of the records
// the hub takes.
func (d *importScanner) records(want map[string]transfer.Record, out map[string][]byte) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	c, err := d.next()
	if err != nil {
		return d.orEOF(err)
	}
	if c == '}' {
		return nil
	}
	for {
		if c != '"' {
			return d.bad("records", "malformed JSON at byte %d: want a record digest, got %q", d.off, c)
		}
		k, err := d.rawString(256, "records")
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		field := "records." + k
		if _, dup := out[k]; dup {
			return d.bad(field, "duplicate key (each key may appear once in an object)")
		}
		rc, ok := want[k]
		if !ok {
			return transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %.16s is not listed in the bundle's manifest", k))
		}
		if err := d.expect('"'); err != nil {
			return err
		}
		data, err := d.base64Value(field, rc)
		if err != nil {
			return err
		}
		if hubTakesRecord(rc.Type) {
			out[k] = data
		} else {
			out[k] = nil // read and dropped: a type the hub does not take
		}
		if c, err = d.next(); err != nil {
			return d.orEOF(err)
		}
		if c == '}' {
			return nil
		}
		if c != ',' {
			return d.bad("records", "malformed JSON at byte %d: want , or }, got %q", d.off, c)
		}
		if c, err = d.next(); err != nil {
			return d.orEOF(err)
		}
	}
}

// base64Value decodes a record's base64 string value as it streams,
// refusing it once it is longer than the manifest's size for it.
func (d *importScanner) base64Value(field string, rc transfer.Record) ([]byte, error) {
	maxText := int64(base64.StdEncoding.EncodedLen(int(rc.Size)))
	out := make([]byte, 0, rc.Size)
	var carry []byte
	var text int64
	for {
		chunk, err := d.br.ReadSlice('"')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, d.readErr(err)
		}
		d.off += int64(len(chunk))
		end := err == nil // the chunk ends with the closing quote
		if end {
			chunk = chunk[:len(chunk)-1]
		}
		if bytes.IndexByte(chunk, '\\') >= 0 {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("%s: want plain base64 (no JSON escapes)", field))
		}
		if text += int64(len(chunk)); text > maxText {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %.16s (%s): longer than the %d bytes the manifest says", rc.Digest.Hex(), rc.Type, rc.Size))
		}
		buf := append(carry, chunk...)
		n := len(buf) / 4 * 4
		if end {
			n = len(buf)
		}
		if out, err = base64.StdEncoding.AppendDecode(out, buf[:n]); err != nil {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %.16s: base64: %v", rc.Digest.Hex(), err))
		}
		carry = append(carry[:0:0], buf[n:]...)
		if end {
			return out, nil
		}
	}
}
