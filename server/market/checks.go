package market

import (
	"slices"

	"github.com/shopspring/decimal"
)

// OrderSpec is what the static checks look at in an order (or in the new
// values of a replace).
type OrderSpec struct {
	Type OrderType
	Qty  int64
	// Price is the limit price; nil when the request had none. It is read
	// only for priced types (LO); the others go out at 0.
	Price *decimal.Decimal
}

// CheckOrder runs the static checks of brief §4 steps 5, 3, 7 and 8 that
// need only the instrument, in that order: tradable, order type, quantity,
// price. Session (step 6) is Permit's business.
func (in Instrument) CheckOrder(o OrderSpec) *Reject {
	if r := in.Tradable(); r != nil {
		return r
	}
	if r := in.CheckType(o.Type); r != nil {
		return r
	}
	if r := in.CheckQty(o.Type, o.Qty); r != nil {
		return r
	}
	return in.CheckPrice(o.Type, o.Price)
}

// CheckType refuses a type the instrument's market does not trade:
// -100003 for a type omsd does not support at all, -420251 for MTL and
// -420217 for MAK/MOK where market orders are not allowed (UPCoM), -131011
// for ATO/ATC where there is no such auction (HNX ATO, UPCoM).
func (in Instrument) CheckType(t OrderType) *Reject {
	if column(t) < 0 {
		return reject(CodeTypeUnsupported, "order type %s is not supported by omsd", t)
	}
	if slices.Contains(in.OrderTypes, t) {
		return nil
	}
	switch t {
	case MTL:
		return reject(CodeMTLNotAllowed, "MTL orders are not allowed for %s on %s", in.Ticker, in.Market.Name())
	case MAK, MOK:
		return reject(CodeMarketOrderNotAllowed, "market orders (%s) are not allowed for %s on %s", t, in.Ticker, in.Market.Name())
	}
	return reject(CodeTypeNotOnMarket, "order type %s is not traded for %s on %s", t, in.Ticker, in.Market.Name())
}

// CheckQty is §4 step 7: quantity > 0 and a multiple of the lot (-131013),
// and not above the single-order cap (-131003). A quantity below the lot
// (1–99 for a lot of 100) is an odd-lot order: accepted only as LO and only
// where the instrument has an odd-lot board; a quantity above the lot that
// is not a multiple of it (150) is refused — the odd part goes as its own
// order.
func (in Instrument) CheckQty(t OrderType, qty int64) *Reject {
	switch {
	case qty <= 0:
		return reject(CodeLot, "quantity must be > 0, got %d", qty)
	case qty%in.LotSize == 0:
	case qty > in.LotSize:
		return reject(CodeLot, "quantity %d is not a multiple of the lot size %d (send the odd %d as a separate odd-lot order)", qty, in.LotSize, qty%in.LotSize)
	case in.OddLotBoard == "":
		return reject(CodeLot, "quantity %d is not a multiple of the lot size %d; %s takes no odd lots", qty, in.LotSize, in.Ticker)
	case t != LO:
		return reject(CodeLot, "odd-lot quantity %d (below the lot size %d) is accepted for LO orders only, not %s", qty, in.LotSize, t)
	}
	if qty > in.MaxOrderQty {
		return reject(CodeMaxQty, "quantity %d exceeds the single-order limit %d for %s", qty, in.MaxOrderQty, in.Ticker)
	}
	return nil
}

// BoardFor is the board an order of qty goes to: the odd-lot board below
// the lot size (when there is one), the main board otherwise.
func (in Instrument) BoardFor(qty int64) string {
	if qty > 0 && qty < in.LotSize && in.OddLotBoard != "" {
		return in.OddLotBoard
	}
	return in.Board
}

// CheckPrice is §4 steps 1 and 8 for the price: a priced type (LO) needs a
// price (-100025; zero counts as missing), on the tick at that price
// (-131018), within floor..ceiling inclusive (-132004). Types without a
// price pass whatever price they carry.
func (in Instrument) CheckPrice(t OrderType, price *decimal.Decimal) *Reject {
	if !t.Priced() {
		return nil
	}
	if price == nil || price.IsZero() {
		return reject(CodePriceMissing, "price is required for %s orders", t)
	}
	p := *price
	if !in.TickTable.OnTick(p) {
		return reject(CodeTick, "price %s is not a multiple of the tick %s", p, in.TickTable.TickAt(p))
	}
	if p.LessThan(in.Floor) {
		return reject(CodeBand, "price %s is below the floor %s", p, in.Floor)
	}
	if p.GreaterThan(in.Ceiling) {
		return reject(CodeBand, "price %s is above the ceiling %s", p, in.Ceiling)
	}
	return nil
}

// CodePutThroughMinQty refuses a put-through deal below the market's
// minimum (brief §4: the lower quantity threshold).
const CodePutThroughMinQty = -132002

// PutThroughOpen reports whether put-through deals are allowed in session
// s (KRX): during the auctions, continuous trading and the put-through
// window after the close, not in pre-opening, the lunch break or when
// closed. For the futures that is 08:45 to 14:45, their schedule's
// opening auction to its close.
func PutThroughOpen(s Session) bool {
	switch s {
	case OpeningAuction, Continuous, ClosingAuction, PostClose:
		return true
	}
	return false
}

// CheckPutThrough checks a put-through deal's terms (KRX): a quantity of
// at least the instrument's put-through minimum, with no lot multiple and
// no single-order cap (-132002 below the minimum, -131013 for none), and
// a price inside the day's band on no tick (-100025 missing, -132004
// outside).
func (in Instrument) CheckPutThrough(qty int64, price *decimal.Decimal) *Reject {
	switch {
	case qty <= 0:
		return reject(CodeLot, "quantity must be > 0, got %d", qty)
	case qty < in.PutThroughMinQty:
		return reject(CodePutThroughMinQty, "a put-through deal in %s is at least %d, got %d", in.Ticker, in.PutThroughMinQty, qty)
	}
	if price == nil || price.IsZero() {
		return reject(CodePriceMissing, "a put-through deal needs a price")
	}
	if price.LessThan(in.Floor) {
		return reject(CodeBand, "price %s is below the floor %s", price, in.Floor)
	}
	if price.GreaterThan(in.Ceiling) {
		return reject(CodeBand, "price %s is above the ceiling %s", price, in.Ceiling)
	}
	return nil
}
