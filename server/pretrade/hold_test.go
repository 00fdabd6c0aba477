package pretrade

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

func px(s string) venue.Price {
	p, err := venue.ParsePrice(s)
	if err != nil {
		panic(err)
	}
	return p
}

func ord(side venue.Side, typ venue.OrderType, price string, qty int64) venue.Order {
	o := venue.Order{ID: "o", Account: "A", Symbol: "FPT", Side: side, Type: typ, Qty: qty}
	if price != "" {
		o.Price = px(price)
	}
	return o
}

func account(cash string, stock int64) store.Account {
	a := store.Account{AccountCode: "A", CashAvailable: d(cash), CashHold: decimal.Zero}
	if stock > 0 {
		a.SetHolding(store.Holding{Symbol: fpt.ISIN, SellableQty: stock, AvgPrice: d("95000")})
	}
	return a
}

func pos(a store.Account) store.Holding {
	h, _ := a.Holding(fpt.ISIN)
	return h
}

func code(r *market.Reject) int {
	if r == nil {
		return 0
	}
	return r.Code
}

func TestHold(t *testing.T) {
	noFlags := OMSFlags{MarginRate: one}
	margin := OMSFlags{MarginAllowed: true, MarginRate: d("0.5")}
	short := OMSFlags{ShortAllowed: true, MarginRate: one}
	bypassCash := account("1000000", 0)
	bypassCash.BypassCash = true
	bypassStock := account("0", 100)
	bypassStock.BypassStock = true
	for _, c := range []struct {
		name  string
		o     venue.Order
		a     store.Account
		f     OMSFlags
		code  int
		cash  string
		stock int64
		unit  string
	}{
		{"LO buy exactly affordable", ord(venue.Buy, venue.LO, "100000", 100), account("10000000", 0), noFlags, 0, "10000000", 0, "100000"},
		{"LO buy one VND short", ord(venue.Buy, venue.LO, "100000", 100), account("9999999", 0), noFlags, CodeInsufficientCash, "", 0, ""},
		{"MTL buy held at ceiling", ord(venue.Buy, venue.MTL, "", 100), account("20000000", 0), noFlags, 0, "10700000", 0, "107000"},
		{"ATO buy held at ceiling", ord(venue.Buy, venue.ATO, "", 10), account("20000000", 0), noFlags, 0, "1070000", 0, "107000"},
		{"MAK buy price ignored", ord(venue.Buy, venue.MAK, "94000", 100), account("10700000", 0), noFlags, 0, "10700000", 0, "107000"},
		{"MOK buy at ceiling unaffordable", ord(venue.Buy, venue.MOK, "", 100), account("10699999", 0), noFlags, CodeInsufficientCash, "", 0, ""},
		{"fractional price exact", ord(venue.Buy, venue.LO, "1300.1", 3), account("3900.3", 0), noFlags, 0, "3900.3", 0, "1300.1"},
		{"margin covers half", ord(venue.Buy, venue.LO, "100000", 100), account("5000000", 0), margin, 0, "5000000", 0, "100000"},
		{"margin not enough", ord(venue.Buy, venue.LO, "100000", 100), account("4999999", 0), margin, CodeInsufficientCash, "", 0, ""},
		{"margin affordable without loan", ord(venue.Buy, venue.LO, "100000", 100), account("20000000", 0), margin, 0, "10000000", 0, "100000"},
		{"bypass cash holds what there is", ord(venue.Buy, venue.LO, "100000", 100), bypassCash, noFlags, 0, "1000000", 0, "100000"},
		{"sell covered", ord(venue.Sell, venue.LO, "100000", 100), account("0", 300), noFlags, 0, "0", 100, ""},
		{"sell all", ord(venue.Sell, venue.MAK, "", 300), account("0", 300), noFlags, 0, "0", 300, ""},
		{"sell too much", ord(venue.Sell, venue.LO, "100000", 400), account("0", 300), noFlags, CodeInsufficientStock, "", 0, ""},
		{"sell nothing held", ord(venue.Sell, venue.LO, "100000", 100), account("0", 0), noFlags, CodeInsufficientStock, "", 0, ""},
		{"short allowed holds the covered part", ord(venue.Sell, venue.LO, "100000", 400), account("0", 300), short, 0, "0", 300, ""},
		{"bypass stock", ord(venue.Sell, venue.LO, "100000", 400), bypassStock, noFlags, 0, "0", 100, ""},
		{"zero qty", ord(venue.Buy, venue.LO, "100000", 0), account("1", 0), noFlags, CodeInvalidOrder, "", 0, ""},
		{"no side", ord(venue.SideNone, venue.LO, "100000", 100), account("1", 0), noFlags, CodeInvalidOrder, "", 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, r := Hold(c.o, c.a, fpt, c.f)
			if code(r) != c.code {
				t.Fatalf("Hold reject = %v, want code %d", r, c.code)
			}
			if r != nil {
				if r.Message == "" {
					t.Fatal("reject without a message")
				}
				return
			}
			if !h.Cash.Equal(d(c.cash)) || h.Stock != c.stock || h.Symbol != fpt.ISIN || h.Side != c.o.Side {
				t.Fatalf("Hold = %+v (cash %s), want cash %s stock %d", h, h.Cash, c.cash, c.stock)
			}
			if c.unit != "" && !h.UnitPrice.Equal(d(c.unit)) {
				t.Fatalf("unit price %s, want %s", h.UnitPrice, c.unit)
			}
			// Apply then Release is the identity.
			held, err := Apply(c.a, h)
			if err != nil {
				t.Fatal(err)
			}
			if !held.CashHold.Equal(c.a.CashHold.Add(h.Cash)) || !held.CashAvailable.Equal(c.a.CashAvailable.Sub(h.Cash)) {
				t.Fatalf("Apply cash: %s/%s", held.CashAvailable, held.CashHold)
			}
			if pos(held).HoldQty != pos(c.a).HoldQty+h.Stock || pos(held).SellableQty != pos(c.a).SellableQty-h.Stock {
				t.Fatalf("Apply stock: %+v", pos(held))
			}
			back, err := Release(held, h)
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, back, c.a)
		})
	}
}

