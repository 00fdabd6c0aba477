package trading

import (
	"cmp"
	"context"
	"slices"

	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// A real exchange keeps resting orders when a broker's OMS restarts. The
// simulator's books live in this process, so at start they are rebuilt
// from the store: every order of the trading date that was working rests
// again, in its time priority (store.Order.Priority), with its hold as it
// was. Only what the market would have expired ends: orders of an earlier
// trading date (day orders past their day). A cancel that was pending is
// completed; a pending replace rests with its new terms, which its hold
// already covers. Put-through quotes' orders are not in a book, and the
// desk that knew them is gone: reconciliation ends them.

// restorer is a venue whose books live in this process.
type restorer interface {
	Restore(o venue.Order) error
	SeedExecIDs(after uint64)
}

// restoreBooks rebuilds the books from the store (see above).
func (s *Service) restoreBooks(ctx context.Context) error {
	r, ok := s.venue.(restorer)
	if !ok {
		return nil
	}
	open, err := s.openWhere(ctx, func(o store.Order) bool {
		return !o.OffBook && (o.Status == store.OrderNew || o.Status == store.OrderPartiallyFill || o.Status.Pending())
	})
	if err != nil {
		return err
	}
	slices.SortFunc(open, func(a, b store.Order) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	var lastExec uint64
	for _, o := range open {
		lastExec = max(lastExec, o.LastExecID)
	}
	// New executions of restored orders must have ids above those they took.
	r.SeedExecIDs(lastExec)
	today := s.clock.TradingDate()
	restored, ended := 0, 0
	for _, o := range open {
		ok, err := s.restoreOrder(ctx, r, o, today)
		if err != nil {
			return err
		}
		if ok {
			restored++
		} else {
			ended++
		}
	}
	if len(open) > 0 {
		s.log.Info("books rebuilt from the store", "restored", restored, "ended", ended)
	}
	return nil
}

// restoreOrder rests one working order again, or ends it: cancelled when its
// trading date is over, cancelled when a cancel of it was pending.
func (s *Service) restoreOrder(ctx context.Context, r restorer, o store.Order, today string) (bool, error) {
	end := func(why string, status store.OrderStatus) (bool, error) {
		return false, s.endInStore(ctx, o.ID, why, status, func(cur store.Order) bool { return cur.Status.Done() })
	}
	switch {
	case o.TradingDate != today:
		return end("cancelled at the end of its trading day", store.OrderCanceled)
	case o.Status == store.OrderPendingCancel:
		return end("cancelled on request", store.OrderCanceled)
	}
	vo, err := venueOrder(o)
	if err == nil {
		vo.Qty, vo.CumQty = o.Qty, o.FilledQty
		err = r.Restore(vo)
	}
	if err != nil {
		s.log.Error("an order could not be restored to its book; it is cancelled", "order", o.ID, "err", err)
		return end("the venue restarted and could not restore it", store.OrderCanceled)
	}
	if o.Status != store.OrderPendingReplace {
		return true, nil
	}
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		cur, ok, err := tx.Order(o.ID)
		if err != nil || !ok || cur.Status != store.OrderPendingReplace {
			return err
		}
		cur.Status, cur.UpdatedAt = workingStatus(&cur), s.now()
		return tx.PutOrder(cur)
	})
	return true, err
}
