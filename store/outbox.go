package store

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// The outbox: what the Streaming API must publish, written by the back
// office in the same atomic step as the change it reports (a transactional
// outbox). Every commit that changes an order or an account's cash or
// holdings appends one entry per change; a publisher drains the entries in
// ID order and acknowledges them, so a report survives a crash between the
// commit and the publish and is published in commit order.

// OutboxKind says what an entry reports.
type OutboxKind string

const (
	OutboxOrder   OutboxKind = "order"   // an order's new state
	OutboxCash    OutboxKind = "cash"    // an account's cash after the change
	OutboxHolding OutboxKind = "holding" // one holding after the change
)

// OutboxEntry is one change to publish. IDs come from one sequence,
// assigned at commit: entries are contiguous and in commit order.
type OutboxEntry struct {
	ID          int64
	Kind        OutboxKind
	AccountCode string
	At          time.Time // when the change was committed

	Order Order // Kind OutboxOrder
	// Prior is the order as it was before this change (Kind OutboxOrder;
	// nil for a new order): a reader that reports transitions (FIX
	// ExecType: a fill's quantity, a replace that took effect) needs both.
	Prior   *OrderPrior
	Cash    Cash    // Kind OutboxCash
	Holding Holding // Kind OutboxHolding; zero quantities when the position is gone
}

// OrderPrior is what an order was before a change: the fields whose
// change a transition report names.
type OrderPrior struct {
	Status      OrderStatus
	Qty         int64
	Price       decimal.Decimal
	FilledQty   int64
	FilledValue decimal.Decimal
	Text        string
	StopPx      decimal.Decimal // a conditional order's stop (zero for others)
}

// Cash is an account's cash state.
type Cash struct {
	Available, Hold         decimal.Decimal
	Pending                 decimal.Decimal // proceeds due, not yet settled
	BypassCash, BypassStock bool
}

// CashOf returns a's cash state as clients see it: Hold is what working
// orders hold plus the futures positions' initial margin.
func CashOf(a Account) Cash {
	return Cash{Available: a.CashAvailable, Hold: a.CashHold.Add(a.PositionMargin()), Pending: a.PendingCash(), BypassCash: a.BypassCash, BypassStock: a.BypassStock}
}

// Equal reports whether two cash states are the same.
func (c Cash) Equal(d Cash) bool {
	return c.Available.Equal(d.Available) && c.Hold.Equal(d.Hold) && c.Pending.Equal(d.Pending) && c.BypassCash == d.BypassCash && c.BypassStock == d.BypassStock
}

// Outbox is read by the publisher.
type Outbox interface {
	// OutboxAfter returns up to limit entries with IDs above after, in ID
	// order. Entries at or below the acknowledged ID are gone. They are
	// pointers (an entry is some 850 bytes): the entries are the caller's,
	// and a store hands out what it holds without copying them.
	OutboxAfter(ctx context.Context, after int64, limit int) ([]*OutboxEntry, error)
	// AckOutbox records that every entry up to id is published and removes
	// them; an id at or below the acknowledged one changes nothing.
	AckOutbox(ctx context.Context, id int64) error
	// OutboxAcked returns the highest acknowledged ID (0 before any).
	OutboxAcked(ctx context.Context) (int64, error)
	// OutboxWritten is signalled (without blocking, so signals coalesce)
	// after this process commits outbox entries: the publisher wakes at
	// once instead of at its next poll. Commits by other processes are
	// found by polling.
	OutboxWritten() <-chan struct{}
}
