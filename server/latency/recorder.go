package latency

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Errors of the recorder.
var (
	// ErrOutOfOrder: the stage is not after the last one recorded (or is
	// not a stage at all).
	ErrOutOfOrder = errors.New("latency: stage out of order")
	// ErrEnded: the trace has already been ended.
	ErrEnded = errors.New("latency: trace already ended")
	// ErrUnknownRequest: no open trace has that request id.
	ErrUnknownRequest = errors.New("latency: no open trace for the request id")
)

// RecorderOptions tune a Recorder; zero fields take the defaults.
type RecorderOptions struct {
	// Clock stamps the stages (default NewMonotonicClock()).
	Clock Clock
	// MaxOpen bounds the traces findable by request id at once (default
	// 100 000). Beyond it Begin still returns a working Trace, but
	// Recorder.Mark cannot find it by id (Dropped counts those).
	MaxOpen int
	// MaxBodyBytes bounds the body kept per record (default 16 KiB); a
	// larger body is replaced by {"truncated":true,"size":N}.
	MaxBodyBytes int
}

const (
	defaultMaxOpen      = 100_000
	defaultMaxBodyBytes = 16 << 10
	numShards           = 32
)

// Recorder stamps the stages of trading messages and hands each finished
// trace to a Store. It is safe for concurrent use.
type Recorder struct {
	clock   Clock
	store   Store
	maxOpen int64
	maxBody int
	seed    maphash.Seed
	shards  [numShards]shard
	open    atomic.Int64
	dropped atomic.Int64
	failed  atomic.Int64
	refused atomic.Int64 // stamps refused (out of order, after the end)
}

type shard struct {
	mu sync.Mutex
	m  map[string]*Trace
}

// NewRecorder returns a Recorder that puts finished records into store.
func NewRecorder(store Store, opt RecorderOptions) *Recorder {
	r := &Recorder{clock: opt.Clock, store: store, maxOpen: int64(opt.MaxOpen), maxBody: opt.MaxBodyBytes, seed: maphash.MakeSeed()}
	if r.clock == nil {
		r.clock = NewMonotonicClock()
	}
	if r.maxOpen <= 0 {
		r.maxOpen = defaultMaxOpen
	}
	if r.maxBody <= 0 {
		r.maxBody = defaultMaxBodyBytes
	}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*Trace)
	}
	return r
}

// Clock is the recorder's clock.
func (r *Recorder) Clock() Clock { return r.clock }

// Trace is one message in flight. Its methods are safe for concurrent use,
// though a pipeline normally marks one stage after another.
type Trace struct {
	r     *Recorder
	mu    sync.Mutex
	rec   Record
	ended bool
	// indexed: the trace is in the recorder's by-id map.
	indexed bool
}

// Begin starts the trace of one message at GatewayReceived, stamped now.
// requestID is the Ack's request_id (the order's ClOrdID for a new order),
// messageType the FIX type (MsgNewOrder, …), body the request's JSON body
// (copied). A second Begin with a request id that is still open replaces
// the first in the by-id index (the first trace still works through its
// handle).
func (r *Recorder) Begin(requestID, messageType string, body []byte, meta Meta) *Trace {
	now := r.clock.NowNs()
	t := &Trace{r: r}
	t.rec.RequestID, t.rec.MessageType, t.rec.LatencyMeta = requestID, messageType, meta
	t.rec.Body = r.copyBody(body)
	t.rec.Stamp(GatewayReceived, now)
	if requestID != "" {
		if r.open.Add(1) > r.maxOpen {
			r.open.Add(-1)
			r.dropped.Add(1)
		} else {
			sh := r.shard(requestID)
			sh.mu.Lock()
			if old, ok := sh.m[requestID]; ok {
				old.mu.Lock()
				old.indexed = false
				old.mu.Unlock()
				r.open.Add(-1)
			}
			t.indexed = true
			sh.m[requestID] = t
			sh.mu.Unlock()
		}
	}
	return t
}

