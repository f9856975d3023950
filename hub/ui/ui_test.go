package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/hub/api"
)

func TestSessionsExpireAndFlash(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	s := NewSessions(func() time.Time { return now })
	sess, cookie := s.Create("hash")
	if sess.ID == cookie || len(sess.CSRF) < 40 {
		t.Fatalf("session id is the cookie or CSRF token short: %+v", sess)
	}
	if _, err := s.Get(cookie + "x"); err != ErrNoSession {
		t.Fatalf("unknown cookie: %v", err)
	}
	got, err := s.Get(cookie)
	if err != nil || got.TokenHash != "hash" || !CheckCSRF(got, sess.CSRF) || CheckCSRF(got, "") || CheckCSRF(got, sess.CSRF+"x") {
		t.Fatalf("get: %+v %v", got, err)
	}
	s.SetFlash(sess.ID, "done", false)
	if m, e := s.TakeFlash(sess.ID); m != "done" || e {
		t.Fatalf("flash %q %v", m, e)
	}
	if m, _ := s.TakeFlash(sess.ID); m != "" {
		t.Fatal("flash shown twice")
	}
	// Idle timeout; use keeps it alive until the absolute lifetime.
	for i := 0; i < int(MaxLifetime/(IdleTimeout/2)); i++ {
		now = now.Add(IdleTimeout / 2)
		if _, err := s.Get(cookie); err != nil {
			if now.Sub(sess.Created) < MaxLifetime {
				t.Fatalf("session ended after %s of use", now.Sub(sess.Created))
			}
			break
		}
	}
	if _, err := s.Get(cookie); err != ErrNoSession {
		t.Fatalf("session lived past %s", MaxLifetime)
	}
	_, c2 := s.Create("h2")
	now = now.Add(IdleTimeout)
	if _, err := s.Get(c2); err != ErrNoSession {
		t.Fatal("idle session not ended")
	}
}

func TestSessionsBounded(t *testing.T) {
	s := NewSessions(nil)
	var first string
	for i := 0; i < MaxSessions+5; i++ {
		_, c := s.Create("h")
		if i == 0 {
			first = c
		}
	}
	if s.Len() != MaxSessions {
		t.Fatalf("%d sessions held, want %d", s.Len(), MaxSessions)
	}
	if _, err := s.Get(first); err != ErrNoSession {
		t.Fatal("the least recently used session survived")
	}
}

