package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/token"
)

func TestLoginSessionRefreshAndLogout(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		l := e.login(nil, " Admin@OMS.example ", adminPass) // identifiers are normalised
		tok, err := jwt.ParseInsecure([]byte(l.jwt))
		if err != nil {
			t.Fatal(err)
		}
		claims, _ := tok.AsMap(t.Context())
		for _, c := range []string{"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "email", "roles"} {
			if _, ok := claims[c]; !ok {
				t.Errorf("JWT lacks claim %q", c)
			}
		}
		if claims["sid"] != l.sid || claims["email"] != adminEmail || tok.Expiration().Sub(tok.IssuedAt()) != 15*time.Minute {
			t.Errorf("claims: %v", claims)
		}
		m := expect(t, e.do(nil, "GET", "/api/auth/session", nil, "X-Session-Token", l.token), 200, "")
		fresh := m["tokenized"].(string)
		if fresh == "" || m["id"] != l.sid {
			t.Fatalf("whoami: %v", m)
		}
		// The refreshed JWT verifies against the published JWKS.
		jwks := e.do(nil, "GET", "/.well-known/jwks.json", nil)
		set, err := jwk.Parse(jwks.body)
		if err != nil || set.Len() != 1 {
			t.Fatalf("jwks: %v %s", err, jwks.body)
		}
		if _, err := jwt.Parse([]byte(fresh), jwt.WithKeySet(set), jwt.WithValidate(false)); err != nil {
			t.Fatalf("refreshed JWT does not verify against JWKS: %v", err)
		}
		expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw", nil, bearer(fresh)...), 200, "")
		expect(t, e.post(nil, "/api/auth/logout", nil, "X-Session-Token", l.token), 204, "")
		// Revocation is immediate for the session token and every JWT of it.
		expect(t, e.do(nil, "GET", "/api/auth/session", nil, "X-Session-Token", l.token), 401, "unauthorized")
		expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw", nil, bearer(fresh)...), 401, "unauthorized")
		expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw", nil, bearer(l.jwt)...), 401, "unauthorized")
		expect(t, e.post(nil, "/api/auth/logout", nil, "X-Session-Token", l.token), 401, "unauthorized")
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		wrong := e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": "not-the-password"})
		unknown := e.post(nil, "/api/auth/login", map[string]string{"identifier": "ghost@oms.example", "password": "not-the-password"})
		expect(t, wrong, 401, "invalid_credentials")
		if string(wrong.body) != string(unknown.body) || wrong.status != unknown.status {
			t.Fatalf("wrong password %s vs unknown email %s", wrong.body, unknown.body)
		}
		// A disabled identity gets the same answer even with the right password.
		if _, err := e.app.Identities.DisableIdentity(t.Context(), traderEmail); err != nil {
			t.Fatal(err)
		}
		disabled := e.post(nil, "/api/auth/login", map[string]string{"identifier": traderEmail, "password": traderPass})
		if string(disabled.body) != string(wrong.body) {
			t.Fatalf("disabled %s vs wrong %s", disabled.body, wrong.body)
		}
	})
}

func TestThrottlesAnswer429WithRetryAfter(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, func(c *cli.Config) {
			c.LoginLimit.Count = 3
			c.RecoveryLimit.Count = 2
		})
		for i := 0; i < 3; i++ {
			expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": "wrong-password"}), 401, "invalid_credentials")
		}
		r := e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": adminPass})
		expect(t, r, 429, "too_many_requests")
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 15*60 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		// Another identifier is not affected; successful logins do not count.
		for i := 0; i < 5; i++ {
			e.login(nil, makerEmail, makerPass)
		}
		// Recovery starts: per email, unknown addresses alike.
		for _, email := range []string{makerEmail, "nobody@oms.example"} {
			for i := 0; i < 2; i++ {
				expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": email}), 200, "")
			}
			r := e.post(nil, "/api/auth/recovery/start", map[string]string{"email": email})
			expect(t, r, 429, "too_many_requests")
			if r.header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
		}
	})
}

