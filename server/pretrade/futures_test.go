package pretrade

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// vn30f is the test future with its contract terms.
func vn30f() market.Instrument {
	in := fut
	in.Multiplier, in.MarginRate, in.PositionLimit = market.DefaultMultiplier, market.DefaultMarginRate, 20
	return in
}

func withPosition(cash string, qty int64, margin string) store.Account {
	a := store.Account{AccountCode: "F1", CashAvailable: d(cash), CashHold: d("0")}
	if qty != 0 {
		a.SetHolding(store.Holding{Symbol: fut.ISIN, SellableQty: qty, AvgPrice: d("1300"), Margin: d(margin),
			Basis: d("1300").Mul(decimal.NewFromInt(qty))})
	}
	return a
}

// An order holds margin for what it opens, not for what it closes: a sell
// of 15 against a long of 10 holds 5 contracts' margin at its price.
func TestFuturesHoldOpensOnly(t *testing.T) {
	in := vn30f()
	a := withPosition("1000000000", 10, "221000000")
	h, r := Hold(venue.Order{Side: venue.Sell, Type: venue.LO, Price: px("1300"), Qty: 15}, a, in, OMSFlags{})
	if r != nil || !h.Cash.Equal(d("110500000")) || h.Stock != 0 { // 0.17 × 1300 × 100 000 × 5
		t.Fatalf("sell 15 against long 10: %+v %v", h, r)
	}
	if h, _ := Hold(venue.Order{Side: venue.Sell, Type: venue.LO, Price: px("1300"), Qty: 10}, a, in, OMSFlags{}); !h.Cash.IsZero() {
		t.Fatalf("a closing sell holds %s", h.Cash)
	}
	poor := withPosition("1000", 0, "0")
	if _, r := Hold(venue.Order{Side: venue.Buy, Type: venue.LO, Price: px("1300"), Qty: 1}, poor, in, OMSFlags{}); r == nil || r.Code != CodeInsufficientMargin {
		t.Fatalf("no margin: %v", r)
	}
	if r := CheckPositionLimit(a, in, venue.Buy, 6, 5, 0); r == nil || r.Code != CodePositionLimit {
		t.Fatalf("10 + 5 working + 6 > 20: %v", r)
	}
	if r := CheckPositionLimit(a, in, venue.Sell, 30, 0, 0); r != nil {
		t.Fatalf("long 10 selling 30 ends short 20, at the limit: %v", r)
	}
}

// A fill that closes part of a position releases that share of its
// margin; one that crosses zero closes the long and opens a short with
// fresh margin at the fill price. Cash never changes hands but margin.
func TestFuturesFillClosesThenOpens(t *testing.T) {
	in := vn30f()
	a := withPosition("1000000000", 3, "66300000") // 0.17 × 1300 × 100 000 × 3
	out, rest, err := FillFuture(a, HoldResult{Symbol: fut.ISIN, Side: venue.Sell}, in, d("1310"), 1)
	if err != nil || !rest.Empty() {
		t.Fatal(err, rest)
	}
	h, _ := out.Holding(fut.ISIN)
	if h.SellableQty != 2 || !h.Margin.Equal(d("44200000")) || !out.CashAvailable.Equal(d("1022100000")) || !h.Basis.Equal(d("2590")) {
		t.Fatalf("close 1 of 3: available %s, %+v", out.CashAvailable, h)
	}
	out, _, err = FillFuture(out, HoldResult{Symbol: fut.ISIN, Side: venue.Sell}, in, d("1320"), 5)
	if err != nil {
		t.Fatal(err)
	}
	h, _ = out.Holding(fut.ISIN)
	// closes 2 (44 200 000 back), opens 3 short: 0.17 × 1320 × 100 000 × 3 = 67 320 000
	if h.SellableQty != -3 || !h.Margin.Equal(d("67320000")) || !out.CashAvailable.Equal(d("998980000")) || !h.AvgPrice.Equal(d("1320")) {
		t.Fatalf("cross zero: available %s, %+v", out.CashAvailable, h)
	}
	total := func(a store.Account) string { return a.CashAvailable.Add(a.CashHold).Add(a.PositionMargin()).String() }
	if total(out) != total(a) {
		t.Fatalf("cash changed hands: %s -> %s", total(a), total(out))
	}
}

// MarkToMarket pays the day's variation and re-sizes the margin; at
// expiry it closes the position and releases the margin; once per date.
func TestMarkToMarket(t *testing.T) {
	in := vn30f()
	a := store.Account{AccountCode: "F1", CashAvailable: d("100000000"), CashHold: d("0")}
	a.SetHolding(store.Holding{Symbol: fut.ISIN, SellableQty: -2, AvgPrice: d("1300"), Margin: d("44200000"), Basis: d("-2600")})
	out, m, ok := MarkToMarket(a, in, d("1290"), "2026-12-10", false)
	h, _ := out.Holding(fut.ISIN)
	// short 2 from 1300 to 1290: +2 000 000; margin 0.17 × 1290 × 100 000 × 2 = 43 860 000
	if !ok || !m.Variation.Equal(d("2000000")) || !h.Margin.Equal(d("43860000")) || !out.CashAvailable.Equal(d("102340000")) || h.MarkedOn != "2026-12-10" {
		t.Fatalf("mark: %+v %+v available %s", m, h, out.CashAvailable)
	}
	if _, _, ok := MarkToMarket(out, in, d("1200"), "2026-12-10", false); ok {
		t.Fatal("marked twice on one date")
	}
	fin, m, ok := MarkToMarket(out, in, d("1295"), "2026-12-11", true)
	if _, found := fin.Holding(fut.ISIN); !ok || found || m.Closed != -2 || !fin.CashAvailable.Equal(d("145200000")) {
		t.Fatalf("expiry: %+v available %s (holding left: %v)", m, fin.CashAvailable, found)
	}
}
