package trading

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// Reconciliation brings the store to the venue's truth when they disagree
// in a way the backlog cannot have caused: an order left PENDING_* by a
// change the venue never saw (its request's commit landed after its client
// gave up), an order working in the store that no book holds (the venue
// restarted), an order working in a book whose record is final. It runs
// on the next touch of a pending order (a cancel or replace of it),
// periodically while running (Run) and at start.

// DefaultReconcileEvery is how often Run reconciles every book.
const DefaultReconcileEvery = 30 * time.Second

// reconcileMode says what a reconciliation may do beyond the store.
type reconcileMode struct {
	why       string // the text of an order cancelled because no book holds it
	routeHeld bool   // route PENDING_NEW orders whose session takes them now
}

var (
	// atStart: the books are new and their phases not yet set (Sync
	// routes the held orders once they are).
	atStart  = reconcileMode{why: "the venue restarted and its book was lost"}
	whileRun = reconcileMode{why: "the venue no longer holds it", routeHeld: true}
)

// touch reconciles the order user entered under reqID when a change of it
// is pending, before a new cancel or replace of it. The caller has opened
// the order's book.
func (s *Service) touch(ctx context.Context, inst market.Instrument, user, reqID string) error {
	o, err := s.OrderByReqID(ctx, user, reqID)
	if err != nil || !o.Status.Pending() && o.Status != store.OrderPendingNew {
		return nil // the change's own transaction reports what it finds
	}
	v, inBook := s.venue.Live(bookOf(o), strconv.FormatInt(o.ID, 10))
	steps := s.reconcileOrder(inst, o, v, inBook, whileRun)
	if len(steps) == 0 {
		return nil
	}
	return s.after(ctx, inst.ISIN, steps...)
}

// Reconcile compares every book with the store and mends what differs.
func (s *Service) Reconcile(ctx context.Context) error { return s.reconcile(ctx, whileRun) }

func (s *Service) reconcile(ctx context.Context, mode reconcileMode) error {
	open, err := s.openWhere(ctx, func(o store.Order) bool { return !o.Status.Done() })
	if err != nil {
		return err
	}
	slices.Reverse(open) // oldest first: time priority among held orders
	byISIN := map[string][]store.Order{}
	for _, o := range open {
		byISIN[o.ISIN] = append(byISIN[o.ISIN], o)
	}
	for _, inst := range s.master.All() {
		if err := s.reconcileBook(ctx, inst, byISIN[inst.ISIN], mode); err != nil {
			return err
		}
	}
	return nil
}

// reconcileBook reconciles one instrument: open is its orders that were
// not final when the store was scanned.
func (s *Service) reconcileBook(ctx context.Context, inst market.Instrument, open []store.Order, mode reconcileMode) error {
	ctx, done, err := s.openBook(ctx, inst.ISIN)
	if err != nil {
		return err
	}
	defer done()
	live := map[int64]venue.Order{}
	for _, b := range booksOf(inst) {
		for _, v := range s.venue.Working(b) {
			if id, err := strconv.ParseInt(v.ID, 10, 64); err == nil {
				live[id] = v
			}
		}
	}
	var steps []step
	for _, o := range open {
		cur, err := s.st.Order(ctx, o.ID)
		if err != nil {
			return err
		}
		v, inBook := live[cur.ID]
		delete(live, cur.ID)
		if !cur.Status.Done() {
			steps = append(steps, s.reconcileOrder(inst, cur, v, inBook, mode)...)
		} else if inBook {
			steps = append(steps, s.cancelOrphan(v))
		}
	}
	orphans, err := s.orphans(ctx, live)
	if err != nil {
		return err
	}
	return s.after(ctx, inst.ISIN, append(steps, orphans...)...)
}

