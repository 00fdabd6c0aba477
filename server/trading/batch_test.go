package trading

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/faultstore"
	"github.com/vero-oms/omsd/store/memory"
)

// queueWhileCommitting runs first (an entry) under the store's plan, its
// commit (the plan's call 1) held until the entries of more are queued
// behind it on book b: they are committed together by the next commit.
// It returns their errors in the order of more.
func queueWhileCommitting(t *testing.T, h *harness, fs *faultstore.Store, plan func(int) fault, b *book, first func() error, more ...func() error) []error {
	t.Helper()
	errs := make([]error, len(more))
	var wg sync.WaitGroup
	fs.Set(plan, func(n int) {
		if n != 1 {
			return
		}
		for i, f := range more {
			wg.Go(func() { errs[i] = f() })
		}
		for b.entries.len() < len(more) {
			runtime.Gosched()
		}
	})
	if err := first(); err != nil {
		t.Fatalf("the first entry: %v", err)
	}
	wg.Wait()
	return errs
}

// Entries that queue on a book while a commit runs are committed together
// in the next one, each checked against the account as the entries before
// it left it: the poor account's three buys cannot all be paid for, and
// those it cannot pay for are rejected. Four crossing entries take four
// commits (eight one at a time): two entries and two bookings.
func TestQueuedEntriesCommitTogether(t *testing.T) {
	h, fs := faultyHarness(t)
	h.mustSubmit(1, "S", "100000", 300, "rest-sell")
	b := h.svc.book(h.order("rest-sell").ISIN)
	var more []func() error
	for i := 1; i <= 3; i++ {
		more = append(more, func() error {
			_, err := h.submit(h.ctx, 3, "B", "100000", 100, fmt.Sprintf("poor-%d", i))
			return err
		})
	}
	errs := queueWhileCommitting(t, h, fs, nil, b, func() error {
		_, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1")
		return err
	}, more...)
	if err := firstError(errs); err != nil {
		t.Fatalf("a queued entry: %v", err)
	}
	filled, rejected := 0, 0
	for i := 1; i <= 3; i++ {
		switch o := h.order(fmt.Sprintf("poor-%d", i)); o.Status {
		case store.OrderFilled:
			filled++
		case store.OrderRejected:
			rejected++
		default:
			t.Fatalf("%s: %s (%s)", o.OriginalReqID, o.Status, o.Text)
		}
	}
	if filled == 0 || rejected == 0 {
		t.Fatalf("the poor account's buys: %d filled, %d rejected; want some of each", filled, rejected)
	}
	sold, st := int64(100+100*filled), store.OrderPartiallyFill
	if sold == 300 {
		st = store.OrderFilled
	}
	wantStatus(t, h.order("rest-sell"), st, sold)
	h.mustAgree()
}

// The same, counting the store's calls: buy-1's entry and booking, then
// one commit for the three queued entries and one booking for them.
func TestQueuedEntriesTakeOneCommitAndOneBooking(t *testing.T) {
	h, fs := faultyHarness(t)
	h.mustSubmit(1, "S", "100000", 500, "rest-sell")
	b := h.svc.book(h.order("rest-sell").ISIN)
	var calls atomic.Int64
	var more []func() error
	for i := 1; i <= 3; i++ {
		more = append(more, func() error {
			_, err := h.submit(h.ctx, 2*(i%2), "B", "100000", 100, fmt.Sprintf("q-%d", i)) // not the seller's account
			return err
		})
	}
	count := func(n int) fault { calls.Store(int64(n)); return pass }
	errs := queueWhileCommitting(t, h, fs, count, b, func() error {
		_, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1")
		return err
	}, more...)
	if err := firstError(errs); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("%d store transactions, want 4 (eight one entry at a time)", n)
	}
	// rest-sell and buy-1 alone, then the three together.
	if c, n := h.svc.EntryCommits(), h.svc.EntriesCommitted(); c != 3 || n != 5 {
		t.Fatalf("entry commits %d taking %d entries, want 3 taking 5", c, n)
	}
	for i := 1; i <= 3; i++ {
		wantStatus(t, h.order(fmt.Sprintf("q-%d", i)), store.OrderFilled, 100)
	}
	wantStatus(t, h.order("rest-sell"), store.OrderPartiallyFill, 400)
	h.mustAgree()
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// A repeat of an order already made shares a commit whose answer is lost
// with a new entry: the new entry is settled (found or fenced), the repeat
// answers with the earlier order and does not send it to the venue again.
func TestRepeatInALostCommitIsNotRoutedAgain(t *testing.T) {
	for _, f := range []fault{landed, unsent} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			h, fs := faultyHarness(t)
			h.mustSubmit(1, "S", "100000", 100, "rest-sell")
			first, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1")
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, h.order("buy-1"), store.OrderFilled, 100)
			b := h.svc.book(h.order("buy-1").ISIN)
			var again Ack
			errs := queueWhileCommitting(t, h, fs, onCall(2, f), b, func() error {
				_, err := h.submit(h.ctx, 2, "B", "98000", 100, "trigger")
				return err
			}, func() error {
				var err error
				again, err = h.submit(h.ctx, 0, "B", "100000", 100, "buy-1")
				return err
			}, func() error {
				_, err := h.submit(h.ctx, 0, "B", "99000", 100, "buy-2")
				return err
			})
			if errs[0] != nil || !again.Repeated || first.Repeated || again.SourceSequence != h.order("buy-1").Seq {
				t.Fatalf("the repeat: %+v %v, first %+v", again, errs[0], first)
			}
			if errs[1] != nil {
				t.Fatalf("the new entry of the lost commit: %v", errs[1])
			}
			want := store.OrderNew
			if f == unsent {
				want = store.OrderRejected
			}
			if o := h.order("buy-2"); o.Status != want {
				t.Fatalf("buy-2: %s %s, want %s", o.Status, o.Text, want)
			}
			wantStatus(t, h.order("buy-1"), store.OrderFilled, 100)
			h.mustAgree()
		})
	}
}

