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
// Store. Memory is the in-memory Store: bounded, concurrency-safe, with a
// retention; a Redis Store can implement the same interface later.
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

import (
	"time"
)

// Stage is one point of the pipeline a message passes.
type Stage uint8

// The stages, in pipeline order.
const (
	GatewayReceived Stage = iota
	RiskCompleted
	SentToGateway
	GatewayAccepted
	MarketStarted
	MarketCompleted

	// NumStages is the number of stages.
	NumStages = int(MarketCompleted) + 1
)

var stageNames = [NumStages]string{
	GatewayReceived: "OMS gateway received",
	RiskCompleted:   "Risk check completed",
	SentToGateway:   "Sent to HFT gateway",
	GatewayAccepted: "HFT gateway accepted",
	MarketStarted:   "Send to Market started",
	MarketCompleted: "Send to Market completed",
}

// stageServices is the service that stamps each stage (the event's
// `service` field).
var stageServices = [NumStages]string{
	GatewayReceived: "oms-gateway",
	RiskCompleted:   "oms-risk",
	SentToGateway:   "oms-router",
	GatewayAccepted: "hft-gateway",
	MarketStarted:   "krx-venue",
	MarketCompleted: "krx-venue",
}

// String is the stage's display name ("OMS gateway received", …).
func (s Stage) String() string {
	if int(s) < NumStages {
		return stageNames[s]
	}
	return "unknown stage"
}

// Service is the name of the service that stamps the stage.
func (s Stage) Service() string {
	if int(s) < NumStages {
		return stageServices[s]
	}
	return ""
}

// Valid reports whether s is one of the six stages.
func (s Stage) Valid() bool { return int(s) < NumStages }

// Event statuses. StatusOK is every stage a message passes normally; a
// message ended early carries the caller's status (e.g. "REJECTED") on its
// last event.
const (
	StatusOK       = "OK"
	StatusRejected = "REJECTED"
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

// Meta are the routing fields a message's Ack and stage events share
// (brief §3.14): every event of a record repeats them.
type Meta struct {
	ClientID       string
	SourceService  string
	SourceSequence int64
	HFTGateway     string
	StreamID       int
}

// Event is one recorded stage of one message (the contract's
// LatencyDetailRecord).
type Event struct {
	RequestID   string
	MessageType string
	Stage       Stage
	StageTime   int64 // epoch ns, monotonic
	Service     string
	Status      string
	Meta
}

// Segment is the time between two consecutive recorded stages of one
// message (the contract's LatencySegment).
type Segment struct {
	RequestID string
	From, To  Stage
	FromTime  int64
	ToTime    int64
	LatencyNs int64
}

// Record is one processed message: the raw record of the contract
// (message type, body, create and complete time, latency) with its stage
// stamps. Records are immutable once built; Events and Segments derive
// from them.
type Record struct {
	RequestID   string
	MessageType string
	// Body is the request body as received (JSON). The transport decodes
	// it into the contract's message_body_json object.
	Body         []byte
	CreateTime   int64 // stamp of the first recorded stage (GatewayReceived)
	CompleteTime int64 // stamp of the last recorded stage
	LatencyNs    int64 // CompleteTime − CreateTime
	// Status is the status of the last stage (StatusOK or the status the
	// trace was ended with).
	Status string
	Meta
	// Stamps holds each stage's time, valid where Has(stage).
	Stamps [NumStages]int64
	mask   uint8
}

// Has reports whether the record passed stage s.
func (r *Record) Has(s Stage) bool { return s.Valid() && r.mask&(1<<s) != 0 }

// Last is the last stage the record passed.
func (r *Record) Last() Stage {
	last := GatewayReceived
	for s := range Stage(NumStages) {
		if r.Has(s) {
			last = s
		}
	}
	return last
}

// Events are the record's stage events, in stage order. Every event is
// StatusOK except the last, which carries the record's Status.
func (r *Record) Events() []Event {
	return r.appendEvents(nil)
}

func (r *Record) appendEvents(dst []Event) []Event {
	last := r.Last()
	for s := range Stage(NumStages) {
		if !r.Has(s) {
			continue
		}
		st := StatusOK
		if s == last && r.Status != "" {
			st = r.Status
		}
		dst = append(dst, Event{
			RequestID: r.RequestID, MessageType: r.MessageType, Stage: s, StageTime: r.Stamps[s],
			Service: s.Service(), Status: st, Meta: r.Meta,
		})
	}
	return dst
}

// Segments are the times between consecutive recorded stages: a record
// with k stages has k−1 segments, and their latencies sum to LatencyNs.
func (r *Record) Segments() []Segment {
	var out []Segment
	prev, have := GatewayReceived, false
	for s := range Stage(NumStages) {
		if !r.Has(s) {
			continue
		}
		if have {
			out = append(out, Segment{
				RequestID: r.RequestID, From: prev, To: s, FromTime: r.Stamps[prev], ToTime: r.Stamps[s],
				LatencyNs: r.Stamps[s] - r.Stamps[prev],
			})
		}
		prev, have = s, true
	}
	return out
}

// Part names one column of the UI's latency summary.
type Part string

// The summary columns.
const (
	PartRisk    Part = "risk"
	PartRouter  Part = "router"
	PartGateway Part = "gateway"
	PartVenue   Part = "venue"
)

// Breakdown is the UI's per-message summary: each column's time (absent
// when either end stage was not recorded), the total, and the bottleneck.
type Breakdown struct {
	Risk, Router, Gateway, Venue time.Duration
	// Present says which of the four columns could be measured.
	Present map[Part]bool
	Total   time.Duration
	// Bottleneck is the largest measured column ("" when none was).
	Bottleneck Part
}

// Breakdown computes the summary columns (see the package doc for which
// stages bound each). Venue ends at MarketCompleted, or at MarketStarted
// when the message has not completed at the market.
func (r *Record) Breakdown() Breakdown {
	b := Breakdown{Present: map[Part]bool{}, Total: time.Duration(r.LatencyNs)}
	span := func(p Part, from, to Stage, dst *time.Duration) {
		if r.Has(from) && r.Has(to) {
			*dst = time.Duration(r.Stamps[to] - r.Stamps[from])
			b.Present[p] = true
		}
	}
	span(PartRisk, GatewayReceived, RiskCompleted, &b.Risk)
	span(PartRouter, RiskCompleted, SentToGateway, &b.Router)
	span(PartGateway, SentToGateway, GatewayAccepted, &b.Gateway)
	if r.Has(MarketCompleted) {
		span(PartVenue, GatewayAccepted, MarketCompleted, &b.Venue)
	} else {
		span(PartVenue, GatewayAccepted, MarketStarted, &b.Venue)
	}
	var best time.Duration = -1
	for _, c := range []struct {
		p Part
		d time.Duration
	}{{PartRisk, b.Risk}, {PartRouter, b.Router}, {PartGateway, b.Gateway}, {PartVenue, b.Venue}} {
		if b.Present[c.p] && c.d > best {
			best, b.Bottleneck = c.d, c.p
		}
	}
	return b
}

// Clock reads the time as epoch nanoseconds.
type Clock interface {
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
