package awxsim

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// object is one API object as it is rendered.
type object = map[string]any

// apiError is an answer in Django REST Framework's error shape.
type apiError struct {
	status int
	body   any
}

func detail(status int, format string, args ...any) *apiError {
	return &apiError{status: status, body: map[string]any{"detail": fmt.Sprintf(format, args...)}}
}

func fieldError(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, body: map[string][]string{field: {msg}}}
}

// listModel says how a list endpoint filters and orders its objects.
type listModel struct {
	name string // Django model name, in error messages
	// noSearch are fields AWX refuses to filter on (__prevent_search__).
	noSearch []string
	// ordering is the default order_by.
	ordering string
	// fields are the fields a filter or order_by may name (pk is id).
	fields []string
}

func (m listModel) has(f string) bool { return f == "id" || slices.Contains(m.fields, f) }

// The query parameters DRF and AWX reserve (never a filter).
var reserved = []string{"page", "page_size", "format", "order", "order_by", "search", "type", "host_filter"}

// The lookups of AWX's FieldLookupBackend the simulator models.
var lookups = []string{"exact", "iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith",
	"gt", "gte", "lt", "lte", "in", "isnull"}

// list filters, orders and pages objs as AWX does for request r.
func (s *Server) list(r *http.Request, m listModel, objs []object) (object, *apiError) {
	q := r.URL.Query()
	var err *apiError
	if objs, err = filter(m, objs, q); err != nil {
		return nil, err
	}
	order := m.ordering
	for _, k := range []string{"order_by", "order"} {
		if v := q.Get(k); v != "" {
			order = v
		}
	}
	if err := sortObjects(m, objs, order); err != nil {
		return nil, err
	}
	if term := q.Get("search"); term != "" {
		objs = slices.DeleteFunc(objs, func(o object) bool {
			for _, f := range []string{"name", "description", "host_name"} {
				if v, ok := o[f].(string); ok && strings.Contains(strings.ToLower(v), strings.ToLower(term)) {
					return false
				}
			}
			return true
		})
	}
	size := s.o.PageSize
	if v, e := strconv.Atoi(q.Get("page_size")); e == nil && v > 0 {
		size = min(v, MaxPageSize)
	}
	page := 1
	if v := q.Get("page"); v != "" {
		p, e := strconv.Atoi(v)
		if e != nil || p < 1 {
			return nil, detail(http.StatusNotFound, "Invalid page.")
		}
		page = p
	}
	pages := max((len(objs)+size-1)/size, 1)
	if page > pages {
		return nil, detail(http.StatusNotFound, "Invalid page.")
	}
	lo, hi := (page-1)*size, min(page*size, len(objs))
	link := func(p int) any {
		if p < 1 || p > pages {
			return nil
		}
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		return r.URL.Path + "?" + v.Encode()
	}
	results := objs[lo:hi]
	if results == nil {
		results = []object{}
	}
	return object{"count": len(objs), "next": link(page + 1), "previous": link(page - 1), "results": results}, nil
}

func filter(m listModel, objs []object, q url.Values) ([]object, *apiError) {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if slices.Contains(reserved, key) {
			continue
		}
		k := key
		for _, p := range []string{"chain__", "or__"} {
			k = strings.TrimPrefix(k, p)
		}
		not := strings.HasPrefix(k, "not__")
		k = strings.TrimPrefix(k, "not__")
		field, lookup := k, "exact"
		if i := strings.LastIndex(k, "__"); i >= 0 && slices.Contains(lookups, k[i+2:]) {
			field, lookup = k[:i], k[i+2:]
		}
		if field == "" {
			return nil, detail(http.StatusBadRequest, "Query string field name not provided.")
		}
		base, _, related := strings.Cut(field, "__")
		if slices.Contains(m.noSearch, base) {
			return nil, detail(http.StatusForbidden, "Filtering on %s is not allowed.", base)
		}
		if base == "pk" {
			base = "id"
		}
		if !m.has(base) {
			return nil, detail(http.StatusBadRequest, "%s has no field named '%s'", m.name, base)
		}
		if related {
			return nil, detail(http.StatusBadRequest, "the simulator does not model filters across relations (%s)", key)
		}
		for _, want := range q[key] {
			var keep []object
			for _, o := range objs {
				ok, err := matches(o[base], lookup, want)
				if err != nil {
					return nil, detail(http.StatusBadRequest, "%s", err)
				}
				if ok != not {
					keep = append(keep, o)
				}
			}
			objs = keep
		}
	}
	return objs, nil
}

func matches(v any, lookup, want string) (bool, error) {
	if lookup == "isnull" {
		b, err := parseBool(want)
		return (v == nil) == b, err
	}
	if lookup == "in" {
		if want == "" {
			return false, fmt.Errorf("cannot provide empty value for __in")
		}
		for _, w := range strings.Split(want, ",") {
			if ok, err := matches(v, "exact", w); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		b, err := parseBool(want)
		return lookup == "exact" && x == b, err
	case int:
		n, err := strconv.Atoi(want)
		if err != nil {
			return false, fmt.Errorf("Field expected a number but got '%s'.", want)
		}
		return compare(cmp.Compare(x, n), lookup), nil
	case string:
		a, b := x, want
		if strings.HasPrefix(lookup, "i") {
			a, b, lookup = strings.ToLower(a), strings.ToLower(b), lookup[1:]
		}
		switch lookup {
		case "contains":
			return strings.Contains(a, b), nil
		case "startswith":
			return strings.HasPrefix(a, b), nil
		case "endswith":
			return strings.HasSuffix(a, b), nil
		}
		return compare(strings.Compare(a, b), lookup), nil
	}
	return false, nil
}

func compare(c int, lookup string) bool {
	switch lookup {
	case "gt":
		return c > 0
	case "gte":
		return c >= 0
	case "lt":
		return c < 0
	case "lte":
		return c <= 0
	}
	return c == 0
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("'%s' value must be either True or False.", s)
}

func sortObjects(m listModel, objs []object, order string) *apiError {
	var fields []string
	for _, f := range strings.Split(order, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	for _, f := range fields {
		name := strings.TrimPrefix(f, "-")
		if name == "pk" {
			name = "id"
		}
		if slices.Contains(m.noSearch, name) {
			return detail(http.StatusForbidden, "Filtering on %s is not allowed.", name)
		}
		if !m.has(name) {
			return detail(http.StatusBadRequest, "Cannot resolve keyword '%s' into field.", name)
		}
	}
	slices.SortStableFunc(objs, func(a, b object) int {
		for _, f := range fields {
			name, desc := strings.TrimPrefix(f, "-"), strings.HasPrefix(f, "-")
			if name == "pk" {
				name = "id"
			}
			c := compareAny(a[name], b[name])
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return nil
}

func compareAny(a, b any) int {
	switch x := a.(type) {
	case int:
		y, _ := b.(int)
		return cmp.Compare(x, y)
	case string:
		y, _ := b.(string)
		return strings.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case nil:
		if b == nil {
			return 0
		}
		return -1
	}
	return 0
}
