package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// trackerWith is a tracker whose orders were due every millisecond from
// t0 and delivered after the given latencies (ms).
func trackerWith(t0 time.Time, ms []float64) *tracker {
	t := newTracker()
	for i, m := range ms {
		t.delivered = append(t.delivered, delivered{t0.Add(time.Duration(i) * time.Millisecond), time.Duration(m * float64(time.Millisecond))})
	}
	return t
}

func TestBurstsGroupTheSlowestByDueTime(t *testing.T) {
	// 1 000 deliveries of 1 ms, but 5 of 20 ms at 100-104 ms and 5 of 30
	// ms spread 200 ms apart: the slowest 1% (10) are one burst of 5 and
	// 5 bursts of one.
	ms := make([]float64, 1000)
	for i := range ms {
		ms[i] = 1
	}
	for i := 100; i < 105; i++ {
		ms[i] = 20
	}
	for i := 300; i < 1000; i += 200 {
		ms[i] = 30
	}
	ms[999] = 30
	got := bursts(trackerWith(time.Now(), ms))
	want := "the slowest 1% (10 deliveries of 20.00 ms or more) fall in 6 bursts (due within 50ms of each other); 0 in the 0 bursts of 10 or more"
	if got != want {
		t.Fatalf("bursts:\n got %s\nwant %s", got, want)
	}
	// Twice over, with 15 of 20 ms at 100-114: the slowest 1% (20) are the
	// ten of 30 ms, one burst each, and the first ten of 20 ms, one burst.
	ms = append(ms, ms...)
	for i := 100; i < 115; i++ {
		ms[i] = 20
	}
	got = bursts(trackerWith(time.Now(), ms))
	want = "the slowest 1% (20 deliveries of 20.00 ms or more) fall in 11 bursts (due within 50ms of each other); 10 in the 1 bursts of 10 or more"
	if got != want {
		t.Fatalf("bursts, twice over:\n got %s\nwant %s", got, want)
	}
}

func TestWriteDeliveriesInDueOrder(t *testing.T) {
	t0 := time.Now()
	tr := trackerWith(t0, []float64{1.5, 2.25})
	tr.delivered[0], tr.delivered[1] = tr.delivered[1], tr.delivered[0] // arrival order
	path := filepath.Join(t.TempDir(), "d.csv")
	runs := []result{{test: "latency", t: tr}, {test: "throughput", t: trackerWith(t0, []float64{9})}}
	if err := writeDeliveries(path, runs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "run,due_ms,delivery_ms\nlatency/0,0.000,1.500\nlatency/0,1.000,2.250\n"; string(b) != want {
		t.Fatalf("CSV:\n%s\nwant\n%s", b, want)
	}
}
