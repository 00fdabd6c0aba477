package auth

import (
	"context"

	"github.com/vero-oms/omsd/server/apperr"
)

// hit is one rate-limit check: a counter key and its limit.
type hit struct {
	key   string
	limit Limit
}

// throttle counts one event against each key in turn and refuses (429) at
// the first key over its limit, without touching the keys after it: put
// the per-network key first so a refused request creates no account-keyed
// state. Counting happens before the work it guards, so a burst of
// concurrent requests cannot slip past the limit. A caller whose event
// turns out not to count (a successful login) gives the hits back with
// forgive.
func (s *Service) throttle(ctx context.Context, hits ...hit) error {
	for _, h := range hits {
		n, resetIn, err := s.store.Hit(ctx, h.key, h.limit.Window)
		if err != nil {
			return err
		}
		if n > h.limit.Count {
			return &apperr.Error{Code: apperr.TooManyRequests, Message: "too many attempts; try again later", RetryAfter: resetIn}
		}
	}
	return nil
}

// forgive takes back hits that turned out not to count. It must finish even
// when the client has gone away (an abandoned correct login must not count
// as a failure), so it runs without the request's cancellation.
func (s *Service) forgive(ctx context.Context, hits ...hit) {
	ctx = context.WithoutCancel(ctx)
	for _, h := range hits {
		if err := s.store.Undo(ctx, h.key); err != nil {
			s.log.WarnContext(ctx, "rate limit undo failed", "err", err)
		}
	}
}
