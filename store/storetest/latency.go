// The latency conformance suite every store.LatencyStore runs
// (memory.Latency, the Redis store): passing it means a store answers the
// three diagnostics exactly as the package doc of server/latency describes
// (ordering, paging, windows, nearest-rank percentiles, buckets,
// retention, the bound, bad queries). Records are built the way the
// recorder builds them (stamps in stage order, create time at the first,
// complete time at the last, the last stage carrying the status) on a
// settable clock shared with the store, and every record read back must
// equal (reflect.DeepEqual, unexported stage set included) the one put.

package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
)

// LatencyTestClock is a settable store.LatencyClock, safe for concurrent use.
type LatencyTestClock struct{ ns atomic.Int64 }

// NewLatencyClock returns a LatencyTestClock reading ns.
func NewLatencyClock(ns int64) *LatencyTestClock { c := &LatencyTestClock{}; c.ns.Store(ns); return c }

// NowNs implements store.LatencyClock.
func (c *LatencyTestClock) NowNs() int64 { return c.ns.Load() }

// Set sets the time.
func (c *LatencyTestClock) Set(ns int64) { c.ns.Store(ns) }

// LatencyConfig is what the suite opens a store with; zero fields mean the
// store's defaults.
type LatencyConfig struct {
	Clock      store.LatencyClock // drives retention
	Retention  time.Duration
	MaxRecords int
}

// LatencyOpen returns a fresh, empty store (cleaned up by t.Cleanup).
type LatencyOpen func(t *testing.T, c LatencyConfig) store.LatencyStore

// LatencyEpoch is the base time of the suite's records: an epoch-ns instant that is
// a multiple of a second, so default buckets start at it.
const LatencyEpoch = int64(1_700_000_000_000_000_000)

const latMS = int64(time.Millisecond)

// RunLatency runs the suite against the stores open returns.
func RunLatency(t *testing.T, open LatencyOpen) {
	t.Run("Raw", func(t *testing.T) { testRaw(t, open) })
	t.Run("Stages", func(t *testing.T) { testStages(t, open) })
	t.Run("StagesAcrossManyRecords", func(t *testing.T) { testStagesMany(t, open) })
	t.Run("Metrics", func(t *testing.T) { testMetrics(t, open) })
	t.Run("NegativeTimes", func(t *testing.T) { testNegative(t, open) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open) })
	t.Run("MaxRecords", func(t *testing.T) { testMaxRecords(t, open) })
	t.Run("BadQueries", func(t *testing.T) { testBadQueries(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
}

// ---- latFixture ----

type latFixture struct {
	t     *testing.T
	clock *LatencyTestClock
	store store.LatencyStore
	seq   int64
}

func newLatFixture(t *testing.T, open LatencyOpen, c LatencyConfig) *latFixture {
	t.Helper()
	clock := NewLatencyClock(LatencyEpoch)
	c.Clock = clock
	return &latFixture{t: t, clock: clock, store: open(t, c)}
}

// latencyRecord is the record the recorder builds for stamps (in stage
// order) ended with status ("" = OK).
func latencyRecord(id, typ string, body []byte, meta store.LatencyMeta, status string, stamps ...latStamp) store.LatencyRecord {
	r := store.LatencyRecord{RequestID: id, MessageType: typ, Body: body, LatencyMeta: meta, Status: cmp.Or(status, store.LatencyStatusOK)}
	for _, st := range stamps {
		r.Stamp(st.s, st.at)
	}
	r.CreateTime, r.CompleteTime = stamps[0].at, stamps[len(stamps)-1].at
	r.LatencyNs = r.CompleteTime - r.CreateTime
	return r
}

// latStamp is a stage recorded at a time.
type latStamp struct {
	s  store.LatencyStage
	at int64
}

func at(s store.LatencyStage, t int64) latStamp { return latStamp{s, t} }

// msg puts one message's record: stamps in stage order, the last ended
// with status ("" = OK), the clock at the last stamp. It returns the
// record put.
func (f *latFixture) msg(id, typ, body, status string, stamps ...latStamp) store.LatencyRecord {
	f.t.Helper()
	f.seq++
	meta := store.LatencyMeta{ClientID: "client-1", SourceService: "oms-api", SourceSequence: f.seq, HFTGateway: "hft-1", StreamID: 2}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	r := latencyRecord(id, typ, b, meta, status, stamps...)
	f.clock.Set(stamps[len(stamps)-1].at)
	if err := f.store.Put(context.Background(), r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

// full records a message that passes GatewayReceived at create and
// MarketCompleted at complete.
func (f *latFixture) full(id, typ string, create, complete int64) store.LatencyRecord {
	f.t.Helper()
	return f.msg(id, typ, fmt.Sprintf(`{"id":%q}`, id), "", at(store.StageGatewayReceived, create), at(store.StageMarketCompleted, complete))
}

func (f *latFixture) raw(q store.LatencyRawQuery) store.LatencyRawPage {
	f.t.Helper()
	pg, err := f.store.Raw(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Raw(%+v): %v", q, err)
	}
	return pg
}

func (f *latFixture) stages(q store.LatencyStagesQuery) store.LatencyStagesPage {
	f.t.Helper()
	pg, err := f.store.Stages(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Stages(%+v): %v", q, err)
	}
	return pg
}

func (f *latFixture) metrics(q store.LatencyMetricsQuery) store.LatencyMetrics {
	f.t.Helper()
	m, err := f.store.Metrics(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Metrics(%+v): %v", q, err)
	}
	return m
}

func p64(v int64) *int64 { return &v }

func win(from, to *int64) store.LatencyWindow { return store.LatencyWindow{From: from, To: to} }

func ids(rs []store.LatencyRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s/%s@%d-%d", r.RequestID, r.MessageType, r.CreateTime-LatencyEpoch, r.CompleteTime-LatencyEpoch)
	}
	return out
}

// wantRecords checks a page's records, fields and stage set included.
func wantRecords(t *testing.T, what string, got []store.LatencyRecord, want ...store.LatencyRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records %v, want %d %v", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: record %d\n got %+v (events %v)\nwant %+v (events %v)", what, i, got[i], got[i].Events(), want[i], want[i].Events())
		}
	}
}

