package latency

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
)

// Store keeps finished records and answers the three diagnostics. Memory
// is the in-process implementation; a Redis one (streams or sorted sets
// with a TTL/trim) can follow with the same contract. Put is on the hot
// path: an implementation that talks to a network should buffer.
type Store interface {
	Put(ctx context.Context, rec Record) error
	Raw(ctx context.Context, q RawQuery) (RawPage, error)
	Stages(ctx context.Context, q StagesQuery) (StagesPage, error)
	Metrics(ctx context.Context, q MetricsQuery) (Metrics, error)
}

// TimeField selects the timestamp a time window applies to.
type TimeField string

// The time fields of the contract.
const (
	CompleteTime TimeField = "complete_time"
	CreateTime   TimeField = "create_time"
)

func (f TimeField) of(r *Record) int64 {
	if f == CreateTime {
		return r.CreateTime
	}
	return r.CompleteTime
}

// Window is a half-open time range [From, To) in epoch ns; a nil bound is
// open.
type Window struct {
	From, To *int64
}

func (w Window) contains(t int64) bool {
	return (w.From == nil || t >= *w.From) && (w.To == nil || t < *w.To)
}

func (w Window) set() bool { return w.From != nil || w.To != nil }

func (w Window) check() error {
	if w.From != nil && w.To != nil && *w.To < *w.From {
		return apperr.New(apperr.InvalidRequest, "to_ns must not be before from_ns")
	}
	return nil
}

// Paging defaults.
const (
	DefaultLimit    = 100
	MaxLimit        = 1000
	DefaultBucketNs = int64(time.Second)
)

func page(limit, offset int) (int, int, error) {
	if limit < 0 || offset < 0 {
		return 0, 0, apperr.New(apperr.InvalidRequest, "limit and offset must not be negative")
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	return min(limit, MaxLimit), offset, nil
}

// RawQuery filters GET /util/latency/raw. TimeField defaults to
// CompleteTime; Limit 0 means DefaultLimit and is capped at MaxLimit.
type RawQuery struct {
	Window
	MessageType string // "" = every type
	TimeField   TimeField
	Limit       int
	Offset      int
}

// RawPage is one page of records, newest first by the time field.
type RawPage struct {
	Query   RawQuery // as applied (defaults filled, limit capped)
	Records []Record
}

// StagesQuery filters GET /util/latency/stages. With a RequestID and no
// time bound the records of that request are returned; otherwise the
// window applies (to the records' create time) and a RequestID, if any,
// narrows it. Paging counts events.
type StagesQuery struct {
	RequestID string
	Window
	MessageType string
	Limit       int
	Offset      int
}

// StagesPage is one page of stage events (newest record first, each
// record's events in stage order) and the segments between consecutive
// events of one record that are both in the page.
type StagesPage struct {
	Query    StagesQuery // as applied
	Events   []Event
	Segments []Segment
}

// MetricsQuery filters GET /util/latency/metrics. TimeField defaults to
// CompleteTime, BucketNs to DefaultBucketNs.
type MetricsQuery struct {
	Window
	MessageType string
	TimeField   TimeField
	BucketNs    int64
}

// Stats summarise latencies: percentiles are nearest-rank over the exact
// samples (the smallest sample with at least p % of the samples ≤ it).
// With Count 0 the other fields are zero.
type Stats struct {
	Count         int64
	Min, Max      int64
	Avg           float64
	P50, P95, P99 float64
}

// Bucket is the stats of the records whose time falls in [Start, End).
type Bucket struct {
	Start, End int64
	Stats
}

// Metrics answers GET /util/latency/metrics. From and To are the window
// actually used: the query's bounds, or the earliest and just past the
// latest matching time when a bound was open (0 when nothing matched).
// Buckets start at From (or at a multiple of BucketNs since the epoch when
// From was open); only non-empty buckets are listed, oldest first, so
// their number never exceeds the number of records.
type Metrics struct {
	Query    MetricsQuery // as applied
	From, To int64
	Summary  Stats
	Buckets  []Bucket
}

// MemoryOptions tune a Memory store; zero fields take the defaults.
type MemoryOptions struct {
	// Clock drives retention (default NewMonotonicClock()); share the
	// Recorder's.
	Clock Clock
	// Retention is how long a record is kept after it completed (default
	// 24 h).
	Retention time.Duration
	// MaxRecords bounds the records kept; the oldest go first (default
	// 100 000).
	MaxRecords int
}

// Defaults of MemoryOptions.
const (
	DefaultRetention  = 24 * time.Hour
	DefaultMaxRecords = 100_000
)

// Memory is the in-memory Store: a ring of at most MaxRecords records in
// arrival order, trimmed of those that completed more than Retention ago
// on every Put and query. Safe for concurrent use.
type Memory struct {
	clock     Clock
	retention int64
	max       int

	mu   sync.Mutex // every read trims first, so there are no read-only sections
	ring []Record   // grows up to max; ring[head] is the oldest
	head int
	n    int
	byID map[string]int // request id → absolute sequence of its newest record
	seq  int            // absolute sequence of ring[head]
}

// NewMemory returns an empty Memory store.
func NewMemory(opt MemoryOptions) *Memory {
	m := &Memory{clock: opt.Clock, retention: int64(opt.Retention), max: opt.MaxRecords}
	if m.clock == nil {
		m.clock = NewMonotonicClock()
	}
	if m.retention <= 0 {
		m.retention = int64(DefaultRetention)
	}
	if m.max <= 0 {
		m.max = DefaultMaxRecords
	}
	m.byID = make(map[string]int)
	return m
}

var _ Store = (*Memory)(nil)

// Len is the number of records kept.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trimLocked(m.clock.NowNs())
	return m.n
}

