package httpserve

import (
	"io"
	"log/slog"
	"net/http"
	"time"
)

// AccessLog wraps h so that every request is logged on log at INFO once it
// is answered, as one structured line with the message "request" and the
// attributes method, path, status, bytes (of the response body as sent),
// duration_ms, remote (the client's address) and user_agent, and
// correlation_id when the handler set an X-Correlation-ID response header
// (the hub sets one on every API answer). A handler that
// panics is logged with status 500 before the panic goes on.
//
// The response writer it hands to h keeps Flush, ReadFrom (so files are
// still sent with sendfile) and http.ResponseController's features.
func AccessLog(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			p := recover()
			status := rec.status
			switch {
			case p != nil && status == 0:
				status = http.StatusInternalServerError
			case status == 0:
				status = http.StatusOK // what net/http sends for an empty answer
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("remote", r.RemoteAddr),
				slog.String("user_agent", r.UserAgent()),
			}
			if cid := rec.Header().Get("X-Correlation-ID"); cid != "" {
				attrs = append(attrs, slog.String("correlation_id", cid))
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
			if p != nil {
				panic(p)
			}
		}()
		h.ServeHTTP(rec, r)
	})
}

// recorder notes the status and the body bytes of a response.
type recorder struct {
	http.ResponseWriter
	status int   // final status (0: none written yet)
	bytes  int64 // body bytes written
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's ReadFrom (sendfile for files).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

// Flush passes a flush on when the underlying writer supports it.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		if r.status == 0 {
			r.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// writerOnly hides every method but Write (so io.Copy does not loop back
// into ReadFrom).
type writerOnly struct{ io.Writer }
