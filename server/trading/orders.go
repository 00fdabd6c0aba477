package trading

import (
	"context"
	"errors"
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
	CodeVenueReject       = -913999
)

// NewOrder is POST /orders/new after decoding.
type NewOrder struct {
	Account, Symbol, Side, Type string
	Price                       *string
	Qty                         int64
	RefOrderID                  string
	AlgoID, PositionID          string
	PersisState                 string
	Body                        []byte // the request body, for the latency record
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

// Submit enters a new order (POST /orders/new).
func (s *Service) Submit(ctx context.Context, user string, in NewOrder) (Ack, error) {
	if err := s.ready(); err != nil {
		return Ack{}, err
	}
	side, err := parseSide(in.Side)
	if err != nil {
		return Ack{}, err
	}
	if !slices.Contains(knownTypes, in.Type) {
		return Ack{}, invalid("order_type must be one of %s, got %q", strings.Join(knownTypes, ", "), in.Type)
	}
	if in.Qty <= 0 {
		return Ack{}, invalid("qty must be greater than 0, got %d", in.Qty)
	}
	price, err := parsePrice("price", in.Price)
	if err != nil {
		return Ack{}, err
	}
	if in.Account == "" || in.Symbol == "" {
		return Ack{}, invalid("account_id and symbol must not be empty")
	}
	clOrdID, err := clientID("ref_order_id", in.RefOrderID)
	if err != nil {
		return Ack{}, err
	}
	for _, f := range []struct{ name, v string }{{"algo_id", in.AlgoID}, {"position_id", in.PositionID}, {"persis_state", in.PersisState}} {
		if len(f.v) > 64 {
			return Ack{}, invalid("%s must be at most 64 characters", f.name)
		}
	}
	trace := s.begin(clOrdID, latency.MsgNewOrder, in.Body, user)

	inst, known := s.master.ByTicker(in.Symbol)
	if !known {
		inst, known = s.master.ByISIN(in.Symbol)
	}
	if known {
		defer s.lock(inst.ISIN)()
	}

	now := s.now()
	date := s.clock.TradingDate()
	o := store.Order{
		OriginalReqID: clOrdID, ClOrdID: clOrdID, TradingDate: date, AccountCode: in.Account, User: user,
		Symbol: in.Symbol, Side: in.Side, Type: in.Type, Qty: in.Qty, OriginalQty: in.Qty,
		AlgoID: in.AlgoID, PositionID: in.PositionID, PersisState: in.PersisState,
		CreatedAt: now, UpdatedAt: now,
	}
	if known {
		o.Symbol, o.ISIN, o.MarketID, o.Board = inst.Ticker, inst.ISIN, string(inst.Market), inst.BoardFor(in.Qty)
	}
	if price != nil && in.Type == "LO" {
		o.Price, o.OriginalPrice = *price, *price
	}
	var verdict market.Verdict
	var stored store.Order
	var quiet bool
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if err := tx.Prefetch(store.Prefetch{Accounts: []string{in.Account}, Grants: [][2]string{{user, in.Account}},
			NewOrderReqIDs: []string{clOrdID}, RulesVersion: true}); err != nil {
			return err
		}
		riskRules, orderRules, err := s.rulesIn(ctx, tx)
		if err != nil {
			return err
		}
		lvl, err := grantLevel(tx, user, in.Account)
		if err != nil {
			return err
		}
		acct, exists, err := tx.Account(in.Account)
		if err != nil {
			return err
		}
		if lvl.Rank() < store.LevelTrade.Rank() || !exists {
			return errNoTradeGrant
		}
		ord := o
		ord.Status = store.OrderPendingNew
		index := true
		rej, v, acct2, hold, err := s.check(tx, &ord, acct, inst, known, price, side, orderRules, riskRules, date)
		if err != nil {
			return err
		}
		verdict = v
		if rej != nil {
			ord.Status, ord.Text = store.OrderRejected, rej.Text(SourceOMS)
			index = rej.Code != CodeDuplicateClOrdID
		} else {
			if err := tx.PutAccount(acct2); err != nil {
				return err
			}
			ord.Hold = hold
			// Under the book's lock: an order that will only rest is stored
			// working at once, and the venue's ack needs no second step.
			if vo, err := venueOrder(ord); err == nil && v == market.Accept {
				quiet = s.venue.Quiet(vo)
			}
			if quiet {
				ord.Status = store.OrderNew
			}
		}
		stored, err = tx.NewOrder(ord, index)
		return err
	})
	if err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	s.mark(trace, latency.RiskCompleted)
	ack := Ack{MsgType: latency.MsgNewOrder, RequestID: clOrdID, ClientID: user, SourceSequence: stored.Seq}
	if stored.Status == store.OrderRejected || verdict != market.Accept {
		status := latency.StatusRejected
		if stored.Status != store.OrderRejected {
			status = "HELD"
		}
		s.end(trace, latency.RiskCompleted, status)
		return ack, nil
	}
	s.mark(trace, latency.SentToGateway)
	if err := s.route(ctx, stored, trace, quiet); err != nil {
		return Ack{}, err
	}
	return ack, nil
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
	if prev, ok, err := tx.OrderByReqID(o.OriginalReqID); err != nil {
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
	t := market.OrderType(o.Type)
	if r := inst.CheckOrder(market.OrderSpec{Type: t, Qty: o.Qty, Price: price}); r != nil {
		return none(r)
	}
	d := s.clock.Permit(inst, t, market.New)
	if d.Verdict == market.Refuse {
		return none(d.Reject)
	}
	if r := pretrade.CheckRestrictions(orderRules, acct.AccountCode, inst, side); r != nil {
		return none(r)
	}
	vo, err := venueOrder(*o)
	if err != nil {
		return nil, 0, acct, store.OrderHold{}, err
	}
	h, r := pretrade.Hold(vo, acct, inst, pretrade.Flags(riskRules, acct.AccountCode, inst.ISIN))
	if r != nil {
		return none(r)
	}
	acct2, err := pretrade.Apply(acct, h)
	if err != nil {
		return nil, 0, acct, store.OrderHold{}, err
	}
	return nil, d.Verdict, acct2, orderHold(h), nil
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

// route sends a stored PENDING_NEW order to the venue and applies the
// report. The caller holds the instrument's lock.
func (s *Service) route(ctx context.Context, o store.Order, trace *latency.Trace, quiet bool) error {
	vo, err := venueOrder(o)
	if err != nil {
		return err
	}
	s.mark(trace, latency.GatewayAccepted)
	s.mark(trace, latency.MarketStarted)
	rep := s.venue.Submit(vo)
	if quiet && len(rep.Events) == 1 && rep.Events[0].Kind == venue.EventAccepted {
		// Stored NEW already (see Submit): nothing to apply.
		s.end(trace, latency.MarketCompleted, latency.StatusOK)
		return nil
	}
	err = s.apply(ctx, rep)
	if err == nil {
		s.end(trace, latency.MarketCompleted, latency.StatusOK)
	} else {
		s.abandon(trace)
	}
	return err
}

// CancelRequest is POST /orders/cancel after decoding.
type CancelRequest struct {
	OrderID   string // the entry ClOrdID (originalReqID)
	RequestID string
	Body      []byte
}

// ReplaceRequest is POST /orders/replace after decoding.
type ReplaceRequest struct {
	OrderID   string
	RequestID string
	Price     string
	Qty       int64
	Body      []byte
}

// working finds the order a cancel or replace addresses and checks the
// caller may change it: unknown and ungranted orders are the same
// refusal; VIEW only is 403.
func working(tx store.BackOfficeTx, user, reqID string, pendingCode int) (store.Order, error) {
	o, ok, err := tx.OrderByReqID(reqID)
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

// lockOrder resolves the instrument of the order entered under reqID and
// takes its book's lock (the caller defers the returned unlock); an
// unknown order is -100011 and ends the trace.
func (s *Service) lockOrder(ctx context.Context, trace *latency.Trace, reqID string) (market.Instrument, func(), error) {
	inst, ok, err := s.instrumentOf(ctx, reqID)
	if err == nil && !ok {
		err = refused(CodeUnknownOrder, "unknown order %s", reqID)
	}
	if err != nil {
		s.abandon(trace)
		return market.Instrument{}, nil, err
	}
	return inst, s.lock(inst.ISIN), nil
}

// instrumentOf resolves the locked instrument of an order entry key.
func (s *Service) instrumentOf(ctx context.Context, reqID string) (market.Instrument, bool, error) {
	o, err := s.st.OrderByReqID(ctx, reqID)
	if errors.Is(err, store.ErrNotFound) {
		return market.Instrument{}, false, nil
	}
	if err != nil {
		return market.Instrument{}, false, err
	}
	inst, ok := s.master.ByISIN(o.ISIN)
	return inst, ok, nil
}

// Cancel cancels a working order (POST /orders/cancel).
func (s *Service) Cancel(ctx context.Context, user string, in CancelRequest) (Ack, error) {
	if err := s.ready(); err != nil {
		return Ack{}, err
	}
	if strings.TrimSpace(in.OrderID) == "" {
		return Ack{}, refused(CodeCancelMissingID, "order_id is required")
	}
	reqID, err := clientID("request_id", in.RequestID)
	if err != nil {
		return Ack{}, err
	}
	trace := s.begin(reqID, latency.MsgCancel, in.Body, user)
	inst, unlock, err := s.lockOrder(ctx, trace, in.OrderID)
	if err != nil {
		return Ack{}, err
	}
	defer unlock()
	var o store.Order
	var inBook bool
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		var err error
		if o, err = working(tx, user, in.OrderID, CodeCancelPending); err != nil {
			return err
		}
		if d := s.clock.Permit(inst, market.OrderType(o.Type), market.Cancel); d.Verdict == market.Refuse {
			return apperr.New(apperr.InvalidRequest, d.Reject.Text(SourceOMS))
		}
		_, inBook = s.venue.Live(bookOf(o), strconv.FormatInt(o.ID, 10))
		o.OrigClOrdID, o.ClOrdID, o.UpdatedAt = o.ClOrdID, reqID, s.now()
		if !inBook {
			// Held by the OMS (or lost by a restarted venue): cancel here.
			return cancelInStore(tx, o, "cancelled on request", store.OrderCanceled)
		}
		o.Status = store.OrderPendingCancel
		return tx.PutOrder(o)
	})
	if err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	s.mark(trace, latency.RiskCompleted)
	ack := Ack{MsgType: latency.MsgCancel, RequestID: reqID, OrigRequestID: in.OrderID, ClientID: user, SourceSequence: o.Seq + 1}
	if !inBook {
		s.end(trace, latency.RiskCompleted, latency.StatusOK)
		return ack, nil
	}
	s.mark(trace, latency.SentToGateway)
	s.mark(trace, latency.GatewayAccepted)
	s.mark(trace, latency.MarketStarted)
	if err := s.apply(ctx, s.venue.Cancel(bookOf(o), strconv.FormatInt(o.ID, 10))); err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	s.end(trace, latency.MarketCompleted, latency.StatusOK)
	return ack, nil
}

