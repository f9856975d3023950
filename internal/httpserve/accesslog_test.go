package httpserve

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLogOneLinePerRequest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.bin")
	os.WriteFile(file, bytes.Repeat([]byte("x"), 1000), 0o644)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) })
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		http.NewResponseController(w).Flush()
		io.WriteString(w, "b")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "short and stout", http.StatusTeapot) })
	var sink lockedBuffer
	o := Options{AccessLog: slog.New(slog.NewJSONHandler(&sink, nil))}
	addr, _ := serve(t, mux, o)

	type req struct {
		method, path, rng string
		status            int
		bytes             int
	}
	cases := []req{
		{"GET", "/hello", "", 200, 5},
		{"GET", "/file", "", 200, 1000},
		{"GET", "/file", "bytes=0-99", 206, 100},
		{"HEAD", "/file", "", 200, 0},
		{"GET", "/flush", "", 200, 2},
		{"GET", "/empty", "", 200, 0},
		{"GET", "/teapot", "", 418, len("short and stout\n")},
		{"GET", "/nowhere", "", 404, len("404 page not found\n")},
	}
	for _, c := range cases {
		r, _ := http.NewRequest(c.method, "http://"+addr+c.path, nil)
		r.Header.Set("User-Agent", "Debian APT-HTTP/1.3 (2.6.1)")
		if c.rng != "" {
			r.Header.Set("Range", c.rng)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
	}
	// The line is written once the handler returns, which may be just
	// after the client has read the answer.
	var lines []map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if lines = sink.lines(t); len(lines) >= len(cases) {
			break
		}
	}
	if len(lines) != len(cases) {
		t.Fatalf("%d log lines for %d requests: %v", len(lines), len(cases), lines)
	}
	// Matched by what was asked, not by order: a line is written as its
	// handler returns, which may be after the next request.
	seen := map[int]bool{}
	for _, l := range lines {
		i := -1
		for j, c := range cases {
			if !seen[j] && l["method"] == c.method && l["path"] == c.path && l["status"] == float64(c.status) {
				i = j
				break
			}
		}
		if i < 0 {
			t.Errorf("log line matches no request: %v", l)
			continue
		}
		seen[i] = true
		c := cases[i]
		if l["level"] != "INFO" || l["msg"] != "request" || l["bytes"] != float64(c.bytes) ||
			l["user_agent"] != "Debian APT-HTTP/1.3 (2.6.1)" || !strings.HasPrefix(l["remote"].(string), "127.0.0.1:") {
			t.Errorf("request %d (%s %s): log line %v", i, c.method, c.path, l)
		}
		if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("request %d: duration_ms %v", i, l["duration_ms"])
		}
	}
}

func TestAccessLogPanickingHandler(t *testing.T) {
	var sink lockedBuffer
	h := AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }),
		slog.New(slog.NewJSONHandler(&sink, nil)))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("panic %v not passed on", p)
			}
		}()
		r, _ := http.NewRequest("GET", "/x", nil)
		h.ServeHTTP(nopWriter{}, r)
	}()
	if l := sink.lines(t); len(l) != 1 || l[0]["status"] != float64(500) || l[0]["path"] != "/x" {
		t.Fatalf("log %v", l)
	}
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}
