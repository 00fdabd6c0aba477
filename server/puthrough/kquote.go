package puthrough

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vero-oms/omsd/server/trading"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// ---- KRX quote (T6) and its cancel (T7) ------------------------------------

// KQuote places, or with OrigQuoteMsgID replaces, a standing quote (POST
// /orders/kquote): decode the legs → find the quote it replaces (its
// account and symbol) → the caller's TRADE grant → reserve the id → store
// the legs with their holds and route them.
func (s *Desk) KQuote(ctx context.Context, user string, in KQuoteRequest) (trading.Ack, error) {
	if err := s.t.Ready(); err != nil {
		return trading.Ack{}, err
	}
	legs, err := s.decodeKQuote(in)
	if err != nil {
		return trading.Ack{}, err
	}
	date := s.clock.TradingDate()
	old, account, symbol, err := s.kquoteTarget(in, date)
	if err != nil {
		return trading.Ack{}, err
	}
	if err := s.tradeGrant(ctx, user, account); err != nil {
		return trading.Ack{}, err
	}
	trace := s.t.Begin(in.QuoteMsgID, latency.MsgKQuote, in.Body, user)
	fail := func(err error) (trading.Ack, error) {
		s.failed(trace, err)
		return trading.Ack{}, err
	}
	s.sweep(ctx)
	switch {
	case in.OrigQuoteMsgID != "" && old == nil:
		return fail(reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown kquote %s", in.OrigQuoteMsgID)}))
	case old != nil && old.Status != kqActive:
		return fail(reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("kquote %s is %s and can no longer be replaced", in.OrigQuoteMsgID, old.Status)}))
	}
	inst, r := s.tradable(symbol)
	if r != nil {
		return fail(reject(r))
	}
	k := &kQuote{MsgID: in.QuoteMsgID, OrigMsgID: in.OrigQuoteMsgID, Account: account, ISIN: inst.ISIN, Status: kqPending, TradingDate: date}
	if err := s.desk.reserveKQuote(k); err != nil {
		return fail(err)
	}
	err = s.placeKQuote(ctx, user, k, old, inst, legs, trace)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if k.Status == kqPending {
			delete(d.kquotes, k.MsgID)
		}
		return fail(err)
	}
	return trading.Ack{MsgType: latency.MsgKQuote, RequestID: in.QuoteMsgID, OrigRequestID: in.OrigQuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
}

// decodeKQuote checks a kquote's form and returns its legs (one or two,
// bid first; a two-sided quote must not cross itself).
func (s *Desk) decodeKQuote(in KQuoteRequest) ([]leg, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return nil, err
	}
	if len(in.QuoteMsgID) > 62 {
		return nil, invalid("quote_msg_id must be at most 62 characters (its legs are named <quote_msg_id>-B and -S)")
	}
	if err := optionalID("orig_quote_msg_id", in.OrigQuoteMsgID); err != nil {
		return nil, err
	}
	if in.OrigQuoteMsgID == in.QuoteMsgID {
		return nil, invalid("orig_quote_msg_id must name an earlier kquote, not this one")
	}
	legs, err := kquoteLegs(in)
	if err != nil {
		return nil, err
	}
	return legs, s.checkTradeDate(in.TradeDate)
}

// kquoteLegs reads the legs a kquote sends, consistent with its side.
func kquoteLegs(in KQuoteRequest) ([]leg, error) {
	bid, err := readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize)
	if err != nil {
		return nil, err
	}
	offer, err := readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize)
	if err != nil {
		return nil, err
	}
	switch {
	case in.Side == "B" && offer.present:
		return nil, invalid("offer_price and offer_size must be absent with side B (a bid-only quote)")
	case in.Side == "S" && bid.present:
		return nil, invalid("bid_price and bid_size must be absent with side S (an offer-only quote)")
	case in.Side != "" && in.Side != "B" && in.Side != "S":
		return nil, invalid("side must be B or S, got %q", in.Side)
	}
	var legs []leg
	for _, l := range []leg{bid, offer} {
		if !l.present {
			continue
		}
		if err := l.complete(); err != nil {
			return nil, err
		}
		legs = append(legs, l)
	}
	if len(legs) == 0 {
		return nil, invalid("a kquote needs bid_price and bid_size, or offer_price and offer_size, or both")
	}
	if len(legs) == 2 && !bid.price.LessThan(*offer.price) {
		return nil, invalid("bid_price %s must be below offer_price %s: a two-sided quote must not cross itself", bid.price, offer.price)
	}
	return legs, nil
}

