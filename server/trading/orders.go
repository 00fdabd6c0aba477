package trading

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// Order-entry reject codes beyond market's and pretrade's (brief §4).
const (
	CodeDuplicateClOrdID  = -100001 // ClOrdID already used on this trading date
	CodeCancelMissingID   = -100009
	CodeReplaceMissing    = -100010
	CodeUnknownOrder      = -100011 // unknown or not the caller's
	CodeCancelPending     = -100013
	CodeReplacePending    = -100014
	CodeNoChange          = -100015
	CodeImmutable         = -100016 // symbol, side, type and board cannot change
	CodeCompleted         = -100019
	CodeQtyNotAboveFilled = -134000 // too late: the new quantity does not exceed what has filled
	// CodeReplaceBoth refuses a replace that changes price and quantity at
	// once (KRX: one amendment changes one of them). The docs list no code
	// for it; omsd's choice, in the modify family.
	CodeReplaceBoth = -134010
	// CodeSelfTrade refuses an order that would put one account on both
	// sides of a call auction (omsd's code: the docs list none).
	CodeSelfTrade   = -420300
	CodeVenueReject = -913999
)

// NewOrder is POST /orders/new after decoding.
type NewOrder struct {
	Account, Symbol, Side, Type string
	Price                       *string
	Qty                         int64
	RefOrderID                  string
	AlgoID, PositionID          string
	PersisState                 string
	// StopPx makes a limit order conditional (FIX only: the REST contract
	// has no stop fields); StopOffset makes it a trailing stop.
	StopPx, StopOffset *string
	// Channel is what the order comes in on: pretrade.ChannelFIX from the
	// FIX acceptor, empty from the REST API. It stays with the order.
	Channel string
	Body    []byte // the request body, for the latency record
}

// The order types the contract lists; PLO and BUYIN are refused with a
// reject code since omsd does not model them.
var knownTypes = []string{"LO", "PLO", "ATO", "ATC", "MTL", "MOK", "MAK", "BUYIN"}

func invalid(format string, args ...any) error {
	return apperr.New(apperr.InvalidRequest, fmt.Sprintf(format, args...))
}

// refused is a synchronous business refusal of a cancel or replace: 400
// with {source}|{code}|{message} as the detail.
func refused(code int, format string, args ...any) error {
	r := &market.Reject{Code: code, Message: fmt.Sprintf(format, args...)}
	return apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
}

var errNoTradeGrant = apperr.New(apperr.Forbidden, "you hold no TRADE grant on this account")

// checkClientID accepts a client-chosen id: 1–64 printable characters.
func checkClientID(what, id string) error {
	if len(id) > 64 {
		return invalid("%s must be at most 64 characters", what)
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return invalid("%s must be printable characters without spaces", what)
		}
	}
	return nil
}

// clientID is a given id, or a generated one when empty or "-".
func clientID(what, id string) (string, error) {
	if id == "" || id == "-" {
		return NewClOrdID(), nil
	}
	return id, checkClientID(what, id)
}

func parseSide(s string) (venue.Side, error) {
	switch s {
	case "B":
		return venue.Buy, nil
	case "S":
		return venue.Sell, nil
	}
	return 0, invalid("side must be B or S, got %q", s)
}

// checkQty accepts a quantity in 1..store.MaxQuantity (sums of bounded
// quantities never wrap).
func checkQty(field string, q int64) error {
	if q <= 0 {
		return invalid("%s must be greater than 0, got %d", field, q)
	}
	if q > store.MaxQuantity {
		return invalid("%s must be at most %d, got %d", field, store.MaxQuantity, q)
	}
	return nil
}

// parsePrice parses an optional decimal price string; nil when absent or
// empty.
func parsePrice(field string, p *string) (*decimal.Decimal, error) {
	if p == nil || strings.TrimSpace(*p) == "" {
		return nil, nil
	}
	d, err := decimal.NewFromString(strings.TrimSpace(*p))
	if err != nil {
		return nil, invalid("%s must be a decimal number such as \"100000\", got %q", field, *p)
	}
	if d.IsNegative() {
		return nil, invalid("%s must not be negative, got %s", field, d)
	}
	if d.GreaterThan(store.MaxPrice) {
		return nil, invalid("%s must be at most %s, got %s", field, store.MaxPrice, d)
	}
	return &d, nil
}

