package pretrade

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// AvgPriceScale is the number of decimal places a holding's average price
// is rounded to (half up) when a buy fill re-weights it; the same scale as
// venue prices. Cash amounts are never rounded.
const AvgPriceScale = venue.PriceScale

// HoldResult is what one order reserves on its account, and, as fills and
// releases consume it, what it still reserves. The trading service keeps
// it with the order and hands it back to Fill and Release.
//
// A buy reserves Cash = UnitPrice × qty when the account can pay for the
// whole order. A sell reserves Stock = qty shares of Symbol. When a check
// is bypassed (bypass_cash / bypass_stock) or a flag lets an order through
// without full cover (margin, short), only the covered part is reserved
// (what is left of cash_available, of sellable_qty, never below zero); a
// fill takes the rest from the account's free balance even when that makes
// it negative: a negative cash_available is the buyer's loan, a negative
// position a short. The venue has traded by then, so the store must book
// it; the business rule is Hold's, before the order reaches the venue.
type HoldResult struct {
	Symbol string // ISIN, the key of the account's holdings
	Side   venue.Side
	// UnitPrice is a buy's hold price per share: the limit price, or the
	// ceiling for the types without one (ATO, ATC, MTL, MAK, MOK).
	UnitPrice decimal.Decimal
	Cash      decimal.Decimal // cash reserved (buy)
	Stock     int64           // shares reserved (sell)
}

// Empty reports whether the hold reserves nothing any more.
func (h HoldResult) Empty() bool { return h.Cash.IsZero() && h.Stock == 0 }

// holdPrice is the price a buy is held at.
func holdPrice(o venue.Order, inst market.Instrument) decimal.Decimal {
	if o.Type == venue.LO && o.Price > 0 {
		return o.Price.Decimal()
	}
	return inst.Ceiling
}

// Hold decides what order o of account a on inst reserves (brief §4 step
// 10, after the restriction rules). A buy needs price × qty of
// cash_available (the ceiling for unpriced types); with margin allowed it
// needs only MarginRate of that; with bypass_cash nothing. A sell needs qty
// sellable shares, unless bypass_stock or short selling is allowed.
// Refusals are -913018 (cash) and 3011 (stock). Hold does not change the
// account: Apply does.
func Hold(o venue.Order, a store.Account, inst market.Instrument, f OMSFlags) (HoldResult, *market.Reject) {
	if o.Qty <= 0 {
		return HoldResult{}, rejectf(CodeInvalidOrder, fmt.Sprintf("order quantity must be > 0, got %d", o.Qty))
	}
	if inst.IsFuture() && (o.Side == venue.Buy || o.Side == venue.Sell) {
		return holdFuture(o, a, inst)
	}
	h := HoldResult{Symbol: inst.ISIN, Side: o.Side}
	switch o.Side {
	case venue.Buy:
		h.UnitPrice = holdPrice(o, inst)
		if !h.UnitPrice.IsPositive() {
			return HoldResult{}, rejectf(CodeInvalidOrder, fmt.Sprintf("no price to hold cash at for %s %s", o.Type, inst.Ticker))
		}
		value := h.UnitPrice.Mul(decimal.NewFromInt(o.Qty))
		avail := a.CashAvailable
		switch {
		case value.LessThanOrEqual(avail):
			h.Cash = value
			return h, nil
		case a.BypassCash:
		case f.MarginAllowed && value.Mul(f.MarginRate).LessThanOrEqual(avail):
		case f.MarginAllowed:
			return HoldResult{}, rejectf(CodeInsufficientMargin, fmt.Sprintf(
				"insufficient cash: the order needs %s (%s × %d at margin rate %s), %s available",
				value.Mul(f.MarginRate), h.UnitPrice, o.Qty, f.MarginRate, avail))
		default:
			return HoldResult{}, rejectf(CodeInsufficientCash, fmt.Sprintf(
				"insufficient cash: the order needs %s (%s × %d), %s available", value, h.UnitPrice, o.Qty, avail))
		}
		h.Cash = decimal.Max(avail, decimal.Zero)
		return h, nil
	case venue.Sell:
		pos, _ := a.Holding(inst.ISIN)
		switch {
		case o.Qty <= pos.SellableQty:
			h.Stock = o.Qty
			return h, nil
		case a.BypassStock, f.ShortAllowed:
			h.Stock = max(pos.SellableQty, 0)
			return h, nil
		}
		return HoldResult{}, rejectf(CodeInsufficientStock, fmt.Sprintf(
			"insufficient stock: selling %d %s, %d sellable", o.Qty, inst.Ticker, pos.SellableQty))
	}
	return HoldResult{}, rejectf(CodeInvalidOrder, fmt.Sprintf("order side must be buy or sell, got %s", o.Side))
}

