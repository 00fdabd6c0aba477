package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/cli"
)

// exact decodes a reply keeping numbers as json.Number: epoch
// nanoseconds do not survive float64.
func exact(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("status %d: %v: %s", r.status, err, r.body)
	}
	return m
}

// n reads a json.Number (0 when v is not one).
func n(v any) int64 {
	x, _ := v.(json.Number)
	i, err := x.Int64()
	if err != nil {
		f, _ := x.Float64()
		return int64(f)
	}
	return i
}

func f64(v any) float64 {
	x, _ := v.(json.Number)
	f, _ := x.Float64()
	return f
}

// The latency diagnostics over real orders, on both stores (the Redis one
// keeps the records in Redis): raw records, one request's stage events and
// segments, metrics, bad queries, and admin only.
func TestLatencyDiagnostics(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		body := map[string]any{"account_id": accountBinh, "symbol": "FPT", "side": "B", "qty": 100, "order_type": "LO", "price": "100000"}
		first := e.order(t, tr, body)
		ack := e.order(t, tr, body)
		reqID, _ := ack["request_id"].(string)
		if reqID == "" || reqID == first["request_id"] {
			t.Fatalf("acks: %v %v", first, ack)
		}
		admin := e.login(nil, adminEmail, adminPass).jwt
		get := func(path string) map[string]any {
			t.Helper()
			r := e.do(nil, "GET", path, nil, bearer(admin)...)
			expect(t, r, 200, "")
			return exact(t, r)
		}

		raw := get("/api/v1/util/latency/raw")
		recs, _ := raw["records"].([]any)
		if n(raw["count"]) != 2 || len(recs) != 2 || n(raw["limit"]) != 100 || n(raw["offset"]) != 0 || raw["time_field"] != "complete_time" {
			t.Fatalf("raw: %v", raw)
		}
		var prevComplete int64
		for i, r := range recs {
			m := r.(map[string]any)
			create, complete, lat := n(m["create_time"]), n(m["complete_time"]), n(m["latency_ns"])
			if m["message_type"] != "D" || lat <= 0 || lat != complete-create {
				t.Fatalf("raw record %d: %v", i, m)
			}
			if i > 0 && complete > prevComplete {
				t.Fatalf("raw records are not newest first: %v", recs)
			}
			prevComplete = complete
			b, _ := m["message_body_json"].(map[string]any)
			if b["account_id"] != accountBinh || b["symbol"] != "FPT" || n(b["qty"]) != 100 || b["price"] != "100000" {
				t.Fatalf("raw record %d body: %v", i, m["message_body_json"])
			}
		}
		one := get("/api/v1/util/latency/raw?message_type=D&limit=1&offset=1&time_field=create_time")
		if n(one["count"]) != 1 || n(one["limit"]) != 1 || n(one["offset"]) != 1 || one["message_type"] != "D" || one["time_field"] != "create_time" {
			t.Fatalf("raw page: %v", one)
		}

		st := get("/api/v1/util/latency/stages?request_id=" + reqID)
		evs, _ := st["events"].([]any)
		segs, _ := st["segments"].([]any)
		want := []string{"OMS gateway received", "Risk check completed", "Sent to HFT gateway", "HFT gateway accepted",
			"Send to Market started", "Send to Market completed"}
		if st["request_id"] != reqID || n(st["count"]) != int64(len(want)) || len(evs) != len(want) || len(segs) != len(want)-1 {
			t.Fatalf("stages: %v", st)
		}
		var total int64
		for i, x := range evs {
			ev := x.(map[string]any)
			if ev["stage"] != want[i] || ev["request_id"] != reqID || ev["message_type"] != "D" || ev["status"] != "OK" ||
				ev["client_id"] != ack["client_id"] || ev["source_service"] != ack["source_service"] || ev["hft_gateway"] != ack["hft_gateway"] {
				t.Fatalf("event %d: %v (ack %v)", i, ev, ack)
			}
			if i == 0 {
				continue
			}
			prev := evs[i-1].(map[string]any)
			sg := segs[i-1].(map[string]any)
			if sg["from_stage"] != want[i-1] || sg["to_stage"] != want[i] || sg["from_time"] != prev["stage_time"] || sg["to_time"] != ev["stage_time"] ||
				n(sg["latency_ns"]) != n(ev["stage_time"])-n(prev["stage_time"]) || n(sg["latency_ns"]) < 0 {
				t.Fatalf("segment %d: %v between %v and %v", i-1, sg, prev, ev)
			}
			total += n(sg["latency_ns"])
		}
		if total <= 0 {
			t.Fatalf("segments sum to %v", total)
		}
		// Both records by window, newest first: twelve events.
		all := get("/api/v1/util/latency/stages?from_ns=0&limit=20")
		if n(all["count"]) != 12 || all["events"].([]any)[0].(map[string]any)["request_id"] != reqID {
			t.Fatalf("stages by window: %v", all)
		}
		if p := get("/api/v1/util/latency/stages?from_ns=0&limit=4&offset=4"); n(p["count"]) != 4 || len(p["segments"].([]any)) != 2 {
			t.Fatalf("stages page across two records: %v", p)
		}
		if none := get("/api/v1/util/latency/stages?request_id=no-such-request"); n(none["count"]) != 0 {
			t.Fatalf("unknown request: %v", none)
		}

		m := get("/api/v1/util/latency/metrics")
		sum := m["summary"].(map[string]any)
		if n(sum["count"]) != 2 || n(m["bucket_size_ns"]) != 1e9 || m["time_field"] != "complete_time" {
			t.Fatalf("metrics: %v", m)
		}
		lo, hi := n(sum["min_latency_ns"]), n(sum["max_latency_ns"])
		if lo <= 0 || lo > hi || f64(sum["p50_latency_ns"]) != float64(lo) || f64(sum["p99_latency_ns"]) != float64(hi) ||
			f64(sum["avg_latency_ns"]) != (float64(lo)+float64(hi))/2 {
			t.Fatalf("metrics summary: %v", sum)
		}
		var inBuckets int64
		for _, b := range m["buckets"].([]any) {
			inBuckets += n(b.(map[string]any)["count"])
		}
		// prevComplete is the older record's: the window starts there.
		if inBuckets != 2 || n(m["from_time"]) != prevComplete || n(m["to_time"]) <= prevComplete {
			t.Fatalf("metrics buckets and window: %v", m)
		}
		if f := get("/api/v1/util/latency/metrics?message_type=F&bucket_ns=1000&time_field=create_time"); n(f["summary"].(map[string]any)["count"]) != 0 ||
			len(f["buckets"].([]any)) != 0 || n(f["bucket_size_ns"]) != 1000 || f["message_type"] != "F" {
			t.Fatalf("metrics of F: %v", f)
		}

		for _, c := range []struct{ path, mention string }{
			{"/api/v1/util/latency/raw?limit=0", "limit"},
			{"/api/v1/util/latency/raw?time_field=stage_time", "time_field"},
			{"/api/v1/util/latency/raw?from_ns=10&to_ns=5", "to_ns"},
			{"/api/v1/util/latency/stages?request_id=" + reqID + "&from_ns=10&to_ns=5", "to_ns"},
			{"/api/v1/util/latency/metrics?bucket_ns=0", "bucket_ns"},
			{"/api/v1/util/latency/metrics?time_field=nope", "time_field"},
		} {
			r := expect(t, e.do(nil, "GET", c.path, nil, bearer(admin)...), 400, "invalid_request")
			if msg := fmt.Sprint(r["message"]); !strings.Contains(msg, c.mention) || r["status"] != 400.0 {
				t.Fatalf("%s: %v, want a message about %s", c.path, r, c.mention)
			}
		}
		for _, path := range []string{"/api/v1/util/latency/raw", "/api/v1/util/latency/stages?request_id=" + reqID, "/api/v1/util/latency/metrics"} {
			expect(t, e.do(nil, "GET", path, nil, bearer(tr)...), 403, "forbidden")
		}
	})
}

