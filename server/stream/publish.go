package stream

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge"

	"github.com/vero-oms/omsd/store"
)

// publishBatch is the most outbox entries one read asks for.
const publishBatch = 256

// idempotentFor is how long the Redis broker remembers an idempotency
// key: a publisher that takes over within it, after a crash between
// publishing and acknowledging, delivers nothing twice. It must outlast a
// restart (the venue lease, 15 s by default, and start-up); it also costs
// one small Redis key per published entry for that long. The memory broker
// needs no key: its history dies with the process, outbox and all.
const idempotentFor = 3 * time.Minute

// publishLoop drains the outbox in ID order (commit order) for as long as
// ctx lives. The reader (drain) hands each entry to its channel's lane and
// reads on. A channel's lane runs while it has entries and publishes them
// one at a time, in ID order, to the channel's history with the entry's ID
// as idempotency key, trying a failed one again until it goes through: so
// nothing is skipped and each channel keeps its order, while channels do
// not wait for each other (the broker's client pipelines their round
// trips) and a commit's entries do not wait for a batch before them on
// other channels. ackLoop acknowledges what is published, off that path.
func (s *Server) publishLoop(ctx context.Context) {
	p := &publisher{queues: map[string]*channelQueue{}, room: make(chan struct{}, inFlight),
		mark: watermark{done: map[int64]bool{}}}
	defer p.running.Wait()
	s.done.Add(1)
	go func() { defer s.done.Done(); s.ackLoop(ctx, &p.mark) }()
	after := int64(-1) // unknown until read
	t := time.NewTicker(s.o.PublishEvery)
	defer t.Stop()
	for {
		after = s.drain(ctx, p, after)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.o.Outbox.OutboxWritten():
		}
	}
}

// inFlight bounds the entries handed over and not yet published: a broker
// that fails or stalls holds the reader back, not memory.
const inFlight = 1024

// publisher is the state publishLoop shares with its channels' lanes.
type publisher struct {
	mu      sync.Mutex
	queues  map[string]*channelQueue // a channel with entries to publish: its lane runs
	running sync.WaitGroup           // the lanes
	room    chan struct{}            // a token per entry in flight
	mark    watermark
}

// channelQueue is what one channel's lane has still to publish, in order.
type channelQueue struct{ pubs []channelPub }

// channelPub is one entry on its way to its channel.
type channelPub struct {
	id      int64
	channel string
	data    []byte
	err     error // the entry could not be made a publication
}

