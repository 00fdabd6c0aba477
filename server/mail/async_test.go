package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSender records deliveries; fn, if set, decides each attempt's result.
type fakeSender struct {
	mu        sync.Mutex
	attempts  int
	delivered []Message
	fn        func(ctx context.Context, attempt int, m Message) error
}

func (f *fakeSender) Send(ctx context.Context, m Message) error {
	f.mu.Lock()
	f.attempts++
	n := f.attempts
	fn := f.fn
	f.mu.Unlock()
	if fn != nil {
		if err := fn(ctx, n, m); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.delivered = append(f.delivered, m)
	f.mu.Unlock()
	return nil
}

func (f *fakeSender) snapshot() (int, []Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts, append([]Message(nil), f.delivered...)
}

func testLogger() (*slog.Logger, *syncWriter) {
	w := &syncWriter{w: new(bytes.Buffer)}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), w
}

func closeAsync(t *testing.T, a *Async) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func msgN(i int) Message {
	return Message{To: "u@example.com", Subject: "s" + string(rune('a'+i)), Text: "body-secret-" + string(rune('a'+i))}
}

func TestAsyncDelivers(t *testing.T) {
	f := &fakeSender{}
	logger, _ := testLogger()
	a := NewAsync(f, logger, AsyncOptions{})
	for i := range 5 {
		if err := a.Send(context.Background(), msgN(i)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	closeAsync(t, a)
	attempts, got := f.snapshot()
	if attempts != 5 || len(got) != 5 {
		t.Fatalf("attempts=%d delivered=%d, want 5/5", attempts, len(got))
	}
	subjects := map[string]bool{}
	for _, m := range got {
		subjects[m.Subject] = true
	}
	if len(subjects) != 5 {
		t.Errorf("delivered subjects %v", subjects)
	}
	if err := a.Send(context.Background(), msgN(9)); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestAsyncRetriesThenSucceeds(t *testing.T) {
	var gaps []time.Duration
	last := time.Now()
	f := &fakeSender{fn: func(ctx context.Context, n int, _ Message) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("attempt ctx has no deadline")
		}
		now := time.Now()
		gaps = append(gaps, now.Sub(last))
		last = now
		if n <= 2 {
			return errors.New("421 try later")
		}
		return nil
	}}
	logger, logs := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, Backoff: 20 * time.Millisecond, Retries: 3})
	if err := a.Send(context.Background(), msgN(0)); err != nil {
		t.Fatal(err)
	}
	closeAsync(t, a)
	attempts, got := f.snapshot()
	if attempts != 3 || len(got) != 1 {
		t.Fatalf("attempts=%d delivered=%d, want 3/1", attempts, len(got))
	}
	// Backoff doubles: >= 20ms before the 2nd attempt, >= 40ms before the 3rd.
	if gaps[1] < 20*time.Millisecond || gaps[2] < 40*time.Millisecond {
		t.Errorf("retry gaps %v, want >=20ms then >=40ms", gaps[1:])
	}
	out := logs.String()
	if strings.Count(out, "will retry") != 2 || !strings.Contains(out, "delivered after retry") {
		t.Errorf("unexpected logs:\n%s", out)
	}
	if strings.Contains(out, "body-secret") {
		t.Errorf("log contains body:\n%s", out)
	}
}

func TestAsyncGivesUp(t *testing.T) {
	f := &fakeSender{fn: func(context.Context, int, Message) error { return errors.New("boom") }}
	logger, logs := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, Retries: 2, Backoff: time.Millisecond})
	if err := a.Send(context.Background(), msgN(0)); err != nil {
		t.Fatal(err)
	}
	closeAsync(t, a)
	if attempts, got := f.snapshot(); attempts != 3 || len(got) != 0 {
		t.Fatalf("attempts=%d delivered=%d, want 3/0", attempts, len(got))
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "mail delivery failed") || !strings.Contains(out, "attempts=3") {
		t.Errorf("missing failure log:\n%s", out)
	}
	if strings.Contains(out, "body-secret") {
		t.Errorf("log contains body:\n%s", out)
	}
}

func TestAsyncPermanentErrorNotRetried(t *testing.T) {
	f := &fakeSender{fn: func(context.Context, int, Message) error {
		return &DeliveryError{Server: "x:25", Code: 550, msg: "550 no such user"}
	}}
	logger, _ := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, Backoff: time.Millisecond})
	_ = a.Send(context.Background(), msgN(0))
	_ = a.Send(context.Background(), msgN(1))
	closeAsync(t, a)
	if attempts, _ := f.snapshot(); attempts != 2 {
		t.Fatalf("attempts = %d, want 2 (one per message, no retries)", attempts)
	}

	// A real invalid message through a real sender is not retried either.
	o, _ := newTestOutbox(t)
	calls := 0
	wrapped := &fakeSender{fn: func(ctx context.Context, _ int, m Message) error {
		calls++
		return o.Send(ctx, m)
	}}
	a = NewAsync(wrapped, logger, AsyncOptions{Workers: 1, Backoff: time.Millisecond})
	_ = a.Send(context.Background(), Message{To: "bad", Text: "x"})
	closeAsync(t, a)
	if calls != 1 {
		t.Errorf("invalid message attempted %d times", calls)
	}
}