// grantLevel is the caller's level on an account inside a transaction.
func grantLevel(tx store.BackOfficeTx, user, account string) (store.GrantLevel, error) {
	g, ok, err := tx.Grant(user, account)
	if err != nil || !ok {
		return "", err
	}
	return g.Level, nil
}

// check runs brief §4 steps 2–10 on the order being stored and returns a
// reject, or the session verdict, the account with the hold reserved and
// the hold.
func (s *Service) check(tx store.BackOfficeTx, o *store.Order, acct store.Account, inst market.Instrument, known bool,
	price *decimal.Decimal, side venue.Side, orderRules []store.OrderRiskRule, riskRules []store.RiskRule, date string,
) (*market.Reject, market.Verdict, store.Account, store.OrderHold, error) {
	none := func(r *market.Reject) (*market.Reject, market.Verdict, store.Account, store.OrderHold, error) {
		return r, market.Refuse, acct, store.OrderHold{}, nil
	}
	if prev, ok, err := tx.OrderByReqID(o.User, o.OriginalReqID); err != nil {
		return nil, 0, acct, store.OrderHold{}, err
	} else if ok && prev.TradingDate == date {
		return none(&market.Reject{Code: CodeDuplicateClOrdID, Message: fmt.Sprintf("duplicate ClOrdID %s for trading date %s", o.OriginalReqID, date)})
	}
	if o.Type == "PLO" || o.Type == "BUYIN" {
		return none(&market.Reject{Code: market.CodeTypeUnsupported, Message: fmt.Sprintf("order type %s is not supported by omsd (post-close and buy-in boards are not simulated)", o.Type)})
	}
	if !known {
		return none(&market.Reject{Code: market.CodeUnknownSymbol, Message: fmt.Sprintf("unknown symbol %s", o.Symbol)})
	}
	if inst.Expired(date) {
		return none(&market.Reject{Code: market.CodeExpired, Message: fmt.Sprintf("%s expired on %s (its last trading day)", inst.Ticker, inst.Expiry)})
	}
	t := market.OrderType(o.Type)
	if r := inst.CheckOrder(market.OrderSpec{Type: t, Qty: o.Qty, Price: price}); r != nil {
		return none(r)
	}
	d := s.clock.Permit(inst, t, market.New)
	if d.Verdict == market.Refuse {
		return none(d.Reject)
	}
	if r := pretrade.CheckRestrictions(orderRules, acct.AccountCode, o.Channel, inst, side); r != nil {
		return none(r)
	}
	vo, err := venueOrder(*o)
	if err != nil {
		return nil, 0, acct, store.OrderHold{}, err
	}
	h, r := pretrade.Hold(vo, acct, inst, pretrade.Flags(riskRules, acct.AccountCode, o.Channel, inst.ISIN))
	if r != nil {
		return none(r)
	}
	buys, sells := s.workingQty(acct.AccountCode, inst, 0)
	if r := pretrade.CheckPositionLimit(acct, inst, side, o.Qty, buys, sells); r != nil {
		return none(r)
	}
	acct2, err := pretrade.Apply(acct, h)
	if err != nil {
		return nil, 0, acct, store.OrderHold{}, err
	}
	return nil, d.Verdict, acct2, orderHold(h), nil
}

// workingQty sums the open quantities of account's orders working in
// inst's books, both sides, and of its conditional orders waiting for
// their trigger (they enter the book when it comes, unchecked, so a limit
// that left them out could be passed by stops placed one under it each),
// leaving out order skip (0: none). The caller holds the book's lock, so
// no order enters, fills or triggers meanwhile. Only futures need it (the
// position limit).
func (s *Service) workingQty(account string, inst market.Instrument, skip int64) (buys, sells int64) {
	if !inst.IsFuture() {
		return 0, 0
	}
	skipID := strconv.FormatInt(skip, 10)
	for _, book := range booksOf(inst) {
		for _, o := range s.venue.Working(book) {
			if o.Account != account || o.ID == skipID {
				continue
			}
			if o.Side == venue.Buy {
				buys += o.Qty
			} else {
				sells += o.Qty
			}
		}
	}
	for _, o := range s.stops.of(inst.ISIN) {
		if o.AccountCode != account || o.ID == skip {
			continue
		}
		if o.Side == "B" {
			buys += o.Qty - o.FilledQty
		} else {
			sells += o.Qty - o.FilledQty
		}
	}
	return buys, sells
}

