package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrQueueFull is returned by (*Async).Send when the queue has no room. The
// message is dropped; the caller should log it and carry on.
var ErrQueueFull = errors.New("mail: send queue full")

// ErrClosed is returned by (*Async).Send after Close was called.
var ErrClosed = errors.New("mail: sender closed")

// AsyncOptions configures NewAsync. Zero values select the defaults.
type AsyncOptions struct {
	QueueSize   int           // default 256
	Workers     int           // default 2
	Retries     int           // retries after the first attempt; default 3, < 0 disables
	Backoff     time.Duration // wait before the first retry, doubled per retry; default 1s
	SendTimeout time.Duration // per attempt; default 30s
	Events      AsyncEvents   // optional: deliveries and failures, for metrics
}

func (o AsyncOptions) withDefaults() AsyncOptions {
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	switch {
	case o.Retries == 0:
		o.Retries = 3
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	return o
}

// Async queues messages in memory and delivers them with a fixed pool of
// workers, retrying failures with exponential backoff. Queued messages are
// lost if the process dies; Close drains the queue on shutdown.
type Async struct {
	next   Sender
	logger *slog.Logger
	opts   AsyncOptions
	events AsyncEvents

	mu     sync.RWMutex // guards closed and sending on queue
	closed bool
	queue  chan Message

	// ctx is cancelled when Close gives up: it aborts in-flight attempts and
	// backoff waits, and the remaining queue is discarded.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewAsync starts the workers. A nil logger means slog.Default().
func NewAsync(s Sender, logger *slog.Logger, opts AsyncOptions) *Async {
	if logger == nil {
		logger = slog.Default()
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	a := &Async{
		next:   s,
		logger: logger,
		opts:   opts,
		events: opts.Events,
		queue:  make(chan Message, opts.QueueSize),
		ctx:    ctx,
		cancel: cancel,
	}
	if a.events == nil {
		a.events = noAsyncEvents{}
	}
	a.wg.Add(opts.Workers)
	for range opts.Workers {
		go a.worker()
	}
	return a
}

// Send enqueues m and returns immediately: ErrQueueFull if the queue is
// full, ErrClosed after Close. ctx is not used for delivery (the request
// that triggered the mail is usually over by then).
func (a *Async) Send(_ context.Context, m Message) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		a.events.Failed(FailShutdown)
		return ErrClosed
	}
	select {
	case a.queue <- m:
		return nil
	default:
		a.events.Failed(FailQueueFull)
		return ErrQueueFull
	}
}

// Close stops accepting messages and waits until the queued and in-flight
// messages are delivered (or have failed all retries). If ctx ends first,
// in-flight attempts are cancelled, the rest of the queue is dropped (each
// dropped message is logged) and ctx.Err() is returned. Close is idempotent.
func (a *Async) Close(ctx context.Context) error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.mu.Unlock()

	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		a.cancel()
		return nil
	case <-ctx.Done():
		a.cancel()
		return fmt.Errorf("mail: closing async sender: %w", ctx.Err())
	}
}

func (a *Async) worker() {
	defer a.wg.Done()
	for m := range a.queue {
		if a.ctx.Err() != nil {
			a.logger.Warn("mail dropped on shutdown", "to", m.To, "subject", m.Subject)
			a.events.Failed(FailShutdown)
			continue
		}
		a.deliver(m)
	}
}

func (a *Async) deliver(m Message) {
	backoff := a.opts.Backoff
	attempts := 1 + a.opts.Retries
	for attempt := 1; ; attempt++ {
		err := a.attempt(m)
		if err == nil {
			a.events.Delivered()
			if attempt > 1 {
				a.logger.Info("mail delivered after retry", "to", m.To, "subject", m.Subject, "attempt", attempt)
			}
			return
		}
		// Errors from our senders never contain the body; log only
		// envelope data and the error.
		if attempt >= attempts || isPermanent(err) || a.ctx.Err() != nil {
			a.logger.Error("mail delivery failed", "to", m.To, "subject", m.Subject,
				"attempts", attempt, "permanent", isPermanent(err), "err", err)
			if a.ctx.Err() != nil {
				a.events.Failed(FailShutdown) // cut short by Close
			} else {
				a.events.Failed(FailDelivery)
			}
			return
		}
		a.logger.Warn("mail delivery failed, will retry", "to", m.To, "subject", m.Subject,
			"attempt", attempt, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-a.ctx.Done():
			t.Stop()
			a.logger.Error("mail delivery abandoned on shutdown", "to", m.To, "subject", m.Subject,
				"attempts", attempt, "err", err)
			a.events.Failed(FailShutdown)
			return
		}
		backoff *= 2
	}
}

// attempt runs one delivery with the per-attempt timeout; a panicking
// Sender is turned into an error so the worker survives.
func (a *Async) attempt(m Message) (err error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.SendTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mail: sender panicked: %v", r)
		}
	}()
	return a.next.Send(ctx, m)
}

// isPermanent reports errors that retrying cannot fix: malformed messages
// and errors with a Permanent() bool method returning true (5xx replies,
// see DeliveryError).
func isPermanent(err error) bool {
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
