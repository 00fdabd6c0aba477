package puthrough

import (
	"context"
	"fmt"
	"strings"

	"github.com/vero-oms/omsd/server/trading"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// ---- quote response (T5) ---------------------------------------------------

// RespondQuote accepts, counters or passes a put-through quote (POST
// /orders/quote-response).
func (s *Desk) RespondQuote(ctx context.Context, user string, in QuoteResponseRequest) (trading.Ack, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return trading.Ack{}, err
	}
	if err := optionalID("quote_resp_id", in.QuoteRespID); err != nil {
		return trading.Ack{}, err
	}
	respID := in.QuoteRespID
	if respID == "" {
		respID = in.QuoteMsgID
	}
	if err := requiredID("quote_id", in.QuoteID); err != nil {
		return trading.Ack{}, err
	}
	if in.RespType == nil {
		return trading.Ack{}, invalid("quote_resp_type is required: 1 (accept), 2 (counter) or 6 (pass)")
	}
	typ := *in.RespType
	if typ != RespAccept && typ != RespCounter && typ != RespPass {
		return trading.Ack{}, invalid("quote_resp_type must be 1 (accept), 2 (counter) or 6 (pass), got %d", typ)
	}
	if strings.TrimSpace(in.Account) == "" {
		return trading.Ack{}, invalid("account is required")
	}
	if in.Side != "" {
		if _, err := trading.ParseSide(in.Side); err != nil {
			return trading.Ack{}, err
		}
	}
	if in.OrderQty != nil && *in.OrderQty <= 0 {
		return trading.Ack{}, invalid("order_qty must be greater than 0, got %d", *in.OrderQty)
	}
	bid, err := readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize)
	if err != nil {
		return trading.Ack{}, err
	}
	offer, err := readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize)
	if err != nil {
		return trading.Ack{}, err
	}
	if err := s.checkTradeDate(in.TradeDate); err != nil {
		return trading.Ack{}, err
	}
	if err := optionalID("ioi_id", in.IoiID); err != nil {
		return trading.Ack{}, err
	}
	p, err := parseParties(in.Parties)
	if err != nil {
		return trading.Ack{}, err
	}
	if err := s.tradeGrant(ctx, user, in.Account); err != nil {
		return trading.Ack{}, err
	}

	trace := s.t.Begin(in.QuoteMsgID, latency.MsgQuoteResponse, in.Body, user)
	fail := func(err error) (trading.Ack, error) {
		s.failed(trace, err)
		return trading.Ack{}, err
	}
	s.sweep(ctx)
	date := s.clock.TradingDate()
	q, ok := s.desk.quote(in.QuoteID, date)
	if !ok {
		return fail(reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown quote %s", in.QuoteID)}))
	}
	inst, _ := s.master.ByISIN(q.ISIN)
	if in.Symbol != "" {
		if x, ok := s.instrument(in.Symbol); !ok || x.ISIN != q.ISIN {
			return fail(invalid("symbol %s is not the quote's symbol %s", in.Symbol, inst.Ticker))
		}
	}
	respSide := opposite(q.Side)
	if in.Side != "" && in.Side != respSide {
		return fail(invalid("side must be %s, the opposite of the quote's side %s", respSide, q.Side))
	}
	if in.IoiID != "" && in.IoiID != q.IoiID {
		return fail(invalid("ioi_id %s is not the IOI quote %s answers", in.IoiID, in.QuoteID))
	}
	l := bid
	if respSide == "S" {
		l = offer
	}
	if in.OrderQty != nil && l.sz0 && *in.OrderQty != l.size {
		return fail(invalid("order_qty %d and %s %d disagree", *in.OrderQty, l.sizeField, l.size))
	}
	qty := l.size
	if in.OrderQty != nil {
		qty = *in.OrderQty
	}
	if q.Private && (p.Firm != q.Parties.ContraFirm || (q.Parties.ContraTrader != "" && p.Trader != q.Parties.ContraTrader)) {
		who := "firm " + q.Parties.ContraFirm
		if q.Parties.ContraTrader != "" {
			who += ", trader " + q.Parties.ContraTrader
		}
		return fail(reject(&market.Reject{Code: CodeUnknownParty, Message: fmt.Sprintf("quote %s is private to %s: give them as executing firm/trader (party_role 1/12)", in.QuoteID, who)}))
	}
	if err := s.checkParties(ctx, p); err != nil {
		return fail(err)
	}
	rec := QuoteResponseRecord{MsgID: in.QuoteMsgID, RespID: respID, Type: typ, Account: in.Account, User: user, Qty: qty, At: s.now()}
	if typ != RespAccept {
		if err := s.answer(ctx, q, inst, l, &rec); err != nil {
			return fail(err)
		}
		d := &s.desk
		d.mu.Lock()
		defer d.mu.Unlock()
		q.Responses = append(q.Responses, rec)
		s.completed(trace)
		return trading.Ack{MsgType: latency.MsgQuoteResponse, RequestID: in.QuoteMsgID, OrigRequestID: q.QuoteID, ClientID: user, SourceSequence: d.next()}, nil
	}
	if err := s.deal(ctx, user, q, inst, in, respID, l, p); err != nil {
		return fail(err)
	}
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	q.closed = true
	q.Responses = append(q.Responses, rec)
	if ad, ok := d.adByIOI[q.IoiID]; ok && q.IoiID != "" && ad.Status == IOIActive && ad.TradingDate == date {
		ad.Status = IOIMatched
		ad.SourceSeq++
	}
	s.completed(trace)
	return trading.Ack{MsgType: latency.MsgQuoteResponse, RequestID: in.QuoteMsgID, OrigRequestID: q.QuoteID, ClientID: user, SourceSequence: d.next()}, nil
}

