package mirror

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eucora/eucora/mirror/mirrortest"
)

// condGet sends a real HTTP GET with If-Modified-Since ims (zero: none).
func condGet(t *testing.T, url string, ims time.Time) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ims.IsZero() {
		req.Header.Set("If-Modified-Since", ims.UTC().Format(http.TimeFormat))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func lastModified(t *testing.T, resp *http.Response) time.Time {
	t.Helper()
	lm, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	if err != nil {
		t.Fatalf("%s: no usable Last-Modified (%q): %v", resp.Request.URL.Path, resp.Header.Get("Last-Modified"), err)
	}
	return lm
}

// TestHandlerIfModifiedSince: the handler sends Last-Modified with every
// file and answers If-Modified-Since with 304 while the file is unchanged;
// a new publication, even in the same second or after the clock went
// back, and a rollback to an older publication are never hidden by a 304.
func TestHandlerIfModifiedSince(t *testing.T) {
	repo, _ := publishFixture(t) // publishes s1 at the real time
	clock := time.Now().Add(time.Minute)
	repo.Now = func() time.Time { return clock }
	signer, _ := testSigner(t)
	ctx := context.Background()
	publish := func(label string) {
		t.Helper()
		if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "p", Signer: signer, NoTree: true, Label: label}); err != nil {
			t.Fatal(err)
		}
	}
	publish("one")
	first := mustPublicationID(t, repo, "p", "test")
	srv := httptest.NewServer(NewHandler(repo, nil))
	defer srv.Close()
	inrel := srv.URL + "/p/dists/test/InRelease"

	resp, body1 := condGet(t, inrel, time.Time{})
	lm1 := lastModified(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || !lm1.Equal(clock.Truncate(time.Second)) {
		t.Fatalf("InRelease: %d, ETag %q, Last-Modified %v (want the switch time %v)", resp.StatusCode, resp.Header.Get("ETag"), lm1, clock.Truncate(time.Second))
	}
	steps := []struct {
		name string
		do   func()
		ims  func() time.Time
		want int
	}{
		{"unchanged: 304", nil, func() time.Time { return lm1 }, 304},
		{"a later If-Modified-Since: 304", nil, func() time.Time { return lm1.Add(time.Hour) }, 304},
		{"an earlier If-Modified-Since: 200", nil, func() time.Time { return lm1.Add(-time.Second) }, 200},
		{"republished in the same second: 200", func() { clock = clock.Add(300 * time.Millisecond); publish("two") }, func() time.Time { return lm1 }, 200},
		{"republished after the clock went back: 200", func() { clock = clock.Add(-time.Hour); publish("three") }, func() time.Time { return lm1.Add(time.Second) }, 200},
		{"rollback to the first publication: 200", func() {
			if _, err := repo.Install(ctx, "p", first, true); err != nil {
				t.Fatal(err)
			}
		}, func() time.Time { return lm1.Add(2 * time.Second) }, 200},
		{"the same publication installed again: still 304", func() {
			if _, err := repo.Install(ctx, "p", first, true); err != nil {
				t.Fatal(err)
			}
		}, func() time.Time { return lm1.Add(3 * time.Second) }, 304},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		resp, body := condGet(t, inrel, s.ims())
		if resp.StatusCode != s.want {
			t.Errorf("%s: status %d, want %d", s.name, resp.StatusCode, s.want)
		}
		if s.want == 200 && (body == "" || resp.Header.Get("Last-Modified") == "") {
			t.Errorf("%s: empty body or no Last-Modified", s.name)
		}
	}
	if resp, body := condGet(t, inrel, time.Time{}); body != body1 || !lastModified(t, resp).Equal(lm1.Add(3*time.Second)) {
		t.Errorf("after the rollback: InRelease differs from the first publication's or Last-Modified %v is not the rollback's switch time", resp.Header.Get("Last-Modified"))
	}

	// Immutable files (pool, by-hash) carry Last-Modified too, and a
	// restarted handler sends the same times (they are stored, not
	// remembered).
	pub := mustPublication(t, repo, "p", "test")
	srv2 := httptest.NewServer(NewHandler(repo, nil))
	defer srv2.Close()
	for _, f := range pub.Files {
		if !strings.HasPrefix(f.Path, "pool/") && !strings.Contains(f.Path, "/by-hash/") && !strings.HasSuffix(f.Path, "/Packages.xz") {
			continue
		}
		resp, _ := condGet(t, srv.URL+"/p/"+f.Path, time.Time{})
		lm := lastModified(t, resp)
		if r2, _ := condGet(t, srv.URL+"/p/"+f.Path, lm); r2.StatusCode != 304 {
			t.Errorf("%s: If-Modified-Since its own Last-Modified: %d, want 304", f.Path, r2.StatusCode)
		}
		if r3, _ := condGet(t, srv2.URL+"/p/"+f.Path, time.Time{}); !lastModified(t, r3).Equal(lm) {
			t.Errorf("%s: a restarted handler sends Last-Modified %v, was %v", f.Path, lastModified(t, r3), lm)
		}
	}
}

// TestAptGetUpdateGets304: the real apt-get, updating twice from an
// unchanged publication, is answered 304 for InRelease the second time
// (apt sends If-Modified-Since, not If-None-Match) and reports a Hit; after
// a new publication it fetches again.
func TestAptGetUpdateGets304(t *testing.T) {
	repo, _ := publishFixture(t)
	signer, key := testSigner(t)
	ctx := context.Background()
	if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "p", Signer: signer, NoTree: true}); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(repo, nil)
	var mu sync.Mutex
	statuses := map[string][]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		h.ServeHTTP(rec, r)
		mu.Lock()
		statuses[r.URL.Path] = append(statuses[r.URL.Path], rec.code)
		mu.Unlock()
	}))
	defer srv.Close()
	pubKey, err := os.ReadFile(key.PublicGPG)
	if err != nil {
		t.Fatal(err)
	}
	apt := mirrortest.NewAptClient(t, srv.URL+"/p", "test", pubKey)
	apt.MustRun("update")
	out := apt.MustRun("update")
	mu.Lock()
	const inrel = "/p/dists/test/InRelease"
	if got := statuses[inrel]; len(got) != 2 || got[0] != 200 || got[1] != 304 {
		t.Fatalf("InRelease statuses over two updates: %v, want [200 304]\n%s", got, out)
	}
	if !strings.Contains(out, "Hit:") || strings.Contains(out, "Get:") {
		t.Fatalf("second apt-get update did not report a Hit:\n%s", out)
	}
	mu.Unlock()
	// A new publication (possibly within the same second): fetched again.
	if _, err := repo.Publish(ctx, "s1", PublishOptions{Prefix: "p", Signer: signer, NoTree: true, ValidFor: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	out = apt.MustRun("update")
	mu.Lock()
	defer mu.Unlock()
	if got := statuses[inrel]; len(got) != 3 || got[2] != 200 {
		t.Fatalf("InRelease statuses after a new publication: %v, want a third 200\n%s", got, out)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