func (r *Recorder) copyBody(body []byte) []byte {
	if len(body) == 0 {
		return nil
	}
	if len(body) > r.maxBody {
		return []byte(`{"truncated":true,"size":` + itoa(len(body)) + `}`)
	}
	return append([]byte(nil), body...)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func (r *Recorder) shard(id string) *shard {
	return &r.shards[maphash.String(r.seed, id)%numShards]
}

// Lookup returns the open trace of a request id.
func (r *Recorder) Lookup(requestID string) (*Trace, bool) {
	sh := r.shard(requestID)
	sh.mu.Lock()
	t, ok := sh.m[requestID]
	sh.mu.Unlock()
	return t, ok
}

// Mark stamps a stage of the open trace of requestID now.
func (r *Recorder) Mark(requestID string, s Stage) error {
	t, ok := r.Lookup(requestID)
	if !ok {
		return ErrUnknownRequest
	}
	return t.Mark(s)
}

// Complete ends the open trace of requestID at MarketCompleted, status OK.
func (r *Recorder) Complete(requestID string) error {
	t, ok := r.Lookup(requestID)
	if !ok {
		return ErrUnknownRequest
	}
	return t.Complete()
}

// End ends the open trace of requestID at stage s with status.
func (r *Recorder) End(requestID string, s Stage, status string) error {
	t, ok := r.Lookup(requestID)
	if !ok {
		return ErrUnknownRequest
	}
	return t.End(s, status)
}

// Counters are the recorder's counters.
type Counters struct {
	Open    int64 // traces findable by request id now
	Dropped int64 // traces not indexed because MaxOpen was reached
	Failed  int64 // records the Store refused
	Refused int64 // stamps refused as out of order or after the end: a bug in the caller
}

// Counters returns the recorder's counters.
func (r *Recorder) Counters() Counters {
	return Counters{Open: r.open.Load(), Dropped: r.dropped.Load(), Failed: r.failed.Load(), Refused: r.refused.Load()}
}

// RequestID is the trace's request id.
func (t *Trace) RequestID() string { return t.rec.RequestID }

// Mark stamps stage s now. Stages must be marked in pipeline order; one
// may be skipped, none repeated. A stage before or equal to the last one
// is refused with ErrOutOfOrder and records nothing.
func (t *Trace) Mark(s Stage) error {
	now := t.r.clock.NowNs()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.markLocked(s, now)
}

func (t *Trace) markLocked(s Stage, now int64) error {
	if t.ended {
		t.r.refused.Add(1)
		return ErrEnded
	}
	if !s.Valid() || s <= t.rec.Last() {
		t.r.refused.Add(1)
		return ErrOutOfOrder
	}
	if last := t.rec.Stamps[t.rec.Last()]; now < last {
		now = last // a clock that steps back (tests) never makes a negative segment
	}
	t.rec.Stamp(s, now)
	return nil
}

// Complete stamps MarketCompleted now and ends the trace with StatusOK.
func (t *Trace) Complete() error { return t.End(MarketCompleted, StatusOK) }

// End stamps stage s now (it must be after the last recorded stage) with
// status (StatusOK when empty), ends the trace and puts its Record into
// the Store. A message rejected at pre-trade risk ends with
// End(RiskCompleted, StatusRejected).
func (t *Trace) End(s Stage, status string) error {
	now := t.r.clock.NowNs()
	t.mu.Lock()
	if err := t.markLocked(s, now); err != nil {
		t.mu.Unlock()
		return err
	}
	t.ended = true
	if status == "" {
		status = StatusOK
	}
	t.rec.Status = status
	t.rec.CreateTime = t.rec.Stamps[GatewayReceived]
	t.rec.CompleteTime = t.rec.Stamps[s]
	t.rec.LatencyNs = t.rec.CompleteTime - t.rec.CreateTime
	rec := t.rec
	indexed := t.indexed
	t.indexed = false
	t.mu.Unlock()

	if indexed {
		sh := t.r.shard(rec.RequestID)
		sh.mu.Lock()
		if sh.m[rec.RequestID] == t {
			delete(sh.m, rec.RequestID)
			t.r.open.Add(-1)
		}
		sh.mu.Unlock()
	}
	if err := t.r.store.Put(context.Background(), rec); err != nil {
		t.r.failed.Add(1)
		return err
	}
	return nil
}

// Abandon forgets the trace without recording it (a message that will
// never finish, e.g. the process gave up on it).
func (t *Trace) Abandon() {
	t.mu.Lock()
	t.ended = true
	indexed := t.indexed
	t.indexed = false
	t.mu.Unlock()
	if indexed {
		sh := t.r.shard(t.rec.RequestID)
		sh.mu.Lock()
		if sh.m[t.rec.RequestID] == t {
			delete(sh.m, t.rec.RequestID)
			t.r.open.Add(-1)
		}
		sh.mu.Unlock()
	}
}

// Sweep forgets, without recording them, the open traces that began more
// than maxAge ago (messages that will never finish), and returns how many.
// The service calls it now and then (e.g. once a minute) so that stuck
// traces do not hold MaxOpen slots.
func (r *Recorder) Sweep(maxAge int64) int {
	cutoff := r.clock.NowNs() - maxAge
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for id, t := range sh.m {
			if t.rec.Stamps[GatewayReceived] < cutoff { // set before the trace was published, never written again
				delete(sh.m, id)
				r.open.Add(-1)
				t.mu.Lock()
				t.indexed = false
				t.mu.Unlock()
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n
}
