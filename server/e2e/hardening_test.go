package e2e

// End-to-end tests of the security review's findings (issue "Harden the
// authentication host"): each fails on the code before the fix.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/contracttest"
)

// behindProxy makes the loopback peer a trusted proxy, so each request's
// X-Forwarded-For is its client address: many clients from one test.
func behindProxy(c *cli.Config) {
	_, lo, _ := net.ParseCIDR("127.0.0.0/8")
	c.TrustedProxies = []*net.IPNet{lo}
}

func from(ip string) []string { return []string{"X-Forwarded-For", ip} }

func (e *env) loginAs(c *http.Client, email, pw string, headers ...string) response {
	e.t.Helper()
	return e.post(c, "/api/auth/login", map[string]string{"identifier": email, "password": pw}, headers...)
}

// Finding 3: strangers' failures never lock an account. Failures from one
// network lock that network out of the account (strict limit), failures
// from everywhere only slow unknown clients down, and a client that signed
// in before (device cookie, or a network that signed in) is not even slowed.
func TestStrangersCannotLockAnAccountOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, behindProxy, func(c *cli.Config) {
			c.LoginLimit.Count = 3
			c.LoginAccountLimit.Count = 5
			c.LoginSlowdown = 1500 * time.Millisecond
		})
		owner, _ := e.newClient() // keeps its device cookie in its jar
		expect(t, e.loginAs(owner, traderEmail, traderPass, from("198.51.100.7")...), 200, "")

		// Eight strangers' failures from eight networks: past every per-email
		// limit of today (each failure past the limit costs the slowdown).
		for i := range 8 {
			expect(t, e.loginAs(nil, traderEmail, "guess-"+fmt.Sprint(i), from(fmt.Sprintf("203.0.113.%d", i+1))...), 401, "invalid_credentials")
		}
		// The owner, from a new network, with its device cookie: not refused, not slowed.
		began := time.Now()
		expect(t, e.loginAs(owner, traderEmail, traderPass, from("192.0.2.200")...), 200, "")
		if took := time.Since(began); took > time.Second {
			t.Errorf("a known device was slowed down: %s", took)
		}
		// Someone with the right password on a new device and network: slowed, never refused.
		began = time.Now()
		expect(t, e.loginAs(nil, traderEmail, traderPass, from("192.0.2.201")...), 200, "")
		if took := time.Since(began); took < 1500*time.Millisecond {
			t.Errorf("an account under attack must slow unknown clients down: %s", took)
		}
		// A network that signed in before is not slowed either.
		began = time.Now()
		expect(t, e.loginAs(nil, traderEmail, traderPass, from("198.51.100.7")...), 200, "")
		if took := time.Since(began); took > time.Second {
			t.Errorf("a known network was slowed down: %s", took)
		}

		// The strict limit is per (email, network): three failures from one
		// network refuse that network, even with the right password...
		for range 3 {
			expect(t, e.loginAs(nil, makerEmail, "wrong-wrong", from("203.0.113.200")...), 401, "invalid_credentials")
		}
		expect(t, e.loginAs(nil, makerEmail, makerPass, from("203.0.113.200")...), 429, "too_many_requests")
		// ...but not another network, nor the owner's signed-in device on that same network.
		expect(t, e.loginAs(nil, makerEmail, makerPass, from("203.0.113.201")...), 200, "")
		makerDevice, _ := e.newClient()
		expect(t, e.loginAs(makerDevice, makerEmail, makerPass, from("198.51.100.9")...), 200, "")
		for range 3 {
			expect(t, e.loginAs(nil, makerEmail, "wrong-wrong", from("203.0.113.202")...), 401, "invalid_credentials")
		}
		expect(t, e.loginAs(makerDevice, makerEmail, makerPass, from("203.0.113.202")...), 200, "")
	})
}

// Finding 5: per-IP limits count the client's /64 for IPv6 (any host has
// a whole /64), and the address itself for IPv4.
func TestPerIPLimitsCountIPv6Networks(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, behindProxy, func(c *cli.Config) { c.LoginIPLimit.Count = 2 })
		for i := 1; i <= 2; i++ {
			expect(t, e.loginAs(nil, fmt.Sprintf("x%d@oms.example", i), "whatever-pass", from(fmt.Sprintf("2001:db8:1:2::%x", i))...), 401, "invalid_credentials")
		}
		expect(t, e.loginAs(nil, "x3@oms.example", "whatever-pass", from("2001:db8:1:2:ffff:ffff:ffff:ffff")...), 429, "too_many_requests")
		// The next /64 is another network.
		expect(t, e.loginAs(nil, "x4@oms.example", "whatever-pass", from("2001:db8:1:3::1")...), 401, "invalid_credentials")
		// IPv4: the address itself; an IPv4-mapped IPv6 address is the same client.
		for range 2 {
			expect(t, e.loginAs(nil, "y@oms.example", "whatever-pass", from("192.0.2.44")...), 401, "invalid_credentials")
		}
		expect(t, e.loginAs(nil, "z@oms.example", "whatever-pass", from("::ffff:192.0.2.44")...), 429, "too_many_requests")
		expect(t, e.loginAs(nil, "z@oms.example", "whatever-pass", from("192.0.2.45")...), 401, "invalid_credentials")
	})
}

