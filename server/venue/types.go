// Package venue is the matching engine of the in-process exchange
// simulator: one price-time-priority order book per instrument, continuous
// matching for LO, MTL, MAK and MOK, single-price call auctions for ATO,
// ATC and LO, and cancel/replace with the KRX priority rules.
//
// It is a pure domain package: no HTTP, no store, no clock. The caller (the
// OMS's venue adapter) decides which session is open and which order types
// a session accepts (brief §1.4: the "P" orders are held by the caller, not
// here); the engine only knows three phases per book: Continuous,
// CallAuction and Closed.
//
// An account never trades with itself: in continuous trading an incoming
// order (or a replaced one) stops at a resting order of its own account
// and the rest of it is cancelled (ReasonSelfTrade; a MOK that would reach
// one is cancelled whole); in a call auction an order is rejected while an
// order of its account rests on the other side.
//
// Every call returns a Report: the events of each order it touched, in the
// order they happened, and the executions it produced. ExecIDs are unique in
// an Engine and strictly increasing in the order they are emitted for one
// book, so a consumer can apply executions idempotently (apply an ExecID
// once). For a given sequence of calls the output is deterministic: there
// is no clock and no randomness inside.
//
// Prices are Price values: int64 counts of 1/10 000 of the quote unit
// (VND for stocks, index points for futures). Conversion to and from exact
// decimals is at the edge (PriceFromDecimal, ParsePrice, Price.Decimal);
// Price explains why.
package venue

import (
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"
)

// Price is an exact price in units of 10^-PriceScale of the quote unit:
// VND 100 000 is Price(1_000_000_000), futures 1 234.5 points is
// Price(12_345_000). The engine compares, keys and sorts prices on every
// match; an int64 does that with no allocation, while decimal.Decimal needs
// a big.Int comparison per step and cannot key a map (BenchmarkPriceCompare
// shows the gap). Price 0 means "no price" (market types).
type Price int64

// PriceScale is the number of decimal places a Price carries.
const PriceScale = 4

var priceUnit = decimal.New(1, PriceScale)

// PriceFromDecimal converts an exact decimal into a Price. It fails when
// the value has more than PriceScale decimal places or does not fit.
func PriceFromDecimal(d decimal.Decimal) (Price, error) {
	scaled := d.Mul(priceUnit)
	if !scaled.Equal(scaled.Truncate(0)) {
		return 0, fmt.Errorf("venue: price %s has more than %d decimal places", d, PriceScale)
	}
	if !scaled.BigInt().IsInt64() {
		return 0, fmt.Errorf("venue: price %s out of range", d)
	}
	return Price(scaled.IntPart()), nil
}

// ParsePrice parses a decimal string ("100000", "1234.5") into a Price.
func ParsePrice(s string) (Price, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, fmt.Errorf("venue: price %q: %w", s, err)
	}
	return PriceFromDecimal(d)
}

// Decimal is the exact decimal value of p.
func (p Price) Decimal() decimal.Decimal { return decimal.New(int64(p), -PriceScale) }

// String renders p as a plain decimal ("100000", "1234.5").
func (p Price) String() string { return p.Decimal().String() }

// Side is the side of an order.
type Side uint8

// The sides. SideNone marks an auction execution, which has no aggressor.
const (
	SideNone Side = iota
	Buy
	Sell
)

func (s Side) String() string {
	switch s {
	case Buy:
		return "B"
	case Sell:
		return "S"
	case SideNone:
		return "-"
	}
	return "Side(" + strconv.Itoa(int(s)) + ")"
}

// Opposite is the other side.
func (s Side) Opposite() Side {
	switch s {
	case Buy:
		return Sell
	case Sell:
		return Buy
	}
	return SideNone
}

// OrderType is the KRX order type (brief §1.3).
type OrderType uint8

// The order types the engine matches. PLO and BUYIN are the OMS's to
// reject; they never reach the engine.
const (
	LO  OrderType = iota + 1 // limit, day: matches what crosses, rests the rest
	ATO                      // at-the-open: call auction only, remainder cancelled
	ATC                      // at-the-close: call auction only, remainder cancelled
	MTL                      // market-to-limit: sweeps, remainder rests at the last fill price
	MAK                      // market fill-and-kill (IOC)
	MOK                      // market fill-or-kill (FOK)
)

var orderTypeNames = [...]string{LO: "LO", ATO: "ATO", ATC: "ATC", MTL: "MTL", MAK: "MAK", MOK: "MOK"}

func (t OrderType) String() string {
	if int(t) < len(orderTypeNames) && orderTypeNames[t] != "" {
		return orderTypeNames[t]
	}
	return "OrderType(" + strconv.Itoa(int(t)) + ")"
}

// ParseOrderType maps the REST/brief name to an OrderType.
func ParseOrderType(s string) (OrderType, bool) {
	for t, n := range orderTypeNames {
		if n != "" && n == s {
			return OrderType(t), true
		}
	}
	return 0, false
}

// priced reports whether the type carries a limit price on entry.
func (t OrderType) priced() bool { return t == LO }

// auctionOnly reports whether the type lives only in a call auction.
func (t OrderType) auctionOnly() bool { return t == ATO || t == ATC }

// continuousOnly reports whether the type only matches in continuous trading.
func (t OrderType) continuousOnly() bool { return t == MTL || t == MAK || t == MOK }

// Phase is a book's trading phase.
type Phase uint8

