package stream

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A revoke round checks its sessions revokeWorkers at a time: every one
// exactly once, never more than revokeWorkers at once, and more than one
// at once when there are many (in sequence, thousands of store round
// trips would outlast RevokeEvery).
func TestRevokeRoundRunsChecksConcurrently(t *testing.T) {
	m := map[string]int{}
	for i := range 400 {
		m["jwt-"+strconv.Itoa(i)] = i
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var active, peak atomic.Int64
	forEach(context.Background(), m, func(k string, v int) {
		n := active.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond) // a store round trip
		active.Add(-1)
		mu.Lock()
		seen[k]++
		mu.Unlock()
		if m[k] != v {
			t.Errorf("%s got %d", k, v)
		}
	})
	if len(seen) != len(m) {
		t.Fatalf("visited %d of %d", len(seen), len(m))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s visited %d times", k, n)
		}
	}
	if p := peak.Load(); p > revokeWorkers || p < 2 {
		t.Fatalf("at most %d checks ran at once, want 2..%d", p, revokeWorkers)
	}
	// An ended context skips the rest; an empty map returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var n atomic.Int64
	forEach(ctx, m, func(string, int) { n.Add(1) })
	forEach(context.Background(), map[string]int{}, func(string, int) { n.Add(1) })
	if n.Load() != 0 {
		t.Fatalf("%d checks after the context ended", n.Load())
	}
}