func assertSame(t *testing.T, got, want store.Account) {
	t.Helper()
	if !got.CashAvailable.Equal(want.CashAvailable) || !got.CashHold.Equal(want.CashHold) {
		t.Fatalf("cash %s/%s, want %s/%s", got.CashAvailable, got.CashHold, want.CashAvailable, want.CashHold)
	}
	if len(got.Holdings) != len(want.Holdings) {
		t.Fatalf("holdings %+v, want %+v", got.Holdings, want.Holdings)
	}
	for i := range got.Holdings {
		g, w := got.Holdings[i], want.Holdings[i]
		if g.Symbol != w.Symbol || g.SellableQty != w.SellableQty || g.HoldQty != w.HoldQty || !g.AvgPrice.Equal(w.AvgPrice) {
			t.Fatalf("holding %+v, want %+v", g, w)
		}
	}
}

func TestApplyReleaseNeverNegative(t *testing.T) {
	a := account("100", 10)
	h := HoldResult{Symbol: fpt.ISIN, Side: venue.Buy, UnitPrice: d("1"), Cash: d("100.01")}
	if got, err := Apply(a, h); !errors.Is(err, ErrNegative) {
		t.Fatalf("Apply beyond cash: %v", err)
	} else {
		assertSame(t, got, a)
	}
	if _, err := Release(a, HoldResult{Symbol: fpt.ISIN, Side: venue.Buy, Cash: d("0.01")}); !errors.Is(err, ErrNegative) {
		t.Fatalf("Release of an absent cash hold: %v", err)
	}
	if _, err := Apply(a, HoldResult{Symbol: fpt.ISIN, Side: venue.Sell, Stock: 11}); !errors.Is(err, ErrNegative) {
		t.Fatalf("Apply beyond stock: %v", err)
	}
	if _, err := Release(a, HoldResult{Symbol: fpt.ISIN, Side: venue.Sell, Stock: 1}); !errors.Is(err, ErrNegative) {
		t.Fatalf("Release of an absent stock hold: %v", err)
	}
	if _, err := Apply(a, HoldResult{Symbol: fpt.ISIN, Side: venue.Sell, Stock: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative hold: %v", err)
	}
	if _, err := Apply(a, HoldResult{Symbol: fpt.ISIN, Cash: d("1")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("hold without a side: %v", err)
	}
	if _, _, err := Fill(a, HoldResult{Symbol: fpt.ISIN, Side: venue.Buy}, d("1"), 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("fill of 0: %v", err)
	}
	if _, _, err := Fill(a, HoldResult{Symbol: fpt.ISIN, Side: venue.Buy}, d("0"), 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("fill at 0: %v", err)
	}
}

// TestBuySellRoundTrip: A buys 300 FPT in three fills below its limit and
// cancels the rest, B sells them out of its holding; cash and stock are
// conserved exactly and every hold ends at zero.
func TestBuySellRoundTrip(t *testing.T) {
	buyer := account("50000000", 0)
	buyer.AccountCode = "A"
	seller := account("1000", 500)
	seller.AccountCode = "B"
	totalCash := buyer.CashAvailable.Add(seller.CashAvailable)

	bo := ord(venue.Buy, venue.LO, "100000", 400)
	bh, r := Hold(bo, buyer, fpt, Flags(nil, "A", fpt.ISIN))
	if r != nil {
		t.Fatal(r)
	}
	so := ord(venue.Sell, venue.LO, "99000", 300)
	sh, r := Hold(so, seller, fpt, Flags(nil, "B", fpt.ISIN))
	if r != nil {
		t.Fatal(r)
	}
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	buyer, err = Apply(buyer, bh)
	must(err)
	seller, err = Apply(seller, sh)
	must(err)
	if !buyer.CashHold.Equal(d("40000000")) || !buyer.CashAvailable.Equal(d("10000000")) {
		t.Fatalf("buyer after hold: %s/%s", buyer.CashAvailable, buyer.CashHold)
	}
	if p := pos(seller); p.SellableQty != 200 || p.HoldQty != 300 {
		t.Fatalf("seller after hold: %+v", p)
	}
	for _, f := range []struct {
		price string
		qty   int64
	}{{"99000", 100}, {"99500.5", 150}, {"100000", 50}} {
		buyer, bh, err = Fill(buyer, bh, d(f.price), f.qty)
		must(err)
		seller, sh, err = Fill(seller, sh, d(f.price), f.qty)
		must(err)
		if sum := buyer.CashAvailable.Add(buyer.CashHold).Add(seller.CashAvailable).Add(seller.CashHold); !sum.Equal(totalCash) {
			t.Fatalf("cash not conserved: %s, want %s", sum, totalCash)
		}
	}
	// 100×99000 + 150×99500.5 + 50×100000 = 9 900 000 + 14 925 075 + 5 000 000.
	paid := d("29825075")
	if !sh.Empty() {
		t.Fatalf("seller hold left: %+v", sh)
	}
	if !bh.Cash.Equal(d("10000000")) {
		t.Fatalf("buyer hold left %s, want the 100 unfilled at 100000", bh.Cash)
	}
	buyer, err = Release(buyer, bh)
	must(err)
	if !buyer.CashHold.IsZero() || !buyer.CashAvailable.Equal(d("50000000").Sub(paid)) {
		t.Fatalf("buyer cash %s/%s", buyer.CashAvailable, buyer.CashHold)
	}
	if !seller.CashHold.IsZero() || !seller.CashAvailable.Equal(d("1000").Add(paid)) {
		t.Fatalf("seller cash %s/%s", seller.CashAvailable, seller.CashHold)
	}
	if p := pos(buyer); p.SellableQty != 300 || p.HoldQty != 0 || !p.AvgPrice.Equal(d("99416.9167")) {
		t.Fatalf("buyer position %+v (avg %s)", p, p.AvgPrice)
	}
	if p := pos(seller); p.SellableQty != 200 || p.HoldQty != 0 || !p.AvgPrice.Equal(d("95000")) {
		t.Fatalf("seller position %+v", p)
	}
	// Selling the rest removes the position.
	sh2, r := Hold(ord(venue.Sell, venue.LO, "100000", 200), seller, fpt, OMSFlags{MarginRate: one})
	if r != nil {
		t.Fatal(r)
	}
	seller, err = Apply(seller, sh2)
	must(err)
	seller, sh2, err = Fill(seller, sh2, d("100000"), 200)
	must(err)
	if _, ok := seller.Holding(fpt.ISIN); ok || !sh2.Empty() {
		t.Fatalf("position left after selling all: %+v, hold %+v", seller.Holdings, sh2)
	}
}

// TestUncoveredFills: a bypassed or short order reserves only what the
// account has; a fill beyond it fails with ErrNegative and changes nothing,
// one within it goes through.
func TestUncoveredFills(t *testing.T) {
	a := account("1000000", 0)
	a.BypassCash = true
	h, r := Hold(ord(venue.Buy, venue.LO, "100000", 100), a, fpt, OMSFlags{MarginRate: one})
	if r != nil {
		t.Fatal(r)
	}
	a, err := Apply(a, h)
	if err != nil {
		t.Fatal(err)
	}
	if got, h2, err := Fill(a, h, d("100000"), 11); !errors.Is(err, ErrNegative) || !h2.Cash.Equal(h.Cash) {
		t.Fatalf("uncovered buy fill: %v", err)
	} else {
		assertSame(t, got, a)
	}
	a, h, err = Fill(a, h, d("100000"), 10)
	if err != nil || !a.CashAvailable.IsZero() || !a.CashHold.IsZero() || !h.Empty() {
		t.Fatalf("covered part: %v %s/%s %+v", err, a.CashAvailable, a.CashHold, h)
	}

	s := account("0", 100)
	h, r = Hold(ord(venue.Sell, venue.LO, "100000", 300), s, fpt, OMSFlags{ShortAllowed: true, MarginRate: one})
	if r != nil || h.Stock != 100 {
		t.Fatalf("short hold %+v %v", h, r)
	}
	s, err = Apply(s, h)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := Fill(s, h, d("100000"), 101); !errors.Is(err, ErrNegative) {
		t.Fatalf("uncovered sell fill: %v", err)
	} else {
		assertSame(t, got, s)
	}
}

func TestResize(t *testing.T) {
	a := account("30000000", 0)
	flags := OMSFlags{MarginRate: one}
	h, r := Hold(ord(venue.Buy, venue.LO, "100000", 200), a, fpt, flags)
	if r != nil {
		t.Fatal(r)
	}
	a, err := Apply(a, h)
	if err != nil {
		t.Fatal(err)
	}
	// Up to 300 at the same price: the whole balance is needed and there.
	a2, h2, r, err := Resize(a, h, ord(venue.Buy, venue.LO, "100000", 300), fpt, flags)
	if err != nil || r != nil || !h2.Cash.Equal(d("30000000")) || !a2.CashAvailable.IsZero() || !a2.CashHold.Equal(d("30000000")) {
		t.Fatalf("resize up: %v %v %+v %s/%s", err, r, h2, a2.CashAvailable, a2.CashHold)
	}
	// Beyond the balance: refused, nothing changes.
	a3, h3, r, err := Resize(a2, h2, ord(venue.Buy, venue.LO, "100100", 300), fpt, flags)
	if err != nil || code(r) != CodeInsufficientCash || !h3.Cash.Equal(h2.Cash) {
		t.Fatalf("resize beyond cash: %v %v %+v", err, r, h3)
	}
	assertSame(t, a3, a2)
	// Down to 100: the rest comes back.
	a4, h4, r, err := Resize(a2, h2, ord(venue.Buy, venue.LO, "99000", 100), fpt, flags)
	if err != nil || r != nil || !h4.Cash.Equal(d("9900000")) || !a4.CashAvailable.Equal(d("20100000")) {
		t.Fatalf("resize down: %v %v %+v %s", err, r, h4, a4.CashAvailable)
	}
	if _, _, _, err := Resize(a4, h4, ord(venue.Sell, venue.LO, "99000", 100), fpt, flags); !errors.Is(err, ErrInvalid) {
		t.Fatalf("side change: %v", err)
	}
}
