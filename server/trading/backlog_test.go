package trading

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/faultstore"
	"github.com/vero-oms/omsd/store/memory"
)

// These tests drive the service on the memory store with failures
// injected into its transactions, the way a client hanging up or a store
// stalling makes them fail, and check the venue and the store agree
// afterwards (the property harness's invariants, checkAll).

// The faults (store/faultstore), by their short names here.
type fault = faultstore.Fault

const (
	pass   = faultstore.Pass
	down   = faultstore.Down
	landed = faultstore.Landed
	unsent = faultstore.Unsent
)

var onCall = faultstore.OnCall

func faultyHarness(t *testing.T) (*harness, *faultstore.Store) {
	t.Helper()
	var fs *faultstore.Store
	h := newHarnessWith(t, propAccounts(), func(st *memory.Store) Store {
		fs = faultstore.New(st)
		return fs
	})
	return h, fs
}

func (h *harness) submit(ctx context.Context, acct int, side, price string, qty int64, ref string) (Ack, error) {
	return h.svc.Submit(ctx, h.accts[acct].user, NewOrder{Account: h.accts[acct].code, Symbol: "FPT", Side: side, Type: "LO", Price: &price, Qty: qty, RefOrderID: ref})
}

func (h *harness) mustSubmit(acct int, side, price string, qty int64, ref string) {
	h.t.Helper()
	if _, err := h.submit(h.ctx, acct, side, price, qty, ref); err != nil {
		h.t.Fatalf("submit %s: %v", ref, err)
	}
}

func (h *harness) order(ref string) store.Order {
	h.t.Helper()
	o, err := orderByRef(h.ctx, h.st, ref)
	if err != nil {
		h.t.Fatalf("order %s: %v", ref, err)
	}
	return o
}

func (h *harness) mustAgree() {
	h.t.Helper()
	if bad := h.checkAll(); len(bad) > 0 {
		h.t.Fatalf("the venue and the store disagree:\n%s", strings.Join(bad, "\n"))
	}
}

func wantStatus(t *testing.T, o store.Order, st store.OrderStatus, filled int64) {
	t.Helper()
	if o.Status != st || o.FilledQty != filled {
		t.Fatalf("order %s: %s filled %d (%s), want %s filled %d", o.OriginalReqID, o.Status, o.FilledQty, o.Text, st, filled)
	}
}

// A client that hangs up while its order is being entered: the order
// still trades, and both sides of the fill are booked.
func TestFillIsBookedWhenTheClientHangsUp(t *testing.T) {
	h, fs := faultyHarness(t)
	h.mustSubmit(1, "S", "100000", 300, "rest-sell")
	ctx, hangUp := context.WithCancel(h.ctx)
	fs.Set(nil, func(n int) {
		if n == 1 { // the entry's transaction: the client is gone from here on
			hangUp()
		}
	})
	if _, err := h.submit(ctx, 0, "B", "100000", 100, "buy-gone"); err != nil {
		t.Fatalf("entry of a client that hung up mid-request: %v", err)
	}
	wantStatus(t, h.order("buy-gone"), store.OrderFilled, 100)
	wantStatus(t, h.order("rest-sell"), store.OrderPartiallyFill, 100)
	h.mustAgree()
	// A request already cancelled when it arrives starts nothing.
	if _, err := h.submit(ctx, 0, "B", "100000", 100, "buy-late"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled request: %v", err)
	}
	if _, err := orderByRef(h.ctx, h.st, "buy-late"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a cancelled request stored an order: %v", err)
	}
}

// The store fails after the venue traded: the report waits in the
// backlog, the book takes nothing new until it is booked, and the retrier
// books it once the store answers.
func TestReportWaitsForTheStoreAndIsBookedOnce(t *testing.T) {
	h, fs := faultyHarness(t)
	h.mustSubmit(1, "S", "100000", 300, "rest-sell")
	var up sync.Mutex
	isUp := false
	fs.Set(func(n int) fault {
		up.Lock()
		defer up.Unlock()
		if n == 1 || isUp {
			return pass // the entry commits; what follows the venue fails
		}
		return down
	}, nil)
	if _, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1"); err != nil {
		t.Fatalf("the venue took the order; the Ack must not depend on the booking: %v", err)
	}
	if n := h.svc.Backlog(); n != 1 {
		t.Fatalf("backlog %d, want the one report", n)
	}
	wantStatus(t, h.order("buy-1"), store.OrderPendingNew, 0)
	_, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-2")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("an order on a book the store is behind: %v", err)
	}
	if _, err := orderByRef(h.ctx, h.st, "buy-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an order was stored while the book was behind: %v", err)
	}
	h.svc.retryBacklogs(h.ctx) // still down: kept
	if n := h.svc.Backlog(); n != 1 {
		t.Fatalf("backlog after a failed retry: %d", n)
	}
	up.Lock()
	isUp = true
	up.Unlock()
	h.svc.retryBacklogs(h.ctx)
	if n := h.svc.Backlog(); n != 0 {
		t.Fatalf("backlog after the store came back: %d", n)
	}
	wantStatus(t, h.order("buy-1"), store.OrderFilled, 100)
	wantStatus(t, h.order("rest-sell"), store.OrderPartiallyFill, 100)
	h.mustAgree()
	if h.svc.StepFailures() < 2 {
		t.Fatalf("step failures counted: %d", h.svc.StepFailures())
	}
}

