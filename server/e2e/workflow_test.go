package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// wfID is a request's id as the path wants it.
func wfID(t *testing.T, r map[string]any) string {
	t.Helper()
	id, ok := r["id"].(float64)
	if !ok || id <= 0 {
		t.Fatalf("request without an id: %v", r)
	}
	return fmt.Sprint(int64(id))
}

// fileRequest has jwt file a request and returns it (PENDING).
func (e *env) fileRequest(t *testing.T, jwt, requestType string, payload any) map[string]any {
	t.Helper()
	r := expect(t, e.post(nil, "/api/v1/util/requests", map[string]any{"request_type": requestType, "payload": payload}, bearer(jwt)...), 200, "")
	if r["status"] != "PENDING" || r["request_type"] != requestType || r["created_at"] == nil {
		t.Fatalf("filed %s: %v", requestType, r)
	}
	return r
}

// requestTrail lists "ACTION by actor" of every audit entry naming request
// id, oldest first.
func (e *env) requestTrail(t *testing.T, jwt, id string) []string {
	t.Helper()
	es := e.auditEntries(t, jwt, "limit=1000")
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		if fmt.Sprint(es[i]["request_id"]) == id {
			out = append(out, fmt.Sprintf("%s by %s", es[i]["action"], es[i]["actor"]))
		}
	}
	return out
}

