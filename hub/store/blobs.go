package store

import (
	"errors"
	"fmt"
	"slices"
)

// blobHandlers apply the records of blobs acknowledged as durable: the
// bytes live in the content store, the record says which nodes hold them.
var blobHandlers = map[string]handler{
	CmdBlobRegister: withBody(applyBlobRegister),
}

func applyBlobRegister(b Batch, bl Blob) (any, error) {
	if len(bl.Digest) != 64 || bl.Size < 0 {
		return nil, fmt.Errorf("%w: blob needs a sha256 hex digest and a size", ErrInvalid)
	}
	var cur Blob
	if err := getJSON(batchGetter{b}, blobKey(bl.Digest), &cur); err == nil {
		for _, h := range bl.Holders {
			if !slices.Contains(cur.Holders, h) {
				cur.Holders = append(cur.Holders, h)
			}
		}
		return cur, setJSON(b, blobKey(bl.Digest), cur)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return bl, setJSON(b, blobKey(bl.Digest), bl)
}
