package redis_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
	"github.com/vero-oms/omsd/store/storetest"
)

// latencyStore opens a LatencyStore on c under a fresh prefix whose keys
// are deleted afterwards; the store is closed first.
func latencyStore(t testing.TB, srv *redistest.RedisServer, c goredis.UniversalClient, o redis.LatencyOptions) (*redis.LatencyStore, string) {
	t.Helper()
	p := redistest.UniquePrefix()
	if srv != nil {
		srv.DeletePrefixOnCleanup(t, p)
	}
	l := redis.NewLatencyStore(c, p, o)
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l, p
}

func suiteOptions(c storetest.LatencyConfig) redis.LatencyOptions {
	return redis.LatencyOptions{Clock: c.Clock, Retention: c.Retention, MaxRecords: c.MaxRecords}
}

// The conformance suite memory.Latency passes too (server/latency).
func TestRedisLatencyStoreSuite(t *testing.T) {
	srv := redistest.SharedRedis(t)
	storetest.RunLatency(t, func(t *testing.T, c storetest.LatencyConfig) store.LatencyStore {
		l, _ := latencyStore(t, srv, srv.NewClient(t), suiteOptions(c))
		return l
	})
}

// On a 3-master cluster every script touches keys of the {lat} slot only,
// or Redis would refuse it.
func TestRedisLatencyStoreSuiteCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cluster := redistest.StartRedisCluster(t, 3)
	storetest.RunLatency(t, func(t *testing.T, c storetest.LatencyConfig) store.LatencyStore {
		l, _ := latencyStore(t, nil, cluster.NewClient(t), suiteOptions(c))
		return l
	})
}

