package stream

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge"

	"github.com/vero-oms/omsd/store"
)

// publishBatch is how many outbox entries one round reads.
const publishBatch = 256

// idempotentFor is how long the Redis broker remembers an idempotency
// key: a publisher that takes over within it, after a crash between
// publishing and acknowledging, delivers nothing twice. It must outlast a
// restart (the venue lease, 15 s by default, and start-up); it also costs
// one small Redis key per published entry for that long. The memory broker
// needs no key: its history dies with the process, outbox and all.
const idempotentFor = 3 * time.Minute

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
		// The observer first: it does not wait for the channels (FIX
		// sessions get their reports a broker round trip sooner), and what
		// it is handed again after a failed publish it takes once.
		if !s.observe(ctx, entries) {
			return after // not observed: the next round again
		}
		last := s.publishAll(after, entries)
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

// observe hands the entries to Options.Observe.
func (s *Server) observe(ctx context.Context, entries []store.OutboxEntry) bool {
	if s.o.Observe == nil {
		return true
	}
	if err := s.o.Observe(ctx, entries); err != nil {
		s.o.Log.Warn("stream: an outbox observer failed; the entries come again", "err", err)
		return false
	}
	return true
}

// publishWorkers bounds the channels published to at once.
const publishWorkers = 16

// publishAll publishes a batch: the channels in parallel (a broker round
// trip each), each channel's entries in order, stopping a channel at its
// first failure. It returns the highest ID up to which every entry was
// published (after when the first failed); entries published beyond it
// are sent again by the next round and suppressed by their keys.
func (s *Server) publishAll(after int64, entries []store.OutboxEntry) int64 {
	type pub struct {
		channel string
		data    []byte
		err     error
	}
	pubs := make([]pub, len(entries))
	byChannel := map[string][]int{}
	var order []string
	for i, e := range entries {
		ch, data, err := publication(e)
		pubs[i] = pub{ch, data, err}
		if _, ok := byChannel[ch]; !ok {
			order = append(order, ch)
		}
		byChannel[ch] = append(byChannel[ch], i)
	}
	done := make([]bool, len(entries))
	sem := make(chan struct{}, publishWorkers)
	var wg sync.WaitGroup
	for _, ch := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(idxs []int) {
			defer func() { <-sem; wg.Done() }()
			for _, i := range idxs {
				p := pubs[i]
				if !s.publishOne(entries[i].ID, p.channel, p.data, p.err) {
					return
				}
				done[i] = true
			}
		}(byChannel[ch])
	}
	wg.Wait()
	last := after
	for i, e := range entries {
		if !done[i] {
			break
		}
		last = e.ID
	}
	return last
}

func (s *Server) publishOne(id int64, channel string, data []byte, err error) bool {
	var res centrifuge.PublishResult
	if err == nil {
		opts := []centrifuge.PublishOption{centrifuge.WithHistory(s.o.HistorySize, s.o.HistoryTTL)}
		if s.o.Redis != nil {
			opts = append(opts, centrifuge.WithIdempotencyKey("outbox-"+strconv.FormatInt(id, 10)),
				centrifuge.WithIdempotentResultTTL(idempotentFor))
		}
		res, err = s.node.Publish(channel, data, opts...)
	}
	if err != nil {
		if s.failures.Add(1) == 1 || s.failures.Load()%100 == 0 {
			s.o.Log.Warn("stream: publish failed; retrying", "outbox_id", id, "err", err)
		}
		return false
	}
	if res.Suppressed {
		// Published before, not acknowledged (a crash in between): the
		// broker remembered the key and delivered nothing again.
		s.suppressed.Add(1)
		return true
	}
	s.published.Add(1)
	return true
}
