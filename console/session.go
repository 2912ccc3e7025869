package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/tokens"
)

// session is one signed-in auditor, as a request sees it. The cookie holds
// a random value; the store keeps only its SHA-256 (key), so a lookup
// compares no secret and a copy of the table opens no session.
type session struct {
	key                 [sha256.Size]byte
	TokenID, Role, Name string
	csrf                string
}

// CanChange reports whether the session may change statuses and resolve
// incidents (the auditor role; an admin reads only, as in the API).
func (s *session) CanChange() bool { return s.Role == tokens.RoleAuditor }

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: the idle timeout is kept to that precision
// without a write on every page.
const touchEvery = time.Second

// randomString returns n random bytes, base64url.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfOf is the CSRF token of the session whose cookie value is id: derived
// from the cookie's secret (another site can neither read the cookie nor
// compute it), so no node has to store it.
func csrfOf(id string) string {
	sum := sha256.Sum256([]byte("agentcert console csrf\x00" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sessionKey is the store's key of the session whose cookie value is id.
func sessionKey(id string) []byte {
	k := sha256.Sum256([]byte(id))
	return k[:]
}

// ended reports whether a stored session is past its idle or absolute
// expiry at now.
func (c *Console) ended(s records.ConsoleSession, now time.Time) bool {
	return now.Sub(s.SeenAt) >= c.o.IdleTimeout || now.Sub(s.CreatedAt) >= c.o.MaxAge
}

// createSession stores a session for tok, with the sign-in's audit entry,
// and returns the cookie value.
func (c *Console) createSession(ctx context.Context, tok records.Token, now time.Time, a records.AuditEntry) (string, error) {
	id := randomString(32)
	rec := records.ConsoleSession{Key: sessionKey(id), TokenID: tok.ID, TokenHash: tok.Hash, CreatedAt: now, SeenAt: now}
	err := c.o.Store.CreateConsoleSession(ctx, rec, c.o.MaxSessions, now.Add(-c.o.IdleTimeout), now.Add(-c.o.MaxAge), &a)
	if errors.Is(err, records.ErrSessionLimit) {
		return "", errcode.New(errcode.RateLimited, "too many console sessions are open; try again later")
	}
	if err != nil {
		return "", fmt.Errorf("console: sign in: %w", err)
	}
	return id, nil
}

// dropSession forgets a session that ended; a failure only leaves it to
// the next sign-in's clean-up, since it is refused anyway.
func (c *Console) dropSession(ctx context.Context, key []byte) {
	if err := c.o.Store.DeleteConsoleSession(ctx, key, nil); err != nil {
		c.o.Logger.WarnContext(ctx, "console: forget an ended session", "err", err)
	}
}

// cookieName is the session cookie's name: with the __Host- prefix over
// https, so that the browser keeps it to this host and path /.
func (c *Console) cookieName(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

const (
	sessionCookie = "agentcert_console"
	signinCookie  = "agentcert_signin"
)

func (c *Console) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: c.cookieName(base), Value: value, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	} else {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// current returns the request's live session, or nil and why there is
// none ("" when no session was presented). The token is looked up again:
// a revoked or deleted token ends the session.
func (c *Console) current(r *http.Request) (*session, string, error) {
	ck, err := r.Cookie(c.cookieName(sessionCookie))
	if err != nil || ck.Value == "" {
		return nil, "", nil
	}
	ctx, now := r.Context(), c.o.Now()
	key := sha256.Sum256([]byte(ck.Value))
	rec, err := c.o.Store.ConsoleSession(ctx, key[:])
	if errors.Is(err, records.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("console: session: %w", err)
	}
	if c.ended(rec, now) {
		c.dropSession(ctx, key[:])
		return nil, "expired", nil
	}
	tok, err := c.o.Store.TokenByHash(ctx, rec.TokenHash)
	if errors.Is(err, records.ErrNotFound) || (err == nil && (tok.RevokedAt != nil || tok.ID != rec.TokenID)) {
		c.dropSession(ctx, key[:])
		return nil, "revoked", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("console: session token: %w", err)
	}
	if now.Sub(rec.SeenAt) >= touchEvery {
		err := c.o.Store.TouchConsoleSession(ctx, key[:], now)
		switch {
		case errors.Is(err, records.ErrNotFound):
			return nil, "", nil // signed out on another node meanwhile
		case err != nil:
			// Reading stays possible while the storage refuses writes;
			// the idle timeout then counts from the last write.
			c.o.Logger.WarnContext(ctx, "console: note session activity", "err", err)
		}
	}
	if c.o.Authenticated != nil {
		c.o.Authenticated(r, tok.ID, tok.Role)
	}
	return &session{key: key, TokenID: tok.ID, Role: tok.Role, Name: tok.Name, csrf: csrfOf(ck.Value)}, "", nil
}

// handler is a page handler of a signed-in session.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn returns the request's session, or answers the request (sent
// to sign in, or an error) and returns nil.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) *session {
	s, why, err := c.current(r)
	if err != nil {
		c.fail(w, r, nil, err)
		return nil
	}
	if s == nil {
		c.toSignin(w, r, why)
	}
	return s
}

// read serves h to a signed-in session; others are sent to sign in.
func (c *Console) read(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := c.signedIn(w, r); s != nil {
			h(w, r, s)
		}
	})
}

func (c *Console) toSignin(w http.ResponseWriter, r *http.Request, why string) {
	q := url.Values{}
	if why != "" {
		q.Set("ended", why)
	}
	if r.Method == http.MethodGet && r.URL.Path != "/console" {
		q.Set("next", r.URL.RequestURI())
	}
	seeOther(w, r, "/console/signin", q)
}

// change serves h to a signed-in session for a form posted from this
// origin with the session's CSRF token.
func (c *Console) change(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.signedIn(w, r)
		if s == nil {
			return
		}
		if err := c.checkForm(r, s.csrf); err != nil {
			c.fail(w, r, s, err)
			return
		}
		h(w, r, s)
	})
}

