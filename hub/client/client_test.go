package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
