// Package latencytest is the conformance suite every latency.Store runs:
// latency.Memory from server/latency, the Redis store from store/redis.
// Passing it means a store answers the three diagnostics exactly as the
// package doc of server/latency describes (ordering, paging, windows,
// nearest-rank percentiles, buckets, retention, the bound, bad queries).
//
// Records are made the way the service makes them, by a latency.Recorder
// on a settable Clock shared with the store, and every record read back
// must equal (reflect.DeepEqual, unexported stage set included) the one
// the Recorder handed to Put.
package latencytest

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
)

// Clock is a settable latency.Clock, safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock reading ns.
func NewClock(ns int64) *Clock { c := &Clock{}; c.ns.Store(ns); return c }

// NowNs implements latency.Clock.
func (c *Clock) NowNs() int64 { return c.ns.Load() }

// Set sets the time.
func (c *Clock) Set(ns int64) { c.ns.Store(ns) }

// Config is what the suite opens a store with; zero fields mean the
// store's defaults.
type Config struct {
	Clock      latency.Clock // drives retention; shared with the Recorder
	Retention  time.Duration
	MaxRecords int
}

// Open returns a fresh, empty store (cleaned up by t.Cleanup).
type Open func(t *testing.T, c Config) latency.Store

// B is the base time of the suite's records: an epoch-ns instant that is
// a multiple of a second, so default buckets start at it.
const B = int64(1_700_000_000_000_000_000)

const ms = int64(time.Millisecond)

// Run runs the suite against the stores open returns.
func Run(t *testing.T, open Open) {
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

// ---- fixture ----

// tee keeps every record the Recorder puts, in Put order.
type tee struct {
	latency.Store
	mu   sync.Mutex
	recs []latency.Record
}

func (s *tee) Put(ctx context.Context, r latency.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
	return s.Store.Put(ctx, r)
}

type fixture struct {
	t     *testing.T
	clock *Clock
	store latency.Store
	rec   *latency.Recorder
	tee   *tee
	seq   int64
}

func newFixture(t *testing.T, open Open, c Config) *fixture {
	t.Helper()
	clock := NewClock(B)
	c.Clock = clock
	st := open(t, c)
	tw := &tee{Store: st}
	return &fixture{t: t, clock: clock, store: st, rec: latency.NewRecorder(tw, latency.RecorderOptions{Clock: clock}), tee: tw}
}

// stamp is a stage recorded at a time.
type stamp struct {
	s  latency.Stage
	at int64
}

func at(s latency.Stage, t int64) stamp { return stamp{s, t} }

// msg records one message through the Recorder: Begin at the first stamp,
// Mark the middle ones, End at the last with status ("" = OK). It returns
// the record the Recorder put.
func (f *fixture) msg(id, typ, body, status string, stamps ...stamp) latency.Record {
	f.t.Helper()
	f.seq++
	meta := latency.Meta{ClientID: "client-1", SourceService: "oms-api", SourceSequence: f.seq, HFTGateway: "hft-1", StreamID: 2}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	f.clock.Set(stamps[0].at)
	tr := f.rec.Begin(id, typ, b, meta)
	for _, st := range stamps[1 : len(stamps)-1] {
		f.clock.Set(st.at)
		if err := tr.Mark(st.s); err != nil {
			f.t.Fatal(err)
		}
	}
	last := stamps[len(stamps)-1]
	f.clock.Set(last.at)
	if err := tr.End(last.s, status); err != nil {
		f.t.Fatal(err)
	}
	f.tee.mu.Lock()
	defer f.tee.mu.Unlock()
	return f.tee.recs[len(f.tee.recs)-1]
}

// full records a message that passes GatewayReceived at create and
// MarketCompleted at complete.
func (f *fixture) full(id, typ string, create, complete int64) latency.Record {
	f.t.Helper()
	return f.msg(id, typ, fmt.Sprintf(`{"id":%q}`, id), "", at(latency.GatewayReceived, create), at(latency.MarketCompleted, complete))
}

func (f *fixture) raw(q latency.RawQuery) latency.RawPage {
	f.t.Helper()
	pg, err := f.store.Raw(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Raw(%+v): %v", q, err)
	}
	return pg
}

func (f *fixture) stages(q latency.StagesQuery) latency.StagesPage {
	f.t.Helper()
	pg, err := f.store.Stages(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Stages(%+v): %v", q, err)
	}
	return pg
}

func (f *fixture) metrics(q latency.MetricsQuery) latency.Metrics {
	f.t.Helper()
	m, err := f.store.Metrics(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Metrics(%+v): %v", q, err)
	}
	return m
}

func p64(v int64) *int64 { return &v }

func win(from, to *int64) latency.Window { return latency.Window{From: from, To: to} }

func ids(rs []latency.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s/%s@%d-%d", r.RequestID, r.MessageType, r.CreateTime-B, r.CompleteTime-B)
	}
	return out
}