// kquoteTarget returns the kquote a replace names (a copy; nil when there
// is none on date) and the account and symbol the new one stands on: those
// given, or the replaced quote's, which given ones must match.
func (s *Desk) kquoteTarget(in KQuoteRequest, date string) (*kQuote, string, string, error) {
	account, symbol := strings.TrimSpace(in.Account), strings.TrimSpace(in.Symbol)
	var old *kQuote
	if in.OrigQuoteMsgID != "" {
		s.desk.mu.Lock()
		if k, ok := s.desk.kquotes[in.OrigQuoteMsgID]; ok && k.TradingDate == date && k.Status != kqPending {
			cp := *k
			old = &cp
		}
		s.desk.mu.Unlock()
	}
	if old != nil {
		oldInst, _ := s.master.ByISIN(old.ISIN)
		switch {
		case account != "" && account != old.Account:
			return nil, "", "", invalid("account %s is not the account %s of kquote %s", account, old.Account, in.OrigQuoteMsgID)
		case symbol != "" && !s.sameInstrument(symbol, old.ISIN):
			return nil, "", "", invalid("symbol %s is not the symbol %s of kquote %s", symbol, oldInst.Ticker, in.OrigQuoteMsgID)
		}
		account, symbol = cmp.Or(account, old.Account), cmp.Or(symbol, oldInst.Ticker)
	}
	if account == "" {
		return nil, "", "", invalid("account is required")
	}
	if symbol == "" {
		return nil, "", "", invalid("symbol is required")
	}
	return old, account, symbol, nil
}

// reserveKQuote takes a kquote id for the trading date.
func (d *desk) reserveKQuote(k *kQuote) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.kquotes[k.MsgID]; ok && prev.TradingDate == k.TradingDate {
		return reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("kquote %s already exists on trading date %s", k.MsgID, k.TradingDate)})
	}
	d.kquotes[k.MsgID] = k
	return nil
}

// placeKQuote stores the new legs with their holds (and ends the replaced
// quote's legs) in one step, then takes the old legs out of the book and
// routes the new ones through the book's backlog.
func (s *Desk) placeKQuote(ctx context.Context, user string, k, old *kQuote, inst market.Instrument, legs []leg, trace *latency.Trace) error {
	ctx, done, err := s.t.OpenBook(ctx, inst.ISIN)
	if err != nil {
		return err
	}
	defer done()
	if old != nil {
		// Kquote statuses change under the instrument's lock: re-read, so
		// of two replaces of one quote only the first goes through.
		s.desk.mu.Lock()
		status := s.desk.kquotes[old.MsgID].Status
		s.desk.mu.Unlock()
		if status != kqActive {
			return reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("kquote %s is %s and can no longer be replaced", old.MsgID, status)})
		}
	}
	var p placement
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		p = placement{}
		return s.placeTx(ctx, tx, user, k, old, inst, legs, &p)
	})
	if errors.Is(err, store.ErrOutcomeUnknown) && len(p.stored) > 0 {
		return s.undoUncertain(ctx, inst, "kquote "+k.MsgID, p, err)
	}
	if err != nil {
		return err
	}
	s.desk.activate(k, old, p.stored)
	s.routeLegs(ctx, inst, k, p, trace)
	return nil
}

// placement is what a kquote's transaction stored.
type placement struct {
	stored    []store.Order
	verdicts  []market.Verdict
	outOfBook []store.Order // the replaced quote's legs the book holds
}

// placeTx ends the replaced quote's legs and stores the new ones with
// their holds, each checked as an order.
func (s *Desk) placeTx(ctx context.Context, tx store.BackOfficeTx, user string, k, old *kQuote, inst market.Instrument, legs []leg, p *placement) error {
	if _, err := txTrade(tx, user, k.Account); err != nil {
		return err
	}
	riskRules, orderRules, err := s.t.RulesIn(ctx, tx)
	if err != nil {
		return err
	}
	if old != nil {
		if p.outOfBook, err = s.endLegs(tx, old, inst, "replaced by kquote "+k.MsgID); err != nil {
			return err
		}
	}
	acct, _, err := tx.Account(k.Account)
	if err != nil {
		return err
	}
	var orders []store.Order
	for _, l := range legs {
		o, err := s.legOrder(user, k, inst, l)
		if err != nil {
			return err
		}
		rej, v, acct2, hold, err := s.t.Check(tx, &o, acct, inst, l.price, sideOf(l.side), orderRules, riskRules)
		if err != nil {
			return err
		}
		if rej != nil {
			return apperr.New(apperr.InvalidRequest, rej.Text(trading.SourceOMS)+fmt.Sprintf(" (%s leg)", map[string]string{"B": "bid", "S": "offer"}[l.side]))
		}
		acct, o.Hold = acct2, hold
		orders = append(orders, o)
		p.verdicts = append(p.verdicts, v)
	}
	if err := tx.PutAccount(acct); err != nil {
		return err
	}
	for _, o := range orders {
		so, err := tx.NewOrder(o, true)
		if err != nil {
			return err
		}
		p.stored = append(p.stored, so)
	}
	return nil
}

