package pretrade

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// Futures (market.Instrument.IsFuture). A position is the holding's signed
// SellableQty: a buy from flat or long goes long, a sell from flat or short
// goes short (no short-selling flag: shorts are what futures are for). No
// notional changes hands at a fill; cash moves as
//   - initial margin: MarginRate × price × Multiplier per contract that
//     opens or adds to a position, held from cash_available while the
//     position is open (store.Holding.Margin) and released as it closes;
//   - variation margin: at the end of each trading day the position is
//     marked to the settlement price (MarkToMarket) and the day's gain or
//     loss, (SettlementPrice × position − Basis) × Multiplier, is paid in
//     or out of cash_available. Every fill books the same price on both
//     sides, so the day's variations of all accounts sum to zero.
//
// An order holds margin for the contracts it would open: its quantity
// less what it closes of the current position. An order that only closes
// holds nothing.

// CodePositionLimit refuses an order that would take the account's
// position past the instrument's limit (brief §4: position limit 3004).
const CodePositionLimit = 3004

// closable is how many contracts a side's order of qty closes in pos.
func closable(pos int64, side venue.Side, qty int64) int64 {
	if side == venue.Buy && pos < 0 {
		return min(qty, -pos)
	}
	if side == venue.Sell && pos > 0 {
		return min(qty, pos)
	}
	return 0
}

// marginPerContract is the initial margin of one contract at price.
func marginPerContract(inst market.Instrument, price decimal.Decimal) decimal.Decimal {
	return inst.MarginRate.Mul(price).Mul(inst.Multiplier)
}

// holdFuture decides what a futures order reserves: the initial margin of
// the contracts it opens, at its limit price (the ceiling for the unpriced
// types, either side: the dearest margin the order can cost). The margin
// must be in cash_available unless bypass_cash.
func holdFuture(o venue.Order, a store.Account, inst market.Instrument) (HoldResult, *market.Reject) {
	pos, _ := a.Holding(inst.ISIN)
	opening := o.Qty - closable(pos.SellableQty, o.Side, o.Qty)
	h := HoldResult{Symbol: inst.ISIN, Side: o.Side, UnitPrice: marginPerContract(inst, holdPrice(o, inst))}
	h.Cash = h.UnitPrice.Mul(decimal.NewFromInt(opening))
	if h.Cash.GreaterThan(a.CashAvailable) && !a.BypassCash {
		return HoldResult{}, rejectf(CodeInsufficientMargin, fmt.Sprintf(
			"insufficient cash for margin: %d contracts of %s open, %s × %s × %s each needs %s, %s available",
			opening, inst.Ticker, inst.MarginRate, holdPrice(o, inst), inst.Multiplier, h.Cash, a.CashAvailable))
	}
	h.Cash = decimal.Min(h.Cash, decimal.Max(a.CashAvailable, decimal.Zero))
	return h, nil
}

// CheckPositionLimit refuses a futures order that would take the account
// past inst.PositionLimit contracts long or short: its position, plus the
// same side's working orders, plus this order. workingBuy and workingSell
// are the open quantities of the account's other working orders.
func CheckPositionLimit(a store.Account, inst market.Instrument, side venue.Side, qty, workingBuy, workingSell int64) *market.Reject {
	if !inst.IsFuture() || inst.PositionLimit <= 0 {
		return nil
	}
	pos, _ := a.Holding(inst.ISIN)
	long, short := pos.SellableQty+workingBuy, -pos.SellableQty+workingSell
	if side == venue.Buy {
		long += qty
	} else {
		short += qty
	}
	if long > inst.PositionLimit || short > inst.PositionLimit {
		return rejectf(CodePositionLimit, fmt.Sprintf(
			"position limit: %s allows %d contracts long or short per account; position %d, working buys %d, sells %d, this order %s %d",
			inst.Ticker, inst.PositionLimit, pos.SellableQty, workingBuy, workingSell, side, qty))
	}
	return nil
}

