package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/traffic"
)

// TestRecordedTrafficValidates records a valid walk through the API (the
// README's curl session: sign in, refresh, a bearer route, keys, recovery,
// sign out) as a HAR and checks that `omsd validate` passes it: the traffic
// tool agrees with the server on good traffic. OMSD_UPDATE_TESTDATA=1
// rewrites server/cli/testdata/e2e-valid.har from the recording.
func TestRecordedTrafficValidates(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	rec := &traffic.Recorder{Base: e.check.Base}
	e.check.Base = rec

	expect(t, e.do(nil, "GET", "/api/v1/util/health", nil), 200, "")
	expect(t, e.do(nil, "GET", "/.well-known/jwks.json", nil), 200, "")
	l := e.login(nil, traderEmail, traderPass)
	expect(t, e.do(nil, "GET", "/api/auth/session", nil, "X-Session-Token", l.token), 200, "")
	expect(t, e.do(nil, "GET", "/api/v1/util/groups", nil, bearer(l.jwt)...), 200, "")
	expect(t, e.do(nil, "GET", "/api/v1/util/orders?symbol=ABC&limit=10", nil, bearer(l.jwt)...), 200, "")
	admin := e.login(nil, adminEmail, adminPass)
	expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw?limit=5", nil, bearer(admin.jwt)...), 200, "")
	expect(t, e.post(nil, "/api/auth/logout", nil, "X-Session-Token", admin.token), 204, "")

	seen := map[string]bool{}
	expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": traderEmail}), 200, "")
	code := e.recoveryCode(traderEmail, seen)
	expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}), 200, "")
	expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "a-brand-new-password-7"}), 200, "")
	expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": traderEmail, "password": "a-brand-new-password-7"}), 200, "")

	if rec.Len() != 13 {
		t.Fatalf("recorded %d exchanges, want 13", rec.Len())
	}
	har := filepath.Join(t.TempDir(), "traffic.har")
	if err := rec.WriteFile(har); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := cli.Main(context.Background(), []string{"validate", har}, nil, &out, &out); code != 0 {
		t.Fatalf("omsd validate on valid traffic: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "13 exchanges checked, 0 with violations") {
		t.Fatalf("summary:\n%s", out.String())
	}
	if os.Getenv("OMSD_UPDATE_TESTDATA") == "1" {
		b, err := os.ReadFile(har)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../cli/testdata/e2e-valid.har", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestValidatorSaysWhatTheServerSays sends invalid requests to the real
// server and hands the same requests, with the server's answers, to
// server.Validator: it must flag each with the server's own message, and
// accept each answer as documented.
func TestValidatorSaysWhatTheServerSays(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", func(c *cli.Config) { c.MaxBodyBytes = 1024 })
	v, err := server.NewValidator(1024)
	if err != nil {
		t.Fatal(err)
	}
	admin := e.login(nil, adminEmail, adminPass)
	for _, c := range []struct {
		method, path, body string
		auth               bool
	}{
		{"POST", "/api/auth/login", `{"identifier":"a@b.co"`, false},
		{"POST", "/api/auth/login", `{"identifier":"a@b.co"}`, false},
		{"POST", "/api/auth/login", `{"identifier":"a@b.co","password":"x","extra":1}`, false},
		{"POST", "/api/auth/login", `{"identifier":5,"password":"x"}`, false},
		{"POST", "/api/auth/login", "", false},
		{"POST", "/api/auth/recovery/start", `{"email":"not-an-email"}`, false},
		{"POST", "/api/auth/recovery/verify", `{"code":""}`, false},
		{"POST", "/api/auth/login", `{"identifier":"` + strings.Repeat("a", 2000) + `","password":"x"}`, false},
		{"POST", "/api/v1/orders/new", `{"account_id":"A","symbol":"S","side":"B","qty":1,"order_type":"LO","bogus":1}`, true},
		{"GET", "/api/v1/util/latency/raw?limit=0", "", true},
		{"GET", "/api/v1/util/groups", "", false},
	} {
		var headers []string
		if c.body != "" {
			headers = append(headers, "Content-Type", "application/json")
		}
		if c.auth {
			headers = append(headers, bearer(admin.jwt)...)
		}
		var body any
		if c.body != "" {
			body = c.body
		}
		r := e.do(nil, c.method, c.path, body, headers...)
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
		said := fmt.Sprint(m["message"])
		if strings.HasPrefix(c.path, "/api/v1/orders/") {
			said = fmt.Sprint(m["detail"])
		}
		h := http.Header{}
		for i := 0; i+1 < len(headers); i += 2 {
			h.Set(headers[i], headers[i+1])
		}
		verdict := v.Check(context.Background(), server.Exchange{Method: c.method, Target: c.path, Header: h, Body: []byte(c.body),
			Status: r.status, ResponseHeader: r.header, ResponseBody: r.body})
		if len(verdict.Problems) != 1 || verdict.Problems[0] != said {
			t.Errorf("%s %s: server said %d %q; validator found %q", c.method, c.path, r.status, said, verdict.Problems)
		}
	}
}
