package trading

import (
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// Conditional orders on the dev master's FPT (HOSE, reference 100 000,
// band 93 000..107 000, tick 100). Accounts (propAccounts): 0 holds FPT
// and much cash, 1 FPT, 2 cash, 3 a little of both.

// stopOrder enters a conditional order of account acct; offset "" makes
// it a stop-limit order.
func (h *harness) stopOrder(svc *Service, acct int, side, price, stopPx, offset string, qty int64, ref string) error {
	in := NewOrder{Account: h.accts[acct].code, Symbol: "FPT", Side: side, Type: "LO", Price: &price, Qty: qty, RefOrderID: ref, StopPx: &stopPx}
	if offset != "" {
		in.StopOffset = &offset
	}
	_, err := svc.Submit(h.ctx, h.accts[acct].user, in)
	return err
}

// trade makes one trade of qty at px between accounts 1 (sell) and 2
// (buy).
func (h *harness) trade(px string, qty int64, ref string) {
	h.t.Helper()
	h.krxOrder(1, "S", "LO", px, qty, ref+"-s")
	h.krxOrder(2, "B", "LO", px, qty, ref+"-b")
	h.wantFill(ref+"-b", store.OrderFilled, qty, px)
}

func wantWaiting(t *testing.T, o store.Order, price, stopPx string) {
	t.Helper()
	if !o.Waiting() || !o.Price.Equal(dec(price)) || !o.Stop.Px.Equal(dec(stopPx)) {
		t.Fatalf("%s: %s waiting %v price %s stop %s (%s), want waiting at price %s stop %s",
			o.OriginalReqID, o.Status, o.Waiting(), o.Price, o.Stop.Px, o.Text, price, stopPx)
	}
}

// A sell stop-limit waits outside the book, holding its shares, until a
// trade at or below its stop; then it goes to the book as a limit order.
func TestStopLimitWaitsThenTrades(t *testing.T) {
	h := newHarness(t, propAccounts())
	h.krxOrder(3, "B", "LO", "98500", 100, "bid")
	if err := h.stopOrder(h.svc, 0, "S", "98000", "99000", "", 100, "stop"); err != nil {
		t.Fatal(err)
	}
	o := h.order("stop")
	wantWaiting(t, o, "98000", "99000")
	if o.Hold.Stock != 100 {
		t.Fatalf("a waiting sell holds %d shares, want 100", o.Hold.Stock)
	}
	if _, in := h.svc.VenueOrders()[o.ID]; in {
		t.Fatal("a waiting conditional order is in the book")
	}
	h.trade("99500", 100, "t1") // above the stop: nothing
	wantWaiting(t, h.order("stop"), "98000", "99000")
	h.trade("99000", 100, "t2") // at the stop: triggered, hits the bid at 98 500
	o = h.wantFill("stop", store.OrderFilled, 100, "98500")
	if !o.Stop.Triggered {
		t.Fatal("a stop that traded is not marked triggered")
	}
	h.mustAgree()
}

// The stop rules refuse, with the docs' codes, a stop on the wrong side
// of the price or of the last trade, and bad stop fields.
func TestStopEntryRules(t *testing.T) {
	h := newHarness(t, propAccounts())
	for _, c := range []struct {
		side, price, stop, offset, code string
	}{
		{"S", "99000", "98500", "", "|-100023|"},   // a sell's stop below its price
		{"B", "101000", "101500", "", "|-100023|"}, // a buy's stop above its price
		{"S", "99000", "99050", "", "|-100023|"},   // off the tick
		{"S", "99000", "100000", "", "|-913008|"},  // a sell stop not below the last (the reference)
		{"B", "100500", "100000", "", "|-913007|"}, // a buy stop not above it
	} {
		ref := "bad" + c.side + c.stop
		if err := h.stopOrder(h.svc, 0, c.side, c.price, c.stop, c.offset, 100, ref); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if o := h.order(ref); o.Status != store.OrderRejected || !strings.Contains(o.Text, c.code) {
			t.Fatalf("%s: %s %q, want REJECTED with %s", ref, o.Status, o.Text, c.code)
		}
	}
	for _, c := range []struct{ stop, offset, code string }{{"abc", "", "|-100023|"}, {"99000", "-100", "|-100024|"}} {
		err := h.stopOrder(h.svc, 0, "S", "98000", c.stop, c.offset, 100, "form"+c.stop+c.offset)
		if err == nil || !strings.Contains(err.Error(), c.code) {
			t.Fatalf("stop %q offset %q: %v, want a refusal with %s", c.stop, c.offset, err, c.code)
		}
	}
	h.mustAgree()
}

// A trailing sell stop follows the highest trade by its offset, price and
// stop together, and fires on the way down.
func TestTrailingStopFollowsTheMarket(t *testing.T) {
	h := newHarness(t, propAccounts())
	if err := h.stopOrder(h.svc, 0, "S", "98500", "99000", "1000", 100, "trail"); err != nil {
		t.Fatal(err)
	}
	h.trade("100500", 100, "up") // 100 500 - 1 000 = 99 500 > 99 000: moves up by 500
	wantWaiting(t, h.order("trail"), "99000", "99500")
	h.trade("100200", 100, "dip") // below the high: stays
	wantWaiting(t, h.order("trail"), "99000", "99500")
	h.krxOrder(3, "B", "LO", "99200", 100, "bid")
	h.trade("99500", 100, "down") // at the stop: fires, sells to the bid at 99 200
	h.wantFill("trail", store.OrderFilled, 100, "99200")
	h.mustAgree()
}

// While it waits, a conditional order may change its price, quantity and
// stop (in any open session); once triggered, only price and quantity.
func TestStopModifyRules(t *testing.T) {
	h := newHarness(t, propAccounts())
	if err := h.stopOrder(h.svc, 0, "S", "98000", "99000", "", 100, "stop"); err != nil {
		t.Fatal(err)
	}
	user := h.accts[0].user
	stop := "98500"
	if _, err := h.svc.Replace(h.ctx, user, ReplaceRequest{OrderID: "stop", RequestID: "m1", Price: "98000", Qty: 200, StopPx: &stop}); err != nil {
		t.Fatalf("modify a waiting stop: %v", err)
	}
	o := h.order("stop")
	wantWaiting(t, o, "98000", "98500")
	if o.Qty != 200 || o.Hold.Stock != 200 || o.ClOrdID != "m1" {
		t.Fatalf("after the modify: qty %d hold %d ClOrdID %s, want 200, 200, m1", o.Qty, o.Hold.Stock, o.ClOrdID)
	}
	bad := "97000" // below the price
	if _, err := h.svc.Replace(h.ctx, user, ReplaceRequest{OrderID: "stop", RequestID: "m2", Price: "98000", Qty: 200, StopPx: &bad}); err == nil || !strings.Contains(err.Error(), "-100023") {
		t.Fatalf("a stop below a sell's price: %v, want -100023", err)
	}
	// In the lunch break the waiting order may still change (A*).
	if err := h.setSession(market.Intermission); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Replace(h.ctx, user, ReplaceRequest{OrderID: "stop", RequestID: "m3", Price: "98100", Qty: 200}); err != nil {
		t.Fatalf("modify a waiting stop in the intermission: %v", err)
	}
	if err := h.setSession(market.Continuous); err != nil {
		t.Fatal(err)
	}
	h.trade("98500", 100, "fire") // fires: rests at 98 100, no bid
	o = h.order("stop")
	if o.Status != store.OrderNew || !o.Stop.Triggered {
		t.Fatalf("after the trigger: %s triggered %v, want NEW and triggered", o.Status, o.Stop.Triggered)
	}
	moved := "98600"
	if _, err := h.svc.Replace(h.ctx, user, ReplaceRequest{OrderID: "stop", RequestID: "m4", Price: "98100", Qty: 200, StopPx: &moved}); err == nil || !strings.Contains(err.Error(), "-100026") {
		t.Fatalf("a stop change after activation: %v, want -100026", err)
	}
	if _, err := h.svc.Replace(h.ctx, user, ReplaceRequest{OrderID: "stop", RequestID: "m5", Price: "98200", Qty: 200}); err != nil {
		t.Fatalf("a price change after activation: %v", err)
	}
	h.mustAgree()
}

// Cancel releases a waiting order's hold; the end of the day cancels the
// ones still waiting.
func TestStopCancelAndEndOfDay(t *testing.T) {
	h := newHarness(t, propAccounts())
	for _, ref := range []string{"a", "b"} {
		if err := h.stopOrder(h.svc, 0, "B", "101000", "100500", "", 100, ref); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.svc.Cancel(h.ctx, h.accts[0].user, CancelRequest{OrderID: "a", RequestID: "ca"}); err != nil {
		t.Fatal(err)
	}
	if o := h.order("a"); o.Status != store.OrderCanceled || !o.Hold.Cash.IsZero() {
		t.Fatalf("a cancelled stop: %s hold %s, want CANCELED with nothing held", o.Status, o.Hold.Cash)
	}
	if err := h.setSession(market.Closed); err != nil {
		t.Fatal(err)
	}
	if o := h.order("b"); o.Status != store.OrderCanceled {
		t.Fatalf("a stop waiting at the close: %s, want CANCELED", o.Status)
	}
	h.mustAgree()
}

// A service started on a store with a waiting order (a restart) watches it.
func TestStopSurvivesARestart(t *testing.T) {
	h := newHarness(t, propAccounts())
	if err := h.stopOrder(h.svc, 0, "B", "101000", "100500", "", 100, "buy-stop"); err != nil {
		t.Fatal(err)
	}
	h.krxOrder(1, "S", "LO", "100800", 100, "ask")
	// A new process: a new venue whose books are rebuilt from the store.
	h.venue = &recVenue{Simulator: NewSimulator(h.master)}
	h.svc = New(Options{Store: h.st, Market: h.master, Clock: h.clock, Venue: h.venue})
	if err := h.svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.trade("100500", 100, "fire") // at the stop: buys the ask at 100 800
	h.wantFill("buy-stop", store.OrderFilled, 100, "100800")
	h.mustAgree()
}

// Orders held past their trading day (omsd was down at the close) end when
// the service starts on a later day, a held limit order and a waiting stop
// alike: none reaches the new day's book.
func TestHeldOrdersOfAnEarlierDayEndAtStart(t *testing.T) {
	h := newHarness(t, propAccounts())
	if err := h.setSession(market.Intermission); err != nil {
		t.Fatal(err)
	}
	h.mustSubmit(0, "B", "99000", 100, "held")
	if err := h.stopOrder(h.svc, 0, "B", "101000", "100500", "", 100, "stop"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"held", "stop"} {
		if o := h.order(ref); o.Status != store.OrderPendingNew {
			t.Fatalf("%s: %s, want PENDING_NEW before the day ends", ref, o.Status)
		}
	}
	h.clock.NextTradingDay() // the close passes unseen
	h.clock.Pin(market.Continuous)
	h.venue = &recVenue{Simulator: NewSimulator(h.master)}
	h.svc = New(Options{Store: h.st, Market: h.master, Clock: h.clock, Venue: h.venue})
	if err := h.svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"held", "stop"} {
		if o := h.order(ref); o.Status != store.OrderCanceled || !o.Hold.Cash.IsZero() {
			t.Fatalf("%s after a start on the next day: %s holding %s, want CANCELED holding nothing", ref, o.Status, o.Hold.Cash)
		}
	}
	if n := len(h.svc.VenueOrders()); n != 0 {
		t.Fatalf("%d orders of an earlier day in the new day's books", n)
	}
}
