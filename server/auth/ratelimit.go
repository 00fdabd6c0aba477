package auth

import (
	"context"
	"time"
)

// hit is one rate-limit check: a counter key and its limit.
type hit struct {
	key   string
	limit Limit
}

// throttle counts one event against every key and refuses (429) when any is
// over its limit. The count happens before the work it guards, so a burst of
// concurrent requests cannot slip past the limit. A caller whose event turns
// out not to count (a successful login) gives the hits back with forgive.
func (s *Service) throttle(ctx context.Context, hits ...hit) error {
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	var retry time.Duration
	for _, h := range hits {
		n, resetIn, err := s.store.Hit(ctx, h.key, h.limit.Window)
		if err != nil {
			return unavailable(err)
		}
		if n > h.limit.Count && resetIn > retry {
			retry = resetIn
		}
	}
	if retry > 0 {
		return &Error{Code: CodeTooManyRequests, Message: "too many attempts; try again later", RetryAfter: retry}
	}
	return nil
}

// forgive takes back hits that turned out not to count.
func (s *Service) forgive(ctx context.Context, hits ...hit) {
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	for _, h := range hits {
		if err := s.store.Undo(ctx, h.key); err != nil {
			s.log.WarnContext(ctx, "rate limit undo failed", "err", err)
		}
	}
}