func TestThrottlePerClientIP(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", func(c *cli.Config) { c.LoginIPLimit.Count = 2 })
	for _, email := range []string{"a@oms.example", "b@oms.example"} {
		expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": email, "password": "whatever-pass"}), 401, "invalid_credentials")
	}
	expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": "c@oms.example", "password": "whatever-pass"}), 429, "too_many_requests")
}

// forge signs claims with key, optionally overriding the header.
func forge(t *testing.T, key jwk.Key, alg jwa.SignatureAlgorithm, claims map[string]any, kid string) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	_ = hdr.Set(jws.TypeKey, "JWT")
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func b64(v any) string {
	j, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(j)
}

func TestBearerRejectsTamperedTokens(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		l := e.login(nil, adminEmail, adminPass)
		const route = "/api/v1/util/latency/raw"
		expect(t, e.do(nil, "GET", route, nil, bearer(l.jwt)...), 200, "")

		parsed, err := jwt.ParseInsecure([]byte(l.jwt))
		if err != nil {
			t.Fatal(err)
		}
		claims, _ := parsed.AsMap(t.Context())
		now := e.clock.Now().Unix()
		good := func(over map[string]any) map[string]any {
			c := map[string]any{}
			for k, v := range claims {
				c[k] = v
			}
			c["iat"], c["nbf"], c["exp"] = now, now, now+600
			for k, v := range over {
				c[k] = v
			}
			return c
		}
		kid := e.key.KeyID()
		// Control: a token we forge with the real key and real claims is accepted,
		// so each rejection below is caused by its one change.
		expect(t, e.do(nil, "GET", route, nil, bearer(forge(t, e.key, jwa.ES256, good(nil), kid))...), 200, "")

		other, _ := token.GenerateKey("ES256")
		pub, _ := e.key.PublicKey()
		pubJSON, _ := json.Marshal(pub)
		mac := hmac.New(sha256.New, pubJSON)
		hsHead := b64(map[string]string{"alg": "HS256", "kid": kid, "typ": "JWT"})
		hsBody := b64(good(nil))
		mac.Write([]byte(hsHead + "." + hsBody))
		hs256 := hsHead + "." + hsBody + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		parts := strings.Split(l.jwt, ".")

		cases := map[string]string{
			"alg none":              b64(map[string]string{"alg": "none", "kid": kid}) + "." + b64(good(nil)) + ".",
			"HS256 with public key": hs256,
			"unknown kid":           forge(t, other, jwa.ES256, good(nil), "no-such-key"),
			"other key, same kid":   forge(t, other, jwa.ES256, good(nil), kid),
			"expired":               forge(t, e.key, jwa.ES256, good(map[string]any{"iat": now - 3600, "nbf": now - 3600, "exp": now - 60}), kid),
			"not yet valid":         forge(t, e.key, jwa.ES256, good(map[string]any{"nbf": now + 600}), kid),
			"wrong issuer":          forge(t, e.key, jwa.ES256, good(map[string]any{"iss": "someone-else"}), kid),
			"wrong audience":        forge(t, e.key, jwa.ES256, good(map[string]any{"aud": "other-api"}), kid),
			"unknown sid":           forge(t, e.key, jwa.ES256, good(map[string]any{"sid": "no-such-session"}), kid),
			"sub of another user":   forge(t, e.key, jwa.ES256, good(map[string]any{"sub": "00000000-0000-4000-8000-000000000000"}), kid),
			"payload tampered":      parts[0] + "." + b64(good(map[string]any{"roles": []string{"admin", "trader"}})) + "." + parts[2],
			"garbage":               "not.a.jwt",
		}
		for name, tok := range cases {
			r := e.do(nil, "GET", route, nil, bearer(tok)...)
			if r.status != 401 {
				t.Errorf("%s: status %d, want 401: %s", name, r.status, r.body)
			}
		}
		expect(t, e.do(nil, "GET", route, nil), 401, "unauthorized")
		expect(t, e.do(nil, "GET", route, nil, "Authorization", "Basic YWRtaW46YWRtaW4="), 401, "unauthorized")

		// Expiry by the clock: the real JWT dies after its 15 minutes.
		e.clock.Advance(16 * time.Minute)
		expect(t, e.do(nil, "GET", route, nil, bearer(l.jwt)...), 401, "unauthorized")
	})
}

