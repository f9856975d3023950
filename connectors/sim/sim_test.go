package sim

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestFaultEverySkipCount(t *testing.T) {
	var f Faults
	f.Add(Fault{Match: "GET /a", Skip: 2, Every: 3, Count: 2, Status: 429})
	srv := httptest.NewServer(f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	var got []int
	for range 12 {
		resp, err := http.Get(srv.URL + "/a")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	// Requests 1-2 skipped; then every third of the rest (5, 8) until two hits.
	for i, code := range got {
		want := 200
		if i+1 == 5 || i+1 == 8 {
			want = 429
		}
		if code != want {
			t.Fatalf("request %d: %d, want %d (all: %v)", i+1, code, want, got)
		}
	}
	if resp, _ := http.Get(srv.URL + "/b"); resp.StatusCode != 200 {
		t.Errorf("unmatched path faulted")
	}
	if n, per := f.Calls(); n != 13 || per["GET /a"] != 12 {
		t.Errorf("calls %d %v", n, per)
	}
}