// cancelInStore ends an order the book does not hold: status, cancelled
// quantity, hold released.
func cancelInStore(tx store.BackOfficeTx, o store.Order, why string, status store.OrderStatus) error {
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
	o.Text = (&market.Reject{Code: 0, Message: why}).Text(SourceOMS)
	return tx.PutOrder(o)
}

// Replace amends a working order's price and/or quantity (POST
// /orders/replace).
func (s *Service) Replace(ctx context.Context, user string, in ReplaceRequest) (Ack, error) {
	if err := s.ready(); err != nil {
		return Ack{}, err
	}
	if strings.TrimSpace(in.OrderID) == "" || strings.TrimSpace(in.Price) == "" || in.Qty <= 0 {
		return Ack{}, refused(CodeReplaceMissing, "order_id, price and a qty greater than 0 are required")
	}
	newPrice, err := parsePrice("price", &in.Price)
	if err != nil {
		return Ack{}, err
	}
	reqID, err := clientID("request_id", in.RequestID)
	if err != nil {
		return Ack{}, err
	}
	trace := s.begin(reqID, latency.MsgReplace, in.Body, user)
	inst, unlock, err := s.lockOrder(ctx, trace, in.OrderID)
	if err != nil {
		return Ack{}, err
	}
	defer unlock()
	var o, before store.Order
	var inBook bool
	var riskRules []store.RiskRule
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		var err error
		if o, err = working(tx, user, in.OrderID, CodeReplacePending); err != nil {
			return err
		}
		if riskRules, _, err = s.rulesIn(ctx, tx); err != nil {
			return err
		}
		t := market.OrderType(o.Type)
		d := s.clock.Permit(inst, t, market.Replace)
		if d.Verdict == market.Refuse {
			return apperr.New(apperr.InvalidRequest, d.Reject.Text(SourceOMS))
		}
		_, inBook = s.venue.Live(bookOf(o), strconv.FormatInt(o.ID, 10))
		if inBook && d.Verdict == market.Hold {
			// The matrix would hold the modify until the session opens, but
			// the order sits in a closed book (pre-opening, intermission):
			// omsd does not queue modifies, so it refuses rather than send
			// one the book cannot take.
			return refused(market.CodeReplaceSession, "modify of a %s order in the book is not accepted during %s; send it when trading resumes", t, s.clock.Session(inst.Market))
		}
		before = o
		price := o.Price
		if t == market.LO || (t == market.MTL && o.Price.IsPositive()) {
			price = *newPrice
			if r := inst.CheckPrice(market.LO, newPrice); r != nil {
				return apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
			}
		}
		if price.Equal(o.Price) && in.Qty == o.Qty {
			return refused(CodeNoChange, "the replace changes neither price nor quantity")
		}
		if in.Qty <= o.FilledQty {
			return refused(CodeQtyNotAboveFilled, "the new quantity %d must exceed the filled quantity %d", in.Qty, o.FilledQty)
		}
		if r := inst.CheckQty(t, in.Qty); r != nil {
			return apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
		}
		if o.Board != "" && inst.BoardFor(in.Qty) != o.Board {
			return refused(CodeImmutable, "the new quantity %d would move the order from board %s to %s; cancel it and enter a new order", in.Qty, o.Board, inst.BoardFor(in.Qty))
		}
		acct, _, err := tx.Account(o.AccountCode)
		if err != nil {
			return err
		}
		next := o
		next.Price, next.Qty = price, in.Qty
		vo, err := venueOrder(next)
		if err != nil {
			return err
		}
		acct2, h, r, err := pretrade.Resize(acct, holdOf(o), vo, inst, pretrade.Flags(riskRules, o.AccountCode, inst.ISIN))
		if err != nil {
			return err
		}
		if r != nil {
			return apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
		}
		if err := tx.PutAccount(acct2); err != nil {
			return err
		}
		o.Hold = orderHold(h)
		o.OrigClOrdID, o.ClOrdID, o.UpdatedAt = o.ClOrdID, reqID, s.now()
		if !inBook {
			// Held by the OMS until its session: amend it here.
			o.Price, o.Qty = price, in.Qty
			return tx.PutOrder(o)
		}
		o.Status = store.OrderPendingReplace
		// The new terms travel with the pending order until the venue
		// confirms them.
		o.Price, o.Qty = price, in.Qty
		return tx.PutOrder(o)
	})
	if err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	s.mark(trace, latency.RiskCompleted)
	ack := Ack{MsgType: latency.MsgReplace, RequestID: reqID, OrigRequestID: in.OrderID, ClientID: user, SourceSequence: o.Seq + 1}
	if !inBook {
		s.end(trace, latency.RiskCompleted, latency.StatusOK)
		return ack, nil
	}
	var vp venue.Price
	if o.Price.IsPositive() {
		if vp, err = venue.PriceFromDecimal(o.Price); err != nil {
			return Ack{}, err
		}
	}
	s.mark(trace, latency.SentToGateway)
	s.mark(trace, latency.GatewayAccepted)
	s.mark(trace, latency.MarketStarted)
	rep := s.venue.Replace(bookOf(o), strconv.FormatInt(o.ID, 10), vp, o.Qty)
	if err := s.apply(ctx, rep); err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	if replaceRefused(rep) {
		// The book kept the old terms: so does the hold.
		if err := s.restoreHold(ctx, inst, before, riskRules); err != nil {
			s.abandon(trace)
			return Ack{}, err
		}
	}
	s.end(trace, latency.MarketCompleted, latency.StatusOK)
	return ack, nil
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
	if t != nil {
		_ = t.Mark(st)
	}
}

