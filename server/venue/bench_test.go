package venue

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
)

// benchStream is a pre-generated mixed flow of LO orders around a mid of
// 100: buys at 95..102, sells at 98..105, so about a third of the orders
// cross and the rest rest on 8 levels a side; every fifth order is
// followed by a cancel of a recent order (a done one is a cheap reject).
type benchOp struct {
	cancel bool
	o      Order
}

func benchStream(n int) []benchOp {
	rng := rand.New(rand.NewPCG(1, 2))
	ops := make([]benchOp, 0, n+n/5)
	for i := range n {
		o := Order{ID: "o" + strconv.Itoa(i), Account: "A1", Symbol: "FPT", Type: LO, Qty: 100 * (1 + rng.Int64N(10))}
		if rng.IntN(2) == 0 {
			o.Side, o.Price = Buy, vnd(95+rng.Int64N(8))
		} else {
			o.Side, o.Price = Sell, vnd(98+rng.Int64N(8))
		}
		ops = append(ops, benchOp{o: o})
		if i%5 == 4 {
			ops = append(ops, benchOp{cancel: true, o: Order{ID: "o" + strconv.Itoa(i-rng.IntN(min(i, 200)))}})
		}
	}
	return ops
}

// BenchmarkMatch measures the engine on one goroutine: one op is a new LO
// (that matches, rests or both) or a cancel, through Engine.SubmitTo /
// Engine.Cancel with one reused Report, as the venue adapter would call it.
// orders/s counts new orders only; ops/s counts cancels too.
func BenchmarkMatch(b *testing.B) {
	const n = 1 << 16
	ops := benchStream(n)
	e := NewEngine()
	book, _ := e.AddBook("FPT", vnd(100))
	book.SetPhase(Continuous)
	var r Report
	var news, execs int
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if i == len(ops) { // the ids repeat: start again from an empty book
			b.StopTimer()
			book.Expire()
			i = 0
			b.StartTimer()
		}
		op := &ops[i]
		i++
		r.Reset()
		if op.cancel {
			book.CancelTo(op.o.ID, &r)
		} else {
			e.SubmitTo(op.o, &r)
			news++
		}
		execs += len(r.Executions)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(news)/sec, "orders/s")
	b.ReportMetric(float64(b.N)/sec, "ops/s")
	b.ReportMetric(float64(execs)/float64(b.N), "execs/op")
}

// BenchmarkMatchReport is BenchmarkMatch without the reused Report: each
// call returns a fresh one (the convenient API).
func BenchmarkMatchReport(b *testing.B) {
	const n = 1 << 16
	ops := benchStream(n)
	e := NewEngine()
	book, _ := e.AddBook("FPT", vnd(100))
	book.SetPhase(Continuous)
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if i == len(ops) {
			b.StopTimer()
			book.Expire()
			i = 0
			b.StartTimer()
		}
		op := &ops[i]
		i++
		if op.cancel {
			_ = e.Cancel("FPT", op.o.ID)
		} else {
			_ = e.Submit(op.o)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkPriceCompare is the case for int64 prices: finding a price's
// level among 16 sorted levels, as the book does on every resting order.
func BenchmarkPriceCompare(b *testing.B) {
	const levels = 16
	ints := make([]Price, levels)
	decs := make([]decimal.Decimal, levels)
	for i := range levels {
		ints[i] = vnd(int64(95 + i))
		decs[i] = ints[i].Decimal()
	}
	qi := vnd(103)
	qd := qi.Decimal()
	b.Run("int64", func(b *testing.B) {
		for range b.N {
			if _, ok := slices.BinarySearch(ints, qi); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("decimal", func(b *testing.B) {
		for range b.N {
			if _, ok := slices.BinarySearchFunc(decs, qd, decimal.Decimal.Cmp); !ok {
				b.Fatal("missing")
			}
		}
	})
}
