package memory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
	"github.com/vero-oms/omsd/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memory.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// clock is a settable clock for reclaim tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func fixtures(t *testing.T, s *memory.Store) (store.Session, store.Recovery) {
	t.Helper()
	ctx := t.Context()
	sess := store.Session{ID: "s", TokenHash: "th", IdentityID: "i", ExpiresAt: t0.Add(time.Hour)}
	rec := store.Recovery{ID: "r", EmailKey: "ek", State: store.RecoveryPending, ExpiresAt: t0.Add(10 * time.Minute)}
	if err := s.CreateSession(ctx, sess, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.StartRecovery(ctx, rec, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Hit(ctx, "c", time.Minute); err != nil {
		t.Fatal(err)
	}
	return sess, rec
}

func wantRecords(t *testing.T, s *memory.Store, sessions, recoveries, counters int) {
	t.Helper()
	gotS, gotT, gotR, gotE, gotC := s.Held()
	if gotS != sessions || gotT != sessions || gotR != recoveries || gotE != recoveries || gotC != counters {
		t.Errorf("records: sessions %d tokens %d recoveries %d recovery-emails %d counters %d; want %d %d %d %d %d",
			gotS, gotT, gotR, gotE, gotC, sessions, sessions, recoveries, recoveries, counters)
	}
}

// Sweep (the janitor's work) reclaims by the store's clock: counters at the window's end,
// sessions at ExpiresAt, recoveries only RecoveryRetention after ExpiresAt.
func TestSweepReclaims(t *testing.T) {
	c := &clock{t: t0}
	s := memory.New(memory.WithClock(c.Now), memory.WithJanitorInterval(0))
	t.Cleanup(func() { _ = s.Close() })
	fixtures(t, s)
	wantRecords(t, s, 1, 1, 1)

	steps := []struct {
		at                             time.Time
		sessions, recoveries, counters int
	}{
		{t0.Add(time.Minute - time.Millisecond), 1, 1, 1},
		{t0.Add(time.Minute), 1, 1, 0},
		// The recovery expired at t0+10m but is retained for RecoveryRetention.
		{t0.Add(10*time.Minute + store.RecoveryRetention - time.Millisecond), 1, 1, 0},
		{t0.Add(10*time.Minute + store.RecoveryRetention), 1, 0, 0},
		{t0.Add(time.Hour - time.Millisecond), 1, 0, 0},
		{t0.Add(time.Hour), 0, 0, 0},
	}
	for _, step := range steps {
		c.Set(step.at)
		s.Sweep()
		wantRecords(t, s, step.sessions, step.recoveries, step.counters)
		if t.Failed() {
			t.Fatalf("at t0+%v", step.at.Sub(t0))
		}
	}
}

// Without Sweep, the janitor goroutine alone must reclaim.
func TestJanitorRunsByItself(t *testing.T) {
	c := &clock{t: t0}
	s := memory.New(memory.WithClock(c.Now), memory.WithJanitorInterval(5*time.Millisecond))
	t.Cleanup(func() { _ = s.Close() })
	fixtures(t, s)
	c.Set(t0.Add(24 * time.Hour))
	deadline := time.Now().Add(2 * time.Second)
	for {
		gotS, gotT, gotR, gotE, gotC := s.Held()
		if gotS+gotT+gotR+gotE+gotC == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("janitor did not reclaim: %d %d %d %d %d", gotS, gotT, gotR, gotE, gotC)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// With the janitor off, touching a record past its lifetime reclaims it,
// whatever `now` the caller passes.
func TestLazyReclaim(t *testing.T) {
	ctx := t.Context()
	c := &clock{t: t0}
	s := memory.New(memory.WithClock(c.Now), memory.WithJanitorInterval(0))
	t.Cleanup(func() { _ = s.Close() })
	sess, rec := fixtures(t, s)

	c.Set(t0.Add(10*time.Minute + store.RecoveryRetention - time.Millisecond))
	if _, err := s.RecoveryByID(ctx, rec.ID); err != nil {
		t.Fatalf("recovery reclaimed before retention ended: %v", err)
	}
	c.Set(t0.Add(10*time.Minute + store.RecoveryRetention))
	if _, err := s.RecoveryByID(ctx, rec.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecoveryByID after retention: %v, want ErrNotFound", err)
	}
	if _, err := s.SessionByTokenHash(ctx, sess.TokenHash, t0); err != nil {
		t.Fatalf("session reclaimed early: %v", err)
	}
	c.Set(sess.ExpiresAt)
	if _, err := s.SessionByTokenHash(ctx, sess.TokenHash, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionByTokenHash after ExpiresAt by the clock: %v, want ErrNotFound", err)
	}
	wantRecords(t, s, 0, 0, 1)
	n, resetIn, err := s.Hit(ctx, "c", time.Minute)
	if err != nil || n != 1 || resetIn != time.Minute {
		t.Fatalf("Hit after the window: %d %v %v, want 1 1m0s", n, resetIn, err)
	}
}

// Counter windows follow the injected clock exactly.
func TestCounterWindowByClock(t *testing.T) {
	ctx := t.Context()
	c := &clock{t: t0}
	s := memory.New(memory.WithClock(c.Now), memory.WithJanitorInterval(0))
	t.Cleanup(func() { _ = s.Close() })
	for i := int64(1); i <= 2; i++ {
		n, resetIn, err := s.Hit(ctx, "k", time.Minute)
		if err != nil || n != i || resetIn != time.Minute {
			t.Fatalf("hit %d: %d %v %v", i, n, resetIn, err)
		}
	}
	c.Set(t0.Add(59 * time.Second))
	if n, resetIn, _ := s.Hit(ctx, "k", time.Minute); n != 3 || resetIn != time.Second {
		t.Fatalf("late hit: %d %v, want 3 1s", n, resetIn)
	}
	c.Set(t0.Add(time.Minute))
	if err := s.Undo(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, resetIn, _ := s.Hit(ctx, "k", time.Minute); n != 1 || resetIn != time.Minute {
		t.Fatalf("hit in a new window: %d %v, want 1 1m0s", n, resetIn)
	}
}

func TestCloseStopsJanitorAndIsIdempotent(t *testing.T) {
	s := memory.New(memory.WithJanitorInterval(time.Millisecond))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

func BenchmarkCountAttemptAndMarkVerified(b *testing.B) {
	s := memory.New()
	b.Cleanup(func() { _ = s.Close() })
	storetest.BenchCountAttemptAndMarkVerified(b, s)
}

func BenchmarkSessionWithIdentity(b *testing.B) {
	s := memory.New()
	b.Cleanup(func() { _ = s.Close() })
	storetest.BenchSessionWithIdentity(b, s)
}

// A flood of distinct throttle keys cannot grow the counters past their
// bound; the newest keys still count.
func TestCountersAreBounded(t *testing.T) {
	c := &clock{t: t0}
	s := memory.New(memory.WithClock(c.Now), memory.WithJanitorInterval(0), memory.WithMaxCounters(64))
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	for i := range 10_000 {
		c.Set(t0.Add(time.Duration(i) * time.Millisecond))
		if _, _, err := s.Hit(ctx, fmt.Sprint("flood-", i), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, _, _, _, n := s.Held(); n > 64 {
			t.Fatalf("%d counters after %d keys, bound 64", n, i+1)
		}
	}
	for want := int64(2); want <= 3; want++ {
		if n, _, err := s.Hit(ctx, "flood-9999", time.Hour); err != nil || n != want {
			t.Fatalf("newest key count = %d, %v; want %d", n, err, want)
		}
	}
}

// BenchmarkSessionWithIdentityParallel is the bearer check from every
// core at once, as under load: lookups share the read lock.
func BenchmarkSessionWithIdentityParallel(b *testing.B) {
	s := memory.New()
	b.Cleanup(func() { _ = s.Close() })
	ctx, now := context.Background(), time.UnixMilli(time.Now().UnixMilli())
	if err := s.CreateIdentity(ctx, store.Identity{ID: "id-1", Email: "a@example.com", State: store.IdentityActive, Roles: []string{"trader"}}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{ID: "s-1", TokenHash: "t-1", IdentityID: "id-1", ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.SessionWithIdentity(ctx, "s-1", now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBearerCheckDuringSweep times bearer checks while the janitor
// sweeps a store of 200k live sessions over and over, and reports the
// p99, p99.9 and slowest check: with the sweep under one exclusive lock, a check
// waited for the whole sweep.
func BenchmarkBearerCheckDuringSweep(b *testing.B) {
	s := memory.New(memory.WithJanitorInterval(0))
	b.Cleanup(func() { _ = s.Close() })
	ctx, now := context.Background(), time.UnixMilli(time.Now().UnixMilli())
	if err := s.CreateIdentity(ctx, store.Identity{ID: "id-1", Email: "a@example.com", State: store.IdentityActive}); err != nil {
		b.Fatal(err)
	}
	for i := range 200_000 {
		id := "s-" + strconv.Itoa(i)
		if err := s.CreateSession(ctx, store.Session{ID: id, TokenHash: "t-" + id, IdentityID: "id-1", ExpiresAt: now.Add(time.Hour)}, now); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				s.Sweep()
			}
		}
	}()
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, _, err := s.SessionWithIdentity(ctx, "s-"+strconv.Itoa(i%200_000), now); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	close(stop)
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Nanoseconds()), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
}

func BenchmarkCommitOrderFeed(b *testing.B) {
	for _, every := range []int{1, 4} {
		b.Run(fmt.Sprintf("drain-every-%d", every), func(b *testing.B) {
			s := memory.New()
			b.Cleanup(func() { _ = s.Close() })
			storetest.BenchCommitOrderFeed(b, s, every)
		})
	}
}
