package trading

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/store"
)

// Conditional orders (FIX OrdType 4, order-entry.mdx): a stop-limit or
// trailing-stop order is checked, held and stored like a limit order at
// its Price, but stays PENDING_NEW outside every book until a trade in
// its instrument meets its condition (store.StopTerms). Then it is marked
// triggered in the store and routed as an ordinary limit order, or held
// like any order whose session does not take it yet. The end of the day
// cancels it like the other held orders.
//
// The trades that may trigger come from the reports the book applies: the
// prices of one report, in the order the venue matched them, are checked
// after it is booked, under the book's lock, in one store step with every
// order they move or trigger. The waiting orders are indexed in memory by
// instrument (rebuilt at Start); the store decides, the index only says
// whom to read.

// Reject codes of conditional orders (reject-codes.mdx).
const (
	CodeStopPx           = -100023 // StopPx missing, off the tick or the band, or on the wrong side of Price
	CodeStopOffset       = -100024 // DiscretionOffset negative or not a number
	CodeStopChange       = -100026 // condition fields changed after activation
	CodeBuyStopNotAbove  = -913007 // a buy stop at or below the last trade
	CodeSellStopNotBelow = -913008 // a sell stop at or above the last trade
)

// stopIndex is the waiting conditional orders by ISIN and id.
type stopIndex struct {
	mu     sync.Mutex
	byISIN map[string]map[int64]store.Order
}

// put records o when it waits and forgets it otherwise.
func (x *stopIndex) put(o store.Order) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !o.Waiting() {
		delete(x.byISIN[o.ISIN], o.ID)
		return
	}
	if x.byISIN == nil {
		x.byISIN = map[string]map[int64]store.Order{}
	}
	if x.byISIN[o.ISIN] == nil {
		x.byISIN[o.ISIN] = map[int64]store.Order{}
	}
	x.byISIN[o.ISIN][o.ID] = o
}

func (x *stopIndex) drop(isin string, id int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.byISIN[isin], id)
}

// of lists the waiting orders of isin, oldest first.
func (x *stopIndex) of(isin string) []store.Order {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]store.Order, 0, len(x.byISIN[isin]))
	for _, o := range x.byISIN[isin] {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b store.Order) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (x *stopIndex) watching(isin string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.byISIN[isin]) > 0
}

// loadStops indexes the waiting orders in the store (at Start).
func (s *Service) loadStops(ctx context.Context) error {
	today := s.clock.TradingDate()
	open, err := s.openWhere(ctx, func(o store.Order) bool { return o.Waiting() && o.TradingDate == today })
	for _, o := range open {
		s.stops.put(o)
	}
	return err
}

// decodeStop reads a conditional order's StopPx and DiscretionOffset
// (nil: not conditional). Form only: the rules are checkStop's.
func decodeStop(in NewOrder) (store.StopTerms, error) {
	if in.StopPx == nil {
		if in.StopOffset != nil {
			return store.StopTerms{}, refused(CodeStopPx, "a trailing offset needs a stop price")
		}
		return store.StopTerms{}, nil
	}
	if in.Type != "LO" {
		return store.StopTerms{}, invalid("a stop price goes with a limit order, not %s", in.Type)
	}
	return parseStop(*in.StopPx, in.StopOffset)
}

func parseStop(px string, offset *string) (store.StopTerms, error) {
	var t store.StopTerms
	p, err := decimal.NewFromString(px)
	if err != nil || !p.IsPositive() {
		return t, refused(CodeStopPx, "StopPx %q is not a positive price", px)
	}
	t.Px = p
	if offset != nil {
		off, err := decimal.NewFromString(*offset)
		if err != nil || off.IsNegative() {
			return t, refused(CodeStopOffset, "DiscretionOffset %q is not a price offset of 0 or more", *offset)
		}
		t.Trailing, t.Offset = true, off
	}
	return t, nil
}

// lastTrade is the price the stop rules compare with: the day's last
// trade, or its reference price before the first.
func lastTrade(tx store.BackOfficeTx, inst market.Instrument, today string) (decimal.Decimal, error) {
	d, ok, err := tx.MarketDay(inst.ISIN)
	switch {
	case err != nil:
		return decimal.Zero, err
	case ok && d.Date == today && d.Traded():
		return d.Last, nil
	case ok && d.Date == today && d.Reference.IsPositive():
		return d.Reference, nil
	}
	return inst.ReferencePrice, nil
}

