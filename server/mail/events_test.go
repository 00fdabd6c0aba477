package mail

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recordedEvents counts AsyncEvents calls.
type recordedEvents struct {
	mu        sync.Mutex
	delivered int
	failed    map[string]int
}

func (r *recordedEvents) Delivered() { r.mu.Lock(); r.delivered++; r.mu.Unlock() }
func (r *recordedEvents) Failed(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = map[string]int{}
	}
	r.failed[reason]++
}

func (r *recordedEvents) get() (int, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for k, v := range r.failed {
		m[k] = v
	}
	return r.delivered, m
}

func TestAsyncReportsDeliveriesFailuresAndDepth(t *testing.T) {
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	f := &fakeSender{fn: func(_ context.Context, _ int, m Message) error {
		if m.Subject == msgN(9).Subject {
			return errors.New("boom")
		}
		started <- struct{}{}
		<-release
		return nil
	}}
	ev := &recordedEvents{}
	logger, _ := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, QueueSize: 2, Retries: 1, Backoff: time.Millisecond, Events: ev})
	if a.Len() != 0 || a.Cap() != 2 {
		t.Fatalf("Len %d Cap %d, want 0 and 2", a.Len(), a.Cap())
	}
	_ = a.Send(context.Background(), msgN(0))
	<-started // the worker holds message 0
	_ = a.Send(context.Background(), msgN(9))
	_ = a.Send(context.Background(), msgN(1))
	if a.Len() != 2 {
		t.Fatalf("Len %d with two messages waiting, want 2", a.Len())
	}
	if err := a.Send(context.Background(), msgN(2)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send on a full queue: %v", err)
	}
	close(release)
	closeAsync(t, a)
	if err := a.Send(context.Background(), msgN(3)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	delivered, failed := ev.get()
	if delivered != 2 || failed[FailDelivery] != 1 || failed[FailQueueFull] != 1 || failed[FailShutdown] != 1 || len(failed) != 3 {
		t.Fatalf("delivered %d, failed %v; want 2 delivered, one each of delivery, queue_full, shutdown", delivered, failed)
	}
	if a.Len() != 0 {
		t.Fatalf("Len %d after Close", a.Len())
	}
}

func TestAsyncReportsMessagesLostOnShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	f := &fakeSender{fn: func(ctx context.Context, _ int, _ Message) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	ev := &recordedEvents{}
	logger, _ := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, Retries: -1, SendTimeout: time.Minute, Events: ev})
	for i := range 3 {
		_ = a.Send(context.Background(), msgN(i))
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = a.Close(ctx)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, failed := ev.get()
		if failed[FailShutdown] == 3 && len(failed) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("failed %v; want the in-flight and both queued messages as shutdown", failed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
