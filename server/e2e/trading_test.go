package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/market"
)

const (
	accountAn   = "099C000001" // demo: cash 1 000 000 000, FPT 10 000, VNM 5 000
	accountBinh = "099C000002" // demo: cash 250 000 000.50, HPG 20 000
)

func withMarketMaker(c *cli.Config) { c.DevMarketMaker = true }

// order enters an order and returns its Ack data.
func (e *env) order(t *testing.T, jwt string, body map[string]any) map[string]any {
	t.Helper()
	m := expect(t, e.post(nil, "/api/v1/orders/new", body, bearer(jwt)...), 200, "")
	if m["isSuccess"] != true {
		t.Fatalf("order ack: %v", m)
	}
	return m["data"].(map[string]any)
}

// orderByReq reads the order entered under reqID.
func (e *env) orderByReq(t *testing.T, jwt, reqID string) map[string]any {
	t.Helper()
	m := expect(t, e.do(nil, "GET", "/api/v1/util/orders?original_req_id="+reqID, nil, bearer(jwt)...), 200, "")
	os, _ := m["orders"].([]any)
	if len(os) != 1 {
		t.Fatalf("orders with original_req_id %s: %v", reqID, m)
	}
	return os[0].(map[string]any)
}

// account reads one account: free and held cash, and per ISIN the
// sellable, held and pending (bought, not yet settled) quantities.
func (e *env) account(t *testing.T, jwt, code string) (cash, hold float64, holdings map[string][3]float64) {
	t.Helper()
	a := expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(jwt)...), 200, "")
	holdings = map[string][3]float64{}
	hs, _ := a["holdings"].([]any)
	for _, h := range hs {
		m := h.(map[string]any)
		holdings[m["symbol"].(string)] = [3]float64{m["sellable_qty"].(float64), m["hold_qty"].(float64), m["omsd_pending_qty"].(float64)}
	}
	return a["cash_available"].(float64), a["cash_hold"].(float64), holdings
}

func lo(account, symbol, side string, qty int, price, ref string) map[string]any {
	b := map[string]any{"account_id": account, "symbol": symbol, "side": side, "qty": qty, "order_type": "LO", "price": price}
	if ref != "" {
		b["ref_order_id"] = ref
	}
	return b
}

func wantOrder(t *testing.T, o map[string]any, status string, filled float64) {
	t.Helper()
	if o["orderStatus"] != status || o["filledQty"] != filled {
		t.Fatalf("order %v: status %v filled %v, want %s %v (text %v)", o["originalReqID"], o["orderStatus"], o["filledQty"], status, filled, o["orderText"])
	}
}

