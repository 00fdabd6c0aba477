package e2e

import (
	"fmt"
	"testing"
)

// ack posts a desk message and returns its Ack data.
func (e *env) ack(t *testing.T, jwt, path string, body map[string]any) map[string]any {
	t.Helper()
	m := expect(t, e.post(nil, path, body, bearer(jwt)...), 200, "")
	if m["isSuccess"] != true {
		t.Fatalf("%s ack: %v", path, m)
	}
	return m["data"].(map[string]any)
}

// refused posts a desk message and checks it is a 400 whose detail
// carries want (a code such as "OMS|-132004|" or a field name).
func (e *env) refused(t *testing.T, jwt, path string, body map[string]any, want string) {
	t.Helper()
	r := e.post(nil, path, body, bearer(jwt)...)
	m := r.json(t)
	if r.status != 400 || m["isSuccess"] != false || !contains(fmt.Sprint(m["detail"]), want) {
		t.Fatalf("%s %v: %d %s, want 400 with %q", path, body, r.status, r.body, want)
	}
}

// board reads the IOI board with a query string.
func (e *env) board(t *testing.T, jwt, query string) (map[string]any, []map[string]any) {
	t.Helper()
	m := expect(t, e.do(nil, "GET", "/api/v1/util/ioi/advertisements"+query, nil, bearer(jwt)...), 200, "")
	var ads []map[string]any
	for _, a := range m["advertisements"].([]any) {
		ads = append(ads, a.(map[string]any))
	}
	if m["count"] != float64(len(ads)) {
		t.Fatalf("count %v for %d advertisements", m["count"], len(ads))
	}
	return m, ads
}

func statusOf(ads []map[string]any) map[string]string {
	out := map[string]string{}
	for _, a := range ads {
		out[a["ioiId"].(string)] = a["status"].(string)
	}
	return out
}

func party(id string, role int) map[string]any {
	return map[string]any{"party_id": id, "party_role": role}
}

