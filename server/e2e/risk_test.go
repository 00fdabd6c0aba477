package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/store"
)

const (
	demoAn   = "099C000001" // workflow.DemoAccountAn
	demoBinh = "099C000002" // workflow.DemoAccountBinh
)

// list reads a route that answers a bare JSON array.
func (e *env) list(t *testing.T, path, jwt string) []map[string]any {
	t.Helper()
	r := e.do(nil, "GET", path, nil, bearer(jwt)...)
	if r.status != 200 {
		t.Fatalf("GET %s: status %d: %s", path, r.status, r.body)
	}
	var out []map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil || out == nil {
		t.Fatalf("GET %s: not a JSON array: %q", path, r.body)
	}
	return out
}

// asJSON renders v canonically (sorted keys) for comparisons.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// putAccount writes an account (and grants on it) straight into the store,
// as a workflow apply would, so a test can have an account nobody is
// granted on.
func (e *env) putAccount(t *testing.T, a store.Account, grants ...store.Grant) {
	t.Helper()
	_, err := e.app.Store.UpdateBackOffice(context.Background(), func(tx store.BackOfficeTx) error {
		if err := tx.PutAccount(a); err != nil {
			return err
		}
		for _, g := range grants {
			if err := tx.PutGrant(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newUser creates an identity holding no grant and logs it in.
func (e *env) newUser(t *testing.T, email string, roles ...string) login {
	t.Helper()
	pw := "risk-test-password-" + strings.Split(email, "@")[0]
	if _, err := e.app.Identities.CreateIdentity(context.Background(), auth.NewIdentity{Email: email, Password: pw, Roles: roles}); err != nil {
		t.Fatal(err)
	}
	return e.login(nil, email, pw)
}

// The demo accounts as the risk engine shows them, exact to the cent.
const wantDemoRiskAccounts = `[` +
	`{"account_id":"099C000001","bypass_cash":false,"bypass_stock":false,"cash_available":1000000000,"cash_hold":0,"holdings":[` +
	`{"avg_price":120000,"hold_qty":0,"omsd_pending":[],"omsd_pending_qty":0,"sellable_qty":10000,"symbol":"VN000000FPT1"},` +
	`{"avg_price":65500,"hold_qty":0,"omsd_pending":[],"omsd_pending_qty":0,"sellable_qty":5000,"symbol":"VN000000VNM8"}],"omsd_cash_pending":0,"omsd_cash_pending_due":[]},` +
	`{"account_id":"099C000002","bypass_cash":false,"bypass_stock":false,"cash_available":250000000.5,"cash_hold":0,"holdings":[` +
	`{"avg_price":27350,"hold_qty":0,"omsd_pending":[],"omsd_pending_qty":0,"sellable_qty":20000,"symbol":"VN000000HPG4"}],"omsd_cash_pending":0,"omsd_cash_pending_due":[]}]`

const wantDemoMappings = `[` +
	`{"account_code":"099C000001","account_type":1,"client_code":"099C000001","comp_id":"VOS","email":"an.nguyen@example.vn",` +
	`"forn_invest_type_code":"00","internal_client_code":"099C000001","invest_code":"8000","is_mm_account":false,` +
	`"name":"Nguyen Van An","phone":"+84901000001","sender_sub_id":"00991"},` +
	`{"account_code":"099C000002","account_type":1,"client_code":"099C000002","comp_id":"VOS","email":"binh.tran@example.vn",` +
	`"forn_invest_type_code":"00","internal_client_code":"099C000002","invest_code":"8000","is_mm_account":false,` +
	`"name":"Tran Thi Binh","phone":"+84901000002","sender_sub_id":"00991"}]`

// Every demo identity (each holds a grant on both demo accounts, at VIEW,
// TRADE or ADMIN) sees both, with the seeded cash and holdings; the single
// reads answer the same records.
func TestRiskAccountsAndMappingsDemoData(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		trader := e.login(nil, traderEmail, traderPass)

		r := e.do(nil, "GET", "/api/v1/oms/risk/accounts", nil, bearer(trader.jwt)...)
		if r.status != 200 || !bytes.Contains(r.body, []byte(`"cash_available":250000000.5`)) {
			t.Fatalf("risk accounts: %d %s", r.status, r.body)
		}
		accts := e.list(t, "/api/v1/oms/risk/accounts", trader.jwt)
		if got := asJSON(t, accts); got != wantDemoRiskAccounts {
			t.Fatalf("risk accounts:\n got %s\nwant %s", got, wantDemoRiskAccounts)
		}
		maps := e.list(t, "/api/v1/oms/admin/mappings", trader.jwt)
		if got := asJSON(t, maps); got != wantDemoMappings {
			t.Fatalf("mappings:\n got %s\nwant %s", got, wantDemoMappings)
		}
		for i, code := range []string{demoAn, demoBinh} {
			one := expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(trader.jwt)...), 200, "")
			if asJSON(t, one) != asJSON(t, accts[i]) {
				t.Fatalf("risk account %s: %v, want %v", code, one, accts[i])
			}
			m := expect(t, e.do(nil, "GET", "/api/v1/oms/admin/mappings/"+code, nil, bearer(trader.jwt)...), 200, "")
			if asJSON(t, m) != asJSON(t, maps[i]) {
				t.Fatalf("mapping %s: %v, want %v", code, m, maps[i])
			}
		}
		for _, who := range [][2]string{{adminEmail, adminPass}, {makerEmail, makerPass}, {checkerEmail, checkerPass}} {
			l := e.login(nil, who[0], who[1])
			if got := asJSON(t, e.list(t, "/api/v1/oms/risk/accounts", l.jwt)); got != wantDemoRiskAccounts {
				t.Fatalf("%s risk accounts: %s", who[0], got)
			}
			if got := asJSON(t, e.list(t, "/api/v1/oms/admin/mappings", l.jwt)); got != wantDemoMappings {
				t.Fatalf("%s mappings: %s", who[0], got)
			}
		}
	})
}

// Grants gate account data for every role: an account the caller holds no
// grant on is absent from the lists and 404 on the single reads, answered
// exactly as an account that does not exist; granting it makes it visible.
func TestRiskAccountsAndMappingsScopedByGrants(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		trader := e.login(nil, traderEmail, traderPass)
		now := e.clock.Now()
		hidden := store.Account{AccountCode: "099C000009", Name: "Le Van Cuong", InternalClientCode: "099C000009",
			ClientCode: "099C000009", CompID: "VOSX", AccountType: 1, InvestCode: "8000", FornInvestTypeCode: "00",
			SenderSubID: "00992", Email: "cuong.le@example.vn", Phone: "+84901000009",
			CashAvailable: decimal.RequireFromString("123456789.01"), CashHold: decimal.RequireFromString("1000.5"),
			BypassCash: true, Holdings: []store.Holding{{Symbol: "VN000000MWG3", SellableQty: 300, HoldQty: 200,
				AvgPrice: decimal.RequireFromString("45678.9")}}, CreatedAt: now, UpdatedAt: now}
		e.putAccount(t, hidden)

		for _, path := range []string{"/api/v1/oms/risk/accounts", "/api/v1/oms/admin/mappings"} {
			if got := e.list(t, path, trader.jwt); len(got) != 2 {
				t.Fatalf("%s: the trader sees %d accounts, want the 2 granted: %v", path, len(got), got)
			}
		}
		// 404 in the OmsError envelope, the same body for an account that
		// exists without a grant and one that does not exist at all.
		for _, path := range []string{"/api/v1/oms/risk/accounts/", "/api/v1/oms/admin/mappings/"} {
			ungranted := e.do(nil, "GET", path+hidden.AccountCode, nil, bearer(trader.jwt)...)
			absent := e.do(nil, "GET", path+"099C999999", nil, bearer(trader.jwt)...)
			nf := expect(t, ungranted, 404, "not_found")
			expect(t, absent, 404, "not_found")
			if _, ok := nf["status"]; ok || nf["isSuccess"] != nil || nf["message"] == "" {
				t.Fatalf("%s: 404 not in the OmsError envelope: %v", path, nf)
			}
			if a, b := strings.ReplaceAll(string(ungranted.body), hidden.AccountCode, "X"), strings.ReplaceAll(string(absent.body), "099C999999", "X"); a != b {
				t.Fatalf("%s: no grant answers %s, absent answers %s", path, ungranted.body, absent.body)
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "Retry-After"} {
				if ungranted.header.Get(h) != absent.header.Get(h) {
					t.Fatalf("%s: header %s differs: %q vs %q", path, h, ungranted.header.Get(h), absent.header.Get(h))
				}
			}
		}

		// An identity without grants sees nothing, whatever its role.
		for _, u := range []struct{ email, role string }{{"nogrant.admin@oms.example", "admin"}, {"nogrant.trader@oms.example", "trader"}} {
			l := e.newUser(t, u.email, u.role)
			for _, path := range []string{"/api/v1/oms/risk/accounts", "/api/v1/oms/admin/mappings"} {
				if got := e.list(t, path, l.jwt); len(got) != 0 {
					t.Fatalf("%s (%s) sees %v on %s", u.email, u.role, got, path)
				}
			}
			for _, code := range []string{demoAn, hidden.AccountCode} {
				expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(l.jwt)...), 404, "not_found")
				expect(t, e.do(nil, "GET", "/api/v1/oms/admin/mappings/"+code, nil, bearer(l.jwt)...), 404, "not_found")
			}
		}

		// A VIEW grant on the hidden account shows it, and only it, with its
		// exact values.
		viewer := e.newUser(t, "viewer@oms.example", "trader")
		e.putAccount(t, hidden, store.Grant{UserID: "viewer@oms.example", AccountCode: hidden.AccountCode,
			Level: store.LevelView, GrantedBy: adminEmail, CreatedAt: now, UpdatedAt: now})
		want := `[{"account_id":"099C000009","bypass_cash":true,"bypass_stock":false,"cash_available":123456789.01,"cash_hold":1000.5,` +
			`"holdings":[{"avg_price":45678.9,"hold_qty":200,"omsd_pending":[],"omsd_pending_qty":0,"sellable_qty":300,"symbol":"VN000000MWG3"}],"omsd_cash_pending":0,"omsd_cash_pending_due":[]}]`
		if got := asJSON(t, e.list(t, "/api/v1/oms/risk/accounts", viewer.jwt)); got != want {
			t.Fatalf("viewer risk accounts:\n got %s\nwant %s", got, want)
		}
		one := expect(t, e.do(nil, "GET", "/api/v1/oms/admin/mappings/"+hidden.AccountCode, nil, bearer(viewer.jwt)...), 200, "")
		if one["name"] != "Le Van Cuong" || one["comp_id"] != "VOSX" || one["sender_sub_id"] != "00992" {
			t.Fatalf("viewer mapping: %v", one)
		}
		expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+demoAn, nil, bearer(viewer.jwt)...), 404, "not_found")
	})
}