// wantRecords checks a page's records, fields and stage set included.
func wantRecords(t *testing.T, what string, got []latency.Record, want ...latency.Record) {
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
func pageEvents(recs []latency.Record, offset, limit int) ([]latency.Event, []latency.Segment) {
	var evs []latency.Event
	var segs []latency.Segment
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
				segs = append(segs, latency.Segment{RequestID: r.RequestID, From: on[i-1].Stage, To: e.Stage,
					FromTime: on[i-1].StageTime, ToTime: e.StageTime, LatencyNs: e.StageTime - on[i-1].StageTime})
			}
		}
		if len(evs) >= limit {
			break
		}
	}
	return evs, segs
}

func wantStages(t *testing.T, what string, got latency.StagesPage, recs []latency.Record, offset, limit int) {
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
	if apperr.CodeOf(err) != apperr.InvalidRequest {
		t.Fatalf("%s: %v, want %s", what, err, apperr.InvalidRequest)
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
func five(f *fixture) [5]latency.Record {
	var r [5]latency.Record
	r[0] = f.msg("A1", latency.MsgNewOrder, `{"id":"A1"}`, "",
		at(latency.GatewayReceived, B+100), at(latency.RiskCompleted, B+300), at(latency.SentToGateway, B+400),
		at(latency.GatewayAccepted, B+500), at(latency.MarketStarted, B+600), at(latency.MarketCompleted, B+1100))
	r[1] = f.msg("A2", latency.MsgCancel, `{ "id" : "A2", "note": "a<b & c" }`, "",
		at(latency.GatewayReceived, B+200), at(latency.RiskCompleted, B+250), at(latency.MarketCompleted, B+700))
	r[2] = f.msg("A3", latency.MsgNewOrder, "", "",
		at(latency.GatewayReceived, B+300), at(latency.RiskCompleted, B+350), at(latency.SentToGateway, B+360),
		at(latency.GatewayAccepted, B+370), at(latency.MarketCompleted, B+1100))
	r[3] = f.msg("A4", latency.MsgNewOrder, `{"id":"A4"}`, latency.StatusRejected,
		at(latency.GatewayReceived, B+50), at(latency.RiskCompleted, B+2000))
	r[4] = f.msg("A1", latency.MsgReplace, `{"id":"A1","replace":true}`, "",
		at(latency.GatewayReceived, B+1500), at(latency.RiskCompleted, B+1520), at(latency.MarketCompleted, B+1600))
	return r
}

func testRaw(t *testing.T, open Open) {
	f := newFixture(t, open, Config{})
	r := five(f)
	r1, r2, r3, r4, r5 := r[0], r[1], r[2], r[3], r[4]
	if r4.Status != latency.StatusRejected || r4.LatencyNs != 1950 || r3.Body != nil {
		t.Fatalf("fixture: %+v %+v", r4, r3)
	}

	pg := f.raw(latency.RawQuery{})
	wantRecords(t, "newest first by complete time, a tie later arrival first", pg.Records, r4, r5, r3, r1, r2)
	if q := pg.Query; q.TimeField != latency.CompleteTime || q.Limit != latency.DefaultLimit || q.Offset != 0 {
		t.Fatalf("applied query %+v", q)
	}
	pg = f.raw(latency.RawQuery{TimeField: latency.CreateTime})
	wantRecords(t, "by create time", pg.Records, r5, r3, r2, r1, r4)
	if pg.Query.TimeField != latency.CreateTime {
		t.Fatalf("applied query %+v", pg.Query)
	}

	pg = f.raw(latency.RawQuery{Limit: 2, Offset: 1})
	wantRecords(t, "limit 2 offset 1", pg.Records, r5, r3)
	if pg.Query.Limit != 2 || pg.Query.Offset != 1 {
		t.Fatalf("applied query %+v", pg.Query)
	}
	wantRecords(t, "offset 4", f.raw(latency.RawQuery{Offset: 4}).Records, r2)
	wantRecords(t, "offset past the end", f.raw(latency.RawQuery{Offset: 5}).Records)
	if pg = f.raw(latency.RawQuery{Limit: 5000}); pg.Query.Limit != latency.MaxLimit || len(pg.Records) != 5 {
		t.Fatalf("limit capped: %+v, %d records", pg.Query, len(pg.Records))
	}

	wantRecords(t, "type D", f.raw(latency.RawQuery{MessageType: "D"}).Records, r4, r3, r1)
	wantRecords(t, "type D, create time", f.raw(latency.RawQuery{MessageType: "D", TimeField: latency.CreateTime}).Records, r3, r1, r4)
	wantRecords(t, "type D limit 1 offset 1", f.raw(latency.RawQuery{MessageType: "D", Limit: 1, Offset: 1}).Records, r3)
	wantRecords(t, "type G", f.raw(latency.RawQuery{MessageType: "G"}).Records, r5)
	wantRecords(t, "unknown type", f.raw(latency.RawQuery{MessageType: "X"}).Records)

	wantRecords(t, "complete [700,1600)", f.raw(latency.RawQuery{Window: win(p64(B+700), p64(B+1600))}).Records, r3, r1, r2)
	wantRecords(t, "complete from 1100", f.raw(latency.RawQuery{Window: win(p64(B+1100), nil)}).Records, r4, r5, r3, r1)
	wantRecords(t, "complete to 1100", f.raw(latency.RawQuery{Window: win(nil, p64(B+1100))}).Records, r2)
	wantRecords(t, "complete [1100,1101)", f.raw(latency.RawQuery{Window: win(p64(B+1100), p64(B+1101))}).Records, r3, r1)
	wantRecords(t, "empty window", f.raw(latency.RawQuery{Window: win(p64(B+1100), p64(B+1100))}).Records)
	wantRecords(t, "create [100,300)", f.raw(latency.RawQuery{TimeField: latency.CreateTime, Window: win(p64(B+100), p64(B+300))}).Records, r2, r1)
	wantRecords(t, "create from 300", f.raw(latency.RawQuery{TimeField: latency.CreateTime, Window: win(p64(B+300), nil)}).Records, r5, r3)
	wantRecords(t, "create window, type D, offset 1",
		f.raw(latency.RawQuery{TimeField: latency.CreateTime, MessageType: "D", Window: win(p64(B), p64(B+1000)), Offset: 1}).Records, r1, r4)
	if pg = f.raw(latency.RawQuery{Window: win(p64(B+1), p64(B+2)), MessageType: "D", Limit: 7, Offset: 3}); pg.Query.From == nil || *pg.Query.From != B+1 ||
		*pg.Query.To != B+2 || pg.Query.MessageType != "D" || pg.Query.Limit != 7 || pg.Query.Offset != 3 {
		t.Fatalf("applied query not echoed: %+v", pg.Query)
	}
}

// ---- stages ----

func testStages(t *testing.T, open Open) {
	f := newFixture(t, open, Config{})
	r := five(f)
	r1, r2, r3, r4, r5 := r[0], r[1], r[2], r[3], r[4]
	all := []latency.Record{r5, r3, r2, r1, r4} // newest first by create time

	pg := f.stages(latency.StagesQuery{RequestID: "A1"})
	wantStages(t, "request A1 is its newest record", pg, []latency.Record{r5}, 0, 100)
	if pg.Query.Limit != latency.DefaultLimit || pg.Query.RequestID != "A1" {
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
		pg.Segments[1].From != latency.RiskCompleted || pg.Segments[1].To != latency.MarketCompleted {
		t.Fatalf("segments %+v", pg.Segments)
	}

	pg = f.stages(latency.StagesQuery{RequestID: "A4"})
	wantStages(t, "rejected: the last event carries the status", pg, []latency.Record{r4}, 0, 100)
	if len(pg.Events) != 2 || pg.Events[0].Status != latency.StatusOK || pg.Events[1].Status != latency.StatusRejected {
		t.Fatalf("rejected events %+v", pg.Events)
	}
	wantStages(t, "request A1 type G", f.stages(latency.StagesQuery{RequestID: "A1", MessageType: "G"}), []latency.Record{r5}, 0, 100)
	wantStages(t, "request A1 type D: its newest record is a G", f.stages(latency.StagesQuery{RequestID: "A1", MessageType: "D"}), nil, 0, 100)
	wantStages(t, "unknown request", f.stages(latency.StagesQuery{RequestID: "nope"}), nil, 0, 100)
	wantStages(t, "request A3 limit 2 offset 1", f.stages(latency.StagesQuery{RequestID: "A3", Limit: 2, Offset: 1}), []latency.Record{r3}, 1, 2)
	wantStages(t, "request A3 offset past its events", f.stages(latency.StagesQuery{RequestID: "A3", Offset: 5}), nil, 0, 100)

	wantStages(t, "no filter: every record", f.stages(latency.StagesQuery{}), all, 0, 100)
	w := win(p64(B), p64(B+400))
	wantStages(t, "create window", f.stages(latency.StagesQuery{Window: w}), []latency.Record{r3, r2, r1, r4}, 0, 100)
	pg = f.stages(latency.StagesQuery{Window: w, Limit: 4, Offset: 3})
	wantStages(t, "limit 4 offset 3", pg, []latency.Record{r3, r2, r1, r4}, 3, 4)
	if len(pg.Events) != 4 || pg.Events[0].RequestID != "A3" || pg.Events[2].RequestID != "A2" || len(pg.Segments) != 2 {
		t.Fatalf("limit 4 offset 3 (two of A3, two of A2): %+v %+v", pg.Events, pg.Segments)
	}
	wantStages(t, "offset 8 limit 3", f.stages(latency.StagesQuery{Window: w, Limit: 3, Offset: 8}), []latency.Record{r3, r2, r1, r4}, 8, 3)
	wantStages(t, "offset 15", f.stages(latency.StagesQuery{Window: w, Offset: 15}), []latency.Record{r3, r2, r1, r4}, 15, 100)
	wantStages(t, "offset 16", f.stages(latency.StagesQuery{Window: w, Offset: 16}), nil, 0, 100)
	wantStages(t, "limit 1", f.stages(latency.StagesQuery{Limit: 1}), all, 0, 1)
	wantStages(t, "type D in the window", f.stages(latency.StagesQuery{Window: w, MessageType: "D"}), []latency.Record{r3, r1, r4}, 0, 100)
	wantStages(t, "type D, offset 6", f.stages(latency.StagesQuery{MessageType: "D", Offset: 6}), []latency.Record{r3, r1, r4}, 6, 100)

	wantStages(t, "request id with a bound narrows the window", f.stages(latency.StagesQuery{RequestID: "A1", Window: win(p64(B), nil)}),
		[]latency.Record{r5, r1}, 0, 100)
	wantStages(t, "request id in [0,1000)", f.stages(latency.StagesQuery{RequestID: "A1", Window: win(p64(B), p64(B+1000))}), []latency.Record{r1}, 0, 100)
	wantStages(t, "request id, window, offset 4", f.stages(latency.StagesQuery{RequestID: "A1", Window: win(nil, p64(B+2000)), Offset: 4, Limit: 3}),
		[]latency.Record{r5, r1}, 4, 3)
	wantStages(t, "create window [100,101)", f.stages(latency.StagesQuery{Window: win(p64(B+100), p64(B+101))}), []latency.Record{r1}, 0, 100)
	if pg = f.stages(latency.StagesQuery{Limit: 5000}); pg.Query.Limit != latency.MaxLimit || len(pg.Events) != 19 {
		t.Fatalf("limit capped: %+v, %d events", pg.Query, len(pg.Events))
	}
}

// testStagesMany pages events across more records than one read of an
// index returns in some stores.
func testStagesMany(t *testing.T, open Open) {
	f := newFixture(t, open, Config{})
	const n = 1300
	recs := make([]latency.Record, n)
	for i := range n {
		recs[n-1-i] = f.full(fmt.Sprintf("M%04d", i), latency.MsgNewOrder, B+int64(i)*1000, B+int64(i)*1000+500)
	}
	for _, c := range []struct{ offset, limit int }{{0, 1000}, {999, 1000}, {1001, 300}, {2590, 100}, {2599, 5}, {2600, 5}} {
		wantStages(t, fmt.Sprintf("offset %d limit %d", c.offset, c.limit),
			f.stages(latency.StagesQuery{Offset: c.offset, Limit: c.limit}), recs, c.offset, c.limit)
	}
	one := []latency.Record{recs[n-1-7]}
	wantStages(t, "one request in a wide window", f.stages(latency.StagesQuery{RequestID: "M0007", Window: win(p64(B), nil)}), one, 0, 100)
	wantStages(t, "one request at the old end", f.stages(latency.StagesQuery{RequestID: "M0000", Window: win(nil, p64(B+int64(n)*1000))}),
		recs[n-1:], 0, 100)
	if pg := f.raw(latency.RawQuery{Limit: 1000, Offset: 1000}); len(pg.Records) != 300 || pg.Records[0].RequestID != "M0299" {
		t.Fatalf("raw offset 1000: %d records, first %v", len(pg.Records), ids(pg.Records[:1]))
	}
}

// ---- metrics ----

// rank is the nearest-rank percentile of sorted samples, written out
// independently of latency.Summarize.
func rank(sorted []int64, p int) float64 {
	n := len(sorted)
	r := (p*n + 99) / 100
	if r < 1 {
		r = 1
	}
	return float64(sorted[r-1])
}

func stats(lats []int64) latency.Stats {
	if len(lats) == 0 {
		return latency.Stats{}
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	var sum int64
	for _, v := range s {
		sum += v
	}
	return latency.Stats{Count: int64(len(s)), Min: s[0], Max: s[len(s)-1], Avg: float64(sum) / float64(len(s)),
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
func expectMetrics(recs []latency.Record, q latency.MetricsQuery) latency.Metrics {
	tf := func(r latency.Record) int64 {
		if q.TimeField == latency.CreateTime {
			return r.CreateTime
		}
		return r.CompleteTime
	}
	var in []latency.Record
	for _, r := range recs {
		t := tf(r)
		if (q.MessageType == "" || r.MessageType == q.MessageType) && (q.From == nil || t >= *q.From) && (q.To == nil || t < *q.To) {
			in = append(in, r)
		}
	}
	out := latency.Metrics{Query: q}
	if q.From != nil {
		out.From = *q.From
	}
	if q.To != nil {
		out.To = *q.To
	}
	if len(in) == 0 {
		return out
	}
	slices.SortStableFunc(in, func(a, b latency.Record) int { return cmp.Compare(tf(a), tf(b)) })
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
		out.Buckets = append(out.Buckets, latency.Bucket{Start: s, End: s + q.BucketNs, Stats: stats(byStart[s])})
	}
	out.Summary = stats(all)
	return out
}

func wantMetrics(t *testing.T, what string, got, want latency.Metrics) {
	t.Helper()
	if got.From != want.From || got.To != want.To || !reflect.DeepEqual(got.Summary, want.Summary) ||
		len(got.Buckets) != len(want.Buckets) || (len(want.Buckets) > 0 && !reflect.DeepEqual(got.Buckets, want.Buckets)) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	if got.Query.BucketNs != want.Query.BucketNs || got.Query.TimeField != want.Query.TimeField || got.Query.MessageType != want.Query.MessageType {
		t.Fatalf("%s: applied query %+v, want %+v", what, got.Query, want.Query)
	}
}

func testMetrics(t *testing.T, open Open) {
	f := newFixture(t, open, Config{})
	if m := f.metrics(latency.MetricsQuery{}); m.Summary.Count != 0 || m.From != 0 || m.To != 0 || m.Buckets != nil ||
		m.Query.BucketNs != latency.DefaultBucketNs || m.Query.TimeField != latency.CompleteTime {
		t.Fatalf("empty store: %+v", m)
	}
	var recs []latency.Record
	// 20 D messages completing 300 ms apart with latencies 1..20 µs in a
	// scrambled order, and 3 F messages.
	for i := range 20 {
		lat := int64((i*7)%20+1) * 1000
		c := B + int64(i)*300*ms
		recs = append(recs, f.full(fmt.Sprintf("D%02d", i), "D", c-lat, c))
	}
	for j := range 3 {
		c := B + int64(j)*4000*ms + 1
		recs = append(recs, f.full(fmt.Sprintf("F%d", j), "F", c-int64(j+1)*100, c))
	}

	m := f.metrics(latency.MetricsQuery{MessageType: "D"})
	if s := m.Summary; s.Count != 20 || s.Min != 1000 || s.Max != 20000 || s.Avg != 10500 || s.P50 != 10000 || s.P95 != 19000 || s.P99 != 20000 {
		t.Fatalf("summary %+v", s)
	}
	if m.From != B || m.To != B+5700*ms+1 || len(m.Buckets) != 6 {
		t.Fatalf("window %d..%d, %d buckets", m.From-B, m.To-B, len(m.Buckets))
	}
	if b := m.Buckets[0]; b.Start != B || b.End != B+1000*ms || b.Count != 4 || b.Min != 1000 || b.Max != 15000 || b.Avg != 6500 ||
		b.P50 != 2000 || b.P95 != 15000 || b.P99 != 15000 {
		t.Fatalf("first bucket %+v", b)
	}
	q := func(mq latency.MetricsQuery) latency.MetricsQuery {
		if mq.TimeField == "" {
			mq.TimeField = latency.CompleteTime
		}
		if mq.BucketNs == 0 {
			mq.BucketNs = latency.DefaultBucketNs
		}
		return mq
	}
	for name, mq := range map[string]latency.MetricsQuery{
		"type D":                       {MessageType: "D"},
		"every type":                   {},
		"type F":                       {MessageType: "F"},
		"unaligned from":               {MessageType: "D", Window: win(p64(B+150*ms), p64(B+3000*ms))},
		"from only":                    {Window: win(p64(B+1000*ms), nil)},
		"to only":                      {Window: win(nil, p64(B+2000*ms))},
		"250 ms buckets":               {BucketNs: 250 * ms},
		"1 ns buckets":                 {MessageType: "D", BucketNs: 1},
		"create time":                  {TimeField: latency.CreateTime},
		"create time, D, window":       {TimeField: latency.CreateTime, MessageType: "D", Window: win(p64(B+1000*ms), p64(B+4000*ms)), BucketNs: 700 * ms},
		"empty window":                 {Window: win(p64(B+100_000*ms), nil)},
		"empty window with both ends":  {Window: win(p64(B-10), p64(B-5))},
		"unknown type":                 {MessageType: "X", Window: win(nil, p64(B))},
		"a bucket wider than the data": {BucketNs: 3600_000 * ms},
	} {
		wantMetrics(t, name, f.metrics(mq), expectMetrics(recs, q(mq)))
	}
	if m := f.metrics(latency.MetricsQuery{Window: win(p64(B+150*ms), p64(B+3000*ms)), MessageType: "D"}); m.Buckets[0].Start != B+150*ms ||
		len(m.Buckets) != 3 || m.Buckets[0].Count != 3 || m.Buckets[1].Count != 4 || m.Buckets[2].Count != 2 || m.Buckets[2].End != B+3150*ms {
		t.Fatalf("buckets start at from: %+v", m.Buckets)
	}
}

// testNegative: times before the epoch order and bucket like any other.
func testNegative(t *testing.T, open Open) {
	f := newFixture(t, open, Config{})
	var recs []latency.Record
	for i, c := range []int64{-1500, -500, 500, -1} {
		recs = append(recs, f.full(fmt.Sprintf("N%d", i), "D", c-100-int64(i), c))
	}
	wantRecords(t, "newest first", f.raw(latency.RawQuery{}).Records, recs[2], recs[3], recs[1], recs[0])
	wantRecords(t, "from -1000", f.raw(latency.RawQuery{Window: win(p64(-1000), p64(0))}).Records, recs[3], recs[1])
	mq := latency.MetricsQuery{TimeField: latency.CompleteTime, BucketNs: 1000}
	m := f.metrics(mq)
	wantMetrics(t, "1 µs buckets", m, expectMetrics(recs, mq))
	if m.From != -1500 || len(m.Buckets) != 3 || m.Buckets[0].Start != -2000 || m.Buckets[1].Count != 2 {
		t.Fatalf("negative buckets %+v", m)
	}
}

// ---- retention and bound ----

func testRetention(t *testing.T, open Open) {
	const hour = int64(time.Hour)
	f := newFixture(t, open, Config{Retention: time.Hour})
	x := f.full("X", "D", B, B+10)
	y := f.full("Y", "D", B+hour/2, B+hour/2+10)

	f.clock.Set(B + hour + 10) // x completed exactly Retention ago: kept
	wantRecords(t, "at the retention", f.raw(latency.RawQuery{}).Records, y, x)
	f.clock.Set(B + hour + 11)
	wantRecords(t, "past it", f.raw(latency.RawQuery{}).Records, y)
	wantStages(t, "x by request id", f.stages(latency.StagesQuery{RequestID: "X"}), nil, 0, 100)
	wantStages(t, "y by request id", f.stages(latency.StagesQuery{RequestID: "Y"}), []latency.Record{y}, 0, 100)
	wantStages(t, "window", f.stages(latency.StagesQuery{Window: win(p64(B), nil)}), []latency.Record{y}, 0, 100)
	if m := f.metrics(latency.MetricsQuery{}); m.Summary.Count != 1 || m.From != B+hour/2+10 {
		t.Fatalf("metrics after retention: %+v", m)
	}
	if m := f.metrics(latency.MetricsQuery{TimeField: latency.CreateTime, MessageType: "D"}); m.Summary.Count != 1 {
		t.Fatalf("metrics by create time after retention: %+v", m)
	}

	f.clock.Set(B + 2*hour)
	wantRecords(t, "everything expired", f.raw(latency.RawQuery{}).Records)
	wantStages(t, "y expired", f.stages(latency.StagesQuery{RequestID: "Y"}), nil, 0, 100)
	if m := f.metrics(latency.MetricsQuery{}); m.Summary.Count != 0 {
		t.Fatalf("metrics after everything expired: %+v", m)
	}
	z := f.full("Z", "F", B+2*hour+1, B+2*hour+5)
	wantRecords(t, "a new record", f.raw(latency.RawQuery{}).Records, z)
}

func testMaxRecords(t *testing.T, open Open) {
	f := newFixture(t, open, Config{MaxRecords: 3})
	var recs []latency.Record
	for i := range 5 {
		recs = append(recs, f.full(fmt.Sprintf("K%d", i), []string{"D", "F"}[i%2], B+int64(i)*100, B+int64(i)*100+50))
	}
	wantRecords(t, "the newest three", f.raw(latency.RawQuery{}).Records, recs[4], recs[3], recs[2])
	wantRecords(t, "type F", f.raw(latency.RawQuery{MessageType: "F"}).Records, recs[3])
	wantRecords(t, "type D by create time", f.raw(latency.RawQuery{MessageType: "D", TimeField: latency.CreateTime}).Records, recs[4], recs[2])
	wantStages(t, "evicted request", f.stages(latency.StagesQuery{RequestID: "K1"}), nil, 0, 100)
	wantStages(t, "kept request", f.stages(latency.StagesQuery{RequestID: "K2"}), recs[2:3], 0, 100)
	wantStages(t, "window", f.stages(latency.StagesQuery{Window: win(p64(B), nil)}), []latency.Record{recs[4], recs[3], recs[2]}, 0, 100)
	if m := f.metrics(latency.MetricsQuery{}); m.Summary.Count != 3 {
		t.Fatalf("metrics: %+v", m)
	}
	if m := f.metrics(latency.MetricsQuery{TimeField: latency.CreateTime, MessageType: "F"}); m.Summary.Count != 1 {
		t.Fatalf("metrics of F: %+v", m)
	}
}

// ---- errors ----

func testBadQueries(t *testing.T, open Open) {
	f := newFixture(t, open, Config{})
	f.full("E1", "D", B, B+10)
	ctx := context.Background()
	back := win(p64(B+10), p64(B+9))
	_, err := f.store.Raw(ctx, latency.RawQuery{Window: back})
	wantCode(t, "raw to < from", err)
	_, err = f.store.Raw(ctx, latency.RawQuery{Limit: -1})
	wantCode(t, "raw limit -1", err)
	_, err = f.store.Raw(ctx, latency.RawQuery{Offset: -1})
	wantCode(t, "raw offset -1", err)
	_, err = f.store.Raw(ctx, latency.RawQuery{TimeField: "stage_time"})
	wantCode(t, "raw time field", err)
	_, err = f.store.Stages(ctx, latency.StagesQuery{Window: back})
	wantCode(t, "stages to < from", err)
	_, err = f.store.Stages(ctx, latency.StagesQuery{RequestID: "E1", Window: back})
	wantCode(t, "stages by request, to < from", err)
	_, err = f.store.Stages(ctx, latency.StagesQuery{RequestID: "E1", Limit: -1})
	wantCode(t, "stages limit -1", err)
	_, err = f.store.Stages(ctx, latency.StagesQuery{Offset: -1})
	wantCode(t, "stages offset -1", err)
	_, err = f.store.Metrics(ctx, latency.MetricsQuery{Window: back})
	wantCode(t, "metrics to < from", err)
	_, err = f.store.Metrics(ctx, latency.MetricsQuery{TimeField: "nope"})
	wantCode(t, "metrics time field", err)
	_, err = f.store.Metrics(ctx, latency.MetricsQuery{BucketNs: -1})
	wantCode(t, "metrics bucket -1", err)
	// Nothing above changed anything.
	if pg := f.raw(latency.RawQuery{}); len(pg.Records) != 1 {
		t.Fatalf("records after bad queries: %d", len(pg.Records))
	}
}

// ---- concurrency ----

func testConcurrent(t *testing.T, open Open) {
	f := newFixture(t, open, Config{})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tr := f.rec.Begin(fmt.Sprintf("W%d-%d", w, i), "D", []byte(`{}`), latency.Meta{StreamID: w})
				_ = tr.Mark(latency.RiskCompleted)
				if err := tr.Complete(); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 { // queries while others write
					if _, err := f.store.Raw(context.Background(), latency.RawQuery{Limit: 10}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if pg := f.raw(latency.RawQuery{Limit: 1000}); len(pg.Records) != workers*each {
		t.Fatalf("%d records, want %d", len(pg.Records), workers*each)
	}
	if m := f.metrics(latency.MetricsQuery{}); m.Summary.Count != workers*each {
		t.Fatalf("metrics count %d", m.Summary.Count)
	}
	if pg := f.stages(latency.StagesQuery{RequestID: "W3-7"}); len(pg.Events) != 3 || pg.Events[0].StreamID != 3 {
		t.Fatalf("stages of W3-7: %+v", pg.Events)
	}
}