// FillAny books a fill on the account as the instrument trades: futures
// by FillFuture, everything else by Fill (settling on due).
func FillAny(a store.Account, h HoldResult, inst market.Instrument, price decimal.Decimal, qty int64, due string) (store.Account, HoldResult, error) {
	if inst.IsFuture() {
		return FillFuture(a, h, inst, price, qty)
	}
	return Fill(a, h, price, qty, due)
}

// FillFuture books one execution of qty contracts at price on the account
// a whose order holds h, and returns the new account and what the order
// still holds. The order's hold is consumed as it fills; the contracts
// that open move margin from cash_available to the position, those that
// close release their share of the position's margin. No notional moves.
func FillFuture(a store.Account, h HoldResult, inst market.Instrument, price decimal.Decimal, qty int64) (store.Account, HoldResult, error) {
	pos, _ := a.Holding(h.Symbol)
	if err := checkFill(a, pos, h, price, qty); err != nil {
		return a, h, err
	}
	out, rest := a, h
	release := decimal.Min(h.UnitPrice.Mul(decimal.NewFromInt(qty)), h.Cash)
	out.CashHold = a.CashHold.Sub(release)
	out.CashAvailable = a.CashAvailable.Add(release)
	rest.Cash = h.Cash.Sub(release)

	closing := closable(pos.SellableQty, h.Side, qty)
	if closing > 0 {
		freed := pos.Margin
		if n := abs(pos.SellableQty); closing < n {
			freed = pos.Margin.Mul(decimal.NewFromInt(closing)).Div(decimal.NewFromInt(n)).RoundDown(0)
		}
		pos.Margin = pos.Margin.Sub(freed)
		out.CashAvailable = out.CashAvailable.Add(freed)
	}
	if opening := qty - closing; opening > 0 {
		m := marginPerContract(inst, price).Mul(decimal.NewFromInt(opening))
		pos.Margin = pos.Margin.Add(m)
		out.CashAvailable = out.CashAvailable.Sub(m)
	}
	signed := qty
	if h.Side == venue.Sell {
		signed = -qty
	}
	pos.AvgPrice = AvgPrice(pos.AvgPrice, pos.SellableQty, signed, price)
	pos.SellableQty += signed
	pos.Basis = pos.Basis.Add(price.Mul(decimal.NewFromInt(signed)))
	out.SetHolding(pos)
	return out, rest, nil
}

// Marked is what one mark-to-market did to one position.
type Marked struct {
	Variation decimal.Decimal // VND paid in (+) or out (−)
	Margin    decimal.Decimal // the position's margin after
	Closed    int64           // contracts closed at expiry (signed)
}

// MarkToMarket marks a's position in inst to the settlement price on
// date: the day's variation is paid into or out of cash_available, the
// initial margin is re-sized to the settlement price, and on expiry the
// position closes (its margin released). ok is false when there is
// nothing to mark: no position and no unsettled basis, or already marked
// on date.
func MarkToMarket(a store.Account, inst market.Instrument, settle decimal.Decimal, date string, expiry bool) (store.Account, Marked, bool) {
	pos, found := a.Holding(inst.ISIN)
	if !found || pos.MarkedOn >= date || (pos.SellableQty == 0 && pos.Basis.IsZero() && pos.Margin.IsZero()) {
		return a, Marked{}, false
	}
	out := a
	n := decimal.NewFromInt(pos.SellableQty)
	m := Marked{Variation: settle.Mul(n).Sub(pos.Basis).Mul(inst.Multiplier)}
	out.CashAvailable = a.CashAvailable.Add(m.Variation)
	target := marginPerContract(inst, settle).Mul(n.Abs())
	if expiry {
		target, m.Closed = decimal.Zero, pos.SellableQty
		pos.SellableQty, pos.AvgPrice = 0, decimal.Zero
	}
	out.CashAvailable = out.CashAvailable.Add(pos.Margin).Sub(target)
	pos.Margin, m.Margin = target, target
	pos.Basis = settle.Mul(decimal.NewFromInt(pos.SellableQty))
	pos.MarkedOn = date
	out.SetHolding(pos)
	return out, m, true
}
