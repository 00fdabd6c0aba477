package stream

import (
	"context"
	"strconv"
	"time"

	"github.com/centrifugal/centrifuge"
)

// publishBatch is how many outbox entries one round reads.
const publishBatch = 256

// idempotentFor is how long the broker remembers an idempotency key: a
// publisher that restarts within it after publishing but before
// acknowledging publishes nothing twice.
const idempotentFor = 10 * time.Minute

// publishLoop drains the outbox in ID order (commit order) for as long as
// ctx lives: each entry is published to its channel's history with the
// entry's ID as idempotency key, then the entries published are
// acknowledged. A failed publish stops the round; the next round starts
// again from that entry, so nothing is skipped and order is kept.
func (s *Server) publishLoop(ctx context.Context) {
	after := int64(-1) // unknown until read
	t := time.NewTicker(s.o.PublishEvery)
	defer t.Stop()
	for {
		after = s.drain(ctx, after)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.o.Outbox.OutboxWritten():
		}
	}
}

// drain publishes what follows after (-1: the acknowledged ID) and
// returns the last ID published.
func (s *Server) drain(ctx context.Context, after int64) int64 {
	if after < 0 {
		acked, err := s.o.Outbox.OutboxAcked(ctx)
		if err != nil {
			return -1
		}
		after = acked
	}
	for ctx.Err() == nil {
		entries, err := s.o.Outbox.OutboxAfter(ctx, after, publishBatch)
		if err != nil || len(entries) == 0 {
			return after
		}
		last := after
		for _, e := range entries {
			if !s.publishOne(e.ID, func() (string, []byte, error) { return publication(e) }) {
				break
			}
			last = e.ID
		}
		if last == after {
			return after
		}
		if err := s.o.Outbox.AckOutbox(ctx, last); err != nil {
			// Published but not acknowledged: the next round reads them
			// again and the idempotency keys stop a second delivery.
			s.o.Log.Warn("stream: outbox acknowledgement failed", "err", err)
			return -1
		}
		after = last
	}
	return after
}

func (s *Server) publishOne(id int64, pub func() (string, []byte, error)) bool {
	channel, data, err := pub()
	if err == nil {
		_, err = s.node.Publish(channel, data,
			centrifuge.WithHistory(s.o.HistorySize, s.o.HistoryTTL),
			centrifuge.WithIdempotencyKey("outbox-"+strconv.FormatInt(id, 10)),
			centrifuge.WithIdempotentResultTTL(idempotentFor))
	}
	if err != nil {
		if s.failures.Add(1) == 1 || s.failures.Load()%100 == 0 {
			s.o.Log.Warn("stream: publish failed; retrying", "outbox_id", id, "err", err)
		}
		return false
	}
	s.published.Add(1)
	return true
}
