package mirror

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/eucora/eucora/internal/digest"
)

func TestVerifiedErrors(t *testing.T) {
	want := digest.FromBytes([]byte("abc"))
	f := &Fetcher{Retries: -1}

	// A body over the size is a size mismatch.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("abcd"))
	}))
	defer srv.Close()
	_, err := f.Verified(context.Background(), srv.URL+"/f", "f", want, 3)
	var me *digest.MismatchError
	if !errors.As(err, &me) || me.GotSize != 4 {
		t.Fatalf("too large: want a size MismatchError, got %v", err)
	}

	// A URL that makes no request is a fetch error, not a mismatch.
	_, err = f.Verified(context.Background(), "http://bad\x7fhost/f", "f", want, 3)
	if errors.As(err, &me) || !errors.Is(err, ErrFetch) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad URL: want a FetchError wrapping ErrInvalid, got %v", err)
	}
}
