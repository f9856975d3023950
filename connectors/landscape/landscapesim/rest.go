package landscapesim

import (
	"net/http"
	"strconv"
)

// REST v2 (Landscape 24.04 and later): the activities a JWT may read.

// restActivities is GET /api/v2/activities?limit&offset: {"count",
// "results", "next", "previous"}, newest first, next and previous as
// absolute URLs.
func (s *Server) restActivities(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
		return
	}
	if !s.bearer(w, r) {
		return
	}
	q := r.URL.Query()
	limit, offset := s.opts.PageSize, 0
	for name, dst := range map[string]*int{"limit": &limit, "offset": &offset} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "InvalidParameter", name+" must be a non-negative integer")
				return
			}
			*dst = n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	all := make([]*activity, 0, len(s.acts))
	for i := len(s.acts) - 1; i >= 0; i-- {
		all = append(all, s.acts[i])
	}
	end := min(offset+limit, len(all))
	start := min(offset, len(all))
	results := []map[string]any{}
	for _, a := range all[start:end] {
		s.read(a)
		results = append(results, s.activityJSON(a, true))
	}
	link := func(off int) any {
		if off < 0 || off >= len(all) {
			return nil
		}
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		if r.TLS != nil {
			u.Scheme = "https"
		}
		v := u.Query()
		v.Set("limit", strconv.Itoa(limit))
		v.Set("offset", strconv.Itoa(off))
		u.RawQuery = v.Encode()
		return u.String()
	}
	var prev any
	if offset > 0 {
		prev = link(max(offset-limit, 0))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(all), "results": results, "next": link(end), "previous": prev})
}

// restActivity is GET /api/v2/activities/ID, with its children.
func (s *Server) restActivity(w http.ResponseWriter, r *http.Request, idText string) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
		return
	}
	if !s.bearer(w, r) {
		return
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	a := s.byID[id]
	if err != nil || a == nil {
		writeError(w, http.StatusNotFound, "UnknownActivity", "No activity "+idText+".")
		return
	}
	s.read(a)
	writeJSON(w, http.StatusOK, s.activityJSON(a, true))
}
