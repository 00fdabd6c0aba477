package trading

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// CancelRequest is POST /orders/cancel after decoding.
type CancelRequest struct {
	OrderID   string // the entry ClOrdID (originalReqID) in the caller's namespace
	RequestID string
	Body      []byte
}

// ReplaceRequest is POST /orders/replace after decoding.
type ReplaceRequest struct {
	OrderID   string
	RequestID string
	Price     string
	Qty       int64
	// StopPx and StopOffset amend a waiting conditional order's condition
	// (FIX only); nil keeps it.
	StopPx, StopOffset *string
	Body               []byte
}

// change is a cancel or replace in progress: the order, as the change's
// transaction stored it, and whether the venue's book holds it.
type change struct {
	inst   market.Instrument
	order  store.Order
	before store.Order // a replace's order before the new terms
	inBook bool
}

// Cancel cancels a working order (POST /orders/cancel): decode → open the
// book → reconcile the order if a change of it is pending → mark it
// PENDING_CANCEL (or cancel it here if no book holds it) → the venue.
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
	c, ctx, done, err := s.openOrder(ctx, trace, user, in.OrderID)
	if err != nil {
		return Ack{}, err
	}
	defer done()
	err = s.changeTx(ctx, &c, reqID, func(tx store.BackOfficeTx) error { return s.cancelTx(tx, &c, user, in.OrderID, reqID) })
	if err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	s.stops.put(c.order)
	return s.sendChange(ctx, trace, c, latency.MsgCancel, reqID, in.OrderID, user, s.cancelStep(c.order)), nil
}

// cancelTx moves the order to PENDING_CANCEL, or cancels it in the store
// when no book holds it (held by the OMS, or lost by a restarted venue).
func (s *Service) cancelTx(tx store.BackOfficeTx, c *change, user, orderID, reqID string) error {
	o, err := s.working(tx, user, orderID, CodeCancelPending)
	if err != nil {
		return err
	}
	if o.Waiting() {
		if err := s.waitingChange(c.inst, market.Cancel); err != nil {
			return err
		}
	} else if d := s.clock.Permit(c.inst, market.OrderType(o.Type), market.Cancel); d.Verdict == market.Refuse {
		return apperr.New(apperr.InvalidRequest, d.Reject.Text(SourceOMS))
	}
	_, c.inBook = s.venue.Live(bookOf(o), strconv.FormatInt(o.ID, 10))
	o.OrigClOrdID, o.ClOrdID, o.UpdatedAt = o.ClOrdID, reqID, s.now()
	c.order = o
	if !c.inBook {
		// Ended here: the stop index (Cancel's put) must let a waiting
		// order go, or it keeps counting toward the position limit.
		c.order.Status = store.OrderCanceled
		return cancelInStore(tx, o, "cancelled on request", store.OrderCanceled)
	}
	c.order.Status = store.OrderPendingCancel
	return tx.PutOrder(c.order)
}

// cancelStep cancels o in its book and books the report.
func (s *Service) cancelStep(o store.Order) step {
	id := strconv.FormatInt(o.ID, 10)
	return s.venueStep("cancel order "+o.OriginalReqID, func() venue.Report { return s.venue.Cancel(bookOf(o), id) }, nil)
}