func negative(what string, v any) error {
	return fmt.Errorf("%w: %s would be %v", ErrNegative, what, v)
}

func checkHold(h HoldResult) error {
	if h.Cash.IsNegative() || h.Stock < 0 {
		return fmt.Errorf("%w: negative hold (cash %s, stock %d)", ErrInvalid, h.Cash, h.Stock)
	}
	if h.Side != venue.Buy && h.Side != venue.Sell {
		return fmt.Errorf("%w: hold side %s", ErrInvalid, h.Side)
	}
	return nil
}

// Apply reserves h on a: cash_available − Cash, cash_hold + Cash for a
// buy; sellable_qty − Stock, hold_qty + Stock for a sell. It returns the
// new account; a is not modified. Reserving more than is free fails with
// ErrNegative (Hold never asks for it); an empty hold applies to any
// account, one whose free balance is already negative included.
func Apply(a store.Account, h HoldResult) (store.Account, error) {
	return move(a, h, 1)
}

// Release gives h back to a (the reverse of Apply): cancel, reject,
// expiry or the unfilled rest of an IOC/FOK order. It returns the new
// account; a is not modified. Releasing more than is held fails with
// ErrNegative; the free balance it returns to may stay negative (a loan or
// a short booked by Fill).
func Release(a store.Account, h HoldResult) (store.Account, error) {
	return move(a, h, -1)
}

// move moves h from free to held (dir 1) or back (dir -1). The side the
// amount leaves must cover it. Only the free side may be negative before
// or after: Fill books loans and shorts there, holds never go negative.
func move(a store.Account, h HoldResult, dir int64) (store.Account, error) {
	if err := checkHold(h); err != nil {
		return a, err
	}
	out := a
	cash := h.Cash.Mul(decimal.NewFromInt(dir))
	out.CashAvailable = a.CashAvailable.Sub(cash)
	out.CashHold = a.CashHold.Add(cash)
	if dir > 0 && h.Cash.IsPositive() && out.CashAvailable.IsNegative() {
		return a, negative("cash_available", out.CashAvailable)
	}
	if out.CashHold.IsNegative() {
		return a, negative("cash_hold", out.CashHold)
	}
	if h.Stock != 0 {
		pos, _ := a.Holding(h.Symbol)
		pos.SellableQty -= dir * h.Stock
		pos.HoldQty += dir * h.Stock
		if dir > 0 && pos.SellableQty < 0 {
			return a, negative("sellable_qty of "+h.Symbol, pos.SellableQty)
		}
		if pos.HoldQty < 0 {
			return a, negative("hold_qty of "+h.Symbol, pos.HoldQty)
		}
		out.SetHolding(pos)
	}
	return out, nil
}