// An entry whose commit landed although its answer was lost: it is found
// and routed, once.
func TestUncertainEntryThatLandedIsRouted(t *testing.T) {
	h, fs := faultyHarness(t)
	h.mustSubmit(1, "S", "100000", 300, "rest-sell")
	fs.Set(onCall(1, landed), nil)
	if _, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1"); err != nil {
		t.Fatalf("an entry settled as landed answers its Ack: %v", err)
	}
	wantStatus(t, h.order("buy-1"), store.OrderFilled, 100)
	h.mustAgree()
	// The rest of the sell is still in the book, with its hold.
	if _, live := h.svc.VenueOrders()[h.order("rest-sell").ID]; !live {
		t.Fatal("the resting sell left the book")
	}
}

// An entry whose commit never landed is fenced: REJECTED with -913002, and
// a repeat of it answers that outcome instead of entering a second order.
func TestUncertainEntryThatDidNotLandIsFenced(t *testing.T) {
	h, fs := faultyHarness(t)
	fs.Set(onCall(1, unsent), nil)
	ack, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1")
	if err != nil {
		t.Fatalf("an entry settled as not landed answers its Ack: %v", err)
	}
	o := h.order("buy-1")
	if o.Status != store.OrderRejected || !strings.HasPrefix(o.Text, "OMS|"+strconv.Itoa(CodeUnconfirmed)+"|") || !o.Hold.Cash.IsZero() {
		t.Fatalf("the fence: %s %q hold %s", o.Status, o.Text, o.Hold.Cash)
	}
	again, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1")
	if err != nil || again.SourceSequence != ack.SourceSequence || !again.Repeated || ack.Repeated {
		t.Fatalf("a repeat: %+v %v, first %+v", again, err, ack)
	}
	if os, _ := h.st.Orders(h.ctx, store.OrderFilter{OriginalReqID: "buy-1"}); len(os) != 1 {
		t.Fatalf("orders under buy-1: %d", len(os))
	}
	h.mustAgree()
}

// The store stays silent after an uncertain entry: the client hears "not
// known yet"; once the store answers, the retrier settles it and a repeat
// learns the outcome.
func TestUncertainEntrySettledLater(t *testing.T) {
	h, fs := faultyHarness(t)
	var mu sync.Mutex
	isUp := false
	fs.Set(func(n int) fault {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case n == 1:
			return unsent
		case isUp:
			return pass
		}
		return down
	}, nil)
	_, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1")
	if apperr.CodeOf(err) != apperr.UpstreamUnavailable || !strings.Contains(err.Error(), "same ref_order_id") {
		t.Fatalf("an entry whose outcome is not known yet: %v", err)
	}
	if h.svc.Backlog() != 1 {
		t.Fatalf("backlog %d", h.svc.Backlog())
	}
	mu.Lock()
	isUp = true
	mu.Unlock()
	h.svc.retryBacklogs(h.ctx)
	if _, err := h.submit(h.ctx, 0, "B", "100000", 100, "buy-1"); err != nil {
		t.Fatal(err)
	}
	if o := h.order("buy-1"); o.Status != store.OrderRejected {
		t.Fatalf("settled entry: %s %s", o.Status, o.Text)
	}
	h.mustAgree()
}

// A cancel whose commit landed without an answer is carried to the venue;
// one that did not land leaves the order working, and a new cancel works.
func TestUncertainCancel(t *testing.T) {
	for _, f := range []fault{landed, unsent} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			h, fs := faultyHarness(t)
			h.mustSubmit(0, "B", "99000", 100, "buy-1")
			fs.Set(onCall(1, f), nil)
			_, err := h.svc.Cancel(h.ctx, h.accts[0].user, CancelRequest{OrderID: "buy-1", RequestID: "c-1"})
			if err != nil {
				t.Fatalf("cancel: %v", err)
			}
			if f == unsent {
				wantStatus(t, h.order("buy-1"), store.OrderNew, 0)
				if _, err := h.svc.Cancel(h.ctx, h.accts[0].user, CancelRequest{OrderID: "buy-1", RequestID: "c-2"}); err != nil {
					t.Fatalf("second cancel: %v", err)
				}
			}
			wantStatus(t, h.order("buy-1"), store.OrderCanceled, 0)
			h.mustAgree()
		})
	}
}