func TestRolesAreEnforcedPerOperation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		trader := e.login(nil, traderEmail, traderPass)
		maker := e.login(nil, makerEmail, makerPass)
		// admin only
		m := expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw", nil, bearer(trader.jwt)...), 403, "forbidden")
		if m["status"] != float64(403) {
			t.Fatalf("util envelope: %v", m)
		}
		expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw", nil, bearer(maker.jwt)...), 403, "forbidden")
		// maker or admin
		expect(t, e.post(nil, "/api/v1/util/groups", map[string]any{}, bearer(trader.jwt)...), 403, "forbidden")
		if r := e.post(nil, "/api/v1/util/groups", map[string]any{}, bearer(maker.jwt)...); r.status == 403 || r.status == 401 {
			t.Fatalf("maker refused on a maker route: %d %s", r.status, r.body)
		}
		// no role requirement: any authenticated caller
		expect(t, e.do(nil, "GET", "/api/v1/util/groups", nil, bearer(trader.jwt)...), 200, "")
	})
}

func TestSecretsNeverReachTheLogs(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		seen := map[string]bool{}
		l := e.login(nil, adminEmail, adminPass)
		e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": "wrong-secret-guess"})
		e.do(nil, "GET", "/api/auth/session", nil, "X-Session-Token", l.token)
		e.do(nil, "GET", "/api/v1/util/latency/raw", nil, bearer(l.jwt)...)
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": adminEmail}), 200, "")
		startCookie := e.recoveryCookie(e.client)
		code := e.recoveryCode(adminEmail, seen)
		expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}), 200, "")
		verified := e.recoveryCookie(e.client)
		const newPass = "log-canary-password-31"
		r := expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": newPass}), 200, "")
		e.waitMail(adminEmail, "password was changed", seen)
		e.stop() // flush shutdown logs too
		logs := e.logs.String()
		if !strings.Contains(logs, `"route":"/api/auth/recovery/reset-password"`) {
			t.Fatal("the request log is missing: the test would prove nothing")
		}
		for name, secret := range map[string]string{
			"demo password": adminPass, "wrong password": "wrong-secret-guess", "new password": newPass,
			"session token": l.token, "jwt": l.jwt, "jwt signature": l.jwt[strings.LastIndexByte(l.jwt, '.')+1:],
			"recovery code": code, "start cookie": startCookie, "verified cookie": verified,
			"new session token": r["sessionToken"].(string), "new jwt": r["jwt"].(string),
		} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log contains the %s", name)
			}
		}
	})
}

