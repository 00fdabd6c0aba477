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
		{"margin not enough", ord(venue.Buy, venue.LO, "100000", 100), account("4999999", 0), margin, CodeInsufficientMargin, "", 0, ""},
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
	bh, r := Hold(bo, buyer, fpt, Flags(nil, "A", "", fpt.ISIN))
	if r != nil {
		t.Fatal(r)
	}
	so := ord(venue.Sell, venue.LO, "99000", 300)
	sh, r := Hold(so, seller, fpt, Flags(nil, "B", "", fpt.ISIN))
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
		buyer, bh, err = Fill(buyer, bh, d(f.price), f.qty, "")
		must(err)
		seller, sh, err = Fill(seller, sh, d(f.price), f.qty, "")
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
	seller, sh2, err = Fill(seller, sh2, d("100000"), 200, "")
	must(err)
	if _, ok := seller.Holding(fpt.ISIN); ok || !sh2.Empty() {
		t.Fatalf("position left after selling all: %+v, hold %+v", seller.Holdings, sh2)
	}
}

func TestApplyReleaseFillRefusals(t *testing.T) {
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
	// Fill refuses only what is a bug, and then changes nothing.
	for name, f := range map[string]struct {
		h     HoldResult
		price string
		qty   int64
	}{
		"fill of 0":                {HoldResult{Symbol: fpt.ISIN, Side: venue.Buy}, "1", 0},
		"fill at 0":                {HoldResult{Symbol: fpt.ISIN, Side: venue.Buy}, "0", 1},
		"negative unit price":      {HoldResult{Symbol: fpt.ISIN, Side: venue.Buy, UnitPrice: d("-1")}, "1", 1},
		"cash the account lacks":   {HoldResult{Symbol: fpt.ISIN, Side: venue.Buy, UnitPrice: d("1"), Cash: d("0.01")}, "1", 1},
		"shares the account lacks": {HoldResult{Symbol: fpt.ISIN, Side: venue.Sell, Stock: 1}, "1", 1},
		"negative stock hold":      {HoldResult{Symbol: fpt.ISIN, Side: venue.Sell, Stock: -1}, "1", 1},
		"hold without a side":      {HoldResult{Symbol: fpt.ISIN}, "1", 1},
	} {
		got, h2, err := Fill(a, f.h, d(f.price), f.qty, "")
		if !errors.Is(err, ErrInvalid) || h2 != f.h {
			t.Fatalf("%s: %v, hold %+v", name, err, h2)
		}
		assertSame(t, got, a)
	}
}

// withPos sets a's FPT position; avg "" means 0.
func withPos(a store.Account, sellable, held int64, avg string) store.Account {
	p := store.Holding{Symbol: fpt.ISIN, SellableQty: sellable, HoldQty: held, AvgPrice: decimal.Zero}
	if avg != "" {
		p.AvgPrice = d(avg)
	}
	a.Holdings = nil
	a.SetHolding(p)
	return a
}

type fillAt struct {
	price string
	qty   int64
}

