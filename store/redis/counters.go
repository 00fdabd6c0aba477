package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ---- counters ----

func (s *Store) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	w := max(window.Milliseconds(), 1)
	res, err := hit.Run(ctx, s.c, []string{s.k.counter(key)}, w).Int64Slice()
	if err != nil {
		return 0, 0, fail("hit", err)
	}
	if len(res) != 2 {
		return 0, 0, fail("hit", fmt.Errorf("unexpected reply %v", res))
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	n, err := s.c.Get(ctx, s.k.counter(key)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("count", err)
	}
	return n, nil
}

func (s *Store) Undo(ctx context.Context, key string) error {
	if err := undo.Run(ctx, s.c, []string{s.k.counter(key)}).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fail("undo", err)
	}
	return nil
}
