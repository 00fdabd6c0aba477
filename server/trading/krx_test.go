package trading

import (
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// The KRX rules of the simulator, through the service on the dev master
// (FPT: HOSE, reference 100 000, band 93 000..107 000, tick 100). Each of
// these failed on the simulator before the rules were added; the rules
// that live in package market (order types per market, band edges, the
// pinned session) are tested there (TestCheckType, TestBandLimits,
// TestPinned).

// krxOrder enters an order of account acct (index into propAccounts) and
// fails the test if it is refused; price "" sends none.
func (h *harness) krxOrder(acct int, side, typ, price string, qty int64, ref string) {
	h.t.Helper()
	in := NewOrder{Account: h.accts[acct].code, Symbol: "FPT", Side: side, Type: typ, Qty: qty, RefOrderID: ref}
	if price != "" {
		in.Price = &price
	}
	if _, err := h.svc.Submit(h.ctx, h.accts[acct].user, in); err != nil {
		h.t.Fatalf("order %s: %v", ref, err)
	}
}

func (h *harness) wantFill(ref string, status store.OrderStatus, filled int64, avg string) store.Order {
	h.t.Helper()
	o := h.order(ref)
	if o.Status != status || o.FilledQty != filled || (filled > 0 && !o.AvgFillPrice().Equal(dec(avg))) {
		h.t.Fatalf("%s: %s filled %d avg %s, want %s filled %d avg %s", ref, o.Status, o.FilledQty, o.AvgFillPrice(), status, filled, avg)
	}
	return o
}

// An MTL remainder rests one tick through the last matched price (a buy
// one tick higher, a sell one tick lower), within the band; it used to
// rest at the last matched price itself.
func TestKRXMTLRemainderOneTickThrough(t *testing.T) {
	h := newHarness(t, propAccounts())
	h.krxOrder(0, "S", "LO", "100000", 100, "ask")
	h.krxOrder(1, "B", "MTL", "", 300, "mtl-buy")
	if o := h.wantFill("mtl-buy", store.OrderPartiallyFill, 100, "100000"); !o.Price.Equal(dec("100100")) {
		t.Fatalf("MTL buy remainder rests at %s, want 100100 (100000 + 1 tick)", o.Price)
	}
	// A sell that sweeps the bids leaves its remainder one tick below.
	h.krxOrder(1, "B", "LO", "95000", 100, "bid")
	h.krxOrder(0, "S", "MTL", "", 400, "mtl-sell")
	// The sell hits the MTL buy's 200 at 100 100 first, then the bid at 95 000.
	if o := h.wantFill("mtl-sell", store.OrderPartiallyFill, 300, "98400"); !o.Price.Equal(dec("94900")) {
		t.Fatalf("MTL sell remainder rests at %s, want 94900 (95000 - 1 tick)", o.Price)
	}
	// At the band's edge the tick through is clamped to the band.
	h2 := newHarness(t, propAccounts())
	h2.krxOrder(0, "S", "LO", "107000", 100, "ask-ceiling")
	h2.krxOrder(1, "B", "MTL", "", 300, "mtl-ceiling")
	if o := h2.wantFill("mtl-ceiling", store.OrderPartiallyFill, 100, "107000"); !o.Price.Equal(dec("107000")) {
		t.Fatalf("MTL buy remainder after a fill at the ceiling rests at %s, want the ceiling 107000", o.Price)
	}
	h.mustAgree()
	h2.mustAgree()
}

// The call auction price maximises the volume and then is the one equal
// or closest to the reference (the last matched price): there is no
// "smallest imbalance" step, which used to pick 100 200 here.
//
//	buys 200@100 200, 100@100 000; sell 200@100 000; reference 100 000
//	100 000: D 300, S 200 → volume 200, imbalance 100, distance 0
//	100 200: D 200, S 200 → volume 200, imbalance 0, distance 200
func TestKRXAuctionPriceClosestToReference(t *testing.T) {
	h := newHarness(t, propAccounts())
	if err := h.setSession(market.OpeningAuction); err != nil {
		t.Fatal(err)
	}
	h.krxOrder(1, "B", "LO", "100200", 200, "b-high")
	h.krxOrder(1, "B", "LO", "100000", 100, "b-ref")
	h.krxOrder(0, "S", "LO", "100000", 200, "s")
	if err := h.setSession(market.Continuous); err != nil {
		t.Fatal(err)
	}
	h.wantFill("s", store.OrderFilled, 200, "100000")
	h.wantFill("b-high", store.OrderFilled, 200, "100000")
	h.wantFill("b-ref", store.OrderNew, 0, "")
	h.mustAgree()
}

// In a call auction ATO orders go ahead of limit orders, except an LO buy
// at the ceiling (or sell at the floor) entered before them, which keeps
// its time priority. The ATO used to win regardless.
func TestKRXAuctionCeilingBuyKeepsTimePriority(t *testing.T) {
	for _, c := range []struct {
		name, limit string
		loWins      bool
	}{
		{"LO at the ceiling entered first", "107000", true},
		{"LO below the ceiling entered first", "106900", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, propAccounts())
			if err := h.setSession(market.OpeningAuction); err != nil {
				t.Fatal(err)
			}
			h.krxOrder(1, "B", "LO", c.limit, 100, "lo")
			h.krxOrder(2, "B", "ATO", "", 100, "ato")
			h.krxOrder(0, "S", "LO", "100000", 100, "s")
			if err := h.setSession(market.Continuous); err != nil {
				t.Fatal(err)
			}
			h.wantFill("s", store.OrderFilled, 100, "100000")
			if c.loWins {
				h.wantFill("lo", store.OrderFilled, 100, "100000")
				h.wantFill("ato", store.OrderCanceled, 0, "")
			} else {
				h.wantFill("ato", store.OrderFilled, 100, "100000")
				h.wantFill("lo", store.OrderNew, 0, "")
			}
			h.mustAgree()
		})
	}
}

