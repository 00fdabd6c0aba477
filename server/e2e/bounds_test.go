package e2e

import (
	"strings"
	"testing"
)

// Quantities and amounts are bounded where they enter: a workflow request
// or an order beyond the bound is a 400 naming the field, so no holding or
// balance can ever wrap (ADD_STOCK of 9223372036854775807 used to be
// approved and wrapped the holding negative).
func TestQuantitiesAndAmountsAreBounded(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		maker := e.login(nil, makerEmail, makerPass).jwt
		tr := e.login(nil, traderEmail, traderPass).jwt
		for _, c := range []struct {
			typ, field string
			payload    map[string]any
		}{
			{"ADD_STOCK", "payload.quantity", map[string]any{"account_id": accountAn, "symbol": "VN000000FPT1", "quantity": int64(9223372036854775807)}},
			{"ADD_STOCK", "payload.avg_price", map[string]any{"account_id": accountAn, "symbol": "VN000000FPT1", "quantity": 1, "avg_price": 1e13}},
			{"DEPOSIT", "payload.amount", map[string]any{"account_id": accountAn, "amount": 1e16}},
			{"WITHDRAW", "payload.amount", map[string]any{"account_id": accountAn, "amount": 1e16}},
			{"REMOVE_STOCK", "payload.quantity", map[string]any{"account_id": accountAn, "symbol": "VN000000FPT1", "quantity": int64(1) << 62}},
		} {
			r := e.post(nil, "/api/v1/util/requests", map[string]any{"request_type": c.typ, "payload": c.payload}, bearer(maker)...)
			m := expect(t, r, 400, "invalid_request")
			if msg, _ := m["message"].(string); !strings.Contains(msg, c.field+" must be at most") {
				t.Fatalf("%s beyond the bound: %v", c.typ, m)
			}
		}
		for _, body := range []map[string]any{
			{"account_id": accountAn, "symbol": "FPT", "side": "B", "qty": int64(9223372036854775807), "order_type": "LO", "price": "100000"},
			{"account_id": accountAn, "symbol": "FPT", "side": "B", "qty": 100, "order_type": "LO", "price": "1000000000000.5"},
		} {
			r := e.post(nil, "/api/v1/orders/new", body, bearer(tr)...)
			if r.status != 400 || !strings.Contains(string(r.body), "must be at most") {
				t.Fatalf("order beyond the bound: %d %s", r.status, r.body)
			}
		}
		if got := e.do(nil, "GET", "/api/v1/util/orders?account_id="+accountAn, nil, bearer(tr)...); !strings.Contains(string(got.body), `"orders":[]`) {
			t.Fatalf("a refused order was stored: %s", got.body)
		}
	})
}

// Nobody grants themselves power: a maker (or admin) granting itself a
// level answers 403 self_grant and nothing is stored; granting someone
// else still works.
func TestSelfGrantIsRefused(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		for _, who := range []struct{ email, pass string }{{makerEmail, makerPass}, {adminEmail, adminPass}} {
			jwt := e.login(nil, who.email, who.pass).jwt
			for _, user := range []string{who.email, strings.ToUpper(who.email)} {
				r := e.post(nil, "/api/v1/util/admin/permissions", map[string]any{"user_id": user, "account_code": accountAn, "level": "TRADE"}, bearer(jwt)...)
				expect(t, r, 403, "self_grant")
			}
		}
		maker := e.login(nil, makerEmail, makerPass).jwt
		mine := expect(t, e.do(nil, "GET", "/api/v1/util/permissions", nil, bearer(maker)...), 200, "")
		if strings.Contains(asJSON(t, mine), `"TRADE"`) {
			t.Fatalf("a refused self-grant was stored: %v", mine)
		}
		expect(t, e.post(nil, "/api/v1/util/admin/permissions", map[string]any{"user_id": checkerEmail, "account_code": accountAn, "level": "VIEW"}, bearer(maker)...), 200, "")
	})
}

// Workflow requests are back-office records: maker, checker and admin see
// them; a trader (whatever its grants) does not.
func TestWorkflowRequestsAreForTheBackOffice(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		maker := e.login(nil, makerEmail, makerPass).jwt
		req := expect(t, e.post(nil, "/api/v1/util/requests", map[string]any{"request_type": "DEPOSIT",
			"payload": map[string]any{"account_id": accountAn, "amount": 5}}, bearer(maker)...), 200, "")
		id := asJSON(t, req["id"])
		for _, who := range []struct {
			email, pass string
			status      int
		}{{makerEmail, makerPass, 200}, {checkerEmail, checkerPass, 200}, {adminEmail, adminPass, 200}, {traderEmail, traderPass, 403}} {
			jwt := e.login(nil, who.email, who.pass).jwt
			code := ""
			if who.status == 403 {
				code = "forbidden"
			}
			expect(t, e.do(nil, "GET", "/api/v1/util/requests", nil, bearer(jwt)...), who.status, code)
			expect(t, e.do(nil, "GET", "/api/v1/util/requests/"+id, nil, bearer(jwt)...), who.status, code)
		}
	})
}