// TestFillBooksEverything: what Hold lets through without full cover is
// booked in full, leaving cash_available (a loan) or the position (a
// short) negative; fills against a short cover it.
func TestFillBooksEverything(t *testing.T) {
	margin := OMSFlags{MarginAllowed: true, MarginRate: d("0.5")}
	short := OMSFlags{ShortAllowed: true, MarginRate: one}
	noFlags := OMSFlags{MarginRate: one}
	bypassCash := func(a store.Account) store.Account { a.BypassCash = true; return a }
	bypassStock := func(a store.Account) store.Account { a.BypassStock = true; return a }
	shortPos := withPos(account("50000000", 0), -200, 0, "100000")
	for _, c := range []struct {
		name     string
		a        store.Account
		o        venue.Order
		f        OMSFlags
		held     string // cash Hold reserves (buy) or shares (sell)
		fills    []fillAt
		avail    string
		sellable int64
		holdQty  int64
		avg      string // "" when the position is gone
	}{
		{"margin buy of 3 000 FPT beyond cash", account("150000000", 0), ord(venue.Buy, venue.LO, "100000", 3000), margin, "150000000",
			[]fillAt{{"99000", 1000}, {"100000", 2000}}, "-149000000", 3000, 0, "99666.6667"},
		{"bypass_cash buy holding nothing", bypassCash(account("0", 0)), ord(venue.Buy, venue.LO, "100000", 100), noFlags, "0",
			[]fillAt{{"100000", 100}}, "-10000000", 100, 0, "100000"},
		{"bypass_cash buy on a loan", bypassCash(account("-1000000", 0)), ord(venue.Buy, venue.LO, "100000", 10), noFlags, "0",
			[]fillAt{{"99000", 10}}, "-1990000", 10, 0, "99000"},
		{"short sell beyond sellable", account("0", 100), ord(venue.Sell, venue.LO, "100000", 300), short, "100",
			[]fillAt{{"100000", 50}, {"101000", 250}}, "30250000", -200, 0, "101000"},
		{"bypass_stock sell from flat", bypassStock(account("0", 0)), ord(venue.Sell, venue.LO, "100000", 100), noFlags, "0",
			[]fillAt{{"100000", 100}}, "10000000", -100, 0, "100000"},
		{"short sell adds to a short", shortPos, ord(venue.Sell, venue.LO, "97000", 100), short, "0",
			[]fillAt{{"97000", 100}}, "59700000", -300, 0, "99000"},
		{"buy covers part of a short", shortPos, ord(venue.Buy, venue.LO, "99000", 100), noFlags, "9900000",
			[]fillAt{{"98000", 100}}, "40200000", -100, 0, "100000"},
		{"buy covers a short exactly", shortPos, ord(venue.Buy, venue.LO, "99000", 200), noFlags, "19800000",
			[]fillAt{{"98000", 50}, {"98000", 150}}, "30400000", 0, 0, ""},
		{"buy crosses a short", shortPos, ord(venue.Buy, venue.LO, "99000", 300), noFlags, "29700000",
			[]fillAt{{"98000", 100}, {"98500", 200}}, "20500000", 100, 0, "98500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, r := Hold(c.o, c.a, fpt, c.f)
			if r != nil {
				t.Fatal(r)
			}
			if got := h.Cash.Add(decimal.NewFromInt(h.Stock)); !got.Equal(d(c.held)) {
				t.Fatalf("Hold reserves %+v, want %s", h, c.held)
			}
			a, err := Apply(c.a, h)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range c.fills {
				before := a
				if a, h, err = Fill(a, h, d(f.price), f.qty, ""); err != nil {
					t.Fatalf("fill %d@%s: %v", f.qty, f.price, err)
				}
				assertBooked(t, before, a, c.o.Side, d(f.price), f.qty)
			}
			p, ok := a.Holding(fpt.ISIN)
			if !h.Empty() || !a.CashHold.IsZero() || !a.CashAvailable.Equal(d(c.avail)) ||
				p.SellableQty != c.sellable || p.HoldQty != c.holdQty || ok != (c.avg != "") {
				t.Fatalf("after the fills: hold %+v, cash %s/%s, position %+v (%v)", h, a.CashAvailable, a.CashHold, p, ok)
			}
			if ok && !p.AvgPrice.Equal(d(c.avg)) {
				t.Fatalf("avg price %s, want %s", p.AvgPrice, c.avg)
			}
		})
	}
}

// assertBooked: one fill moves exactly price × qty of cash and qty shares.
func assertBooked(t *testing.T, before, after store.Account, side venue.Side, price decimal.Decimal, qty int64) {
	t.Helper()
	cost, shares := price.Mul(decimal.NewFromInt(qty)), qty
	if side == venue.Buy {
		cost = cost.Neg()
	} else {
		shares = -qty
	}
	cash := after.CashAvailable.Add(after.CashHold).Sub(before.CashAvailable.Add(before.CashHold))
	if p, q := pos(after), pos(before); !cash.Equal(cost) || p.SellableQty+p.HoldQty-q.SellableQty-q.HoldQty != shares {
		t.Fatalf("fill of %d@%s moved %s cash and %d shares", qty, price, cash, p.SellableQty+p.HoldQty-q.SellableQty-q.HoldQty)
	}
}

