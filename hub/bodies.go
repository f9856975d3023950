package hub

import (
	"net/http"
	"time"
)

// largeBodyWait is how long a large request waits for its turn before it
// is answered 503.
const largeBodyWait = 60 * time.Second

// largeBody takes a turn to read a large request body (imports,
// events:batch): at most Config.LargeBodies at once per node (default 1),
// so the hub's memory stays flat however many arrive together; the rest
// wait up to largeBodyWait and are then answered 503 with Retry-After.
// Call it after authorising the request and before reading the body;
// release when done.
func (s *Server) largeBody(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	t := time.NewTimer(largeBodyWait)
	defer t.Stop()
	select {
	case s.large <- struct{}{}:
		return func() { <-s.large }, true
	case <-r.Context().Done():
		writeError(w, http.StatusServiceUnavailable, "request cancelled while waiting for its turn")
		return nil, false
	case <-t.C:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "this hub node is reading %d other large request(s) (imports, event batches); retry", cap(s.large))
		return nil, false
	}
}
