package trading

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// Group commit. A busy book is one lane: every order entry on it holds its
// lock over a store round trip for the entry and another for the booking
// of what the venue did, so on a remote store the round trips, not the
// work, set how many orders a second one book takes. Order entries on a
// book therefore queue for its lock; whoever takes it commits every entry
// queued by then (up to maxBatch) in one transaction, in arrival order,
// each checked against the account as the entries before it left it
// (read-your-writes), then routes them to the venue in that order and
// books what the venue did in one step. Each entry's caller waits for the
// commit that took it or for the lock, whichever comes first; one that
// gets the lock first commits.
//
// Each entry keeps the outcome it would have had alone:
//   - refused for want of a grant: refused alone (it wrote nothing);
//   - any other error of the transaction that is not the store's (a bug,
//     bad data): every entry of the batch is committed again alone;
//   - the store failed: every entry fails; one whose commit's outcome is
//     unknown is resolved (see resolveEntry), except a repeat of an entry
//     made earlier, which wrote nothing and answers with that entry.
//
// Futures and conditional orders are committed alone: their checks read
// the venue's books (the position limit counts working orders) or watch
// them (stops), which an entry committed before its predecessors reach
// the venue would not see.

// maxBatch bounds the entries one commit takes.
const maxBatch = 32

// pendingEntry is an order entry waiting on its book for a commit.
type pendingEntry struct {
	e     entry
	trace *latency.Trace
	done  chan struct{} // closed once r and err are final
	r     entered
	err   error
}

func (p *pendingEntry) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// alone reports whether the entry must be committed by itself.
func (e entry) alone() bool { return e.inst.IsFuture() || e.order.Stop.Conditional() }

// entryQueue is a book's order entries waiting for a commit, in arrival
// order.
type entryQueue struct {
	mu sync.Mutex
	q  []*pendingEntry
}

func (q *entryQueue) push(p *pendingEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.q = append(q.q, p)
}

func (q *entryQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.q)
}

// take removes what the next commit takes: the head, and the entries
// after it up to maxBatch while neither it nor they must go alone.
func (q *entryQueue) take() []*pendingEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(1, len(q.q))
	if n == 1 && !q.q[0].e.alone() {
		for n < len(q.q) && n < maxBatch && !q.q[n].e.alone() {
			n++
		}
	}
	out := slices.Clone(q.q[:n])
	q.q = slices.Delete(q.q, 0, n)
	return out
}

// submit enters e: it queues it on its book and returns once a commit took
// it and routed it. A request already cancelled starts nothing; once
// queued, the entry is finished even if its client hangs up.
func (s *Service) submit(ctx context.Context, e entry, trace *latency.Trace) (entered, error) {
	if err := ctx.Err(); err != nil {
		return entered{}, err
	}
	ctx = detach(ctx)
	p := &pendingEntry{e: e, trace: trace, done: make(chan struct{})}
	isin := e.isin()
	if isin == "" {
		s.commitEntries(ctx, "", []*pendingEntry{p}) // no book: nothing to wait for
		return p.r, p.err
	}
	b := s.book(isin)
	b.entries.push(p)
	select {
	case <-p.done:
		return p.r, p.err
	case b.lock <- struct{}{}:
	}
	defer b.unlock()
	for !p.finished() {
		s.commitEntries(ctx, isin, b.entries.take())
	}
	return p.r, p.err
}

// EntryCommits counts the transactions of queued order entries
// (omsd_order_entry_commits_total).
func (s *Service) EntryCommits() int64 { return s.entryCommits.Load() }

// EntriesCommitted counts the order entries those transactions took
// (omsd_order_entries_committed_total).
func (s *Service) EntriesCommitted() int64 { return s.entriesCommitted.Load() }

// errBatchAborted answers the entries of a commit whose committer failed
// unexpectedly (a panic); what it stored, if anything, a repeat of the
// same entry (same ref_order_id) returns.
var errBatchAborted = apperr.New(apperr.UpstreamUnavailable, "the order entry was interrupted; repeat it with the same ref_order_id to learn its outcome")

// commitEntries commits a batch of entries of isin's book (locked; "" for
// none) once the book's backlog is settled, then routes them; every entry
// of the batch is answered when it returns.
func (s *Service) commitEntries(ctx context.Context, isin string, batch []*pendingEntry) {
	completed := false
	defer func() {
		for _, p := range batch {
			if !completed && p.err == nil {
				// A panic on the way (it goes on up the committer's
				// stack): the others must not read success from it.
				p.err = errBatchAborted
			}
			close(p.done)
		}
	}()
	if isin != "" {
		if err := s.settle(ctx, isin, s.book(isin)); err != nil {
			for _, p := range batch {
				p.err = err // the book is behind the venue: nothing new
			}
			completed = true
			return
		}
	}
	if err := s.enterAll(ctx, batch); err != nil {
		if len(batch) > 1 && !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrOutcomeUnknown) {
			// Not the store's failure: some entry's own. Each goes alone,
			// so it fails alone.
			s.log.Warn("a group commit of order entries failed; each is committed alone", "entries", len(batch), "err", err)
			for _, p := range batch {
				one := []*pendingEntry{p}
				if err := s.enterAll(ctx, one); err != nil {
					s.entriesFailed(ctx, one, err)
				}
			}
		} else {
			s.entriesFailed(ctx, batch, err)
		}
	}
	s.routeEntries(ctx, isin, batch)
	completed = true
}

