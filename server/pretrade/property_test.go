package pretrade

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// The property test drives two accounts through seeded random sequences of
// new orders (hold + apply), replaces (Resize), partial fills between a buy and a sell (any
// two open orders that cross, the same account included), and cancels
// (release), and checks after every step that:
//   - no cash_hold, hold_qty or average price is negative, and a flat
//     position's average price is 0;
//   - cash_available is negative only on an account that has had a fill of
//     a buy its hold did not cover (margin, bypass_cash: a loan),
//     sellable_qty only on one that has had such a sell (short selling,
//     bypass_stock: a short);
//   - each account's cash_hold and hold_qty equal the sum of its open
//     orders' holds, and a fully covered order holds exactly its rest
//     (UnitPrice × leaves for a buy, leaves shares for a sell);
//   - total cash and total stock across the accounts are conserved, and
//     each fill moves exactly price × qty and qty shares on each side;
//   - Hold refuses exactly the orders the account cannot cover;
//   - a fill never fails, and one of a covered order never lowers the free
//     balance it is covered by (cash_available, sellable_qty);
//
// and at the end, once the open orders are cancelled, that every hold has
// been released or consumed: both accounts hold no cash and no stock.

const (
	propSeeds = 200
	propOps   = 300
)

type propOrder struct {
	acct    int
	o       venue.Order
	limit   decimal.Decimal // sell limit (the floor for market sells)
	leaves  int64
	hold    HoldResult
	covered bool
}

type propRun struct {
	t      *testing.T
	rng    *rand.Rand
	accts  [2]store.Account
	flags  [2]OMSFlags
	open   []*propOrder
	cash0  decimal.Decimal
	stock0 int64
	step   string
	fills  int
	stats  *propStats
	// loan and short record that an account has had a fill of a buy or a
	// sell its hold did not cover: only then may its free balance be
	// negative.
	loan, short [2]bool
}

type propStats struct{ orders, rejects, fills, loans, shorts, cancels, replaces int }

func (p *propRun) fatalf(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("%s: "+format, append([]any{p.step}, args...)...)
}

func (p *propRun) price() decimal.Decimal {
	v := fpt.Floor.Add(decimal.NewFromInt(100 * p.rng.Int64N(141)))
	if p.rng.IntN(10) == 0 {
		v = v.Add(d("0.25"))
	}
	return v
}

func (p *propRun) totals() (decimal.Decimal, int64) {
	cash, stock := decimal.Zero, int64(0)
	for _, a := range p.accts {
		cash = cash.Add(a.CashAvailable).Add(a.CashHold)
		for _, h := range a.Holdings {
			stock += h.SellableQty + h.HoldQty
		}
	}
	return cash, stock
}

func (p *propRun) check() {
	p.t.Helper()
	var wantHold [2]decimal.Decimal
	var wantQty [2]int64
	for _, o := range p.open {
		if o.hold.Cash.IsNegative() || o.hold.Stock < 0 || o.leaves <= 0 {
			p.fatalf("order %s: hold %+v leaves %d", o.o.ID, o.hold, o.leaves)
		}
		wantHold[o.acct] = wantHold[o.acct].Add(o.hold.Cash)
		wantQty[o.acct] += o.hold.Stock
		if o.covered {
			switch o.o.Side {
			case venue.Buy:
				if want := o.hold.UnitPrice.Mul(decimal.NewFromInt(o.leaves)); !o.hold.Cash.Equal(want) {
					p.fatalf("order %s holds %s, want %s for %d left", o.o.ID, o.hold.Cash, want, o.leaves)
				}
			case venue.Sell:
				if o.hold.Stock != o.leaves {
					p.fatalf("order %s holds %d shares, want %d", o.o.ID, o.hold.Stock, o.leaves)
				}
			}
		}
	}
	for i, a := range p.accts {
		if a.CashHold.IsNegative() || (a.CashAvailable.IsNegative() && !p.loan[i]) {
			p.fatalf("account %d cash %s/%s", i, a.CashAvailable, a.CashHold)
		}
		if !a.CashHold.Equal(wantHold[i]) {
			p.fatalf("account %d cash_hold %s, open orders hold %s", i, a.CashHold, wantHold[i])
		}
		pos := pos(a)
		if pos.HoldQty < 0 || (pos.SellableQty < 0 && !p.short[i]) || pos.AvgPrice.IsNegative() ||
			(pos.SellableQty+pos.HoldQty == 0 && !pos.AvgPrice.IsZero()) {
			p.fatalf("account %d position %+v", i, pos)
		}
		if pos.HoldQty != wantQty[i] {
			p.fatalf("account %d hold_qty %d, open orders hold %d", i, pos.HoldQty, wantQty[i])
		}
	}
	cash, stock := p.totals()
	if !cash.Equal(p.cash0) || stock != p.stock0 {
		p.fatalf("totals cash %s stock %d, want %s %d", cash, stock, p.cash0, p.stock0)
	}
}

