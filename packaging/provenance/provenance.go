// Package provenance writes, signs and verifies the provenance of an
// artifact taken in by the packaging factory (EUCORA-architecture.md
// section 7.1): an in-toto Statement v1 whose predicate is SLSA provenance
// v1, in a DSSE envelope signed with the packaging key.
//
//	{"_type": "https://in-toto.io/Statement/v1",
//	 "subject": [{"name": FILE, "digest": {"sha256": HEX}}],
//	 "predicateType": "https://slsa.dev/provenance/v1",
//	 "predicate": {
//	   "buildDefinition": {"buildType": "https://eucora.dev/factory/intake/v1",
//	     "externalParameters": {"app", "version", "files", "docs", "sources"},
//	     "resolvedDependencies": [the files read, other inputs, source references, each with digests]},
//	   "runDetails": {"builder": {"id": BUILDER},
//	     "metadata": {"invocationId": PIPELINE RUN ID, "startedOn", "finishedOn"},
//	     "byproducts": [SBOMs, reports]}}}
//
// The types are plain structs with the specifications' JSON names (the
// in-toto attestation Go module's types are protobuf messages; its tests
// here decode every statement this package writes with them, so the names
// cannot drift). Decoding is strict: unknown fields, duplicate keys, keys
// that match a field only when case is ignored, and trailing data are
// refused.
//
// The same package holds the separation-of-duties rule for signing keys
// (CheckUse): the packaging key signs provenance and nothing else, and
// provenance is signed by the packaging key only (section 14.1).
package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/clip"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// Type URIs and the DSSE payload type.
const (
	StatementType   = "https://in-toto.io/Statement/v1"
	PredicateType   = "https://slsa.dev/provenance/v1"
	BuildTypeIntake = "https://eucora.dev/factory/intake/v1"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
)

// MaxStatementSize bounds the statement Verify decodes.
const MaxStatementSize = 4 << 20

// Errors. Every refusal of a statement wraps one of them.
var (
	// ErrMalformed: the statement breaks in-toto Statement v1, SLSA
	// provenance v1 or EUCORA's intake build type.
	ErrMalformed = errors.New("malformed provenance statement")
	// ErrPredicateType: the statement's predicate is not SLSA provenance v1.
	ErrPredicateType = errors.New("statement is not SLSA provenance v1")
	// ErrSubjectMismatch: the statement does not name the artifact.
	ErrSubjectMismatch = errors.New("provenance is not about this artifact")
	// ErrTimeOrder: the build finished before it started.
	ErrTimeOrder = errors.New("provenance times out of order")
)

// Statement is an in-toto Statement v1 with a SLSA provenance v1 predicate.
type Statement struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     Provenance           `json:"predicate"`
}

// ResourceDescriptor is in-toto's ResourceDescriptor (without content).
type ResourceDescriptor struct {
	URI              string            `json:"uri,omitempty"`
	Digest           map[string]string `json:"digest,omitempty"` // algorithm -> lowercase hex
	Name             string            `json:"name,omitempty"`
	DownloadLocation string            `json:"downloadLocation,omitempty"`
	MediaType        string            `json:"mediaType,omitempty"`
	Annotations      map[string]string `json:"annotations,omitempty"`
}

// Provenance is the SLSA provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is SLSA's buildDefinition for BuildTypeIntake.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// ExternalParameters are what the person who ran the intake chose: the
// application, its version, the files given, the documentation directory
// and the source references.
type ExternalParameters struct {
	App     string   `json:"app"`
	Version string   `json:"version"`
	Files   []string `json:"files"`
	Docs    string   `json:"docs,omitempty"`
	Sources []string `json:"sources,omitempty"`
}

// RunDetails is SLSA's runDetails.
type RunDetails struct {
	Builder    Builder              `json:"builder"`
	Metadata   BuildMetadata        `json:"metadata"`
	Byproducts []ResourceDescriptor `json:"byproducts,omitempty"`
}

