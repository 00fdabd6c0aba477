package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/contracttest"
)

// jarless returns a contract-checking client without a cookie jar: every
// cookie a test sends is one it names, and every Set-Cookie is its to read.
func (e *env) jarless() *http.Client {
	return &http.Client{Transport: &contracttest.Transport{TB: e.t, Base: e.transport}}
}

// setCookies parses every Set-Cookie header of r.
func setCookies(t *testing.T, r response) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, line := range r.header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("unparsable Set-Cookie %q: %v", line, err)
		}
		out = append(out, ck)
	}
	return out
}

// clearsRecoveryCookie reports whether r deletes the (dev-mode) recovery cookie.
func clearsRecoveryCookie(t *testing.T, r response) bool {
	t.Helper()
	for _, ck := range setCookies(t, r) {
		// ParseSetCookie reads "Max-Age=0" as MaxAge -1.
		if ck.Name == recoveryCookieName && ck.MaxAge < 0 && ck.Value == "" {
			return true
		}
	}
	return false
}

func withCookie(name, value string) []string { return []string{"Cookie", name + "=" + value} }

// A reset on a recovery whose code was not verified is refused for that
// reason before the new password is looked at: a weak password must not turn
// the answer into weak_password (which would also mean the policy, and
// possibly the hasher, ran for a caller who proved nothing).
func TestResetOnAPendingRecoveryIsRefusedBeforeThePolicy(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		for _, email := range []string{makerEmail, "nobody@oms.example"} {
			c, _ := e.newClient()
			expect(t, e.post(c, "/api/auth/recovery/start", map[string]string{"email": email}), 200, "")
			for _, pw := range []string{"short", "baseball1", email, strings.Repeat("x", 257), "a-strong-enough-password-3"} {
				expect(t, e.post(c, "/api/auth/recovery/reset-password", map[string]string{"password": pw}), 401, "code_not_verified")
			}
		}
		// The pending session survived the refusals.
		c, _ := e.newClient()
		expect(t, e.post(c, "/api/auth/recovery/start", map[string]string{"email": traderEmail}), 200, "")
		code := e.recoveryCode(traderEmail, seen)
		expect(t, e.post(c, "/api/auth/recovery/reset-password", map[string]string{"password": "short"}), 401, "code_not_verified")
		expect(t, e.post(c, "/api/auth/recovery/verify", map[string]string{"code": code}), 200, "")
		e.login(nil, traderEmail, traderPass) // unchanged
	})
}

// With the production cookie setting every recovery Set-Cookie carries
// Secure: the session cookie of start and verify, and the clearing ones of a
// reset and of errors. (The cookie's name is not asserted: a Secure cookie
// may carry a __Secure- prefix.)
func TestRecoveryCookiesAreSecureInProduction(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, func(c *cli.Config) { c.CookieSecure = true })
		c := e.jarless()
		seen := map[string]bool{}
		// one returns the single recovery Set-Cookie of r, checked for Secure.
		one := func(step string, r response) *http.Cookie {
			t.Helper()
			cks := setCookies(t, r)
			if len(cks) != 1 {
				t.Fatalf("%s: %d Set-Cookie headers, want 1: %q", step, len(cks), r.header.Values("Set-Cookie"))
			}
			if !cks[0].Secure {
				t.Errorf("%s: cookie without Secure: %s", step, r.header.Get("Set-Cookie"))
			}
			if !cks[0].HttpOnly || cks[0].SameSite != http.SameSiteStrictMode {
				t.Errorf("%s: cookie without HttpOnly or SameSite=Strict: %s", step, r.header.Get("Set-Cookie"))
			}
			return cks[0]
		}

		send := func(step, path string, body any, ck *http.Cookie, status int, code string) *http.Cookie {
			t.Helper()
			var hdr []string
			if ck != nil {
				hdr = withCookie(ck.Name, ck.Value)
			}
			r := e.post(c, path, body, hdr...)
			expect(t, r, status, code)
			return one(step, r)
		}
		const start, verify, reset = "/api/auth/recovery/start", "/api/auth/recovery/verify", "/api/auth/recovery/reset-password"

		// The happy path: start, verify, reset.
		started := send("start", start, map[string]string{"email": makerEmail}, nil, 200, "")
		code := e.recoveryCode(makerEmail, seen)
		verified := send("verify", verify, map[string]string{"code": code}, started, 200, "")
		if verified.Name != started.Name || verified.Value == started.Value {
			t.Fatalf("verify: cookie %s=%s after %s=%s", verified.Name, verified.Value, started.Name, started.Value)
		}
		if ck := send("reset (clearing)", reset, map[string]string{"password": "secure-cookie-pass-42"}, verified, 200, ""); ck.MaxAge >= 0 {
			t.Errorf("reset must clear the cookie: %+v", ck)
		}

		// Errors that end the recovery session clear the cookie, Secure too.
		for step, ck := range map[string]*http.Cookie{
			"verify without a cookie": nil,
			"verify, consumed cookie": verified,
		} {
			if got := send(step, verify, map[string]string{"code": "123456"}, ck, 401, "recovery_session_missing"); got.MaxAge >= 0 {
				t.Errorf("%s must clear the cookie: %+v", step, got)
			}
		}
		if got := send("reset without a cookie", reset, map[string]string{"password": "secure-cookie-pass-43"}, nil, 401, "recovery_session_missing"); got.MaxAge >= 0 {
			t.Errorf("reset without a cookie must clear the cookie: %+v", got)
		}
		dying := send("start again", start, map[string]string{"email": makerEmail}, nil, 200, "")
		wrong := "999999"
		if e.recoveryCode(makerEmail, seen) == wrong {
			wrong = "999998"
		}
		for i := 1; i < e.cfg.MaxCodeAttempts; i++ {
			expect(t, e.post(c, verify, map[string]string{"code": wrong}, withCookie(dying.Name, dying.Value)...), 401, "invalid_code")
		}
		send("too many attempts", verify, map[string]string{"code": wrong}, dying, 401, "too_many_attempts")
		expired := send("start once more", start, map[string]string{"email": makerEmail}, nil, 200, "")
		e.clock.Advance(e.cfg.CodeLifespan + time.Second)
		send("expired", verify, map[string]string{"code": wrong}, expired, 401, "recovery_session_expired")
	})
}

