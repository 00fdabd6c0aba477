package trading

import (
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// The reference price rolls at the start of the next trading day: a HOSE
// stock's to its last matched price, an UPCoM stock's to the day's
// volume-weighted average (on the tick), an untraded one's stays; the
// band follows; the roll is stored, so a restart on that day keeps it.
func TestReferencePriceRolls(t *testing.T) {
	const fpt, acv = "VN000000FPT1", "VN000000ACV6"
	h := newHarness(t, []propAccount{
		{"SELLER1", "seller@example.com", "0", []store.Holding{{Symbol: fpt, SellableQty: 10000, AvgPrice: dec("90000")}, {Symbol: acv, SellableQty: 10000, AvgPrice: dec("80000")}}},
		{"BUYER01", "buyer@example.com", "10000000000", nil},
	})
	trade := func(sym, price string, qty int64, ref string) {
		t.Helper()
		for _, o := range []struct{ acct, user, side string }{{"SELLER1", "seller@example.com", "S"}, {"BUYER01", "buyer@example.com", "B"}} {
			p := price
			if _, err := h.svc.Submit(h.ctx, o.user, NewOrder{Account: o.acct, Symbol: sym, Side: o.side, Type: "LO", Price: &p, Qty: qty, RefOrderID: ref + o.side}); err != nil {
				t.Fatal(err)
			}
		}
		if o := h.order(ref + "B"); o.Status != store.OrderFilled {
			t.Fatalf("%s: %s %s", ref, o.Status, o.Text)
		}
	}
	trade("FPT", "101000", 100, "f1")
	trade("FPT", "102000", 100, "f2") // the close
	trade("ACV", "90000", 100, "a1")
	trade("ACV", "91000", 300, "a2") // VWAP (9 000 000 + 27 300 000) / 400 = 90 750 → 90 800
	vnm0, _ := h.master.ByTicker("VNM")
	if _, err := h.svc.NextDay(h.ctx); err != nil {
		t.Fatal(err)
	}
	want := func(m *market.Master, ticker, ref, ceiling, floor string) {
		t.Helper()
		in, _ := m.ByTicker(ticker)
		if !in.ReferencePrice.Equal(dec(ref)) || !in.Ceiling.Equal(dec(ceiling)) || !in.Floor.Equal(dec(floor)) {
			t.Fatalf("%s: reference %s band %s..%s, want %s %s..%s", ticker, in.ReferencePrice, in.Floor, in.Ceiling, ref, floor, ceiling)
		}
	}
	want(h.master, "FPT", "102000", "109100", "94900") // ±7 %: 109 140 down, 94 860 up to the tick
	want(h.master, "ACV", "90800", "104400", "77200")  // ±15 %
	want(h.master, "VNM", vnm0.ReferencePrice.String(), vnm0.Ceiling.String(), vnm0.Floor.String())

	// The new band applies to orders, in the OMS and in the book.
	p := "109200"
	if _, err := h.svc.Submit(h.ctx, "buyer@example.com", NewOrder{Account: "BUYER01", Symbol: "FPT", Side: "B", Type: "LO", Price: &p, Qty: 100, RefOrderID: "over"}); err != nil {
		t.Fatal(err)
	}
	if o := h.order("over"); o.Status != store.OrderRejected || !strings.Contains(o.Text, "109100") {
		t.Fatalf("above the new ceiling: %s %s", o.Status, o.Text)
	}
	p = "109100"
	if _, err := h.svc.Submit(h.ctx, "buyer@example.com", NewOrder{Account: "BUYER01", Symbol: "FPT", Side: "B", Type: "LO", Price: &p, Qty: 100, RefOrderID: "at"}); err != nil {
		t.Fatal(err)
	}
	if o := h.order("at"); o.Status != store.OrderNew {
		t.Fatalf("at the new ceiling (the old band ended at 107 000): %s %s", o.Status, o.Text)
	}

	// A restart on the same day reads the rolled day from the store.
	fresh, _, _ := devInstruments(t)
	svc := New(Options{Store: h.st, Market: fresh, Clock: h.clock})
	if err := svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	want(fresh, "FPT", "102000", "109100", "94900")
	want(fresh, "ACV", "90800", "104400", "77200")
}

// rollDay: the first record takes the loaded reference; an untraded day
// keeps its reference; HOSE/HNX and the futures roll to the last price,
// UPCoM to the VWAP rounded to the nearest tick (half up).
func TestRollDay(t *testing.T) {
	master, fpt, _ := devInstruments(t)
	acv, _ := master.ByTicker("ACV")
	first := rollDay(store.MarketDay{}, false, fpt, "2026-12-07")
	if !first.Reference.Equal(fpt.ReferencePrice) || first.Traded() || first.Date != "2026-12-07" {
		t.Fatalf("first: %+v", first)
	}
	quiet := rollDay(store.MarketDay{Date: "2026-12-04", Reference: dec("99000")}, true, fpt, "2026-12-07")
	if !quiet.Reference.Equal(dec("99000")) {
		t.Fatalf("untraded: %+v", quiet)
	}
	traded := store.MarketDay{Date: "2026-12-04", Reference: dec("99000"), Last: dec("98500"), Value: dec("36250000"), Volume: 400}
	if d := rollDay(traded, true, fpt, "2026-12-07"); !d.Reference.Equal(dec("98500")) || !d.Value.IsZero() || d.Volume != 0 {
		t.Fatalf("HOSE: %+v", d)
	}
	if d := rollDay(traded, true, acv, "2026-12-07"); !d.Reference.Equal(dec("90600")) { // 90 625 → 90 600
		t.Fatalf("UPCoM: %+v", d)
	}
}