// orphans returns a cancel for every book order whose store record is
// final or missing; live holds the book orders the scan did not list as
// open (most entered since, and working in the store too).
func (s *Service) orphans(ctx context.Context, live map[int64]venue.Order) ([]step, error) {
	var steps []step
	for id, v := range live {
		o, err := s.st.Order(ctx, id)
		switch {
		case err == nil && !o.Status.Done():
			continue
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		steps = append(steps, s.cancelOrphan(v))
	}
	return steps, nil
}

// cancelOrphan takes out of its book an order the store has as final.
func (s *Service) cancelOrphan(v venue.Order) step {
	s.log.Error("the venue held an order the store has as final: it is cancelled in the book", "order", v.ID, "book", v.Symbol)
	return s.venueStep("cancel orphan order "+v.ID, func() venue.Report { return s.venue.Cancel(v.Symbol, v.ID) }, nil)
}

// reconcileOrder returns what brings one open order to the venue's truth
// (v is the book's order when inBook).
func (s *Service) reconcileOrder(inst market.Instrument, o store.Order, v venue.Order, inBook bool, mode reconcileMode) []step {
	if mode.routeHeld && o.OffBook {
		return nil // a put-through quote's order: never in a book
	}
	switch {
	case o.Status == store.OrderPendingNew && inBook:
		return []step{s.acceptStep(o, v)}
	case o.Status == store.OrderPendingNew:
		if mode.routeHeld && !o.Waiting() && s.clock.Permit(inst, market.OrderType(o.Type), market.New).Verdict == market.Accept {
			return []step{s.releaseStep(o)}
		}
		return nil // held by the OMS until its session
	case !inBook:
		// Working, or a change pending, and no book holds it: it is over.
		return []step{s.endStep(o, mode.why)}
	case o.Status == store.OrderPendingCancel:
		return []step{s.cancelStep(o)}
	case o.Status == store.OrderPendingReplace:
		// The venue never saw the replace: send it, and should the book
		// refuse it, restore the hold to the terms the book holds.
		before := o
		before.Price, before.Qty = v.Price.Decimal(), o.FilledQty+v.Qty
		return []step{s.replaceStep(inst, o, before)}
	}
	return nil
}

// acceptStep marks working an order the book holds but the store has as
// PENDING_NEW (its ack was never booked). Quantities that differ mean
// executions are missing, which the backlog prevents; it is only logged.
func (s *Service) acceptStep(o store.Order, v venue.Order) step {
	return step{name: "mark order " + o.OriginalReqID + " working", run: func(ctx context.Context) ([]step, error) {
		if v.Qty != o.LeavesQty() {
			s.log.Error("the book holds an order with another open quantity than the store", "order", o.ID, "book", v.Qty, "store", o.LeavesQty())
			return nil, nil
		}
		_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			cur, ok, err := tx.Order(o.ID)
			if err != nil || !ok || cur.Status != store.OrderPendingNew {
				return err
			}
			cur.Status, cur.UpdatedAt = workingStatus(&cur), s.now()
			return tx.PutOrder(cur)
		})
		return nil, err
	}}
}

// endStep cancels in the store an open order no book holds.
func (s *Service) endStep(o store.Order, why string) step {
	return step{name: "end order " + o.OriginalReqID, run: func(ctx context.Context) ([]step, error) {
		return nil, s.endInStore(ctx, o.ID, why, store.OrderCanceled, func(cur store.Order) bool {
			return cur.Status.Done() || cur.Status == store.OrderPendingNew
		})
	}}
}

// endInStore ends order id in the store with status (hold released),
// unless it is gone or skip says it is not to be ended.
func (s *Service) endInStore(ctx context.Context, id int64, why string, status store.OrderStatus, skip func(store.Order) bool) error {
	return s.endWith(ctx, id, &market.Reject{Code: 0, Message: why}, status, skip)
}

// endWith is endInStore with r's code and message as the order's text.
func (s *Service) endWith(ctx context.Context, id int64, r *market.Reject, status store.OrderStatus, skip func(store.Order) bool) error {
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		cur, ok, err := tx.Order(id)
		if err != nil || !ok || skip(cur) {
			return err
		}
		return endInTx(tx, cur, r, status)
	})
	return err
}
