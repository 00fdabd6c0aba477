package e2e

import (
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/token"
)

const bearerRoute = "/api/v1/orders/risk/rules" // any authenticated user: 200 after the full bearer check

// cachedJWT logs in and uses the JWT twice, so the second use (and every
// later one) is served from the verified-token cache; it fails the test if
// the cache did not serve it.
func cachedJWT(t *testing.T, e *env, email, pw string) login {
	t.Helper()
	l := e.login(nil, email, pw)
	before := e.app.Tokens.CacheStats()
	for i := 0; i < 2; i++ {
		expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 200, "")
	}
	wantHits(t, e, before, 1)
	return l
}

// wantHits fails unless the cache served exactly n more tokens since before.
func wantHits(t *testing.T, e *env, before token.CacheStats, n uint64) {
	t.Helper()
	if got := e.app.Tokens.CacheStats().Hits - before.Hits; got != n {
		t.Fatalf("verified-token cache hits: %d, want %d", got, n)
	}
}

// TestRevocationBeatsTheTokenCache: the cache skips only the signature
// check; logout, a password reset and disabling the identity refuse a
// cached token on the very next request.
func TestRevocationBeatsTheTokenCache(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)

		t.Run("logout", func(t *testing.T) {
			l := cachedJWT(t, e, adminEmail, adminPass)
			expect(t, e.post(nil, "/api/auth/logout", nil, "X-Session-Token", l.token), 204, "")
			before := e.app.Tokens.CacheStats()
			expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 401, "unauthorized")
			wantHits(t, e, before, 1) // refused by the session check, not by a cache miss
		})

		t.Run("disable", func(t *testing.T) {
			l := cachedJWT(t, e, makerEmail, makerPass)
			if _, err := e.app.Identities.DisableIdentity(t.Context(), makerEmail); err != nil {
				t.Fatal(err)
			}
			before := e.app.Tokens.CacheStats()
			expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 401, "unauthorized")
			wantHits(t, e, before, 1)
		})

		t.Run("reset", func(t *testing.T) {
			l := cachedJWT(t, e, traderEmail, traderPass)
			seen := map[string]bool{}
			c, _ := e.newClient()
			expect(t, e.post(c, "/api/auth/recovery/start", map[string]string{"email": traderEmail}), 200, "")
			code := e.recoveryCode(traderEmail, seen)
			expect(t, e.post(c, "/api/auth/recovery/verify", map[string]string{"code": code}), 200, "")
			// Still good between verify and reset.
			expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 200, "")
			expect(t, e.post(c, "/api/auth/recovery/reset-password", map[string]string{"password": "a-fresh-trader-password-42"}), 200, "")
			before := e.app.Tokens.CacheStats()
			expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 401, "unauthorized")
			wantHits(t, e, before, 1)
		})
	})
}

// TestCachedTokenStillExpires: a cached token is refused once its exp
// (plus the skew) has passed by the server's clock, although its session
// is alive and the cache still holds it.
func TestCachedTokenStillExpires(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		l := cachedJWT(t, e, adminEmail, adminPass)
		e.clock.Advance(e.cfg.JWTTTL + e.cfg.JWTSkew - 2*time.Second)
		expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 200, "")
		e.clock.Advance(2 * time.Second)
		before := e.app.Tokens.CacheStats()
		expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 401, "unauthorized")
		wantHits(t, e, before, 1)
		// The session itself is fine: a refresh gives a token that works.
		m := expect(t, e.do(nil, "GET", "/api/auth/session", nil, "X-Session-Token", l.token), 200, "")
		expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(m["tokenized"].(string))...), 200, "")
	})
}

// TestDroppedKeyRefusesCachedTokens rotates keys on a running deployment
// (Redis keeps the sessions across restarts): a token signed by the old key
// and cached by a server that still has it as the previous key is refused by
// the server started without it.
func TestDroppedKeyRefusesCachedTokens(t *testing.T) {
	t.Parallel()
	a := start(t, "redis")
	l := cachedJWT(t, a, adminEmail, adminPass)
	a.stop()

	oldKey := a.cfg.KeyFile
	newKey, err := token.GenerateKey("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	rotated := func(c *cli.Config) {
		c.RedisURL, c.RedisPrefix, c.DevRedis = a.cfg.RedisURL, a.cfg.RedisPrefix, true
		c.KeyFile = t.TempDir() + "/new.jwk"
		if err := token.WriteKeyFile(c.KeyFile, newKey); err != nil {
			t.Fatal(err)
		}
	}
	b := start(t, "memory", rotated, func(c *cli.Config) { c.PrevKeyFile = oldKey })
	cachedJWTFor(t, b, l.jwt)
	b.stop()

	c := start(t, "memory", rotated)
	expect(t, c.do(nil, "GET", bearerRoute, nil, bearer(l.jwt)...), 401, "unauthorized")
	// A fresh login on the new key works: the refusal is the key, not the session store.
	cachedJWT(t, c, adminEmail, adminPass)
}

// cachedJWTFor uses jwt twice on e and checks the second use was a cache hit.
func cachedJWTFor(t *testing.T, e *env, jwt string) {
	t.Helper()
	before := e.app.Tokens.CacheStats()
	for i := 0; i < 2; i++ {
		expect(t, e.do(nil, "GET", bearerRoute, nil, bearer(jwt)...), 200, "")
	}
	wantHits(t, e, before, 1)
}
