// Package latency records how long each trading message spends in every
// stage of the omsd pipeline and answers the three latency diagnostics of
// the contract (GET /api/v1/util/latency/raw, /stages, /metrics; brief
// §2.4 and §3.14).
//
// It is a pure domain package: no HTTP, no store adapter, no wire types.
// The trading service starts a Trace when a message enters the gateway
// (Recorder.Begin, keyed by the request_id its Ack will carry), marks each
// stage as the message passes it (Trace.Mark or Recorder.Mark by request
// id), and ends it (Trace.Complete, or Trace.End at an earlier stage for a
// message rejected on the way). Ending turns the trace into a Record — the
// raw record (message type, body, create and complete time, latency), its
// stage events and, derived from them, its segments — and hands it to a
// Store. The records and the Store interface are the store layer's
// (store/latency.go, with this package's names as aliases below); the
// adapters are store/memory.Latency and store/redis.LatencyStore.
//
// # Stages
//
// A message passes six stages, named as the upstream UI names them (brief
// §3.14), at these points of omsd's in-process pipeline:
//
//	GatewayReceived  "OMS gateway received"     the trading service took the validated request
//	RiskCompleted    "Risk check completed"     business checks done, hold reserved, order stored (or rejected)
//	SentToGateway    "Sent to HFT gateway"      the router handed the order to the venue adapter
//	GatewayAccepted  "HFT gateway accepted"     the venue adapter accepted it (queued for the book's owner)
//	MarketStarted    "Send to Market started"   the matching engine started on it
//	MarketCompleted  "Send to Market completed" the engine's report was applied (status, fills, cash, holdings)
//
// The five points map onto them as: gateway received =
// GatewayReceived, risk check completed = RiskCompleted, sent to venue =
// SentToGateway, venue accepted = GatewayAccepted, completed =
// MarketCompleted; MarketStarted is optional (a stage may be skipped, never
// recorded twice or out of order).
//
// Segments are the time between consecutive recorded stages (the
// contract's LatencySegment). The UI's summary columns (Breakdown) are:
//
//	Risk    GatewayReceived → RiskCompleted   (gateway decode + pre-trade risk)
//	Router  RiskCompleted   → SentToGateway   (routing, ticker → ISIN)
//	Gateway SentToGateway   → GatewayAccepted (HFT gateway hand-off)
//	Venue   GatewayAccepted → MarketCompleted (venue round trip, MarketStarted inside)
//	Total   GatewayReceived → the last stage
//
// and the bottleneck is the largest of Risk, Router, Gateway and Venue.
//
// # Queries (Memory; a later Store must answer the same way)
//
//   - Windows are half-open [from_ns, to_ns) in epoch ns over the query's
//     time field (raw, metrics: complete_time by default or create_time;
//     stages: create_time); an absent bound is open, to < from is
//     apperr.InvalidRequest.
//   - raw: newest first by the time field (ties: later arrival first);
//     limit defaults to 100 and is capped at 1 000 (the applied value is
//     echoed back); offset skips records.
//   - stages: request_id alone looks the request up (its newest record);
//     with a time bound it narrows the window instead (brief §2.4's rule).
//     limit/offset count events (newest record first, each record's
//     events in stage order), so `count` = events returned ≤ limit;
//     segments are listed between consecutive events of one record that
//     are both on the page.
//   - metrics: count, min, max, avg and nearest-rank p50/p95/p99 over the
//     window, plus the same per bucket of bucket_ns (default 1 s). Buckets
//     start at from_ns, or at a multiple of bucket_ns since the epoch when
//     from_ns is absent; empty buckets are left out, so the reply is
//     bounded by the records kept and needs no "too many buckets" error.
//   - Percentiles are exact nearest-rank over the window's samples
//     (sort, take rank ⌈p·n/100⌉), always an observed latency. The window
//     holds at most MaxRecords samples (100 000 by default), which sort in
//     a few ms for an admin-only diagnostic (BenchmarkMetrics100k), so an
//     approximating histogram (HDR: fixed relative error, an extra
//     dependency, and per-bucket histograms to merge) buys nothing here;
//     a Redis Store can fetch the window's latencies and reuse Summarize.
//
// Retention: Memory keeps a record for Retention after it completed
// (default 24 h) and never more than MaxRecords (oldest evicted first),
// trimming on every Put and query; bodies over MaxBodyBytes (16 KiB) are
// replaced by a stub, and at most MaxOpen traces (100 000) are indexed by
// request id while in flight (Recorder.Sweep drops stuck ones), so memory
// is bounded whatever the traffic.
//
// # Time
//
// Stamps are int64 nanoseconds since the Unix epoch read from a monotonic
// clock: the wall clock is read once when the Clock is made and every
// stamp adds the monotonic time elapsed since (MonotonicClock), so
// differences are immune to wall-clock steps and the values still compare
// with the contract's from_ns/to_ns (epoch nanoseconds).
package latency