// checkForm parses the posted form and checks where it comes from and its
// CSRF token against want.
func (c *Console) checkForm(r *http.Request, want string) error {
	if err := c.sameOrigin(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return errcode.New(errcode.InvalidInput, "the form could not be read")
	}
	got := r.PostForm.Get("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errcode.New(errcode.Forbidden, "the form's CSRF token is missing or wrong; reload the page and try again")
	}
	return nil
}

// sameOrigin refuses a request a browser says came from another site.
func (c *Console) sameOrigin(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" {
		want := c.origin
		if want == "" {
			want = "//" + r.Host
			o = strings.TrimPrefix(strings.TrimPrefix(o, "http:"), "https:")
		}
		if o != want {
			return errcode.New(errcode.Forbidden, "the form was posted from another origin")
		}
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errcode.New(errcode.Forbidden, "the form was posted from another site")
	}
	return nil
}

// auditorOnly refuses a change to a session without the auditor role.
func (c *Console) auditorOnly(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		if !s.CanChange() {
			c.fail(w, r, s, errcode.New(errcode.Forbidden, "a %s token reads the console only; changes need an auditor token", s.Role))
			return
		}
		h(w, r, s)
	}
}

// endedNotice is what the sign-in page says about a session that ended.
var endedNotice = map[string]string{
	"expired": "Your session expired. Sign in again.",
	"revoked": "Your session ended: its token was revoked.",
	"signout": "You are signed out.",
}

func (c *Console) signinForm(w http.ResponseWriter, r *http.Request) {
	if s, _, err := c.current(r); err == nil && s != nil {
		seeOther(w, r, "/console", nil)
		return
	}
	c.showSignin(w, r, http.StatusOK, "", endedNotice[r.URL.Query().Get("ended")])
}

type signinData struct{ Next string }

// showSignin renders the sign-in form with a fresh sign-in CSRF token.
func (c *Console) showSignin(w http.ResponseWriter, r *http.Request, status int, errMsg, notice string) {
	nonce := randomString(32)
	c.setCookie(w, signinCookie, nonce, 10*time.Minute)
	c.render(w, r, status, "signin", view{Title: "Sign in", CSRF: nonce, Error: errMsg, Notice: notice, Data: signinData{Next: safeNext(r.FormValue("next"))}})
}

// safeNext keeps a redirect target inside the console: a path (and query)
// on this host under /console, without dot segments, which would lead the
// browser out of it (/console/../v1/...), written plain or percent-encoded.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return ""
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return ""
		}
	}
	return next
}

// refuseSignin shows the sign-in form again with err.
func (c *Console) refuseSignin(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := c.explain(r, err)
	c.showSignin(w, r, status, msg, "")
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	want := ""
	if ck, err := r.Cookie(c.cookieName(signinCookie)); err == nil {
		want = ck.Value
	}
	if err := c.checkForm(r, want); err != nil {
		c.refuseSignin(w, r, err)
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	if secret == "" {
		c.refuseSignin(w, r, errcode.New(errcode.InvalidInput, "Enter an API token."))
		return
	}
	tok, err := c.o.Store.TokenByHash(r.Context(), tokens.Hash(secret))
	if errors.Is(err, records.ErrNotFound) || (err == nil && tok.RevokedAt != nil) {
		c.o.Logger.InfoContext(r.Context(), "console: sign-in refused", "reason", "unknown or revoked token")
		c.refuseSignin(w, r, errcode.New(errcode.Unauthorized, "Unknown or revoked token."))
		return
	}
	if err != nil {
		c.refuseSignin(w, r, err)
		return
	}
	if tok.Role != tokens.RoleAuditor && tok.Role != tokens.RoleAdmin {
		c.o.Logger.InfoContext(r.Context(), "console: sign-in refused", "reason", "role", "token_id", tok.ID, "role", tok.Role)
		c.refuseSignin(w, r, errcode.New(errcode.Forbidden, "A %s token cannot sign in to the console; use an auditor or admin token.", tok.Role))
		return
	}
	now := c.o.Now().UTC()
	id, err := c.createSession(r.Context(), tok, now, records.AuditEntry{Time: now, Actor: tok.ID, Action: "console.signin", Target: tok.ID,
		Details: records.AuditDetails(r.Context(), map[string]any{"role": tok.Role})})
	if err != nil {
		c.refuseSignin(w, r, err)
		return
	}
	c.setCookie(w, signinCookie, "", 0)
	c.setCookie(w, sessionCookie, id, c.o.MaxAge)
	next := safeNext(r.PostForm.Get("next"))
	if next == "" {
		next = "/console"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, s *session) {
	c.setCookie(w, sessionCookie, "", 0)
	now := c.o.Now().UTC()
	if err := c.o.Store.DeleteConsoleSession(r.Context(), s.key[:], &records.AuditEntry{Time: now, Actor: s.TokenID, Action: "console.signout", Target: s.TokenID,
		Details: records.AuditDetails(r.Context(), nil)}); err != nil {
		// The browser forgets the cookie, but the session stays valid
		// until it expires: say so rather than claim a sign-out.
		c.fail(w, r, nil, fmt.Errorf("console: sign out: %w", err))
		return
	}
	seeOther(w, r, "/console/signin", url.Values{"ended": {"signout"}})
}