func (p *propRun) newOrder(n int) {
	i := p.rng.IntN(2)
	a := p.accts[i]
	side := venue.Buy
	if p.rng.IntN(2) == 0 {
		side = venue.Sell
	}
	typ := []venue.OrderType{venue.LO, venue.LO, venue.LO, venue.MTL, venue.MAK, venue.ATO}[p.rng.IntN(6)]
	qty := 1 + p.rng.Int64N(600)
	o := venue.Order{ID: fmt.Sprintf("o%d", n), Account: a.AccountCode, Symbol: fpt.Ticker, Side: side, Type: typ, Qty: qty}
	limit := fpt.Floor
	if typ == venue.LO {
		limit = p.price()
		pr, err := venue.PriceFromDecimal(limit)
		if err != nil {
			p.fatalf("price: %v", err)
		}
		o.Price = pr
	}
	p.step = fmt.Sprintf("new %s acct %d %s %s %d@%s", o.ID, i, side, typ, qty, limit)
	h, r := Hold(o, a, fpt, p.flags[i])
	coverable, covered := p.oracle(i, a, o, limit, r)
	if coverable != (r == nil) {
		p.fatalf("Hold = %+v, %v; want accepted=%v", h, r, coverable)
	}
	p.stats.orders++
	if r != nil {
		p.stats.rejects++
		return
	}
	na, err := Apply(a, h)
	if err != nil {
		p.fatalf("Apply: %v", err)
	}
	p.accts[i] = na
	p.open = append(p.open, &propOrder{acct: i, o: o, limit: limit, leaves: qty, hold: h, covered: covered})
}

// oracle decides independently of Hold whether account i (in state a)
// can take order o at limit, and whether it covers it fully.
func (p *propRun) oracle(i int, a store.Account, o venue.Order, limit decimal.Decimal, r *market.Reject) (coverable, covered bool) {
	switch o.Side {
	case venue.Buy:
		unit := limit
		if o.Type != venue.LO {
			unit = fpt.Ceiling
		}
		value := unit.Mul(decimal.NewFromInt(o.Qty))
		covered = value.LessThanOrEqual(a.CashAvailable)
		coverable = covered || a.BypassCash ||
			(p.flags[i].MarginAllowed && value.Mul(p.flags[i].MarginRate).LessThanOrEqual(a.CashAvailable))
		if r != nil && r.Code != CodeInsufficientCash && r.Code != CodeInsufficientMargin {
			p.fatalf("reject %v", r)
		}
	case venue.Sell:
		covered = o.Qty <= pos(a).SellableQty
		coverable = covered || a.BypassStock || p.flags[i].ShortAllowed
		if r != nil && r.Code != CodeInsufficientStock {
			p.fatalf("reject %v", r)
		}
	}
	return coverable, covered
}

