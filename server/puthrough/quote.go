package puthrough

import (
	"cmp"
	"context"
	"errors"
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

// ---- put-through quote (T4) ------------------------------------------------

// Quote posts a put-through quote (POST /orders/quote): decode → the
// caller's TRADE grant → the instrument, session and parties → reserve its
// ids on the desk → store its order with the hold.
func (s *Desk) Quote(ctx context.Context, user string, in QuoteRequest) (trading.Ack, error) {
	if err := s.t.Ready(); err != nil {
		return trading.Ack{}, err
	}
	q, l, err := s.decodeQuote(in)
	if err != nil {
		return trading.Ack{}, err
	}
	if err := s.tradeGrant(ctx, user, in.Account); err != nil {
		return trading.Ack{}, err
	}
	trace := s.t.Begin(in.QuoteMsgID, latency.MsgQuote, in.Body, user)
	fail := func(err error) (trading.Ack, error) {
		s.failed(trace, err)
		return trading.Ack{}, err
	}
	s.sweep(ctx)
	inst, err := s.quotable(ctx, in.Symbol, l, q.Parties)
	if err != nil {
		return fail(err)
	}
	q.ISIN, q.Market, q.TradingDate = inst.ISIN, inst.Market, s.clock.TradingDate()
	if err := s.desk.reserveQuote(q, inst); err != nil {
		return fail(err)
	}
	stored, err := s.enterQuote(ctx, user, q, inst, *l.price, l.size)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		delete(d.quotes, q.QuoteID)
		delete(d.quoteMsg, q.MsgID)
		return fail(err)
	}
	q.OrderID = stored.ID
	s.completed(trace)
	return trading.Ack{MsgType: latency.MsgQuote, RequestID: in.QuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
}

// decodeQuote checks a quote's form and returns the quote (its instrument
// not yet resolved) and its one leg.
func (s *Desk) decodeQuote(in QuoteRequest) (*ptQuote, leg, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return nil, leg{}, err
	}
	if err := optionalID("quote_id", in.QuoteID); err != nil {
		return nil, leg{}, err
	}
	if strings.TrimSpace(in.Account) == "" {
		return nil, leg{}, invalid("account is required")
	}
	if strings.TrimSpace(in.Symbol) == "" {
		return nil, leg{}, invalid("symbol is required")
	}
	side, l, err := quoteLeg(in)
	if err != nil {
		return nil, leg{}, err
	}
	if err := checkQuoteTerms(in); err != nil {
		return nil, leg{}, err
	}
	if err := s.checkTradeDate(in.TradeDate); err != nil {
		return nil, leg{}, err
	}
	if err := optionalID("ioi_id", in.IoiID); err != nil {
		return nil, leg{}, err
	}
	p, err := parseParties(in.Parties)
	if err != nil {
		return nil, leg{}, err
	}
	if in.Private && p.ContraFirm == "" {
		return nil, leg{}, invalid("a private_quote must name its contra firm in parties (party_role 17)")
	}
	q := &ptQuote{QuoteID: cmp.Or(in.QuoteID, in.QuoteMsgID), MsgID: in.QuoteMsgID, Side: side, Account: in.Account,
		IoiID: in.IoiID, Private: in.Private, Parties: p}
	return q, l, nil
}

// quoteLeg returns the quote's side and its leg: a put-through quote is
// one-sided, its side given or inferred from the one leg sent.
func quoteLeg(in QuoteRequest) (string, leg, error) {
	bid, err := readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize)
	if err != nil {
		return "", leg{}, err
	}
	offer, err := readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize)
	if err != nil {
		return "", leg{}, err
	}
	side := in.Side
	switch {
	case side == "B" || side == "S":
	case side != "":
		return "", leg{}, invalid("side must be B or S, got %q", in.Side)
	case bid.present && !offer.present:
		side = "B"
	case offer.present && !bid.present:
		side = "S"
	default:
		return "", leg{}, invalid("side is required (B or S) unless only the bid or only the offer fields are sent")
	}
	l, other := bid, offer
	if side == "S" {
		l, other = offer, bid
	}
	what := map[string]string{"B": "buy", "S": "sell"}[side]
	switch {
	case other.present:
		return "", leg{}, invalid("%s and %s must be absent on a %s quote: a put-through quote is one-sided (a two-sided standing quote is a kquote)",
			other.priceField, other.sizeField, what)
	case l.price == nil:
		return "", leg{}, invalid("%s is required for a %s quote", l.priceField, what)
	case !l.sz0:
		return "", leg{}, invalid("%s is required for a %s quote", l.sizeField, what)
	}
	return side, l, nil
}

// checkQuoteTerms checks quote_type and order_type.
func checkQuoteTerms(in QuoteRequest) error {
	if in.QuoteType != nil {
		switch *in.QuoteType {
		case 1, 2, 3:
		case 0:
			return invalid("quote_type 0 (indicative) is not supported: advertise interest with an IOI")
		default:
			return invalid("quote_type must be 1 (tradeable), 2 (restricted tradeable) or 3 (counter), got %d", *in.QuoteType)
		}
	}
	if in.OrderType != "" && in.OrderType != "LO" {
		return invalid("order_type must be LO or absent: a put-through deal is priced, got %q", in.OrderType)
	}
	return nil
}

