package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// jsonArray decodes a bare JSON array answer (the /oms/* lists).
func jsonArray(t *testing.T, r response, status int) []map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var out []map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("body is not a JSON array: %q", r.body)
	}
	return out
}

// fileAndApprove has maker file a request and checker approve it; it
// returns the approved request as answered.
func (e *env) fileAndApprove(t *testing.T, maker, checker, requestType string, payload any) map[string]any {
	t.Helper()
	req := expect(t, e.post(nil, "/api/v1/util/requests",
		map[string]any{"request_type": requestType, "payload": payload}, bearer(maker)...), 200, "")
	if req["status"] != "PENDING" {
		t.Fatalf("new %s request: %v", requestType, req)
	}
	id := fmt.Sprint(int64(req["id"].(float64)))
	return expect(t, e.post(nil, "/api/v1/util/requests/"+id+"/approve", map[string]any{"note": "checked"}, bearer(checker)...), 200, "")
}

// The back office as its users drive it: a maker files CREATE_ACCOUNT,
// DEPOSIT, ADD_STOCK and GRANT_PERMISSION requests, a checker approves
// each, and the trader then sees the new account, its exact cash and its
// holdings through the risk reads and the account search; a withdrawal of
// more than is there fails and changes nothing; the audit log names the
// right actor for every step.
func TestBackOfficeWalkThrough(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		maker := e.login(nil, makerEmail, makerPass)
		checker := e.login(nil, checkerEmail, checkerPass)
		trader := e.login(nil, traderEmail, traderPass)
		const code = "099C7E2E01"

		// Before: the trader holds no grant on the new account.
		expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(trader.jwt)...), 404, "")

		steps := []struct {
			typ     string
			payload any
		}{
			{"CREATE_ACCOUNT", map[string]any{
				"account_code": code, "name": "Le Van Cuong", "internal_client_code": code, "client_code": code,
				"comp_id": "VOS", "account_type": 1, "invest_code": "8000", "forn_invest_type_code": "00",
				"is_mm_account": false, "sender_sub_id": "00991", "email": "cuong@example.vn", "phone": "+84901000003",
			}},
			{"DEPOSIT", map[string]any{"account_id": code, "amount": json.Number("12345678.91")}},
			{"DEPOSIT", map[string]any{"account_id": code, "amount": json.Number("0.09")}},
			{"ADD_STOCK", map[string]any{"account_id": code, "symbol": "VN000000FPT1", "quantity": 300, "avg_price": json.Number("118500")}},
			{"GRANT_PERMISSION", map[string]any{"user_id": traderEmail, "account_code": code, "level": "TRADE"}},
		}
		var ids []string
		for _, s := range steps {
			got := e.fileAndApprove(t, maker.jwt, checker.jwt, s.typ, s.payload)
			if got["status"] != "APPLIED" || got["requested_by"] != makerEmail || got["reviewed_by"] != checkerEmail {
				t.Fatalf("%s approved: %v", s.typ, got)
			}
			ids = append(ids, fmt.Sprint(int64(got["id"].(float64))))
		}

		// The trader now sees the account, its exact cash and its holding.
		acct := expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(trader.jwt)...), 200, "")
		if acct["account_id"] != code || acct["cash_available"] != 12345679.0 || acct["cash_hold"] != 0.0 {
			t.Fatalf("risk account: %v", acct)
		}
		hs, _ := acct["holdings"].([]any)
		if len(hs) != 1 {
			t.Fatalf("holdings: %v", acct["holdings"])
		}
		h := hs[0].(map[string]any)
		if h["symbol"] != "VN000000FPT1" || h["sellable_qty"] != 300.0 || h["avg_price"] != 118500.0 {
			t.Fatalf("holding: %v", h)
		}
		found := false
		for _, a := range jsonArray(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts", nil, bearer(trader.jwt)...), 200) {
			found = found || a["account_id"] == code
		}
		if !found {
			t.Fatalf("the new account is missing from the trader's risk accounts")
		}
		s := expect(t, e.do(nil, "GET", "/api/v1/util/search?q="+url.QueryEscape("7e2e"), nil, bearer(trader.jwt)...), 200, "")
		accts, _ := s["accounts"].([]any)
		if len(accts) != 1 || accts[0].(map[string]any)["account_code"] != code || accts[0].(map[string]any)["level"] != "TRADE" {
			t.Fatalf("search for 7e2e: %v", s)
		}
		m := expect(t, e.do(nil, "GET", "/api/v1/oms/admin/mappings/"+code, nil, bearer(trader.jwt)...), 200, "")
		if m["name"] != "Le Van Cuong" || m["comp_id"] != "VOS" || m["sender_sub_id"] != "00991" {
			t.Fatalf("mapping: %v", m)
		}

		// Withdrawing more than is there fails, and nothing changes.
		failed := e.fileAndApprove(t, maker.jwt, checker.jwt, "WITHDRAW", map[string]any{"account_id": code, "amount": json.Number("12345679.01")})
		if failed["status"] != "FAILED" || failed["apply_error"] == nil || failed["apply_error"] == "" {
			t.Fatalf("withdraw too much: %v", failed)
		}
		acct = expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(trader.jwt)...), 200, "")
		if acct["cash_available"] != 12345679.0 {
			t.Fatalf("cash after a failed withdrawal: %v", acct["cash_available"])
		}
		failedID := fmt.Sprint(int64(failed["id"].(float64)))

		// The audit trail: every step with its actor.
		es := e.auditEntries(t, checker.jwt, "limit=1000")
		for i, id := range ids {
			var actions []string
			for _, en := range es {
				if en["request_id"] == mustFloat(t, id) {
					actions = append(actions, fmt.Sprintf("%s by %s", en["action"], en["actor"]))
				}
			}
			change := map[string]string{
				"CREATE_ACCOUNT": "ACCOUNT_CREATED", "DEPOSIT": "CASH_DEPOSITED",
				"ADD_STOCK": "STOCK_ADDED", "GRANT_PERMISSION": "PERMISSION_GRANTED",
			}[steps[i].typ]
			want := []string{ // newest first
				"REQUEST_APPLIED by " + checkerEmail,
				change + " by " + checkerEmail,
				"REQUEST_APPROVED by " + checkerEmail,
				"REQUEST_CREATED by " + makerEmail,
			}
			if fmt.Sprint(actions) != fmt.Sprint(want) {
				t.Fatalf("audit of request %s (%s): %v, want %v", id, steps[i].typ, actions, want)
			}
		}
		var failedActions []string
		for _, en := range e.auditEntries(t, checker.jwt, "limit=1000") {
			if en["request_id"] == mustFloat(t, failedID) {
				failedActions = append(failedActions, fmt.Sprintf("%s by %s", en["action"], en["actor"]))
			}
		}
		if want := []string{"REQUEST_FAILED by " + checkerEmail, "REQUEST_APPROVED by " + checkerEmail, "REQUEST_CREATED by " + makerEmail}; fmt.Sprint(failedActions) != fmt.Sprint(want) {
			t.Fatalf("audit of the failed withdrawal: %v, want %v", failedActions, want)
		}
	})
}