// bookOf is the venue book of a stored order: the instrument's ISIN for
// its main board, ISIN/board for another (the odd-lot board trades in its
// own book: odd lots never match round lots).
func bookOf(o store.Order) string { return bookKey(o.ISIN, o.Board, "") }

func bookKey(isin, board, mainBoard string) string {
	if board == "" || board == mainBoard || board == defaultBoard {
		return isin
	}
	return isin + "/" + board
}

// defaultBoard is the main board when an instrument names none.
const defaultBoard = "G1"

// booksOf lists an instrument's books: the main board's, and the odd-lot
// board's when it has one.
func booksOf(in market.Instrument) []string {
	out := []string{in.ISIN}
	if in.OddLotBoard != "" && in.OddLotBoard != in.Board {
		out = append(out, in.ISIN+"/"+in.OddLotBoard)
	}
	return out
}

// venueOrder is the engine's view of a stored order (id = store id).
func venueOrder(o store.Order) (venue.Order, error) {
	side := venue.Buy
	if o.Side == "S" {
		side = venue.Sell
	}
	t, ok := venue.ParseOrderType(o.Type)
	if !ok {
		return venue.Order{}, fmt.Errorf("trading: order %d has type %s the venue does not take", o.ID, o.Type)
	}
	var p venue.Price
	if t == venue.LO || (t == venue.MTL && o.Price.IsPositive()) {
		var err error
		if p, err = venue.PriceFromDecimal(o.Price); err != nil {
			return venue.Order{}, err
		}
	}
	return venue.Order{ID: strconv.FormatInt(o.ID, 10), Account: o.AccountCode, Symbol: bookOf(o), Side: side, Type: t, Price: p, Qty: o.LeavesQty()}, nil
}

// orderHold is what the order record keeps of a hold (holdOf's inverse).
func orderHold(h pretrade.HoldResult) store.OrderHold {
	return store.OrderHold{UnitPrice: h.UnitPrice, Cash: h.Cash, Stock: h.Stock}
}

func holdOf(o store.Order) pretrade.HoldResult {
	side := venue.Buy
	if o.Side == "S" {
		side = venue.Sell
	}
	return pretrade.HoldResult{Symbol: o.ISIN, Side: side, UnitPrice: o.Hold.UnitPrice, Cash: o.Hold.Cash, Stock: o.Hold.Stock}
}

// working finds the order a cancel or replace addresses and checks the
// caller may change it: unknown and ungranted orders are the same
// refusal; VIEW only is 403.
func (s *Service) working(tx store.BackOfficeTx, user, reqID string, pendingCode int) (store.Order, error) {
	o, ok, err := s.orderIn(tx, user, reqID)
	if err != nil {
		return o, err
	}
	var lvl store.GrantLevel
	if ok {
		if lvl, err = grantLevel(tx, user, o.AccountCode); err != nil {
			return o, err
		}
	}
	switch {
	case !ok || lvl.Rank() == 0:
		return o, refused(CodeUnknownOrder, "unknown order %s", reqID)
	case lvl.Rank() < store.LevelTrade.Rank():
		return o, errNoTradeGrant
	case o.Status.Done():
		return o, refused(CodeCompleted, "order %s is %s and can no longer be changed", reqID, o.Status)
	case o.Status.Pending():
		return o, refused(pendingCode, "order %s already has a %s in progress", reqID, strings.ToLower(strings.TrimPrefix(string(o.Status), "PENDING_")))
	}
	return o, nil
}

// cancelInStore ends an order the book does not hold: status, cancelled
// quantity, hold released.
func cancelInStore(tx store.BackOfficeTx, o store.Order, why string, status store.OrderStatus) error {
	return endInTx(tx, o, &market.Reject{Code: 0, Message: why}, status)
}

