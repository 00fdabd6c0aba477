// Package pretrade is the pure domain logic of step 10 of the pre-trade
// checklist (brief §4): order restriction rules, the OMS risk flags
// (margin, short selling) and the holds an accepted order puts on the
// account's cash or stock, with the movements a fill makes.
//
// Nothing here knows about HTTP, the store's transactions or the wire
// types. Functions take the records as values (store.Account,
// store.RiskRule, store.OrderRiskRule, market.Instrument, venue.Order) and
// return new values; the trading service reads the account, calls these and
// writes the result back in one atomic store step. Refusals are
// *market.Reject values carrying the brief's codes; impossible accounting
// (a hold moved from where it is not, malformed input) is an error.
//
// Units: cash is VND and prices are VND (index points for futures) as exact
// decimals; quantities are int64 shares or contracts. Money is never
// rounded: price × qty is exact. Only the average price of a holding is a
// quotient; it is rounded half-up to AvgPriceScale places.
//
// # Decisions
//
// Restriction rules (store.OrderRiskRule, kinds
// ORDER_BLOCK_TRADE_{MARKET|PRODUCT_GROUP|SYMBOL}_{ALL|BUY|SELL}):
//   - a rule is active when its Value is not zero (1 is the documented
//     "block"; any other non-zero value blocks too, failing closed) and
//     disabled when it is 0;
//   - scope SYSTEM applies to every order whatever its target (the target
//     is expected to be "*"); ACCOUNT applies when the target is the
//     order's account code or "*"; CHANNEL applies when the target is
//     the order's channel (REST or FIX, ChannelOf) or "*"; SYMBOL
//     applies when the target is the instrument's ISIN or "*";
//   - match is the market id (STO/STX/UPX/DVX), the product group or the
//     ISIN (the ticker is accepted too), or "*", compared without regard to
//     case;
//   - any active matching rule rejects the order with CodeBlocked
//     (-900001); Blocked reports the most specific one.
//
// OMS flags (store.RiskRule): most specific wins, SYMBOL > ACCOUNT >
// CHANNEL > SYSTEM, and within a scope an exact target beats "*". Scope
// matching is the same as for restriction rules. Short selling is governed
// by OMS_SHORT_ALLOWED and OMS_SHORT_ALLOWED_SYMBOL_ISIN together (the
// most specific of either kind wins), margin by OMS_MARGIN_ALLOWED, the
// margin rate by OMS_MARGIN_RATE_SYMBOL_ISIN. Flag values: > 0 allows, 0
// (or negative) forbids; without any rule a flag is false. Two rules of
// equal specificity that disagree: the restrictive one wins. The margin
// rate is the fraction of an order's value the buyer must cover with his
// own cash (1 = 100 %, no leverage; 0.5 = half), clamped to [0, 1];
// without a rule it is 1. Ties: the higher rate.
//
// Holds (see HoldResult): Hold decides what an order reserves, Apply
// reserves it, Fill turns it into cash and stock movements execution by
// execution, Release gives back what is left (cancel, reject, expiry, the
// unfilled rest of MAK/MOK/ATO/ATC), Resize re-reserves on replace. Each
// returns a new store.Account: the trading service stores the result in
// the same atomic step as the order change. Holds are never negative.
// Free balances are, when Fill books what a hold did not cover: a margin
// or bypass_cash buy beyond cash_available (a loan), a short or
// bypass_stock sell beyond sellable_qty (a short position). A venue
// execution is never refused for a business reason; Hold decides before
// the venue, and it holds nothing from a negative balance.
//
// Average price (store.Holding.AvgPrice) on the signed position
// sellable_qty + hold_qty: a fill that opens it or adds to it re-weights
// the average over the position's size; one that reduces it keeps the
// average; one that crosses zero starts the new side at the fill price;
// a flat position has average 0.
//
// Reject codes (brief §4 step 10 lists -900001 / -913018 / 3011): a
// restriction rule → -900001, insufficient cash → -913018, insufficient
// sellable stock → 3011.
package pretrade

import (
	"errors"

	"github.com/vero-oms/omsd/server/market"
)

// Reject codes of brief §4 step 10.
const (
	// CodeBlocked: an active order restriction rule matches the order.
	CodeBlocked = -900001
	// CodeInsufficientCash: a cash account's buy exceeds cash_available.
	// The FIX reject-code list's -900001 ("risk-rule check failed: review
	// account limit, position limit and available balance") is the code
	// whose meaning fits an available-balance check; -913018 means
	// insufficient margin, which a cash account has not.
	CodeInsufficientCash = -900001
	// CodeInsufficientMargin: what a margin account's buy (margin rate
	// applied) or a futures order's initial margin needs exceeds
	// cash_available (-913018, "insufficient margin").
	CodeInsufficientMargin = -913018
	// CodeInsufficientStock: the sell's quantity exceeds sellable_qty and
	// short selling is not allowed: an available-balance check too
	// (-900001; 3011 means a margin check, which this is not).
	CodeInsufficientStock = -900001
	// CodeInvalidOrder: the order handed to Hold has no side, no quantity
	// or no usable price (mandatory fields, §4 step 1); the static checks
	// should have caught it first.
	CodeInvalidOrder = -100000
)

// The channels orders come in on, which CHANNEL-scoped rules target: an
// order keeps the channel it was entered on (store.Order.Channel), and its
// replaces and its trigger (a conditional order) are checked on it.
const (
	ChannelREST = "REST" // the REST API, and the put-through desk
	ChannelFIX  = "FIX"  // the FIX 4.2 acceptor
)

// Channels lists every channel.
var Channels = []string{ChannelREST, ChannelFIX}

// ChannelOf is the channel of an order that records c: REST when it records
// none (orders stored before channels were recorded came in over REST).
func ChannelOf(c string) string {
	if c == "" {
		return ChannelREST
	}
	return c
}

// Wildcard is the "any" target or match of a rule.
const Wildcard = "*"

// ErrNegative is returned (wrapped) when Apply would reserve more than is
// free or Release give back more than is held; the account is left
// unchanged. Fill never returns it: a fill may leave a free balance
// negative.
var ErrNegative = errors.New("pretrade: balance would go negative")

// ErrInvalid is returned (wrapped) for arguments no operation accepts: a
// side other than buy or sell, a quantity or price below zero, a fill on
// a hold the account does not have.
var ErrInvalid = errors.New("pretrade: invalid argument")

func rejectf(code int, msg string) *market.Reject {
	return &market.Reject{Code: code, Message: msg}
}
