package trading

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/vero-oms/omsd/store"
)

// benchAccounts are two accounts rich enough for any benchmark run.
func benchAccounts() []propAccount {
	const fpt = "VN000000FPT1"
	return []propAccount{
		{"BENCH01", "b1@example.com", "1000000000000000", []store.Holding{{Symbol: fpt, SellableQty: 1 << 40, AvgPrice: dec("100000")}}},
		{"BENCH02", "b2@example.com", "1000000000000000", []store.Holding{{Symbol: fpt, SellableQty: 1 << 40, AvgPrice: dec("100000")}}},
	}
}

// BenchmarkSubmitRest enters limit orders that rest (no match): the
// checks, the hold and the stored order, the venue's accept.
func BenchmarkSubmitRest(b *testing.B) {
	h := newHarness(b, benchAccounts())
	a := h.accts[0]
	price := "99000"
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := h.svc.Submit(h.ctx, a.user, NewOrder{Account: a.code, Symbol: "FPT", Side: "B", Type: "LO", Price: &price, Qty: 100, RefOrderID: fmt.Sprintf("r%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitMatch alternates a resting sell and the buy that fills
// it: every second op applies a fill to both orders and both accounts.
func BenchmarkSubmitMatch(b *testing.B) {
	h := newHarness(b, benchAccounts())
	price := "100000"
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a, side := h.accts[0], "S"
		if i%2 == 1 {
			a, side = h.accts[1], "B"
		}
		if _, err := h.svc.Submit(h.ctx, a.user, NewOrder{Account: a.code, Symbol: "FPT", Side: side, Type: "LO", Price: &price, Qty: 100, RefOrderID: fmt.Sprintf("m%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if bad := h.checkAll(); len(bad) > 0 {
		b.Fatalf("invariants broken: %v", bad[0])
	}
}

// BenchmarkSubmitRestParallel is BenchmarkSubmitRest from several
// goroutines at once, so entries on the book queue up and commit in
// batches (routeEntries routes several orders per step).
func BenchmarkSubmitRestParallel(b *testing.B) {
	h := newHarness(b, benchAccounts())
	a := h.accts[0]
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		price := "99000"
		for pb.Next() {
			if _, err := h.svc.Submit(h.ctx, a.user, NewOrder{Account: a.code, Symbol: "FPT", Side: "B", Type: "LO", Price: &price, Qty: 100, RefOrderID: fmt.Sprintf("p%d", n.Add(1))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