// putOrder overwrites an order's record as the store holds it, moving
// what its hold changes by between free and held on its account.
func (h *harness) putOrder(ref string, change func(o *store.Order)) {
	h.t.Helper()
	_, err := h.st.UpdateBackOffice(h.ctx, func(tx store.BackOfficeTx) error {
		o, err := orderByRef(h.ctx, h.st, ref)
		if err != nil {
			return err
		}
		before := o.Hold
		change(&o)
		a, _, err := tx.Account(o.AccountCode)
		if err != nil {
			return err
		}
		cash := o.Hold.Cash.Sub(before.Cash)
		a.CashAvailable, a.CashHold = a.CashAvailable.Sub(cash), a.CashHold.Add(cash)
		hd, _ := a.Holding(o.ISIN)
		hd.SellableQty, hd.HoldQty = hd.SellableQty-(o.Hold.Stock-before.Stock), hd.HoldQty+(o.Hold.Stock-before.Stock)
		a.SetHolding(hd)
		if err := tx.PutAccount(a); err != nil {
			return err
		}
		return tx.PutOrder(o)
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// Orders left pending by changes the venue never saw, and book orders the
// store has as final, are brought to the venue's truth; so is a pending
// order touched by a new cancel.
func TestReconcileMendsWhatDiffers(t *testing.T) {
	h := newHarness(t, propAccounts())
	h.mustSubmit(0, "B", "99000", 100, "pending-cancel")
	h.mustSubmit(0, "B", "98000", 100, "pending-replace")
	h.mustSubmit(0, "B", "97000", 100, "touched")
	h.mustSubmit(1, "S", "101000", 100, "final-in-store")
	h.putOrder("pending-cancel", func(o *store.Order) { o.Status = store.OrderPendingCancel })
	h.putOrder("pending-replace", func(o *store.Order) {
		o.Status, o.Price, o.Hold.Cash, o.Hold.UnitPrice = store.OrderPendingReplace, dec("98100"), dec("9810000"), dec("98100")
	})
	h.putOrder("touched", func(o *store.Order) { o.Status = store.OrderPendingCancel })
	// A store record that ended without the book knowing.
	fin := h.order("final-in-store")
	h.putOrder("final-in-store", func(o *store.Order) { o.Status, o.Hold.Stock, o.CancelledQty = store.OrderCanceled, 0, 100 })

	// Touch: a cancel of an order with a cancel pending completes it.
	_, err := h.svc.Cancel(h.ctx, h.accts[0].user, CancelRequest{OrderID: "touched", RequestID: "c-t"})
	if err == nil || !strings.Contains(err.Error(), "-100019") {
		t.Fatalf("a cancel of an order whose pending cancel the touch completed: %v", err)
	}
	wantStatus(t, h.order("touched"), store.OrderCanceled, 0)

	if err := h.svc.Reconcile(h.ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.order("pending-cancel"), store.OrderCanceled, 0)
	if o := h.order("pending-replace"); o.Status != store.OrderNew || !o.Price.Equal(dec("98100")) {
		t.Fatalf("pending replace: %s @ %s", o.Status, o.Price)
	}
	if _, live := h.svc.VenueOrders()[fin.ID]; live {
		t.Fatal("the book still holds an order the store has as final")
	}
	h.mustAgree()
}

// Working orders no book holds (a restarted venue) are ended and their
// holds released, at start and by Reconcile.
func TestReconcileEndsOrdersNoBookHolds(t *testing.T) {
	h := newHarness(t, propAccounts())
	h.mustSubmit(0, "B", "99000", 100, "lost")
	o := h.order("lost")
	h.venue.Cancel(bookOf(o), strconv.FormatInt(o.ID, 10)) // the venue forgets it; nobody books that
	if err := h.svc.Reconcile(h.ctx); err != nil {
		t.Fatal(err)
	}
	o = h.order("lost")
	if o.Status != store.OrderCanceled || !strings.Contains(o.Text, "no longer holds") {
		t.Fatalf("an order no book holds: %s %q", o.Status, o.Text)
	}
	h.mustAgree()
}

// Entries from many clients at once on one book while the store fails
// at random (no answer, an answer lost for a commit that landed or not):
// once the store is back and the backlog drained, the venue and the store
// agree and every invariant holds.
func TestConcurrentEntriesWithStoreFaults(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			h, fs := faultyHarness(t)
			var mu sync.Mutex
			r := rand.New(rand.NewPCG(seed, 99))
			fs.Set(func(int) fault {
				mu.Lock()
				defer mu.Unlock()
				return [...]fault{down, landed, unsent, pass, pass, pass, pass, pass, pass, pass, pass, pass}[r.IntN(12)]
			}, nil)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					rg := rand.New(rand.NewPCG(seed, uint64(g)))
					for i := range 25 {
						side := [...]string{"B", "S"}[rg.IntN(2)]
						price := [...]string{"99900", "100000", "100100"}[rg.IntN(3)]
						_, _ = h.submit(h.ctx, g%3, side, price, int64(100*(1+rg.IntN(3))), fmt.Sprintf("c%d-%d", g, i))
					}
				})
			}
			wg.Wait()
			fs.Set(nil, nil)
			for i := 0; i < 5 && h.svc.Backlog() > 0; i++ {
				h.svc.retryBacklogs(h.ctx)
			}
			h.mustAgree()
		})
	}
}