// pageEvents is the documented stages paging over records newest first:
// offset and limit count events, segments join consecutive events of one
// record that are both on the page.
func pageEvents(recs []store.LatencyRecord, offset, limit int) ([]store.LatencyEvent, []store.LatencySegment) {
	var evs []store.LatencyEvent
	var segs []store.LatencySegment
	for _, r := range recs {
		all := r.Events()
		if offset >= len(all) {
			offset -= len(all)
			continue
		}
		on := all[offset:]
		offset = 0
		on = on[:min(len(on), limit-len(evs))]
		for i, e := range on {
			evs = append(evs, e)
			if i > 0 {
				segs = append(segs, store.LatencySegment{RequestID: r.RequestID, From: on[i-1].Stage, To: e.Stage,
					FromTime: on[i-1].StageTime, ToTime: e.StageTime, LatencyNs: e.StageTime - on[i-1].StageTime})
			}
		}
		if len(evs) >= limit {
			break
		}
	}
	return evs, segs
}

func wantStages(t *testing.T, what string, got store.LatencyStagesPage, recs []store.LatencyRecord, offset, limit int) {
	t.Helper()
	evs, segs := pageEvents(recs, offset, limit)
	if len(got.Events) != len(evs) || (len(evs) > 0 && !reflect.DeepEqual(got.Events, evs)) {
		t.Fatalf("%s: events\n got %d %+v\nwant %d %+v", what, len(got.Events), got.Events, len(evs), evs)
	}
	if len(got.Segments) != len(segs) || (len(segs) > 0 && !reflect.DeepEqual(got.Segments, segs)) {
		t.Fatalf("%s: segments\n got %+v\nwant %+v", what, got.Segments, segs)
	}
}

func wantCode(t *testing.T, what string, err error) {
	t.Helper()
	var qe *store.LatencyQueryError
	if !errors.As(err, &qe) || !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("%s: %v, want a store.LatencyQueryError (ErrInvalid)", what, err)
	}
}

// ---- raw ----

// five records the raw and stages tests share (arrival order r1..r5):
//
//	r1 A1 D  create +100  complete +1100  all six stages
//	r2 A2 F  create +200  complete  +700  three stages, a body with spaces and <&
//	r3 A3 D  create +300  complete +1100  five stages (MarketStarted skipped), no body
//	r4 A4 D  create  +50  complete +2000  rejected at risk
//	r5 A1 G  create +1500 complete +1600  the same request id as r1
func five(f *latFixture) [5]store.LatencyRecord {
	var r [5]store.LatencyRecord
	r[0] = f.msg("A1", "D", `{"id":"A1"}`, "",
		at(store.StageGatewayReceived, LatencyEpoch+100), at(store.StageRiskCompleted, LatencyEpoch+300), at(store.StageSentToGateway, LatencyEpoch+400),
		at(store.StageGatewayAccepted, LatencyEpoch+500), at(store.StageMarketStarted, LatencyEpoch+600), at(store.StageMarketCompleted, LatencyEpoch+1100))
	r[1] = f.msg("A2", "F", `{ "id" : "A2", "note": "a<b & c" }`, "",
		at(store.StageGatewayReceived, LatencyEpoch+200), at(store.StageRiskCompleted, LatencyEpoch+250), at(store.StageMarketCompleted, LatencyEpoch+700))
	r[2] = f.msg("A3", "D", "", "",
		at(store.StageGatewayReceived, LatencyEpoch+300), at(store.StageRiskCompleted, LatencyEpoch+350), at(store.StageSentToGateway, LatencyEpoch+360),
		at(store.StageGatewayAccepted, LatencyEpoch+370), at(store.StageMarketCompleted, LatencyEpoch+1100))
	r[3] = f.msg("A4", "D", `{"id":"A4"}`, store.LatencyStatusRejected,
		at(store.StageGatewayReceived, LatencyEpoch+50), at(store.StageRiskCompleted, LatencyEpoch+2000))
	r[4] = f.msg("A1", "G", `{"id":"A1","replace":true}`, "",
		at(store.StageGatewayReceived, LatencyEpoch+1500), at(store.StageRiskCompleted, LatencyEpoch+1520), at(store.StageMarketCompleted, LatencyEpoch+1600))
	return r
}

