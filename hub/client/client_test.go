package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eucora/eucora/deploy"
	"github.com/eucora/eucora/hub/api"
)

// TestBackupOutlivesTimeout checks that a backup answer that takes longer
// than the client's Timeout to read is not cut, and that the shared
// http.Client keeps its Timeout for other calls.
func TestBackupOutlivesTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/backup" || r.URL.Query().Get("blobs") != "true" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		w.Write([]byte("part1,"))
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("part2"))
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	c.HTTP.Timeout = 100 * time.Millisecond
	body, err := c.Backup(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read backup: %v", err)
	}
	if string(b) != "part1,part2" {
		t.Fatalf("backup = %q", b)
	}
	if c.HTTP.Timeout != 100*time.Millisecond {
		t.Fatalf("Backup changed the shared client's Timeout to %v", c.HTTP.Timeout)
	}
}

// TestDeniedCarriesDecision checks that a 403 carrying a decision is a
// *DeniedError (also an *APIError with its code, and ErrDenied), and that
// a 403 without one stays a plain *APIError.
func TestDeniedCarriesDecision(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		if r.URL.Path == "/v1/apps" {
			w.Write([]byte(`{"error":"policy refused","code":"policy","decision":{"id":"dec-1"}}`))
			return
		}
		w.Write([]byte(`{"error":"out of scope","code":"scope"}`))
	}))
	defer srv.Close()
	c := New(srv.URL, "tok")
	_, err := c.CreateApp(context.Background(), api.AppRequest{ID: "a"})
	var de *DeniedError
	if !errors.As(err, &de) || de.Decision.ID != "dec-1" {
		t.Fatalf("CreateApp: %v, want a *DeniedError with decision dec-1", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != "policy" || ae.Message != "policy refused" {
		t.Fatalf("CreateApp: %#v, want an *APIError 403 policy", ae)
	}
	if !errors.Is(err, ErrDenied) || !errors.Is(err, deploy.ErrDenied) {
		t.Fatalf("CreateApp: %v is not ErrDenied and deploy.ErrDenied", err)
	}
	_, err = c.Sites(context.Background())
	if errors.As(err, &de) {
		t.Fatalf("Sites: %v is a *DeniedError without a decision", err)
	}
	if !errors.As(err, &ae) || ae.Code != "scope" || !errors.Is(err, ErrDenied) {
		t.Fatalf("Sites: %v, want a denied *APIError with code scope", err)
	}
}
