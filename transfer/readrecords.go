package transfer

import (
	"context"
	"os"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/internal/signing"
)

// ReadRecords opens one bundle from its volume files (any order),
// verifies it with trust and every volume it needs, and returns the
// verified manifest and the bytes of each record by digest: what the
// importing side of an edge -> hub transfer sends. The objects are staged
// in a temporary content store under tmpDir, removed before returning.
func ReadRecords(ctx context.Context, files []string, trust signing.Trust, tmpDir string) (*Signed, map[digest.Digest][]byte, error) {
	b, err := OpenOne(files, trust)
	if err != nil {
		return nil, nil, err
	}
	if err := b.Complete(); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(tmpDir, ".eucora-import-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	st, err := cas.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := b.Import(ctx, st, ImportOptions{}); err != nil {
		return nil, nil, err
	}
	recs := map[digest.Digest][]byte{}
	for _, r := range b.Manifest.Records {
		data, err := ReadRecord(st, r)
		if err != nil {
			return nil, nil, err
		}
		recs[r.Digest] = data
	}
	return b.Signed, recs, nil
}