// quote finds an entered quote by quote id, or by its quote_msg_id.
func (d *desk) quote(id, date string) (*ptQuote, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q, ok := d.quotes[id]
	if !ok {
		q, ok = d.quoteMsg[id]
	}
	if !ok || q.TradingDate != date || q.OrderID == 0 {
		return nil, false
	}
	return q, true
}

// answer checks a counter or a pass: the quote is still open, a counter
// names its price.
func (s *Desk) answer(ctx context.Context, q *ptQuote, inst market.Instrument, l leg, rec *QuoteResponseRecord) error {
	o, err := s.st.Order(ctx, q.OrderID)
	if err != nil {
		return err
	}
	if o.Status != store.OrderNew || o.FilledQty > 0 {
		return reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("quote %s is no longer open (its order is %s)", q.QuoteID, o.Status)})
	}
	if rec.Qty == 0 {
		rec.Qty = o.Qty
	}
	if rec.Type != RespCounter {
		return nil
	}
	if l.price == nil {
		return invalid("%s is required on a counter (quote_resp_type 2): it is your price", l.priceField)
	}
	if r := inst.CheckQty(market.LO, rec.Qty); r != nil {
		return reject(r)
	}
	if r := inst.CheckPrice(market.LO, l.price); r != nil {
		return reject(r)
	}
	rec.Price = *l.price
	return nil
}