// replace changes an open order's open quantity (and an LO's price) and
// re-reserves with Resize.
func (p *propRun) replace() {
	if len(p.open) == 0 {
		return
	}
	o := p.open[p.rng.IntN(len(p.open))]
	no := o.o
	no.Qty = 1 + p.rng.Int64N(600)
	limit := o.limit
	if no.Type == venue.LO {
		limit = p.price()
		pr, err := venue.PriceFromDecimal(limit)
		if err != nil {
			p.fatalf("price: %v", err)
		}
		no.Price = pr
	}
	p.step = fmt.Sprintf("replace %s acct %d %s %d@%s -> %d@%s", o.o.ID, o.acct, o.o.Side, o.leaves, o.limit, no.Qty, limit)
	a := p.accts[o.acct]
	freed, err := Release(a, o.hold)
	if err != nil {
		p.fatalf("Release: %v", err)
	}
	na, nh, r, err := Resize(a, o.hold, no, fpt, p.flags[o.acct])
	if err != nil {
		p.fatalf("Resize: %v", err)
	}
	coverable, covered := p.oracle(o.acct, freed, no, limit, r)
	if coverable != (r == nil) {
		p.fatalf("Resize = %+v, %v; want accepted=%v", nh, r, coverable)
	}
	p.stats.replaces++
	if r != nil {
		if !nh.Cash.Equal(o.hold.Cash) || nh.Stock != o.hold.Stock || !na.CashHold.Equal(a.CashHold) {
			p.fatalf("rejected Resize changed something")
		}
		return
	}
	p.accts[o.acct] = na
	o.o, o.limit, o.leaves, o.hold, o.covered = no, limit, no.Qty, nh, covered
}

func (p *propRun) remove(o *propOrder) {
	for k, x := range p.open {
		if x == o {
			p.open = append(p.open[:k], p.open[k+1:]...)
			return
		}
	}
}