func TestAsyncQueueFull(t *testing.T) {
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	f := &fakeSender{fn: func(context.Context, int, Message) error {
		started <- struct{}{}
		<-release
		return nil
	}}
	logger, _ := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, QueueSize: 1})

	if err := a.Send(context.Background(), msgN(0)); err != nil {
		t.Fatal(err)
	}
	<-started // the worker holds message 0; the queue is empty again
	if err := a.Send(context.Background(), msgN(1)); err != nil {
		t.Fatalf("second Send: %v", err)
	}
	begin := time.Now()
	if err := a.Send(context.Background(), msgN(2)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third Send = %v, want ErrQueueFull", err)
	}
	if d := time.Since(begin); d > 100*time.Millisecond {
		t.Errorf("Send blocked for %v", d)
	}
	close(release)
	closeAsync(t, a)
	_, got := f.snapshot()
	if len(got) != 2 || got[0].Subject != msgN(0).Subject || got[1].Subject != msgN(1).Subject {
		t.Errorf("delivered %v, want messages 0 and 1", got)
	}
}

func TestAsyncCloseDrains(t *testing.T) {
	f := &fakeSender{fn: func(context.Context, int, Message) error {
		time.Sleep(10 * time.Millisecond)
		return nil
	}}
	logger, _ := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, QueueSize: 20})
	for i := range 10 {
		if err := a.Send(context.Background(), msgN(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, got := f.snapshot(); len(got) == 10 {
		t.Fatal("everything delivered before Close; test proves nothing")
	}
	closeAsync(t, a)
	if _, got := f.snapshot(); len(got) != 10 {
		t.Fatalf("delivered %d after Close, want 10", len(got))
	}
}

func TestAsyncCloseDeadline(t *testing.T) {
	inFlightCancelled := make(chan struct{})
	started := make(chan struct{}, 1)
	f := &fakeSender{fn: func(ctx context.Context, _ int, _ Message) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		close(inFlightCancelled)
		return ctx.Err()
	}}
	logger, logs := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, Retries: -1, SendTimeout: time.Minute})
	for i := range 3 {
		if err := a.Send(context.Background(), msgN(i)); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := a.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case <-inFlightCancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("in-flight send not cancelled after Close deadline")
	}
	// The two queued messages are dropped, not attempted, and logged.
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(logs.String(), "mail dropped on shutdown") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "mail dropped on shutdown"); n != 2 {
		t.Errorf("dropped logged %d times, want 2:\n%s", n, logs)
	}
	if attempts, _ := f.snapshot(); attempts != 1 {
		t.Errorf("attempts = %d, want 1", attempts)
	}
}

func TestAsyncSurvivesPanic(t *testing.T) {
	f := &fakeSender{fn: func(_ context.Context, n int, _ Message) error {
		if n == 1 {
			panic("kaboom")
		}
		return nil
	}}
	logger, logs := testLogger()
	a := NewAsync(f, logger, AsyncOptions{Workers: 1, Backoff: time.Millisecond})
	_ = a.Send(context.Background(), msgN(0))
	closeAsync(t, a)
	if _, got := f.snapshot(); len(got) != 1 {
		t.Fatalf("delivered %d, want 1 after retry", len(got))
	}
	if !strings.Contains(logs.String(), "kaboom") {
		t.Errorf("panic not logged:\n%s", logs)
	}
}

func TestAsyncOptionsDefaults(t *testing.T) {
	got := AsyncOptions{}.withDefaults()
	want := AsyncOptions{QueueSize: 256, Workers: 2, Retries: 3, Backoff: time.Second, SendTimeout: 30 * time.Second}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if r := (AsyncOptions{Retries: -1}).withDefaults().Retries; r != 0 {
		t.Errorf("Retries -1 -> %d, want 0", r)
	}
}

func TestAsyncOverSMTP(t *testing.T) {
	port, be := startServer(t, serverOpts{})
	s := newTestSMTP(t, "smtp://127.0.0.1:"+port+"?starttls=none")
	logger, _ := testLogger()
	var sender Sender = NewAsync(s, logger, AsyncOptions{})
	if err := sender.Send(context.Background(), RecoveryCode("zed@example.com", "505050", time.Minute)); err != nil {
		t.Fatal(err)
	}
	closeAsync(t, sender.(*Async))
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	if c, ok := ExtractCode(msgs[0].Data); !ok || c != "505050" {
		t.Errorf("ExtractCode = %q, %v", c, ok)
	}
}
