package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/auth"
)

// Redis stopped mid-test: auth routes answer 502 upstream_unavailable within
// the configured timeout, health reports it, the process stays up, and
// everything works again once Redis is back.
func TestRedisOutageAnswers502AndRecovers(t *testing.T) {
	e := start(t, "redis")
	l := e.login(nil, adminEmail, adminPass)
	e.redis.Stop()

	began := time.Now()
	expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": adminPass}), 502, "upstream_unavailable")
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("502 took %s; the store timeout is %s", took, e.cfg.StoreTimeout)
	}
	expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": adminEmail}), 502, "upstream_unavailable")
	expect(t, e.do(nil, "GET", "/api/auth/session", nil, "X-Session-Token", l.token), 502, "upstream_unavailable")
	m := expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw", nil, bearer(l.jwt)...), 502, "upstream_unavailable")
	if m["status"] != float64(502) {
		t.Fatalf("bearer route 502 not in the util envelope: %v", m)
	}
	expect(t, e.do(nil, "GET", "/api/v1/util/health", nil), 503, "")
	expect(t, e.do(nil, "GET", "/api/v1/oms/health", nil), 503, "")

	e.redis.Start()
	// This redis keeps nothing on disk: the restarted one is empty, so put
	// an identity back the way an operator would, then use it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.do(nil, "GET", "/api/v1/util/health", nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health did not recover: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := e.app.Identities.CreateIdentity(context.Background(), auth.NewIdentity{
		Email: "back@oms.example", Password: "back-again-password-1", Roles: []string{"trader"}}); err != nil {
		t.Fatal(err)
	}
	back := e.login(nil, "back@oms.example", "back-again-password-1")
	expect(t, e.do(nil, "GET", "/api/v1/orders/risk/rules", nil, bearer(back.jwt)...), 200, "")
	expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": adminEmail}), 200, "")
}

// A hung Redis (accepting connections, answering nothing) must not hang
// requests: they answer 502 within the store timeout.
func TestHungRedisAnswers502InTime(t *testing.T) {
	e := start(t, "redis")
	e.login(nil, adminEmail, adminPass)
	e.redis.Pause()
	defer e.redis.Resume()
	began := time.Now()
	expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": adminPass}), 502, "upstream_unavailable")
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("502 took %s with a store timeout of %s", took, e.cfg.StoreTimeout)
	}
	e.redis.Resume()
	deadline := time.Now().Add(5 * time.Second)
	for e.do(nil, "GET", "/api/v1/util/health", nil).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after the hang")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.login(nil, adminEmail, adminPass)
}
