package puthrough

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vero-oms/omsd/server/trading"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// ---- KRX quote (T6) and its cancel (T7) ------------------------------------

// KQuote places, or with OrigQuoteMsgID replaces, a standing quote (POST
// /orders/kquote).
func (s *Desk) KQuote(ctx context.Context, user string, in KQuoteRequest) (trading.Ack, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return trading.Ack{}, err
	}
	if len(in.QuoteMsgID) > 62 {
		return trading.Ack{}, invalid("quote_msg_id must be at most 62 characters (its legs are named <quote_msg_id>-B and -S)")
	}
	if err := optionalID("orig_quote_msg_id", in.OrigQuoteMsgID); err != nil {
		return trading.Ack{}, err
	}
	if in.OrigQuoteMsgID == in.QuoteMsgID {
		return trading.Ack{}, invalid("orig_quote_msg_id must name an earlier kquote, not this one")
	}
	bid, err := readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize)
	if err != nil {
		return trading.Ack{}, err
	}
	offer, err := readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize)
	if err != nil {
		return trading.Ack{}, err
	}
	switch in.Side {
	case "":
	case "B":
		if offer.present {
			return trading.Ack{}, invalid("offer_price and offer_size must be absent with side B (a bid-only quote)")
		}
	case "S":
		if bid.present {
			return trading.Ack{}, invalid("bid_price and bid_size must be absent with side S (an offer-only quote)")
		}
	default:
		return trading.Ack{}, invalid("side must be B or S, got %q", in.Side)
	}
	var legs []leg
	for _, l := range []leg{bid, offer} {
		if !l.present {
			continue
		}
		if err := l.complete(); err != nil {
			return trading.Ack{}, err
		}
		legs = append(legs, l)
	}
	if len(legs) == 0 {
		return trading.Ack{}, invalid("a kquote needs bid_price and bid_size, or offer_price and offer_size, or both")
	}
	if len(legs) == 2 && !bid.price.LessThan(*offer.price) {
		return trading.Ack{}, invalid("bid_price %s must be below offer_price %s: a two-sided quote must not cross itself", bid.price, offer.price)
	}
	if err := s.checkTradeDate(in.TradeDate); err != nil {
		return trading.Ack{}, err
	}
	date := s.clock.TradingDate()
	account, symbol := strings.TrimSpace(in.Account), strings.TrimSpace(in.Symbol)
	var old *kQuote
	if in.OrigQuoteMsgID != "" {
		s.desk.mu.Lock()
		if k, ok := s.desk.kquotes[in.OrigQuoteMsgID]; ok && k.TradingDate == date && k.Status != kqPending {
			cp := *k
			old = &cp
		}
		s.desk.mu.Unlock()
		if old != nil {
			oldInst, _ := s.master.ByISIN(old.ISIN)
			if account == "" {
				account = old.Account
			} else if account != old.Account {
				return trading.Ack{}, invalid("account %s is not the account %s of kquote %s", account, old.Account, in.OrigQuoteMsgID)
			}
			if symbol == "" {
				symbol = oldInst.Ticker
			} else if x, ok := s.instrument(symbol); !ok || x.ISIN != old.ISIN {
				return trading.Ack{}, invalid("symbol %s is not the symbol %s of kquote %s", symbol, oldInst.Ticker, in.OrigQuoteMsgID)
			}
		}
	}
	if account == "" {
		return trading.Ack{}, invalid("account is required")
	}
	if symbol == "" {
		return trading.Ack{}, invalid("symbol is required")
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
	if in.OrigQuoteMsgID != "" {
		if old == nil {
			return fail(reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown kquote %s", in.OrigQuoteMsgID)}))
		}
		if old.Status != kqActive {
			return fail(reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("kquote %s is %s and can no longer be replaced", in.OrigQuoteMsgID, old.Status)}))
		}
	}
	inst, r := s.tradable(symbol)
	if r != nil {
		return fail(reject(r))
	}
	k := &kQuote{MsgID: in.QuoteMsgID, OrigMsgID: in.OrigQuoteMsgID, Account: account, ISIN: inst.ISIN, Status: kqPending, TradingDate: date}
	if err := s.desk.reserveKQuote(k); err != nil {
		return fail(err)
	}
	legs2, err := s.placeKQuote(ctx, user, k, old, inst, legs, trace)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if k.Status == kqPending {
			delete(d.kquotes, k.MsgID)
		}
		if legs2 == nil {
			return fail(err)
		}
		// Stored, but routing failed: the quote stands with what the store
		// has; the caller sees the failure.
		s.t.Abandon(trace)
		return trading.Ack{}, err
	}
	return trading.Ack{MsgType: latency.MsgKQuote, RequestID: in.QuoteMsgID, OrigRequestID: in.OrigQuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
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
// routes the new ones. It returns the stored legs (nil when nothing was
// stored).
func (s *Desk) placeKQuote(ctx context.Context, user string, k, old *kQuote, inst market.Instrument, legs []leg, trace *latency.Trace) ([]store.Order, error) {
	ctx, done, err := s.t.OpenBook(ctx, inst.ISIN)
	if err != nil {
		return nil, err
	}
	defer done()
	if old != nil {
		// Kquote statuses change under the instrument's lock: re-read, so
		// of two replaces of one quote only the first goes through.
		s.desk.mu.Lock()
		status := s.desk.kquotes[old.MsgID].Status
		s.desk.mu.Unlock()
		if status != kqActive {
			return nil, reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("kquote %s is %s and can no longer be replaced", old.MsgID, status)})
		}
	}
	now, date := s.now(), s.clock.TradingDate()
	var stored []store.Order
	var verdicts []market.Verdict
	var outOfBook []int64 // old legs the book holds
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		stored, verdicts, outOfBook = nil, nil, nil
		if _, err := txTrade(tx, user, k.Account); err != nil {
			return err
		}
		riskRules, orderRules, err := s.t.RulesIn(ctx, tx)
		if err != nil {
			return err
		}
		if old != nil {
			var err error
			if outOfBook, err = s.endLegs(tx, old, inst, "replaced by kquote "+k.MsgID); err != nil {
				return err
			}
		}
		acct, _, err := tx.Account(k.Account)
		if err != nil {
			return err
		}
		var orders []store.Order
		for _, l := range legs {
			price := *l.price
			if inst.BoardFor(l.size) != inst.Board {
				// A kquote stands on the main board: its legs are round lots.
				return trading.Refused(market.CodeLot, "a kquote's sizes must be round lots (multiples of %d), got %d", inst.LotSize, l.size)
			}
			o := store.Order{
				OriginalReqID: k.MsgID + "-" + l.side, TradingDate: date, AccountCode: k.Account, User: user,
				Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.BoardFor(l.size), Side: l.side, Type: "LO",
				Price: price, OriginalPrice: price, Qty: l.size, OriginalQty: l.size, Status: store.OrderPendingNew,
				QuoteID: k.MsgID, CreatedAt: now, UpdatedAt: now,
			}
			o.ClOrdID = o.OriginalReqID
			rej, v, acct2, hold, err := s.t.Check(tx, &o, acct, inst, &price, sideOf(l.side), orderRules, riskRules)
			if err != nil {
				return err
			}
			if rej != nil {
				return apperr.New(apperr.InvalidRequest, rej.Text(trading.SourceOMS)+fmt.Sprintf(" (%s leg)", map[string]string{"B": "bid", "S": "offer"}[l.side]))
			}
			acct, o.Hold = acct2, hold
			orders = append(orders, o)
			verdicts = append(verdicts, v)
		}
		if err := tx.PutAccount(acct); err != nil {
			return err
		}
		for _, o := range orders {
			so, err := tx.NewOrder(o, true)
			if err != nil {
				return err
			}
			stored = append(stored, so)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := &s.desk
	d.mu.Lock()
	for _, o := range stored {
		k.Legs = append(k.Legs, o.ID)
	}
	k.Status = kqActive
	if old != nil {
		if cur, ok := d.kquotes[old.MsgID]; ok {
			cur.Status = kqReplaced
		}
	}
	d.mu.Unlock()
	// From here the venue acts: the store follows through the backlog,
	// whatever happens to this request.
	var steps []trading.Step
	for _, id := range outOfBook {
		steps = append(steps, s.t.CancelOrderStep(inst.ISIN, id))
	}
	routed := false
	for i, o := range stored {
		if verdicts[i] == market.Accept {
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
	return stored, nil
}

// endLegs cancels, in tx, the working legs of k (holds released) and
// returns those the book still holds, to be taken out of it after the
// commit. The caller holds the instrument's lock.
func (s *Desk) endLegs(tx store.BackOfficeTx, k *kQuote, inst market.Instrument, why string) ([]int64, error) {
	var inBook []int64
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
		if s.t.Live(inst.ISIN, id) {
			inBook = append(inBook, id)
		}
		if err := trading.CancelInStore(tx, o, why, store.OrderCanceled); err != nil {
			return nil, err
		}
	}
	return inBook, nil
}

// KQuoteCancel cancels standing quotes (POST /orders/kquote-cancel).
func (s *Desk) KQuoteCancel(ctx context.Context, user string, in KQuoteCancelRequest) (trading.Ack, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return trading.Ack{}, err
	}
	if err := optionalID("orig_quote_msg_id", in.OrigQuoteMsgID); err != nil {
		return trading.Ack{}, err
	}
	typ := int32(CancelQuote)
	if in.CancelType != nil {
		typ = *in.CancelType
	}
	symbol := strings.TrimSpace(in.Symbol)
	switch typ {
	case CancelQuote:
		if in.OrigQuoteMsgID == "" {
			return trading.Ack{}, invalid("orig_quote_msg_id is required with quote_cancel_type 5 (or absent): it names the kquote to cancel")
		}
	case CancelBySymbol:
		if symbol == "" {
			return trading.Ack{}, invalid("symbol is required with quote_cancel_type 1 (cancel by symbol)")
		}
	case CancelAll:
	default:
		return trading.Ack{}, invalid("quote_cancel_type must be 1 (by symbol), 4 (all) or 5 (the quote named), got %d", typ)
	}
	trade, granted, err := s.tradeAccounts(ctx, user)
	if err != nil {
		return trading.Ack{}, err
	}

	trace := s.t.Begin(in.QuoteMsgID, latency.MsgKQuoteCancel, in.Body, user)
	fail := func(err error) (trading.Ack, error) {
		s.failed(trace, err)
		return trading.Ack{}, err
	}
	s.sweep(ctx)
	date := s.clock.TradingDate()
	var isin string
	if symbol != "" {
		inst, ok := s.instrument(symbol)
		if !ok {
			return fail(reject(&market.Reject{Code: market.CodeUnknownSymbol, Message: fmt.Sprintf("unknown symbol %s", symbol)}))
		}
		isin = inst.ISIN
	}
	// Pick the targets.
	byISIN := map[string][]*kQuote{}
	d := &s.desk
	d.mu.Lock()
	var refusal error
	switch typ {
	case CancelQuote:
		k, ok := d.kquotes[in.OrigQuoteMsgID]
		switch {
		case !ok || k.TradingDate != date || k.Status == kqPending || !granted[k.Account]:
			refusal = reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown kquote %s", in.OrigQuoteMsgID)})
		case !trade[k.Account]:
			refusal = trading.ErrNoTradeGrant
		case k.Status != kqActive:
			refusal = reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("kquote %s is %s", in.OrigQuoteMsgID, k.Status)})
		case isin != "" && k.ISIN != isin:
			refusal = invalid("symbol %s is not the symbol of kquote %s", symbol, in.OrigQuoteMsgID)
		default:
			cp := *k
			byISIN[k.ISIN] = append(byISIN[k.ISIN], &cp)
		}
	default:
		for _, k := range d.kquotes {
			if k.Status == kqActive && k.TradingDate == date && trade[k.Account] && (isin == "" || k.ISIN == isin) {
				cp := *k
				byISIN[k.ISIN] = append(byISIN[k.ISIN], &cp)
			}
		}
		if len(byISIN) == 0 {
			refusal = reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: "no open kquote to cancel"})
		}
	}
	d.mu.Unlock()
	if refusal != nil {
		if apperr.CodeOf(refusal) == apperr.Forbidden {
			s.t.Abandon(trace)
			return trading.Ack{}, refusal
		}
		return fail(refusal)
	}
	isins := make([]string, 0, len(byISIN))
	for i := range byISIN {
		isins = append(isins, i)
	}
	sort.Strings(isins)
	// The session must allow cancelling every leg before any is cancelled.
	for _, i := range isins {
		inst, _ := s.master.ByISIN(i)
		if dc := s.clock.Permit(inst, market.LO, market.Cancel); dc.Verdict == market.Refuse {
			return fail(reject(dc.Reject))
		}
	}
	s.t.Mark(trace, latency.RiskCompleted)
	s.t.Mark(trace, latency.SentToGateway)
	s.t.Mark(trace, latency.GatewayAccepted)
	s.t.Mark(trace, latency.MarketStarted)
	for _, i := range isins {
		inst, _ := s.master.ByISIN(i)
		if err := s.cancelKQuotes(ctx, user, inst, byISIN[i], in.QuoteMsgID, typ == CancelQuote); err != nil {
			if apperr.CodeOf(err) == apperr.InvalidRequest {
				s.t.End(trace, latency.MarketCompleted, latency.StatusRejected)
				return trading.Ack{}, err
			}
			s.t.Abandon(trace)
			return trading.Ack{}, err
		}
	}
	s.t.End(trace, latency.MarketCompleted, latency.StatusOK)
	d.mu.Lock()
	defer d.mu.Unlock()
	return trading.Ack{MsgType: latency.MsgKQuoteCancel, RequestID: in.QuoteMsgID, OrigRequestID: in.OrigQuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
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
	var inBook []int64
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		inBook = nil
		for _, k := range ks {
			if _, err := txTrade(tx, user, k.Account); err != nil {
				return err
			}
			ids, err := s.endLegs(tx, k, inst, "kquote cancelled by "+msgID)
			if err != nil {
				return err
			}
			inBook = append(inBook, ids...)
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
	for _, id := range inBook {
		steps = append(steps, s.t.CancelOrderStep(inst.ISIN, id))
	}
	if err := s.t.After(ctx, inst.ISIN, steps...); err != nil {
		s.log.Warn("kquote legs were cancelled in the book; booking the reports waits for the store", "err", err)
	}
	return nil
}