// Finding 4: once a network is refused, its requests create no
// account-keyed throttle state (one Redis key per request before).
func TestRefusedRequestsCreateNoAccountState(t *testing.T) {
	t.Parallel()
	e := start(t, "redis", behindProxy, func(c *cli.Config) {
		c.LoginIPLimit.Count = 2
		c.RecoveryIPLimit.Count = 2
	})
	raw := e.redis.NewClient(t)
	keys := func() []string {
		k, err := raw.Keys(context.Background(), e.cfg.RedisPrefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		// The Streaming API's Centrifuge keys come and go by themselves.
		return slices.DeleteFunc(k, func(key string) bool { return strings.HasPrefix(key, e.cfg.RedisPrefix+"stream") })
	}
	for i := range 3 {
		e.loginAs(nil, fmt.Sprintf("a%d@oms.example", i), "whatever-pass", from("192.0.2.9")...)
		e.post(nil, "/api/auth/recovery/start", map[string]string{"email": fmt.Sprintf("a%d@oms.example", i)}, from("192.0.2.9")...)
	}
	before := keys()
	for i := range 50 {
		expect(t, e.loginAs(nil, fmt.Sprintf("flood%d@oms.example", i), "whatever-pass", from("192.0.2.9")...), 429, "too_many_requests")
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": fmt.Sprintf("flood%d@oms.example", i)}, from("192.0.2.9")...), 429, "too_many_requests")
	}
	if after := keys(); len(after) != len(before) {
		t.Fatalf("100 refused requests created keys: %d before, %d after", len(before), len(after))
	}
}

// Finding 6: wrong codes are counted per address across recovery sessions;
// past the budget no code is mailed and every check is refused.
func TestRecoveryWrongCodeBudgetPerAddress(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		for s := range 2 {
			c, _ := e.newClient()
			expect(t, e.post(c, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
			code := e.recoveryCode(makerEmail, seen)
			wrong := "000000"
			if code == wrong {
				wrong = "000001"
			}
			for i := range 5 {
				r := e.post(c, "/api/auth/recovery/verify", map[string]string{"code": wrong})
				if r.status != 401 {
					t.Fatalf("session %d attempt %d: %d %s", s, i, r.status, r.body)
				}
			}
		}
		mails := e.mailCount()
		c, _ := e.newClient()
		expect(t, e.post(c, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
		r := e.post(c, "/api/auth/recovery/verify", map[string]string{"code": "123456"})
		expect(t, r, 429, "too_many_requests")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		time.Sleep(300 * time.Millisecond) // the mail worker would have sent by now
		if n := e.mailCount(); n != mails {
			t.Fatalf("a code was mailed to an address past its budget (%d mails, before %d)", n, mails)
		}
		// Other addresses are not affected.
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": adminEmail}), 200, "")
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": e.recoveryCode(adminEmail, seen)}), 200, "")
	})
}

// Finding 6: a start from another client never voids the owner's recovery
// once verified; each live recovery has its own code.
func TestStrangersStartsDoNotVoidAVerifiedRecovery(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		owner, _ := e.newClient()
		expect(t, e.post(owner, "/api/auth/recovery/start", map[string]string{"email": traderEmail}), 200, "")
		ownerCode := e.recoveryCode(traderEmail, seen)
		stranger, _ := e.newClient()
		expect(t, e.post(stranger, "/api/auth/recovery/start", map[string]string{"email": traderEmail}), 200, "")
		e.recoveryCode(traderEmail, seen)
		// Both live: the owner's code still works after the stranger's start.
		expect(t, e.post(owner, "/api/auth/recovery/verify", map[string]string{"code": ownerCode}), 200, "")
		for range 3 {
			expect(t, e.post(stranger, "/api/auth/recovery/start", map[string]string{"email": traderEmail}), 200, "")
		}
		expect(t, e.post(owner, "/api/auth/recovery/reset-password", map[string]string{"password": "owner-kept-control-9"}), 200, "")
		e.login(nil, traderEmail, "owner-kept-control-9")
	})
}

// Finding 11: correct logins abandoned by the client before the answer
// never count as failures.
func TestAbandonedCorrectLoginsDoNotLockTheAccount(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, func(c *cli.Config) { c.LoginLimit.Count = 3 })
		body := fmt.Sprintf(`{"identifier":%q,"password":%q}`, traderEmail, traderPass)
		for i := range 8 {
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			time.Sleep(time.Duration(i*10) * time.Millisecond) // cut off at different steps
			_ = conn.Close()
			// One after the other, as a client that keeps timing out would.
			deadline := time.Now().Add(10 * time.Second)
			for strings.Count(e.logs.String(), `"route":"/api/auth/login"`) < i+1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if r := e.loginAs(nil, traderEmail, traderPass); r.status != 200 {
			t.Fatalf("after abandoned correct logins: %d %s\n%s", r.status, r.body, e.logs.String())
		}
		if logs := e.logs.String(); strings.Contains(logs, "rate limit undo failed") || strings.Contains(logs, "upstream_unavailable") {
			t.Fatalf("a client disconnect was blamed on the store:\n%s", logs)
		}
	})
}

