package trading

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// The venue simulator keeps its books in this process, so exactly one
// omsd per store may run it (OMS_VENUE=local); the others serve the reads
// with OMS_VENUE=off. A lease in the store makes a second owner refuse to
// start instead of silently running a second set of books on the same
// orders.

// VenueLease is the lease name of the book owner.
const VenueLease = "venue"

// venueState says why this instance cannot trade; empty when it can.
type venueState struct{ down atomic.Pointer[string] }

func (v *venueState) set(why string) { v.down.Store(&why) }

// ready refuses trading when the venue is not here.
func (s *Service) ready() error {
	if why := s.venueState.down.Load(); why != nil && *why != "" {
		return apperr.New(apperr.UpstreamUnavailable, *why)
	}
	return nil
}

// DisableVenue makes every trading request answer 502 with why (OMS_VENUE=off).
func (s *Service) DisableVenue(why string) { s.venueState.set(why) }

// HoldVenue takes the venue lease for owner and keeps it until ctx ends
// (renewing every ttl/3). A lease held by another owner is waited for, up
// to ttl and a fifth more: an owner that crashed leaves a lease that lapses
// within ttl, and a restart at once must not turn into a crash loop; an
// owner still renewing it is named in the error. If the lease is lost
// later (the store was unreachable past ttl and another instance took it),
// trading stops here with 502s rather than running a second book. The
// returned func releases the lease.
func (s *Service) HoldVenue(ctx context.Context, l store.Leases, owner string, ttl time.Duration) (func(context.Context), error) {
	if err := s.takeVenueLease(ctx, l, owner, ttl); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				h, err := l.TakeLease(ctx, VenueLease, owner, ttl)
				switch {
				case err != nil && ctx.Err() == nil:
					s.log.Error("renewing the venue lease failed", "err", err)
				case err == nil && h != owner:
					s.venueState.set("this instance lost the venue lease to " + h + "; it no longer trades")
					s.log.Error("the venue lease was taken by another instance: trading stops here", "holder", h)
					return
				}
			}
		}
	}()
	return func(rctx context.Context) {
		<-done
		_ = l.ReleaseLease(rctx, VenueLease, owner)
	}, nil
}

// takeVenueLease takes the lease, waiting for another holder's to lapse.
func (s *Service) takeVenueLease(ctx context.Context, l store.Leases, owner string, ttl time.Duration) error {
	deadline := time.Now().Add(ttl + ttl/5)
	for waited := false; ; waited = true {
		holder, err := l.TakeLease(ctx, VenueLease, owner, ttl)
		if err != nil {
			return fmt.Errorf("venue lease: %w", err)
		}
		if holder == owner {
			if waited {
				s.log.Info("took the venue lease after the previous owner's lapsed")
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the venue simulator is already run by another omsd (%s) on this store: one instance owns the books; start this one with OMS_VENUE=off, or stop the other", holder)
		}
		if !waited {
			s.log.Warn("the venue lease is held by another owner; waiting for it to lapse (a crashed owner's lease lasts up to the lease TTL)",
				"holder", holder, "ttl", ttl.String())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("venue lease: %w", ctx.Err())
		case <-time.After(max(ttl/15, 10*time.Millisecond)):
		}
	}
}