func testRaw(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{})
	r := five(f)
	r1, r2, r3, r4, r5 := r[0], r[1], r[2], r[3], r[4]
	if r4.Status != store.LatencyStatusRejected || r4.LatencyNs != 1950 || r3.Body != nil {
		t.Fatalf("fixture: %+v %+v", r4, r3)
	}

	pg := f.raw(store.LatencyRawQuery{})
	wantRecords(t, "newest first by complete time, a tie later arrival first", pg.Records, r4, r5, r3, r1, r2)
	if q := pg.Query; q.TimeField != store.LatencyCompleteTime || q.Limit != store.LatencyDefaultLimit || q.Offset != 0 {
		t.Fatalf("applied query %+v", q)
	}
	pg = f.raw(store.LatencyRawQuery{TimeField: store.LatencyCreateTime})
	wantRecords(t, "by create time", pg.Records, r5, r3, r2, r1, r4)
	if pg.Query.TimeField != store.LatencyCreateTime {
		t.Fatalf("applied query %+v", pg.Query)
	}

	pg = f.raw(store.LatencyRawQuery{Limit: 2, Offset: 1})
	wantRecords(t, "limit 2 offset 1", pg.Records, r5, r3)
	if pg.Query.Limit != 2 || pg.Query.Offset != 1 {
		t.Fatalf("applied query %+v", pg.Query)
	}
	wantRecords(t, "offset 4", f.raw(store.LatencyRawQuery{Offset: 4}).Records, r2)
	wantRecords(t, "offset past the end", f.raw(store.LatencyRawQuery{Offset: 5}).Records)
	if pg = f.raw(store.LatencyRawQuery{Limit: 5000}); pg.Query.Limit != store.LatencyMaxLimit || len(pg.Records) != 5 {
		t.Fatalf("limit capped: %+v, %d records", pg.Query, len(pg.Records))
	}

	wantRecords(t, "type D", f.raw(store.LatencyRawQuery{MessageType: "D"}).Records, r4, r3, r1)
	wantRecords(t, "type D, create time", f.raw(store.LatencyRawQuery{MessageType: "D", TimeField: store.LatencyCreateTime}).Records, r3, r1, r4)
	wantRecords(t, "type D limit 1 offset 1", f.raw(store.LatencyRawQuery{MessageType: "D", Limit: 1, Offset: 1}).Records, r3)
	wantRecords(t, "type G", f.raw(store.LatencyRawQuery{MessageType: "G"}).Records, r5)
	wantRecords(t, "unknown type", f.raw(store.LatencyRawQuery{MessageType: "X"}).Records)

	wantRecords(t, "complete [700,1600)", f.raw(store.LatencyRawQuery{LatencyWindow: win(p64(LatencyEpoch+700), p64(LatencyEpoch+1600))}).Records, r3, r1, r2)
	wantRecords(t, "complete from 1100", f.raw(store.LatencyRawQuery{LatencyWindow: win(p64(LatencyEpoch+1100), nil)}).Records, r4, r5, r3, r1)
	wantRecords(t, "complete to 1100", f.raw(store.LatencyRawQuery{LatencyWindow: win(nil, p64(LatencyEpoch+1100))}).Records, r2)
	wantRecords(t, "complete [1100,1101)", f.raw(store.LatencyRawQuery{LatencyWindow: win(p64(LatencyEpoch+1100), p64(LatencyEpoch+1101))}).Records, r3, r1)
	wantRecords(t, "empty window", f.raw(store.LatencyRawQuery{LatencyWindow: win(p64(LatencyEpoch+1100), p64(LatencyEpoch+1100))}).Records)
	wantRecords(t, "create [100,300)", f.raw(store.LatencyRawQuery{TimeField: store.LatencyCreateTime, LatencyWindow: win(p64(LatencyEpoch+100), p64(LatencyEpoch+300))}).Records, r2, r1)
	wantRecords(t, "create from 300", f.raw(store.LatencyRawQuery{TimeField: store.LatencyCreateTime, LatencyWindow: win(p64(LatencyEpoch+300), nil)}).Records, r5, r3)
	wantRecords(t, "create window, type D, offset 1",
		f.raw(store.LatencyRawQuery{TimeField: store.LatencyCreateTime, MessageType: "D", LatencyWindow: win(p64(LatencyEpoch), p64(LatencyEpoch+1000)), Offset: 1}).Records, r1, r4)
	if pg = f.raw(store.LatencyRawQuery{LatencyWindow: win(p64(LatencyEpoch+1), p64(LatencyEpoch+2)), MessageType: "D", Limit: 7, Offset: 3}); pg.Query.From == nil || *pg.Query.From != LatencyEpoch+1 ||
		*pg.Query.To != LatencyEpoch+2 || pg.Query.MessageType != "D" || pg.Query.Limit != 7 || pg.Query.Offset != 3 {
		t.Fatalf("applied query not echoed: %+v", pg.Query)
	}
}

