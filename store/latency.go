package store

// Latency records: how long each trading message spent in every stage of
// the pipeline, as server/latency's recorder stamps them, and the store
// that keeps them and answers the three latency diagnostics (GET
// /api/v1/util/latency/raw, /stages, /metrics). The recorder and the
// query rules are documented in package server/latency; the adapters are
// store/memory (Latency) and store/redis (LatencyStore), and both pass
// store/storetest's latency suite.

import (
	"context"
	"slices"
	"time"
)

// LatencyStage is one point of the pipeline a message passes.
type LatencyStage uint8

// The stages, in pipeline order.
const (
	StageGatewayReceived LatencyStage = iota
	StageRiskCompleted
	StageSentToGateway
	StageGatewayAccepted
	StageMarketStarted
	StageMarketCompleted

	// NumStages is the number of stages.
	NumLatencyStages = int(StageMarketCompleted) + 1
)

var stageNames = [NumLatencyStages]string{
	StageGatewayReceived: "OMS gateway received",
	StageRiskCompleted:   "Risk check completed",
	StageSentToGateway:   "Sent to HFT gateway",
	StageGatewayAccepted: "HFT gateway accepted",
	StageMarketStarted:   "Send to Market started",
	StageMarketCompleted: "Send to Market completed",
}

// stageServices is the service that stamps each stage (the event's
// `service` field).
var stageServices = [NumLatencyStages]string{
	StageGatewayReceived: "oms-gateway",
	StageRiskCompleted:   "oms-risk",
	StageSentToGateway:   "oms-router",
	StageGatewayAccepted: "hft-gateway",
	StageMarketStarted:   "krx-venue",
	StageMarketCompleted: "krx-venue",
}

// String is the stage's display name ("OMS gateway received", …).
func (s LatencyStage) String() string {
	if int(s) < NumLatencyStages {
		return stageNames[s]
	}
	return "unknown stage"
}

// Service is the name of the service that stamps the stage.
func (s LatencyStage) Service() string {
	if int(s) < NumLatencyStages {
		return stageServices[s]
	}
	return ""
}

// Valid reports whether s is one of the six stages.
func (s LatencyStage) Valid() bool { return int(s) < NumLatencyStages }

// Event statuses. StatusOK is every stage a message passes normally; a
// message ended early carries the caller's status (e.g. "REJECTED") on its
// last event.
const (
	LatencyStatusOK       = "OK"
	LatencyStatusRejected = "REJECTED"
)

// LatencyMeta are the routing fields a message's Ack and stage events share
// (brief §3.14): every event of a record repeats them.
type LatencyMeta struct {
	ClientID       string
	SourceService  string
	SourceSequence int64
	HFTGateway     string
	StreamID       int
}

// LatencyEvent is one recorded stage of one message (the contract's
// LatencyDetailRecord).
type LatencyEvent struct {
	RequestID   string
	MessageType string
	Stage       LatencyStage
	StageTime   int64 // epoch ns, monotonic
	Service     string
	Status      string
	LatencyMeta
}

// LatencySegment is the time between two consecutive recorded stages of one
// message (the contract's LatencySegment).
type LatencySegment struct {
	RequestID string
	From, To  LatencyStage
	FromTime  int64
	ToTime    int64
	LatencyNs int64
}

// LatencyRecord is one processed message: the raw record of the contract
// (message type, body, create and complete time, latency) with its stage
// stamps. Records are immutable once built; Events and Segments derive
// from them.
type LatencyRecord struct {
	RequestID   string
	MessageType string
	// Body is the request body as received (JSON). The transport decodes
	// it into the contract's message_body_json object.
	Body         []byte
	CreateTime   int64 // stamp of the first recorded stage (StageGatewayReceived)
	CompleteTime int64 // stamp of the last recorded stage
	LatencyNs    int64 // CompleteTime − CreateTime
	// Status is the status of the last stage (StatusOK or the status the
	// trace was ended with).
	Status string
	LatencyMeta
	// Stamps holds each stage's time, valid where Has(stage).
	Stamps [NumLatencyStages]int64
	mask   uint8
}

// Stamp records stage s at t (the recorder checks the order).
func (r *LatencyRecord) Stamp(s LatencyStage, t int64) {
	r.Stamps[s] = t
	r.mask |= 1 << s
}

// Has reports whether the record passed stage s.
func (r *LatencyRecord) Has(s LatencyStage) bool { return s.Valid() && r.mask&(1<<s) != 0 }