// put records one message stamped now on the real clock.
func put(t testing.TB, l store.LatencyStore, id, typ string) store.LatencyRecord {
	t.Helper()
	now := store.NewMonotonicClock().NowNs()
	rec := store.LatencyRecord{RequestID: id, MessageType: typ, Body: []byte(`{"id":"` + id + `"}`),
		LatencyMeta: store.LatencyMeta{ClientID: "client-1"}, Status: store.LatencyStatusOK,
		CreateTime: now, CompleteTime: now + 2000, LatencyNs: 2000}
	rec.Stamp(store.StageGatewayReceived, now)
	rec.Stamp(store.StageRiskCompleted, now+1000)
	rec.Stamp(store.StageMarketCompleted, now+2000)
	if err := l.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// The documented keys, and TTLs of the retention plus the grace.
func TestRedisLatencyKeyLayout(t *testing.T) {
	srv := redistest.SharedRedis(t)
	raw := srv.NewClient(t)
	l, p := latencyStore(t, srv, srv.NewClient(t), redis.LatencyOptions{Retention: time.Hour})
	ctx := t.Context()
	put(t, l, "C1", "D")
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := raw.Keys(ctx, p+"*").Result()
	must(t, err)
	slices.Sort(keys)
	want := []string{
		p + "{lat}:complete", p + "{lat}:complete:D", p + "{lat}:create", p + "{lat}:create:D",
		p + "{lat}:r:0000000000000001", p + "{lat}:req:C1", p + "{lat}:seq",
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys\n got %q\nwant %q", keys, want)
	}
	for _, k := range want[:len(want)-1] {
		wantTTL(t, raw, k, time.Hour+time.Minute)
	}
	if n := pttl(t, raw, p+"{lat}:seq"); n != -1 {
		t.Errorf("seq PTTL = %d, want -1", n)
	}
	if v := get(t, raw, p+"{lat}:req:C1"); v != "0000000000000001" {
		t.Errorf("request index = %q", v)
	}
	ms, err := raw.ZRange(ctx, p+"{lat}:complete", 0, -1).Result()
	must(t, err)
	if len(ms) != 1 || len(ms[0]) != 67 || ms[0][16:32] != "0000000000000001" || ms[0][64:] != "23D" {
		t.Errorf("complete index = %q", ms)
	}
	if c := l.Counters(); c.Written != 1 || c.Dropped != 0 || c.Failed != 0 {
		t.Errorf("counters %+v", c)
	}
}

// Close writes what is queued; another store on the same keys (another
// process, or omsd restarted) reads it.
func TestRedisLatencyCloseFlushesAndSurvives(t *testing.T) {
	srv := redistest.SharedRedis(t)
	l, p := latencyStore(t, srv, srv.NewClient(t), redis.LatencyOptions{})
	var recs []store.LatencyRecord
	for i := range 50 {
		recs = append(recs, put(t, l, "S"+strconv.Itoa(i), "D"))
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c := l.Counters(); c.Written != 50 {
		t.Fatalf("counters after Close: %+v", c)
	}
	if err := l.Put(t.Context(), recs[0]); !errors.Is(err, redis.ErrLatencyClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	again := redis.NewLatencyStore(srv.NewClient(t), p, redis.LatencyOptions{})
	t.Cleanup(func() { _ = again.Close(context.Background()) })
	pg, err := again.Raw(t.Context(), store.LatencyRawQuery{})
	must(t, err)
	if len(pg.Records) != 50 || pg.Records[0].RequestID != "S49" {
		t.Fatalf("another store reads %d records", len(pg.Records))
	}
	st, err := again.Stages(t.Context(), store.LatencyStagesQuery{RequestID: "S7"})
	must(t, err)
	if len(st.Events) != 3 || st.Events[2].Stage != store.StageMarketCompleted {
		t.Fatalf("stages of S7: %+v", st.Events)
	}
}

// A write that fails drops its batch, counts it and tells OnError;
// queries answer a backend error (502 upstream_unavailable upstairs).
func TestRedisLatencyBackendDown(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	var heard atomic.Int64
	l, _ := latencyStore(t, nil, c, redis.LatencyOptions{OnError: func(err error, n int) {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("OnError: %v", err)
		}
		heard.Add(int64(n))
	}})
	put(t, l, "X1", "D")
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c := l.Counters(); c.Failed != 1 || heard.Load() != 1 {
		t.Fatalf("counters %+v, heard %d", c, heard.Load())
	}
	if _, err := l.Raw(t.Context(), store.LatencyRawQuery{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Raw with Redis down: %v", err)
	}
	if _, err := l.Stages(t.Context(), store.LatencyStagesQuery{RequestID: "X1"}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Stages with Redis down: %v", err)
	}
	if _, err := l.Metrics(t.Context(), store.LatencyMetricsQuery{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Metrics with Redis down: %v", err)
	}
}

// Put never waits: with the writer stuck on a hung server, a full queue
// drops records (ErrLatencyQueueFull) at once.
func TestRedisLatencyQueueFullDrops(t *testing.T) {
	srv := redistest.StartRedis(t)
	l, _ := latencyStore(t, srv, srv.NewClient(t), redis.LatencyOptions{QueueSize: 2, MaxBatch: 1, WriteTimeout: 300 * time.Millisecond})
	put(t, l, "warm", "D") // the script is loaded before the server hangs
	must(t, l.Flush(t.Context()))
	srv.Pause()
	defer srv.Resume()
	rec := put(t, l, "H0", "D")
	began := time.Now()
	var full int
	for range 20 {
		if err := l.Put(t.Context(), rec); errors.Is(err, redis.ErrLatencyQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(began); took > 100*time.Millisecond {
		t.Fatalf("20 Puts took %s", took)
	}
	if full < 17 || l.Counters().Dropped != int64(full) {
		t.Fatalf("%d refused, counters %+v", full, l.Counters())
	}
	srv.Resume()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	must(t, l.Flush(ctx))
	if c := l.Counters(); c.Written+c.Failed+c.Dropped != 22 {
		t.Fatalf("counters after resume %+v", c)
	}
}

// BenchmarkRedisLatencyPut is the sustained cost of one record through
// the writer (Put queues; a full queue is flushed and the Put retried),
// full six-stage records with a 100-byte body, on the shared Redis.
func BenchmarkRedisLatencyPut(b *testing.B) {
	srv := redistest.SharedRedis(b)
	l, _ := latencyStore(b, srv, srv.NewClient(b), redis.LatencyOptions{})
	rec := store.LatencyRecord{RequestID: "CL1000000", MessageType: "D",
		Body:        []byte(`{"account_id":"099C000002","symbol":"FPT","side":"B","qty":100,"order_type":"LO","price":"100000"}`),
		LatencyMeta: store.LatencyMeta{ClientID: "client-1", SourceService: "oms-api", HFTGateway: "hft-1"}, Status: store.LatencyStatusOK}
	for st := range store.LatencyStage(store.NumLatencyStages) {
		rec.Stamp(st, int64(1000*(int(st)+1)))
	}
	rec.CreateTime, rec.CompleteTime, rec.LatencyNs = 1000, 6000, 5000
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec.RequestID = "CL" + strconv.Itoa(i)
		for errors.Is(l.Put(ctx, rec), redis.ErrLatencyQueueFull) {
			if err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := l.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if c := l.Counters(); c.Failed != 0 {
		b.Fatalf("counters %+v", c)
	}
}
