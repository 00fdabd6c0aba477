package puthrough

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

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
// /orders/quote-response): decode → the caller's TRADE grant → the quote
// it answers and the terms it may answer with → a deal (accept) or an
// answer (counter, pass) → the desk's record.
func (s *Desk) RespondQuote(ctx context.Context, user string, in QuoteResponseRequest) (trading.Ack, error) {
	if err := s.t.Ready(); err != nil {
		return trading.Ack{}, err
	}
	r, err := s.decodeResponse(in)
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
	q, inst, l, err := s.answered(ctx, in, r)
	if err != nil {
		return fail(err)
	}
	rec := QuoteResponseRecord{MsgID: in.QuoteMsgID, RespID: r.respID, Type: r.typ, Account: in.Account, User: user, Qty: l.size, At: s.now()}
	if in.OrderQty != nil {
		rec.Qty = *in.OrderQty
	}
	if r.typ == RespAccept {
		err = s.deal(ctx, user, q, inst, in, r.respID, l, r.parties)
	} else {
		err = s.answer(ctx, q, inst, l, &rec)
	}
	if err != nil {
		return fail(err)
	}
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	q.Responses = append(q.Responses, rec)
	if r.typ == RespAccept {
		q.closed = true
		if ad, ok := d.adByIOI[q.IoiID]; ok && q.IoiID != "" && ad.Status == IOIActive && ad.TradingDate == date {
			ad.Status = IOIMatched
			ad.SourceSeq++
		}
	}
	s.completed(trace)
	return trading.Ack{MsgType: latency.MsgQuoteResponse, RequestID: in.QuoteMsgID, OrigRequestID: q.QuoteID, ClientID: user, SourceSequence: d.next()}, nil
}

// response is a quote response after decoding.
type response struct {
	typ        int32
	respID     string
	bid, offer leg
	parties    parties
}

// decodeResponse checks a quote response's form.
func (s *Desk) decodeResponse(in QuoteResponseRequest) (response, error) {
	r := response{respID: cmp.Or(in.QuoteRespID, in.QuoteMsgID)}
	for _, c := range []struct {
		field, id string
		required  bool
	}{{"quote_msg_id", in.QuoteMsgID, true}, {"quote_resp_id", in.QuoteRespID, false}, {"quote_id", in.QuoteID, true}, {"ioi_id", in.IoiID, false}} {
		check := optionalID
		if c.required {
			check = requiredID
		}
		if err := check(c.field, c.id); err != nil {
			return r, err
		}
	}
	if in.RespType == nil {
		return r, invalid("quote_resp_type is required: 1 (accept), 2 (counter) or 6 (pass)")
	}
	if r.typ = *in.RespType; r.typ != RespAccept && r.typ != RespCounter && r.typ != RespPass {
		return r, invalid("quote_resp_type must be 1 (accept), 2 (counter) or 6 (pass), got %d", r.typ)
	}
	if strings.TrimSpace(in.Account) == "" {
		return r, invalid("account is required")
	}
	if in.Side != "" {
		if _, err := trading.ParseSide(in.Side); err != nil {
			return r, err
		}
	}
	if in.OrderQty != nil {
		if err := trading.CheckQty("order_qty", *in.OrderQty); err != nil {
			return r, err
		}
	}
	var err error
	if r.bid, err = readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize); err != nil {
		return r, err
	}
	if r.offer, err = readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize); err != nil {
		return r, err
	}
	if err := s.checkTradeDate(in.TradeDate); err != nil {
		return r, err
	}
	r.parties, err = parseParties(in.Parties)
	return r, err
}

// answered finds the quote a response answers and checks the response
// fits it: symbol, side, IOI, quantity, the private quote's contra party.
// It returns the quote, its instrument and the responder's leg.
func (s *Desk) answered(ctx context.Context, in QuoteResponseRequest, r response) (*ptQuote, market.Instrument, leg, error) {
	q, ok := s.desk.quote(in.QuoteID, s.clock.TradingDate())
	if !ok {
		return nil, market.Instrument{}, leg{}, reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown quote %s", in.QuoteID)})
	}
	inst, _ := s.master.ByISIN(q.ISIN)
	respSide := opposite(q.Side)
	l := r.bid
	if respSide == "S" {
		l = r.offer
	}
	var err error
	switch {
	case in.Symbol != "" && !s.sameInstrument(in.Symbol, q.ISIN):
		err = invalid("symbol %s is not the quote's symbol %s", in.Symbol, inst.Ticker)
	case in.Side != "" && in.Side != respSide:
		err = invalid("side must be %s, the opposite of the quote's side %s", respSide, q.Side)
	case in.IoiID != "" && in.IoiID != q.IoiID:
		err = invalid("ioi_id %s is not the IOI quote %s answers", in.IoiID, in.QuoteID)
	case in.OrderQty != nil && l.sz0 && *in.OrderQty != l.size:
		err = invalid("order_qty %d and %s %d disagree", *in.OrderQty, l.sizeField, l.size)
	default:
		err = q.admits(r.parties)
	}
	if err == nil {
		err = s.checkParties(ctx, r.parties)
	}
	return q, inst, l, err
}

