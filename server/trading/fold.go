package trading

import (
	"context"
	"slices"

	"github.com/vero-oms/omsd/store"
)

// Folding: on a busy book the store's round trips under the book's lock
// set how many orders a second the book takes. A crossing order costs two
// commits there: its entry, then the booking of what the venue did with
// it. When another operation is already waiting for the book, the booking
// is left at the head of the backlog (route), and an order entry that
// finds only such bookings there writes them in its own commit, before
// its entry (Submit): one commit for both, in the order the venue acted.
// Nothing else changes: the bookings are committed before the waiting
// operation goes on, as settle would; if the commit fails they stay in the
// backlog and are booked on their own before the entry answers (a booking
// is applied once however often it is written, see apply). Not while a
// conditional order watches the book: its check follows each booking.

// foldable reports whether b's backlog (locked) is only bookings an order
// entry may fold.
func (s *Service) foldable(isin string, b *book) bool {
	if len(b.backlog) == 0 || b.failing || s.stops.watching(isin) {
		return false
	}
	return !slices.ContainsFunc(b.backlog, func(st step) bool { return st.booking == nil })
}

// writeFolded writes the bookings of folded in tx, before what the
// operation itself writes.
func (s *Service) writeFolded(tx store.BackOfficeTx, folded []step) error {
	for _, st := range folded {
		if _, err := s.writeReport(tx, *st.booking, ""); err != nil {
			return err
		}
	}
	return nil
}

// folded ends the folding of n bookings at the head of isin's backlog by
// the commit that returned err: committed, they leave the backlog;
// otherwise they are booked on their own now (or by the retrier).
func (s *Service) folded(ctx context.Context, isin string, n int, err error) {
	if n == 0 {
		return
	}
	b := s.book(isin)
	if err == nil {
		b.backlog = slices.Delete(b.backlog, 0, n)
		b.pending.Store(int64(len(b.backlog)))
		s.foldedBookings.Add(int64(n))
		return
	}
	_ = s.settle(ctx, isin, b) // a failure is logged there and retried
}

// FoldedBookings counts the venue reports booked in an order entry's
// commit (omsd_venue_bookings_folded_total).
func (s *Service) FoldedBookings() int64 { return s.foldedBookings.Load() }
