package trading

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// phaseOf is the book phase of a market session.
func phaseOf(s market.Session) venue.Phase {
	switch s {
	case market.OpeningAuction, market.ClosingAuction:
		return venue.CallAuction
	case market.Continuous:
		return venue.Continuous
	}
	return venue.Closed
}

// endOfDay reports whether a session ends the trading day's orders.
func endOfDay(s market.Session) bool { return s == market.PostClose || s == market.Closed }

// Start rebuilds the books after a restart (restoreBooks), reconciles what
// is left (orders no book holds end, their holds released) and brings the
// books to the market's session.
func (s *Service) Start(ctx context.Context) error {
	if err := s.restoreBooks(ctx); err != nil {
		return err
	}
	if err := s.reconcile(ctx, atStart); err != nil {
		return err
	}
	if err := s.loadStops(ctx); err != nil {
		return err
	}
	if err := s.Roll(ctx); err != nil {
		return err
	}
	if err := s.Sync(ctx); err != nil {
		return err
	}
	_, err := s.Settle(ctx)
	return err
}

// Run keeps the books in step with the market clock until ctx ends; every
// tick it also retries the store steps waiting behind the venue, and every
// reconcileEvery it reconciles the books with the store. When ctx ends it
// makes a last attempt at the waiting steps.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	lastReconcile := time.Now()
	settled := s.clock.TradingDate() // Start settled it
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.stepTimeout)
			s.retryBacklogs(last)
			cancel()
			if n := s.Backlog(); n > 0 {
				s.log.Error("stopping with store steps still waiting behind the venue; the next start reconciles the books", "steps", n)
			}
			return
		case <-t.C:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("market session sync failed", "err", err)
			}
			s.retryBacklogs(ctx)
			if today := s.clock.TradingDate(); today != settled {
				// A new trading date: the start of the day.
				if err := s.startDay(ctx); err == nil {
					settled = today
				} else if ctx.Err() == nil {
					s.log.Error("starting the trading day failed; retried at the next tick", "date", today, "err", err)
				}
			}
			if time.Since(lastReconcile) >= s.reconcileEvery {
				lastReconcile = time.Now()
				if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("reconciling the books with the store failed", "err", err)
				}
			}
		}
	}
}

// startDay is the start of a trading day: the reference prices roll,
// then what is due settles.
func (s *Service) startDay(ctx context.Context) error {
	if err := s.Roll(ctx); err != nil {
		return err
	}
	_, err := s.Settle(ctx)
	return err
}

// Sync applies session changes: each book moves to its market's phase
// (leaving an auction uncrosses it), the end of the day expires the
// books and the orders held for a later session, and orders held by the
// OMS (the matrix's P) go to the venue once their session accepts them.
func (s *Service) Sync(ctx context.Context) error {
	s.sessionMu.Lock()
	defer s.sessionMu.Unlock()
	var held []store.Order
	scanned := false
	for _, m := range market.Markets {
		now := s.clock.Session(m)
		prev, seen := s.sessions[m]
		if seen && prev == now {
			continue
		}
		if !scanned {
			var err error
			if held, err = s.openWhere(ctx, func(o store.Order) bool { return o.Status == store.OrderPendingNew }); err != nil {
				return err
			}
			// Oldest first: time priority among the held orders.
			slices.Reverse(held)
			scanned = true
		}
		for _, in := range s.master.All() {
			if in.Market != m {
				continue
			}
			if err := s.moveBook(ctx, in, now, held); err != nil {
				return err
			}
		}
		s.sessions[m] = now
		if endOfDay(now) {
			if err := s.closeMarket(ctx, m, seen && !endOfDay(prev)); err != nil {
				return err
			}
		}
		s.log.Info("market session", "market", string(m), "session", now.String())
	}
	return nil
}

// closeMarket runs what else ends with market m's day: the put-through
// quotes (not in a book) and, for the futures when their trading day
// really ended here (traded, not a start on a closed market), the
// mark-to-market.
func (s *Service) closeMarket(ctx context.Context, m market.MarketID, traded bool) error {
	for _, fn := range s.endOfDay {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	if m == market.Deriv && traded {
		if _, err := s.MarkToMarket(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) moveBook(ctx context.Context, in market.Instrument, now market.Session, held []store.Order) error {
	ctx, done, err := s.openBook(ctx, in.ISIN)
	if err != nil {
		return err
	}
	defer done()
	var steps []step
	for _, book := range booksOf(in) {
		steps = append(steps, s.venueStep("move book "+book+" to "+now.String(),
			func() venue.Report { return s.venue.SetPhase(book, phaseOf(now)) }, nil))
		if endOfDay(now) {
			steps = append(steps, s.venueStep("expire book "+book, func() venue.Report { return s.venue.Expire(book) }, nil))
		}
	}
	if err := s.after(ctx, in.ISIN, steps...); err != nil {
		return err
	}
	for _, o := range held {
		if o.ISIN != in.ISIN {
			continue
		}
		if err := s.releaseHeld(ctx, in, now, o); err != nil {
			return err
		}
	}
	return nil
}

// releaseHeld routes an order held by the OMS once its session takes it,
// or expires it at the end of the day. The caller has opened its book.
func (s *Service) releaseHeld(ctx context.Context, in market.Instrument, now market.Session, o store.Order) error {
	// Re-read under the book's lock: a cancel may have ended it.
	cur, err := s.st.Order(ctx, o.ID)
	if err != nil {
		return err
	}
	if cur.Status != store.OrderPendingNew {
		return nil
	}
	if _, live := s.venue.Live(bookOf(cur), strconv.FormatInt(cur.ID, 10)); live {
		return nil // routed already; its ack is booked by reconciliation
	}
	if endOfDay(now) || cur.TradingDate != s.clock.TradingDate() {
		// Held past its day (omsd was down at the close): it ends too.
		s.stops.drop(cur.ISIN, cur.ID)
		return s.endInStore(ctx, o.ID, "cancelled at the end of the trading day", store.OrderCanceled,
			func(cur store.Order) bool { return cur.Status != store.OrderPendingNew })
	}
	if cur.Waiting() {
		return nil // its trigger routes it
	}
	if in.Permit(now, market.OrderType(cur.Type), market.New).Verdict != market.Accept {
		return nil
	}
	return s.after(ctx, in.ISIN, s.releaseStep(cur))
}

// openWhere lists the open (not done) orders that keep accepts, newest
// first, from the store's open-orders index: its cost follows the open
// orders, not every order of the day.
func (s *Service) openWhere(ctx context.Context, keep func(store.Order) bool) ([]store.Order, error) {
	open, err := s.st.OpenOrders(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(open, func(o store.Order) bool { return !keep(o) }), nil
}

// VenueOrders lists every order working in the venue's books, keyed by
// the store's order id: what the venue holds, for reconciliation checks
// and tests that compare the books with the store.
func (s *Service) VenueOrders() map[int64]venue.Order {
	out := map[int64]venue.Order{}
	for _, in := range s.master.All() {
		for _, book := range booksOf(in) {
			for _, o := range s.venue.Working(book) {
				if id, err := strconv.ParseInt(o.ID, 10, 64); err == nil {
					out[id] = o
				}
			}
		}
	}
	return out
}
