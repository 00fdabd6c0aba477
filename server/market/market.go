// Package market is the pure domain model of the Vietnamese venue omsd
// trades on: the instrument master (ticker ↔ ISIN, market, board, price
// band, tick table, lot, max quantity, status), the static pre-trade checks
// of an order against it, and the market clock (sessions per market from a
// schedule in Asia/Ho_Chi_Minh time, or pinned) with the session acceptance
// matrix of the domain brief §1.4.
//
// Nothing here knows about HTTP, the store or the wire types: functions take
// plain values and answer with a *Reject (nil when the check passes) that
// carries the brief's numeric reject code (§4) and a message. The trading
// service turns a Reject into an order's orderText with Reject.Text.
//
// Prices are exact decimals (github.com/shopspring/decimal): VND for stocks,
// index points for futures. Quantities are int64 shares or contracts.
package market

import (
	"fmt"
	"strings"
)

// MarketID is the KRX market id of an instrument.
type MarketID string

// The markets omsd knows.
const (
	HOSE  MarketID = "STO" // Ho Chi Minh Stock Exchange, stocks
	HNX   MarketID = "STX" // Hanoi Stock Exchange, stocks
	UPCoM MarketID = "UPX" // Unlisted Public Company Market
	Deriv MarketID = "DVX" // derivatives (VN30 index futures)
)

// Markets lists every market id, in a fixed order.
var Markets = []MarketID{HOSE, HNX, UPCoM, Deriv}

// Valid reports whether m is one of Markets.
func (m MarketID) Valid() bool {
	switch m {
	case HOSE, HNX, UPCoM, Deriv:
		return true
	}
	return false
}

// Name is the market's common name (HOSE, HNX, UPCoM, DERIVATIVES).
func (m MarketID) Name() string {
	switch m {
	case HOSE:
		return "HOSE"
	case HNX:
		return "HNX"
	case UPCoM:
		return "UPCoM"
	case Deriv:
		return "DERIVATIVES"
	}
	return string(m)
}

// OrderType is a REST order_type the venue understands.
type OrderType string

// Order types (brief §1.3). PLO and BUYIN are named so that they can be
// refused with a clear code; omsd does not model them.
const (
	LO    OrderType = "LO"
	ATO   OrderType = "ATO"
	ATC   OrderType = "ATC"
	MTL   OrderType = "MTL"
	MAK   OrderType = "MAK"
	MOK   OrderType = "MOK"
	PLO   OrderType = "PLO"
	BUYIN OrderType = "BUYIN"
)

// OrderTypes lists the supported order types in the column order of the
// brief's acceptance matrix.
var OrderTypes = []OrderType{ATO, LO, MTL, MAK, MOK, ATC}

// Priced reports whether the type carries a limit price (LO only); the
// others ignore the request's price and go out at 0.
func (t OrderType) Priced() bool { return t == LO }

// Market reports whether t is one of the market types (MTL, MAK, MOK).
func (t OrderType) Market() bool { return t == MTL || t == MAK || t == MOK }

// ParseOrderType maps a REST order_type to an OrderType. Unknown strings and
// the undocumented PLO and BUYIN are refused with -100003 (order type not
// supported).
func ParseOrderType(s string) (OrderType, *Reject) {
	t := OrderType(strings.ToUpper(strings.TrimSpace(s)))
	switch t {
	case LO, ATO, ATC, MTL, MAK, MOK:
		return t, nil
	case PLO, BUYIN:
		return "", reject(CodeTypeUnsupported, "order type %s is not supported by omsd", t)
	}
	return "", reject(CodeTypeUnsupported, "unknown order type %q (want LO, ATO, ATC, MTL, MAK or MOK)", s)
}

// Action is what a request does to an order.
type Action int

// Actions of the acceptance matrix.
const (
	New Action = iota
	Cancel
	Replace
)

func (a Action) String() string {
	switch a {
	case New:
		return "new"
	case Cancel:
		return "cancel"
	case Replace:
		return "replace"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Reject is a business refusal: a stable numeric code from the brief §4 and a
// human message.
type Reject struct {
	Code    int
	Message string
}

func reject(code int, format string, args ...any) *Reject {
	return &Reject{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Text renders the reject as the venue's Text (58): {source}|{code}|{message}.
func (r *Reject) Text(source string) string {
	return fmt.Sprintf("%s|%d|%s", source, r.Code, r.Message)
}

func (r *Reject) String() string { return fmt.Sprintf("%d %s", r.Code, r.Message) }

// Reject codes (brief §4). Where the brief lists several codes for one check
// (FIX gateway, order business, operational) the first business code of the
// order-entry family is used, as noted on each.
const (
	// CodeTypeUnsupported: type/TIF combination not supported (§4 step 3, -100003).
	CodeTypeUnsupported = -100003
	// CodeTypeNotOnMarket: the order type exists but this market does not
	// trade it, e.g. ATO on HNX (§4 step 3, -131011).
	CodeTypeNotOnMarket = -131011
	// CodeMarketOrderNotAllowed: the instrument disallows market orders
	// (MAK/MOK) (§4 step 6, -420217).
	CodeMarketOrderNotAllowed = -420217
	// CodeMTLNotAllowed: the instrument disallows MTL (§4 step 6, -420251).
	CodeMTLNotAllowed = -420251
	// CodeUnknownSymbol: symbol does not exist (§4 step 5, -100008).
	CodeUnknownSymbol = -100008
	// CodeNotTradable: the symbol exists but is halted or suspended. The
	// FIX reject-code list's 1006, "product is unavailable: verify symbol
	// and product status", fits; -131001 there means the symbol does not
	// exist, which is -100008's case here.
	CodeNotTradable = 1006
	// CodeExpired: a futures contract past its last trading day (-132200,
	// "invalid instrument: verify symbol eligibility and contract status").
	CodeExpired = -132200
	// CodeMarketClosed: market closed (§4 step 6, -131002).
	CodeMarketClosed = -131002
	// CodeNotInPeriod: order not allowed in period (§4 step 6, -132400);
	// used for ATO and ATC.
	CodeNotInPeriod = -132400
	// CodeMTLSession, CodeMOKSession, CodeMAKSession, CodeLOSession: the
	// per-type session refusals of §4 step 6.
	CodeMTLSession = -132005
	CodeMOKSession = -132006
	CodeMAKSession = -132007
	CodeLOSession  = -420211
	// CodeLot: quantity not > 0 or not a lot multiple (§4 step 7, -131013).
	CodeLot = -131013
	// CodeMaxQty: single-order quantity cap (§4 step 7, -131003).
	CodeMaxQty = -131003
	// CodePriceMissing: no price for a priced type (§4 step 1, -100025).
	CodePriceMissing = -100025
	// CodeTick: price not on the tick (§4 step 8, -131018).
	CodeTick = -131018
	// CodeBand: price outside floor..ceiling (§4 step 8, -132004).
	CodeBand = -132004
	// CodeCancelSession, CodeReplaceSession: cancel / modify not allowed in
	// this session (§4 cancel/replace checks, -133007 / -134007).
	CodeCancelSession  = -133007
	CodeReplaceSession = -134007
)
