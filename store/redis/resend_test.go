package redis_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// A commit whose answer times out is not sent again: the server stalls
// just as a transaction that adds 1 VND to an account commits, and
// resumes after the read timeout. A resent commit script would land twice
// over (the first copy when the server resumes, the second finding its
// checks stale, so the transaction runs again on the new balance): 2 VND
// from one transaction. The caller must hear "outcome unknown" instead,
// with the transaction run once and 1 VND added.
func TestCommitWhoseAnswerIsLostIsNotResent(t *testing.T) {
	srv := redistest.StartRedis(t)
	if !srv.Restartable() {
		t.Skip("external Redis cannot be paused")
	}
	const timeout = 300 * time.Millisecond
	// Nothing about retries is set: the default must be safe.
	s, _ := open(t, srv, redis.Options{URL: srv.URL(), DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout})
	ctx := t.Context()
	if _, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		return tx.PutAccount(store.Account{AccountCode: "R1", CashAvailable: decimal.Zero})
	}); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	resumed := make(chan struct{})
	_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		a, _, err := tx.Account("R1")
		if err != nil {
			return err
		}
		a.CashAvailable = a.CashAvailable.Add(decimal.NewFromInt(1))
		if runs.Add(1) == 1 {
			srv.Pause() // the commit goes to a server that does not answer
			go func() {
				defer close(resumed)
				time.Sleep(timeout + timeout/2)
				srv.Resume()
			}()
		}
		return tx.PutAccount(a)
	})
	<-resumed
	if !errors.Is(err, store.ErrOutcomeUnknown) || runs.Load() != 1 {
		t.Fatalf("the stalled commit: %v after %d runs, want store.ErrOutcomeUnknown after one", err, runs.Load())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err := s.Account(ctx, "R1")
		if err == nil && !a.CashAvailable.IsZero() {
			if !a.CashAvailable.Equal(decimal.NewFromInt(1)) {
				t.Fatalf("cash %s after one transaction adding 1", a.CashAvailable)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the commit sent before the stall never landed: %v %v", a.CashAvailable, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
