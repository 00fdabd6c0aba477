package store

import (
	"context"
	"time"
)

// Counters are fixed-window counters for rate limits.
type Counters interface {
	// Hit adds one to key's counter, starting a window of the given length
	// if none is running, and returns the count after the increment and the
	// time left in the window.
	Hit(ctx context.Context, key string, window time.Duration) (count int64, resetIn time.Duration, err error)
	// Undo takes one hit back (never below zero; no-op if the window ended).
	Undo(ctx context.Context, key string) error
	// Count returns key's count in the running window without changing it
	// (0 when no window runs).
	Count(ctx context.Context, key string) (int64, error)
}