// A commit takes the entries queued together, up to maxBatch, but a future
// or a conditional order goes alone.
func TestEntryQueueTake(t *testing.T) {
	future := market.Instrument{Multiplier: decimal.NewFromInt(100000)}
	var stop store.Order
	stop.Stop.Px = decimal.NewFromInt(90000)
	var q entryQueue
	for _, e := range []entry{{}, {}, {inst: future}, {}, {order: stop}, {}} {
		q.push(&pendingEntry{e: e})
	}
	for i := range maxBatch + 1 {
		q.push(&pendingEntry{e: entry{order: store.Order{Qty: int64(i)}}})
	}
	var sizes []int
	for q.len() > 0 {
		sizes = append(sizes, len(q.take()))
	}
	if want := []int{2, 1, 1, 1, maxBatch, 2}; !slices.Equal(sizes, want) {
		t.Fatalf("batches %v, want %v", sizes, want)
	}
}

// errBadRecord stands for an error of one entry's own, not the store's.
var errBadRecord = errors.New("test: this entry's record cannot be written")

// refusingStore fails the writing of one ClOrdID's order with
// errBadRecord, as a bug or bad data would, inside any transaction.
type refusingStore struct {
	*faultstore.Store
	ref string
}

func (r refusingStore) UpdateBackOffice(ctx context.Context, fn func(tx store.BackOfficeTx) error) ([]store.AuditEntry, error) {
	return r.Store.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error { return fn(refusingTx{tx, r.ref}) })
}

type refusingTx struct {
	store.BackOfficeTx
	ref string
}

func (t refusingTx) NewOrder(o store.Order, index bool) (store.Order, error) {
	if o.OriginalReqID == t.ref {
		return store.Order{}, errBadRecord
	}
	return t.BackOfficeTx.NewOrder(o, index)
}

// An error of one entry's own fails that entry only: the batch it came in
// is committed again one entry at a time, and the others are entered and
// routed.
func TestEntryErrorFailsOnlyThatEntry(t *testing.T) {
	var fs *faultstore.Store
	h := newHarnessWith(t, propAccounts(), func(st *memory.Store) Store {
		fs = faultstore.New(st)
		return refusingStore{fs, "bad"}
	})
	h.mustSubmit(1, "S", "100000", 100, "rest-sell")
	b := h.svc.book(h.order("rest-sell").ISIN)
	entry := func(acct int, price, ref string) func() error {
		return func() error {
			_, err := h.submit(h.ctx, acct, "B", price, 100, ref)
			return err
		}
	}
	commits := h.svc.EntryCommits()
	errs := queueWhileCommitting(t, h, fs, nil, b, entry(2, "97000", "trigger"),
		entry(0, "99000", "good-1"), entry(2, "99000", "bad"), entry(0, "98000", "good-2"))
	if !errors.Is(errs[1], errBadRecord) {
		t.Fatalf("the bad entry: %v, want its own error", errs[1])
	}
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the good entries: %v, %v", errs[0], errs[2])
	}
	// trigger, the batch of three, then each of the three alone
	if n := h.svc.EntryCommits() - commits; n != 5 {
		t.Fatalf("%d entry transactions, want 5", n)
	}
	wantStatus(t, h.order("good-1"), store.OrderNew, 0)
	wantStatus(t, h.order("good-2"), store.OrderNew, 0)
	if _, err := orderByRef(h.ctx, h.st, "bad"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the bad entry left an order: %v", err)
	}
	h.mustAgree()
}
