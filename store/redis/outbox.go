package redis

import (
	"context"
	"sync"
	"sync/atomic"
)

// outboxWatch wakes this process's outbox publisher when another process
// commits outbox entries (a back-office approval on an OMS_VENUE=off
// instance): that commit's script PUBLISHes the last entry's ID on
// keys.outboxWritten (backoffice.Commit.Notify; a process that publishes
// its own outbox sends nothing), and this process, subscribed since its
// publisher first waited on OutboxWritten, signals it. It is only a
// wake-up, never the truth: a notification lost while the subscription
// reconnects is made up by the publisher's poll, and every
// (re)subscription signals once, for what was committed before it.
type outboxWatch struct {
	started atomic.Bool
	mu      sync.Mutex
	closed  bool
	stop    context.CancelFunc
	done    chan struct{}
}

// OutboxWritten is signalled by this process's commits and, from the first
// call on, by the notifications of other processes' commits.
func (s *Store) OutboxWritten() <-chan struct{} {
	if !s.watch.started.Load() {
		s.watch.start(s)
	}
	return s.Records.OutboxWritten()
}

func (w *outboxWatch) start(s *Store) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.started.Load() {
		return
	}
	w.started.Store(true)
	ctx, stop := context.WithCancel(context.Background())
	w.stop, w.done = stop, make(chan struct{})
	go func() {
		defer close(w.done)
		// Subscribed here, not in start: a Redis that is away must not
		// hold up the publisher's first wait.
		ps := s.c.Subscribe(ctx, s.k.outboxWritten())
		defer func() { _ = ps.Close() }()
		events := ps.ChannelWithSubscriptions() // messages and (re)subscriptions
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-events:
				if !ok {
					return
				}
				s.OutboxWrittenElsewhere()
			}
		}
	}()
}

// close ends the subscription, if there is one, and waits for it.
func (w *outboxWatch) close() {
	w.mu.Lock()
	w.closed = true
	stop, done := w.stop, w.done
	w.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
