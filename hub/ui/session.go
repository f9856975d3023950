package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/eucora/eucora/internal/clip"
)

// Cookie names of the console.
const (
	// SessionCookie carries a session's id (HttpOnly, SameSite=Strict,
	// Secure when the console is served over TLS).
	SessionCookie = "eucora_session"
	// LoginCookie carries the login form's CSRF token until the login.
	LoginCookie = "eucora_login"
)

// Session lifetimes and bounds.
const (
	// IdleTimeout ends a session unused for this long.
	IdleTimeout = 30 * time.Minute
	// MaxLifetime ends every session this long after its login.
	MaxLifetime = 8 * time.Hour
	// MaxSessions bounds the sessions a node keeps; a login beyond it
	// first drops expired sessions, then the least recently used one.
	MaxSessions = 10000
)

// ErrNoSession is returned for a missing, unknown or expired session.
var ErrNoSession = errors.New("no console session (log in at /ui/login)")

// Session is one login to the console. It holds the SHA-256 of the API
// token the person logged in with, never the token: every request is
// authenticated again from it (a revoked token ends the session at once).
type Session struct {
	ID        string // the cookie value's SHA-256 (hex); the value itself is never stored
	TokenHash string
	CSRF      string // the synchronizer token every form of the session carries
	Created   time.Time
	LastSeen  time.Time
	// Flash is the outcome of the session's last action, shown once.
	Flash      string
	FlashError bool
}

// Sessions are the console sessions of one hub node, in memory: a node
// restart logs everybody out; a session is valid only on the node that
// made it.
type Sessions struct {
	mu  sync.Mutex
	all map[string]*Session
	now func() time.Time
}

// NewSessions returns an empty session store; now is the clock (nil: the
// wall clock).
func NewSessions(now func() time.Time) *Sessions {
	if now == nil {
		now = time.Now
	}
	return &Sessions{all: map[string]*Session{}, now: now}
}

// RandomToken returns 32 random bytes, base64url encoded.
func RandomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// Create starts a session for the token with SHA-256 tokenHash and
// returns it with the cookie value that names it.
func (s *Sessions) Create(tokenHash string) (Session, string) {
	cookie := RandomToken()
	now := s.now()
	ss := &Session{ID: sessionKey(cookie), TokenHash: tokenHash, CSRF: RandomToken(), Created: now, LastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) >= MaxSessions {
		s.prune(now)
	}
	for len(s.all) >= MaxSessions {
		var oldest *Session
		for _, o := range s.all {
			if oldest == nil || o.LastSeen.Before(oldest.LastSeen) {
				oldest = o
			}
		}
		delete(s.all, oldest.ID)
	}
	s.all[ss.ID] = ss
	return *ss, cookie
}

func (s *Sessions) expired(ss *Session, now time.Time) bool {
	return now.Sub(ss.LastSeen) >= IdleTimeout || now.Sub(ss.Created) >= MaxLifetime
}

func (s *Sessions) prune(now time.Time) {
	for id, ss := range s.all {
		if s.expired(ss, now) {
			delete(s.all, id)
		}
	}
}

// Get returns the live session named by cookie and marks it used; an
// expired one is dropped.
func (s *Sessions) Get(cookie string) (Session, error) {
	if cookie == "" {
		return Session{}, ErrNoSession
	}
	id := sessionKey(cookie)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.all[id]
	if !ok {
		return Session{}, ErrNoSession
	}
	if s.expired(ss, now) {
		delete(s.all, id)
		return Session{}, ErrNoSession
	}
	ss.LastSeen = now
	return *ss, nil
}

// TakeFlash returns and clears the session's flash message.
func (s *Sessions) TakeFlash(id string) (msg string, isErr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.all[id]; ok {
		msg, isErr = ss.Flash, ss.FlashError
		ss.Flash, ss.FlashError = "", false
	}
	return msg, isErr
}

// SetFlash sets the message the session's next page shows.
func (s *Sessions) SetFlash(id, msg string, isErr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.all[id]; ok {
		ss.Flash, ss.FlashError = msg, isErr
	}
}

// Delete ends a session.
func (s *Sessions) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.all, id)
}

// Len is the number of sessions held (expired ones included until
// pruned).
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.all)
}

// CheckCSRF reports whether got is the session's CSRF token.
func CheckCSRF(ss Session, got string) bool {
	return got != "" && ss.CSRF != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ss.CSRF)) == 1
}

// SetCookie sets a console cookie: HttpOnly, SameSite=Strict, Secure when
// the request came over TLS, for the console's paths only. maxAge < 0
// deletes it.
func SetCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// CrossSite returns why r, a state-changing request, does not come from
// the console's own pages, or "": a Sec-Fetch-Site other than same-origin
// (or none, a typed-in URL), or an Origin whose host is not the request's
// host, is refused. Requests with neither header (old clients, curl) are
// left to the CSRF token.
func CrossSite(r *http.Request) string {
	if v := r.Header.Get("Sec-Fetch-Site"); v != "" && v != "same-origin" {
		return "Sec-Fetch-Site is " + clip.String(v, 32) + ", not same-origin"
	}
	if o := r.Header.Get("Origin"); o != "" {
		want := "http://" + r.Host
		if r.TLS != nil {
			want = "https://" + r.Host
		}
		if o != want {
			return "Origin " + clip.String(o, 128) + " is not this console's origin " + clip.String(want, 128)
		}
	}
	return ""
}