// The walk-through on the workflow alone: a maker files
// CREATE_ACCOUNT, DEPOSIT, ADD_STOCK and GRANT_PERMISSION, a checker
// approves each (APPLIED), the audit names the right actor for every step;
// a withdrawal of more than is there fails and writes no cash change.
func TestWorkflowWalkThrough(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		maker := e.login(nil, makerEmail, makerPass)
		checker := e.login(nil, checkerEmail, checkerPass)
		const code = "099C7E2E77"
		steps := []struct {
			typ, change string
			payload     any
		}{
			{"CREATE_ACCOUNT", "ACCOUNT_CREATED", map[string]any{
				"account_code": code, "name": "Le Van Cuong", "internal_client_code": code, "client_code": code,
				"comp_id": "VOS", "account_type": 1, "invest_code": "8000", "forn_invest_type_code": "00",
				"is_mm_account": false, "sender_sub_id": "00991", "email": "cuong@example.vn", "phone": "+84901000003",
			}},
			{"DEPOSIT", "CASH_DEPOSITED", map[string]any{"account_id": code, "amount": json.Number("1000000.05")}},
			{"ADD_STOCK", "STOCK_ADDED", map[string]any{"account_id": code, "symbol": "VN000000FPT1", "quantity": 300, "avg_price": json.Number("118500")}},
			{"GRANT_PERMISSION", "PERMISSION_GRANTED", map[string]any{"user_id": traderEmail, "account_code": code, "level": "TRADE"}},
		}
		for _, s := range steps {
			r := e.fileRequest(t, maker.jwt, s.typ, s.payload)
			if r["requested_by"] != makerEmail {
				t.Fatalf("requested_by: %v", r)
			}
			id := wfID(t, r)
			got := expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/approve", map[string]any{"note": "checked"}, bearer(checker.jwt)...), 200, "")
			if got["status"] != "APPLIED" || got["reviewed_by"] != checkerEmail || got["review_note"] != "checked" ||
				got["reviewed_at"] == nil || got["applied_at"] == nil || got["apply_error"] != nil {
				t.Fatalf("%s approved: %v", s.typ, got)
			}
			again := expect(t, e.do(nil, "GET", "/api/v1/util/requests/"+id, nil, bearer(maker.jwt)...), 200, "")
			if again["status"] != "APPLIED" || fmt.Sprint(again["payload"]) != fmt.Sprint(got["payload"]) {
				t.Fatalf("%s read back: %v", s.typ, again)
			}
			want := []string{"REQUEST_CREATED by " + makerEmail, "REQUEST_APPROVED by " + checkerEmail,
				s.change + " by " + checkerEmail, "REQUEST_APPLIED by " + checkerEmail}
			if trail := e.requestTrail(t, checker.jwt, id); fmt.Sprint(trail) != fmt.Sprint(want) {
				t.Fatalf("%s audit: %v, want %v", s.typ, trail, want)
			}
		}
		// The deposit entry carries the exact amount and balance.
		deps := e.auditEntries(t, checker.jwt, "action=CASH_DEPOSITED&entity_id="+code)
		if len(deps) != 1 {
			t.Fatalf("deposit entries: %v", deps)
		}
		if d, _ := deps[0]["detail"].(map[string]any); d["amount"] != "1000000.05" || d["cash_available_after"] != "1000000.05" {
			t.Fatalf("deposit detail: %v", deps[0])
		}

		// Withdrawing more than is there fails; nothing of it is written.
		failed := e.fileRequest(t, maker.jwt, "WITHDRAW", map[string]any{"account_id": code, "amount": json.Number("1000000.06")})
		fid := wfID(t, failed)
		got := expect(t, e.post(nil, "/api/v1/util/requests/"+fid+"/approve", map[string]any{}, bearer(checker.jwt)...), 200, "")
		if got["status"] != "FAILED" || !strings.Contains(fmt.Sprint(got["apply_error"]), "insufficient cash") || got["applied_at"] == nil {
			t.Fatalf("withdraw too much: %v", got)
		}
		if trail := e.requestTrail(t, checker.jwt, fid); fmt.Sprint(trail) != fmt.Sprint([]string{
			"REQUEST_CREATED by " + makerEmail, "REQUEST_APPROVED by " + checkerEmail, "REQUEST_FAILED by " + checkerEmail}) {
			t.Fatalf("failed withdrawal audit: %v", trail)
		}
		if ws := e.auditEntries(t, checker.jwt, "action=CASH_WITHDRAWN&entity_id="+code); len(ws) != 0 {
			t.Fatalf("a withdrawal was recorded: %v", ws)
		}
		// An exact withdrawal then succeeds.
		ok := e.fileRequest(t, maker.jwt, "WITHDRAW", map[string]any{"account_id": code, "amount": json.Number("0.05")})
		got = expect(t, e.post(nil, "/api/v1/util/requests/"+wfID(t, ok)+"/approve", map[string]any{}, bearer(checker.jwt)...), 200, "")
		if got["status"] != "APPLIED" {
			t.Fatalf("withdraw 0.05: %v", got)
		}
		ws := e.auditEntries(t, checker.jwt, "action=CASH_WITHDRAWN&entity_id="+code)
		if d, _ := ws[0]["detail"].(map[string]any); len(ws) != 1 || d["cash_available_after"] != "1000000" {
			t.Fatalf("withdrawal entry: %v", ws)
		}

		// The list: newest first, filters.
		l := expect(t, e.do(nil, "GET", "/api/v1/util/requests?requested_by="+makerEmail+"&limit=2", nil, bearer(maker.jwt)...), 200, "")
		rs, _ := l["requests"].([]any)
		if len(rs) != 2 || wfID(t, rs[0].(map[string]any)) != wfID(t, ok) || wfID(t, rs[1].(map[string]any)) != fid {
			t.Fatalf("newest two: %v", l)
		}
		l = expect(t, e.do(nil, "GET", "/api/v1/util/requests?status=FAILED", nil, bearer(checker.jwt)...), 200, "")
		if rs, _ := l["requests"].([]any); len(rs) != 1 || wfID(t, rs[0].(map[string]any)) != fid {
			t.Fatalf("failed ones: %v", l)
		}
		l = expect(t, e.do(nil, "GET", "/api/v1/util/requests?request_type=DEPOSIT&offset=1", nil, bearer(checker.jwt)...), 200, "")
		if rs, _ := l["requests"].([]any); len(rs) != 0 {
			t.Fatalf("deposits past the first: %v", l)
		}
	})
}