// ---- stages ----

func testStages(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{})
	r := five(f)
	r1, r2, r3, r4, r5 := r[0], r[1], r[2], r[3], r[4]
	all := []store.LatencyRecord{r5, r3, r2, r1, r4} // newest first by create time

	pg := f.stages(store.LatencyStagesQuery{RequestID: "A1"})
	wantStages(t, "request A1 is its newest record", pg, []store.LatencyRecord{r5}, 0, 100)
	if pg.Query.Limit != store.LatencyDefaultLimit || pg.Query.RequestID != "A1" {
		t.Fatalf("applied query %+v", pg.Query)
	}
	var names []string
	for _, e := range pg.Events {
		names = append(names, e.Stage.String()+"/"+e.Status+"/"+e.Service)
		if e.RequestID != "A1" || e.MessageType != "G" || e.ClientID != "client-1" || e.SourceService != "oms-api" ||
			e.SourceSequence != 5 || e.HFTGateway != "hft-1" || e.StreamID != 2 {
			t.Fatalf("event fields %+v", e)
		}
	}
	if want := []string{"OMS gateway received/OK/oms-gateway", "Risk check completed/OK/oms-risk", "Send to Market completed/OK/krx-venue"}; !slices.Equal(names, want) {
		t.Fatalf("events %q, want %q", names, want)
	}
	if len(pg.Segments) != 2 || pg.Segments[0].LatencyNs != 20 || pg.Segments[1].LatencyNs != 80 ||
		pg.Segments[1].From != store.StageRiskCompleted || pg.Segments[1].To != store.StageMarketCompleted {
		t.Fatalf("segments %+v", pg.Segments)
	}

	pg = f.stages(store.LatencyStagesQuery{RequestID: "A4"})
	wantStages(t, "rejected: the last event carries the status", pg, []store.LatencyRecord{r4}, 0, 100)
	if len(pg.Events) != 2 || pg.Events[0].Status != store.LatencyStatusOK || pg.Events[1].Status != store.LatencyStatusRejected {
		t.Fatalf("rejected events %+v", pg.Events)
	}
	wantStages(t, "request A1 type G", f.stages(store.LatencyStagesQuery{RequestID: "A1", MessageType: "G"}), []store.LatencyRecord{r5}, 0, 100)
	wantStages(t, "request A1 type D: its newest record is a G", f.stages(store.LatencyStagesQuery{RequestID: "A1", MessageType: "D"}), nil, 0, 100)
	wantStages(t, "unknown request", f.stages(store.LatencyStagesQuery{RequestID: "nope"}), nil, 0, 100)
	wantStages(t, "request A3 limit 2 offset 1", f.stages(store.LatencyStagesQuery{RequestID: "A3", Limit: 2, Offset: 1}), []store.LatencyRecord{r3}, 1, 2)
	wantStages(t, "request A3 offset past its events", f.stages(store.LatencyStagesQuery{RequestID: "A3", Offset: 5}), nil, 0, 100)

	wantStages(t, "no filter: every record", f.stages(store.LatencyStagesQuery{}), all, 0, 100)
	w := win(p64(LatencyEpoch), p64(LatencyEpoch+400))
	wantStages(t, "create window", f.stages(store.LatencyStagesQuery{LatencyWindow: w}), []store.LatencyRecord{r3, r2, r1, r4}, 0, 100)
	pg = f.stages(store.LatencyStagesQuery{LatencyWindow: w, Limit: 4, Offset: 3})
	wantStages(t, "limit 4 offset 3", pg, []store.LatencyRecord{r3, r2, r1, r4}, 3, 4)
	if len(pg.Events) != 4 || pg.Events[0].RequestID != "A3" || pg.Events[2].RequestID != "A2" || len(pg.Segments) != 2 {
		t.Fatalf("limit 4 offset 3 (two of A3, two of A2): %+v %+v", pg.Events, pg.Segments)
	}
	wantStages(t, "offset 8 limit 3", f.stages(store.LatencyStagesQuery{LatencyWindow: w, Limit: 3, Offset: 8}), []store.LatencyRecord{r3, r2, r1, r4}, 8, 3)
	wantStages(t, "offset 15", f.stages(store.LatencyStagesQuery{LatencyWindow: w, Offset: 15}), []store.LatencyRecord{r3, r2, r1, r4}, 15, 100)
	wantStages(t, "offset 16", f.stages(store.LatencyStagesQuery{LatencyWindow: w, Offset: 16}), nil, 0, 100)
	wantStages(t, "limit 1", f.stages(store.LatencyStagesQuery{Limit: 1}), all, 0, 1)
	wantStages(t, "type D in the window", f.stages(store.LatencyStagesQuery{LatencyWindow: w, MessageType: "D"}), []store.LatencyRecord{r3, r1, r4}, 0, 100)
	wantStages(t, "type D, offset 6", f.stages(store.LatencyStagesQuery{MessageType: "D", Offset: 6}), []store.LatencyRecord{r3, r1, r4}, 6, 100)

	wantStages(t, "request id with a bound narrows the window", f.stages(store.LatencyStagesQuery{RequestID: "A1", LatencyWindow: win(p64(LatencyEpoch), nil)}),
		[]store.LatencyRecord{r5, r1}, 0, 100)
	wantStages(t, "request id in [0,1000)", f.stages(store.LatencyStagesQuery{RequestID: "A1", LatencyWindow: win(p64(LatencyEpoch), p64(LatencyEpoch+1000))}), []store.LatencyRecord{r1}, 0, 100)
	wantStages(t, "request id, window, offset 4", f.stages(store.LatencyStagesQuery{RequestID: "A1", LatencyWindow: win(nil, p64(LatencyEpoch+2000)), Offset: 4, Limit: 3}),
		[]store.LatencyRecord{r5, r1}, 4, 3)
	wantStages(t, "create window [100,101)", f.stages(store.LatencyStagesQuery{LatencyWindow: win(p64(LatencyEpoch+100), p64(LatencyEpoch+101))}), []store.LatencyRecord{r1}, 0, 100)
	if pg = f.stages(store.LatencyStagesQuery{Limit: 5000}); pg.Query.Limit != store.LatencyMaxLimit || len(pg.Events) != 19 {
		t.Fatalf("limit capped: %+v, %d events", pg.Query, len(pg.Events))
	}
}

