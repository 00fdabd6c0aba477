package trading

import (
	"context"
	"fmt"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// When a commit times out, the store cannot say whether it landed: Redis
// may run the script when it resumes, after the client was told "try
// again". An answer that stays true needs the outcome settled for good:
// the order is looked up, and if it is not there its ClOrdID is fenced
// with a REJECTED record (-913002), so the late commit, which checks that
// the ClOrdID is unused, can never land. Either way the entry now has one
// outcome, and a retry under the same ClOrdID returns it. The resolution
// is a backlog step: nothing else happens on the book before it, and it is
// retried until the store answers.

// CodeUnconfirmed marks an entry the store did not confirm in time (brief
// §4: -913002 timeout); the order was not entered.
const CodeUnconfirmed = -913002

// errUnconfirmed answers a request whose outcome could not be settled yet.
func errUnconfirmed(cause error) error {
	return apperr.Wrap(apperr.UpstreamUnavailable,
		"the store did not confirm the order in time and its outcome is not known yet; repeat the same request with the same ref_order_id to learn it (a repeat never enters a second order)", cause)
}

// resolveEntry settles an entry whose commit's outcome is unknown (r is
// what its last run tried to store) and answers with that outcome.
func (s *Service) resolveEntry(ctx context.Context, e entry, r entered, cause error) (entered, error) {
	out := r
	out.settled = true
	st := step{name: "resolve the entry of " + r.order.OriginalReqID, run: func(ctx context.Context) ([]step, error) {
		got, committed, err := s.settleEntry(ctx, r.order)
		if err != nil {
			return nil, err
		}
		out.order = got
		if committed && r.verdict == market.Accept && got.Status != store.OrderRejected {
			return []step{s.routeStep(got, r.quiet)}, nil
		}
		return nil, nil
	}}
	if !e.known {
		// No book, no venue: settle it here, once.
		if _, err := st.run(ctx); err != nil {
			return entered{}, errUnconfirmed(cause)
		}
		return out, nil
	}
	if err := s.after(ctx, e.inst.ISIN, st); err != nil {
		return entered{}, errUnconfirmed(cause)
	}
	return out, nil
}

// settleEntry finds the order tried (committed) or fences its ClOrdID with
// a REJECTED record under the same terms.
func (s *Service) settleEntry(ctx context.Context, tried store.Order) (store.Order, bool, error) {
	var got store.Order
	var committed bool
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		cur, ok, err := tx.Order(tried.ID)
		if err != nil {
			return err
		}
		if ok {
			got, committed = cur, true
			return nil
		}
		prev, ok, err := tx.OrderByReqID(tried.User, tried.OriginalReqID)
		if err != nil {
			return err
		}
		if ok && prev.TradingDate == tried.TradingDate {
			got, committed = prev, false // fenced already (a repeat resolved it)
			return nil
		}
		fence := tried
		fence.Status, fence.Hold = store.OrderRejected, store.OrderHold{}
		fence.Text = (&market.Reject{Code: CodeUnconfirmed, Message: "the store did not confirm the order in time; it was not entered"}).Text(SourceOMS)
		got, err = tx.NewOrder(fence, true)
		committed = false
		return err
	})
	if err != nil {
		return store.Order{}, false, fmt.Errorf("resolving entry %s: %w", tried.OriginalReqID, err)
	}
	return got, committed, nil
}

// resolveChange settles a cancel or replace whose commit's outcome is
// unknown: the order was changed by request reqID (committed; then follows
// with what comes next) or it was not, and its record is written again so
// the late commit, which checks the record it read, cannot land.
func (s *Service) resolveChange(id int64, reqID string, then func(store.Order) []step) step {
	return step{name: "resolve request " + reqID, run: func(ctx context.Context) ([]step, error) {
		var cur store.Order
		var committed bool
		_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			cur, committed = store.Order{}, false // a thrown-away run's answer must not count
			o, ok, err := tx.Order(id)
			if err != nil || !ok {
				return err
			}
			cur, committed = o, o.ClOrdID == reqID
			if committed {
				return nil
			}
			return tx.PutOrder(o) // the fence: a new version of the same record
		})
		if err != nil || !committed {
			return nil, err
		}
		return then(cur), nil
	}}
}