func TestTradingCross(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt

		buy := e.order(t, tr, lo(accountBinh, "FPT", "B", 300, "100000", "binh-buy-1"))
		if buy["request_id"] != "binh-buy-1" || buy["msg_type"] != "D" {
			t.Fatalf("ack: %v", buy)
		}
		o := e.orderByReq(t, tr, "binh-buy-1")
		wantOrder(t, o, "NEW", 0)
		cash, hold, _ := e.account(t, tr, accountBinh)
		if cash != 250000000.5-30000000 || hold != 30000000 {
			t.Fatalf("Binh after the buy rests: cash %v hold %v", cash, hold)
		}
		e.order(t, tr, lo(accountAn, "FPT", "S", 200, "99900", "an-sell-1"))
		wantOrder(t, e.orderByReq(t, tr, "an-sell-1"), "FILLED", 200)
		b := e.orderByReq(t, tr, "binh-buy-1")
		wantOrder(t, b, "PARTIALLY_FILLED", 200)
		if b["avgFillPrice"] != 100000.0 {
			t.Fatalf("the resting buy sets the price: %v", b["avgFillPrice"])
		}
		cash, hold, hs := e.account(t, tr, accountBinh)
		if cash != 250000000.5-30000000 || hold != 10000000 || hs["VN000000FPT1"] != [3]float64{0, 0, 200} {
			t.Fatalf("Binh after the fill: cash %v hold %v holdings %v", cash, hold, hs)
		}
		cash, hold, hs = e.account(t, tr, accountAn)
		// The proceeds settle on T+2: pending, not yet available.
		if cash != 1000000000 || hold != 0 || hs["VN000000FPT1"] != [3]float64{9800, 0, 0} || e.stlAccount(t, tr, accountAn)["omsd_cash_pending"] != 20000000.0 {
			t.Fatalf("An after the fill: cash %v hold %v holdings %v", cash, hold, hs)
		}

		// Cancel the rest: the hold comes back.
		c := expect(t, e.post(nil, "/api/v1/orders/cancel", map[string]any{"order_id": "binh-buy-1"}, bearer(tr)...), 200, "")
		if c["data"].(map[string]any)["msg_type"] != "F" {
			t.Fatalf("cancel ack: %v", c)
		}
		b = e.orderByReq(t, tr, "binh-buy-1")
		wantOrder(t, b, "CANCELED", 200)
		if b["cancelledQty"] != 100.0 {
			t.Fatalf("cancelled qty: %v", b["cancelledQty"])
		}
		cash, hold, _ = e.account(t, tr, accountBinh)
		if cash != 250000000.5-20000000 || hold != 0 {
			t.Fatalf("Binh after the cancel: cash %v hold %v", cash, hold)
		}
		// A second cancel is refused: the order is done.
		r := e.post(nil, "/api/v1/orders/cancel", map[string]any{"order_id": "binh-buy-1"}, bearer(tr)...)
		if r.status != 400 || !contains(string(r.body), "-100019") {
			t.Fatalf("cancel of a cancelled order: %d %s", r.status, r.body)
		}
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// wantRejected enters an order and checks it is stored REJECTED with code.
func (e *env) wantRejected(t *testing.T, jwt string, body map[string]any, code string) {
	t.Helper()
	e.wantRejectedBy(t, jwt, body, "OMS", code)
}

// wantRejectedBy is wantRejected for a refusal from source (OMS, KRX).
func (e *env) wantRejectedBy(t *testing.T, jwt string, body map[string]any, source, code string) {
	t.Helper()
	ref := fmt.Sprintf("rej-%s-%d", strings.TrimPrefix(code, "-"), time.Now().UnixNano())
	body["ref_order_id"] = ref
	e.order(t, jwt, body)
	o := e.orderByReq(t, jwt, ref)
	if o["orderStatus"] != "REJECTED" || !strings.HasPrefix(fmt.Sprint(o["orderText"]), source+"|"+code+"|") {
		t.Fatalf("%v: status %v text %v, want REJECTED with %s|%s|", body, o["orderStatus"], o["orderText"], source, code)
	}
}

func TestTradingRejects(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		maker := e.login(nil, makerEmail, makerPass).jwt
		checker := e.login(nil, checkerEmail, checkerPass).jwt

		e.wantRejected(t, tr, lo(accountBinh, "FPT", "B", 100, "100050", ""), "-131018")    // off the 100 VND tick
		e.wantRejected(t, tr, lo(accountBinh, "FPT", "B", 100, "107100", ""), "-132004")    // above the ceiling 107000
		e.wantRejected(t, tr, lo(accountBinh, "FPT", "B", 100, "92900", ""), "-132004")     // below the floor 93000
		e.wantRejected(t, tr, lo(accountBinh, "FPT", "B", 150, "100000", ""), "-131013")    // not a lot multiple
		e.wantRejected(t, tr, lo(accountBinh, "FPT", "B", 500100, "100000", ""), "-131003") // over the single-order cap
		e.wantRejected(t, tr, lo(accountBinh, "FPT", "B", 10000, "100000", ""), "-900001")  // 1e9 > 250 000 000.50: available balance
		e.wantRejected(t, tr, lo(accountBinh, "FPT", "S", 100, "100000", ""), "-900001")    // Binh holds no FPT: available balance
		e.wantRejected(t, tr, lo(accountBinh, "NOPE", "B", 100, "100000", ""), "-100008")   // unknown symbol
		e.wantRejected(t, tr, map[string]any{"account_id": accountBinh, "symbol": "FPT", "side": "B", "qty": 100, "order_type": "PLO", "price": "100000"}, "-100003")
		e.wantRejected(t, tr, map[string]any{"account_id": accountBinh, "symbol": "FPT", "side": "B", "qty": 100, "order_type": "LO"}, "-100025")

		// A repeat of an entry (same ClOrdID, same terms) answers the
		// first entry's Ack and enters nothing; a ClOrdID reused on the same
		// trading date with other terms is a duplicate.
		first := e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "95000", "dup-1"))
		if again := e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "95000", "dup-1")); again["request_id"] != "dup-1" || again["source_sequence"] != first["source_sequence"] {
			t.Fatalf("a repeated entry: %v, first %v", again, first)
		}
		e.order(t, tr, lo(accountBinh, "FPT", "B", 200, "95000", "dup-1"))
		m := expect(t, e.do(nil, "GET", "/api/v1/util/orders?original_req_id=dup-1", nil, bearer(tr)...), 200, "")
		os := m["orders"].([]any)
		if len(os) != 2 || os[0].(map[string]any)["orderStatus"] != "REJECTED" || !strings.HasPrefix(os[0].(map[string]any)["orderText"].(string), "OMS|-100001|") ||
			os[1].(map[string]any)["orderStatus"] != "NEW" {
			t.Fatalf("duplicate ClOrdID: %v", m)
		}

		// A restriction rule blocks buys of VNM.
		e.fileAndApprove(t, maker, checker, "CREATE_ORDER_RISK_RULE", map[string]any{
			"kind": "ORDER_BLOCK_TRADE_SYMBOL_BUY", "scope": "SYSTEM", "target": "*", "match": "VN000000VNM8", "value": 1})
		e.wantRejected(t, tr, lo(accountBinh, "VNM", "B", 100, "62000", ""), "-900001")
		e.order(t, tr, lo(accountAn, "VNM", "S", 100, "62000", "vnm-sell")) // sells are not blocked
		wantOrder(t, e.orderByReq(t, tr, "vnm-sell"), "NEW", 0)

		// No TRADE grant (the maker holds VIEW; nobody holds anything on a
		// made-up account): 403 whether the account exists or not.
		for _, acct := range []string{accountBinh, "099C999999"} {
			r := e.post(nil, "/api/v1/orders/new", lo(acct, "FPT", "B", 100, "100000", ""), bearer(maker)...)
			if r.status != 403 {
				t.Fatalf("order without a TRADE grant on %s: %d %s", acct, r.status, r.body)
			}
		}
		// Nothing above left a hold behind but the two resting orders.
		cash, hold, _ := e.account(t, tr, accountBinh)
		if hold != 9500000 || cash != 250000000.5-9500000 {
			t.Fatalf("Binh: cash %v hold %v", cash, hold)
		}
		// The orders query: an account without a grant is 403; the maker
		// (VIEW) sees the orders; bad filters are 400.
		expect(t, e.do(nil, "GET", "/api/v1/util/orders?account_id=099C999999", nil, bearer(tr)...), 403, "")
		if m := expect(t, e.do(nil, "GET", "/api/v1/util/orders?account_id="+accountBinh+"&order_status=NEW", nil, bearer(maker)...), 200, ""); m["count"] != 1.0 {
			t.Fatalf("maker's view of Binh's NEW orders: %v", m)
		}
		expect(t, e.do(nil, "GET", "/api/v1/util/orders?order_status=WORKING", nil, bearer(tr)...), 400, "")

		// The market closed: rejected with its code. The close is also the
		// end of the day (the session driver may see it before we do), so
		// it comes last and is synced here: the resting buy is cancelled
		// (CANCELED, as the Vero docs report the end of the day) and its
		// hold comes back.
		e.app.MarketClock.Pin(market.Closed)
		if err := e.app.Trading.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.wantRejected(t, tr, lo(accountBinh, "FPT", "B", 100, "100000", ""), "-131002")
		m = expect(t, e.do(nil, "GET", "/api/v1/util/orders?original_req_id=dup-1&order_status=CANCELED", nil, bearer(tr)...), 200, "")
		if m["count"] != 1.0 || !strings.Contains(fmt.Sprint(m["orders"]), "end of the trading day") {
			t.Fatalf("the resting dup-1 after the close: %v", m)
		}
		if cash, hold, _ := e.account(t, tr, accountBinh); hold != 0 || cash != 250000000.5 {
			t.Fatalf("Binh after the close: cash %v hold %v", cash, hold)
		}
	})
}