// sameInstrument reports whether symbol names the instrument isin.
func (s *Desk) sameInstrument(symbol, isin string) bool {
	x, ok := s.instrument(symbol)
	return ok && x.ISIN == isin
}

// admits checks a responder's parties against a private quote's contra
// party.
func (q *ptQuote) admits(p parties) error {
	if !q.Private || (p.Firm == q.Parties.ContraFirm && (q.Parties.ContraTrader == "" || p.Trader == q.Parties.ContraTrader)) {
		return nil
	}
	who := "firm " + q.Parties.ContraFirm
	if q.Parties.ContraTrader != "" {
		who += ", trader " + q.Parties.ContraTrader
	}
	return reject(&market.Reject{Code: CodeUnknownParty, Message: fmt.Sprintf("quote %s is private to %s: give them as executing firm/trader (party_role 1/12)", q.QuoteID, who)})
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
	if r := inst.CheckPutThrough(rec.Qty, l.price); r != nil {
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
	due, err := s.clock.SettlementDate(inst)
	if err != nil {
		return err
	}
	a := acceptance{user: user, q: q, inst: inst, in: in, respID: respID, leg: l, parties: p, now: s.now(), date: s.clock.TradingDate(), due: due}
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error { return s.dealTx(ctx, tx, a) })
	return err
}

// acceptance is a quote response that takes the quote.
type acceptance struct {
	user    string
	q       *ptQuote
	inst    market.Instrument
	in      QuoteResponseRequest
	respID  string
	leg     leg
	parties parties
	now     time.Time
	date    string
	due     string // the deal's settlement date ("" settles at once)
}

// dealTx checks the accept against the quote's order → holds and settles
// the responder's side → settles the quote's side → stores both orders.
func (s *Desk) dealTx(ctx context.Context, tx store.BackOfficeTx, a acceptance) error {
	acct, err := txTrade(tx, a.user, a.in.Account)
	if err != nil {
		return err
	}
	qo, err := a.quoteOrder(tx)
	if err != nil {
		return err
	}
	if err := s.acceptable(tx, a, qo); err != nil {
		return err
	}
	acct, h, err := s.responderHold(ctx, tx, a, acct, qo)
	if err != nil {
		return err
	}
	if acct, err = bookSide(acct, h, a.inst, qo.Price, qo.Qty, a.due, "your account"); err != nil {
		return err
	}
	qa, ok, err := tx.Account(qo.AccountCode)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("puthrough: account %s of quote %s is gone", qo.AccountCode, a.q.QuoteID)
	}
	if qa, err = bookSide(qa, trading.HoldOf(qo), a.inst, qo.Price, qo.Qty, a.due, "the quoting account"); err != nil {
		return err
	}
	if err := tx.PutAccount(acct); err != nil {
		return err
	}
	if err := tx.PutAccount(qa); err != nil {
		return err
	}
	return a.storeOrders(tx, qo, h)
}

// quoteOrder is the quote's open order, on another account than the
// responder's.
func (a acceptance) quoteOrder(tx store.BackOfficeTx) (store.Order, error) {
	qo, ok, err := tx.Order(a.q.OrderID)
	switch {
	case err != nil:
		return qo, err
	case !ok:
		return qo, reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown quote %s", a.q.QuoteID)})
	case qo.Status != store.OrderNew || qo.FilledQty > 0:
		return qo, reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("quote %s is no longer open (its order is %s)", a.q.QuoteID, qo.Status)})
	case qo.AccountCode == a.in.Account:
		return qo, invalid("account %s is the quoting account: a put-through deal needs two accounts", a.in.Account)
	}
	return qo, nil
}

// acceptable checks the accept takes the whole quote at its price, under
// a new ClOrdID, while put-through is open.
func (s *Desk) acceptable(tx store.BackOfficeTx, a acceptance, qo store.Order) error {
	l, qty, price := a.leg, qo.Qty, qo.Price
	switch {
	case l.sz0 && l.size != qty:
		return invalid("%s %d must equal the quoted size %d: an accept takes the whole quote", l.sizeField, l.size, qty)
	case a.in.OrderQty != nil && *a.in.OrderQty != qty:
		return invalid("order_qty %d must equal the quoted size %d: an accept takes the whole quote", *a.in.OrderQty, qty)
	case l.price != nil && !l.price.Equal(price):
		return invalid("%s %s must equal the quoted price %s", l.priceField, l.price, price)
	}
	if prev, ok, err := tx.OrderByReqID(a.user, a.in.QuoteMsgID); err != nil {
		return err
	} else if ok && prev.TradingDate == a.date {
		return reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("duplicate ClOrdID %s for trading date %s", a.in.QuoteMsgID, a.date)})
	}
	if r := s.ptOpen(a.inst); r != nil {
		return reject(r)
	}
	if r := a.inst.CheckPutThrough(qty, &price); r != nil {
		return reject(r)
	}
	return nil
}