import "github.com/vero-oms/omsd/store"

// The records and the store interface live in package store (one rule for
// every domain: records and store interface in store/<domain>.go); these
// are their names here, where the recorder and the handlers use them.
type (
	Stage        = store.LatencyStage
	Meta         = store.LatencyMeta
	Event        = store.LatencyEvent
	Segment      = store.LatencySegment
	Record       = store.LatencyRecord
	Part         = store.LatencyPart
	Breakdown    = store.LatencyBreakdown
	Clock        = store.LatencyClock
	Store        = store.LatencyStore
	TimeField    = store.LatencyTimeField
	Window       = store.LatencyWindow
	RawQuery     = store.LatencyRawQuery
	RawPage      = store.LatencyRawPage
	StagesQuery  = store.LatencyStagesQuery
	StagesPage   = store.LatencyStagesPage
	MetricsQuery = store.LatencyMetricsQuery
	Stats        = store.LatencyStats
	Bucket       = store.LatencyBucket
	Metrics      = store.LatencyMetrics
	QueryError   = store.LatencyQueryError
	// MonotonicClock is epoch nanoseconds advanced by the monotonic clock.
	MonotonicClock = store.MonotonicClock
)

// The stages a message passes, in order.
const (
	GatewayReceived = store.StageGatewayReceived
	RiskCompleted   = store.StageRiskCompleted
	SentToGateway   = store.StageSentToGateway
	GatewayAccepted = store.StageGatewayAccepted
	MarketStarted   = store.StageMarketStarted
	MarketCompleted = store.StageMarketCompleted
	NumStages       = store.NumLatencyStages
)

// The summary columns.
const (
	PartRisk    = store.LatencyPartRisk
	PartRouter  = store.LatencyPartRouter
	PartGateway = store.LatencyPartGateway
	PartVenue   = store.LatencyPartVenue
)

// Time fields, limits and defaults of the queries.
const (
	CompleteTime      = store.LatencyCompleteTime
	CreateTime        = store.LatencyCreateTime
	DefaultLimit      = store.LatencyDefaultLimit
	MaxLimit          = store.LatencyMaxLimit
	DefaultBucketNs   = store.LatencyDefaultBucketNs
	DefaultRetention  = store.LatencyDefaultRetention
	DefaultMaxRecords = store.LatencyDefaultMaxRecords
)

// NewMonotonicClock anchors a MonotonicClock at the current wall time.
func NewMonotonicClock() *MonotonicClock { return store.NewMonotonicClock() }

// Summarize computes the stats of latency samples (see
// store.SummarizeLatencies).
func Summarize(lats []int64) Stats { return store.SummarizeLatencies(lats) }

// Event statuses. StatusOK is every stage a message passes normally; a
// message ended early carries the caller's status (e.g. "REJECTED") on its
// last event.
const (
	StatusOK       = store.LatencyStatusOK
	StatusRejected = store.LatencyStatusRejected
)

// FIX message types of the trading operations (brief §3.14), the
// record's message_type.
const (
	MsgNewOrder      = "D"  // POST /orders/new
	MsgCancel        = "F"  // POST /orders/cancel
	MsgReplace       = "G"  // POST /orders/replace
	MsgQuote         = "S"  // POST /orders/quote
	MsgQuoteResponse = "AJ" // POST /orders/quote-response
	MsgIOI           = "6"  // POST /orders/ioi
	MsgKQuote        = "R"  // POST /orders/kquote (omsd's choice: FIX QuoteRequest's letter, KRX two-sided quote)
	MsgKQuoteCancel  = "Z"  // POST /orders/kquote-cancel (FIX QuoteCancel)
)
