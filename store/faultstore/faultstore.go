// Package faultstore wraps the memory store with the failures a real
// store's transactions have: no answer, a commit that lands with its
// answer lost, an answer lost for a commit that never lands. Tests of the
// services use it to check that the venue, the desk and the store agree
// after such a failure, on the same store the rest of their tests use.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

// Fault is what Store does to one UpdateBackOffice call.
type Fault int

const (
	Pass   Fault = iota // the call goes through
	Down                // the store does not answer: nothing is written
	Landed              // the commit lands but its answer is lost
	Unsent              // the answer is lost and the commit never lands
)

func (f Fault) String() string { return [...]string{"pass", "down", "landed", "unsent"}[f] }

var errUnsent = errors.New("faultstore: commit not sent")

// Store is the memory store whose n-th UpdateBackOffice call (from 1,
// counted since the last Set) does what the plan says; before(n) runs
// first (to cancel a client's context at that moment, say).
type Store struct {
	*memory.Store
	mu     sync.Mutex
	calls  int
	plan   func(n int) Fault
	before func(n int)
}

// New wraps st; every call passes until Set.
func New(st *memory.Store) *Store { return &Store{Store: st} }

// Set replaces the plan and before (either may be nil), counting calls
// from the next one as 1.
func (f *Store) Set(plan func(n int) Fault, before func(n int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.plan, f.before = 0, plan, before
}

// OnCall is a plan: fault on call n, every other call passes.
func OnCall(n int, fault Fault) func(int) Fault {
	return func(i int) Fault {
		if i == n {
			return fault
		}
		return Pass
	}
}

// UpdateBackOffice runs the call as planned. A lost answer is
// store.ErrUnavailable and store.ErrOutcomeUnknown, as the Redis store
// reports a reply that did not come.
func (f *Store) UpdateBackOffice(ctx context.Context, fn func(tx store.BackOfficeTx) error) ([]store.AuditEntry, error) {
	f.mu.Lock()
	f.calls++
	n, plan, before := f.calls, f.plan, f.before
	f.mu.Unlock()
	if before != nil {
		before(n)
	}
	what := Pass
	if plan != nil {
		what = plan(n)
	}
	unknown := fmt.Errorf("faultstore: no answer: %w: %w", store.ErrUnavailable, store.ErrOutcomeUnknown)
	switch what {
	case Down:
		return nil, fmt.Errorf("faultstore: store down: %w", store.ErrUnavailable)
	case Landed:
		if _, err := f.Store.UpdateBackOffice(ctx, fn); err != nil {
			return nil, err
		}
		return nil, unknown
	case Unsent:
		_, err := f.Store.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errUnsent
		})
		if !errors.Is(err, errUnsent) {
			return nil, err
		}
		return nil, unknown
	}
	return f.Store.UpdateBackOffice(ctx, fn)
}