// Builder identifies what ran the intake.
type Builder struct {
	ID                  string               `json:"id"`
	Version             map[string]string    `json:"version,omitempty"`
	BuilderDependencies []ResourceDescriptor `json:"builderDependencies,omitempty"`
}

// BuildMetadata is SLSA's runDetails.metadata.
type BuildMetadata struct {
	InvocationID string    `json:"invocationId"` // the pipeline run id
	StartedOn    time.Time `json:"startedOn"`
	FinishedOn   time.Time `json:"finishedOn"`
}

// Run is one intake run: what New makes a statement of.
type Run struct {
	App, Version string
	// Subjects are the artifacts stored, each with its file name and
	// Digest{"sha256": HEX} (Artifact makes one).
	Subjects []ResourceDescriptor
	Docs     string // the documentation directory given, if any
	// Inputs are what the run read besides the subjects (documentation
	// files, vendor SBOMs), with digests.
	Inputs []ResourceDescriptor
	// Sources are source references: a URI ("git+https://host/repo@ref")
	// and its digest ({"gitCommit": HEX}).
	Sources []ResourceDescriptor
	// Byproducts are what the run wrote besides the subjects (SBOMs, the
	// scan report), with digests.
	Byproducts     []ResourceDescriptor
	BuilderID      string            // a URI naming the builder
	BuilderVersion map[string]string // {"eucora": VERSION}
	InvocationID   string            // the pipeline run id
	StartedOn      time.Time
	FinishedOn     time.Time
}

// Artifact is the descriptor of a file named name whose digest is
// "sha256:HEX" (as facts.Facts.SHA256 writes it) or HEX.
func Artifact(name, sha256 string) (ResourceDescriptor, error) {
	d, err := digest.Parse(strings.ToLower(sha256))
	if err != nil {
		return ResourceDescriptor{}, fmt.Errorf("%w: artifact %q: %v", ErrMalformed, clip.String(name, 200), err)
	}
	return ResourceDescriptor{Name: name, Digest: map[string]string{"sha256": d.Hex()}}, nil
}

// New makes the statement of r: the subjects; externalParameters app,
// version, files (the subjects' names), docs and sources (the source
// URIs); resolvedDependencies the subjects as read, then Inputs, then
// Sources; the builder, invocation id and times in UTC. It refuses what
// Validate refuses.
func New(r Run) (Statement, error) {
	files := make([]string, 0, len(r.Subjects))
	for _, s := range r.Subjects {
		files = append(files, s.Name)
	}
	var srcs []string
	for _, s := range r.Sources {
		srcs = append(srcs, s.URI)
	}
	var deps []ResourceDescriptor
	deps = append(deps, cloneAll(r.Subjects)...)
	deps = append(deps, cloneAll(r.Inputs)...)
	deps = append(deps, cloneAll(r.Sources)...)
	st := Statement{
		Type:          StatementType,
		Subject:       cloneAll(r.Subjects),
		PredicateType: PredicateType,
		Predicate: Provenance{
			BuildDefinition: BuildDefinition{
				BuildType:            BuildTypeIntake,
				ExternalParameters:   ExternalParameters{App: r.App, Version: r.Version, Files: files, Docs: r.Docs, Sources: srcs},
				ResolvedDependencies: deps,
			},
			RunDetails: RunDetails{
				Builder:    Builder{ID: r.BuilderID, Version: cloneMap(r.BuilderVersion)},
				Metadata:   BuildMetadata{InvocationID: r.InvocationID, StartedOn: r.StartedOn.UTC(), FinishedOn: r.FinishedOn.UTC()},
				Byproducts: cloneAll(r.Byproducts),
			},
		},
	}
	if err := st.Validate(); err != nil {
		return Statement{}, err
	}
	return st, nil
}