// The rules in force: the demo seeds one OMS rule and one order rule; a
// fresh store has none (empty lists, never null).
func TestRiskRules(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		trader := e.login(nil, traderEmail, traderPass)
		rules := e.list(t, "/api/v1/oms/risk/rules", trader.jwt)
		if got, want := asJSON(t, rules), `[{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","value":0}]`; got != want {
			t.Fatalf("OMS rules: %s, want %s", got, want)
		}
		or := expect(t, e.do(nil, "GET", "/api/v1/orders/risk/rules", nil, bearer(trader.jwt)...), 200, "")
		if got, want := asJSON(t, or), `{"data":[{"kind":"ORDER_BLOCK_TRADE_MARKET_ALL","match":"UPX","scope":"SYSTEM","target":"*","value":0}],"detail":"","isSuccess":true}`; got != want {
			t.Fatalf("order rules: %s, want %s", got, want)
		}

		bare := start(t, kind)
		l := bare.login(nil, traderEmail, traderPass)
		if r := bare.do(nil, "GET", "/api/v1/oms/risk/rules", nil, bearer(l.jwt)...); r.status != 200 || string(bytes.TrimSpace(r.body)) != "[]" {
			t.Fatalf("no OMS rules: %d %s", r.status, r.body)
		}
		or = expect(t, bare.do(nil, "GET", "/api/v1/orders/risk/rules", nil, bearer(l.jwt)...), 200, "")
		if got, want := asJSON(t, or), `{"data":[],"detail":"","isSuccess":true}`; got != want {
			t.Fatalf("no order rules: %s, want %s", got, want)
		}
	})
}