// Finding 9: every grant of every user is for admins only.
func TestAllGrantsAreAdminOnly(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	for _, who := range [][2]string{{traderEmail, traderPass}, {makerEmail, makerPass}, {"checker@oms.example", "demo-checker-pass"}} {
		l := e.login(nil, who[0], who[1])
		expect(t, e.do(nil, "GET", "/api/v1/util/admin/permissions", nil, bearer(l.jwt)...), 403, "forbidden")
	}
	admin := e.login(nil, adminEmail, adminPass)
	if r := e.do(nil, "GET", "/api/v1/util/admin/permissions", nil, bearer(admin.jwt)...); r.status == 403 || r.status == 401 {
		t.Fatalf("admin refused: %d %s", r.status, r.body)
	}
}

// Cheap fixes: ambiguous JSON is refused, request ids are ours, unmatched
// paths are not logged, the Secure cookie carries the __Secure- prefix,
// and a saturated hasher answers 503 instead of queueing without end.
func TestAmbiguousJSONIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	for body, want := range map[string]string{
		`{"identifier":"a@b.co","identifier":"admin@oms.example","password":"x"}`: "appears twice",
		`{"identifier":"a@b.co","password":"x"} {"password":"y"}`:                 "after the JSON value",
		"{\"identifier\":\"a@b.co\",\"password\":\"\xff\xfe\"}":                   "UTF-8",
	} {
		m := expect(t, e.post(nil, "/api/auth/login", body), 400, "invalid_request")
		if !strings.Contains(m["message"].(string), want) {
			t.Errorf("%q: message %q lacks %q", body, m["message"], want)
		}
	}
}

func TestRequestIDsAreOursAndUnmatchedPathsAreNotLogged(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	r := e.do(nil, "GET", "/api/v1/util/health", nil, "X-Request-Id", "client-chosen-id")
	id := r.header.Get("X-Request-Id")
	if id == "client-chosen-id" || !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Fatalf("X-Request-Id %q: must be the server's own", id)
	}
	expect(t, e.do(nil, "GET", "/api/v1/nope/secret-in-the-path-42", nil), 404, "not_found")
	e.stop()
	logs := e.logs.String()
	if !strings.Contains(logs, `"request_id":"`+id+`"`) || !strings.Contains(logs, `"client_request_id":"client-chosen-id"`) {
		t.Fatalf("the log must carry our id and the client's beside it:\n%s", logs)
	}
	if strings.Contains(logs, "secret-in-the-path-42") || !strings.Contains(logs, `"route":"<unmatched>"`) {
		t.Fatalf("unmatched paths must be logged as <unmatched> plus their length:\n%s", logs)
	}
}

func TestSecureRecoveryCookieHasTheSecurePrefix(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", func(c *cli.Config) { c.CookieSecure = true })
	noJar, _ := contracttest.Client(t, nil) // cookies sent by hand only
	raw := e.post(noJar, "/api/auth/recovery/start", map[string]string{"email": adminEmail})
	ck := raw.header.Get("Set-Cookie")
	if !strings.HasPrefix(ck, "__Secure-oms_recovery=") || !strings.Contains(ck, "; Secure") {
		t.Fatalf("Set-Cookie %q", ck)
	}
	value := strings.TrimPrefix(strings.Split(ck, ";")[0], "__Secure-oms_recovery=")
	// The server reads the prefixed name (and ignores the bare one).
	expect(t, e.post(noJar, "/api/auth/recovery/verify", map[string]string{"code": "000000"}, "Cookie", "oms_recovery="+value), 401, "recovery_session_missing")
	m := e.post(noJar, "/api/auth/recovery/verify", map[string]string{"code": "000000"}, "Cookie", "__Secure-oms_recovery="+value)
	if m.status != 401 || !strings.Contains(string(m.body), "attempt(s) left") {
		t.Fatalf("the prefixed cookie was not read: %d %s", m.status, m.body)
	}
	l := e.loginAs(noJar, makerEmail, makerPass)
	if dc := l.header.Values("Set-Cookie"); len(dc) != 1 || !strings.HasPrefix(dc[0], "__Secure-oms_device=") || !strings.Contains(dc[0], "Path=/api/auth/login") {
		t.Fatalf("device cookie %q", dc)
	}
}

func TestSaturatedHasherAnswers503(t *testing.T) {
	e := start(t, "memory", func(c *cli.Config) {
		c.HashConcurrency = 1
		c.HashWait = time.Millisecond
		c.HashMemoryKiB, c.HashTime = 19456, 2 // hashes that take long enough to queue
	})
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := e.newClient()
			r := e.loginAs(c, adminEmail, "not-the-password")
			if r.status == 503 && (r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "service_busy")) {
				t.Errorf("503 without Retry-After or code: %v %s", r.header, r.body)
			}
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[503] == 0 || statuses[401]+statuses[503] != 8 {
		t.Fatalf("statuses %v: want some 503 service_busy, the rest 401", statuses)
	}
}