// legOrder is the order of one leg: an LO on the main board named
// <quote_msg_id>-B or -S.
func (s *Desk) legOrder(user string, k *kQuote, inst market.Instrument, l leg) (store.Order, error) {
	if inst.BoardFor(l.size) != inst.Board {
		// A kquote stands on the main board: its legs are round lots.
		return store.Order{}, trading.Refused(market.CodeLot, "a kquote's sizes must be round lots (multiples of %d), got %d", inst.LotSize, l.size)
	}
	now, price := s.now(), *l.price
	id := k.MsgID + "-" + l.side
	return store.Order{
		OriginalReqID: id, ClOrdID: id, TradingDate: s.clock.TradingDate(), AccountCode: k.Account, User: user,
		Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.Board, Side: l.side, Type: "LO",
		Price: price, OriginalPrice: price, Qty: l.size, OriginalQty: l.size, Status: store.OrderPendingNew,
		QuoteID: k.MsgID, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// activate records k as standing with its legs, and old as replaced.
func (d *desk) activate(k, old *kQuote, stored []store.Order) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range stored {
		k.Legs = append(k.Legs, o.ID)
	}
	k.Status = kqActive
	if old != nil {
		if cur, ok := d.kquotes[old.MsgID]; ok {
			cur.Status = kqReplaced
		}
	}
}

// routeLegs takes the replaced legs out of the book and routes the new
// ones; from here the venue acts and the store follows through the
// backlog, whatever happens to this request.
func (s *Desk) routeLegs(ctx context.Context, inst market.Instrument, k *kQuote, p placement, trace *latency.Trace) {
	var steps []trading.Step
	for _, o := range p.outOfBook {
		steps = append(steps, s.t.CancelStep(o))
	}
	routed := false
	for i, o := range p.stored {
		if p.verdicts[i] == market.Accept {
			steps, routed = append(steps, s.t.RouteStep(o)), true
		}
	}
	if routed {
		s.t.Mark(trace, latency.RiskCompleted)
		s.t.Mark(trace, latency.SentToGateway)
		s.t.Mark(trace, latency.GatewayAccepted)
		s.t.Mark(trace, latency.MarketStarted)
	}
	if err := s.t.After(ctx, inst.ISIN, steps...); err != nil {
		s.log.Warn("a kquote reached the venue; booking its reports waits for the store", "kquote", k.MsgID, "err", err)
	}
	if routed {
		s.t.End(trace, latency.MarketCompleted, latency.StatusOK)
	} else {
		s.t.End(trace, latency.RiskCompleted, "HELD")
	}
}

// undoUncertain settles a quote or kquote (what) whose commit's outcome is
// unknown: the answer is an error either way, so the quote must not stand. Legs that
// were stored are cancelled (holds released) and the replaced legs the
// commit ended leave the book; legs that were not are fenced so the
// commit can never land. It runs in the book's backlog, retried until the
// store answers.
func (s *Desk) undoUncertain(ctx context.Context, inst market.Instrument, what string, p placement, cause error) error {
	step := trading.StepFunc("undo "+what, func(ctx context.Context) ([]trading.Step, error) {
		var next []trading.Step
		for _, tried := range p.stored {
			got, committed, err := s.t.SettleEntry(ctx, tried)
			if err != nil {
				return nil, err
			}
			if committed {
				if err := s.cancelLeg(ctx, got); err != nil {
					return nil, err
				}
			}
		}
		for _, o := range p.outOfBook {
			next = append(next, s.t.CancelStep(o))
		}
		return next, nil
	})
	if err := s.t.After(ctx, inst.ISIN, step); err != nil {
		return apperr.Wrap(apperr.UpstreamUnavailable, "the store did not confirm the "+what+" in time: it does not stand (any leg stored is cancelled once the store answers); send it again", cause)
	}
	return apperr.Wrap(apperr.UpstreamUnavailable, "the store did not confirm the "+what+" in time: it does not stand; send it again", cause)
}

// cancelLeg cancels in the store a leg that never reached the book.
func (s *Desk) cancelLeg(ctx context.Context, o store.Order) error {
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		cur, ok, err := tx.Order(o.ID)
		if err != nil || !ok || cur.Status.Done() {
			return err
		}
		return trading.CancelInStore(tx, cur, "the store did not confirm the quote in time", store.OrderCanceled)
	})
	return err
}