// Fill books one execution of qty at price on the account a whose order
// holds h, and returns the new account and what the order still holds.
// The venue has traded, so Fill never refuses for want of cash or shares.
//
// Buyer: UnitPrice × qty (at most what is still held) leaves cash_hold,
// price × qty is paid and the difference returns to cash_available, which
// goes negative when the hold did not cover the cost (margin, bypass_cash:
// the shortfall is a loan); the qty shares are pending until due (the
// settlement date, T+2) and become sellable then (store.Account.Settle).
// Seller: qty shares leave hold_qty, any uncovered rest leaves
// sellable_qty, which may go negative (a short: short selling,
// bypass_stock), and price × qty is pending cash until due. An empty due
// settles at once (instruments with no settlement cycle). The buyer pays
// at the trade, as Vietnamese brokers take the cash on T0; the average
// price moves as AvgPrice says, counting pending shares in the position.
//
// Fill fails with ErrInvalid, a and h returned unchanged, only on input
// that is a bug: qty or price not positive, a negative or side-less hold,
// a negative unit price, or a hold larger than the account's cash_hold or
// hold_qty.
func Fill(a store.Account, h HoldResult, price decimal.Decimal, qty int64, due string) (store.Account, HoldResult, error) {
	pos, _ := a.Holding(h.Symbol)
	if err := checkFill(a, pos, h, price, qty); err != nil {
		return a, h, err
	}
	cost := price.Mul(decimal.NewFromInt(qty))
	out, rest := a, h
	before := pos.Position()
	switch h.Side {
	case venue.Buy:
		release := decimal.Min(h.UnitPrice.Mul(decimal.NewFromInt(qty)), h.Cash)
		out.CashHold = a.CashHold.Sub(release)
		out.CashAvailable = a.CashAvailable.Add(release).Sub(cost)
		rest.Cash = h.Cash.Sub(release)
		if due == "" {
			pos.SellableQty += qty
		} else {
			pos.AddPending(due, qty)
		}
		pos.AvgPrice = AvgPrice(pos.AvgPrice, before, qty, price)
	case venue.Sell:
		take := min(h.Stock, qty)
		pos.HoldQty -= take
		pos.SellableQty -= qty - take
		rest.Stock = h.Stock - take
		if due == "" {
			out.CashAvailable = a.CashAvailable.Add(cost)
		} else {
			out.AddPendingCash(due, cost)
		}
		pos.AvgPrice = AvgPrice(pos.AvgPrice, before, -qty, price)
	}
	out.SetHolding(pos)
	return out, rest, nil
}

// checkFill refuses the fills no account state explains: they are bugs
// in the caller, not business refusals.
func checkFill(a store.Account, pos store.Holding, h HoldResult, price decimal.Decimal, qty int64) error {
	if err := checkHold(h); err != nil {
		return err
	}
	if qty <= 0 || !price.IsPositive() || h.UnitPrice.IsNegative() {
		return fmt.Errorf("%w: fill of %d at %s (hold unit price %s)", ErrInvalid, qty, price, h.UnitPrice)
	}
	if h.Cash.GreaterThan(a.CashHold) || h.Stock > pos.HoldQty {
		return fmt.Errorf("%w: the order holds %s cash and %d %s, the account %s and %d",
			ErrInvalid, h.Cash, h.Stock, h.Symbol, a.CashHold, pos.HoldQty)
	}
	return nil
}

// AvgPrice is the average price of a position of pos shares (negative: a
// short) at avg after a fill of delta shares (negative: sold) at price.
// Opening or adding to the position re-weights the average over its size;
// reducing it keeps the average (what is left was traded at it); crossing
// zero opens the new side at the fill price; a flat position has none (0).
func AvgPrice(avg decimal.Decimal, pos, delta int64, price decimal.Decimal) decimal.Decimal {
	next := pos + delta
	switch {
	case next == 0:
		return decimal.Zero
	case pos == 0 || (pos > 0) == (delta > 0):
		value := avg.Mul(decimal.NewFromInt(abs(pos))).Add(price.Mul(decimal.NewFromInt(abs(delta))))
		return value.DivRound(decimal.NewFromInt(abs(next)), AvgPriceScale)
	case (next > 0) == (pos > 0):
		return avg
	}
	return price.Round(AvgPriceScale)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Resize re-reserves an order being replaced: the old hold h goes back to
// a and the order's new terms are held instead, as one step. o carries the
// new terms with Qty set to the new open quantity (new order qty − filled),
// the same side as h. On a reject (the account cannot cover the new terms)
// or an error, a and h are returned unchanged and the order keeps its old
// terms.
func Resize(a store.Account, h HoldResult, o venue.Order, inst market.Instrument, f OMSFlags) (store.Account, HoldResult, *market.Reject, error) {
	if o.Side != h.Side {
		return a, h, nil, fmt.Errorf("%w: replace changes side %s to %s", ErrInvalid, h.Side, o.Side)
	}
	freed, err := Release(a, h)
	if err != nil {
		return a, h, nil, err
	}
	nh, r := Hold(o, freed, inst, f)
	if r != nil {
		return a, h, r, nil
	}
	out, err := Apply(freed, nh)
	if err != nil {
		return a, h, nil, err
	}
	return out, nh, nil, nil
}