func TestValidationErrorsAreClearAndInTheRouteEnvelope(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", func(c *cli.Config) { c.MaxBodyBytes = 1024 })
	admin := e.login(nil, adminEmail, adminPass)
	type tc struct {
		method, path, body string
		auth               bool
		status             int
		code, contains     string
	}
	for _, c := range []tc{
		{"POST", "/api/auth/login", `{"identifier":"a@b.co"`, false, 400, "invalid_request", "not valid JSON"},
		{"POST", "/api/auth/login", `{"identifier":"a@b.co"}`, false, 400, "invalid_request", `"password"`},
		{"POST", "/api/auth/login", `{"identifier":"a@b.co","password":"x","extra":1}`, false, 400, "invalid_request", `"extra" is not allowed`},
		{"POST", "/api/auth/login", `{"identifier":5,"password":"x"}`, false, 400, "invalid_request", "identifier"},
		{"POST", "/api/auth/login", "", false, 400, "invalid_request", "required"},
		{"POST", "/api/auth/recovery/start", `{"email":"not-an-email"}`, false, 400, "invalid_request", "email address"},
		{"POST", "/api/auth/recovery/verify", `{"code":""}`, false, 400, "invalid_request", "code"},
		{"POST", "/api/auth/login", `{"identifier":"` + strings.Repeat("a", 2000) + `","password":"x"}`, false, 413, "payload_too_large", "larger than 1024"},
		{"POST", "/api/v1/orders/new", `{"account_id":"A","symbol":"S","side":"B","qty":1,"order_type":"LO","bogus":1}`, true, 400, "invalid_request", `"bogus" is not allowed`},
		{"POST", "/api/v1/orders/new", `{"account_id":"A","symbol":"S","side":"B","qty":1,"order_type":"LO"}`, true, 403, "forbidden", "TRADE grant"},
		{"POST", "/api/v1/orders/new", `{"account_id":"A","symbol":"S","side":"X","qty":1,"order_type":"LO"}`, true, 400, "invalid_request", "side must be B or S"},
		{"GET", "/api/v1/oms/risk/accounts/099C999999", "", true, 404, "not_found", "not found"},
		{"GET", "/api/v1/util/latency/raw?limit=0", "", true, 400, "invalid_request", "limit"},
		{"GET", "/api/v1/nope", "", false, 404, "not_found", ""},
		{"DELETE", "/api/auth/login", "", false, 405, "method_not_allowed", ""},
	} {
		req, _ := http.NewRequest(c.method, e.base+c.path, strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.auth {
			req.Header.Set("Authorization", "Bearer "+admin.jwt)
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s %s: status %d want %d: %s", c.method, c.path, res.StatusCode, c.status, b)
			continue
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if strings.HasPrefix(c.path, "/api/v1/orders/") {
			if m["isSuccess"] != false || m["error"] != c.code {
				t.Errorf("%s: not a RestErrorResponse: %s", c.path, b)
			}
			if !strings.Contains(fmt.Sprint(m["detail"]), c.contains) {
				t.Errorf("%s %s: detail %q lacks %q", c.method, c.path, m["detail"], c.contains)
			}
			continue
		}
		if m["error"] != c.code {
			t.Errorf("%s %s: code %v want %s: %s", c.method, c.path, m["error"], c.code, b)
		}
		if !strings.Contains(fmt.Sprint(m["message"]), c.contains) {
			t.Errorf("%s %s: message %q lacks %q", c.method, c.path, m["message"], c.contains)
		}
		if strings.Contains(string(b), "regular expression") || strings.Contains(string(b), "*errors.") {
			t.Errorf("%s %s: internals leaked: %s", c.method, c.path, b)
		}
	}
}

// Every contract operation is registered through the generated interface:
// none answers 404/405, and every answer is one the contract documents.
func TestEveryContractOperationIsServed(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	admin := e.login(nil, adminEmail, adminPass)
	spec, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			if op.OperationID == "post_api_auth_logout" {
				continue // would end the session the loop uses; TestLoginSessionRefreshAndLogout covers it
			}
			p := path
			for _, seg := range []string{"{requestId}", "{account_code}", "{account_id}"} {
				p = strings.ReplaceAll(p, seg, "x1")
			}
			var body any
			if op.RequestBody != nil {
				body = map[string]any{}
			}
			headers := bearer(admin.jwt)
			headers = append(headers, "X-Session-Token", admin.token)
			r := e.do(nil, method, p, body, headers...)
			// A 404 is fine from an operation that documents one (an
			// unknown or ungranted account), never the router's own.
			routerMiss := r.status == 404 && (op.Responses.Value("404") == nil || strings.Contains(string(r.body), `"Not Found"`))
			if routerMiss || r.status == 405 {
				t.Errorf("%s %s (%s) is not served: %d %s", method, path, op.OperationID, r.status, r.body)
			}
		}
	}
	if n != 52 { // 49 contract operations + jwks, session, logout
		t.Fatalf("%d operations in the overlaid contract, want 52", n)
	}
	if e.check.Checked < n-1 {
		t.Fatalf("only %d responses were contract-checked", e.check.Checked)
	}
}

func TestHealthReportsTheStore(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		expect(t, e.do(nil, "GET", "/api/v1/util/health", nil), 200, "")
		if m := expect(t, e.do(nil, "GET", "/api/v1/orders/healthz", nil), 200, ""); m["isSuccess"] != true {
			t.Fatal(m)
		}
		expect(t, e.do(nil, "GET", "/api/v1/oms/health", nil), 200, "")
	})
}