func (s *Service) end(t *latency.Trace, st latency.Stage, status string) {
	if t != nil {
		_ = t.End(st, status)
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

// restoreHold resizes the hold of an order whose replace the venue refused
// back to the terms the book kept (before's). If the account can no longer
// cover them (cash the replace freed was spent meanwhile), the order is
// cancelled in the book rather than left working with too small a hold.
func (s *Service) restoreHold(ctx context.Context, inst market.Instrument, before store.Order, riskRules []store.RiskRule) error {
	uncovered := false
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		uncovered = false
		cur, ok, err := tx.Order(before.ID)
		if err != nil || !ok || cur.Status.Done() {
			return err
		}
		acct, _, err := tx.Account(cur.AccountCode)
		if err != nil {
			return err
		}
		back := cur
		back.Price, back.Qty = before.Price, before.Qty
		vo, err := venueOrder(back)
		if err != nil {
			return err
		}
		acct2, h, r, err := pretrade.Resize(acct, holdOf(cur), vo, inst, pretrade.Flags(riskRules, cur.AccountCode, inst.ISIN))
		if err != nil || r != nil {
			uncovered = true
			return nil
		}
		if err := tx.PutAccount(acct2); err != nil {
			return err
		}
		cur.Hold = orderHold(h)
		return tx.PutOrder(cur)
	})
	if err != nil || !uncovered {
		return err
	}
	s.log.Warn("a refused replace left terms the account no longer covers: the order is cancelled", "order", before.ID)
	return s.apply(ctx, s.venue.Cancel(bookOf(before), strconv.FormatInt(before.ID, 10)))
}