func (p *propRun) pick(side venue.Side) *propOrder {
	var c []*propOrder
	for _, o := range p.open {
		if o.o.Side == side {
			c = append(c, o)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[p.rng.IntN(len(c))]
}

func (p *propRun) fill() {
	b, s := p.pick(venue.Buy), p.pick(venue.Sell)
	if b == nil || s == nil || s.limit.GreaterThan(b.hold.UnitPrice) {
		return
	}
	// A price between the sell limit and the buy's hold price, exact.
	price := s.limit.Add(b.hold.UnitPrice.Sub(s.limit).Mul(decimal.NewFromInt(p.rng.Int64N(5))).Div(decimal.NewFromInt(4)))
	qty := 1 + p.rng.Int64N(min(b.leaves, s.leaves))
	p.step = fmt.Sprintf("fill %s(acct %d)/%s(acct %d) %d@%s", b.o.ID, b.acct, s.o.ID, s.acct, qty, price)

	b.hold = p.book(b, price, qty)
	s.hold = p.book(s, price, qty)
	p.fills++
	p.stats.fills++
	b.leaves -= qty
	s.leaves -= qty
	for _, o := range []*propOrder{b, s} {
		if o.leaves == 0 {
			if !o.hold.Empty() {
				p.fatalf("order %s filled with %+v still held", o.o.ID, o.hold)
			}
			p.remove(o)
		}
	}
}

// book fills qty of o at price on its account and checks the movement:
// exactly price × qty and qty shares, and a covered order does not dip
// into the free balance.
func (p *propRun) book(o *propOrder, price decimal.Decimal, qty int64) HoldResult {
	before := p.accts[o.acct]
	after, rest, err := Fill(before, o.hold, price, qty, "")
	if err != nil {
		p.fatalf("%s fill of %s: %v", o.o.Side, o.o.ID, err)
	}
	p.accts[o.acct] = after
	cash := after.CashAvailable.Add(after.CashHold).Sub(before.CashAvailable.Add(before.CashHold))
	b, a := pos(before), pos(after)
	shares := a.SellableQty + a.HoldQty - b.SellableQty - b.HoldQty
	cost := price.Mul(decimal.NewFromInt(qty))
	switch o.o.Side {
	case venue.Buy:
		if !cash.Equal(cost.Neg()) || shares != qty {
			p.fatalf("buy fill moved %s cash, %d shares", cash, shares)
		}
		if o.covered && after.CashAvailable.LessThan(before.CashAvailable) {
			p.fatalf("covered buy %s took cash_available %s to %s", o.o.ID, before.CashAvailable, after.CashAvailable)
		}
		p.loan[o.acct] = p.loan[o.acct] || !o.covered
		if after.CashAvailable.IsNegative() {
			p.stats.loans++
		}
	case venue.Sell:
		if !cash.Equal(cost) || shares != -qty {
			p.fatalf("sell fill moved %s cash, %d shares", cash, shares)
		}
		if o.covered && a.SellableQty != b.SellableQty {
			p.fatalf("covered sell %s took sellable_qty %d to %d", o.o.ID, b.SellableQty, a.SellableQty)
		}
		p.short[o.acct] = p.short[o.acct] || !o.covered
		if a.SellableQty < 0 {
			p.stats.shorts++
		}
	}
	return rest
}

func (p *propRun) cancel() {
	if len(p.open) == 0 {
		return
	}
	o := p.open[p.rng.IntN(len(p.open))]
	p.step = fmt.Sprintf("cancel %s acct %d %+v", o.o.ID, o.acct, o.hold)
	na, err := Release(p.accts[o.acct], o.hold)
	if err != nil {
		p.fatalf("Release: %v", err)
	}
	p.accts[o.acct] = na
	p.remove(o)
	p.stats.cancels++
}

func randAccount(rng *rand.Rand, code string) store.Account {
	a := store.Account{AccountCode: code, CashAvailable: decimal.NewFromInt(rng.Int64N(60_000_000))}
	if rng.IntN(3) == 0 {
		a.CashAvailable = a.CashAvailable.Add(d("0.5"))
	}
	if n := rng.Int64N(1500); n > 0 {
		a.SetHolding(store.Holding{Symbol: fpt.ISIN, SellableQty: n, AvgPrice: d("97000")})
	}
	return a
}

func TestPropertyHoldsAndFills(t *testing.T) {
	var st propStats
	defer func() {
		t.Logf("%d orders (%d refused by Hold), %d fills (%d sides left in a loan, %d in a short), %d replaces, %d cancels",
			st.orders, st.rejects, st.fills, st.loans, st.shorts, st.replaces, st.cancels)
	}()
	for seed := range uint64(propSeeds) {
		rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		p := &propRun{t: t, rng: rng, step: "setup", stats: &st}
		for i, code := range []string{"A", "B"} {
			p.accts[i] = randAccount(rng, code)
			p.flags[i] = OMSFlags{MarginRate: one}
			// One seed in four gives an account an uncovered path.
			switch rng.IntN(8) {
			case 0:
				p.accts[i].BypassCash = true
			case 1:
				p.accts[i].BypassStock = true
			case 2:
				p.flags[i] = OMSFlags{MarginAllowed: true, MarginRate: d("0.5")}
			case 3:
				p.flags[i].ShortAllowed = true
			}
		}
		p.cash0, p.stock0 = p.totals()
		for n := range propOps {
			switch k := rng.IntN(10); {
			case k < 4:
				p.newOrder(n)
			case k < 8:
				p.fill()
			case k < 9:
				p.replace()
			default:
				p.cancel()
			}
			p.check()
		}
		for len(p.open) > 0 {
			p.cancel()
			p.check()
		}
		for i, a := range p.accts {
			if !a.CashHold.IsZero() || pos(a).HoldQty != 0 {
				t.Fatalf("seed %d: account %d still holds %s cash, %d shares", seed, i, a.CashHold, pos(a).HoldQty)
			}
		}
		if p.fills == 0 {
			t.Fatalf("seed %d: no fill happened", seed)
		}
	}
	if st.loans == 0 || st.shorts == 0 {
		t.Fatalf("no fill left a loan (%d) or a short (%d): the uncovered paths went untested", st.loans, st.shorts)
	}
}
