package hub

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/eucora/eucora/hub/api"
)

// do sends one request with the given Authorization header values.
func do(t *testing.T, method, url string, auth []string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPIEdgeCases(t *testing.T) {
	nodes, admin := makeCluster(t, 1, clusterOpts{})
	n := nodes[0]
	bearer := "Bearer " + admin

	t.Run("events after the last possible cursor are none", func(t *testing.T) {
		max := strconv.FormatUint(math.MaxUint64, 10)
		for _, c := range []struct {
			after string
			empty bool
		}{{"0", false}, {max, true}, {strconv.FormatUint(math.MaxUint64-1, 10), true}} {
			st, body := do(t, "GET", n.url()+"/v1/events?after="+c.after, []string{bearer}, "")
			var out struct {
				Events []api.Event `json:"events"`
				Next   string      `json:"next"`
			}
			if st != 200 || json.Unmarshal([]byte(body), &out) != nil {
				t.Fatalf("after=%s: %d %s", c.after, st, body)
			}
			if (len(out.Events) == 0) != c.empty {
				t.Errorf("after=%s: %d events, want empty=%v", c.after, len(out.Events), c.empty)
			}
			if c.empty && out.Next != c.after {
				t.Errorf("after=%s: next %s", c.after, out.Next)
			}
		}
	})

	t.Run("authorization headers", func(t *testing.T) {
		for _, c := range []struct {
			auth []string
			want int
		}{
			{[]string{"Bearer " + admin}, 200},
			{[]string{"bearer " + admin}, 200},
			{[]string{"BEARER " + admin}, 200},
			{[]string{"Bearer  " + admin + " "}, 200},
			{[]string{"Bearer " + admin, "Bearer " + admin}, 401},
			{[]string{"Bearer " + admin, "Bearer euc_other"}, 401},
			{[]string{"Basic " + admin}, 401},
			{[]string{"Bearer"}, 401},
			{nil, 401},
		} {
			st, body := do(t, "GET", n.url()+"/v1/sites", c.auth, "")
			if st != c.want {
				t.Errorf("%d Authorization headers %.12q...: %d %s, want %d", len(c.auth), c.auth, st, body, c.want)
			}
			if len(c.auth) == 2 && !strings.Contains(body, "more than one Authorization header") {
				t.Errorf("two headers: %s", body)
			}
		}
	})

	t.Run("unauthenticated internal calls are audited", func(t *testing.T) {
		for _, c := range []struct{ method, path, action string }{
			{"POST", "/internal/v1/apply", "internal.apply"},
			{"GET", "/internal/v1/blobs/" + strings.Repeat("a", 64), "internal.blob"},
			{"POST", "/internal/v1/blobs/" + strings.Repeat("a", 64) + "/fetch", "internal.fetch"},
		} {
			for _, auth := range [][]string{nil, {"Bearer not-the-peer-secret"}, {bearer}} {
				st, _ := do(t, c.method, n.url()+c.path, auth, "{}")
				if st != 401 {
					t.Fatalf("%s %s with %q: %d, want 401", c.method, c.path, auth, st)
				}
				ev := lastEvent(t, n)
				if ev.Action != c.action || ev.Outcome != "denied" || ev.Actor != "anonymous" || !strings.HasPrefix(ev.Reason, "401") {
					t.Errorf("%s %s with %q: newest event %+v, want an anonymous denial", c.method, c.path, auth, ev)
				}
			}
		}
	})

	t.Run("removing an unknown node or the last voter", func(t *testing.T) {
		st, body := do(t, "DELETE", n.url()+"/v1/cluster/nodes/nope", []string{bearer}, "")
		if st != 404 || !strings.Contains(body, "nope") {
			t.Errorf("unknown node: %d %s, want 404", st, body)
		}
		st, body = do(t, "DELETE", n.url()+"/v1/cluster/nodes/"+n.id, []string{bearer}, "")
		if st != 409 || !strings.Contains(body, "last voter") {
			t.Errorf("last voter: %d %s, want 409", st, body)
		}
		if sv, err := n.srv.Store().Servers(); err != nil || len(sv) != 1 {
			t.Errorf("servers after the refusal: %v %v", sv, err)
		}
	})
}