var riskRoutes = []string{
	"/api/v1/oms/admin/mappings",
	"/api/v1/oms/admin/mappings/" + demoAn,
	"/api/v1/oms/risk/accounts",
	"/api/v1/oms/risk/accounts/" + demoAn,
	"/api/v1/oms/risk/rules",
	"/api/v1/orders/risk/rules",
}

// Any authenticated user may call (no role in the contract's prose);
// without a bearer token it is 401 in the route group's envelope.
func TestRiskRoutesNeedABearer(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", withDemoData)
	for _, path := range riskRoutes {
		m := expect(t, e.do(nil, "GET", path, nil), 401, "unauthorized")
		if strings.HasPrefix(path, "/api/v1/orders/") != (m["isSuccess"] == false) {
			t.Fatalf("%s: 401 not in the route group's envelope: %v", path, m)
		}
	}
	for _, who := range [][2]string{{adminEmail, adminPass}, {makerEmail, makerPass}, {checkerEmail, checkerPass}, {traderEmail, traderPass}} {
		l := e.login(nil, who[0], who[1])
		for _, path := range riskRoutes {
			if r := e.do(nil, "GET", path, nil, bearer(l.jwt)...); r.status != 200 {
				t.Fatalf("%s as %s: %d %s", path, who[0], r.status, r.body)
			}
		}
	}
}