func TestTradingOrderTypes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt

		// HOSE takes no MAK or MOK (KRX); HNX does. An gets SHS (HNX) to
		// sell through the maker-checker workflow.
		e.wantRejected(t, tr, map[string]any{"account_id": accountBinh, "symbol": "FPT", "side": "B", "qty": 100, "order_type": "MAK"}, "-420217")
		e.wantRejected(t, tr, map[string]any{"account_id": accountBinh, "symbol": "FPT", "side": "B", "qty": 100, "order_type": "MOK"}, "-420217")
		maker, checker := e.login(nil, makerEmail, makerPass).jwt, e.login(nil, checkerEmail, checkerPass).jwt
		e.fileAndApprove(t, maker, checker, "ADD_STOCK", map[string]any{"account_id": accountAn, "symbol": "VN000000SHS3", "quantity": 1000, "avg_price": 12000})

		// MAK (IOC): fills what is there, the rest is cancelled.
		e.order(t, tr, lo(accountAn, "SHS", "S", 100, "13000", "ask-1"))
		e.order(t, tr, map[string]any{"account_id": accountBinh, "symbol": "SHS", "side": "B", "qty": 300, "order_type": "MAK", "ref_order_id": "mak-1"})
		o := e.orderByReq(t, tr, "mak-1")
		wantOrder(t, o, "CANCELED", 100)
		if o["cancelledQty"] != 200.0 || o["avgFillPrice"] != 13000.0 {
			t.Fatalf("MAK: %v", o)
		}
		cash, hold, _ := e.account(t, tr, accountBinh)
		if hold != 0 || cash != 250000000.5-1300000 {
			t.Fatalf("after the MAK: cash %v hold %v", cash, hold)
		}
		// MOK (FOK): not all there, nothing fills.
		e.order(t, tr, lo(accountAn, "SHS", "S", 100, "13100", "ask-2"))
		e.order(t, tr, map[string]any{"account_id": accountBinh, "symbol": "SHS", "side": "B", "qty": 300, "order_type": "MOK", "ref_order_id": "mok-1"})
		wantOrder(t, e.orderByReq(t, tr, "mok-1"), "CANCELED", 0)
		wantOrder(t, e.orderByReq(t, tr, "ask-2"), "NEW", 0)
		// MOK that can fill: fills whole.
		e.order(t, tr, map[string]any{"account_id": accountBinh, "symbol": "SHS", "side": "B", "qty": 100, "order_type": "MOK", "ref_order_id": "mok-2"})
		wantOrder(t, e.orderByReq(t, tr, "mok-2"), "FILLED", 100)
		if _, hold, _ := e.account(t, tr, accountBinh); hold != 0 {
			t.Fatalf("hold after the MOK fill: %v", hold)
		}

		// Replace priority: two buys at one price, Binh first.
		e.order(t, tr, lo(accountBinh, "FPT", "B", 200, "99000", "b-first"))
		e.order(t, tr, lo(accountAn, "FPT", "B", 100, "99000", "a-second"))
		// Down keeps priority ...
		expect(t, e.post(nil, "/api/v1/orders/replace", map[string]any{"order_id": "b-first", "price": "99000", "qty": 100}, bearer(tr)...), 200, "")
		if cash, hold, _ := e.account(t, tr, accountBinh); hold != 9900000 || cash != 250000000.5-2610000-9900000 {
			t.Fatalf("replace down resizes the hold: cash %v hold %v", cash, hold)
		}
		e.order(t, tr, lo(accountAn, "FPT", "S", 100, "99000", "hit-1"))
		wantOrder(t, e.orderByReq(t, tr, "b-first"), "FILLED", 100)
		wantOrder(t, e.orderByReq(t, tr, "a-second"), "NEW", 0)
		// ... up loses it.
		e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "99000", "b-third"))
		expect(t, e.post(nil, "/api/v1/orders/replace", map[string]any{"order_id": "a-second", "price": "99000", "qty": 200}, bearer(tr)...), 200, "")
		e.order(t, tr, lo(accountAn, "FPT", "S", 100, "99000", "hit-2"))
		wantOrder(t, e.orderByReq(t, tr, "b-third"), "FILLED", 100)
		wantOrder(t, e.orderByReq(t, tr, "a-second"), "NEW", 0)
		// A replace that changes nothing, or cuts below the filled
		// quantity, is refused with its code.
		r := e.post(nil, "/api/v1/orders/replace", map[string]any{"order_id": "a-second", "price": "99000", "qty": 200}, bearer(tr)...)
		if r.status != 400 || !contains(string(r.body), "-100015") {
			t.Fatalf("no-change replace: %d %s", r.status, r.body)
		}
		// KRX: one amendment changes the price or the quantity, not both.
		r = e.post(nil, "/api/v1/orders/replace", map[string]any{"order_id": "a-second", "price": "98900", "qty": 300}, bearer(tr)...)
		if r.status != 400 || !contains(string(r.body), "-134010") {
			t.Fatalf("price-and-quantity replace: %d %s", r.status, r.body)
		}
		r = e.post(nil, "/api/v1/orders/replace", map[string]any{"order_id": "nope", "price": "99000", "qty": 200}, bearer(tr)...)
		if r.status != 400 || !contains(string(r.body), "-100011") {
			t.Fatalf("replace of an unknown order: %d %s", r.status, r.body)
		}
	})
}