// Last is the last stage the record passed.
func (r *LatencyRecord) Last() LatencyStage {
	last := StageGatewayReceived
	for s := range LatencyStage(NumLatencyStages) {
		if r.Has(s) {
			last = s
		}
	}
	return last
}

// Events are the record's stage events, in stage order. Every event is
// StatusOK except the last, which carries the record's Status.
func (r *LatencyRecord) Events() []LatencyEvent {
	return r.AppendEvents(nil)
}

func (r *LatencyRecord) AppendEvents(dst []LatencyEvent) []LatencyEvent {
	last := r.Last()
	for s := range LatencyStage(NumLatencyStages) {
		if !r.Has(s) {
			continue
		}
		st := LatencyStatusOK
		if s == last && r.Status != "" {
			st = r.Status
		}
		dst = append(dst, LatencyEvent{
			RequestID: r.RequestID, MessageType: r.MessageType, Stage: s, StageTime: r.Stamps[s],
			Service: s.Service(), Status: st, LatencyMeta: r.LatencyMeta,
		})
	}
	return dst
}

// Segments are the times between consecutive recorded stages: a record
// with k stages has k−1 segments, and their latencies sum to LatencyNs.
func (r *LatencyRecord) Segments() []LatencySegment {
	var out []LatencySegment
	prev, have := StageGatewayReceived, false
	for s := range LatencyStage(NumLatencyStages) {
		if !r.Has(s) {
			continue
		}
		if have {
			out = append(out, LatencySegment{
				RequestID: r.RequestID, From: prev, To: s, FromTime: r.Stamps[prev], ToTime: r.Stamps[s],
				LatencyNs: r.Stamps[s] - r.Stamps[prev],
			})
		}
		prev, have = s, true
	}
	return out
}

// LatencyPart names one column of the UI's latency summary.
type LatencyPart string

// The summary columns.
const (
	LatencyPartRisk    LatencyPart = "risk"
	LatencyPartRouter  LatencyPart = "router"
	LatencyPartGateway LatencyPart = "gateway"
	LatencyPartVenue   LatencyPart = "venue"
)

// LatencyBreakdown is the UI's per-message summary: each column's time (absent
// when either end stage was not recorded), the total, and the bottleneck.
type LatencyBreakdown struct {
	Risk, Router, Gateway, Venue time.Duration
	// Present says which of the four columns could be measured.
	Present map[LatencyPart]bool
	Total   time.Duration
	// Bottleneck is the largest measured column ("" when none was).
	Bottleneck LatencyPart
}

// Breakdown computes the summary columns (see the package doc for which
// stages bound each). Venue ends at MarketCompleted, or at MarketStarted
// when the message has not completed at the market.
func (r *LatencyRecord) Breakdown() LatencyBreakdown {
	b := LatencyBreakdown{Present: map[LatencyPart]bool{}, Total: time.Duration(r.LatencyNs)}
	span := func(p LatencyPart, from, to LatencyStage, dst *time.Duration) {
		if r.Has(from) && r.Has(to) {
			*dst = time.Duration(r.Stamps[to] - r.Stamps[from])
			b.Present[p] = true
		}
	}
	span(LatencyPartRisk, StageGatewayReceived, StageRiskCompleted, &b.Risk)
	span(LatencyPartRouter, StageRiskCompleted, StageSentToGateway, &b.Router)
	span(LatencyPartGateway, StageSentToGateway, StageGatewayAccepted, &b.Gateway)
	if r.Has(StageMarketCompleted) {
		span(LatencyPartVenue, StageGatewayAccepted, StageMarketCompleted, &b.Venue)
	} else {
		span(LatencyPartVenue, StageGatewayAccepted, StageMarketStarted, &b.Venue)
	}
	var best time.Duration = -1
	for _, c := range []struct {
		p LatencyPart
		d time.Duration
	}{{LatencyPartRisk, b.Risk}, {LatencyPartRouter, b.Router}, {LatencyPartGateway, b.Gateway}, {LatencyPartVenue, b.Venue}} {
		if b.Present[c.p] && c.d > best {
			best, b.Bottleneck = c.d, c.p
		}
	}
	return b
}

// LatencyClock reads the time as epoch nanoseconds.
type LatencyClock interface {
	NowNs() int64
}

// MonotonicClock is epoch nanoseconds advanced by the monotonic clock: the
// wall clock is read once at construction; afterwards only the monotonic
// reading moves it, so it never goes backwards.
type MonotonicClock struct {
	base   time.Time
	baseNs int64
}