// endLegs cancels, in tx, the working legs of k (holds released) and
// returns those the book still holds, to be taken out of it after the
// commit. The caller holds the instrument's lock.
func (s *Desk) endLegs(tx store.BackOfficeTx, k *kQuote, inst market.Instrument, why string) ([]store.Order, error) {
	var inBook []store.Order
	for _, id := range k.Legs {
		o, ok, err := tx.Order(id)
		if err != nil {
			return nil, err
		}
		if !ok || o.Status.Done() {
			continue
		}
		if o.Status.Pending() {
			return nil, reject(&market.Reject{Code: trading.CodeCancelPending, Message: fmt.Sprintf("leg %s of kquote %s has a cancel or replace in progress", o.OriginalReqID, k.MsgID)})
		}
		if d := s.clock.Permit(inst, market.LO, market.Cancel); d.Verdict == market.Refuse {
			return nil, reject(d.Reject)
		}
		if s.t.InBook(o) {
			inBook = append(inBook, o)
		}
		if err := trading.CancelInStore(tx, o, why, store.OrderCanceled); err != nil {
			return nil, err
		}
	}
	return inBook, nil
}

// KQuoteCancel cancels standing quotes (POST /orders/kquote-cancel):
// decode → the quotes it names (one, by symbol, or all the caller trades)
// → the session must allow cancelling every leg → cancel them, instrument
// by instrument.
func (s *Desk) KQuoteCancel(ctx context.Context, user string, in KQuoteCancelRequest) (trading.Ack, error) {
	if err := s.t.Ready(); err != nil {
		return trading.Ack{}, err
	}
	typ, symbol, err := decodeKQuoteCancel(in)
	if err != nil {
		return trading.Ack{}, err
	}
	trade, granted, err := s.tradeAccounts(ctx, user)
	if err != nil {
		return trading.Ack{}, err
	}
	trace := s.t.Begin(in.QuoteMsgID, latency.MsgKQuoteCancel, in.Body, user)
	s.sweep(ctx)
	byISIN, err := s.kquotesToCancel(in, typ, symbol, trade, granted)
	if err == nil {
		err = s.cancellable(byISIN)
	}
	if err != nil {
		s.failed(trace, err)
		return trading.Ack{}, err
	}
	s.t.Mark(trace, latency.RiskCompleted)
	s.t.Mark(trace, latency.SentToGateway)
	s.t.Mark(trace, latency.GatewayAccepted)
	s.t.Mark(trace, latency.MarketStarted)
	for _, isin := range slices.Sorted(maps.Keys(byISIN)) {
		inst, _ := s.master.ByISIN(isin)
		if err := s.cancelKQuotes(ctx, user, inst, byISIN[isin], in.QuoteMsgID, typ == CancelQuote); err != nil {
			if apperr.CodeOf(err) == apperr.InvalidRequest {
				s.t.End(trace, latency.MarketCompleted, latency.StatusRejected)
			} else {
				s.t.Abandon(trace)
			}
			return trading.Ack{}, err
		}
	}
	s.t.End(trace, latency.MarketCompleted, latency.StatusOK)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	return trading.Ack{MsgType: latency.MsgKQuoteCancel, RequestID: in.QuoteMsgID, OrigRequestID: in.OrigQuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
}

// decodeKQuoteCancel checks a kquote cancel's form and returns its type
// and symbol.
func decodeKQuoteCancel(in KQuoteCancelRequest) (int32, string, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return 0, "", err
	}
	if err := optionalID("orig_quote_msg_id", in.OrigQuoteMsgID); err != nil {
		return 0, "", err
	}
	typ := int32(CancelQuote)
	if in.CancelType != nil {
		typ = *in.CancelType
	}
	symbol := strings.TrimSpace(in.Symbol)
	switch {
	case typ == CancelQuote && in.OrigQuoteMsgID == "":
		return 0, "", invalid("orig_quote_msg_id is required with quote_cancel_type 5 (or absent): it names the kquote to cancel")
	case typ == CancelBySymbol && symbol == "":
		return 0, "", invalid("symbol is required with quote_cancel_type 1 (cancel by symbol)")
	case typ != CancelQuote && typ != CancelBySymbol && typ != CancelAll:
		return 0, "", invalid("quote_cancel_type must be 1 (by symbol), 4 (all) or 5 (the quote named), got %d", typ)
	}
	return typ, symbol, nil
}