// One amendment changes the price or the quantity, not both: a replace
// with both is refused with -134010 and the order keeps its terms. It used
// to be accepted.
func TestKRXReplaceChangesPriceOrQuantity(t *testing.T) {
	h := newHarness(t, propAccounts())
	h.krxOrder(1, "B", "LO", "99000", 100, "r")
	_, err := h.svc.Replace(h.ctx, h.accts[1].user, ReplaceRequest{OrderID: "r", RequestID: "r-both", Price: "99100", Qty: 200})
	if err == nil || !strings.Contains(err.Error(), "|-134010|") {
		t.Fatalf("replace of price and quantity: %v, want the -134010 refusal", err)
	}
	if o := h.order("r"); !o.Price.Equal(dec("99000")) || o.Qty != 100 || o.Status != store.OrderNew {
		t.Fatalf("after the refused replace: %s %d %s", o.Price, o.Qty, o.Status)
	}
	for _, r := range []ReplaceRequest{{OrderID: "r", RequestID: "r-price", Price: "99100", Qty: 100}, {OrderID: "r", RequestID: "r-qty", Price: "99100", Qty: 200}} {
		if _, err := h.svc.Replace(h.ctx, h.accts[1].user, r); err != nil {
			t.Fatalf("replace %s: %v", r.RequestID, err)
		}
	}
	if o := h.order("r"); !o.Price.Equal(dec("99100")) || o.Qty != 200 {
		t.Fatalf("after a price then a quantity replace: %s %d", o.Price, o.Qty)
	}
	h.mustAgree()
}

// An order still working at the end of the day ends CANCELED (39=4), as
// the Vero docs report it, with the reason as text; it used to end
// EXPIRED, a status their FIX tables do not have.
func TestKRXEndOfDayCancels(t *testing.T) {
	h := newHarness(t, propAccounts())
	h.krxOrder(1, "B", "LO", "99000", 100, "working")
	if err := h.setSession(market.Intermission); err != nil {
		t.Fatal(err)
	}
	h.krxOrder(1, "B", "LO", "99000", 100, "held") // held until trading resumes
	if err := h.setSession(market.Closed); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"working", "held"} {
		if o := h.order(ref); o.Status != store.OrderCanceled || !strings.Contains(o.Text, "end of the trading day") || o.Hold.Cash.IsPositive() {
			t.Errorf("%s at the end of the day: %s %q hold %s", ref, o.Status, o.Text, o.Hold.Cash)
		}
	}
	if bad := h.checkNothingHeld(); len(bad) > 0 {
		t.Fatal(strings.Join(bad, "\n"))
	}
}
