package latency

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

// fakeClock is a settable Clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(ns int64) *fakeClock { c := &fakeClock{}; c.ns.Store(ns); return c }
func (c *fakeClock) NowNs() int64      { return c.ns.Load() }
func (c *fakeClock) Set(ns int64)      { c.ns.Store(ns) }
func (c *fakeClock) Add(d int64)       { c.ns.Add(d) }

var ctx = context.Background()

func p64(v int64) *int64 { return &v }

func newPair(t testing.TB, clk Clock, opt memory.LatencyOptions) (*Recorder, *memory.Latency) {
	t.Helper()
	opt.Clock = clk
	m := memory.NewLatency(opt)
	return NewRecorder(m, RecorderOptions{Clock: clk}), m
}

const body = `{"account_id":"A1","symbol":"FPT","side":"B","order_type":"LO","price":"100000","quantity":100}`

// steps records one full message: each stage `d` ns after the previous.
func steps(t testing.TB, r *Recorder, clk *fakeClock, id, typ string, d [NumStages]int64) {
	t.Helper()
	clk.Add(d[0])
	tr := r.Begin(id, typ, []byte(body), Meta{ClientID: "client-1"})
	for s := RiskCompleted; s < MarketCompleted; s++ {
		clk.Add(d[s])
		if err := tr.Mark(s); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(d[MarketCompleted])
	if err := tr.Complete(); err != nil {
		t.Fatal(err)
	}
}

func TestStageOrdering(t *testing.T) {
	clk := newFakeClock(1_000)
	r, m := newPair(t, clk, memory.LatencyOptions{})
	tr := r.Begin("C1", MsgNewOrder, []byte(body), Meta{ClientID: "client-1", SourceService: "oms-api", SourceSequence: 7, HFTGateway: "hft-1", StreamID: 3})
	clk.Add(10)
	if err := tr.Mark(RiskCompleted); err != nil {
		t.Fatal(err)
	}
	for _, s := range []Stage{GatewayReceived, RiskCompleted, Stage(NumStages), Stage(200)} {
		if err := tr.Mark(s); !errors.Is(err, ErrOutOfOrder) {
			t.Fatalf("Mark(%d) after RiskCompleted: %v, want ErrOutOfOrder", s, err)
		}
	}
	clk.Add(10)
	if err := r.Mark("C1", SentToGateway); err != nil { // by request id
		t.Fatal(err)
	}
	clk.Add(10)
	if err := tr.Mark(GatewayAccepted); err != nil {
		t.Fatal(err)
	}
	// MarketStarted skipped.
	clk.Add(10)
	if err := tr.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Mark(MarketStarted); !errors.Is(err, ErrEnded) {
		t.Fatalf("Mark after Complete: %v, want ErrEnded", err)
	}
	if err := tr.Complete(); !errors.Is(err, ErrEnded) {
		t.Fatalf("second Complete: %v, want ErrEnded", err)
	}
	if err := r.Mark("C1", MarketStarted); !errors.Is(err, ErrUnknownRequest) {
		t.Fatalf("Mark by id after Complete: %v, want ErrUnknownRequest", err)
	}
	if c := r.Counters(); c.Open != 0 {
		t.Fatalf("open traces = %d, want 0", c.Open)
	}

	pg, err := m.Stages(ctx, StagesQuery{RequestID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pg.Events {
		got = append(got, fmt.Sprintf("%s@%d/%s/%s", e.Stage, e.StageTime, e.Service, e.Status))
		if e.RequestID != "C1" || e.MessageType != "D" || e.ClientID != "client-1" || e.SourceSequence != 7 || e.HFTGateway != "hft-1" || e.StreamID != 3 || e.SourceService != "oms-api" {
			t.Fatalf("event fields: %+v", e)
		}
	}
	want := []string{
		"OMS gateway received@1000/oms-gateway/OK",
		"Risk check completed@1010/oms-risk/OK",
		"Sent to HFT gateway@1020/oms-router/OK",
		"HFT gateway accepted@1030/hft-gateway/OK",
		"Send to Market completed@1040/krx-venue/OK",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	raw, err := m.Raw(ctx, RawQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Records) != 1 {
		t.Fatalf("raw records = %d", len(raw.Records))
	}
	rec := raw.Records[0]
	if rec.CreateTime != 1000 || rec.CompleteTime != 1040 || rec.LatencyNs != 40 || rec.MessageType != "D" || string(rec.Body) != body || rec.Status != StatusOK {
		t.Fatalf("raw record: %+v", rec)
	}
}

func TestSegmentsAndBreakdown(t *testing.T) {
	clk := newFakeClock(0)
	r, m := newPair(t, clk, memory.LatencyOptions{})
	// received at 5000; risk +300; router +50; HFT gateway +20; market started +1000; completed +200
	steps(t, r, clk, "C1", MsgNewOrder, [NumStages]int64{5000, 300, 50, 20, 1000, 200})
	pg, err := m.Stages(ctx, StagesQuery{RequestID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	var sum int64
	for _, s := range pg.Segments {
		segs = append(segs, fmt.Sprintf("%s→%s %d-%d=%d", s.From, s.To, s.ToTime, s.FromTime, s.LatencyNs))
		sum += s.LatencyNs
	}
	want := []string{
		"OMS gateway received→Risk check completed 5300-5000=300",
		"Risk check completed→Sent to HFT gateway 5350-5300=50",
		"Sent to HFT gateway→HFT gateway accepted 5370-5350=20",
		"HFT gateway accepted→Send to Market started 6370-5370=1000",
		"Send to Market started→Send to Market completed 6570-6370=200",
	}
	if !slices.Equal(segs, want) {
		t.Fatalf("segments\n got %q\nwant %q", segs, want)
	}
	raw, _ := m.Raw(ctx, RawQuery{})
	rec := raw.Records[0]
	if sum != rec.LatencyNs || rec.LatencyNs != 1570 {
		t.Fatalf("segments sum %d, latency %d, want 1570", sum, rec.LatencyNs)
	}
	if got := rec.Segments(); len(got) != 5 || got[3].LatencyNs != 1000 {
		t.Fatalf("Record.Segments: %+v", got)
	}
	b := rec.Breakdown()
	if b.Risk != 300 || b.Router != 50 || b.Gateway != 20 || b.Venue != 1200 || b.Total != 1570 || b.Bottleneck != PartVenue {
		t.Fatalf("breakdown: %+v", b)
	}

	// Risk the slowest.
	steps(t, r, clk, "C2", MsgCancel, [NumStages]int64{1, 900, 50, 20, 100, 200})
	raw, _ = m.Raw(ctx, RawQuery{MessageType: MsgCancel})
	if b := raw.Records[0].Breakdown(); b.Bottleneck != PartRisk || b.Risk != 900 || b.Venue != 300 {
		t.Fatalf("breakdown C2: %+v", b)
	}
}

func TestRejectedEndsEarly(t *testing.T) {
	clk := newFakeClock(100)
	r, m := newPair(t, clk, memory.LatencyOptions{})
	tr := r.Begin("C9", MsgNewOrder, []byte(body), Meta{})
	clk.Add(42)
	if err := r.End("C9", RiskCompleted, StatusRejected); err != nil {
		t.Fatal(err)
	}
	if err := tr.Mark(SentToGateway); !errors.Is(err, ErrEnded) {
		t.Fatalf("Mark after End: %v", err)
	}
	pg, _ := m.Stages(ctx, StagesQuery{RequestID: "C9"})
	if len(pg.Events) != 2 || pg.Events[0].Status != StatusOK || pg.Events[1].Status != StatusRejected || pg.Events[1].Stage != RiskCompleted {
		t.Fatalf("events: %+v", pg.Events)
	}
	if len(pg.Segments) != 1 || pg.Segments[0].LatencyNs != 42 {
		t.Fatalf("segments: %+v", pg.Segments)
	}
	raw, _ := m.Raw(ctx, RawQuery{})
	rec := raw.Records[0]
	if rec.CompleteTime != 142 || rec.LatencyNs != 42 || rec.Status != StatusRejected {
		t.Fatalf("record: %+v", rec)
	}
	if b := rec.Breakdown(); b.Bottleneck != PartRisk || b.Present[PartVenue] || b.Present[PartRouter] {
		t.Fatalf("breakdown: %+v", b)
	}
}

func TestClockSteppingBackNeverNegative(t *testing.T) {
	clk := newFakeClock(1000)
	r, m := newPair(t, clk, memory.LatencyOptions{})
	tr := r.Begin("C1", MsgNewOrder, nil, Meta{})
	clk.Set(900)
	if err := tr.Complete(); err != nil {
		t.Fatal(err)
	}
	raw, _ := m.Raw(ctx, RawQuery{})
	if raw.Records[0].LatencyNs != 0 || raw.Records[0].Body != nil {
		t.Fatalf("record: %+v", raw.Records[0])
	}
}

func TestMonotonicClock(t *testing.T) {
	c := NewMonotonicClock()
	wall := time.Now().UnixNano()
	prev := c.NowNs()
	if d := prev - wall; d < -int64(time.Second) || d > int64(time.Second) {
		t.Fatalf("clock %d far from wall %d", prev, wall)
	}
	for range 10_000 {
		n := c.NowNs()
		if n < prev {
			t.Fatalf("clock went back: %d < %d", n, prev)
		}
		prev = n
	}
}

func TestRecorderBounds(t *testing.T) {
	clk := newFakeClock(0)
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	r := NewRecorder(m, RecorderOptions{Clock: clk, MaxOpen: 2, MaxBodyBytes: 10})
	a := r.Begin("A", MsgNewOrder, []byte("0123456789"), Meta{})
	r.Begin("B", MsgNewOrder, nil, Meta{})
	c := r.Begin("C", MsgNewOrder, []byte("0123456789X"), Meta{})
	if got := r.Counters(); got.Open != 2 || got.Dropped != 1 {
		t.Fatalf("counters: %+v", got)
	}
	if _, ok := r.Lookup("C"); ok {
		t.Fatal("C indexed beyond MaxOpen")
	}
	// C still records through its handle; its body is replaced.
	if err := c.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := a.Complete(); err != nil {
		t.Fatal(err)
	}
	raw, _ := m.Raw(ctx, RawQuery{})
	if len(raw.Records) != 2 {
		t.Fatalf("records: %d", len(raw.Records))
	}
	bodies := map[string]string{}
	for _, rec := range raw.Records {
		bodies[rec.RequestID] = string(rec.Body)
	}
	if bodies["A"] != "0123456789" || bodies["C"] != `{"truncated":true,"size":11}` {
		t.Fatalf("bodies: %q", bodies)
	}
	// B is stuck: Sweep forgets it once it is older than maxAge.
	clk.Add(int64(time.Minute))
	if n := r.Sweep(int64(time.Minute)); n != 0 {
		t.Fatalf("swept %d too early", n)
	}
	if n := r.Sweep(int64(time.Minute) - 1); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if got := r.Counters(); got.Open != 0 {
		t.Fatalf("counters after sweep: %+v", got)
	}
	// A request id begun twice: the index follows the newest.
	x1 := r.Begin("X", MsgNewOrder, nil, Meta{})
	x2 := r.Begin("X", MsgNewOrder, nil, Meta{})
	if tr, _ := r.Lookup("X"); tr != x2 {
		t.Fatal("index does not hold the newest trace")
	}
	if err := x1.Complete(); err != nil {
		t.Fatal(err)
	}
	if tr, _ := r.Lookup("X"); tr != x2 || r.Counters().Open != 1 {
		t.Fatal("ending the older trace unindexed the newer one")
	}
	x2.Abandon()
	if r.Counters().Open != 0 {
		t.Fatalf("open after Abandon: %+v", r.Counters())
	}
}

// put stores a synthetic record directly.
func put(t testing.TB, m *memory.Latency, id, typ string, create, complete int64) {
	t.Helper()
	rec := Record{RequestID: id, MessageType: typ, CreateTime: create, CompleteTime: complete, LatencyNs: complete - create, Status: StatusOK}
	rec.Stamp(GatewayReceived, create)
	rec.Stamp(MarketCompleted, complete)
	if err := m.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
}

func ids(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.RequestID)
	}
	return out
}

func TestRetentionTrim(t *testing.T) {
	h := int64(time.Hour)
	clk := newFakeClock(100 * h)
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk, Retention: 2 * time.Hour})
	put(t, m, "old", "D", 100*h-10, 100*h)
	clk.Set(101 * h)
	put(t, m, "mid", "D", 101*h-10, 101*h)
	clk.Set(102 * h)
	put(t, m, "new", "D", 102*h-10, 102*h)
	if m.Len() != 3 {
		t.Fatalf("len %d", m.Len())
	}
	clk.Set(102*h + 1) // "old" completed 2h+1ns ago
	raw, _ := m.Raw(ctx, RawQuery{})
	if got := ids(raw.Records); !slices.Equal(got, []string{"new", "mid"}) {
		t.Fatalf("after 2h: %q", got)
	}
	if pg, _ := m.Stages(ctx, StagesQuery{RequestID: "old"}); len(pg.Events) != 0 {
		t.Fatalf("trimmed record still found by id: %+v", pg.Events)
	}
	clk.Set(104*h + 1)
	if m.Len() != 0 {
		t.Fatalf("len after 4h: %d", m.Len())
	}
	// Default retention is 24 h.
	m = memory.NewLatency(memory.LatencyOptions{Clock: clk})
	put(t, m, "a", "D", clk.NowNs(), clk.NowNs())
	clk.Add(24 * h)
	if m.Len() != 1 {
		t.Fatal("trimmed at exactly 24 h")
	}
	clk.Add(1)
	if m.Len() != 0 {
		t.Fatal("kept past 24 h")
	}
}

func TestBoundedMemory(t *testing.T) {
	clk := newFakeClock(1)
	const max = 10_000
	r, m := newPair(t, clk, memory.LatencyOptions{MaxRecords: max})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 100_000 {
		clk.Add(1000)
		tr := r.Begin(fmt.Sprintf("C%06d", i), MsgNewOrder, []byte(body), Meta{ClientID: "client-1"})
		clk.Add(100)
		_ = tr.Mark(RiskCompleted)
		clk.Add(100)
		_ = tr.Complete()
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if m.Len() != max {
		t.Fatalf("len %d; want %d", m.Len(), max)
	}
	// ~ max × (record ≈ 200 B + body ≈ 100 B + id + index entry): well under 16 MiB.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Fatalf("heap grew by %d bytes for %d kept records", grew, max)
	}
	// The oldest kept is record 90 000; 89 999 is gone.
	if pg, _ := m.Stages(ctx, StagesQuery{RequestID: "C089999"}); len(pg.Events) != 0 {
		t.Fatal("evicted record still indexed")
	}
	if pg, _ := m.Stages(ctx, StagesQuery{RequestID: "C090000"}); len(pg.Events) != 3 {
		t.Fatalf("oldest kept record: %d events", len(pg.Events))
	}
	raw, _ := m.Raw(ctx, RawQuery{Limit: 1})
	if raw.Records[0].RequestID != "C099999" {
		t.Fatalf("newest: %s", raw.Records[0].RequestID)
	}
	met, _ := m.Metrics(ctx, MetricsQuery{})
	if met.Summary.Count != max || met.Summary.Min != 200 || met.Summary.Max != 200 {
		t.Fatalf("metrics: %+v", met.Summary)
	}
}

func TestSummarizeNearestRank(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []int64
		want Stats
	}{
		// n=5 sorted 15 20 35 40 50: p50 rank ⌈2.5⌉=3 → 35; p95 ⌈4.75⌉=5 → 50; p99 ⌈4.95⌉=5 → 50; avg 160/5.
		{"five", []int64{50, 15, 40, 20, 35}, Stats{Count: 5, Min: 15, Max: 50, Avg: 32, P50: 35, P95: 50, P99: 50}},
		// n=20, 1..20: p50 rank 10 → 10; p95 rank 19 → 19; p99 ⌈19.8⌉=20 → 20; avg 10.5.
		{"twenty", []int64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, Stats{Count: 20, Min: 1, Max: 20, Avg: 10.5, P50: 10, P95: 19, P99: 20}},
		// n=1: every percentile is the sample.
		{"one", []int64{7}, Stats{Count: 1, Min: 7, Max: 7, Avg: 7, P50: 7, P95: 7, P99: 7}},
		// n=4, 100 200 300 1000: p50 rank 2 → 200; p95 ⌈3.8⌉=4 → 1000; avg 400.
		{"four", []int64{1000, 100, 300, 200}, Stats{Count: 4, Min: 100, Max: 1000, Avg: 400, P50: 200, P95: 1000, P99: 1000}},
		{"empty", nil, Stats{}},
	} {
		if got := Summarize(c.in); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	// n=1000, 1..1000 ×10 ns: p50 rank 500 → 5000; p95 rank 950 → 9500; p99 rank 990 → 9900.
	lats := make([]int64, 1000)
	for i := range lats {
		lats[(i*7)%1000] = int64(i+1) * 10 // shuffled
	}
	got := Summarize(lats)
	if want := (Stats{Count: 1000, Min: 10, Max: 10000, Avg: 5005, P50: 5000, P95: 9500, P99: 9900}); got != want {
		t.Fatalf("1..1000: got %+v, want %+v", got, want)
	}
}

func TestMetricsWindowAndBuckets(t *testing.T) {
	clk := newFakeClock(20_000)
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	//          id    type create  complete (latency)
	put(t, m, "a", "D", 9_995, 10_000)  // 5
	put(t, m, "b", "D", 10_493, 10_500) // 7
	put(t, m, "c", "F", 11_191, 11_200) // 9
	put(t, m, "d", "D", 13_998, 13_999) // 1
	put(t, m, "e", "D", 13_000, 14_000) // 1000: at To, outside [From, To)
	met, err := m.Metrics(ctx, MetricsQuery{LatencyWindow: Window{From: p64(10_000), To: p64(14_000)}, BucketNs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if met.From != 10_000 || met.To != 14_000 || met.Query.TimeField != CompleteTime || met.Query.BucketNs != 1000 {
		t.Fatalf("window: %+v", met)
	}
	// samples 5 7 9 1 → sorted 1 5 7 9: p50 rank 2 → 5, p95/p99 rank 4 → 9, avg 22/4.
	if want := (Stats{Count: 4, Min: 1, Max: 9, Avg: 5.5, P50: 5, P95: 9, P99: 9}); met.Summary != want {
		t.Fatalf("summary %+v, want %+v", met.Summary, want)
	}
	want := []Bucket{
		{Start: 10_000, End: 11_000, LatencyStats: Stats{Count: 2, Min: 5, Max: 7, Avg: 6, P50: 5, P95: 7, P99: 7}},
		{Start: 11_000, End: 12_000, LatencyStats: Stats{Count: 1, Min: 9, Max: 9, Avg: 9, P50: 9, P95: 9, P99: 9}},
		// 12 000–13 000 is empty: not listed.
		{Start: 13_000, End: 14_000, LatencyStats: Stats{Count: 1, Min: 1, Max: 1, Avg: 1, P50: 1, P95: 1, P99: 1}},
	}
	if !slices.Equal(met.Buckets, want) {
		t.Fatalf("buckets\n got %+v\nwant %+v", met.Buckets, want)
	}

	// Message type filter.
	met, _ = m.Metrics(ctx, MetricsQuery{MessageType: "F"})
	if met.Summary.Count != 1 || met.Summary.Max != 9 {
		t.Fatalf("type F: %+v", met.Summary)
	}
	// By create time, open window, default 1 s buckets aligned to the epoch.
	met, _ = m.Metrics(ctx, MetricsQuery{TimeField: CreateTime})
	if met.Summary.Count != 5 || met.From != 9_995 || met.To != 13_999 || len(met.Buckets) != 1 ||
		met.Buckets[0].Start != 0 || met.Buckets[0].End != int64(time.Second) || met.Query.BucketNs != int64(time.Second) {
		t.Fatalf("create_time, open window: %+v", met)
	}
	// Open From: buckets aligned to multiples of bucket_ns.
	met, _ = m.Metrics(ctx, MetricsQuery{BucketNs: 3000})
	if len(met.Buckets) != 2 || met.Buckets[0].Start != 9_000 || met.Buckets[0].Count != 3 || met.Buckets[1].Start != 12_000 || met.Buckets[1].Count != 2 {
		t.Fatalf("aligned buckets: %+v", met.Buckets)
	}
	// Nothing in the window.
	met, _ = m.Metrics(ctx, MetricsQuery{LatencyWindow: Window{From: p64(50_000)}})
	if met.Summary.Count != 0 || len(met.Buckets) != 0 || met.From != 50_000 {
		t.Fatalf("empty window: %+v", met)
	}
	// Bad input.
	for _, q := range []MetricsQuery{
		{BucketNs: -1},
		{TimeField: "stage_time"},
		{LatencyWindow: Window{From: p64(2), To: p64(1)}},
	} {
		if _, err := m.Metrics(ctx, q); !isQueryError(err) {
			t.Fatalf("%+v: %v", q, err)
		}
	}
}

func TestRawQuery(t *testing.T) {
	clk := newFakeClock(1_000_000)
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	// Arrival order ≠ time order for create_time.
	put(t, m, "a", "D", 100, 500)
	put(t, m, "b", "F", 300, 600)
	put(t, m, "c", "D", 200, 700)
	put(t, m, "d", "D", 400, 700) // same complete time as c, arrived later
	for _, c := range []struct {
		q    RawQuery
		want []string
	}{
		{RawQuery{}, []string{"d", "c", "b", "a"}},
		{RawQuery{TimeField: CreateTime}, []string{"d", "b", "c", "a"}},
		{RawQuery{MessageType: "D"}, []string{"d", "c", "a"}},
		{RawQuery{Limit: 2}, []string{"d", "c"}},
		{RawQuery{Limit: 2, Offset: 2}, []string{"b", "a"}},
		{RawQuery{Offset: 4}, nil},
		{RawQuery{LatencyWindow: Window{From: p64(600), To: p64(700)}}, []string{"b"}},
		{RawQuery{LatencyWindow: Window{From: p64(200), To: p64(400)}, TimeField: CreateTime}, []string{"b", "c"}},
	} {
		pg, err := m.Raw(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(pg.Records); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %q, want %q", c.q, got, c.want)
		}
	}
	pg, _ := m.Raw(ctx, RawQuery{Limit: 5000})
	if pg.Query.Limit != MaxLimit || pg.Query.TimeField != CompleteTime {
		t.Fatalf("applied query: %+v", pg.Query)
	}
	pg, _ = m.Raw(ctx, RawQuery{})
	if pg.Query.Limit != DefaultLimit {
		t.Fatalf("default limit: %+v", pg.Query)
	}
	for _, q := range []RawQuery{{Limit: -1}, {Offset: -1}, {TimeField: "x"}, {LatencyWindow: Window{From: p64(2), To: p64(1)}}} {
		if _, err := m.Raw(ctx, q); !isQueryError(err) {
			t.Fatalf("%+v: %v", q, err)
		}
	}
}

func TestStagesQuery(t *testing.T) {
	clk := newFakeClock(0)
	r, m := newPair(t, clk, memory.LatencyOptions{})
	steps(t, r, clk, "A", MsgNewOrder, [NumStages]int64{1000, 10, 10, 10, 10, 10}) // 1000..1050
	steps(t, r, clk, "B", MsgCancel, [NumStages]int64{1000, 10, 10, 10, 10, 10})   // 2050..2100
	steps(t, r, clk, "C", MsgNewOrder, [NumStages]int64{1000, 10, 10, 10, 10, 10}) // 3100..3150

	// By id.
	pg, _ := m.Stages(ctx, StagesQuery{RequestID: "B"})
	if len(pg.Events) != 6 || len(pg.Segments) != 5 || pg.Events[0].StageTime != 2050 {
		t.Fatalf("by id: %d events %d segments", len(pg.Events), len(pg.Segments))
	}
	if pg, _ := m.Stages(ctx, StagesQuery{RequestID: "B", MessageType: "D"}); len(pg.Events) != 0 {
		t.Fatal("message type filter ignored with request id")
	}
	if pg, _ := m.Stages(ctx, StagesQuery{RequestID: "nope"}); len(pg.Events) != 0 {
		t.Fatal("unknown id found")
	}
	// Window (create time), newest record first, paging counts events:
	// offset 4 limit 4 → C's last 2 events then A's first 2 (B filtered by type).
	pg, _ = m.Stages(ctx, StagesQuery{MessageType: MsgNewOrder, Limit: 4, Offset: 4})
	var got []string
	for _, e := range pg.Events {
		got = append(got, fmt.Sprintf("%s%d", e.RequestID, e.Stage))
	}
	if want := []string{"C4", "C5", "A0", "A1"}; !slices.Equal(got, want) {
		t.Fatalf("window page: %q, want %q", got, want)
	}
	// Segments only between consecutive events of one record in the page.
	if len(pg.Segments) != 2 || pg.Segments[0].RequestID != "C" || pg.Segments[0].From != MarketStarted ||
		pg.Segments[1].RequestID != "A" || pg.Segments[1].From != GatewayReceived || pg.Segments[1].LatencyNs != 10 {
		t.Fatalf("segments: %+v", pg.Segments)
	}
	// Window bounds with a request id: the id narrows the window.
	if pg, _ := m.Stages(ctx, StagesQuery{RequestID: "A", LatencyWindow: Window{From: p64(2000)}}); len(pg.Events) != 0 {
		t.Fatal("request id outside the window found")
	}
	pg, _ = m.Stages(ctx, StagesQuery{LatencyWindow: Window{From: p64(2000), To: p64(3100)}})
	if len(pg.Events) != 6 || pg.Events[0].RequestID != "B" {
		t.Fatalf("window [2000,3100): %+v", pg.Events)
	}
	if _, err := m.Stages(ctx, StagesQuery{Limit: -3}); !isQueryError(err) {
		t.Fatalf("bad limit: %v", err)
	}
}

func TestConcurrentRecording(t *testing.T) {
	r, m := newPair(t, NewMonotonicClock(), memory.LatencyOptions{})
	const workers, each = 16, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // queries while recording
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = m.Raw(ctx, RawQuery{Limit: 10})
			_, _ = m.Metrics(ctx, MetricsQuery{})
			_, _ = m.Stages(ctx, StagesQuery{RequestID: "w3-7"})
		}
	}()
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				tr := r.Begin(id, MsgNewOrder, []byte(body), Meta{StreamID: w})
				for s := RiskCompleted; s < MarketCompleted; s++ {
					var err error
					if s%2 == 0 {
						err = r.Mark(id, s) // by id
					} else {
						err = tr.Mark(s)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
				if err := r.Complete(id); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if m.Len() != workers*each {
		t.Fatalf("records %d, want %d", m.Len(), workers*each)
	}
	if c := r.Counters(); c.Open != 0 || c.Dropped != 0 || c.Failed != 0 {
		t.Fatalf("counters: %+v", c)
	}
	pg, _ := m.Raw(ctx, RawQuery{Limit: MaxLimit})
	for _, rec := range pg.Records {
		segs := rec.Segments()
		var sum int64
		for _, s := range segs {
			if s.LatencyNs < 0 {
				t.Fatalf("negative segment %+v", s)
			}
			sum += s.LatencyNs
		}
		if len(segs) != NumStages-1 || sum != rec.LatencyNs {
			t.Fatalf("record %s: %d segments, sum %d, latency %d", rec.RequestID, len(segs), sum, rec.LatencyNs)
		}
	}
	met, _ := m.Metrics(ctx, MetricsQuery{})
	if met.Summary.Count != workers*each {
		t.Fatalf("metrics count %d", met.Summary.Count)
	}
}

func isQueryError(err error) bool {
	var qe *QueryError
	return errors.As(err, &qe) && errors.Is(err, store.ErrInvalid)
}