// An account never trades with itself: its sell that would cross its own
// resting buy is cancelled untraded (the buy stays), after trading what
// rests ahead of the buy; in a call auction its second side is refused.
func TestTradingSelfTrade(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "99100", "binh-bid"))
		e.order(t, tr, lo(accountAn, "FPT", "B", 100, "99000", "an-bid"))
		e.order(t, tr, lo(accountAn, "FPT", "S", 300, "99000", "an-sell"))
		sell := e.orderByReq(t, tr, "an-sell")
		wantOrder(t, sell, "CANCELED", 100)
		if sell["avgFillPrice"] != 99100.0 || !strings.Contains(fmt.Sprint(sell["orderText"]), "self-trade") {
			t.Fatalf("the sell that met its own bid: %v", sell)
		}
		wantOrder(t, e.orderByReq(t, tr, "binh-bid"), "FILLED", 100)
		wantOrder(t, e.orderByReq(t, tr, "an-bid"), "NEW", 0)
		cash, hold, _ := e.account(t, tr, accountAn)
		if hold != 9900000 {
			t.Fatalf("An holds %v for its bid, want 9900000 (cash %v)", hold, cash)
		}

		e.app.MarketClock.Pin(market.OpeningAuction)
		if err := e.app.Trading.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.wantRejectedBy(t, tr, map[string]any{"account_id": accountAn, "symbol": "FPT", "side": "S", "qty": 100, "order_type": "ATO"}, "KRX", "-420300")
		e.wantRejectedBy(t, tr, lo(accountAn, "FPT", "S", 100, "99000", ""), "KRX", "-420300")
		e.order(t, tr, lo(accountAn, "FPT", "B", 100, "98000", "an-bid-2")) // the same side is fine
		wantOrder(t, e.orderByReq(t, tr, "an-bid-2"), "NEW", 0)
	})
}