// testStagesMany pages events across more records than one read of an
// index returns in some stores.
func testStagesMany(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{})
	const n = 1300
	recs := make([]store.LatencyRecord, n)
	for i := range n {
		recs[n-1-i] = f.full(fmt.Sprintf("M%04d", i), "D", LatencyEpoch+int64(i)*1000, LatencyEpoch+int64(i)*1000+500)
	}
	for _, c := range []struct{ offset, limit int }{{0, 1000}, {999, 1000}, {1001, 300}, {2590, 100}, {2599, 5}, {2600, 5}} {
		wantStages(t, fmt.Sprintf("offset %d limit %d", c.offset, c.limit),
			f.stages(store.LatencyStagesQuery{Offset: c.offset, Limit: c.limit}), recs, c.offset, c.limit)
	}
	one := []store.LatencyRecord{recs[n-1-7]}
	wantStages(t, "one request in a wide window", f.stages(store.LatencyStagesQuery{RequestID: "M0007", LatencyWindow: win(p64(LatencyEpoch), nil)}), one, 0, 100)
	wantStages(t, "one request at the old end", f.stages(store.LatencyStagesQuery{RequestID: "M0000", LatencyWindow: win(nil, p64(LatencyEpoch+int64(n)*1000))}),
		recs[n-1:], 0, 100)
	if pg := f.raw(store.LatencyRawQuery{Limit: 1000, Offset: 1000}); len(pg.Records) != 300 || pg.Records[0].RequestID != "M0299" {
		t.Fatalf("raw offset 1000: %d records, first %v", len(pg.Records), ids(pg.Records[:1]))
	}
}

// ---- metrics ----

// rank is the nearest-rank percentile of sorted samples, written out
// independently of store.SummarizeLatencies.
func rank(sorted []int64, p int) float64 {
	n := len(sorted)
	r := (p*n + 99) / 100
	if r < 1 {
		r = 1
	}
	return float64(sorted[r-1])
}