// The phases. A new Book starts Closed.
const (
	Closed Phase = iota
	Continuous
	CallAuction
)

func (p Phase) String() string {
	switch p {
	case Closed:
		return "closed"
	case Continuous:
		return "continuous"
	case CallAuction:
		return "call-auction"
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// Order is an order as the engine sees it. On Submit the caller fills ID
// (the ClOrdID), Account, Symbol, Side, Type, Price (LO only; ignored and
// set to 0 for the market types) and Qty; the engine owns LeavesQty, CumQty
// and Seq. A market order that rests (ATO/ATC in an auction) has Price 0;
// an MTL remainder rests with the Price of its last fill.
type Order struct {
	ID        string
	Account   string
	Symbol    string
	Side      Side
	Type      OrderType
	Price     Price
	Qty       int64 // total ordered quantity (changes on replace)
	LeavesQty int64 // open quantity: Qty - CumQty while live, 0 when done
	CumQty    int64 // filled so far
	// Seq is the time priority inside the book: set when the order rests
	// and renewed when it loses priority; 0 while it has not rested.
	Seq uint64
}

// Execution is one trade between a buy and a sell order.
type Execution struct {
	ExecID      uint64
	Symbol      string
	BuyOrderID  string
	SellOrderID string
	BuyAccount  string
	SellAccount string
	Price       Price
	Qty         int64
	// Aggressor is the side of the incoming order; SideNone for an auction.
	Aggressor Side
}

// EventKind is what happened to an order.
type EventKind uint8

// The event kinds (FIX ExecType in brackets).
const (
	EventAccepted        EventKind = iota + 1 // new (0)
	EventPartiallyFilled                      // partial fill (1)
	EventFilled                               // fill (2)
	EventCancelled                            // cancelled (4): Reason says why
	EventReplaced                             // replaced (5): user replace, or MTL re-priced as limit
	EventRejected                             // rejected (8) / cancel reject: Reason and Op say which
)

var eventKindNames = [...]string{
	EventAccepted: "accepted", EventPartiallyFilled: "partially-filled", EventFilled: "filled",
	EventCancelled: "cancelled", EventReplaced: "replaced", EventRejected: "rejected",
}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Reason qualifies a cancel, a reject or a replace.
type Reason uint8

// The reasons.
const (
	ReasonNone              Reason = iota
	ReasonUser                     // cancelled on request
	ReasonIOCRemainder             // MAK: the unfilled rest is killed
	ReasonFOKNotFillable           // MOK: the whole quantity was not available
	ReasonNoLiquidity              // MTL: nothing to match on the other side
	ReasonAuctionEnd               // ATO/ATC: unfilled after their auction
	ReasonExpired                  // end of day (Book.Expire)
	ReasonMTLToLimit               // Replaced: an MTL remainder now rests as a limit
	ReasonMarketClosed             // rejected: the book is Closed
	ReasonUnknownSymbol            // rejected: no book for the symbol
	ReasonTypeNotInPhase           // rejected: the type does not trade in this phase
	ReasonInvalidOrder             // rejected: bad side/type, qty <= 0, LO without a price
	ReasonDuplicateOrderID         // rejected: an order with this ID is live in the book
	ReasonUnknownOrder             // cancel/replace: no live order with this ID
	ReasonQtyNotAboveFilled        // replace: new quantity must exceed the filled quantity
	ReasonSelfTrade                // the order met its own account's (cancelled), or would in a call auction (rejected)
)

var reasonNames = [...]string{
	ReasonNone: "", ReasonUser: "user", ReasonIOCRemainder: "ioc-remainder",
	ReasonFOKNotFillable: "fok-not-fillable", ReasonNoLiquidity: "no-liquidity",
	ReasonAuctionEnd: "auction-end", ReasonExpired: "expired", ReasonMTLToLimit: "mtl-to-limit",
	ReasonMarketClosed: "market-closed", ReasonUnknownSymbol: "unknown-symbol",
	ReasonTypeNotInPhase: "type-not-in-phase", ReasonInvalidOrder: "invalid-order",
	ReasonDuplicateOrderID: "duplicate-order-id", ReasonUnknownOrder: "unknown-order",
	ReasonQtyNotAboveFilled: "qty-not-above-filled", ReasonSelfTrade: "self-trade",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Op is the request an event answers.
type Op uint8

// The requests.
const (
	OpNew Op = iota + 1
	OpCancel
	OpReplace
	OpAuction // Uncross or a phase change
	OpExpire
)

// Event is one thing that happened to one order. Order is the order's state
// right after it (for a rejected new order, the order as submitted). For
// fills ExecID, LastPx and LastQty describe the execution.
type Event struct {
	Kind   EventKind
	Op     Op
	Reason Reason
	Order  Order
	// Fill details (EventPartiallyFilled, EventFilled).
	ExecID  uint64
	LastPx  Price
	LastQty int64
}

// Report is what one call did: events in the order they happened and the
// executions in ExecID order. Each execution also appears as two fill
// events, the buy order's then the sell order's, carrying its ExecID. A
// rejected cancel or replace carries the live order's state when there is
// one, else only ID and Symbol.
type Report struct {
	Events     []Event
	Executions []Execution
}

// Reset empties r keeping its storage, for callers that reuse one Report.
func (r *Report) Reset() {
	r.Events = r.Events[:0]
	r.Executions = r.Executions[:0]
}