func mustFloat(t *testing.T, id string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(id, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// A bad workflow payload is answered with a message naming its field, not
// with "matches no schema of anyOf": the gate leaves the payload's anyOf
// to the handler, which checks it against its type's own schema.
func TestWorkflowPayloadErrorsNameTheField(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", withDemoData)
	maker := e.login(nil, makerEmail, makerPass)
	for body, want := range map[string]string{
		`{"request_type":"DEPOSIT","payload":{"account_id":"099C000001","amont":1}}`:      "payload.amont is not a field of DEPOSIT",
		`{"request_type":"DEPOSIT","payload":{"account_id":"099C000001"}}`:                "payload.amount is required",
		`{"request_type":"DEPOSIT","payload":{"account_id":"099C000001","amount":"1"}}`:   "payload.amount must be a number",
		`{"request_type":"CREATE_GROUP","payload":{"name":"Desk","colour":"red"}}`:        "payload.colour is not a field of CREATE_GROUP",
		`{"request_type":"DEPOSIT","payload":5}`:                                          "payload must be a JSON object",
		`{"request_type":"NOPE","payload":{}}`:                                            `request_type "NOPE" is not one of`,
		`{"request_type":"DEPOSIT"}`:                                                      `"payload" is missing`,
		`{"request_type":"DEPOSIT","payload":{"account_id":"099C000001","amount":1},"x":`: "",
	} {
		m := expect(t, e.post(nil, "/api/v1/util/requests", body, bearer(maker.jwt)...), 400, "invalid_request")
		if msg, _ := m["message"].(string); !strings.Contains(msg, want) {
			t.Errorf("%s: message %q, want it to contain %q", body, msg, want)
		}
	}
	if n := len(jsonArrayOf(t, e.do(nil, "GET", "/api/v1/util/requests", nil, bearer(maker.jwt)...), "requests")); n != 0 {
		t.Fatalf("%d requests stored by refused calls", n)
	}
}

// jsonArrayOf returns the array under key of an object answer.
func jsonArrayOf(t *testing.T, r response, key string) []any {
	t.Helper()
	m := expect(t, r, 200, "")
	out, _ := m[key].([]any)
	return out
}
