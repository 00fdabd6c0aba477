package memory

import (
	"context"
	"time"
)

// ---- counters ----

func (s *Store) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if err := s.begin(ctx); err != nil {
		return 0, 0, err
	}
	defer s.mu.Unlock()
	window = max(window, time.Millisecond) // as in Redis, which needs a positive TTL
	now := s.clock()
	c, ok := s.counters[key]
	if !ok || !now.Before(c.resetAt) {
		if !ok {
			s.makeRoomForCounter(now)
		}
		c = &counter{resetAt: now.Add(window)}
		s.counters[key] = c
	}
	c.count++
	return c.count, c.resetAt.Sub(now), nil
}

func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := s.beginRead(ctx); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	c, ok := s.counters[key]
	if !ok || !s.clock().Before(c.resetAt) {
		return 0, nil
	}
	return c.count, nil
}

func (s *Store) Undo(ctx context.Context, key string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	c, ok := s.counters[key]
	if !ok {
		return nil
	}
	if !s.clock().Before(c.resetAt) {
		delete(s.counters, key)
		return nil
	}
	if c.count > 0 {
		c.count--
	}
	return nil
}