func TestPutThrough(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		maker := e.login(nil, makerEmail, makerPass).jwt // VIEW on the demo accounts
		for _, ft := range [][2]string{{"099", "T01"}, {"011", "T11"}} {
			expect(t, e.post(nil, "/api/v1/util/firms/traders", map[string]string{"firm_id": ft[0], "trader_id": ft[1]}, bearer(maker)...), 200, "")
		}

		// ---- the IOI board: new, replace, cancel ----
		a := e.ack(t, tr, "/api/v1/orders/ioi", map[string]any{"ioi_id": "ioi-1", "ioi_trans_type": "N", "symbol": "FPT", "side": "S",
			"ioi_qty": 2000, "price": "101500", "contact_no": "0901000001", "repo_haircut_ratio_mantissa": 1500})
		if a["msg_type"] != "6" || a["request_id"] != "ioi-1" {
			t.Fatalf("IOI ack: %v", a)
		}
		_, ads := e.board(t, tr, "")
		if len(ads) != 1 || ads[0]["status"] != "ACTIVE" || ads[0]["broker"] != "099" || ads[0]["price"] != 101500.0 ||
			ads[0]["qty"] != 2000.0 || ads[0]["repoHaircutRatio"] != 0.15 || ads[0]["transType"] != "N" {
			t.Fatalf("board after N: %v", ads)
		}
		a = e.ack(t, tr, "/api/v1/orders/ioi", map[string]any{"ioi_id": "ioi-2", "ioi_ref_id": "ioi-1", "ioi_trans_type": "R", "price": "101000", "ioi_qty": 1000})
		if a["orig_request_id"] != "ioi-1" {
			t.Fatalf("replace ack: %v", a)
		}
		e.ack(t, tr, "/api/v1/orders/ioi", map[string]any{"ioi_id": "ioi-3", "ioi_trans_type": "N", "symbol": "VNM", "side": "B", "ioi_qty": 500})
		e.ack(t, tr, "/api/v1/orders/ioi", map[string]any{"ioi_id": "ioi-3c", "ioi_ref_id": "ioi-3", "ioi_trans_type": "C"})
		// A price outside the band is posted REJECTED with its code (a
		// put-through price need not be on the tick).
		e.ack(t, tr, "/api/v1/orders/ioi", map[string]any{"ioi_id": "ioi-4", "symbol": "FPT", "side": "B", "ioi_qty": 100, "price": "107050"})
		_, ads = e.board(t, maker, "") // public: any signed-in user reads it
		if got := statusOf(ads); fmt.Sprint(got) != fmt.Sprint(map[string]string{"ioi-1": "REPLACED", "ioi-2": "ACTIVE", "ioi-3": "CANCELLED", "ioi-4": "REJECTED"}) {
			t.Fatalf("board: %v", got)
		}
		if ads[0]["ioiId"] != "ioi-4" || ads[0]["rejReason"] != -132004.0 || ads[3]["ioiId"] != "ioi-1" {
			t.Fatalf("newest first, rejReason: %v", ads)
		}
		if ads[2]["ioiId"] != "ioi-2" || ads[2]["ioiRefId"] != "ioi-1" || ads[2]["qty"] != 1000.0 || ads[2]["price"] != 101000.0 || ads[2]["contactNo"] != "0901000001" {
			t.Fatalf("the replacement: %v", ads[2])
		}
		m, ads := e.board(t, tr, "?status=ACTIVE&side=S&symbol=FPT")
		if len(ads) != 1 || ads[0]["ioiId"] != "ioi-2" || m["status"] != "ACTIVE" || m["limit"] != 100.0 {
			t.Fatalf("filtered board: %v", m)
		}
		if m, ads := e.board(t, tr, "?limit=2&offset=1"); len(ads) != 2 || ads[0]["ioiId"] != "ioi-3" || m["offset"] != 1.0 {
			t.Fatalf("paged board: %v", m)
		}
		expect(t, e.do(nil, "GET", "/api/v1/util/ioi/advertisements?status=OPEN", nil, bearer(tr)...), 400, "invalid_request")
		// Cancelling again, someone else's IOI, or as a non-trader.
		e.refused(t, tr, "/api/v1/orders/ioi", map[string]any{"ioi_id": "ioi-3c2", "ioi_ref_id": "ioi-3", "ioi_trans_type": "C"}, "OMS|-100019|")
		e.refused(t, tr, "/api/v1/orders/ioi", map[string]any{"ioi_id": "x", "ioi_trans_type": "Q"}, "ioi_trans_type")
		expect(t, e.post(nil, "/api/v1/orders/ioi", map[string]any{"ioi_id": "m-1", "symbol": "FPT", "side": "B", "ioi_qty": 100}, bearer(maker)...), 403, "")

		// ---- a put-through quote answering the IOI ----
		quote := map[string]any{"quote_msg_id": "q-1", "account": accountAn, "symbol": "FPT", "side": "S", "offer_price": "101000", "offer_size": 1000,
			"ioi_id": "ioi-2", "quote_type": 1, "parties": []any{party("099", 1), party("T01", 12), party("011", 17), party("T11", 37)}}
		a = e.ack(t, tr, "/api/v1/orders/quote", quote)
		if a["msg_type"] != "S" || a["request_id"] != "q-1" {
			t.Fatalf("quote ack: %v", a)
		}
		q := e.orderByReq(t, tr, "q-1")
		wantOrder(t, q, "NEW", 0)
		if q["quoteID"] != "q-1" || q["partyID"] != "011" || q["partyTraderID"] != "T11" {
			t.Fatalf("quote order: %v", q)
		}
		if _, _, hs := e.account(t, tr, accountAn); hs["VN000000FPT1"] != [3]float64{9000, 1000, 0} {
			t.Fatalf("An while quoting: %v", hs)
		}
		// Refusals: band, minimum size, party, no TRADE grant, malformed, unknown keys.
		bad := func(k string, v any) map[string]any {
			b := map[string]any{"quote_msg_id": "q-bad", "account": accountBinh, "symbol": "FPT", "side": "B", "bid_price": "100000", "bid_size": 100}
			b[k] = v
			return b
		}
		e.refused(t, tr, "/api/v1/orders/quote", bad("bid_price", "107100"), "OMS|-132004|")
		shs := map[string]any{"quote_msg_id": "q-bad", "account": accountBinh, "symbol": "SHS", "side": "B", "bid_price": "13000", "bid_size": 4000}
		e.refused(t, tr, "/api/v1/orders/quote", shs, "OMS|-132002|") // HNX put-through minimum 5 000
		e.refused(t, tr, "/api/v1/orders/quote", bad("bid_size", 100000), "OMS|-900001|")
		e.refused(t, tr, "/api/v1/orders/quote", bad("parties", []any{party("777", 17)}), "OMS|-100007|")
		e.refused(t, tr, "/api/v1/orders/quote", bad("ioi_id", "ioi-3"), "OMS|-100019|")
		e.refused(t, tr, "/api/v1/orders/quote", bad("side", "X"), "side")
		e.refused(t, tr, "/api/v1/orders/quote", bad("parties", []any{party("099", 99)}), "parties[0].party_role")
		e.refused(t, tr, "/api/v1/orders/quote", bad("nope", 1), "")
		expect(t, e.post(nil, "/api/v1/orders/quote", bad("side", "B"), bearer(maker)...), 403, "")
		expect(t, e.post(nil, "/api/v1/orders/quote", bad("account", "099C999999"), bearer(tr)...), 403, "")

		// ---- a pass moves nothing ----
		binhCash, binhHold, _ := e.account(t, tr, accountBinh)
		a = e.ack(t, tr, "/api/v1/orders/quote-response", map[string]any{"quote_msg_id": "pass-1", "quote_id": "q-1", "quote_resp_type": 6, "account": accountBinh})
		if a["msg_type"] != "AJ" || a["orig_request_id"] != "q-1" {
			t.Fatalf("pass ack: %v", a)
		}
		if c, h, _ := e.account(t, tr, accountBinh); c != binhCash || h != binhHold {
			t.Fatalf("a pass moved Binh's cash: %v %v", c, h)
		}
		wantOrder(t, e.orderByReq(t, tr, "q-1"), "NEW", 0)
		e.refused(t, tr, "/api/v1/orders/quote-response", map[string]any{"quote_msg_id": "acc-0", "quote_id": "nope", "quote_resp_type": 1, "account": accountBinh}, "OMS|-100011|")
		e.refused(t, tr, "/api/v1/orders/quote-response", map[string]any{"quote_msg_id": "acc-0", "quote_id": "q-1", "quote_resp_type": 1, "account": accountBinh, "bid_price": "100900"}, "bid_price")

		// ---- the accept makes the deal ----
		a = e.ack(t, tr, "/api/v1/orders/quote-response", map[string]any{"quote_msg_id": "acc-1", "quote_resp_id": "resp-1", "quote_id": "q-1",
			"quote_resp_type": 1, "account": accountBinh, "side": "B", "order_qty": 1000, "bid_price": "101000", "ioi_id": "ioi-2",
			"parties": []any{party("011", 1), party("T11", 12), party("099", 17), party("T01", 37)}, "repo_haircut_ratio_mantissa": 0})
		if a["request_id"] != "acc-1" || a["orig_request_id"] != "q-1" {
			t.Fatalf("accept ack: %v", a)
		}
		m = expect(t, e.do(nil, "GET", "/api/v1/util/orders?order_status=FILLED", nil, bearer(tr)...), 200, "")
		if m["count"] != 2.0 {
			t.Fatalf("filled orders: %v", m)
		}
		for _, o := range m["orders"].([]any) {
			o := o.(map[string]any)
			wantOrder(t, o, "FILLED", 1000)
			if o["quoteID"] != "q-1" || o["quoteRespID"] != "resp-1" || o["avgFillPrice"] != 101000.0 || o["partyID"] == nil {
				t.Fatalf("deal order: %v", o)
			}
		}
		if r := e.orderByReq(t, tr, "acc-1"); r["accountID"] != accountBinh || r["orderSide"] != "B" || r["partyID"] != "099" || r["partyTraderID"] != "T01" {
			t.Fatalf("Binh's deal order: %v", r)
		}
		cash, hold, hs := e.account(t, tr, accountAn)
		// The deal settles T+2: An's proceeds and Binh's shares are pending.
		if cash != 1000000000 || hold != 0 || hs["VN000000FPT1"] != [3]float64{9000, 0, 0} || e.stlAccount(t, tr, accountAn)["omsd_cash_pending"] != 101000000.0 {
			t.Fatalf("An after the deal: %v %v %v", cash, hold, hs)
		}
		cash, hold, hs = e.account(t, tr, accountBinh)
		if cash != 250000000.5-101000000 || hold != 0 || hs["VN000000FPT1"] != [3]float64{0, 0, 1000} {
			t.Fatalf("Binh after the deal: %v %v %v", cash, hold, hs)
		}
		if _, ads := e.board(t, tr, "?status=MATCHED"); len(ads) != 1 || ads[0]["ioiId"] != "ioi-2" {
			t.Fatalf("the IOI is matched: %v", ads)
		}
		e.refused(t, tr, "/api/v1/orders/quote-response", map[string]any{"quote_msg_id": "acc-2", "quote_id": "q-1", "quote_resp_type": 1, "account": accountBinh}, "OMS|-100019|")

		// ---- a kquote placed, replaced, cancelled ----
		a = e.ack(t, tr, "/api/v1/orders/kquote", map[string]any{"quote_msg_id": "k-1", "account": accountAn, "symbol": "FPT",
			"bid_price": "99000", "bid_size": 200, "offer_price": "102000", "offer_size": 300})
		if a["msg_type"] != "R" || a["request_id"] != "k-1" {
			t.Fatalf("kquote ack: %v", a)
		}
		for _, leg := range []string{"k-1-B", "k-1-S"} {
			if o := e.orderByReq(t, tr, leg); o["orderStatus"] != "NEW" || o["quoteID"] != "k-1" {
				t.Fatalf("leg %s: %v", leg, o)
			}
		}
		cash, hold, hs = e.account(t, tr, accountAn)
		if hold != 19800000 || cash != 1000000000-19800000 || hs["VN000000FPT1"] != [3]float64{8700, 300, 0} {
			t.Fatalf("An with the kquote: %v %v %v", cash, hold, hs)
		}
		a = e.ack(t, tr, "/api/v1/orders/kquote", map[string]any{"quote_msg_id": "k-2", "orig_quote_msg_id": "k-1", "bid_price": "98000", "bid_size": 100})
		if a["orig_request_id"] != "k-1" {
			t.Fatalf("kquote replace ack: %v", a)
		}
		wantOrder(t, e.orderByReq(t, tr, "k-1-B"), "CANCELED", 0)
		wantOrder(t, e.orderByReq(t, tr, "k-1-S"), "CANCELED", 0)
		wantOrder(t, e.orderByReq(t, tr, "k-2-B"), "NEW", 0)
		if _, hold, hs := e.account(t, tr, accountAn); hold != 9800000 || hs["VN000000FPT1"] != [3]float64{9000, 0, 0} {
			t.Fatalf("An after the replace: %v %v", hold, hs)
		}
		e.refused(t, tr, "/api/v1/orders/kquote", map[string]any{"quote_msg_id": "k-3", "account": accountAn, "symbol": "FPT",
			"bid_price": "102000", "bid_size": 100, "offer_price": "101000", "offer_size": 100}, "bid_price")
		a = e.ack(t, tr, "/api/v1/orders/kquote-cancel", map[string]any{"quote_msg_id": "kc-1", "orig_quote_msg_id": "k-2", "quote_cancel_type": 5})
		if a["msg_type"] != "Z" || a["orig_request_id"] != "k-2" {
			t.Fatalf("kquote-cancel ack: %v", a)
		}
		wantOrder(t, e.orderByReq(t, tr, "k-2-B"), "CANCELED", 0)
		cash, hold, hs = e.account(t, tr, accountAn)
		if hold != 0 || cash != 1000000000 || hs["VN000000FPT1"] != [3]float64{9000, 0, 0} {
			t.Fatalf("An after the cancel: %v %v %v", cash, hold, hs)
		}
		e.refused(t, tr, "/api/v1/orders/kquote-cancel", map[string]any{"quote_msg_id": "kc-2", "orig_quote_msg_id": "k-2"}, "OMS|-100019|")
		e.refused(t, tr, "/api/v1/orders/kquote-cancel", map[string]any{"quote_msg_id": "kc-3", "orig_quote_msg_id": "nope"}, "OMS|-100011|")
		e.refused(t, tr, "/api/v1/orders/kquote-cancel", map[string]any{"quote_msg_id": "kc-4", "quote_cancel_type": 1}, "symbol")
	})
}