// Redis stopped: the /oms/* risk reads answer 503 upstream_unavailable in
// the OmsError envelope (with Retry-After), /orders/risk/rules 502 in its
// own, all within the store timeout; they work again once Redis is back.
func TestRiskStoreDownAnswers503(t *testing.T) {
	e := start(t, "redis", withDemoData)
	trader := e.login(nil, traderEmail, traderPass)
	for _, path := range riskRoutes {
		if r := e.do(nil, "GET", path, nil, bearer(trader.jwt)...); r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
	}
	e.redis.Stop()
	for _, path := range riskRoutes {
		began := time.Now()
		r := e.do(nil, "GET", path, nil, bearer(trader.jwt)...)
		if took := time.Since(began); took > 3*time.Second {
			t.Fatalf("%s: answered after %s; the store timeout is %s", path, took, e.cfg.StoreTimeout)
		}
		if strings.HasPrefix(path, "/api/v1/orders/") {
			m := expect(t, r, 502, "upstream_unavailable")
			if m["isSuccess"] != false || m["detail"] == "" {
				t.Fatalf("%s: 502 not in the RestErrorResponse envelope: %v", path, m)
			}
			continue
		}
		m := expect(t, r, 503, "upstream_unavailable")
		if _, ok := m["status"]; ok || m["isSuccess"] != nil || m["message"] == "" {
			t.Fatalf("%s: 503 not in the OmsError envelope: %v", path, m)
		}
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%s: 503 without Retry-After", path)
		}
	}
	e.redis.Start()
	deadline := time.Now().Add(5 * time.Second)
	for e.do(nil, "GET", "/api/v1/util/health", nil).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("health did not recover")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The restarted redis keeps nothing: a new identity, no grants, no rules.
	back := e.newUser(t, "back.risk@oms.example", "trader")
	if got := e.list(t, "/api/v1/oms/risk/accounts", back.jwt); len(got) != 0 {
		t.Fatalf("after the restart: %v", got)
	}
	expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+demoAn, nil, bearer(back.jwt)...), 404, "not_found")
}