// Replace amends a working order's price and/or quantity (POST
// /orders/replace): decode → open the book → reconcile → check the new
// terms and resize the hold → the venue, which may refuse (the hold then
// goes back to the terms the book kept).
func (s *Service) Replace(ctx context.Context, user string, in ReplaceRequest) (Ack, error) {
	if err := s.ready(); err != nil {
		return Ack{}, err
	}
	if strings.TrimSpace(in.OrderID) == "" || strings.TrimSpace(in.Price) == "" || in.Qty <= 0 {
		return Ack{}, refused(CodeReplaceMissing, "order_id, price and a qty greater than 0 are required")
	}
	if err := checkQty("qty", in.Qty); err != nil {
		return Ack{}, err
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
	c, ctx, done, err := s.openOrder(ctx, trace, user, in.OrderID)
	if err != nil {
		return Ack{}, err
	}
	defer done()
	terms := replaceTerms{user: user, orderID: in.OrderID, reqID: reqID, price: *newPrice, qty: in.Qty, stopPx: in.StopPx, stopOffset: in.StopOffset}
	err = s.changeTx(ctx, &c, reqID, func(tx store.BackOfficeTx) error { return s.replaceTx(ctx, tx, &c, terms) })
	if err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	s.stops.put(c.order)
	return s.sendChange(ctx, trace, c, latency.MsgReplace, reqID, in.OrderID, user, s.replaceStep(c.inst, c.order, c.before)), nil
}

// replaceTerms is a replace request after decoding.
type replaceTerms struct {
	user, orderID, reqID string
	price                decimal.Decimal
	qty                  int64
	stopPx, stopOffset   *string // a conditional order's new condition (nil: kept)
}

// replaceTx checks the new terms, resizes the hold and stores the order
// PENDING_REPLACE with them (amended at once when no book holds it).
func (s *Service) replaceTx(ctx context.Context, tx store.BackOfficeTx, c *change, in replaceTerms) error {
	o, err := s.working(tx, in.user, in.orderID, CodeReplacePending)
	if err != nil {
		return err
	}
	riskRules, _, err := s.rulesIn(ctx, tx)
	if err != nil {
		return err
	}
	_, c.inBook = s.venue.Live(bookOf(o), strconv.FormatInt(o.ID, 10))
	stop, err := replaceStop(o, in)
	if err != nil {
		return err
	}
	var price decimal.Decimal
	if o.Waiting() {
		price, err = s.checkWaitingReplace(tx, c.inst, o, stop, in)
	} else {
		price, err = s.checkReplace(c.inst, o, c.inBook, in)
	}
	if err != nil {
		return err
	}
	acct, _, err := tx.Account(o.AccountCode)
	if err != nil {
		return err
	}
	next := o
	next.Price, next.Qty = price, in.qty
	vo, err := venueOrder(next)
	if err != nil {
		return err
	}
	acct2, h, r, err := pretrade.Resize(acct, holdOf(o), vo, c.inst, pretrade.Flags(riskRules, o.AccountCode, o.Channel, c.inst.ISIN))
	if err != nil {
		return err
	}
	if r == nil {
		buys, sells := s.workingQty(o.AccountCode, c.inst, o.ID) // the others; this one with its new terms
		r = pretrade.CheckPositionLimit(acct, c.inst, vo.Side, vo.Qty, buys, sells)
	}
	if r != nil {
		return apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
	}
	if err := tx.PutAccount(acct2); err != nil {
		return err
	}
	c.before = o
	o.Hold = orderHold(h)
	o.OrigClOrdID, o.ClOrdID, o.UpdatedAt = o.ClOrdID, in.reqID, s.now()
	// The new terms travel with the pending order until the venue confirms
	// them; an order no book holds is amended here.
	o.Price, o.Qty, o.Stop = price, in.qty, stop
	if c.inBook {
		o.Status = store.OrderPendingReplace
	}
	c.order = o
	return tx.PutOrder(o)
}

// checkReplace runs the session, price, quantity and board checks of a
// replace and returns the new price.
func (s *Service) checkReplace(inst market.Instrument, o store.Order, inBook bool, in replaceTerms) (decimal.Decimal, error) {
	t := market.OrderType(o.Type)
	d := s.clock.Permit(inst, t, market.Replace)
	if d.Verdict == market.Refuse {
		return decimal.Decimal{}, apperr.New(apperr.InvalidRequest, d.Reject.Text(SourceOMS))
	}
	if inBook && d.Verdict == market.Hold {
		// The matrix would hold the modify until the session opens, but the
		// order sits in a closed book (pre-opening, intermission): omsd does
		// not queue modifies, so it refuses rather than send one the book
		// cannot take.
		return decimal.Decimal{}, refused(market.CodeReplaceSession, "modify of a %s order in the book is not accepted during %s; send it when trading resumes", t, s.clock.Session(inst.Market))
	}
	price := o.Price
	if t == market.LO || (t == market.MTL && o.Price.IsPositive()) {
		price = in.price
		if r := inst.CheckPrice(market.LO, &in.price); r != nil {
			return decimal.Decimal{}, apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
		}
	}
	switch {
	case price.Equal(o.Price) && in.qty == o.Qty:
		return decimal.Decimal{}, refused(CodeNoChange, "the replace changes neither price nor quantity")
	case !price.Equal(o.Price) && in.qty != o.Qty:
		return decimal.Decimal{}, refused(CodeReplaceBoth, "one amendment changes the price or the quantity, not both (price %s → %s, quantity %d → %d); send two", o.Price, price, o.Qty, in.qty)
	}
	return price, checkReplaceQty(inst, o, in.qty)
}

// checkReplaceQty checks a replace's new quantity: above what has filled,
// a valid quantity of the order's type, on the order's board.
func checkReplaceQty(inst market.Instrument, o store.Order, qty int64) error {
	t := market.OrderType(o.Type)
	if qty <= o.FilledQty {
		return refused(CodeQtyNotAboveFilled, "the new quantity %d must exceed the filled quantity %d", qty, o.FilledQty)
	}
	if r := inst.CheckQty(t, qty); r != nil {
		return apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
	}
	if o.Board != "" && inst.BoardFor(qty) != o.Board {
		return refused(CodeImmutable, "the new quantity %d would move the order from board %s to %s; cancel it and enter a new order", qty, o.Board, inst.BoardFor(qty))
	}
	return nil
}

// checkWaitingReplace checks the modify of a waiting conditional order
// (the matrix's A*; nothing is in a book, so price, quantity and stop may
// change together) and returns the new price.
func (s *Service) checkWaitingReplace(tx store.BackOfficeTx, inst market.Instrument, o store.Order, stop store.StopTerms, in replaceTerms) (decimal.Decimal, error) {
	if err := s.waitingChange(inst, market.Replace); err != nil {
		return decimal.Decimal{}, err
	}
	if r := inst.CheckPrice(market.LO, &in.price); r != nil {
		return decimal.Decimal{}, apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
	}
	if in.price.Equal(o.Price) && in.qty == o.Qty && stop.Equal(o.Stop) {
		return decimal.Decimal{}, refused(CodeNoChange, "the replace changes neither price, quantity nor stop")
	}
	if err := checkReplaceQty(inst, o, in.qty); err != nil {
		return decimal.Decimal{}, err
	}
	next := o
	next.Price, next.Stop = in.price, stop
	r, err := s.checkStopIn(tx, next, inst)
	if err == nil && r != nil {
		err = apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
	}
	return in.price, err
}

// replaceStep sends the new terms of o to its book and books the report;
// if the book refuses them, the hold goes back to the terms it kept. A new
// price or a larger quantity loses time priority (as the book does).
func (s *Service) replaceStep(inst market.Instrument, o, before store.Order) step {
	id := strconv.FormatInt(o.ID, 10)
	requeue := ""
	if !o.Price.Equal(before.Price) || o.Qty > before.Qty {
		requeue = id
	}
	return step{name: "replace order " + o.OriginalReqID, run: func(context.Context) ([]step, error) {
		var vp venue.Price
		if o.Price.IsPositive() {
			var err error
			if vp, err = venue.PriceFromDecimal(o.Price); err != nil {
				// Checked against the tick at the replace: cannot happen.
				s.log.Error("a replace price does not fit the venue", "order", o.ID, "err", err)
			}
		}
		rep := s.venue.Replace(bookOf(o), id, vp, o.Qty)
		var then []step
		if replaceRefused(rep) {
			then = []step{s.restoreStep(inst, before)}
		}
		return []step{{name: "book a replace report", run: func(ctx context.Context) ([]step, error) {
			return then, s.applyReport(ctx, rep, requeue)
		}}}, nil
	}}
}

// openOrder opens the book of the order the caller entered under orderID
// and reconciles it when a change of it is pending; an unknown order is
// -100011 and ends the trace.
func (s *Service) openOrder(ctx context.Context, trace *latency.Trace, user, orderID string) (change, context.Context, func(), error) {
	inst, ok, err := s.instrumentOf(ctx, user, orderID)
	if err == nil && !ok {
		err = refused(CodeUnknownOrder, "unknown order %s", orderID)
	}
	if err != nil {
		s.abandon(trace)
		return change{}, nil, nil, err
	}
	ctx, done, err := s.openBook(ctx, inst.ISIN)
	if err == nil {
		err = s.touch(ctx, inst, user, orderID)
		if err != nil {
			done()
		}
	}
	if err != nil {
		s.abandon(trace)
		return change{}, nil, nil, err
	}
	return change{inst: inst}, ctx, done, nil
}

// instrumentOf resolves the instrument of an order the user entered.
func (s *Service) instrumentOf(ctx context.Context, user, reqID string) (market.Instrument, bool, error) {
	if _, isin, ok := s.refOf(user, reqID); ok {
		inst, ok := s.master.ByISIN(isin)
		return inst, ok, nil
	}
	o, err := s.OrderByReqID(ctx, user, reqID)
	if errors.Is(err, store.ErrNotFound) {
		return market.Instrument{}, false, nil
	}
	if err != nil {
		return market.Instrument{}, false, err
	}
	inst, ok := s.master.ByISIN(o.ISIN)
	return inst, ok, nil
}

// changeTx runs a cancel's or replace's transaction. When its outcome is
// unknown, it is resolved (and, if it landed, carried to the venue)
// before anything else happens on the book.
func (s *Service) changeTx(ctx context.Context, c *change, reqID string, fn func(tx store.BackOfficeTx) error) error {
	_, err := s.st.UpdateBackOffice(ctx, fn)
	if !errors.Is(err, store.ErrOutcomeUnknown) || c.order.ID == 0 {
		return err
	}
	tried := *c
	st := s.resolveChange(tried.order.ID, reqID, func(cur store.Order) []step {
		switch cur.Status {
		case store.OrderPendingCancel:
			return []step{s.cancelStep(cur)}
		case store.OrderPendingReplace:
			return []step{s.replaceStep(tried.inst, cur, tried.before)}
		}
		return nil
	})
	if s.after(ctx, tried.inst.ISIN, st) != nil {
		return apperr.Wrap(apperr.UpstreamUnavailable, "the store did not confirm the request in time and its outcome is not known yet; read the order to learn it", err)
	}
	// Settled, and carried out if it landed: nothing more to send.
	c.inBook = false
	return nil
}

// sendChange carries a stored cancel or replace to the venue (when a book
// holds the order) and answers the Ack.
func (s *Service) sendChange(ctx context.Context, trace *latency.Trace, c change, msgType, reqID, orderID, user string, send step) Ack {
	ack := Ack{MsgType: msgType, RequestID: reqID, OrigRequestID: orderID, ClientID: user, SourceSequence: c.order.Seq + 1}
	if !c.inBook {
		s.end(trace, latency.RiskCompleted, latency.StatusOK)
		return ack
	}
	s.mark(trace, latency.RiskCompleted)
	s.mark(trace, latency.SentToGateway)
	s.mark(trace, latency.GatewayAccepted)
	s.mark(trace, latency.MarketStarted)
	if err := s.after(ctx, c.inst.ISIN, send); err != nil {
		s.log.Warn("a change reached the venue; booking its report waits for the store", "order", c.order.ID, "err", err)
	}
	s.end(trace, latency.MarketCompleted, latency.StatusOK)
	return ack
}

// restoreStep resizes the hold of an order whose replace the venue refused
// back to the terms the book kept (before's). If the account can no longer
// cover them (cash the replace freed was spent meanwhile), the order is
// cancelled in the book rather than left working with too small a hold.
func (s *Service) restoreStep(inst market.Instrument, before store.Order) step {
	return step{name: "restore the hold of order " + before.OriginalReqID, run: func(ctx context.Context) ([]step, error) {
		uncovered := false
		_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			uncovered = false
			cur, ok, err := tx.Order(before.ID)
			if err != nil || !ok || cur.Status.Done() {
				return err
			}
			riskRules, _, err := s.rulesIn(ctx, tx)
			if err != nil {
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
			acct2, h, r, err := pretrade.Resize(acct, holdOf(cur), vo, inst, pretrade.Flags(riskRules, cur.AccountCode, cur.Channel, inst.ISIN))
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
			return nil, err
		}
		s.log.Warn("a refused replace left terms the account no longer covers: the order is cancelled", "order", before.ID)
		return []step{s.cancelStep(before)}, nil
	}}
}