// checkStop runs the stop rules (brief §4 step 9) on terms for an order
// of side at price: the stop on the tick and in the band, a sell's stop
// at or above its price and below the last trade, a buy's at or below its
// price and above the last trade.
func checkStop(t store.StopTerms, side string, price decimal.Decimal, inst market.Instrument, last decimal.Decimal) *market.Reject {
	if r := inst.CheckPrice(market.LO, &t.Px); r != nil {
		return &market.Reject{Code: CodeStopPx, Message: "StopPx: " + r.Message}
	}
	// A sell's stop sits between its price and the market (below the
	// last trade), a buy's the other way round: dir is +1 for a sell, -1
	// for a buy, so one rule reads for both.
	dir, what, above, below, code := 1, "sell", "above", "below", CodeSellStopNotBelow
	if side != "S" {
		dir, what, above, below, code = -1, "buy", "below", "above", CodeBuyStopNotAbove
	}
	switch {
	case t.Px.Cmp(price)*dir < 0:
		return &market.Reject{Code: CodeStopPx, Message: fmt.Sprintf("a %s stop's StopPx %s must be at or %s its Price %s", what, t.Px, above, price)}
	case t.Px.Cmp(last)*dir >= 0:
		return &market.Reject{Code: code, Message: fmt.Sprintf("%s StopPx %s must be %s the last traded price %s", what, t.Px, below, last)}
	}
	return nil
}

// checkStopIn is checkStop against the last trade read in tx.
func (s *Service) checkStopIn(tx store.BackOfficeTx, o store.Order, inst market.Instrument) (*market.Reject, error) {
	last, err := lastTrade(tx, inst, s.clock.TradingDate())
	if err != nil {
		return nil, err
	}
	return checkStop(o.Stop, o.Side, o.Price, inst, last), nil
}

// evolve runs the trades path (in the order they happened) past a waiting
// order: a trailing stop follows the market, and the first trade at or
// through the stop fires it. The new levels stay on the tick (rounded
// away from the market) and the price within the band.
func evolve(o store.Order, inst market.Instrument, path []decimal.Decimal) (store.Order, bool) {
	sell := o.Side == "S"
	for _, p := range path {
		if (sell && !p.GreaterThan(o.Stop.Px)) || (!sell && !p.LessThan(o.Stop.Px)) {
			return o, true
		}
		if !o.Stop.Trailing {
			continue
		}
		if sell {
			if lvl := inst.TickTable.RoundDown(p.Sub(o.Stop.Offset)); lvl.GreaterThan(o.Stop.Px) {
				o.Price = decimal.Min(inst.Ceiling, inst.TickTable.RoundDown(o.Price.Add(lvl.Sub(o.Stop.Px))))
				o.Stop.Px = lvl
			}
		} else if lvl := inst.TickTable.RoundUp(p.Add(o.Stop.Offset)); lvl.LessThan(o.Stop.Px) {
			o.Price = decimal.Max(inst.Floor, inst.TickTable.RoundUp(o.Price.Sub(o.Stop.Px.Sub(lvl))))
			o.Stop.Px = lvl
		}
	}
	return o, false
}

// noteTrades keeps the prices a booked report traded at on isin's book
// (locked by the caller) for the stop check that follows it in settle.
func (s *Service) noteTrades(isin string, path []decimal.Decimal) {
	if len(path) > 0 && s.stops.watching(isin) {
		b := s.book(isin)
		b.trades = append(b.trades, path...)
	}
}