// cloneAll copies descriptors so that the statement shares no map with
// the Run.
func cloneAll(ds []ResourceDescriptor) []ResourceDescriptor {
	if ds == nil {
		return nil
	}
	out := make([]ResourceDescriptor, len(ds))
	for i, d := range ds {
		d.Digest, d.Annotations = cloneMap(d.Digest), cloneMap(d.Annotations)
		out[i] = d
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// StatementError names the field of a statement that is wrong.
type StatementError struct {
	Field   string // JSON path: "predicate.runDetails.builder.id"
	Problem string
	Err     error // ErrMalformed, ErrPredicateType or ErrTimeOrder
}

func (e *StatementError) Error() string {
	if e.Field == "" {
		return "provenance statement: " + e.Problem
	}
	return "provenance statement: " + e.Field + ": " + e.Problem
}

// Unwrap returns the sentinel the error is a case of.
func (e *StatementError) Unwrap() error { return e.Err }

func malformed(field, format string, args ...any) error {
	return &StatementError{Field: field, Problem: fmt.Sprintf(format, args...), Err: ErrMalformed}
}

// SubjectMismatchError: the statement's subjects do not include the
// artifact's digest.
type SubjectMismatchError struct {
	Artifact string   // "sha256:HEX" of the artifact verified
	Subjects []string // "sha256:HEX" of each subject of the statement
}

func (e *SubjectMismatchError) Error() string {
	return fmt.Sprintf("provenance is about %s, not the artifact %s", strings.Join(e.Subjects, ", "), e.Artifact)
}

// Unwrap makes errors.Is(err, ErrSubjectMismatch) true.
func (e *SubjectMismatchError) Unwrap() error { return ErrSubjectMismatch }

// Validate checks what in-toto Statement v1, SLSA provenance v1 and the
// intake build type require: the statement and predicate types; at least
// one subject, each with a name and a sha256 digest; the build type; the
// app, version and files; a digest on every resolved dependency; a builder
// id that is a URI; the invocation id; start and finish times, in order.
func (st Statement) Validate() error {
	if st.Type != StatementType {
		return malformed("_type", "%q, want %s", clip.String(st.Type, 80), StatementType)
	}
	if st.PredicateType != PredicateType {
		return &StatementError{Field: "predicateType", Problem: fmt.Sprintf("%q, want %s", clip.String(st.PredicateType, 120), PredicateType), Err: ErrPredicateType}
	}
	if len(st.Subject) == 0 {
		return malformed("subject", "empty: a statement names at least one artifact")
	}
	for i, s := range st.Subject {
		f := fmt.Sprintf("subject[%d]", i)
		if s.Name == "" {
			return malformed(f+".name", "missing: a subject is named by its file name")
		}
		if err := checkDigest(f, s, true); err != nil {
			return err
		}
	}
	bd := st.Predicate.BuildDefinition
	if bd.BuildType != BuildTypeIntake {
		return malformed("predicate.buildDefinition.buildType", "%q, want %s", clip.String(bd.BuildType, 120), BuildTypeIntake)
	}
	ep := bd.ExternalParameters
	if strings.TrimSpace(ep.App) == "" {
		return malformed("predicate.buildDefinition.externalParameters.app", "missing")
	}
	if strings.TrimSpace(ep.Version) == "" {
		return malformed("predicate.buildDefinition.externalParameters.version", "missing")
	}
	if len(ep.Files) == 0 {
		return malformed("predicate.buildDefinition.externalParameters.files", "empty")
	}
	for i, d := range bd.ResolvedDependencies {
		f := fmt.Sprintf("predicate.buildDefinition.resolvedDependencies[%d]", i)
		if d.Name == "" && d.URI == "" {
			return malformed(f, "neither name nor uri")
		}
		if err := checkDigest(f, d, false); err != nil {
			return err
		}
	}
	rd := st.Predicate.RunDetails
	if u, err := url.Parse(rd.Builder.ID); rd.Builder.ID == "" || err != nil || u.Scheme == "" {
		return malformed("predicate.runDetails.builder.id", "%q is not a URI", clip.String(rd.Builder.ID, 120))
	}
	for i, d := range rd.Byproducts {
		f := fmt.Sprintf("predicate.runDetails.byproducts[%d]", i)
		if d.Name == "" && d.URI == "" {
			return malformed(f, "neither name nor uri")
		}
		if err := checkDigest(f, d, false); err != nil {
			return err
		}
	}
	md := rd.Metadata
	if strings.TrimSpace(md.InvocationID) == "" {
		return malformed("predicate.runDetails.metadata.invocationId", "missing: the pipeline run id")
	}
	if md.StartedOn.IsZero() {
		return malformed("predicate.runDetails.metadata.startedOn", "missing")
	}
	if md.FinishedOn.IsZero() {
		return malformed("predicate.runDetails.metadata.finishedOn", "missing")
	}
	if md.FinishedOn.Before(md.StartedOn) {
		return &StatementError{Field: "predicate.runDetails.metadata",
			Problem: fmt.Sprintf("finishedOn %s is before startedOn %s", md.FinishedOn.UTC().Format(time.RFC3339Nano), md.StartedOn.UTC().Format(time.RFC3339Nano)),
			Err:     ErrTimeOrder}
	}
	return nil
}

// digestLen is the hex length of the digest algorithms in-toto names.
var digestLen = map[string]int{"md5": 32, "sha1": 40, "sha224": 56, "sha512_224": 56, "sha256": 64, "sha512_256": 64,
	"sha384": 96, "sha512": 128, "sha3_224": 56, "sha3_256": 64, "sha3_384": 96, "sha3_512": 128,
	"gitBlob": 40, "gitCommit": 40, "gitTag": 40, "gitTree": 40, "dirHash": 64}

// checkDigest: d has a digest whose values are lowercase hex of the
// algorithm's length (gitCommit and friends may also be SHA-256 long);
// needSHA256 requires a sha256 entry.
func checkDigest(field string, d ResourceDescriptor, needSHA256 bool) error {
	if len(d.Digest) == 0 {
		return malformed(field+".digest", "missing")
	}
	if _, ok := d.Digest["sha256"]; needSHA256 && !ok {
		return malformed(field+".digest", "no sha256")
	}
	algs := make([]string, 0, len(d.Digest))
	for a := range d.Digest {
		algs = append(algs, a)
	}
	sort.Strings(algs)
	for _, a := range algs {
		v := d.Digest[a]
		n, known := digestLen[a]
		ok := v != "" && isLowerHex(v) && (!known || len(v) == n || strings.HasPrefix(a, "git") && len(v) == 64)
		if !ok {
			return malformed(field+".digest."+clip.String(a, 40), "%q is not %s lowercase hex", clip.String(v, 140), lenText(n, known))
		}
	}
	return nil
}

func lenText(n int, known bool) string {
	if !known {
		return "a"
	}
	return fmt.Sprintf("%d-digit", n)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Sign validates st and wraps it in a DSSE envelope (payload type
// application/vnd.in-toto+json) signed with key, which must be the
// packaging key: the caller holds the key registry and checks the key's
// role with CheckUse(role, UseProvenance) first.
func Sign(st Statement, key *signing.PrivateKey) (*signing.Envelope, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no signing key", signing.ErrKeyFile)
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return signing.Sign(key, PayloadType, b), nil
}

// Verify checks that env is a provenance envelope signed by one of
// packagingKeys (which must hold the packaging keys only, so that
// provenance signed by any other role's key is refused as signed by an
// unknown key), decodes its statement strictly, validates it (Validate),
// and checks that a subject has the artifact's digest ("sha256:HEX" or
// HEX). It returns the statement and the id of the key that signed it.
//
// Errors: signing.ErrEnvelope, signing.ErrBadSignature,
// signing.ErrUnknownKey for the envelope; ErrMalformed, ErrPredicateType,
// ErrTimeOrder (a *StatementError naming the field) for the statement; a
// *SubjectMismatchError naming both digests when it is about another
// artifact.
func Verify(env *signing.Envelope, packagingKeys signing.Trust, artifact string) (Statement, string, error) {
	want, err := digest.Parse(strings.ToLower(artifact))
	if err != nil {
		return Statement{}, "", fmt.Errorf("artifact digest: %w", err)
	}
	if env == nil {
		return Statement{}, "", fmt.Errorf("%w: no provenance envelope", signing.ErrEnvelope)
	}
	payload, keyID, err := signing.Verify(env, packagingKeys, PayloadType)
	if err != nil {
		return Statement{}, "", fmt.Errorf("provenance envelope: %w", err)
	}
	st, err := decodeStatement(payload)
	if err != nil {
		return Statement{}, "", err
	}
	if err := st.Validate(); err != nil {
		return Statement{}, "", err
	}
	var got []string
	for _, s := range st.Subject {
		if s.Digest["sha256"] == want.Hex() {
			return st, keyID, nil
		}
		got = append(got, "sha256:"+s.Digest["sha256"])
	}
	return Statement{}, "", &SubjectMismatchError{Artifact: want.String(), Subjects: got}
}

// statementHead is a statement with its predicate undecoded, so that a
// statement of another predicate type is refused for its type and not for
// the first field its predicate does not share with SLSA provenance.
type statementHead struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     json.RawMessage      `json:"predicate"`
}

// decodeStatement decodes a statement strictly: one JSON object, no
// unknown fields, no duplicate keys, no key matching a field only when
// case is ignored, no trailing data.
func decodeStatement(b []byte) (Statement, error) {
	if len(b) > MaxStatementSize {
		return Statement{}, malformed("", "%d bytes, limit %d", len(b), MaxStatementSize)
	}
	var h statementHead
	if err := decodeStrict(b, &h, ""); err != nil {
		return Statement{}, err
	}
	if h.Type != StatementType {
		return Statement{}, malformed("_type", "%q, want %s", clip.String(h.Type, 80), StatementType)
	}
	if h.PredicateType != PredicateType {
		return Statement{}, &StatementError{Field: "predicateType", Problem: fmt.Sprintf("%q, want %s", clip.String(h.PredicateType, 120), PredicateType), Err: ErrPredicateType}
	}
	if len(h.Predicate) == 0 {
		return Statement{}, malformed("predicate", "missing")
	}
	st := Statement{Type: h.Type, Subject: h.Subject, PredicateType: h.PredicateType}
	if err := decodeStrict(h.Predicate, &st.Predicate, "predicate"); err != nil {
		return Statement{}, err
	}
	return st, nil
}

func decodeStrict(b []byte, v any, root string) error {
	if err := checkKeys(json.NewDecoder(bytes.NewReader(b)), reflect.TypeOf(v), root); err != nil {
		var se *StatementError
		if errors.As(err, &se) {
			return err
		}
		return malformed(root, "not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return malformed(join(root, te.Field), "is a JSON %s, want %s", te.Value, jsonKind(te.Type))
		}
		return malformed(root, "%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed(root, "trailing data after the JSON value")
	}
	return nil
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == timeType {
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// checkKeys walks one JSON value and refuses an object that names a key
// twice, and, where t is a struct, a key that is not exactly one of its
// JSON field names (encoding/json would match "_TYPE" to "_type", and keep
// the last of two equal keys). Values of types with their own
// UnmarshalJSON are checked for duplicates only.
func checkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	return checkValue(dec, t, path, 0)
}

// maxNesting bounds how deep checkKeys follows nested values (a
// statement is a handful of levels deep).
const maxNesting = 32

func checkValue(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > maxNesting {
		return malformed(path, "nested more than %d deep", maxNesting)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		// time.Time's own errors do not name the field.
		s, ok := tok.(string)
		if !ok {
			return malformed(path, "is not a string, want an RFC 3339 time string")
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return malformed(path, "%q is not an RFC 3339 time", clip.String(s, 60))
		}
		return nil
	}
	if t != nil && (t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler)) {
		t = nil
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = map[string]reflect.Type{}
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" || !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				fields[name] = f.Type
			}
		} else if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			kp := join(path, k)
			if seen[k] {
				return malformed(kp, "key given twice")
			}
			seen[k] = true
			next := elem
			if fields != nil {
				ft, ok := fields[k]
				if !ok {
					return malformed(kp, "unknown field")
				}
				next = ft
			}
			if err := checkValue(dec, next, kp, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, elem, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}