// enterAll runs the entries' transactions as one, in order. An entry
// refused for want of a grant wrote nothing and is answered alone.
func (s *Service) enterAll(ctx context.Context, batch []*pendingEntry) error {
	s.entryCommits.Add(1)
	s.entriesCommitted.Add(int64(len(batch)))
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		for _, p := range batch {
			p.r, p.err = entered{}, nil // a thrown-away run's answer must not count
		}
		for _, p := range batch {
			if err := s.enterTx(ctx, tx, p.e, &p.r); errors.Is(err, errNoTradeGrant) {
				p.r, p.err = entered{}, err
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// entriesFailed gives each entry of a failed commit its outcome.
func (s *Service) entriesFailed(ctx context.Context, batch []*pendingEntry, err error) {
	unknown := errors.Is(err, store.ErrOutcomeUnknown)
	for _, p := range batch {
		switch {
		case p.err != nil: // refused on its own
		case unknown && p.r.repeated && !madeIn(batch, p.r.order.ID):
			// A repeat wrote nothing: its answer is the earlier entry's,
			// whatever became of the commit.
		case unknown && p.r.repeated:
			// A repeat of an entry of the same commit: that one's outcome
			// is settled below; the client learns it by asking again.
			p.err = errUnconfirmed(err)
		case unknown && p.r.order.ID != 0:
			p.r, p.err = s.resolveEntry(ctx, p.e, p.r, err)
		default:
			p.err = err
		}
	}
}

// madeIn reports whether an entry of batch stored order id (not a repeat).
func madeIn(batch []*pendingEntry, id int64) bool {
	return slices.ContainsFunc(batch, func(p *pendingEntry) bool { return !p.r.repeated && p.r.order.ID == id })
}

// routeEntries goes on with the stored entries of a commit: the stop
// index and the ClOrdID cache learn them, and those the venue takes now
// go to it, in order, in one step.
func (s *Service) routeEntries(ctx context.Context, isin string, batch []*pendingEntry) {
	// Sized once, for the whole batch at most (an Order is some 600 bytes:
	// growing the slice by appends copied them at every doubling).
	n := len(batch)
	orders, quiet, traces := make([]store.Order, 0, n), make([]bool, 0, n), make([]*latency.Trace, 0, n)
	for _, p := range batch {
		if p.err != nil {
			continue
		}
		s.stops.put(p.r.order)
		if p.r.indexed {
			s.remember(p.r.order)
		}
		if isin == "" || !p.r.routable() {
			// Its last stage: rejected, held or repeated at pre-trade risk.
			s.end(p.trace, latency.RiskCompleted, p.r.traceStatus())
			continue
		}
		for _, st := range []latency.Stage{latency.RiskCompleted, latency.SentToGateway, latency.GatewayAccepted, latency.MarketStarted} {
			s.mark(p.trace, st)
		}
		orders, quiet, traces = append(orders, p.r.order), append(quiet, p.r.quiet), append(traces, p.trace)
	}
	if len(orders) == 0 {
		return
	}
	// Once the venue has them, a store failure only delays the booking
	// (the backlog retries it): nothing to report to the callers.
	if err := s.after(ctx, isin, s.routeOrdersStep(orders, quiet)); err != nil {
		s.log.Warn("orders reached the venue; booking their report waits for the store", "orders", len(orders), "err", err)
	}
	for _, t := range traces {
		s.end(t, latency.MarketCompleted, latency.StatusOK)
	}
}

// routeOrdersStep submits orders to the venue in order (quiet[i]: stored
// NEW because it would only rest, so a plain acceptance needs no booking)
// and books what the venue did with them in one step.
func (s *Service) routeOrdersStep(orders []store.Order, quiet []bool) step {
	name := "route order " + orders[0].OriginalReqID
	if len(orders) > 1 {
		name = fmt.Sprintf("route %d orders from %s", len(orders), orders[0].OriginalReqID)
	}
	return step{name: name, run: func(context.Context) ([]step, error) {
		var all venue.Report
		for i, o := range orders {
			vo, err := venueOrder(o)
			if err != nil {
				// Types the venue takes are checked at entry: a stored order
				// it cannot take is a bug, and retrying will not mend it.
				s.log.Error("a stored order cannot be routed", "order", o.ID, "err", err)
				continue
			}
			rep := s.venue.Submit(vo)
			if quiet[i] && len(rep.Events) == 1 && rep.Events[0].Kind == venue.EventAccepted {
				continue
			}
			all.Events = append(all.Events, rep.Events...)
			all.Executions = append(all.Executions, rep.Executions...)
		}
		if len(all.Events) == 0 {
			return nil, nil
		}
		return []step{s.bookStep(all)}, nil
	}}
}