// hand queues e on its channel's lane, starting the lane if it is not
// running; false when ctx ended first. The memory broker has no round trip
// to overlap: its entries are published at once, in order, by the reader.
func (s *Server) hand(ctx context.Context, p *publisher, e channelPub) bool {
	if s.o.Redis == nil {
		p.mark.handed(e.id)
		if !s.publishUntilDone(ctx, e) {
			return false
		}
		p.mark.published(e.id)
		return true
	}
	select {
	case p.room <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	p.mark.handed(e.id)
	p.mu.Lock()
	q, running := p.queues[e.channel]
	if !running {
		q = &channelQueue{}
		p.queues[e.channel] = q
	}
	q.pubs = append(q.pubs, e)
	p.mu.Unlock()
	if !running {
		p.running.Add(1)
		go func() { defer p.running.Done(); s.runLane(ctx, p, e.channel, q) }()
	}
	return true
}

// drain hands what follows after (-1: the acknowledged ID) to the lanes
// and returns the last ID handed over. Each read asks for twice what the
// last one found (publishBatch at most): a read costs a field per entry
// asked for, and a short read means the outbox is drained.
func (s *Server) drain(ctx context.Context, p *publisher, after int64) int64 {
	if after < 0 {
		acked, err := s.o.Outbox.OutboxAcked(ctx)
		if err != nil {
			return -1
		}
		p.mark.start(acked)
		after = acked
	}
	limit := minRead
	for ctx.Err() == nil {
		entries, err := s.o.Outbox.OutboxAfter(ctx, after, limit)
		if err != nil || len(entries) == 0 {
			return after
		}
		// The observer first: it does not wait for the channels (FIX
		// sessions get their reports a broker round trip sooner).
		if !s.observe(ctx, entries) {
			return after // not observed: the next round again
		}
		for _, e := range entries {
			ch, data, err := publication(*e)
			if !s.hand(ctx, p, channelPub{e.ID, ch, data, err}) {
				return after
			}
			after = e.ID
		}
		if len(entries) < limit {
			return after
		}
		limit = min(2*limit, publishBatch)
	}
	return after
}

// minRead is what a drain's first read asks for: more than a typical
// commit writes (an order, its cash and holding).
const minRead = 16

// runLane publishes one channel's entries in order until its queue is
// empty (or ctx ends); a failed publication is tried again, a little
// later each time, before the next.
func (s *Server) runLane(ctx context.Context, p *publisher, channel string, q *channelQueue) {
	for {
		p.mu.Lock()
		if len(q.pubs) == 0 {
			delete(p.queues, channel)
			p.mu.Unlock()
			return
		}
		e := q.pubs[0]
		q.pubs = q.pubs[1:]
		p.mu.Unlock()
		if !s.publishUntilDone(ctx, e) {
			return
		}
		<-p.room
		p.mark.published(e.id)
	}
}

// publishUntilDone publishes e, trying again a little later each time
// until it goes through; false when ctx ended first.
func (s *Server) publishUntilDone(ctx context.Context, e channelPub) bool {
	for wait := 10 * time.Millisecond; !s.publishOne(e.id, e.channel, e.data, e.err); wait = min(2*wait, time.Second) {
		if sleep(ctx, wait) != nil {
			return false
		}
	}
	return true
}

// sleep waits d or until ctx ends (its error then).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// watermark is the highest ID up to which every entry handed to the lanes
// is published: what may be acknowledged.
type watermark struct {
	mu    sync.Mutex
	mark  int64
	queue []int64 // handed over, in order, above the mark
	head  int
	done  map[int64]bool
}

func (w *watermark) start(acked int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == w.head { // nothing in flight
		w.mark = max(w.mark, acked)
	}
}

func (w *watermark) handed(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(w.queue, id)
}

// get returns the mark.
func (w *watermark) get() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mark
}

// published records id as published.
func (w *watermark) published(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done[id] = true
	for w.head < len(w.queue) && w.done[w.queue[w.head]] {
		w.mark = w.queue[w.head]
		delete(w.done, w.mark)
		w.head++
	}
	if w.head > 1024 && w.head*2 > len(w.queue) {
		w.queue = append(w.queue[:0], w.queue[w.head:]...)
		w.head = 0
	}
}

// ackEvery is how often ackLoop acknowledges: one store commit for all
// that was published meanwhile (thousands of entries a second under load).
const ackEvery = 100 * time.Millisecond

// ackLoop acknowledges what the lanes published (the watermark), every
// ackEvery. An acknowledgement that lags (or fails, and is tried again at
// the next tick) costs nothing but store space: a publisher that reads
// the entries again after a restart publishes them with the same
// idempotency keys, and the broker drops them.
func (s *Server) ackLoop(ctx context.Context, mark *watermark) {
	t := time.NewTicker(ackEvery)
	defer t.Stop()
	var acked int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		id := mark.get()
		if id <= acked {
			continue
		}
		if err := s.o.Outbox.AckOutbox(ctx, id); err != nil {
			if ctx.Err() == nil {
				s.o.Log.Warn("stream: outbox acknowledgement failed; tried again", "err", err)
			}
			continue
		}
		acked = id
	}
}

// observe hands the entries to Options.Observe.
func (s *Server) observe(ctx context.Context, entries []*store.OutboxEntry) bool {
	if s.o.Observe == nil {
		return true
	}
	if err := s.o.Observe(ctx, entries); err != nil {
		s.o.Log.Warn("stream: an outbox observer failed; the entries come again", "err", err)
		return false
	}
	return true
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
