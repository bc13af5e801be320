package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
)

// CookieName is the console session cookie.
const CookieName = "firebreak_session"

// CSRFHeader carries the session's CSRF token on every request that changes
// state.
const CSRFHeader = "X-CSRF-Token"

// Session lifetimes.
const (
	DefaultIdle     = 30 * time.Minute // ends a session nobody used for this long
	DefaultLifetime = 12 * time.Hour   // ends every session this long after login
)

// Sessions keeps console sessions in memory: a restart of the daemon logs
// everybody out. Only the SHA-256 of a session ID is kept.
type Sessions struct {
	idle, lifetime time.Duration
	now            func() time.Time

	mu sync.Mutex
	m  map[[32]byte]*session
}

type session struct {
	acc              auth.Account
	csrf             string
	created, lastUse time.Time
}

// SessionInfo is what the browser learns of its session.
type SessionInfo struct {
	Name    string    `json:"name"`
	Role    auth.Role `json:"role"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// NewSessions returns an empty session store; zero durations take the
// defaults, a nil now takes time.Now.
func NewSessions(idle, lifetime time.Duration, now func() time.Time) *Sessions {
	if idle <= 0 {
		idle = DefaultIdle
	}
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	if now == nil {
		now = time.Now
	}
	return &Sessions{idle: idle, lifetime: lifetime, now: now, m: map[[32]byte]*session{}}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for acc and returns its ID and info.
func (s *Sessions) create(acc auth.Account) (string, SessionInfo) {
	id := randomToken()
	now := s.now()
	se := &session{acc: acc, csrf: randomToken(), created: now, lastUse: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Drop expired sessions here, so the map stays bounded by logins.
	for k, v := range s.m {
		if s.expired(v, now) {
			delete(s.m, k)
		}
	}
	s.m[sha256.Sum256([]byte(id))] = se
	return id, s.info(se)
}

func (s *Sessions) expired(se *session, now time.Time) bool {
	return now.Sub(se.lastUse) > s.idle || now.Sub(se.created) > s.lifetime
}

func (s *Sessions) info(se *session) SessionInfo {
	exp := se.lastUse.Add(s.idle)
	if end := se.created.Add(s.lifetime); end.Before(exp) {
		exp = end
	}
	return SessionInfo{Name: se.acc.Name, Role: se.acc.Role, CSRF: se.csrf, Expires: exp.UTC()}
}

// lookup returns the live session of r's cookie, refreshing its idle timer.
func (s *Sessions) lookup(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return nil, false
	}
	key := sha256.Sum256([]byte(ck.Value))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[key]
	if !ok {
		return nil, false
	}
	if s.expired(se, now) {
		delete(s.m, key)
		return nil, false
	}
	se.lastUse = now
	return se, true
}

// end logs r's session out.
func (s *Sessions) end(r *http.Request) {
	if ck, err := r.Cookie(CookieName); err == nil {
		s.mu.Lock()
		delete(s.m, sha256.Sum256([]byte(ck.Value)))
		s.mu.Unlock()
	}
}

// EndAccount logs every session of an account out (after it is disabled,
// removed or its password changed).
func (s *Sessions) EndAccount(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.acc.Name == name {
			delete(s.m, k)
		}
	}
}

// Authenticate is the API's check of a console session: ok is false when
// r carries no session cookie at all. A request that may change state
// (anything but GET, HEAD and OPTIONS) must carry the session's CSRF token
// in X-CSRF-Token.
func (s *Sessions) Authenticate(r *http.Request) (auth.Caller, bool, error) {
	if _, err := r.Cookie(CookieName); err != nil {
		return auth.Caller{}, false, nil
	}
	se, ok := s.lookup(r)
	if !ok {
		return auth.Caller{}, true, auth.ErrSession
	}
	if !safeMethod(r.Method) && !checkCSRF(se, r) {
		return auth.Caller{}, true, auth.ErrCSRF
	}
	return se.acc.Caller(), true, nil
}

func checkCSRF(se *session, r *http.Request) bool {
	got := r.Header.Get(CSRFHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