// deal makes the put-through deal of an accept in one store step: the
// responder's order (FILLED) and the quote's order filled, cash and stock
// moved on both accounts.
func (s *Desk) deal(ctx context.Context, user string, q *ptQuote, inst market.Instrument, in QuoteResponseRequest, respID string, l leg, p parties) error {
	ctx, done, err := s.t.OpenBook(ctx, inst.ISIN)
	if err != nil {
		return err
	}
	defer done()
	now, date := s.now(), s.clock.TradingDate()
	respSide := opposite(q.Side)
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		acct, err := txTrade(tx, user, in.Account)
		if err != nil {
			return err
		}
		riskRules, orderRules, err := s.t.RulesIn(ctx, tx)
		if err != nil {
			return err
		}
		qo, ok, err := tx.Order(q.OrderID)
		if err != nil {
			return err
		}
		if !ok {
			return reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown quote %s", q.QuoteID)})
		}
		if qo.Status != store.OrderNew || qo.FilledQty > 0 {
			return reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("quote %s is no longer open (its order is %s)", q.QuoteID, qo.Status)})
		}
		if qo.AccountCode == in.Account {
			return invalid("account %s is the quoting account: a put-through deal needs two accounts", in.Account)
		}
		qty, price := qo.Qty, qo.Price
		if l.sz0 && l.size != qty {
			return invalid("%s %d must equal the quoted size %d: an accept takes the whole quote", l.sizeField, l.size, qty)
		}
		if in.OrderQty != nil && *in.OrderQty != qty {
			return invalid("order_qty %d must equal the quoted size %d: an accept takes the whole quote", *in.OrderQty, qty)
		}
		if l.price != nil && !l.price.Equal(price) {
			return invalid("%s %s must equal the quoted price %s", l.priceField, l.price, price)
		}
		if prev, ok, err := tx.OrderByReqID(user, in.QuoteMsgID); err != nil {
			return err
		} else if ok && prev.TradingDate == date {
			return reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("duplicate ClOrdID %s for trading date %s", in.QuoteMsgID, date)})
		}
		if r := s.ptOpen(inst); r != nil {
			return reject(r)
		}
		if r := inst.CheckPrice(market.LO, &price); r != nil {
			return reject(r)
		}
		side := sideOf(respSide)
		if r := pretrade.CheckRestrictions(orderRules, in.Account, inst, side); r != nil {
			return reject(r)
		}
		vp, err := venue.PriceFromDecimal(price)
		if err != nil {
			return err
		}
		vo := venue.Order{ID: "0", Account: in.Account, Symbol: inst.ISIN, Side: side, Type: venue.LO, Price: vp, Qty: qty}
		h, r := pretrade.Hold(vo, acct, inst, pretrade.Flags(riskRules, in.Account, inst.ISIN))
		if r != nil {
			return reject(r)
		}
		if acct, err = pretrade.Apply(acct, h); err != nil {
			return err
		}
		if acct, err = settle(acct, h, price, qty, "your account"); err != nil {
			return err
		}
		qa, ok, err := tx.Account(qo.AccountCode)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("trading: account %s of quote %s is gone", qo.AccountCode, q.QuoteID)
		}
		if qa, err = settle(qa, trading.HoldOf(qo), price, qty, "the quoting account"); err != nil {
			return err
		}
		if err := tx.PutAccount(acct); err != nil {
			return err
		}
		if err := tx.PutAccount(qa); err != nil {
			return err
		}
		value := price.Mul(decimal.NewFromInt(qty))
		qo.Status, qo.FilledQty, qo.FilledValue = store.OrderFilled, qty, value
		qo.Hold = store.OrderHold{UnitPrice: qo.Hold.UnitPrice}
		qo.QuoteRespID, qo.UpdatedAt = respID, now
		if qo.PartyID == "" {
			qo.PartyID, qo.PartyTraderID = orDefault(p.Firm, FirmID), p.Trader
		}
		if err := tx.PutOrder(qo); err != nil {
			return err
		}
		ro := store.Order{
			OriginalReqID: in.QuoteMsgID, ClOrdID: in.QuoteMsgID, TradingDate: date, AccountCode: in.Account, User: user,
			Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.BoardFor(qty), Side: respSide, Type: "LO",
			Price: price, OriginalPrice: price, Qty: qty, OriginalQty: qty, FilledQty: qty, FilledValue: value,
			Status: store.OrderFilled, Hold: store.OrderHold{UnitPrice: h.UnitPrice},
			QuoteID: q.QuoteID, QuoteRespID: respID, PartyID: orDefault(q.Parties.Firm, FirmID), PartyTraderID: q.Parties.Trader,
			CreatedAt: now, UpdatedAt: now,
		}
		_, err = tx.NewOrder(ro, true)
		return err
	})
	return err
}

// settle fills one side of a deal on a and gives back what the hold kept
// beyond the fill. The deal is made here, before anything has traded, so
// an account whose hold and free balance do not cover it (a bypassed or
// partly covered hold) refuses the deal with the cash or stock code; a
// venue fill, already traded, is booked even into a loan or a short.
func settle(a store.Account, h pretrade.HoldResult, price decimal.Decimal, qty int64, whose string) (store.Account, error) {
	out, rest, err := pretrade.Fill(a, h, price, qty)
	if err != nil {
		return a, err
	}
	if r := uncovered(a, out, h, whose); r != nil {
		return a, reject(r)
	}
	if !rest.Empty() {
		return pretrade.Release(out, rest)
	}
	return out, nil
}

// uncovered refuses a deal that took the free balance below zero, or
// further below it.
func uncovered(before, after store.Account, h pretrade.HoldResult, whose string) *market.Reject {
	if h.Side == venue.Buy {
		if after.CashAvailable.IsNegative() && after.CashAvailable.LessThan(before.CashAvailable) {
			return &market.Reject{Code: pretrade.CodeInsufficientCash, Message: fmt.Sprintf(
				"insufficient cash: %s cannot settle the deal (cash_available would be %s)", whose, after.CashAvailable)}
		}
		return nil
	}
	was, _ := before.Holding(h.Symbol)
	now, _ := after.Holding(h.Symbol)
	if now.SellableQty < 0 && now.SellableQty < was.SellableQty {
		return &market.Reject{Code: pretrade.CodeInsufficientStock, Message: fmt.Sprintf(
			"insufficient stock: %s cannot settle the deal (sellable_qty would be %d)", whose, now.SellableQty)}
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
