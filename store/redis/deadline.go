package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// deadlineHook bounds every command and pipeline (retries included) by a
// deadline, so a hung server costs a request at most that long. It lives
// here, in the adapter, so services pass their request context unchanged.
type deadlineHook struct{ d time.Duration }

func (h deadlineHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h deadlineHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmd)
	}
}

func (h deadlineHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmds)
	}
}

// bound keeps an earlier deadline the caller already set.
func (h deadlineHook) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= h.d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, h.d)
}

var _ goredis.Hook = deadlineHook{}