// Four eyes, who may cancel, states, roles, unknown ids, refused payloads.
func TestWorkflowRules(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		maker := e.login(nil, makerEmail, makerPass)
		checker := e.login(nil, checkerEmail, checkerPass)
		admin := e.login(nil, adminEmail, adminPass)
		trader := e.login(nil, traderEmail, traderPass)
		deposit := map[string]any{"account_id": "099C000001", "amount": 5}

		// Roles: a trader files nothing, reviews nothing; a checker files nothing.
		expect(t, e.post(nil, "/api/v1/util/requests", map[string]any{"request_type": "DEPOSIT", "payload": deposit}, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/requests", map[string]any{"request_type": "DEPOSIT", "payload": deposit}, bearer(checker.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/requests", map[string]any{"request_type": "DEPOSIT", "payload": deposit}), 401, "")

		r := e.fileRequest(t, maker.jwt, "DEPOSIT", deposit)
		id := wfID(t, r)
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/approve", map[string]any{}, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/approve", map[string]any{}, bearer(maker.jwt)...), 403, "forbidden") // role
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/cancel", nil, bearer(checker.jwt)...), 403, "forbidden")             // role
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/cancel", nil, bearer(admin.jwt)...), 403, "forbidden")               // not the requester
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/reject", map[string]any{"note": "no"}, bearer(checker.jwt)...), 200, "")
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/approve", map[string]any{}, bearer(admin.jwt)...), 409, "invalid_state")
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/reject", map[string]any{}, bearer(admin.jwt)...), 409, "invalid_state")
		expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/cancel", nil, bearer(maker.jwt)...), 409, "invalid_state")
		got := expect(t, e.do(nil, "GET", "/api/v1/util/requests/"+id, nil, bearer(maker.jwt)...), 200, "")
		if got["status"] != "REJECTED" || got["reviewed_by"] != checkerEmail || got["review_note"] != "no" {
			t.Fatalf("rejected: %v", got)
		}

		// Four eyes for admins too: their own request needs someone else.
		own := e.fileRequest(t, admin.jwt, "DEPOSIT", deposit)
		oid := wfID(t, own)
		expect(t, e.post(nil, "/api/v1/util/requests/"+oid+"/approve", map[string]any{}, bearer(admin.jwt)...), 403, "same_user_review")
		expect(t, e.post(nil, "/api/v1/util/requests/"+oid+"/reject", map[string]any{}, bearer(admin.jwt)...), 403, "same_user_review")
		c := expect(t, e.post(nil, "/api/v1/util/requests/"+oid+"/cancel", nil, bearer(admin.jwt)...), 200, "")
		if c["status"] != "CANCELLED" {
			t.Fatalf("cancelled: %v", c)
		}
		// A maker's own request, approved by an admin (allowed), then final.
		m := e.fileRequest(t, maker.jwt, "DEPOSIT", deposit)
		mid := wfID(t, m)
		if a := expect(t, e.post(nil, "/api/v1/util/requests/"+mid+"/approve", map[string]any{}, bearer(admin.jwt)...), 200, ""); a["status"] != "APPLIED" {
			t.Fatalf("admin approval: %v", a)
		}
		expect(t, e.post(nil, "/api/v1/util/requests/"+mid+"/approve", map[string]any{}, bearer(checker.jwt)...), 409, "invalid_state")

		// Unknown and malformed ids.
		for _, p := range []string{"/api/v1/util/requests/999999", "/api/v1/util/requests/999999/approve", "/api/v1/util/requests/999999/reject", "/api/v1/util/requests/999999/cancel"} {
			jwt, body := checker.jwt, any(map[string]any{})
			if strings.HasSuffix(p, "/cancel") {
				jwt, body = maker.jwt, nil
			}
			method := http.MethodPost
			if !strings.Contains(p, "/999999/") {
				method, body = http.MethodGet, nil
			}
			expect(t, e.do(nil, method, p, body, bearer(jwt)...), 404, "not_found")
		}
		expect(t, e.do(nil, "GET", "/api/v1/util/requests/abc", nil, bearer(checker.jwt)...), 404, "not_found")
		expect(t, e.post(nil, "/api/v1/util/requests/-1/approve", map[string]any{}, bearer(checker.jwt)...), 404, "not_found")

		// Payloads are checked by request_type; the message names the field.
		for _, c := range []struct {
			typ     string
			payload any
			want    string
		}{
			{"DEPOSIT", map[string]any{"account_id": "099C000001", "amount": 5, "foo": 1}, "payload.foo is not a field of DEPOSIT"},
			{"WITHDRAW", map[string]any{"account_id": "099C000001", "amount": 0}, "payload.amount must be greater than 0"},
			{"DEPOSIT", map[string]any{"account_id": "099C000001", "symbol": "X", "quantity": 1}, "payload.quantity is not a field of DEPOSIT"},
			{"ADD_STOCK", map[string]any{"account_id": "099C000001", "symbol": "X", "quantity": -1}, "payload.quantity must be greater than 0"},
			{"ADD_STOCK", map[string]any{"account_id": "099C000001", "symbol": "VN41I1G20009", "quantity": 10}, "payload.symbol VN41I1G20009 is a future"},
			{"REMOVE_STOCK", map[string]any{"account_id": "099C000001", "symbol": "VN30F2612", "quantity": 1}, "payload.symbol VN30F2612 is a future"},
			{"ADD_STOCK", map[string]any{"account_id": "099C000001", "symbol": "FPT", "quantity": 10}, "payload.symbol FPT is a ticker: holdings are kept by ISIN; use VN000000FPT1"},
			{"ADD_STOCK", map[string]any{"account_id": "099C000001", "symbol": "VN000000XXX0", "quantity": 10}, "payload.symbol VN000000XXX0 is not an instrument of the market"},
			{"CREATE_ORDER_RISK_RULE", map[string]any{"kind": "ORDER_BLOCK_TRADE_MARKET_ALL", "scope": "SYSTEM", "target": "*", "match": "HOSE", "value": 1}, `payload.match "HOSE" is not a market id`},
			{"CREATE_RISK_RULE", map[string]any{"kind": "OMS_MARGIN_RATE_SYMBOL_ISIN", "scope": "SYMBOL", "target": "FPT", "value": 0.5}, "payload.target FPT is a ticker: SYMBOL rules target an ISIN; use VN000000FPT1"},
			{"GRANT_PERMISSION", map[string]any{"user_id": "ghost@oms.example", "account_code": "099C000001", "level": "VIEW"}, "payload.user_id"},
			{"GRANT_PERMISSION", map[string]any{"user_id": traderEmail, "account_code": "099C000001", "level": "ROOT"}, "payload.level"},
			{"CREATE_GROUP", map[string]any{"account_code": "099C000001", "group_id": 1}, "payload.account_code is not a field of CREATE_GROUP"},
			{"GRANT_PERMISSION", map[string]any{"user_id": traderEmail, "account_code": "099C000001"}, "payload.level is required"},
			{"CREATE_ACCOUNT", map[string]any{"name": "x"}, "payload.account_code is required"},
			{"CREATE_RISK_RULE", map[string]any{"kind": "OMS_SHORT_ALLOWED", "scope": "SYSTEM", "target": "*", "value": "lots"}, "payload.value"},
			{"UPDATE_ACCOUNT", map[string]any{"account_code": "099C000001", "comp_id": "NOPE"}, "payload.comp_id"},
			{"UPDATE_ACCOUNT", map[string]any{"account_code": "099C000001", "cash": 1}, "payload.cash is not a field of UPDATE_ACCOUNT"},
		} {
			res := e.post(nil, "/api/v1/util/requests", map[string]any{"request_type": c.typ, "payload": c.payload}, bearer(maker.jwt)...)
			body := expect(t, res, 400, "invalid_request")
			if !strings.Contains(fmt.Sprint(body["message"]), c.want) {
				t.Fatalf("%s %v: message %v does not say %q", c.typ, c.payload, body["message"], c.want)
			}
		}
		// What encoding/json would let through: case-folded and repeated keys.
		for raw, want := range map[string]string{
			`{"request_type":"DEPOSIT","payload":{"account_id":"099C000001","amount":1,"amount":1000000}}`: "amount", // the gate refuses it first
			`{"request_type":"DEPOSIT","payload":{"account_id":"099C000001","amount":1,"Amount":1000000}}`: "payload.Amount is not a field of DEPOSIT",
		} {
			body := expect(t, e.post(nil, "/api/v1/util/requests", raw, bearer(maker.jwt)...), 400, "invalid_request")
			if !strings.Contains(fmt.Sprint(body["message"]), want) {
				t.Fatalf("%s: message %v does not say %q", raw, body["message"], want)
			}
		}
		// A rule value may be a numeric string.
		rule := e.fileRequest(t, maker.jwt, "CREATE_RISK_RULE", map[string]any{"kind": "OMS_MARGIN_ALLOWED", "scope": "ACCOUNT", "target": "099C000001", "value": "1"})
		if a := expect(t, e.post(nil, "/api/v1/util/requests/"+wfID(t, rule)+"/approve", map[string]any{}, bearer(checker.jwt)...), 200, ""); a["status"] != "APPLIED" {
			t.Fatalf("rule: %v", a)
		}
	})
}