func TestTradingAuctions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		ctx := context.Background()
		sync := func(s market.Session) {
			e.app.MarketClock.Pin(s)
			if err := e.app.Trading.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// Pre-opening: orders are accepted and held (PENDING_NEW).
		sync(market.PreOpening)
		e.order(t, tr, lo(accountBinh, "FPT", "B", 200, "101000", "pre-buy"))
		wantOrder(t, e.orderByReq(t, tr, "pre-buy"), "PENDING_NEW", 0)
		// Opening auction: the held order joins the book, ATO and LO
		// orders collect, nothing trades.
		sync(market.OpeningAuction)
		wantOrder(t, e.orderByReq(t, tr, "pre-buy"), "NEW", 0)
		e.order(t, tr, map[string]any{"account_id": accountAn, "symbol": "FPT", "side": "S", "qty": 100, "order_type": "ATO", "ref_order_id": "ato-sell"})
		e.order(t, tr, lo(accountAn, "FPT", "S", 200, "100500", "lo-sell"))
		wantOrder(t, e.orderByReq(t, tr, "ato-sell"), "NEW", 0)
		// Continuous: the auction uncrosses at one price.
		sync(market.Continuous)
		buy := e.orderByReq(t, tr, "pre-buy")
		ato := e.orderByReq(t, tr, "ato-sell")
		sell := e.orderByReq(t, tr, "lo-sell")
		wantOrder(t, buy, "FILLED", 200)
		wantOrder(t, ato, "FILLED", 100)
		wantOrder(t, sell, "PARTIALLY_FILLED", 100)
		if buy["avgFillPrice"] != ato["avgFillPrice"] || ato["avgFillPrice"] != sell["avgFillPrice"] {
			t.Fatalf("one auction price: %v %v %v", buy["avgFillPrice"], ato["avgFillPrice"], sell["avgFillPrice"])
		}
		// Closing auction: ATC orders; its end expires what is left.
		sync(market.ClosingAuction)
		e.order(t, tr, map[string]any{"account_id": accountBinh, "symbol": "FPT", "side": "B", "qty": 100, "order_type": "ATC", "ref_order_id": "atc-buy"})
		sync(market.Closed)
		wantOrder(t, e.orderByReq(t, tr, "atc-buy"), "FILLED", 100)
		wantOrder(t, e.orderByReq(t, tr, "lo-sell"), "FILLED", 200)
		if _, hold, _ := e.account(t, tr, accountBinh); hold != 0 {
			t.Fatalf("Binh's hold after the close: %v", hold)
		}
	})
}