// endInTx ends o with status and r's text, giving its hold back.
func endInTx(tx store.BackOfficeTx, o store.Order, r *market.Reject, status store.OrderStatus) error {
	acct, ok, err := tx.Account(o.AccountCode)
	if err != nil {
		return err
	}
	if ok && (!o.Hold.Cash.IsZero() || o.Hold.Stock != 0) {
		if acct, err = pretrade.Release(acct, holdOf(o)); err != nil {
			return err
		}
		if err := tx.PutAccount(acct); err != nil {
			return err
		}
	}
	o.CancelledQty = max(o.Qty-o.FilledQty, 0)
	o.Hold = store.OrderHold{UnitPrice: o.Hold.UnitPrice}
	o.Status = status
	o.Text = r.Text(SourceOMS)
	return tx.PutOrder(o)
}

// OrdersQuery is GET /util/orders after decoding.
type OrdersQuery struct {
	store.OrderFilter
	FromNs, ToNs *int64
}

// Orders lists the orders of the accounts user holds a grant on, newest
// first; an explicit account without a grant is 403.
func (s *Service) Orders(ctx context.Context, user string, q OrdersQuery) ([]store.Order, error) {
	f := q.OrderFilter
	if f.Limit < 0 || f.Offset < 0 {
		return nil, invalid("limit must be at least 1 and offset at least 0")
	}
	if f.Status != "" && !slices.Contains(store.OrderStatuses, f.Status) {
		return nil, invalid("order_status must be one of %s", statusList())
	}
	if q.FromNs != nil {
		f.FromMs = ceilDiv(*q.FromNs, 1e6)
	}
	if q.ToNs != nil {
		f.ToMs = ceilDiv(*q.ToNs, 1e6)
		if f.ToMs <= 0 {
			return []store.Order{}, nil
		}
	}
	if q.FromNs != nil && q.ToNs != nil && *q.ToNs < *q.FromNs {
		return nil, invalid("to_ns must not be before from_ns")
	}
	grants, err := s.st.GrantsOfUser(ctx, user)
	if err != nil {
		return nil, err
	}
	f.Accounts = make(map[string]bool, len(grants))
	for _, g := range grants {
		if g.Level.Rank() > 0 {
			f.Accounts[g.AccountCode] = true
		}
	}
	if f.AccountCode != "" && !f.Accounts[f.AccountCode] {
		return nil, apperr.New(apperr.Forbidden, "you hold no grant on account "+f.AccountCode)
	}
	if len(f.Accounts) == 0 {
		return []store.Order{}, nil
	}
	return s.st.Orders(ctx, f)
}

func statusList() string {
	out := make([]string, len(store.OrderStatuses))
	for i, st := range store.OrderStatuses {
		out[i] = string(st)
	}
	return strings.Join(out, ", ")
}

// ceilDiv rounds a/b up (b > 0), so a ns bound becomes the first whole ms
// at or after it.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

func (s *Service) begin(reqID, msgType string, body []byte, user string) *latency.Trace {
	if s.lat == nil {
		return nil
	}
	return s.lat.Begin(reqID, msgType, body, latency.Meta{ClientID: user, SourceService: ServiceName, HFTGateway: GatewayName})
}

func (s *Service) mark(t *latency.Trace, st latency.Stage) {
	if t == nil {
		return
	}
	if err := t.Mark(st); err != nil {
		s.log.Warn("latency: a stage was not recorded", "request", t.RequestID(), "stage", st.String(), "err", err)
	}
}

func (s *Service) end(t *latency.Trace, st latency.Stage, status string) {
	if t == nil {
		return
	}
	if err := t.End(st, status); err != nil {
		s.log.Warn("latency: a record was not written", "request", t.RequestID(), "stage", st.String(), "status", status, "err", err)
	}
}

func (s *Service) abandon(t *latency.Trace) {
	if t != nil {
		t.Abandon()
	}
}

func replaceRefused(rep venue.Report) bool {
	for _, ev := range rep.Events {
		if ev.Kind == venue.EventRejected && ev.Op == venue.OpReplace {
			return true
		}
	}
	return false
}