func stats(lats []int64) store.LatencyStats {
	if len(lats) == 0 {
		return store.LatencyStats{}
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	var sum int64
	for _, v := range s {
		sum += v
	}
	return store.LatencyStats{Count: int64(len(s)), Min: s[0], Max: s[len(s)-1], Avg: float64(sum) / float64(len(s)),
		P50: rank(s, 50), P95: rank(s, 95), P99: rank(s, 99)}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// expectMetrics is the documented metrics over records.
func expectMetrics(recs []store.LatencyRecord, q store.LatencyMetricsQuery) store.LatencyMetrics {
	tf := func(r store.LatencyRecord) int64 {
		if q.TimeField == store.LatencyCreateTime {
			return r.CreateTime
		}
		return r.CompleteTime
	}
	var in []store.LatencyRecord
	for _, r := range recs {
		t := tf(r)
		if (q.MessageType == "" || r.MessageType == q.MessageType) && (q.From == nil || t >= *q.From) && (q.To == nil || t < *q.To) {
			in = append(in, r)
		}
	}
	out := store.LatencyMetrics{Query: q}
	if q.From != nil {
		out.From = *q.From
	}
	if q.To != nil {
		out.To = *q.To
	}
	if len(in) == 0 {
		return out
	}
	slices.SortStableFunc(in, func(a, b store.LatencyRecord) int { return cmp.Compare(tf(a), tf(b)) })
	if q.From == nil {
		out.From = tf(in[0])
	}
	if q.To == nil {
		out.To = tf(in[len(in)-1]) + 1
	}
	origin := out.From
	if q.From == nil {
		origin = floorDiv(out.From, q.BucketNs) * q.BucketNs
	}
	var all []int64
	byStart := map[int64][]int64{}
	var starts []int64
	for _, r := range in {
		s := origin + floorDiv(tf(r)-origin, q.BucketNs)*q.BucketNs
		if _, ok := byStart[s]; !ok {
			starts = append(starts, s)
		}
		byStart[s] = append(byStart[s], r.LatencyNs)
		all = append(all, r.LatencyNs)
	}
	slices.Sort(starts)
	for _, s := range starts {
		out.Buckets = append(out.Buckets, store.LatencyBucket{Start: s, End: s + q.BucketNs, LatencyStats: stats(byStart[s])})
	}
	out.Summary = stats(all)
	return out
}

func wantMetrics(t *testing.T, what string, got, want store.LatencyMetrics) {
	t.Helper()
	if got.From != want.From || got.To != want.To || !reflect.DeepEqual(got.Summary, want.Summary) ||
		len(got.Buckets) != len(want.Buckets) || (len(want.Buckets) > 0 && !reflect.DeepEqual(got.Buckets, want.Buckets)) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	if got.Query.BucketNs != want.Query.BucketNs || got.Query.TimeField != want.Query.TimeField || got.Query.MessageType != want.Query.MessageType {
		t.Fatalf("%s: applied query %+v, want %+v", what, got.Query, want.Query)
	}
}

func testMetrics(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{})
	if m := f.metrics(store.LatencyMetricsQuery{}); m.Summary.Count != 0 || m.From != 0 || m.To != 0 || m.Buckets != nil ||
		m.Query.BucketNs != store.LatencyDefaultBucketNs || m.Query.TimeField != store.LatencyCompleteTime {
		t.Fatalf("empty store: %+v", m)
	}
	var recs []store.LatencyRecord
	// 20 D messages completing 300 latMS apart with latencies 1..20 µs in a
	// scrambled order, and 3 F messages.
	for i := range 20 {
		lat := int64((i*7)%20+1) * 1000
		c := LatencyEpoch + int64(i)*300*latMS
		recs = append(recs, f.full(fmt.Sprintf("D%02d", i), "D", c-lat, c))
	}
	for j := range 3 {
		c := LatencyEpoch + int64(j)*4000*latMS + 1
		recs = append(recs, f.full(fmt.Sprintf("F%d", j), "F", c-int64(j+1)*100, c))
	}

	m := f.metrics(store.LatencyMetricsQuery{MessageType: "D"})
	if s := m.Summary; s.Count != 20 || s.Min != 1000 || s.Max != 20000 || s.Avg != 10500 || s.P50 != 10000 || s.P95 != 19000 || s.P99 != 20000 {
		t.Fatalf("summary %+v", s)
	}
	if m.From != LatencyEpoch || m.To != LatencyEpoch+5700*latMS+1 || len(m.Buckets) != 6 {
		t.Fatalf("window %d..%d, %d buckets", m.From-LatencyEpoch, m.To-LatencyEpoch, len(m.Buckets))
	}
	if b := m.Buckets[0]; b.Start != LatencyEpoch || b.End != LatencyEpoch+1000*latMS || b.Count != 4 || b.Min != 1000 || b.Max != 15000 || b.Avg != 6500 ||
		b.P50 != 2000 || b.P95 != 15000 || b.P99 != 15000 {
		t.Fatalf("first bucket %+v", b)
	}
	q := func(mq store.LatencyMetricsQuery) store.LatencyMetricsQuery {
		if mq.TimeField == "" {
			mq.TimeField = store.LatencyCompleteTime
		}
		if mq.BucketNs == 0 {
			mq.BucketNs = store.LatencyDefaultBucketNs
		}
		return mq
	}
	for name, mq := range map[string]store.LatencyMetricsQuery{
		"type D":                       {MessageType: "D"},
		"every type":                   {},
		"type F":                       {MessageType: "F"},
		"unaligned from":               {MessageType: "D", LatencyWindow: win(p64(LatencyEpoch+150*latMS), p64(LatencyEpoch+3000*latMS))},
		"from only":                    {LatencyWindow: win(p64(LatencyEpoch+1000*latMS), nil)},
		"to only":                      {LatencyWindow: win(nil, p64(LatencyEpoch+2000*latMS))},
		"250 latMS buckets":            {BucketNs: 250 * latMS},
		"1 ns buckets":                 {MessageType: "D", BucketNs: 1},
		"create time":                  {TimeField: store.LatencyCreateTime},
		"create time, D, window":       {TimeField: store.LatencyCreateTime, MessageType: "D", LatencyWindow: win(p64(LatencyEpoch+1000*latMS), p64(LatencyEpoch+4000*latMS)), BucketNs: 700 * latMS},
		"empty window":                 {LatencyWindow: win(p64(LatencyEpoch+100_000*latMS), nil)},
		"empty window with both ends":  {LatencyWindow: win(p64(LatencyEpoch-10), p64(LatencyEpoch-5))},
		"unknown type":                 {MessageType: "X", LatencyWindow: win(nil, p64(LatencyEpoch))},
		"a bucket wider than the data": {BucketNs: 3600_000 * latMS},
	} {
		wantMetrics(t, name, f.metrics(mq), expectMetrics(recs, q(mq)))
	}
	if m := f.metrics(store.LatencyMetricsQuery{LatencyWindow: win(p64(LatencyEpoch+150*latMS), p64(LatencyEpoch+3000*latMS)), MessageType: "D"}); m.Buckets[0].Start != LatencyEpoch+150*latMS ||
		len(m.Buckets) != 3 || m.Buckets[0].Count != 3 || m.Buckets[1].Count != 4 || m.Buckets[2].Count != 2 || m.Buckets[2].End != LatencyEpoch+3150*latMS {
		t.Fatalf("buckets start at from: %+v", m.Buckets)
	}
}

// testNegative: times before the epoch order and bucket like any other.
func testNegative(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{})
	var recs []store.LatencyRecord
	for i, c := range []int64{-1500, -500, 500, -1} {
		recs = append(recs, f.full(fmt.Sprintf("N%d", i), "D", c-100-int64(i), c))
	}
	wantRecords(t, "newest first", f.raw(store.LatencyRawQuery{}).Records, recs[2], recs[3], recs[1], recs[0])
	wantRecords(t, "from -1000", f.raw(store.LatencyRawQuery{LatencyWindow: win(p64(-1000), p64(0))}).Records, recs[3], recs[1])
	mq := store.LatencyMetricsQuery{TimeField: store.LatencyCompleteTime, BucketNs: 1000}
	m := f.metrics(mq)
	wantMetrics(t, "1 µs buckets", m, expectMetrics(recs, mq))
	if m.From != -1500 || len(m.Buckets) != 3 || m.Buckets[0].Start != -2000 || m.Buckets[1].Count != 2 {
		t.Fatalf("negative buckets %+v", m)
	}
}

