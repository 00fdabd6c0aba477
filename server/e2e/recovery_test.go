package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The whole recovery flow through a real listener and a cookie jar, then
// proof that the reset revoked the old password, session token and JWT.
func TestRecoveryFlowRevokesEverythingOld(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		old := e.login(nil, traderEmail, traderPass)
		// The old JWT works on a bearer route before the reset.
		expect(t, e.do(nil, "GET", "/api/v1/orders/risk/rules", nil, bearer(old.jwt)...), 200, "")

		seen := map[string]bool{}
		r := e.post(nil, "/api/auth/recovery/start", map[string]string{"email": traderEmail})
		if m := expect(t, r, 200, ""); m["status"] != "code_sent" {
			t.Fatalf("start: %s", r.body)
		}
		code := e.recoveryCode(traderEmail, seen)
		startCookie := e.recoveryCookie(e.client)

		r = e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code})
		if m := expect(t, r, 200, ""); m["status"] != "verified" {
			t.Fatalf("verify: %s", r.body)
		}
		verifiedCookie := e.recoveryCookie(e.client)
		if verifiedCookie == "" || verifiedCookie == startCookie {
			t.Fatalf("verify must rotate the recovery cookie (before %q, after %q)", startCookie, verifiedCookie)
		}

		const newPass = "a-fresh-trader-password-42"
		r = e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": newPass})
		m := expect(t, r, 200, "")
		if m["sessionToken"] == "" || m["jwt"] == "" {
			t.Fatalf("reset must sign in: %s", r.body)
		}
		if e.recoveryCookie(e.client) != "" {
			t.Fatal("reset must clear the recovery cookie")
		}
		e.waitMail(traderEmail, "password was changed", seen)

		e.login(nil, traderEmail, newPass)
		expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": traderEmail, "password": traderPass}), 401, "invalid_credentials")
		expect(t, e.do(nil, "GET", "/api/auth/session", nil, "X-Session-Token", old.token), 401, "unauthorized")
		expect(t, e.do(nil, "GET", "/api/v1/oms/risk/rules", nil, bearer(old.jwt)...), 401, "unauthorized")
		// The recovery session is single use: the consumed cookie, re-sent by
		// hand (the jar dropped it), opens nothing.
		expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "yet-another-password-7"}), 401, "recovery_session_missing")
		expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "yet-another-password-7"},
			"Cookie", recoveryCookieName+"="+verifiedCookie), 401, "recovery_session_missing")
		e.login(nil, traderEmail, newPass) // still the password of the one reset
	})
}

// Known and unknown emails must be indistinguishable by status, body,
// cookie shape and mail-side effects visible to the caller.
func TestRecoveryStartDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		known := e.post(nil, "/api/auth/recovery/start", map[string]string{"email": adminEmail})
		c2, _ := e.newClient()
		unknown := e.post(c2, "/api/auth/recovery/start", map[string]string{"email": "nobody@oms.example"})
		if known.status != 200 || unknown.status != 200 || string(known.body) != string(unknown.body) {
			t.Fatalf("known %d %s vs unknown %d %s", known.status, known.body, unknown.status, unknown.body)
		}
		if shape(known.header.Get("Set-Cookie")) != shape(unknown.header.Get("Set-Cookie")) {
			t.Fatalf("cookie shapes differ:\n%s\n%s", known.header.Get("Set-Cookie"), unknown.header.Get("Set-Cookie"))
		}
		ck := known.header.Get("Set-Cookie")
		for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/api/auth/recovery", "Max-Age=600"} {
			if !strings.Contains(ck, attr) {
				t.Errorf("recovery cookie lacks %s: %s", attr, ck)
			}
		}
		// The unknown session behaves like a real one: wrong codes are counted the same way.
		for _, c := range []*http.Client{e.client, c2} {
			r := e.post(c, "/api/auth/recovery/verify", map[string]string{"code": "000000"})
			if r.status != 401 || !strings.Contains(string(r.body), "4 attempt(s) left") {
				t.Fatalf("verify on %s: %d %s", kind, r.status, r.body)
			}
		}
	})
}

// shape is a Set-Cookie header with the value replaced by its length.
func shape(setCookie string) string {
	name, rest, _ := strings.Cut(setCookie, "=")
	val, attrs, _ := strings.Cut(rest, ";")
	return fmt.Sprintf("%s=<%d>;%s", name, len(val), attrs)
}