// NewMonotonicClock anchors a MonotonicClock at the current wall time.
func NewMonotonicClock() *MonotonicClock {
	now := time.Now()
	return &MonotonicClock{base: now, baseNs: now.UnixNano()}
}

// NowNs implements Clock.
func (c *MonotonicClock) NowNs() int64 { return c.baseNs + int64(time.Since(c.base)) }

// LatencyStore keeps finished records and answers the three diagnostics. Memory
// is the in-process implementation; a Redis one (streams or sorted sets
// with a TTL/trim) can follow with the same contract. Put is on the hot
// path: an implementation that talks to a network should buffer.
type LatencyStore interface {
	Put(ctx context.Context, rec LatencyRecord) error
	Raw(ctx context.Context, q LatencyRawQuery) (LatencyRawPage, error)
	Stages(ctx context.Context, q LatencyStagesQuery) (LatencyStagesPage, error)
	Metrics(ctx context.Context, q LatencyMetricsQuery) (LatencyMetrics, error)
}

// LatencyTimeField selects the timestamp a time window applies to.
type LatencyTimeField string

// The time fields of the contract.
const (
	LatencyCompleteTime LatencyTimeField = "complete_time"
	LatencyCreateTime   LatencyTimeField = "create_time"
)

func (f LatencyTimeField) Of(r *LatencyRecord) int64 {
	if f == LatencyCreateTime {
		return r.CreateTime
	}
	return r.CompleteTime
}

// LatencyWindow is a half-open time range [From, To) in epoch ns; a nil bound is
// open.
type LatencyWindow struct {
	From, To *int64
}

func (w LatencyWindow) Contains(t int64) bool {
	return (w.From == nil || t >= *w.From) && (w.To == nil || t < *w.To)
}

func (w LatencyWindow) IsSet() bool { return w.From != nil || w.To != nil }

func (w LatencyWindow) Check() error {
	if w.From != nil && w.To != nil && *w.To < *w.From {
		return latencyQueryError("to_ns must not be before from_ns")
	}
	return nil
}

// Paging defaults.
const (
	LatencyDefaultLimit    = 100
	LatencyMaxLimit        = 1000
	LatencyDefaultBucketNs = int64(time.Second)
)

func LatencyPage(limit, offset int) (int, int, error) {
	if limit < 0 || offset < 0 {
		return 0, 0, latencyQueryError("limit and offset must not be negative")
	}
	if limit == 0 {
		limit = LatencyDefaultLimit
	}
	return min(limit, LatencyMaxLimit), offset, nil
}

// LatencyRawQuery filters GET /util/latency/raw. TimeField defaults to
// CompleteTime; Limit 0 means DefaultLimit and is capped at MaxLimit.
type LatencyRawQuery struct {
	LatencyWindow
	MessageType string // "" = every type
	TimeField   LatencyTimeField
	Limit       int
	Offset      int
}

// LatencyRawPage is one page of records, newest first by the time field.
type LatencyRawPage struct {
	Query   LatencyRawQuery // as applied (defaults filled, limit capped)
	Records []LatencyRecord
}

// LatencyStagesQuery filters GET /util/latency/stages. With a RequestID and no
// time bound the records of that request are returned; otherwise the
// window applies (to the records' create time) and a RequestID, if any,
// narrows it. Paging counts events.
type LatencyStagesQuery struct {
	RequestID string
	LatencyWindow
	MessageType string
	Limit       int
	Offset      int
}

// LatencyStagesPage is one page of stage events (newest record first, each
// record's events in stage order) and the segments between consecutive
// events of one record that are both in the page.
type LatencyStagesPage struct {
	Query    LatencyStagesQuery // as applied
	Events   []LatencyEvent
	Segments []LatencySegment
}

// LatencyMetricsQuery filters GET /util/latency/metrics. TimeField defaults to
// CompleteTime, BucketNs to DefaultBucketNs.
type LatencyMetricsQuery struct {
	LatencyWindow
	MessageType string
	TimeField   LatencyTimeField
	BucketNs    int64
}

// LatencyStats summarise latencies: percentiles are nearest-rank over the exact
// samples (the smallest sample with at least p % of the samples ≤ it).
// With Count 0 the other fields are zero.
type LatencyStats struct {
	Count         int64
	Min, Max      int64
	Avg           float64
	P50, P95, P99 float64
}

// LatencyBucket is the stats of the records whose time falls in [Start, End).
type LatencyBucket struct {
	Start, End int64
	LatencyStats
}