// Every processed order leaves a latency record: N orders, K of them
// refused at pre-trade risk, give N raw records of type D, the K with
// status REJECTED at "Risk check completed"; the recorder refuses no stamp
// (omsd_latency_recorder_errors_total counts it when it does).
func TestLatencyRecordsEveryOrder(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		ln, mbase := metricsListener(t)
		e := start(t, kind, withDemoData, func(c *cli.Config) { c.MetricsListener = ln })
		tr := e.login(nil, traderEmail, traderPass).jwt
		rejected := map[string]bool{}
		for i, price := range []string{"100000", "100050", "99000", "107100", "98000", "92900"} {
			ref := fmt.Sprintf("lat-%d", i)
			e.order(t, tr, lo(accountBinh, "FPT", "B", 100, price, ref))
			rejected[ref] = e.orderByReq(t, tr, ref)["orderStatus"] == "REJECTED"
		}
		admin := e.login(nil, adminEmail, adminPass).jwt
		raw := expect(t, e.do(nil, "GET", "/api/v1/util/latency/raw?message_type=D", nil, bearer(admin)...), 200, "")
		recs, _ := raw["records"].([]any)
		if len(recs) != len(rejected) {
			t.Fatalf("%d raw records for %d orders: %v", len(recs), len(rejected), raw)
		}
		k := 0
		for ref, rej := range rejected {
			st := expect(t, e.do(nil, "GET", "/api/v1/util/latency/stages?request_id="+ref, nil, bearer(admin)...), 200, "")
			evs, _ := st["events"].([]any)
			if len(evs) == 0 {
				t.Fatalf("no stages for %s", ref)
			}
			last := evs[len(evs)-1].(map[string]any)
			want, stage := "OK", "Send to Market completed"
			if rej {
				want, stage = "REJECTED", "Risk check completed"
				k++
			}
			if last["status"] != want || last["stage"] != stage {
				t.Fatalf("%s (rejected %v): last stage %v", ref, rej, last)
			}
		}
		if k != 3 {
			t.Fatalf("%d orders rejected, want 3 (off tick, above the ceiling, below the floor)", k)
		}
		m := scrapeMetrics(t, mbase)
		if _, ok := m["omsd_latency_recorder_errors_total"]; !ok {
			t.Fatal("omsd_latency_recorder_errors_total is not exported")
		}
		if v := m.value("omsd_latency_recorder_errors_total", "reason", "refused"); v != 0 {
			t.Fatalf("the recorder refused %v stamps", v)
		}
	})
}