// responderHold runs the responder's restriction and cash or stock checks
// as for an order and reserves its hold.
func (s *Desk) responderHold(ctx context.Context, tx store.BackOfficeTx, a acceptance, acct store.Account, qo store.Order) (store.Account, pretrade.HoldResult, error) {
	riskRules, orderRules, err := s.t.RulesIn(ctx, tx)
	if err != nil {
		return acct, pretrade.HoldResult{}, err
	}
	side := sideOf(opposite(a.q.Side))
	if r := pretrade.CheckRestrictions(orderRules, a.in.Account, pretrade.ChannelREST, a.inst, side); r != nil {
		return acct, pretrade.HoldResult{}, reject(r)
	}
	vp, err := venue.PriceFromDecimal(qo.Price)
	if err != nil {
		return acct, pretrade.HoldResult{}, err
	}
	vo := venue.Order{ID: "0", Account: a.in.Account, Symbol: a.inst.ISIN, Side: side, Type: venue.LO, Price: vp, Qty: qo.Qty}
	h, r := pretrade.Hold(vo, acct, a.inst, pretrade.Flags(riskRules, a.in.Account, pretrade.ChannelREST, a.inst.ISIN))
	if r != nil {
		return acct, h, reject(r)
	}
	acct, err = pretrade.Apply(acct, h)
	return acct, h, err
}

// storeOrders fills the quote's order and stores the responder's, FILLED.
func (a acceptance) storeOrders(tx store.BackOfficeTx, qo store.Order, h pretrade.HoldResult) error {
	qty, price := qo.Qty, qo.Price
	value := price.Mul(decimal.NewFromInt(qty))
	qo.Status, qo.FilledQty, qo.FilledValue = store.OrderFilled, qty, value
	qo.Hold = store.OrderHold{UnitPrice: qo.Hold.UnitPrice}
	qo.QuoteRespID, qo.UpdatedAt = a.respID, a.now
	if qo.PartyID == "" {
		qo.PartyID, qo.PartyTraderID = orDefault(a.parties.Firm, FirmID), a.parties.Trader
	}
	if err := tx.PutOrder(qo); err != nil {
		return err
	}
	inst := a.inst
	ro := store.Order{
		OriginalReqID: a.in.QuoteMsgID, ClOrdID: a.in.QuoteMsgID, TradingDate: a.date, AccountCode: a.in.Account, User: a.user,
		Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.BoardFor(qty), Side: opposite(a.q.Side), Type: "LO",
		Price: price, OriginalPrice: price, Qty: qty, OriginalQty: qty, FilledQty: qty, FilledValue: value,
		Status: store.OrderFilled, Hold: store.OrderHold{UnitPrice: h.UnitPrice}, OffBook: true,
		QuoteID: a.q.QuoteID, QuoteRespID: a.respID, PartyID: orDefault(a.q.Parties.Firm, FirmID), PartyTraderID: a.q.Parties.Trader,
		CreatedAt: a.now, UpdatedAt: a.now,
	}
	_, err := tx.NewOrder(ro, true)
	return err
}

// bookSide fills one side of a deal on a (settling on due, as a venue
// fill does) and gives back what the hold kept beyond the fill. The deal is made here, before anything has traded, so
// an account whose hold and free balance do not cover it (a bypassed or
// partly covered hold) refuses the deal with the cash or stock code; a
// venue fill, already traded, is booked even into a loan or a short.
func bookSide(a store.Account, h pretrade.HoldResult, inst market.Instrument, price decimal.Decimal, qty int64, due, whose string) (store.Account, error) {
	out, rest, err := pretrade.FillAny(a, h, inst, price, qty, due)
	if err != nil {
		return a, err
	}
	if r := uncovered(a, out, h, inst, whose); r != nil {
		return a, reject(r)
	}
	if !rest.Empty() {
		return pretrade.Release(out, rest)
	}
	return out, nil
}

// uncovered refuses a deal that took the free balance below zero, or
// further below it.
func uncovered(before, after store.Account, h pretrade.HoldResult, inst market.Instrument, whose string) *market.Reject {
	if h.Side == venue.Buy || inst.IsFuture() { // a futures side pays margin, either way
		if after.CashAvailable.IsNegative() && after.CashAvailable.LessThan(before.CashAvailable) {
			code := pretrade.CodeInsufficientCash
			if inst.IsFuture() {
				code = pretrade.CodeInsufficientMargin
			}
			return &market.Reject{Code: code, Message: fmt.Sprintf(
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
