package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/vero-oms/omsd/store"
)

// LatencyOptions tune a Latency store; zero fields take the defaults.
type LatencyOptions struct {
	// Clock drives retention (default NewMonotonicClock()); share the
	// Recorder's.
	Clock store.LatencyClock
	// Retention is how long a record is kept after it completed (default
	// 24 h).
	Retention time.Duration
	// MaxRecords bounds the records kept; the oldest go first (default
	// 100 000).
	MaxRecords int
}

// Latency is the in-memory latency store: a ring of at most MaxRecords records in
// arrival order, trimmed of those that completed more than Retention ago
// on every Put and query. Safe for concurrent use.
type Latency struct {
	clock     store.LatencyClock
	retention int64
	max       int

	mu   sync.Mutex            // every read trims first, so there are no read-only sections
	ring []store.LatencyRecord // grows up to max; ring[head] is the oldest
	head int
	n    int
	byID map[string]int // request id → absolute sequence of its newest record
	seq  int            // absolute sequence of ring[head]
}

// NewLatency returns an empty in-memory latency store.
func NewLatency(opt LatencyOptions) *Latency {
	m := &Latency{clock: opt.Clock, retention: int64(opt.Retention), max: opt.MaxRecords}
	if m.clock == nil {
		m.clock = store.NewMonotonicClock()
	}
	if m.retention <= 0 {
		m.retention = int64(store.LatencyDefaultRetention)
	}
	if m.max <= 0 {
		m.max = store.LatencyDefaultMaxRecords
	}
	m.byID = make(map[string]int)
	return m
}

var _ store.LatencyStore = (*Latency)(nil)

// Len is the number of records kept.
func (m *Latency) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trimLocked(m.clock.NowNs())
	return m.n
}

func (m *Latency) at(i int) *store.LatencyRecord { return &m.ring[(m.head+i)%len(m.ring)] }

// Put implements Store.
func (m *Latency) Put(_ context.Context, rec store.LatencyRecord) error {
	now := m.clock.NowNs()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trimLocked(now)
	if m.n == m.max {
		m.popLocked()
	}
	if m.n == len(m.ring) { // full below max: grow, oldest first
		grown := make([]store.LatencyRecord, min(m.max, max(1024, 2*len(m.ring))))
		for i := range m.n {
			grown[i] = *m.at(i)
		}
		m.ring, m.head = grown, 0
	}
	*m.at(m.n) = rec
	m.n++
	if rec.RequestID != "" {
		m.byID[rec.RequestID] = m.seq + m.n - 1
	}
	return nil
}

func (m *Latency) popLocked() {
	r := m.at(0)
	if s, ok := m.byID[r.RequestID]; ok && s == m.seq {
		delete(m.byID, r.RequestID)
	}
	*r = store.LatencyRecord{}
	m.head = (m.head + 1) % len(m.ring)
	m.n--
	m.seq++
	if m.n == 0 {
		m.head = 0
	}
}

// trimLocked drops the records that completed before now − retention.
// Records arrive in completion order up to the few µs between a trace's
// last stamp and its Put, so looking at the oldest is enough.
func (m *Latency) trimLocked(now int64) {
	cutoff := now - m.retention
	for m.n > 0 && m.at(0).CompleteTime < cutoff {
		m.popLocked()
	}
}

// ref names a kept record by its absolute sequence, with the time it
// sorts by.
type ref struct {
	t   int64
	seq int
}

// newest returns refs to the kept records matching keep, newest first by
// key(r) (ties: later arrival first). It holds the lock only to scan: the
// sort runs unlocked so that Put on the hot path waits for a linear scan
// at most, never for a sort.
func (m *Latency) newest(keep func(*store.LatencyRecord) bool, key func(*store.LatencyRecord) int64) []ref {
	m.lockTrimmed()
	var out []ref
	for i := range m.n {
		if r := m.at(i); keep(r) {
			out = append(out, ref{key(r), m.seq + i})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b ref) int {
		if c := cmp.Compare(b.t, a.t); c != 0 {
			return c
		}
		return b.seq - a.seq
	})
	return out
}

