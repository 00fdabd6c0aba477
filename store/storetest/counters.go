package storetest

import (
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
)

// ---- counters ----

func (su suite) counters(t *testing.T) {
	hit := func(t *testing.T, s store.Store, key string, window time.Duration, wantCount int64) time.Duration {
		t.Helper()
		n, resetIn, err := s.Hit(t.Context(), key, window)
		must(t, err)
		if n != wantCount {
			t.Errorf("Hit(%q) = %d, want %d", key, n, wantCount)
		}
		if resetIn <= 0 || resetIn > window {
			t.Errorf("Hit(%q) resetIn = %v, want in (0, %v]", key, resetIn, window)
		}
		return resetIn
	}

	su.test(t, "Hit", func(t *testing.T, s store.Store) {
		for i := int64(1); i <= 3; i++ {
			hit(t, s, "login:ann", time.Minute, i)
		}
		hit(t, s, "login:bob", time.Minute, 1)
		hit(t, s, "login:ann", time.Minute, 4)
	})

	su.test(t, "WindowResets", func(t *testing.T, s store.Store) {
		const w = 300 * time.Millisecond
		hit(t, s, "k", w, 1)
		hit(t, s, "k", w, 2)
		time.Sleep(w + 150*time.Millisecond)
		hit(t, s, "k", w, 1)
	})

	su.test(t, "HitsDoNotExtendWindow", func(t *testing.T, s store.Store) {
		const w = time.Second
		hit(t, s, "k", w, 1)
		time.Sleep(300 * time.Millisecond)
		if left := hit(t, s, "k", w, 2); left > 750*time.Millisecond {
			t.Errorf("window restarted: %v left, want <= 700ms", left)
		}
	})

	su.test(t, "Undo", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for i := int64(1); i <= 3; i++ {
			hit(t, s, "k", time.Minute, i)
		}
		must(t, s.Undo(ctx, "k"))
		hit(t, s, "k", time.Minute, 3)
	})

	su.test(t, "Count", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		n, err := s.Count(ctx, "k")
		must(t, err)
		if n != 0 {
			t.Fatalf("count of an unknown key = %d", n)
		}
		hit(t, s, "k", time.Minute, 1)
		hit(t, s, "k", time.Minute, 2)
		for range 2 { // reading does not count
			if n, err = s.Count(ctx, "k"); err != nil || n != 2 {
				t.Fatalf("count = %d, %v; want 2", n, err)
			}
		}
		hit(t, s, "k", time.Minute, 3)
		const w = 200 * time.Millisecond
		hit(t, s, "short", w, 1)
		time.Sleep(w + 150*time.Millisecond)
		if n, err = s.Count(ctx, "short"); err != nil || n != 0 {
			t.Fatalf("count after the window = %d, %v; want 0", n, err)
		}
	})

	su.test(t, "UndoNeverBelowZero", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		hit(t, s, "k", time.Minute, 1)
		for range 3 {
			must(t, s.Undo(ctx, "k"))
		}
		hit(t, s, "k", time.Minute, 1)
	})

	su.test(t, "UndoUnknownKey", func(t *testing.T, s store.Store) {
		must(t, s.Undo(t.Context(), "k"))
		if left := hit(t, s, "k", time.Minute, 1); left < 50*time.Second {
			t.Errorf("Undo left a window behind: %v left", left)
		}
	})

	su.test(t, "UndoAfterWindowEnded", func(t *testing.T, s store.Store) {
		const w = 300 * time.Millisecond
		hit(t, s, "k", w, 1)
		hit(t, s, "k", w, 2)
		time.Sleep(w + 150*time.Millisecond)
		must(t, s.Undo(t.Context(), "k"))
		hit(t, s, "k", w, 1)
	})

	su.test(t, "UndoToZeroKeepsWindow", func(t *testing.T, s store.Store) {
		const w = time.Second
		hit(t, s, "k", w, 1)
		time.Sleep(300 * time.Millisecond)
		must(t, s.Undo(t.Context(), "k"))
		if left := hit(t, s, "k", w, 1); left > 750*time.Millisecond {
			t.Errorf("window restarted after undo to zero: %v left, want <= 700ms", left)
		}
	})
}