// kquotesToCancel picks the open kquotes a cancel names (copies, by
// ISIN): the one named, or those on symbol (or every one) of the
// accounts the caller trades.
func (s *Desk) kquotesToCancel(in KQuoteCancelRequest, typ int32, symbol string, trade, granted map[string]bool) (map[string][]*kQuote, error) {
	var isin string
	if symbol != "" {
		inst, ok := s.instrument(symbol)
		if !ok {
			return nil, reject(&market.Reject{Code: market.CodeUnknownSymbol, Message: fmt.Sprintf("unknown symbol %s", symbol)})
		}
		isin = inst.ISIN
	}
	date := s.clock.TradingDate()
	byISIN := map[string][]*kQuote{}
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	if typ != CancelQuote {
		for _, k := range d.kquotes {
			if k.Status == kqActive && k.TradingDate == date && trade[k.Account] && (isin == "" || k.ISIN == isin) {
				cp := *k
				byISIN[k.ISIN] = append(byISIN[k.ISIN], &cp)
			}
		}
		if len(byISIN) == 0 {
			return nil, reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: "no open kquote to cancel"})
		}
		return byISIN, nil
	}
	k, ok := d.kquotes[in.OrigQuoteMsgID]
	switch {
	case !ok || k.TradingDate != date || k.Status == kqPending || !granted[k.Account]:
		return nil, reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown kquote %s", in.OrigQuoteMsgID)})
	case !trade[k.Account]:
		return nil, trading.ErrNoTradeGrant
	case k.Status != kqActive:
		return nil, reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("kquote %s is %s", in.OrigQuoteMsgID, k.Status)})
	case isin != "" && k.ISIN != isin:
		return nil, invalid("symbol %s is not the symbol of kquote %s", symbol, in.OrigQuoteMsgID)
	}
	cp := *k
	byISIN[k.ISIN] = []*kQuote{&cp}
	return byISIN, nil
}

// cancellable refuses a cancel unless the session allows cancelling every
// leg (before any is cancelled).
func (s *Desk) cancellable(byISIN map[string][]*kQuote) error {
	for _, isin := range slices.Sorted(maps.Keys(byISIN)) {
		inst, _ := s.master.ByISIN(isin)
		if dc := s.clock.Permit(inst, market.LO, market.Cancel); dc.Verdict == market.Refuse {
			return reject(dc.Reject)
		}
	}
	return nil
}

// cancelKQuotes cancels the legs of ks (all on inst) in one store step,
// takes them out of the book and marks the quotes CANCELLED.
func (s *Desk) cancelKQuotes(ctx context.Context, user string, inst market.Instrument, ks []*kQuote, msgID string, named bool) error {
	ctx, done, err := s.t.OpenBook(ctx, inst.ISIN)
	if err != nil {
		return err
	}
	defer done()
	// Kquote statuses change under the instrument's lock: keep those still
	// active.
	s.desk.mu.Lock()
	live := ks[:0:0]
	for _, k := range ks {
		cur, ok := s.desk.kquotes[k.MsgID]
		switch {
		case ok && cur.Status == kqActive:
			live = append(live, k)
		case named:
			s.desk.mu.Unlock()
			return reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("kquote %s is no longer active", k.MsgID)})
		}
	}
	s.desk.mu.Unlock()
	ks = live
	var inBook []store.Order
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		inBook = nil
		for _, k := range ks {
			if _, err := txTrade(tx, user, k.Account); err != nil {
				return err
			}
			legs, err := s.endLegs(tx, k, inst, "kquote cancelled by "+msgID)
			if err != nil {
				return err
			}
			inBook = append(inBook, legs...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d := &s.desk
	d.mu.Lock()
	for _, k := range ks {
		if cur, ok := d.kquotes[k.MsgID]; ok && cur.Status == kqActive {
			cur.Status = kqCancelled
		}
	}
	d.mu.Unlock()
	var steps []trading.Step
	for _, o := range inBook {
		steps = append(steps, s.t.CancelStep(o))
	}
	if err := s.t.After(ctx, inst.ISIN, steps...); err != nil {
		s.log.Warn("kquote legs were cancelled in the book; booking the reports waits for the store", "err", err)
	}
	return nil
}
