package latency

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/vero-oms/omsd/store/memory"
)

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "CL" + strconv.Itoa(1_000_000+i)
	}
	return ids
}

// BenchmarkRecordStage is the hot-path cost of one recorded stage,
// amortised over whole messages on the real monotonic clock and the
// Memory store (default retention and bound): one op is one stage, six
// per message — Begin (copies the body, indexes the request id), four
// Marks by handle, Complete (builds the record, unindexes, Put under the
// store's lock, evicting the oldest once 100 000 are kept).
func BenchmarkRecordStage(b *testing.B) {
	clk := NewMonotonicClock()
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	r := NewRecorder(m, RecorderOptions{Clock: clk})
	ids := benchIDs(1 << 16)
	msg := []byte(body)
	var tr *Trace
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		switch s := Stage(i % NumStages); s {
		case GatewayReceived:
			tr = r.Begin(ids[(i/NumStages)&(1<<16-1)], MsgNewOrder, msg, Meta{ClientID: "client-1"})
		case MarketCompleted:
			if err := tr.Complete(); err != nil {
				b.Fatal(err)
			}
		default:
			if err := tr.Mark(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRecordStageByID is BenchmarkRecordStage with the middle stages
// marked through Recorder.Mark(requestID, stage) (a shard lookup each).
func BenchmarkRecordStageByID(b *testing.B) {
	clk := NewMonotonicClock()
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	r := NewRecorder(m, RecorderOptions{Clock: clk})
	ids := benchIDs(1 << 16)
	msg := []byte(body)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[(i/NumStages)&(1<<16-1)]
		var err error
		switch s := Stage(i % NumStages); s {
		case GatewayReceived:
			r.Begin(id, MsgNewOrder, msg, Meta{ClientID: "client-1"})
		case MarketCompleted:
			err = r.Complete(id)
		default:
			err = r.Mark(id, s)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordStageParallel runs whole messages on GOMAXPROCS
// goroutines against one Recorder and store; ns/op is per stage.
func BenchmarkRecordStageParallel(b *testing.B) {
	clk := NewMonotonicClock()
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	r := NewRecorder(m, RecorderOptions{Clock: clk})
	ids := benchIDs(1 << 16)
	msg := []byte(body)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var tr *Trace
		s := Stage(0)
		for pb.Next() {
			switch s {
			case GatewayReceived:
				tr = r.Begin(ids[next.Add(1)&(1<<16-1)], MsgNewOrder, msg, Meta{ClientID: "client-1"})
			case MarketCompleted:
				_ = tr.Complete()
			default:
				_ = tr.Mark(s)
			}
			s = (s + 1) % Stage(NumStages)
		}
	})
}

// BenchmarkMark is one Trace.Mark alone (clock read, lock, order check,
// stamp): no Begin, no Complete, no store.
func BenchmarkMark(b *testing.B) {
	clk := NewMonotonicClock()
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	r := NewRecorder(m, RecorderOptions{Clock: clk})
	b.ReportAllocs()
	b.ResetTimer()
	tr := &Trace{r: r}
	for i := 0; i < b.N; i++ {
		tr.rec = Record{} // back to "GatewayReceived only"
		tr.rec.Stamp(GatewayReceived, 0)
		if err := tr.Mark(RiskCompleted); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetrics100k is one metrics query (summary + 1 s buckets) over
// a full store of 100 000 records.
func BenchmarkMetrics100k(b *testing.B) {
	clk := newFakeClock(1)
	m := memory.NewLatency(memory.LatencyOptions{Clock: clk})
	for i := range DefaultMaxRecords {
		clk.Add(100_000)
		put(b, m, "", MsgNewOrder, clk.NowNs()-int64(i%5000), clk.NowNs())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Metrics(ctx, MetricsQuery{}); err != nil {
			b.Fatal(err)
		}
	}
}