// ---- retention and bound ----

func testRetention(t *testing.T, open LatencyOpen) {
	const hour = int64(time.Hour)
	f := newLatFixture(t, open, LatencyConfig{Retention: time.Hour})
	x := f.full("X", "D", LatencyEpoch, LatencyEpoch+10)
	y := f.full("Y", "D", LatencyEpoch+hour/2, LatencyEpoch+hour/2+10)

	f.clock.Set(LatencyEpoch + hour + 10) // x completed exactly Retention ago: kept
	wantRecords(t, "at the retention", f.raw(store.LatencyRawQuery{}).Records, y, x)
	f.clock.Set(LatencyEpoch + hour + 11)
	wantRecords(t, "past it", f.raw(store.LatencyRawQuery{}).Records, y)
	wantStages(t, "x by request id", f.stages(store.LatencyStagesQuery{RequestID: "X"}), nil, 0, 100)
	wantStages(t, "y by request id", f.stages(store.LatencyStagesQuery{RequestID: "Y"}), []store.LatencyRecord{y}, 0, 100)
	wantStages(t, "window", f.stages(store.LatencyStagesQuery{LatencyWindow: win(p64(LatencyEpoch), nil)}), []store.LatencyRecord{y}, 0, 100)
	if m := f.metrics(store.LatencyMetricsQuery{}); m.Summary.Count != 1 || m.From != LatencyEpoch+hour/2+10 {
		t.Fatalf("metrics after retention: %+v", m)
	}
	if m := f.metrics(store.LatencyMetricsQuery{TimeField: store.LatencyCreateTime, MessageType: "D"}); m.Summary.Count != 1 {
		t.Fatalf("metrics by create time after retention: %+v", m)
	}

	f.clock.Set(LatencyEpoch + 2*hour)
	wantRecords(t, "everything expired", f.raw(store.LatencyRawQuery{}).Records)
	wantStages(t, "y expired", f.stages(store.LatencyStagesQuery{RequestID: "Y"}), nil, 0, 100)
	if m := f.metrics(store.LatencyMetricsQuery{}); m.Summary.Count != 0 {
		t.Fatalf("metrics after everything expired: %+v", m)
	}
	z := f.full("Z", "F", LatencyEpoch+2*hour+1, LatencyEpoch+2*hour+5)
	wantRecords(t, "a new record", f.raw(store.LatencyRawQuery{}).Records, z)
}