func (m *Memory) at(i int) *Record { return &m.ring[(m.head+i)%len(m.ring)] }

// Put implements Store.
func (m *Memory) Put(_ context.Context, rec Record) error {
	now := m.clock.NowNs()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trimLocked(now)
	if m.n == m.max {
		m.popLocked()
	}
	if m.n == len(m.ring) { // full below max: grow, oldest first
		grown := make([]Record, min(m.max, max(1024, 2*len(m.ring))))
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

func (m *Memory) popLocked() {
	r := m.at(0)
	if s, ok := m.byID[r.RequestID]; ok && s == m.seq {
		delete(m.byID, r.RequestID)
	}
	*r = Record{}
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
func (m *Memory) trimLocked(now int64) {
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
func (m *Memory) newest(keep func(*Record) bool, key func(*Record) int64) []ref {
	m.lockTrimmed()
	var out []ref
	for i := range m.n {
		if r := m.at(i); keep(r) {
			out = append(out, ref{key(r), m.seq + i})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b ref) int {
		if c := cmp64(b.t, a.t); c != 0 {
			return c
		}
		return b.seq - a.seq
	})
	return out
}

// copyPage copies the records of refs[offset:] while fn wants more
// (returns true); a record evicted since the scan is skipped.
func (m *Memory) copyPage(refs []ref, offset int, fn func(*Record) bool) {
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

func (m *Memory) lockTrimmed() {
	now := m.clock.NowNs()
	m.mu.Lock()
	m.trimLocked(now)
}

// Raw implements Store.
func (m *Memory) Raw(_ context.Context, q RawQuery) (RawPage, error) {
	if err := q.check(); err != nil {
		return RawPage{}, err
	}
	var err error
	if q.Limit, q.Offset, err = page(q.Limit, q.Offset); err != nil {
		return RawPage{}, err
	}
	if q.TimeField, err = timeField(q.TimeField); err != nil {
		return RawPage{}, err
	}
	refs := m.newest(func(r *Record) bool {
		return (q.MessageType == "" || r.MessageType == q.MessageType) && q.contains(q.TimeField.of(r))
	}, q.TimeField.of)
	out := RawPage{Query: q}
	m.copyPage(refs, q.Offset, func(r *Record) bool {
		out.Records = append(out.Records, *r)
		return len(out.Records) < q.Limit
	})
	return out, nil
}

func timeField(f TimeField) (TimeField, error) {
	switch f {
	case "":
		return CompleteTime, nil
	case CompleteTime, CreateTime:
		return f, nil
	}
	return "", apperr.New(apperr.InvalidRequest, "time_field must be complete_time or create_time")
}

// Stages implements Store.
func (m *Memory) Stages(_ context.Context, q StagesQuery) (StagesPage, error) {
	if err := q.check(); err != nil {
		return StagesPage{}, err
	}
	var err error
	if q.Limit, q.Offset, err = page(q.Limit, q.Offset); err != nil {
		return StagesPage{}, err
	}
	var refs []ref
	if q.RequestID != "" && !q.set() {
		m.mu.Lock()
		m.trimLocked(m.clock.NowNs())
		if seq, ok := m.byID[q.RequestID]; ok {
			refs = []ref{{seq: seq}}
		}
		m.mu.Unlock()
	} else {
		refs = m.newest(func(r *Record) bool {
			return (q.RequestID == "" || r.RequestID == q.RequestID) &&
				(q.MessageType == "" || r.MessageType == q.MessageType) && q.contains(r.CreateTime)
		}, func(r *Record) int64 { return r.CreateTime })
	}
	out := StagesPage{Query: q}
	skip := q.Offset
	var buf []Event
	m.copyPage(refs, 0, func(r *Record) bool {
		if q.MessageType != "" && r.MessageType != q.MessageType {
			return true
		}
		buf = r.appendEvents(buf[:0])
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
				out.Segments = append(out.Segments, Segment{
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
func (m *Memory) Metrics(_ context.Context, q MetricsQuery) (Metrics, error) {
	if err := q.check(); err != nil {
		return Metrics{}, err
	}
	var err error
	if q.TimeField, err = timeField(q.TimeField); err != nil {
		return Metrics{}, err
	}
	if q.BucketNs < 0 {
		return Metrics{}, apperr.New(apperr.InvalidRequest, "bucket_ns must be at least 1")
	}
	if q.BucketNs == 0 {
		q.BucketNs = DefaultBucketNs
	}
	type sample struct{ t, lat int64 }
	m.lockTrimmed()
	var samples []sample
	for i := range m.n {
		r := m.at(i)
		if t := q.TimeField.of(r); (q.MessageType == "" || r.MessageType == q.MessageType) && q.contains(t) {
			samples = append(samples, sample{t, r.LatencyNs})
		}
	}
	m.mu.Unlock()

	out := Metrics{Query: q}
	if q.From != nil {
		out.From = *q.From
	}
	if q.To != nil {
		out.To = *q.To
	}
	if len(samples) == 0 {
		return out, nil
	}
	slices.SortFunc(samples, func(a, b sample) int { return cmp64(a.t, b.t) })
	if q.From == nil {
		out.From = samples[0].t
	}
	if q.To == nil {
		out.To = samples[len(samples)-1].t + 1
	}
	origin := out.From
	if q.From == nil {
		origin = floorDiv(out.From, q.BucketNs) * q.BucketNs
	}
	lats := make([]int64, len(samples))
	for i, s := range samples {
		lats[i] = s.lat
	}
	for i := 0; i < len(samples); {
		k := floorDiv(samples[i].t-origin, q.BucketNs)
		start := origin + k*q.BucketNs
		end := start + q.BucketNs
		j := i
		for j < len(samples) && samples[j].t < end {
			j++
		}
		out.Buckets = append(out.Buckets, Bucket{Start: start, End: end, Stats: Summarize(lats[i:j])})
		i = j
	}
	out.Summary = Summarize(lats) // last: it sorts lats, which the buckets slice by time
	return out, nil
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Summarize computes the stats of latency samples (the slice is sorted in
// place). Percentiles are nearest-rank: Pp is the sample of rank
// ⌈p/100 · n⌉ in ascending order, an observed value, exact.
func Summarize(lats []int64) Stats {
	n := len(lats)
	if n == 0 {
		return Stats{}
	}
	slices.Sort(lats)
	var sum float64
	for _, v := range lats {
		sum += float64(v)
	}
	return Stats{
		Count: int64(n), Min: lats[0], Max: lats[n-1], Avg: sum / float64(n),
		P50: float64(lats[rank(n, 50)]), P95: float64(lats[rank(n, 95)]), P99: float64(lats[rank(n, 99)]),
	}
}

// rank is the 0-based index of the nearest-rank p-th percentile of n
// sorted samples: ⌈p·n/100⌉ − 1, computed in integers.
func rank(n, p int) int {
	r := (p*n + 99) / 100
	return max(r, 1) - 1
}
