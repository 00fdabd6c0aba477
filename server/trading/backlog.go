package trading

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/venue"
)

// Once the venue has acted (matched, cancelled, replaced an order), the
// store must book what it did whatever happens to the request that caused
// it: the client may hang up, the store may stall. So everything after a
// venue call is a step in the book's backlog. Steps run in order, under the
// book's lock, on a context detached from the request's cancellation with
// a deadline of their own; a step that fails stays at the head of the
// backlog and is run again by the next operation on the book (which cannot
// go on before it succeeds) and by the retrier in Run, until it succeeds.
// The store therefore catches up with the venue in the order the venue
// acted, and no report is ever dropped.
//
// A step that calls the venue never fails: it returns the step that books
// the report, so a retry never calls the venue twice.

// step is one unit of the backlog. run returns the steps that must follow
// it (they go to the head of the backlog, before anything queued later).
type step struct {
	name string
	run  func(ctx context.Context) ([]step, error)
}

// book is the one-writer state of an instrument's books: the lock every
// change to its orders runs under, and the backlog of store steps.
type book struct {
	// lock is held by whoever changes the book's orders: a one-slot
	// channel, so an order entry can wait for it or for another entry's
	// commit to take it, whichever comes first (see batch.go).
	lock    chan struct{}
	backlog []step       // guarded by lock
	pending atomic.Int64 // len(backlog), for the retrier and the gauge
	failing bool         // guarded by lock: the head has failed at least once
	// trades are the prices booked since the last stop check, in the
	// order they traded, while conditional orders wait here (stops.go).
	trades  []decimal.Decimal // guarded by lock
	entries entryQueue        // order entries waiting for a commit (batch.go)
}

func newBook() *book { return &book{lock: make(chan struct{}, 1)} }

// unlock releases b's lock.
func (b *book) unlock() { <-b.lock }

// DefaultStepTimeout bounds one backlog step (a store transaction or two).
const DefaultStepTimeout = 10 * time.Second

func (s *Service) book(isin string) *book {
	if b, ok := s.books.Load(isin); ok {
		return b.(*book)
	}
	b, _ := s.books.LoadOrStore(isin, newBook())
	return b.(*book)
}

// lock takes the lock of isin's book.
func (s *Service) lock(isin string) *book {
	b := s.book(isin)
	b.lock <- struct{}{}
	return b
}

// detach returns ctx without its cancellation: what runs once an operation
// has begun is finished even if the client hangs up.
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// openBook starts an operation on the books of isin: it takes their lock,
// detaches ctx from the request's cancellation and brings the store up to
// date with the venue (the backlog). When the backlog cannot be settled
// (the store is down) the operation must not go on: the lock is released
// and the error returned. isin "" (an unknown instrument) has no book:
// only the context is detached. A request already cancelled is refused
// before anything starts.
func (s *Service) openBook(ctx context.Context, isin string) (context.Context, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ctx = detach(ctx)
	if isin == "" {
		return ctx, func() {}, nil
	}
	b := s.lock(isin)
	if err := s.settle(ctx, isin, b); err != nil {
		b.unlock()
		return nil, nil, err
	}
	return ctx, b.unlock, nil
}

// after queues steps on the (locked) book of isin and runs the backlog.
// An error means a step is waiting for the store; it will be retried, so
// callers that answer a client after the venue acted only log it.
func (s *Service) after(ctx context.Context, isin string, steps ...step) error {
	b := s.book(isin)
	b.backlog = append(b.backlog, steps...)
	b.pending.Store(int64(len(b.backlog)))
	return s.settle(detach(ctx), isin, b)
}

// settle runs the backlog of b (locked by the caller) until it is empty or
// a step fails.
func (s *Service) settle(ctx context.Context, isin string, b *book) error {
	for len(b.backlog) > 0 {
		head := b.backlog[0]
		sctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
		next, err := head.run(sctx)
		cancel()
		if err != nil {
			if !b.failing {
				s.log.Error("a store step after the venue failed; it is kept and retried until it succeeds",
					"instrument", isin, "step", head.name, "waiting", len(b.backlog), "err", err)
			}
			b.failing = true
			s.stepFailures.Add(1)
			return fmt.Errorf("trading: the store is behind the venue on %s (%s): %w", isin, head.name, err)
		}
		if b.failing {
			s.log.Info("a store step after the venue succeeded on retry", "instrument", isin, "step", head.name)
			b.failing = false
		}
		if len(b.trades) > 0 {
			// Trades were booked: the waiting stops see them next.
			if inst, ok := s.master.ByISIN(isin); ok {
				next = append(next, s.stopStep(inst, b.trades))
			}
			b.trades = nil
		}
		b.backlog = slices.Concat(next, b.backlog[1:])
		b.pending.Store(int64(len(b.backlog)))
	}
	return nil
}

// retryBacklogs runs the backlog of every book that has one.
func (s *Service) retryBacklogs(ctx context.Context) {
	s.books.Range(func(k, v any) bool {
		b := v.(*book)
		if b.pending.Load() == 0 {
			return true
		}
		b.lock <- struct{}{}
		_ = s.settle(detach(ctx), k.(string), b)
		b.unlock()
		return ctx.Err() == nil
	})
}

// Backlog is the number of store steps waiting behind the venue, over
// every book (omsd_venue_backlog_steps).
func (s *Service) Backlog() int {
	n := 0
	s.books.Range(func(_, v any) bool {
		n += int(v.(*book).pending.Load())
		return true
	})
	return n
}

// StepFailures counts failed runs of backlog steps
// (omsd_venue_backlog_failures_total).
func (s *Service) StepFailures() int64 { return s.stepFailures.Load() }

// bookStep books a venue report, then goes on with then.
func (s *Service) bookStep(rep venue.Report, then ...step) step {
	return step{name: "book a venue report", run: func(ctx context.Context) ([]step, error) {
		if err := s.apply(ctx, rep); err != nil {
			return nil, err
		}
		return then, nil
	}}
}

// venueStep calls the venue (it cannot fail) and books its report; then,
// given the report, names what follows the booking.
func (s *Service) venueStep(name string, call func() venue.Report, then func(venue.Report) []step) step {
	return step{name: name, run: func(context.Context) ([]step, error) {
		rep := call()
		var more []step
		if then != nil {
			more = then(rep)
		}
		if len(rep.Events) == 0 {
			return more, nil
		}
		return []step{s.bookStep(rep, more...)}, nil
	}}
}