func TestTradingConcurrency(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		// 16 buys of 30 000 000 each against 250 000 000.50: 8 fit.
		var wg sync.WaitGroup
		startGate := make(chan struct{})
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				e.order(t, tr, lo(accountBinh, "FPT", "B", 300, "100000", fmt.Sprintf("race-%d", i)))
			}()
		}
		close(startGate)
		wg.Wait()
		m := expect(t, e.do(nil, "GET", "/api/v1/util/orders?account_id="+accountBinh, nil, bearer(tr)...), 200, "")
		counts := map[string]int{}
		var working string
		for _, o := range m["orders"].([]any) {
			o := o.(map[string]any)
			counts[o["orderStatus"].(string)]++
			if o["orderStatus"] == "NEW" {
				working = o["originalReqID"].(string)
			}
			if o["orderStatus"] == "REJECTED" && !strings.HasPrefix(o["orderText"].(string), "OMS|-900001|") {
				t.Fatalf("rejected for another reason: %v", o["orderText"])
			}
		}
		if counts["NEW"] != 8 || counts["REJECTED"] != 8 {
			t.Fatalf("16 concurrent buys: %v", counts)
		}
		cash, hold, _ := e.account(t, tr, accountBinh)
		if cash != 10000000.5 || hold != 240000000 {
			t.Fatalf("after the race: cash %v hold %v", cash, hold)
		}

		// 16 concurrent cancels of one order: one wins.
		var ok, refused int
		var mu sync.Mutex
		startGate = make(chan struct{})
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				r := e.post(nil, "/api/v1/orders/cancel", map[string]any{"order_id": working}, bearer(tr)...)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.status == 200:
					ok++
				case r.status == 400 && (contains(string(r.body), "-100019") || contains(string(r.body), "-100013")):
					refused++
				default:
					t.Errorf("cancel: %d %s", r.status, r.body)
				}
			}()
		}
		close(startGate)
		wg.Wait()
		if ok+refused != 16 {
			t.Fatalf("cancels: %d ok, %d refused", ok, refused)
		}
		wantOrder(t, e.orderByReq(t, tr, working), "CANCELED", 0)
		if ok != 1 {
			t.Fatalf("16 concurrent cancels: %d succeeded", ok)
		}
		if cash, hold, _ := e.account(t, tr, accountBinh); cash != 40000000.5 || hold != 210000000 {
			t.Fatalf("after the cancel: cash %v hold %v", cash, hold)
		}
	})
}