// 16 concurrent approvals over HTTP (8 by the checker, 8 by an admin, the
// maker filed it): exactly one 200, the rest 409; the deposit lands once.
func TestWorkflowConcurrentApprovals(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		maker := e.login(nil, makerEmail, makerPass)
		checker := e.login(nil, checkerEmail, checkerPass)
		admin := e.login(nil, adminEmail, adminPass)
		r := e.fileRequest(t, maker.jwt, "DEPOSIT", map[string]any{"account_id": "099C000002", "amount": json.Number("0.01")})
		id := wfID(t, r)
		statuses := make([]int, 16)
		var wg sync.WaitGroup
		for i := range statuses {
			jwt := checker.jwt
			if i%2 == 1 {
				jwt = admin.jwt
			}
			wg.Go(func() {
				statuses[i] = e.post(nil, "/api/v1/util/requests/"+id+"/approve", map[string]any{}, bearer(jwt)...).status
			})
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[200] != 1 || count[409] != 15 {
			t.Fatalf("statuses: %v", count)
		}
		got := expect(t, e.do(nil, "GET", "/api/v1/util/requests/"+id, nil, bearer(maker.jwt)...), 200, "")
		if got["status"] != "APPLIED" {
			t.Fatalf("request: %v", got)
		}
		trail := e.requestTrail(t, admin.jwt, id)
		if len(trail) != 4 || strings.Count(fmt.Sprint(trail), "REQUEST_APPROVED") != 1 || strings.Count(fmt.Sprint(trail), "CASH_DEPOSITED") != 1 {
			t.Fatalf("audit: %v", trail)
		}
		deps := e.auditEntries(t, admin.jwt, "action=CASH_DEPOSITED&entity_id=099C000002")
		var mine int
		for _, d := range deps {
			if fmt.Sprint(d["request_id"]) == id {
				mine++
				if det, _ := d["detail"].(map[string]any); det["cash_available_after"] != "250000000.51" {
					t.Fatalf("deposit: %v", d)
				}
			}
		}
		if mine != 1 {
			t.Fatalf("deposits of the request: %d", mine)
		}
	})
}