// stopStep checks isin's waiting orders against the trades path: in one
// store step, trailing stops move (with their holds) and those whose
// condition is met are marked triggered; those then go to the venue when
// the session takes a limit order, and wait for it otherwise.
func (s *Service) stopStep(inst market.Instrument, path []decimal.Decimal) step {
	return step{name: "check the stops of " + inst.Ticker, run: func(ctx context.Context) ([]step, error) {
		// What fn learns is acted on after the commit: a run may be thrown
		// away (a stale or guessed read) and the stop index and the log must
		// follow only the run that counted.
		var moves []stopMove
		_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			moves = moves[:0]
			for _, w := range s.stops.of(inst.ISIN) {
				if next, fire := evolve(w, inst, path); !fire && next.Stop.Equal(w.Stop) {
					continue
				}
				m, err := s.moveStop(ctx, tx, inst, w.ID, path)
				if err != nil {
					return err
				}
				moves = append(moves, m)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		changed := s.settleMoves(inst.ISIN, moves)
		var then []step
		for _, o := range changed {
			s.stops.put(o)
			if !o.Stop.Triggered {
				continue
			}
			s.log.Info("a conditional order's stop was reached", "order", o.ID, "stop", o.Stop.Px.String())
			if s.clock.Permit(inst, market.LO, market.New).Verdict == market.Accept {
				then = append(then, s.releaseStep(o))
			}
		}
		return then, nil
	}}
}

// stopMove is what moveStop did to one waiting order in its transaction.
type stopMove struct {
	id        int64
	order     store.Order // as written when changed, as read otherwise
	changed   bool        // written in the transaction
	uncovered bool        // a trailing move the account could not cover was not made
}

// settleMoves brings the stop index in line with the moves a committed
// transaction made and returns the changed orders.
func (s *Service) settleMoves(isin string, moves []stopMove) []store.Order {
	var changed []store.Order
	for _, m := range moves {
		if m.uncovered {
			s.log.Warn("a trailing stop's move is not covered by its account; it stays", "order", m.id)
		}
		switch {
		case m.changed:
			changed = append(changed, m.order)
		case !m.order.Waiting(): // gone from the store or no longer waiting
			s.stops.drop(isin, m.id)
		}
	}
	return changed
}

// moveStop applies the path to order id as the store has it, in tx;
// unchanged when it no longer waits or nothing moved. A trailing move the
// account cannot cover (a futures sell's margin grows with its price) is
// not made: the stop stays where it was.
func (s *Service) moveStop(ctx context.Context, tx store.BackOfficeTx, inst market.Instrument, id int64, path []decimal.Decimal) (stopMove, error) {
	cur, ok, err := tx.Order(id)
	m := stopMove{id: id, order: cur}
	if err != nil || !ok || !cur.Waiting() {
		return m, err
	}
	next, fire := evolve(cur, inst, path)
	if !next.Price.Equal(cur.Price) {
		covered, err := s.resizeHold(ctx, tx, inst, &next, cur)
		if err != nil {
			return m, err
		}
		if !covered {
			m.uncovered = true
			next.Price, next.Stop = cur.Price, cur.Stop
		}
	}
	next.Stop.Triggered = fire
	if next.Stop.Equal(cur.Stop) && next.Price.Equal(cur.Price) {
		return m, nil
	}
	next.UpdatedAt = s.now()
	m.order, m.changed = next, true
	return m, tx.PutOrder(next)
}

// resizeHold resizes next's hold (cur's) to next's terms in tx; false when
// the account cannot cover them.
func (s *Service) resizeHold(ctx context.Context, tx store.BackOfficeTx, inst market.Instrument, next *store.Order, cur store.Order) (bool, error) {
	riskRules, _, err := s.rulesIn(ctx, tx)
	if err != nil {
		return false, err
	}
	acct, _, err := tx.Account(cur.AccountCode)
	if err != nil {
		return false, err
	}
	vo, err := venueOrder(*next)
	if err != nil {
		return false, err
	}
	acct2, h, r, err := pretrade.Resize(acct, holdOf(cur), vo, inst, pretrade.Flags(riskRules, cur.AccountCode, cur.Channel, inst.ISIN))
	if err != nil || r != nil {
		return false, err
	}
	next.Hold = orderHold(h)
	return true, tx.PutAccount(acct2)
}

// waitingChange is the session rule of a cancel or modify of a waiting
// order (the matrix's A*): allowed in every session the market trades or
// is about to, refused when it is closed.
func (s *Service) waitingChange(inst market.Instrument, a market.Action) error {
	if d := s.clock.Permit(inst, market.LO, a); d.Verdict == market.Refuse && endOfDay(s.clock.Session(inst.Market)) {
		return apperr.New(apperr.InvalidRequest, d.Reject.Text(SourceOMS))
	}
	return nil
}

// replaceStop returns the stop terms a replace leaves o with: a waiting
// order may change them (StopPx, DiscretionOffset); once it has been
// triggered they are fixed (-100026); an ordinary order has none.
func replaceStop(o store.Order, in replaceTerms) (store.StopTerms, error) {
	if in.stopPx == nil && in.stopOffset == nil {
		return o.Stop, nil
	}
	if !o.Stop.Conditional() {
		return o.Stop, refused(CodeImmutable, "order %s is not a conditional order: it has no stop to change", o.OriginalReqID)
	}
	px := o.Stop.Px.String()
	if in.stopPx != nil {
		px = *in.stopPx
	}
	off := in.stopOffset
	if off == nil && o.Stop.Trailing {
		s := o.Stop.Offset.String()
		off = &s
	}
	t, err := parseStop(px, off)
	if err != nil {
		return o.Stop, err
	}
	if t.Trailing != o.Stop.Trailing {
		return o.Stop, refused(CodeImmutable, "a stop-limit order cannot become a trailing stop")
	}
	t.Triggered = o.Stop.Triggered
	if !t.Equal(o.Stop) && !o.Waiting() {
		return o.Stop, refused(CodeStopChange, "the stop of order %s was reached: only Price and OrderQty may change now", o.OriginalReqID)
	}
	return t, nil
}