// The venue's books live in one process: a second instance on the same
// store refuses to start as the venue, and one started with OMS_VENUE=off
// serves the reads and answers trading POSTs with 502.
func TestVenueHasOneOwner(t *testing.T) {
	t.Parallel()
	// A short lease: a second owner waits for it to lapse before refusing.
	a := start(t, "redis", withDemoData, func(c *cli.Config) { c.VenueLeaseTTL = time.Second })
	tr := a.login(nil, traderEmail, traderPass).jwt
	a.order(t, tr, lo(accountBinh, "FPT", "B", 100, "95000", "owner-1"))

	sameStore := func(c *cli.Config) {
		c.RedisURL, c.RedisPrefix, c.DevRedis, c.KeyFile = a.cfg.RedisURL, a.cfg.RedisPrefix, true, a.cfg.KeyFile
	}
	cfg := a.cfg
	cfg.MetricsAddr = ""
	if app, err := cli.Build(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		app.Close(context.Background())
		t.Fatal("a second venue owner on the same store started")
	} else if !strings.Contains(err.Error(), "already run by another omsd") {
		t.Fatalf("second owner: %v", err)
	}

	b := start(t, "memory", sameStore, func(c *cli.Config) { c.Venue = "off" })
	r := b.post(nil, "/api/v1/orders/new", lo(accountBinh, "FPT", "B", 100, "95000", "owner-2"), bearer(tr)...)
	if r.status != 502 || !contains(string(r.body), "OMS_VENUE=off") {
		t.Fatalf("order on a venue-off instance: %d %s", r.status, r.body)
	}
	wantOrder(t, b.orderByReq(t, tr, "owner-1"), "NEW", 0)
	// The put-through desk lives with the venue too.
	if r := b.post(nil, "/api/v1/orders/ioi", map[string]any{"ioi_id": "ioi-off", "symbol": "FPT", "side": "S", "ioi_qty": 100}, bearer(tr)...); r.status != 502 {
		t.Fatalf("IOI on a venue-off instance: %d %s", r.status, r.body)
	}

	// Once the owner stops (releasing the lease), another instance can own
	// the books: it rebuilds them from the store, holds as they were.
	a.stop()
	c := start(t, "memory", sameStore)
	wantOrder(t, c.orderByReq(t, tr, "owner-1"), "NEW", 0)
	if _, hold, _ := c.account(t, tr, accountBinh); hold != 9500000 {
		t.Fatalf("hold after the restart: %v", hold)
	}
}

