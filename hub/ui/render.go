package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/eucora/eucora/internal/bytesize"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is the console's policy: nothing but its own
// stylesheet and inline (data:) images; no script at all, no framing, no
// form posting anywhere else.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; connect-src 'none'; script-src 'none'"

// SecurityHeaders sets the console's security headers on every answer.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // not no-referrer: under it a browser sends "Origin: null" with every form post
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// Renderer renders the console's pages from its embedded templates.
type Renderer struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"secs":  func(s int64) string { return Duration(time.Duration(s) * time.Second) },
	"dur":   Duration,
	"bytes": bytesize.Format,
	"when": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if t == nil || t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		}
		return fmt.Sprint(v)
	},
	"short": func(s any) string {
		v := fmt.Sprint(s)
		v = strings.TrimPrefix(v, "sha256:")
		if len(v) > 12 {
			return v[:12]
		}
		return v
	},
	"pct": func(n, d int) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(d))
	},
	"f1":   f1,
	"join": strings.Join,
}

// NewRenderer parses the embedded templates: each page is the layout with
// that page's content and the shared plot template.
func NewRenderer() (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "plot.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/plot.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", base, err)
		}
		r.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return r, nil
}

// Render writes page (a template name: "sites", "login", ...) with data
// and status. The page is rendered in full before a byte is sent, so a
// failure is a clean 500.
func (r *Renderer) Render(w http.ResponseWriter, status int, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("console: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		SecurityHeaders(w.Header())
		http.Error(w, "console page could not be rendered", http.StatusInternalServerError)
		return fmt.Errorf("console page %s: %w", page, err)
	}
	SecurityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// Static serves the embedded stylesheet under /ui/static/.
func Static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServer(http.FS(sub))
	return http.StripPrefix("/ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(w.Header())
		w.Header().Set("Cache-Control", "public, max-age=3600")
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
}
