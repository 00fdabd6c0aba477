package trading

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/store"
)

// Group commit: a busy book is one lane, and each commit under its lock
// is a store round trip, so on a remote store the round trips, not the
// work, set how many orders a second one book takes. Order entries on a
// book therefore queue for its lock; whoever takes it commits every entry
// queued by then (up to maxBatch) in one transaction, in arrival order,
// each checked against the account as the entries before it left it
// (read-your-writes), routes them to the venue in that order and books
// what the venue did in one step (or leaves that booking to the next
// commit, see fold). Each entry's caller waits for the commit that took it
// or for the lock, whichever comes first; one that gets the lock first
// commits. An entry refused for want of a grant is refused alone; any
// other failure of the commit is every entry's, as if each had failed on
// its own (an unknown outcome is resolved for each, see resolveEntry).
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
// it and what followed (routing) is done.
func (s *Service) submit(ctx context.Context, e entry, trace *latency.Trace) (entered, error) {
	if err := ctx.Err(); err != nil {
		return entered{}, err // a request already cancelled starts nothing
	}
	ctx = detach(ctx)
	p := &pendingEntry{e: e, trace: trace, done: make(chan struct{})}
	isin := e.isin()
	if isin == "" {
		s.commitEntries(ctx, "", []*pendingEntry{p}) // no book: nothing to wait for
		return p.r, p.err
	}
	b := s.book(isin)
	b.entries.push(p) // counts as waiting for the book until a commit takes it
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

// commitEntries commits a batch of entries of isin's book (locked; ""
// for none) after the book's backlog, folding the bookings left in it,
// then routes them.
func (s *Service) commitEntries(ctx context.Context, isin string, batch []*pendingEntry) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	var folded []step
	if isin != "" {
		b := s.book(isin)
		if s.foldable(isin, b) {
			folded = slices.Clone(b.backlog)
		} else if err := s.settle(ctx, isin, b); err != nil {
			for _, p := range batch {
				p.err = err // the book is behind the venue: nothing new
			}
			return
		}
	}
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if err := s.writeFolded(tx, folded); err != nil {
			return err
		}
		for _, p := range batch {
			p.r, p.err = entered{}, nil
			if err := s.enterTx(ctx, tx, p.e, &p.r); errors.Is(err, errNoTradeGrant) {
				p.err = err // refused before it wrote anything
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	s.folded(ctx, isin, len(folded), err)
	if err != nil {
		s.entriesFailed(ctx, batch, err)
	}
	s.routeEntries(ctx, isin, batch)
}

// entriesFailed gives each entry of a failed commit its outcome: one the
// store may have committed is resolved (see resolveEntry), others fail.
func (s *Service) entriesFailed(ctx context.Context, batch []*pendingEntry, err error) {
	for _, p := range batch {
		switch {
		case p.err != nil: // refused on its own
		case errors.Is(err, store.ErrOutcomeUnknown) && p.r.order.ID != 0:
			p.r, p.err = s.resolveEntry(ctx, p.e, p.r, err)
		default:
			p.err = err
		}
	}
}

// routeEntries goes on with the stored entries of a commit: the stop
// index and the ClOrdID cache learn them, and those the venue takes now
// go to it, in order, in one step.
func (s *Service) routeEntries(ctx context.Context, isin string, batch []*pendingEntry) {
	var orders []store.Order
	var quiet []bool
	var traces []*latency.Trace
	for _, p := range batch {
		if p.err != nil {
			continue
		}
		s.stops.put(p.r.order)
		if p.r.indexed {
			s.remember(p.r.order)
		}
		if !p.r.routable() {
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
	if err := s.afterLeaving(ctx, isin, true, s.routeOrdersStep(orders, quiet)); err != nil {
		s.log.Warn("orders reached the venue; booking their report waits for the store", "orders", len(orders), "err", err)
	}
	for _, t := range traces {
		s.end(t, latency.MarketCompleted, latency.StatusOK)
	}
}