// Without trusted proxies, X-Forwarded-For and X-Real-IP are the client's
// word and the throttles ignore them: three failed logins for three
// identifiers, each claiming another address, still hit a per-IP limit of 2.
func TestForwardedForIsIgnoredWithoutTrustedProxies(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, func(c *cli.Config) {
			c.LoginIPLimit.Count = 2
			c.TrustedProxies = nil
		})
		for i, claimed := range []string{"203.0.113.7", "198.51.100.23", "2001:db8:1234::9"} {
			want, code := 401, "invalid_credentials"
			if i == 2 {
				want, code = 429, "too_many_requests"
			}
			email := []string{"a@oms.example", "b@oms.example", "c@oms.example"}[i]
			r := e.post(nil, "/api/auth/login", map[string]string{"identifier": email, "password": "whatever-pass"},
				"X-Forwarded-For", claimed, "X-Real-IP", claimed)
			expect(t, r, want, code)
		}
	})
}

// Answers that end a recovery session delete the cookie: too_many_attempts
// (the attempt that used the last one, and any after it),
// recovery_session_expired (code and verified state) and
// recovery_session_missing (unknown, consumed or absent cookie).
func TestRecoveryErrorsThatEndTheSessionClearTheCookie(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		c := e.jarless()
		seen := map[string]bool{}
		const start, verify, reset = "/api/auth/recovery/start", "/api/auth/recovery/verify", "/api/auth/recovery/reset-password"
		cookieOf := func(r response) string {
			t.Helper()
			for _, ck := range setCookies(t, r) {
				if ck.Name == recoveryCookieName && ck.Value != "" {
					return ck.Value
				}
			}
			t.Fatalf("no recovery cookie set: %q", r.header.Values("Set-Cookie"))
			return ""
		}
		check := func(what string, r response, code string) {
			t.Helper()
			expect(t, r, 401, code)
			if !clearsRecoveryCookie(t, r) {
				t.Errorf("%s (%s) does not clear the recovery cookie: %q", what, code, r.header.Values("Set-Cookie"))
			}
		}
		newRecovery := func() (cookie, code string) {
			t.Helper()
			r := e.post(c, start, map[string]string{"email": makerEmail})
			expect(t, r, 200, "")
			return cookieOf(r), e.recoveryCode(makerEmail, seen)
		}

		// too_many_attempts
		ck, code := newRecovery()
		wrong := "999999"
		if code == wrong {
			wrong = "999998"
		}
		for i := 1; i < e.cfg.MaxCodeAttempts; i++ {
			r := e.post(c, verify, map[string]string{"code": wrong}, withCookie(recoveryCookieName, ck)...)
			expect(t, r, 401, "invalid_code")
			if clearsRecoveryCookie(t, r) {
				t.Fatalf("wrong code %d of %d cleared the cookie", i, e.cfg.MaxCodeAttempts)
			}
		}
		check("last wrong code", e.post(c, verify, map[string]string{"code": wrong}, withCookie(recoveryCookieName, ck)...), "too_many_attempts")
		check("right code after the last", e.post(c, verify, map[string]string{"code": code}, withCookie(recoveryCookieName, ck)...), "too_many_attempts")

		// recovery_session_expired: the code, then the verified state.
		ck, code = newRecovery()
		e.clock.Advance(e.cfg.CodeLifespan + time.Second)
		check("verify after the code expired", e.post(c, verify, map[string]string{"code": code}, withCookie(recoveryCookieName, ck)...), "recovery_session_expired")
		ck, code = newRecovery()
		r := e.post(c, verify, map[string]string{"code": code}, withCookie(recoveryCookieName, ck)...)
		expect(t, r, 200, "")
		verified := cookieOf(r)
		e.clock.Advance(e.cfg.VerifiedLifespan + time.Second)
		check("reset after the verified state expired", e.post(c, reset, map[string]string{"password": "expired-but-strong-9"}, withCookie(recoveryCookieName, verified)...), "recovery_session_expired")

		// recovery_session_missing
		check("verify, unknown cookie", e.post(c, verify, map[string]string{"code": code}, withCookie(recoveryCookieName, "no-such-recovery-session")...), "recovery_session_missing")
		check("reset, unknown cookie", e.post(c, reset, map[string]string{"password": "unknown-but-strong-9"}, withCookie(recoveryCookieName, "no-such-recovery-session")...), "recovery_session_missing")
		check("verify, consumed start cookie", e.post(c, verify, map[string]string{"code": code}, withCookie(recoveryCookieName, ck)...), "recovery_session_missing")
		check("verify, no cookie", e.post(c, verify, map[string]string{"code": code}), "recovery_session_missing")
		check("reset, no cookie", e.post(c, reset, map[string]string{"password": "absent-but-strong-9"}), "recovery_session_missing")
	})
}