// LatencyMetrics answers GET /util/latency/metrics. From and To are the window
// actually used: the query's bounds, or the earliest and just past the
// latest matching time when a bound was open (0 when nothing matched).
// Buckets start at From (or at a multiple of BucketNs since the epoch when
// From was open); only non-empty buckets are listed, oldest first, so
// their number never exceeds the number of records.
type LatencyMetrics struct {
	Query    LatencyMetricsQuery // as applied
	From, To int64
	Summary  LatencyStats
	Buckets  []LatencyBucket
}

func (f LatencyTimeField) OrDefault() (LatencyTimeField, error) {
	return latencyTimeField(f)
}

func latencyTimeField(f LatencyTimeField) (LatencyTimeField, error) {
	switch f {
	case "":
		return LatencyCompleteTime, nil
	case LatencyCompleteTime, LatencyCreateTime:
		return f, nil
	}
	return "", latencyQueryError("time_field must be complete_time or create_time")
}

func FloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Summarize computes the stats of latency samples (the slice is sorted in
// place). Percentiles are nearest-rank: Pp is the sample of rank
// ⌈p/100 · n⌉ in ascending order, an observed value, exact.
func SummarizeLatencies(lats []int64) LatencyStats {
	n := len(lats)
	if n == 0 {
		return LatencyStats{}
	}
	slices.Sort(lats)
	var sum float64
	for _, v := range lats {
		sum += float64(v)
	}
	return LatencyStats{
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

// LatencyQueryError is a latency query a store refuses (it matches
// ErrInvalid); Msg says what to fix, in the query's own terms.
type LatencyQueryError struct{ Msg string }

func (e *LatencyQueryError) Error() string { return e.Msg }
func (e *LatencyQueryError) Unwrap() error { return ErrInvalid }

func latencyQueryError(msg string) error { return &LatencyQueryError{Msg: msg} }

// Retention defaults of the latency stores.
const (
	LatencyDefaultRetention  = 24 * time.Hour
	LatencyDefaultMaxRecords = 100_000
)

// LatencyMetricsOf answers a metrics query (BucketNs already defaulted)
// from its window's samples in time order: ts their times, lats their
// latencies. Both stores use it, so they bucket and summarise alike.
func LatencyMetricsOf(q LatencyMetricsQuery, ts, lats []int64) LatencyMetrics {
	out := LatencyMetrics{Query: q}
	if q.From != nil {
		out.From = *q.From
	}
	if q.To != nil {
		out.To = *q.To
	}
	if len(ts) == 0 {
		return out
	}
	if q.From == nil {
		out.From = ts[0]
	}
	if q.To == nil {
		out.To = ts[len(ts)-1] + 1
	}
	origin := out.From
	if q.From == nil {
		origin = FloorDiv(out.From, q.BucketNs) * q.BucketNs
	}
	for i := 0; i < len(ts); {
		k := FloorDiv(ts[i]-origin, q.BucketNs)
		start := origin + k*q.BucketNs
		end := start + q.BucketNs
		j := i
		for j < len(ts) && ts[j] < end {
			j++
		}
		out.Buckets = append(out.Buckets, LatencyBucket{Start: start, End: end, LatencyStats: SummarizeLatencies(lats[i:j])})
		i = j
	}
	out.Summary = SummarizeLatencies(lats) // last: it sorts lats, which the buckets slice by time
	return out
}

// Applied checks q and fills its defaults: the query as a store answers it.
func (q LatencyRawQuery) Applied() (LatencyRawQuery, error) {
	if err := q.Check(); err != nil {
		return q, err
	}
	var err error
	if q.Limit, q.Offset, err = LatencyPage(q.Limit, q.Offset); err != nil {
		return q, err
	}
	q.TimeField, err = q.TimeField.OrDefault()
	return q, err
}

// Applied checks q and fills its defaults.
func (q LatencyStagesQuery) Applied() (LatencyStagesQuery, error) {
	if err := q.Check(); err != nil {
		return q, err
	}
	var err error
	q.Limit, q.Offset, err = LatencyPage(q.Limit, q.Offset)
	return q, err
}

// Applied checks q and fills its defaults.
func (q LatencyMetricsQuery) Applied() (LatencyMetricsQuery, error) {
	if err := q.Check(); err != nil {
		return q, err
	}
	var err error
	if q.TimeField, err = q.TimeField.OrDefault(); err != nil {
		return q, err
	}
	if q.BucketNs < 0 {
		return q, latencyQueryError("bucket_ns must be at least 1")
	}
	if q.BucketNs == 0 {
		q.BucketNs = LatencyDefaultBucketNs
	}
	return q, nil
}