// Resting orders survive a restart of the venue owner: the books are
// rebuilt in their time priority (a replace that lost priority stays
// behind), holds unchanged, and an order crossing afterwards fills the
// oldest first.
func TestBooksSurviveARestart(t *testing.T) {
	t.Parallel()
	a := start(t, "redis", withDemoData)
	tr := a.login(nil, traderEmail, traderPass).jwt
	for i := range 20 {
		price := []string{"99000", "98000", "97000", "96000"}[i/5]
		a.order(t, tr, lo(accountBinh, "FPT", "B", 100, price, fmt.Sprintf("fpt-b-%d", i)))
	}
	for i := range 15 {
		a.order(t, tr, lo(accountAn, "VNM", "S", 100, fmt.Sprintf("%d", 62000+100*(i%5)), fmt.Sprintf("vnm-s-%d", i)))
		a.order(t, tr, lo(accountBinh, "HPG", "S", 100, fmt.Sprintf("%d", 27500+50*(i%5)), fmt.Sprintf("hpg-s-%d", i)))
	}
	// fpt-b-1 grows: it loses its priority and goes behind fpt-b-4.
	expect(t, a.post(nil, "/api/v1/orders/replace", map[string]any{"order_id": "fpt-b-1", "price": "99000", "qty": 200}, bearer(tr)...), 200, "")
	holdsOf := func(e *env) [2]string {
		_, h1, s1 := e.account(t, tr, accountAn)
		_, h2, s2 := e.account(t, tr, accountBinh)
		return [2]string{fmt.Sprint(h1, s1), fmt.Sprint(h2, s2)}
	}
	before := holdsOf(a)
	working := len(a.app.Trading.VenueOrders())
	if working != 50 {
		t.Fatalf("%d orders in the books before the restart, want 50", working)
	}

	sameStore := func(c *cli.Config) {
		c.RedisURL, c.RedisPrefix, c.DevRedis, c.KeyFile = a.cfg.RedisURL, a.cfg.RedisPrefix, true, a.cfg.KeyFile
	}
	a.stop()
	b := start(t, "memory", sameStore)
	if n := len(b.app.Trading.VenueOrders()); n != working {
		t.Fatalf("%d orders in the books after the restart, want %d", n, working)
	}
	if after := holdsOf(b); after != before {
		t.Fatalf("holds changed across the restart:\n before %v\n after  %v", before, after)
	}
	// 300 at 99000 takes the three oldest at that price: fpt-b-0, 2 and 3.
	b.order(t, tr, lo(accountAn, "FPT", "S", 300, "99000", "cross-after"))
	for _, w := range []struct {
		ref, status string
		filled      float64
	}{{"fpt-b-0", "FILLED", 100}, {"fpt-b-2", "FILLED", 100}, {"fpt-b-3", "FILLED", 100},
		{"fpt-b-4", "NEW", 0}, {"fpt-b-1", "NEW", 0}, {"cross-after", "FILLED", 300}} {
		wantOrder(t, b.orderByReq(t, tr, w.ref), w.status, w.filled)
	}
}

// The README's trading walk-through: with the dev market maker resting
// orders around the reference price, a demo buy at the reference fills at
// once and the holding appears.
func TestTradingWalkThrough(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData, withMarketMaker)
		tr := e.login(nil, traderEmail, traderPass).jwt
		ack := e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "100000", "demo-buy-1"))
		if ack["request_id"] != "demo-buy-1" || ack["msg_type"] != "D" || ack["hft_gateway"] != "krx-sim" {
			t.Fatalf("ack: %v", ack)
		}
		o := e.orderByReq(t, tr, "demo-buy-1")
		wantOrder(t, o, "FILLED", 100)
		if o["avgFillPrice"] != 100000.0 || o["ISIN"] != "VN000000FPT1" || o["exchange"] != "HOSE" {
			t.Fatalf("the fill: %v", o)
		}
		cash, hold, hs := e.account(t, tr, accountBinh)
		if cash != 240000000.5 || hold != 0 || hs["VN000000FPT1"] != [3]float64{0, 0, 100} {
			t.Fatalf("after the fill: cash %v hold %v holdings %v", cash, hold, hs)
		}
		// The market maker's orders are on every instrument's book, so a
		// sell at the best bid fills too.
		e.order(t, tr, lo(accountAn, "VNM", "S", 100, "61900", "demo-sell-1"))
		wantOrder(t, e.orderByReq(t, tr, "demo-sell-1"), "FILLED", 100)
	})
}
