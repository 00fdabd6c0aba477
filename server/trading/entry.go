package trading

import (
	"context"
	"slices"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// entry is a new order decoded and checked for form, before the store.
type entry struct {
	order store.Order
	price *decimal.Decimal
	side  venue.Side
	inst  market.Instrument
	known bool // the symbol is in the instrument master
}

// isin is the lock key of the entry's books ("" for an unknown symbol).
func (e entry) isin() string {
	if !e.known {
		return ""
	}
	return e.inst.ISIN
}

// entered is what the entry's transaction decided.
type entered struct {
	order   store.Order // as stored, or as found for a repeated entry
	verdict market.Verdict
	quiet   bool // stored NEW: the venue will only rest it
	// settled: nothing is left to route (a repeated entry, or one whose
	// uncertain commit was resolved, routing included).
	settled  bool
	repeated bool // the entry repeated one already made
	indexed  bool // r.order is the one its ClOrdID names
}

// routable reports whether the order goes to the venue now.
func (r entered) routable() bool {
	return !r.settled && r.verdict == market.Accept && r.order.Status != store.OrderRejected
}

// traceStatus is the latency status of an entry that is not routed.
func (r entered) traceStatus() string {
	if r.order.Status == store.OrderRejected {
		return latency.StatusRejected
	}
	if r.verdict == market.Hold && !r.settled {
		return "HELD"
	}
	return latency.StatusOK
}

// Submit enters a new order (POST /orders/new): decode → queue on the
// book → check, reserve and store in one transaction (with the entries
// queued beside it, see batch.go) → route to the venue.
func (s *Service) Submit(ctx context.Context, user string, in NewOrder) (Ack, error) {
	if err := s.ready(); err != nil {
		return Ack{}, err
	}
	e, err := s.decodeEntry(user, in)
	if err != nil {
		return Ack{}, err
	}
	trace := s.begin(e.order.OriginalReqID, latency.MsgNewOrder, in.Body, user)
	r, err := s.submit(ctx, e, trace)
	if err != nil {
		s.abandon(trace)
		return Ack{}, err
	}
	return Ack{MsgType: latency.MsgNewOrder, RequestID: e.order.OriginalReqID, ClientID: user, SourceSequence: r.order.Seq, Repeated: r.repeated}, nil
}

// decodeEntry checks a new order's form and builds the order to store.
func (s *Service) decodeEntry(user string, in NewOrder) (entry, error) {
	side, err := parseSide(in.Side)
	if err != nil {
		return entry{}, err
	}
	if !slices.Contains(knownTypes, in.Type) {
		return entry{}, invalid("order_type must be one of %s, got %q", strings.Join(knownTypes, ", "), in.Type)
	}
	if err := checkQty("qty", in.Qty); err != nil {
		return entry{}, err
	}
	price, err := parsePrice("price", in.Price)
	if err != nil {
		return entry{}, err
	}
	if in.Account == "" || in.Symbol == "" {
		return entry{}, invalid("account_id and symbol must not be empty")
	}
	clOrdID, err := clientID("ref_order_id", in.RefOrderID)
	if err != nil {
		return entry{}, err
	}
	for _, f := range []struct{ name, v string }{{"algo_id", in.AlgoID}, {"position_id", in.PositionID}, {"persis_state", in.PersisState}} {
		if len(f.v) > 64 {
			return entry{}, invalid("%s must be at most 64 characters", f.name)
		}
	}
	stop, err := decodeStop(in)
	if err != nil {
		return entry{}, err
	}
	e := entry{price: price, side: side}
	e.inst, e.known = s.master.ByTicker(in.Symbol)
	if !e.known {
		e.inst, e.known = s.master.ByISIN(in.Symbol)
	}
	now := s.now()
	e.order = store.Order{
		OriginalReqID: clOrdID, ClOrdID: clOrdID, TradingDate: s.clock.TradingDate(), AccountCode: in.Account, User: user,
		Symbol: in.Symbol, Side: in.Side, Type: in.Type, Qty: in.Qty, OriginalQty: in.Qty,
		AlgoID: in.AlgoID, PositionID: in.PositionID, PersisState: in.PersisState, Channel: in.Channel,
		CreatedAt: now, UpdatedAt: now, Status: store.OrderPendingNew, Stop: stop,
	}
	if e.known {
		o := &e.order
		o.Symbol, o.ISIN, o.MarketID, o.Board = e.inst.Ticker, e.inst.ISIN, string(e.inst.Market), e.inst.BoardFor(in.Qty)
	}
	if price != nil && in.Type == "LO" {
		e.order.Price, e.order.OriginalPrice = *price, *price
	}
	return e, nil
}

// enterTx checks the caller's grant, returns a repeated entry's first
// outcome, runs the order checks and stores the order with its hold.
func (s *Service) enterTx(ctx context.Context, tx store.BackOfficeTx, e entry, r *entered) error {
	o := e.order
	key := store.OrderKey{User: o.User, ReqID: o.OriginalReqID}
	if err := tx.Prefetch(store.Prefetch{Accounts: []string{o.AccountCode}, Grants: [][2]string{{o.User, o.AccountCode}},
		NewOrderReqIDs: []store.OrderKey{key}, RulesVersion: true}); err != nil {
		return err
	}
	riskRules, orderRules, err := s.rulesIn(ctx, tx)
	if err != nil {
		return err
	}
	lvl, err := grantLevel(tx, o.User, o.AccountCode)
	if err != nil {
		return err
	}
	acct, exists, err := tx.Account(o.AccountCode)
	if err != nil {
		return err
	}
	if lvl.Rank() < store.LevelTrade.Rank() || !exists {
		return errNoTradeGrant
	}
	if prev, ok, err := tx.OrderByReqID(key.User, key.ReqID); err != nil {
		return err
	} else if ok && prev.TradingDate == o.TradingDate && sameEntry(prev, o) {
		// A retry of an entry already made: its outcome, nothing new.
		r.order, r.verdict, r.settled, r.repeated, r.indexed = prev, market.Accept, true, true, true
		return nil
	}
	rej, v, acct2, hold, err := s.check(tx, &o, acct, e.inst, e.known, e.price, e.side, orderRules, riskRules, o.TradingDate)
	if err != nil {
		return err
	}
	if rej == nil && o.Stop.Conditional() {
		if rej, err = s.checkStopIn(tx, o, e.inst); err != nil {
			return err
		}
		// Held until its trigger, whatever the session would do now.
		v = market.Hold
	}
	r.verdict = v
	index := true
	if rej != nil {
		o.Status, o.Text = store.OrderRejected, rej.Text(SourceOMS)
		index = rej.Code != CodeDuplicateClOrdID
	} else {
		if err := tx.PutAccount(acct2); err != nil {
			return err
		}
		o.Hold = hold
		// Under the book's lock: an order that will only rest is stored
		// working at once, and the venue's ack needs no second step.
		if vo, err := venueOrder(o); err == nil && v == market.Accept && s.venue.Quiet(vo) {
			o.Status, r.quiet = store.OrderNew, true
		}
		o.Priority = s.nextPriority() // renewed when its ack is booked, unless quiet
	}
	r.order, err = tx.NewOrder(o, index)
	r.indexed = index
	return err
}

// sameEntry reports whether o repeats the entry prev was made from: same
// account, instrument, side, type, price and quantity as first entered.
func sameEntry(prev, o store.Order) bool {
	return prev.AccountCode == o.AccountCode && prev.Symbol == o.Symbol && prev.Side == o.Side &&
		prev.Type == o.Type && prev.OriginalPrice.Equal(o.OriginalPrice) && prev.OriginalQty == o.OriginalQty &&
		prev.Stop.Conditional() == o.Stop.Conditional()
}

// releaseStep routes an order the OMS held (for its session, or a
// conditional order for its trigger): it was checked at entry, but a
// futures order is checked against the position limit again first, as it
// is now, since the orders and position it was checked with have moved;
// past it, the order is rejected (OMS|3004|) and its hold given back.
func (s *Service) releaseStep(o store.Order) step {
	return step{name: "release order " + o.OriginalReqID, run: func(ctx context.Context) ([]step, error) {
		r, err := s.limitAtRelease(ctx, o)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return s.routeStep(o, false).run(ctx)
		}
		s.log.Info("a held order would pass the position limit: rejected", "order", o.ID, "text", r.Message)
		s.stops.drop(o.ISIN, o.ID)
		return nil, s.endWith(ctx, o.ID, r, store.OrderRejected, func(cur store.Order) bool { return cur.Status != store.OrderPendingNew })
	}}
}

// limitAtRelease is the position limit's verdict on o as the book and the
// account are now (nil: within it, or not a future).
func (s *Service) limitAtRelease(ctx context.Context, o store.Order) (*market.Reject, error) {
	inst, ok := s.master.ByISIN(o.ISIN)
	if !ok || !inst.IsFuture() || inst.PositionLimit <= 0 {
		return nil, nil
	}
	side, err := parseSide(o.Side)
	if err != nil {
		return nil, nil // routeStep logs what the venue cannot take
	}
	acct, err := s.st.Account(ctx, o.AccountCode)
	if err != nil {
		return nil, err
	}
	buys, sells := s.workingQty(o.AccountCode, inst, o.ID)
	return pretrade.CheckPositionLimit(acct, inst, side, o.Qty-o.FilledQty, buys, sells), nil
}

// routeStep submits o to the venue (see routeOrdersStep).
func (s *Service) routeStep(o store.Order, quiet bool) step {
	return s.routeOrdersStep([]store.Order{o}, []bool{quiet})
}