func testMaxRecords(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{MaxRecords: 3})
	var recs []store.LatencyRecord
	for i := range 5 {
		recs = append(recs, f.full(fmt.Sprintf("K%d", i), []string{"D", "F"}[i%2], LatencyEpoch+int64(i)*100, LatencyEpoch+int64(i)*100+50))
	}
	wantRecords(t, "the newest three", f.raw(store.LatencyRawQuery{}).Records, recs[4], recs[3], recs[2])
	wantRecords(t, "type F", f.raw(store.LatencyRawQuery{MessageType: "F"}).Records, recs[3])
	wantRecords(t, "type D by create time", f.raw(store.LatencyRawQuery{MessageType: "D", TimeField: store.LatencyCreateTime}).Records, recs[4], recs[2])
	wantStages(t, "evicted request", f.stages(store.LatencyStagesQuery{RequestID: "K1"}), nil, 0, 100)
	wantStages(t, "kept request", f.stages(store.LatencyStagesQuery{RequestID: "K2"}), recs[2:3], 0, 100)
	wantStages(t, "window", f.stages(store.LatencyStagesQuery{LatencyWindow: win(p64(LatencyEpoch), nil)}), []store.LatencyRecord{recs[4], recs[3], recs[2]}, 0, 100)
	if m := f.metrics(store.LatencyMetricsQuery{}); m.Summary.Count != 3 {
		t.Fatalf("metrics: %+v", m)
	}
	if m := f.metrics(store.LatencyMetricsQuery{TimeField: store.LatencyCreateTime, MessageType: "F"}); m.Summary.Count != 1 {
		t.Fatalf("metrics of F: %+v", m)
	}
}

// ---- errors ----

func testBadQueries(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{})
	f.full("E1", "D", LatencyEpoch, LatencyEpoch+10)
	ctx := context.Background()
	back := win(p64(LatencyEpoch+10), p64(LatencyEpoch+9))
	_, err := f.store.Raw(ctx, store.LatencyRawQuery{LatencyWindow: back})
	wantCode(t, "raw to < from", err)
	_, err = f.store.Raw(ctx, store.LatencyRawQuery{Limit: -1})
	wantCode(t, "raw limit -1", err)
	_, err = f.store.Raw(ctx, store.LatencyRawQuery{Offset: -1})
	wantCode(t, "raw offset -1", err)
	_, err = f.store.Raw(ctx, store.LatencyRawQuery{TimeField: "stage_time"})
	wantCode(t, "raw time field", err)
	_, err = f.store.Stages(ctx, store.LatencyStagesQuery{LatencyWindow: back})
	wantCode(t, "stages to < from", err)
	_, err = f.store.Stages(ctx, store.LatencyStagesQuery{RequestID: "E1", LatencyWindow: back})
	wantCode(t, "stages by request, to < from", err)
	_, err = f.store.Stages(ctx, store.LatencyStagesQuery{RequestID: "E1", Limit: -1})
	wantCode(t, "stages limit -1", err)
	_, err = f.store.Stages(ctx, store.LatencyStagesQuery{Offset: -1})
	wantCode(t, "stages offset -1", err)
	_, err = f.store.Metrics(ctx, store.LatencyMetricsQuery{LatencyWindow: back})
	wantCode(t, "metrics to < from", err)
	_, err = f.store.Metrics(ctx, store.LatencyMetricsQuery{TimeField: "nope"})
	wantCode(t, "metrics time field", err)
	_, err = f.store.Metrics(ctx, store.LatencyMetricsQuery{BucketNs: -1})
	wantCode(t, "metrics bucket -1", err)
	// Nothing above changed anything.
	if pg := f.raw(store.LatencyRawQuery{}); len(pg.Records) != 1 {
		t.Fatalf("records after bad queries: %d", len(pg.Records))
	}
}

// ---- concurrency ----

func testConcurrent(t *testing.T, open LatencyOpen) {
	f := newLatFixture(t, open, LatencyConfig{})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				now := f.clock.NowNs()
				r := latencyRecord(fmt.Sprintf("W%d-%d", w, i), "D", []byte(`{}`), store.LatencyMeta{StreamID: w}, "",
					latStamp{store.StageGatewayReceived, now}, latStamp{store.StageRiskCompleted, now}, latStamp{store.StageMarketCompleted, now})
				if err := f.store.Put(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 { // queries while others write
					if _, err := f.store.Raw(context.Background(), store.LatencyRawQuery{Limit: 10}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if pg := f.raw(store.LatencyRawQuery{Limit: 1000}); len(pg.Records) != workers*each {
		t.Fatalf("%d records, want %d", len(pg.Records), workers*each)
	}
	if m := f.metrics(store.LatencyMetricsQuery{}); m.Summary.Count != workers*each {
		t.Fatalf("metrics count %d", m.Summary.Count)
	}
	if pg := f.stages(store.LatencyStagesQuery{RequestID: "W3-7"}); len(pg.Events) != 3 || pg.Events[0].StreamID != 3 {
		t.Fatalf("stages of W3-7: %+v", pg.Events)
	}
}