func TestAvgPrice(t *testing.T) {
	for _, c := range []struct {
		name       string
		avg        string
		pos, delta int64
		price      string
		want       string
	}{
		{"buy from flat", "0", 0, 100, "100000", "100000"},
		{"stale average of a flat position ignored", "95000", 0, 100, "100000", "100000"},
		{"buy adds to a long", "95000", 100, 300, "100000", "98750"},
		{"re-weighting rounds half up", "1", 1, 1, "2.0001", "1.5001"},
		{"re-weighting keeps 4 places", "100000", 1, 2, "100000.5", "100000.3333"},
		{"sell reduces a long", "98750", 400, -100, "120000", "98750"},
		{"sell flattens a long", "98750", 400, -400, "120000", "0"},
		{"sell crosses a long", "98750", 400, -500, "101000", "101000"},
		{"sell opens a short", "0", 0, -100, "101000", "101000"},
		{"sell adds to a short", "100000", -200, -100, "97000", "99000"},
		{"buy covers part of a short", "99000", -300, 100, "90000", "99000"},
		{"buy covers a short exactly", "99000", -300, 300, "90000", "0"},
		{"buy crosses a short", "99000", -300, 400, "90000.5", "90000.5"},
	} {
		if got := AvgPrice(d(c.avg), c.pos, c.delta, d(c.price)); !got.Equal(d(c.want)) {
			t.Errorf("%s: AvgPrice(%s, %d, %d, %s) = %s, want %s", c.name, c.avg, c.pos, c.delta, c.price, got, c.want)
		}
	}
}

// TestNegativeBalances: an account already in a loan or a short still
// takes holds, releases and replaces; Hold's refusals are unchanged.
func TestNegativeBalances(t *testing.T) {
	noFlags := OMSFlags{MarginRate: one}
	margin := OMSFlags{MarginAllowed: true, MarginRate: d("0.5")}
	short := OMSFlags{ShortAllowed: true, MarginRate: one}
	loan := account("-5000000", 0)
	buy := ord(venue.Buy, venue.LO, "100000", 10)
	if _, r := Hold(buy, loan, fpt, noFlags); code(r) != CodeInsufficientCash {
		t.Fatalf("buy on a loan: %v", r)
	}
	if _, r := Hold(buy, loan, fpt, margin); code(r) != CodeInsufficientMargin {
		t.Fatalf("margin buy on a loan: %v", r)
	}
	loan.BypassCash = true
	h, r := Hold(buy, loan, fpt, noFlags)
	if r != nil || !h.Cash.IsZero() {
		t.Fatalf("bypass_cash buy on a loan: %+v %v", h, r)
	}
	roundTrip(t, loan, h)
	if _, err := Apply(loan, HoldResult{Symbol: fpt.ISIN, Side: venue.Buy, UnitPrice: d("1"), Cash: d("1")}); !errors.Is(err, ErrNegative) {
		t.Fatalf("cash held from a loan: %v", err)
	}
	// A release returns to a loan, which stays a loan.
	held := loan
	held.CashHold = d("1000000")
	back, err := Release(held, HoldResult{Symbol: fpt.ISIN, Side: venue.Buy, UnitPrice: d("100000"), Cash: d("1000000")})
	if err != nil || !back.CashAvailable.Equal(d("-4000000")) || !back.CashHold.IsZero() {
		t.Fatalf("release onto a loan: %v %s/%s", err, back.CashAvailable, back.CashHold)
	}
	// Resize of a bypassed order on a loan holds nothing again.
	a2, h2, r, err := Resize(loan, h, ord(venue.Buy, venue.LO, "99000", 20), fpt, noFlags)
	if err != nil || r != nil || !h2.Cash.IsZero() {
		t.Fatalf("resize on a loan: %v %v %+v", err, r, h2)
	}
	assertSame(t, a2, loan)

	shorted := withPos(account("0", 0), -200, 50, "100000")
	sell := ord(venue.Sell, venue.LO, "100000", 100)
	if _, r := Hold(sell, shorted, fpt, noFlags); code(r) != CodeInsufficientStock {
		t.Fatalf("sell on a short: %v", r)
	}
	h, r = Hold(sell, shorted, fpt, short)
	if r != nil || h.Stock != 0 {
		t.Fatalf("short sell on a short: %+v %v", h, r)
	}
	roundTrip(t, shorted, h)
	if _, err := Apply(shorted, HoldResult{Symbol: fpt.ISIN, Side: venue.Sell, Stock: 1}); !errors.Is(err, ErrNegative) {
		t.Fatalf("shares held from a short: %v", err)
	}
	back, err = Release(shorted, HoldResult{Symbol: fpt.ISIN, Side: venue.Sell, Stock: 50})
	if p := pos(back); err != nil || p.SellableQty != -150 || p.HoldQty != 0 || !p.AvgPrice.Equal(d("100000")) {
		t.Fatalf("release onto a short: %v %+v", err, p)
	}
}

// roundTrip: Apply then Release of h is the identity on a.
func roundTrip(t *testing.T, a store.Account, h HoldResult) {
	t.Helper()
	held, err := Apply(a, h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Release(held, h)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, back, a)
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