func TestCrossSite(t *testing.T) {
	for _, c := range []struct {
		hdr  map[string]string
		tls  bool
		want bool
	}{
		{nil, false, false},
		{map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://hub:8440"}, false, false},
		{map[string]string{"Sec-Fetch-Site": "same-site"}, false, true},
		{map[string]string{"Sec-Fetch-Site": "cross-site"}, false, true},
		{map[string]string{"Origin": "null"}, false, true},
		{map[string]string{"Origin": "http://evil:8440"}, false, true},
		{map[string]string{"Origin": "http://hub:8440"}, true, true},
		{map[string]string{"Origin": "https://hub:8440"}, true, false},
	} {
		r := httptest.NewRequest("POST", "http://hub:8440/ui/logout", nil)
		if c.tls {
			r = httptest.NewRequest("POST", "https://hub:8440/ui/logout", nil)
		}
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		if got := CrossSite(r) != ""; got != c.want {
			t.Errorf("%v tls=%v: refused %v, want %v", c.hdr, c.tls, got, c.want)
		}
	}
}

func TestCookieFlags(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		r := httptest.NewRequest("GET", "http://hub/ui/", nil)
		if tlsOn {
			r = httptest.NewRequest("GET", "https://hub/ui/", nil)
		}
		w := httptest.NewRecorder()
		SetCookie(w, r, SessionCookie, "v", "/ui/", 60)
		ck := w.Result().Cookies()[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != tlsOn || ck.Path != "/ui/" {
			t.Errorf("tls=%v: cookie %+v", tlsOn, ck)
		}
	}
}

// TestRenderEscapes renders every page with hostile strings in its text
// fields: none survives as markup.
func TestRenderEscapes(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	evil := `<script>alert(1)</script>"><img src=x onerror=alert(2)>` + "\u202e"
	l := Layout{Title: evil, User: evil, Role: "auditor", Scope: evil, CSRF: `"><x`, Flash: evil, Node: "n1", Nav: []NavItem{{Name: evil, Href: "/ui/sites"}}}
	plot := BarPlot(evil, []BarValue{{Label: evil, Value: 5, Text: evil}}, 10, 5, evil)
	pages := map[string]any{
		"login": LoginPage{Layout: l, Error: evil},
		"error": ErrorPage{Layout: l, Status: 403, Message: evil},
		"sites": SitesPage{Layout: l, Rows: []SiteRow{{SiteSync: api.SiteSync{Site: evil, Class: evil, ChainError: evil, PendingError: evil, Sync: evil}, State: evil}}, Plot: plot,
			Headers: []SortHeader{{Label: evil, Href: "javascript:alert(1)"}}},
		"site":     SitePage{Layout: l, Sync: api.SiteSync{LastRefusalReason: evil}, Refusals: []Refusal{{Code: evil, Reason: evil, Actor: evil}}, History: []api.Event{{Reason: evil, Actor: evil}}, Plot: StalenessPlot(evil, nil, 0)},
		"rollouts": RolloutsPage{Layout: l, Apps: []AppRollouts{{AppID: evil, Rows: []RolloutRow{{Rollout: api.Rollout{IntentID: evil, PauseReason: evil, PausedBy: evil}, Controls: []Control{{Name: "pause", Label: evil, Action: "/ui/x", Reason: true}}}}, Plot: plot}}},
		"cab":      CABPage{Layout: l, CanDecide: true, Validity: CABValidityDays, Items: []CABItem{{Subject: evil, Title: evil, AppName: evil, RequestedBy: evil}}, Expiring: nil},
		"drift":    DriftPage{Layout: l, Query: DriftQuery{Site: evil}, Rows: []api.Drift{{Site: evil}}},
		"audit":    AuditPage{Layout: l, Query: AuditQuery{CorrelationID: evil}, Events: []api.Event{{Reason: evil, Object: evil, CorrelationID: evil}}, ChainError: evil, ChainFailed: true},
	}
	for name, data := range pages {
		w := httptest.NewRecorder()
		if err := r.Render(w, 200, name, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body := w.Body.String()
		for _, bad := range []string{"<script>", "<img", `href="javascript:`, `value=""><x`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: %q survived as markup", name, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s: the hostile text is not shown escaped", name)
		}
		if w.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("%s: no CSP", name)
		}
	}
}

func TestPlots(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	p := StalenessPlot("s", []StalenessSample{{At: t0}, {At: t0.Add(time.Hour), Staleness: time.Hour}, {At: t0.Add(time.Hour)}}, 24*time.Hour)
	if p.Empty != "" || len(p.Lines) != 1 || strings.Count(p.Lines[0].Points, ",") != 3 || len(p.Rules) != 1 {
		t.Fatalf("staleness plot: %+v", p)
	}
	// The limit is drawn above the series: 24 h is higher than 1 h.
	if p.Rules[0].Y >= p.Y1 || p.Rules[0].Y <= p.Y0 {
		t.Errorf("limit at y=%v outside the plot", p.Rules[0].Y)
	}
	b := BarPlot("b", []BarValue{{Label: "a", Value: 50}, {Label: "b", Value: 100}}, 100, 0, "")
	if len(b.Bars) != 2 || b.Bars[0].H*2-b.Bars[1].H > 0.01 || !b.Labels {
		t.Fatalf("bars: %+v", b.Bars)
	}
	many := make([]BarValue, 200)
	if got := len(BarPlot("m", many, 1, 0, "").Bars); got != plotMaxBars {
		t.Errorf("%d bars drawn of 200, want %d", got, plotMaxBars)
	}
	for d, want := range map[time.Duration]string{45 * time.Second: "45s", 12 * time.Minute: "12m", 200 * time.Minute: "3h20m", 102 * time.Hour: "4d6h", 48 * time.Hour: "2d"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %s, want %s", d, got, want)
		}
	}
}
