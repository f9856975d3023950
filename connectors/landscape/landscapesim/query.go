package landscapesim

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// Landscape's search queries: space-separated criteria, all of which must
// match, "OR" between groups of criteria, "NOT" before a criterion.

type term struct {
	neg        bool
	key, value string // key "" for free text
}

// query is an OR of ANDs.
type query [][]term

func parseQuery(q string, keys map[string]bool) (query, *apiError) {
	var out query
	var cur []term
	neg := false
	for _, tok := range strings.Fields(q) {
		switch tok {
		case "OR":
			if len(cur) == 0 || neg {
				return nil, errorf(http.StatusBadRequest, "InvalidQuery", "Invalid query %q: OR needs a criterion on both sides.", q)
			}
			out, cur = append(out, cur), nil
			continue
		case "NOT":
			if neg {
				return nil, errorf(http.StatusBadRequest, "InvalidQuery", "Invalid query %q: NOT NOT.", q)
			}
			neg = true
			continue
		}
		t := term{neg: neg, value: tok}
		if k, v, ok := strings.Cut(tok, ":"); ok {
			if !keys[k] {
				return nil, errorf(http.StatusBadRequest, "InvalidQuery", "Invalid query %q: unknown criterion %q.", q, k+":")
			}
			t.key, t.value = k, v
		} else if !keys[""] {
			return nil, errorf(http.StatusBadRequest, "InvalidQuery", "Invalid query %q: %q is not a criterion.", q, tok)
		}
		cur, neg = append(cur, t), false
	}
	if neg || (len(cur) == 0 && len(out) > 0) {
		return nil, errorf(http.StatusBadRequest, "InvalidQuery", "Invalid query %q: it ends in OR or NOT.", q)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

func (q query) match(f func(term) bool) bool {
	if len(q) == 0 {
		return true
	}
	for _, and := range q {
		ok := true
		for _, t := range and {
			if f(t) == t.neg {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

var computerKeys = map[string]bool{"": true, "tag": true, "id": true, "hostname": true, "title": true, "access-group": true, "distribution": true}

// matchComputers returns the computers a computer query selects, by id.
func (s *Server) matchComputers(q string) ([]*computer, *apiError) {
	pq, err := parseQuery(q, computerKeys)
	if err != nil {
		return nil, err
	}
	var out []*computer
	for _, c := range s.computers {
		if pq.match(func(t term) bool { return c.matches(t) }) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (c *computer) matches(t term) bool {
	switch t.key {
	case "tag":
		for _, x := range c.tags {
			if x == t.value {
				return true
			}
		}
		return false
	case "id":
		return strconv.FormatInt(c.id, 10) == t.value
	case "hostname", "title":
		ok, _ := path.Match(t.value, c.hostname)
		return ok
	case "access-group":
		return t.value == "global"
	case "distribution":
		return t.value == "24.04"
	}
	return strings.Contains(c.hostname, t.value)
}

var activityKeys = map[string]bool{"id": true, "parent-id": true, "status": true, "created-after": true, "created-before": true,
	"creator": true, "computer": true, "type": true}

// matchActivities returns the activities an activity query selects, in
// creation order.
func (s *Server) matchActivities(q string) ([]*activity, *apiError) {
	pq, err := parseQuery(q, activityKeys)
	if err != nil {
		return nil, err
	}
	// Check dates and nested computer criteria once, up front.
	for _, and := range pq {
		for _, t := range and {
			switch t.key {
			case "created-after", "created-before":
				if _, ok := parseDate(t.value); !ok {
					return nil, errorf(http.StatusBadRequest, "InvalidQuery", "Invalid query %q: %q is not an ISO 8601 date.", q, t.value)
				}
			case "computer":
				if _, err := parseQuery(t.value, computerKeys); err != nil {
					return nil, err
				}
			case "id", "parent-id":
				if _, err := strconv.ParseInt(t.value, 10, 64); err != nil {
					return nil, errorf(http.StatusBadRequest, "InvalidQuery", "Invalid query %q: %q is not an id.", q, t.value)
				}
			}
		}
	}
	var out []*activity
	for _, a := range s.acts {
		if pq.match(func(t term) bool { return s.activityMatches(a, t) }) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *Server) activityMatches(a *activity, t term) bool {
	switch t.key {
	case "id":
		return strconv.FormatInt(a.id, 10) == t.value
	case "parent-id":
		return a.parent != 0 && strconv.FormatInt(a.parent, 10) == t.value
	case "status":
		return s.status(a) == t.value
	case "created-after":
		d, _ := parseDate(t.value)
		return a.created.After(d)
	case "created-before":
		d, _ := parseDate(t.value)
		return a.created.Before(d)
	case "creator":
		return t.value == creator["email"]
	case "type":
		return a.typ == t.value
	case "computer":
		if a.computer == 0 {
			return false
		}
		sub, _ := parseQuery(t.value, computerKeys)
		c := s.computer(a.computer)
		return sub.match(func(t term) bool { return c.matches(t) })
	}
	return false
}

// parseDate reads ISO 8601 at any precision from a year to seconds
// ("2011-01", "2011-01-01T10:30"), UTC unless it says otherwise.
func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