// copyPage copies the records of refs[offset:] while fn wants more
// (returns true); a record evicted since the scan is skipped.
func (m *Latency) copyPage(refs []ref, offset int, fn func(*store.LatencyRecord) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rf := range refs[min(offset, len(refs)):] {
		if rf.seq < m.seq {
			continue
		}
		if !fn(m.at(rf.seq - m.seq)) {
			return
		}
	}
}

func (m *Latency) lockTrimmed() {
	now := m.clock.NowNs()
	m.mu.Lock()
	m.trimLocked(now)
}

// Raw implements Store.
func (m *Latency) Raw(_ context.Context, q store.LatencyRawQuery) (store.LatencyRawPage, error) {
	q, err := q.Applied()
	if err != nil {
		return store.LatencyRawPage{}, err
	}
	refs := m.newest(func(r *store.LatencyRecord) bool {
		return (q.MessageType == "" || r.MessageType == q.MessageType) && q.Contains(q.TimeField.Of(r))
	}, q.TimeField.Of)
	out := store.LatencyRawPage{Query: q}
	m.copyPage(refs, q.Offset, func(r *store.LatencyRecord) bool {
		out.Records = append(out.Records, *r)
		return len(out.Records) < q.Limit
	})
	return out, nil
}

// Stages implements Store.
func (m *Latency) Stages(_ context.Context, q store.LatencyStagesQuery) (store.LatencyStagesPage, error) {
	q, err := q.Applied()
	if err != nil {
		return store.LatencyStagesPage{}, err
	}
	var refs []ref
	if q.RequestID != "" && !q.IsSet() {
		m.mu.Lock()
		m.trimLocked(m.clock.NowNs())
		if seq, ok := m.byID[q.RequestID]; ok {
			refs = []ref{{seq: seq}}
		}
		m.mu.Unlock()
	} else {
		refs = m.newest(func(r *store.LatencyRecord) bool {
			return (q.RequestID == "" || r.RequestID == q.RequestID) &&
				(q.MessageType == "" || r.MessageType == q.MessageType) && q.Contains(r.CreateTime)
		}, func(r *store.LatencyRecord) int64 { return r.CreateTime })
	}
	out := store.LatencyStagesPage{Query: q}
	skip := q.Offset
	var buf []store.LatencyEvent
	m.copyPage(refs, 0, func(r *store.LatencyRecord) bool {
		if q.MessageType != "" && r.MessageType != q.MessageType {
			return true
		}
		buf = r.AppendEvents(buf[:0])
		if skip >= len(buf) {
			skip -= len(buf)
			return true
		}
		evs := buf[skip:]
		skip = 0
		evs = evs[:min(len(evs), q.Limit-len(out.Events))]
		for i, e := range evs {
			out.Events = append(out.Events, e)
			if i > 0 {
				p := evs[i-1]
				out.Segments = append(out.Segments, store.LatencySegment{
					RequestID: r.RequestID, From: p.Stage, To: e.Stage, FromTime: p.StageTime, ToTime: e.StageTime,
					LatencyNs: e.StageTime - p.StageTime,
				})
			}
		}
		return len(out.Events) < q.Limit
	})
	return out, nil
}

// Metrics implements Store.
func (m *Latency) Metrics(_ context.Context, q store.LatencyMetricsQuery) (store.LatencyMetrics, error) {
	q, err := q.Applied()
	if err != nil {
		return store.LatencyMetrics{}, err
	}
	type sample struct{ t, lat int64 }
	m.lockTrimmed()
	var samples []sample
	for i := range m.n {
		r := m.at(i)
		if t := q.TimeField.Of(r); (q.MessageType == "" || r.MessageType == q.MessageType) && q.Contains(t) {
			samples = append(samples, sample{t, r.LatencyNs})
		}
	}
	m.mu.Unlock()

	slices.SortFunc(samples, func(a, b sample) int { return cmp.Compare(a.t, b.t) })
	ts, lats := make([]int64, len(samples)), make([]int64, len(samples))
	for i, s := range samples {
		ts[i], lats[i] = s.t, s.lat
	}
	return store.LatencyMetricsOf(q, ts, lats), nil
}
