package e2e

import (
	"fmt"
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

func (e *env) account(t *testing.T, jwt, code string) (cash, hold float64, holdings map[string][2]float64) {
	t.Helper()
	a := expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(jwt)...), 200, "")
	holdings = map[string][2]float64{}
	hs, _ := a["holdings"].([]any)
	for _, h := range hs {
		m := h.(map[string]any)
		holdings[m["symbol"].(string)] = [2]float64{m["sellable_qty"].(float64), m["hold_qty"].(float64)}
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
		if cash != 250000000.5-30000000 || hold != 10000000 || hs["VN000000FPT1"] != [2]float64{200, 0} {
			t.Fatalf("Binh after the fill: cash %v hold %v holdings %v", cash, hold, hs)
		}
		cash, hold, hs = e.account(t, tr, accountAn)
		if cash != 1000000000+20000000 || hold != 0 || hs["VN000000FPT1"] != [2]float64{9800, 0} {
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

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

var _ = fmt.Sprint
var _ sync.Mutex
var _ = time.Second
var _ = market.Continuous
