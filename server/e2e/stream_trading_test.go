package e2e

import (
	"slices"
	"testing"
	"time"
)

// A buy that fills against a resting sell: both accounts' order channels
// carry each order's reports, the last equal to GET /util/orders; both
// account channels carry cash and holding reports whose last values equal
// GET /oms/risk/accounts/{id}.
func TestStreamTradingChannels(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		s := e.stream(t, tr)
		chans := []string{orderCh(accountAn), orderCh(accountBinh), accountCh(accountAn), accountCh(accountBinh)}
		s.subscribeAll(chans...)

		e.order(t, tr, lo(accountBinh, "FPT", "B", 300, "100000", "st-buy"))
		e.order(t, tr, lo(accountAn, "FPT", "S", 200, "99900", "st-sell"))
		expect(t, e.post(nil, "/api/v1/orders/cancel", map[string]any{"order_id": "st-buy"}, bearer(tr)...), 200, "")
		e.published(t)
		s.within(5*time.Second, "the cancel reported", func() bool {
			return slices.Contains(statuses(s.pubs[orderCh(accountBinh)], "st-buy"), "CANCELED")
		})
		s.settle()
		for _, ch := range chans {
			wantContiguous(t, ch, s.received(ch))
		}
		binh, an := s.received(orderCh(accountBinh)), s.received(orderCh(accountAn))
		// The resting buy is accepted (NEW) in its entry's commit; the sell
		// fills at once, so its entry (PENDING_NEW) is followed by the fill.
		if got := statuses(binh, "st-buy"); !slices.Equal(got, []string{"NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "CANCELED"}) {
			t.Errorf("st-buy reports: %v", got)
		}
		if got := statuses(an, "st-sell"); !slices.Equal(got, []string{"PENDING_NEW", "FILLED"}) {
			t.Errorf("st-sell reports: %v", got)
		}
		for _, p := range append(binh, an...) {
			wantFields(t, "execution report", p.data, executionReportFields)
		}
		for _, c := range []struct {
			req  string
			pubs []streamPub
		}{{"st-buy", binh}, {"st-sell", an}} {
			want := e.orderByReq(t, tr, c.req)
			got := last(c.pubs, func(m map[string]any) bool { return m["originalReqID"] == c.req })
			for _, f := range []string{"orderID", "orderStatus", "filledQty", "avgFillPrice", "cancelledQty", "orderCurrentQty",
				"orderCurrentPrice", "originalQty", "originalPrice", "accountID", "symbol", "orderSide", "orderType", "unixUTCTimeMs", "createunixUTCTimeMs"} {
				if got[f] != want[f] {
					t.Errorf("%s %s: stream %v, REST %v", c.req, f, got[f], want[f])
				}
			}
		}
		for _, acct := range []string{accountAn, accountBinh} {
			wantAccountReports(t, e, tr, acct, s.received(accountCh(acct)))
		}
	})
}

// wantAccountReports checks the last cash report and the last holding
// report of every symbol equal the risk account view.
func wantAccountReports(t *testing.T, e *env, jwt, acct string, pubs []streamPub) {
	t.Helper()
	cash, hold, holdings := e.account(t, jwt, acct)
	c := last(pubs, func(m map[string]any) bool { return m["type"] == "account" })
	if c == nil || c["cash_available"] != cash || c["cash_hold"] != hold || c["account_id"] != acct {
		t.Errorf("%s: last cash report %v, REST cash %v hold %v", acct, c, cash, hold)
	}
	if c != nil {
		// The docs' fields, and omsd's settlement extension (as on REST).
		wantFields(t, "cash report", c, []string{"type", "account_id", "cash_available", "cash_hold", "bypass_cash", "bypass_stock", "ts_ns", "omsd_cash_pending"})
		if rest := e.stlAccount(t, jwt, acct); c["omsd_cash_pending"] != rest["omsd_cash_pending"] {
			t.Errorf("%s: last cash report pending %v, REST %v", acct, c["omsd_cash_pending"], rest["omsd_cash_pending"])
		}
	}
	seen := 0
	for _, p := range pubs {
		if p.data["type"] != "holding" {
			continue
		}
		wantFields(t, "holding report", p.data, []string{"type", "account_id", "symbol", "sellable_qty", "hold_qty", "avg_price", "ts_ns", "omsd_pending_qty"})
		sym := p.data["symbol"].(string)
		h := last(pubs, func(m map[string]any) bool { return m["type"] == "holding" && m["symbol"] == sym })
		if want := holdings[sym]; h["sellable_qty"] != want[0] || h["hold_qty"] != want[1] {
			t.Errorf("%s %s: last holding report %v, REST %v", acct, sym, h, want)
		}
		seen++
	}
	if seen == 0 {
		t.Errorf("%s: no holding report", acct)
	}
}
