package sitesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/eucora/eucora/hub/api"
	"github.com/eucora/eucora/hub/store"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
	"github.com/eucora/eucora/transfer"
)

// VerifiedImport is an edge bundle the hub verified, reduced to what it
// merges: its envelope signed by the site's enrolled key, from the site to
// the hub, unexpired, with a sequence, and every record the hub takes
// present and matching the manifest's size and digest. Only VerifyImport
// makes one, and Import proposes it as it is: nothing on the way parses or
// verifies the bundle again. (The state machine still checks, when it
// applies the merge, what depends on the state at that moment: the key is
// still the site's, the sequence is not behind.)
type VerifiedImport struct {
	body     store.SiteImportBody
	ignored  map[string]int // records of types the hub does not take, by type
	warnings []string
}

// Body is the merge command's body.
func (v *VerifiedImport) Body() store.SiteImportBody { return v.body }

// importBody is the request of POST /v1/sites/{name}/imports as
// readImport returns it: the envelope, verified against the site's key,
// and the records by digest hex, decoded.
type importBody struct {
	Signed  *transfer.Signed
	Records map[string][]byte
}

// VerifyImport reads an import request body for site from r (the format
// of readImportBody) and verifies it, once: the envelope before any record
// is read, then the records against the manifest. Errors are a
// *transfer.RefusalError (the bundle is refused: the caller records the
// refusal), a *BodyError (the request is malformed: nothing was verified),
// or r's read error.
func (x *Syncer) VerifyImport(site store.Site, r io.Reader) (*VerifiedImport, error) {
	body, err := x.readImport(site, r)
	if err != nil {
		return nil, err
	}
	return x.verifyRecords(site, body)
}

// readImport streams an import request body for site (readImportBody),
// verifying the envelope before any record is read.
func (x *Syncer) readImport(site store.Site, r io.Reader) (importBody, error) {
	var body importBody
	var err error
	body.Records, err = readImportBody(r, func(env []byte) (map[string]transfer.Record, error) {
		sg, err := verifyEnvelope(site, env, x.cfg.Now())
		if err != nil {
			return nil, err
		}
		body.Signed = sg
		want := map[string]transfer.Record{}
		for _, rc := range sg.Manifest.Records {
			want[rc.Digest.Hex()] = rc
		}
		return want, nil
	})
	return body, err
}

// verifyEnvelope checks an edge bundle's envelope against the site's
// enrolled key: signature, source and target, expiry, sequence. It
// returns a *transfer.RefusalError.
func verifyEnvelope(site store.Site, env []byte, now time.Time) (*transfer.Signed, error) {
	pub, err := signing.ParsePublic([]byte(site.EdgeKeyPEM), "site "+site.Name+" edge key")
	if err != nil {
		return nil, transfer.Refuse(transfer.RefusedNotEnrolled, err)
	}
	if len(env) == 0 {
		return nil, transfer.Refuse(transfer.RefusedCorrupt, errors.New("envelope: want base64 of the MANIFEST.dsse.json bytes"))
	}
	sg, err := transfer.ReadSigned(env, signing.NewTrust(pub))
	switch {
	case errors.Is(err, transfer.ErrUnknownKey):
		return nil, transfer.Refuse(transfer.RefusedUnknownKey, fmt.Errorf("%w (site %s's enrolled key is %s)", err, site.Name, pub.ID[:16]))
	case errors.Is(err, transfer.ErrBadSignature):
		return nil, transfer.Refuse(transfer.RefusedBadSignature, err)
	case err != nil:
		return nil, transfer.Refuse(transfer.RefusedCorrupt, err)
	}
	m := sg.Manifest
	if m.Source != site.Name || m.Target != transfer.HubEndpoint {
		return nil, transfer.Refuse(transfer.RefusedForeign, fmt.Errorf("bundle %s is from %q for %q; this import takes bundles from %q for %q", m.BundleID, m.Source, m.Target, site.Name, transfer.HubEndpoint))
	}
	if err := m.CheckExpiry(now); err != nil {
		return nil, transfer.Refuse(transfer.RefusedExpired, err)
	}
	if m.Sequence == 0 {
		return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("bundle %s has sequence 0; edge bundles start at 1", m.BundleID))
	}
	return sg, nil
}

// hubTakesRecord reports whether the hub imports records of typ (others
// are counted as ignored).
func hubTakesRecord(typ string) bool {
	switch typ {
	case transfer.RecordReceipt, transfer.RecordHeld, transfer.RecordEvents, transfer.RecordExecution:
		return true
	}
	return false
}