// quotable resolves the instrument a quote or response trades and checks
// it is open for put-through at the leg's terms, and its parties.
func (s *Desk) quotable(ctx context.Context, symbol string, l leg, p parties) (market.Instrument, error) {
	inst, r := s.tradable(symbol)
	if r == nil {
		r = s.ptOpen(inst)
	}
	if r == nil {
		r = inst.CheckPutThrough(l.size, l.price)
	}
	if r != nil {
		return market.Instrument{}, reject(r)
	}
	if err := s.checkParties(ctx, p); err != nil {
		return market.Instrument{}, err
	}
	return inst, nil
}

// reserveQuote takes the quote's ids for the trading date and checks the
// IOI it answers.
func (d *desk) reserveQuote(q *ptQuote, inst market.Instrument) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.quotes[q.QuoteID]; ok && prev.TradingDate == q.TradingDate {
		return reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("quote_id %s is already used on trading date %s", q.QuoteID, q.TradingDate)})
	}
	if prev, ok := d.quoteMsg[q.MsgID]; ok && prev.TradingDate == q.TradingDate {
		return reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("quote_msg_id %s is already used on trading date %s", q.MsgID, q.TradingDate)})
	}
	if q.IoiID != "" {
		ad, ok := d.adByIOI[q.IoiID]
		switch {
		case !ok || ad.TradingDate != q.TradingDate:
			return reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown IOI %s", q.IoiID)})
		case ad.Status != IOIActive:
			return reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("IOI %s is %s, not ACTIVE", q.IoiID, ad.Status)})
		case ad.ISIN != inst.ISIN:
			return invalid("ioi_id %s advertises %s, not %s", q.IoiID, ad.Symbol, inst.Ticker)
		}
	}
	d.quotes[q.QuoteID] = q
	d.quoteMsg[q.MsgID] = q
	return nil
}

// enterQuote stores the quote's order with its hold in one step.
func (s *Desk) enterQuote(ctx context.Context, user string, q *ptQuote, inst market.Instrument, price decimal.Decimal, size int64) (store.Order, error) {
	ctx, done, err := s.t.OpenBook(ctx, inst.ISIN)
	if err != nil {
		return store.Order{}, err
	}
	defer done()
	now := s.now()
	o := store.Order{
		OriginalReqID: q.MsgID, ClOrdID: q.MsgID, TradingDate: q.TradingDate, AccountCode: q.Account, User: user,
		Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.BoardFor(size), Side: q.Side, Type: "LO",
		Price: price, OriginalPrice: price, Qty: size, OriginalQty: size, Status: store.OrderNew, OffBook: true,
		QuoteID: q.QuoteID, PartyID: q.Parties.ContraFirm, PartyTraderID: q.Parties.ContraTrader,
		CreatedAt: now, UpdatedAt: now,
	}
	vp, err := venue.PriceFromDecimal(price)
	if err != nil {
		return store.Order{}, invalid("price %s has more than %d decimal places", price, venue.PriceScale)
	}
	var stored store.Order
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		stored = store.Order{}
		acct, err := txTrade(tx, user, q.Account)
		if err != nil {
			return err
		}
		riskRules, orderRules, err := s.t.RulesIn(ctx, tx)
		if err != nil {
			return err
		}
		if prev, ok, err := tx.OrderByReqID(user, q.MsgID); err != nil {
			return err
		} else if ok && prev.TradingDate == q.TradingDate {
			return reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("duplicate ClOrdID %s for trading date %s", q.MsgID, q.TradingDate)})
		}
		side := sideOf(q.Side)
		if r := pretrade.CheckRestrictions(orderRules, q.Account, pretrade.ChannelREST, inst, side); r != nil {
			return reject(r)
		}
		vo := venue.Order{ID: "0", Account: q.Account, Symbol: inst.ISIN, Side: side, Type: venue.LO, Price: vp, Qty: size}
		h, r := pretrade.Hold(vo, acct, inst, pretrade.Flags(riskRules, q.Account, pretrade.ChannelREST, inst.ISIN))
		if r != nil {
			return reject(r)
		}
		acct2, err := pretrade.Apply(acct, h)
		if err != nil {
			return err
		}
		if err := tx.PutAccount(acct2); err != nil {
			return err
		}
		ord := o
		ord.Hold = trading.StoreHold(h)
		stored, err = tx.NewOrder(ord, true)
		return err
	})
	if errors.Is(err, store.ErrOutcomeUnknown) && stored.ID != 0 {
		// The caller forgets the quote, so its order must not stand in
		// the store either (with its hold, out of the desk's reach).
		return store.Order{}, s.undoUncertain(ctx, inst, "quote "+q.MsgID, placement{stored: []store.Order{stored}}, err)
	}
	return stored, err
}