func TestFiveWrongCodesKillTheSession(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		code := e.recoveryCode(makerEmail, seen)
		cookie := e.recoveryCookie(e.client)
		wrong := "999999"
		if code == wrong {
			wrong = "999998"
		}
		for i := 1; i <= 4; i++ {
			r := expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": wrong}), 401, "invalid_code")
			if !strings.Contains(r["message"].(string), fmt.Sprintf("%d attempt(s) left", 5-i)) {
				t.Fatalf("attempt %d: %v", i, r["message"])
			}
		}
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": wrong}), 401, "too_many_attempts")
		if e.recoveryCookie(e.client) != "" {
			t.Fatal("too_many_attempts must clear the recovery cookie")
		}
		// Dead: the right code no longer helps, even with the cookie re-sent by
		// hand (the jar no longer has it, so it goes in a header).
		r := e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}, "Cookie", recoveryCookieName+"="+cookie)
		expect(t, r, 401, "too_many_attempts")
	})
}

func TestExpiredCodeAndExpiredVerifiedState(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		code := e.recoveryCode(makerEmail, seen)
		e.clock.Advance(10*time.Minute + time.Second)
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}), 401, "recovery_session_expired")

		// A fresh start, verified in time, then the verified state lapses.
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		code = e.recoveryCode(makerEmail, seen)
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}), 200, "")
		e.clock.Advance(10*time.Minute + time.Second)
		expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "late-but-strong-pass-1"}), 401, "recovery_session_expired")
		e.login(nil, makerEmail, makerPass) // unchanged
	})
}

func TestResetNeedsVerifiedCookie(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "strong-password-99"}), 401, "recovery_session_missing")
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": "123456"}), 401, "recovery_session_missing")
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "strong-password-99"}), 401, "code_not_verified")
	})
}

func TestWeakPasswordsAreRefusedWithAReason(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": e.recoveryCode(makerEmail, seen)}), 200, "")
		for pw, reason := range map[string]string{
			"short":                  "at least 8",
			"baseball1":              "too common",
			"maker@oms.example":      "email",
			"maker":                  "at least 8",
			strings.Repeat("x", 257): "at most 256",
			"Maker@OMS.example ":     "email",
			"qwertyuiop":             "too common",
			strings.Repeat("ü", 7):   "at least 8",
		} {
			r := e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": pw})
			if r.status != 400 {
				t.Fatalf("password %.20q accepted: %d", pw, r.status)
			}
			m := expect(t, r, 400, "weak_password")
			if !strings.Contains(m["message"].(string), reason) {
				t.Errorf("password %.20q: message %q lacks %q", pw, m["message"], reason)
			}
		}
		// The verified session survived the refusals.
		expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "finally-a-good-one-7"}), 200, "")
	})
}

// ≥16 concurrent requests with the right code and then with the verified
// cookie: exactly one of each succeeds.
func TestVerifyAndResetAreSingleUseUnderConcurrency(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		code := e.recoveryCode(makerEmail, seen)
		cookie := e.recoveryCookie(e.client)

		const n = 16
		race := func(path, body string, cookie string) (ok int, cookies []string) {
			var mu sync.Mutex
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, _ := e.newClient()
					req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.AddCookie(&http.Cookie{Name: recoveryCookieName, Value: cookie})
					<-gate
					res, err := c.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					_ = res.Body.Close()
					mu.Lock()
					defer mu.Unlock()
					if res.StatusCode == 200 {
						ok++
						for _, ck := range res.Cookies() {
							if ck.Name == recoveryCookieName {
								cookies = append(cookies, ck.Value)
							}
						}
					} else if res.StatusCode != 401 {
						t.Errorf("%s: unexpected status %d", path, res.StatusCode)
					}
				}()
			}
			close(gate)
			wg.Wait()
			return ok, cookies
		}
		ok, cookies := race("/api/auth/recovery/verify", fmt.Sprintf(`{"code":%q}`, code), cookie)
		if ok != 1 || len(cookies) != 1 {
			t.Fatalf("concurrent verify: %d successes, want exactly 1", ok)
		}
		ok, _ = race("/api/auth/recovery/reset-password", `{"password":"concurrent-winner-pass-1"}`, cookies[0])
		if ok != 1 {
			t.Fatalf("concurrent reset: %d successes, want exactly 1", ok)
		}
		e.login(nil, makerEmail, "concurrent-winner-pass-1")
	})
}

// Two recoveries stay live per address, each with its own code: a second
// start does not void the first, a third voids the older pending one.
func TestStartsKeepTwoLiveRecoveries(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		first := e.recoveryCode(makerEmail, seen)
		c2, _ := e.newClient()
		expect(t, e.post(c2, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		second := e.recoveryCode(makerEmail, seen)
		c3, _ := e.newClient()
		expect(t, e.post(c3, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		e.recoveryCode(makerEmail, seen)
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": first}), 401, "recovery_session_missing")
		expect(t, e.post(c2, "/api/auth/recovery/verify", map[string]string{"code": second}), 200, "")
	})
}