// verifyRecords checks the records of an edge bundle whose envelope
// readImport verified and parses them. Errors are *transfer.RefusalError.
func (x *Syncer) verifyRecords(site store.Site, body importBody) (*VerifiedImport, error) {
	now := x.cfg.Now()
	sg, m := body.Signed, body.Signed.Manifest
	// The body took a while to arrive: the bundle must still be unexpired.
	if err := m.CheckExpiry(now); err != nil {
		return nil, transfer.Refuse(transfer.RefusedExpired, err)
	}
	v := &VerifiedImport{ignored: map[string]int{}, body: store.SiteImportBody{Site: site.Name, Sequence: m.Sequence, Digest: sg.Digest,
		BundleID: m.BundleID, KeyID: sg.KeyID, At: now}}
	recordObjects := map[digest.Digest]bool{}
	receipts := 0
	for _, rc := range m.Records {
		recordObjects[rc.Digest] = true
		if !hubTakesRecord(rc.Type) {
			v.ignored[rc.Type]++
			continue
		}
		data, ok := body.Records[rc.Digest.Hex()]
		if !ok {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %s (%s) listed in the manifest is missing from the request", rc.Digest.Short(), rc.Type))
		}
		if int64(len(data)) != rc.Size || digest.FromBytes(data) != rc.Digest {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %s (%s): %d bytes with digest %s, the manifest says %d bytes with digest %s",
				rc.Digest.Short(), rc.Type, len(data), digest.FromBytes(data).Short(), rc.Size, rc.Digest.Short()))
		}
		parsed, err := transfer.ParseRecord(rc.Type, data)
		if err != nil {
			return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("record %s: %w", rc.Digest.Short(), err))
		}
		switch r := parsed.(type) {
		case transfer.Receipt:
			receipts++
			v.body.Receipt = r
		case transfer.HeldList:
			if v.body.Held != nil {
				return nil, transfer.Refuse(transfer.RefusedCorrupt, errors.New("bundle carries two held records"))
			}
			v.body.Held = &r
		case transfer.EventBatch:
			v.body.Batches = append(v.body.Batches, r)
		case transfer.ExecutionReport:
			if r.Site != site.Name {
				return nil, transfer.Refuse(transfer.RefusedForeign, fmt.Errorf("execution record %s is for site %q, not %q", rc.Digest.Short(), r.Site, site.Name))
			}
			v.body.Executions = append(v.body.Executions, r)
		}
	}
	if receipts != 1 {
		return nil, transfer.Refuse(transfer.RefusedCorrupt, fmt.Errorf("bundle %s carries %d receipt records, want exactly one", m.BundleID, receipts))
	}
	if v.body.Receipt.Site != site.Name {
		return nil, transfer.Refuse(transfer.RefusedForeign, fmt.Errorf("receipt is for site %q, not %q", v.body.Receipt.Site, site.Name))
	}
	for _, o := range m.Objects {
		if !recordObjects[o.Digest] {
			v.warnings = append(v.warnings, fmt.Sprintf("object %s is not a record: not imported (the hub takes records only)", o.Digest.Short()))
		}
	}
	if len(v.ignored) == 0 {
		v.ignored = nil
	}
	return v, nil
}

// Import merges a verified edge bundle (one command, carrying audit's
// event) and returns what the merge did. A bundle behind the last merged
// one (and not that one) is refused before it is proposed, with a
// *transfer.RefusalError (code stale) the caller records as the one audit
// event of the refusal. Should a stale bundle slip past (a race with
// another import), the proposal fails with store.ErrStale and the
// command's own audit event has recorded the refusal. Other errors are the
// proposal's, or ErrInternal.
func (x *Syncer) Import(ctx context.Context, audit Audit, v *VerifiedImport) (api.ImportResult, error) {
	b := v.body
	if ss, err := x.cfg.State.SiteSync(b.Site); err == nil && b.Sequence <= ss.LastImportSeq && b.Digest != ss.LastImportDigest {
		return api.ImportResult{}, transfer.Refuse(transfer.RefusedStale, fmt.Errorf("%w: edge bundle sequence %d is at or behind the last merged sequence %d", store.ErrStale, b.Sequence, ss.LastImportSeq))
	}
	raw, err := x.propose(ctx, audit, store.CmdSiteImport, fmt.Sprintf("site/%s/bundle/%d", b.Site, b.Sequence), b)
	if err != nil {
		return api.ImportResult{}, err
	}
	var merged store.SiteImportResult
	if err := json.Unmarshal(raw, &merged); err != nil {
		return api.ImportResult{}, kinded(ErrInternal, err)
	}
	out := merged.View()
	out.Site, out.BundleID, out.Digest, out.Ignored = b.Site, b.BundleID, b.Digest, v.ignored
	out.Warnings = append(out.Warnings, v.warnings...)
	return out, nil
}

// reportable are the codes a client may report for a bundle it refused
// before uploading it (POST /v1/sites/{name}/import-refusals).
var reportable = map[transfer.RefusalCode]bool{transfer.RefusedUnknownKey: true, transfer.RefusedBadSignature: true,
	transfer.RefusedForeign: true, transfer.RefusedExpired: true, transfer.RefusedCorrupt: true, transfer.RefusedStale: true,
	transfer.RefusedMissingVolume: true}

// Reportable reports whether a client may report code for a site's bundle
// it refused before uploading it: every code of a bundle's own fault, not
// not_enrolled (the hub knows that itself).
func Reportable(code transfer.RefusalCode) bool { return reportable[code] }
