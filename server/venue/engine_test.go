package venue

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

func engine(t *testing.T, symbols ...string) *Engine {
	t.Helper()
	e := NewEngine()
	for _, s := range symbols {
		if _, err := e.AddBook(s, vnd(100)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func on(sym string, o Order) Order { o.Symbol = sym; return o }

func TestEngineRouting(t *testing.T) {
	e := engine(t, "FPT", "VCB")
	if _, err := e.AddBook("FPT", 1); err == nil {
		t.Fatal("duplicate book")
	}
	if _, err := e.AddBook("", 1); err == nil {
		t.Fatal("empty symbol")
	}
	if got := e.Symbols(); len(got) != 2 || got[0] != "FPT" || got[1] != "VCB" {
		t.Fatalf("symbols %v", got)
	}
	// Books start Closed.
	if r := e.Submit(buyLO("b", 100, 100)); r.Events[0].Reason != ReasonMarketClosed {
		t.Fatalf("got %s", trace(r))
	}
	e.SetPhaseAll(Continuous)
	for _, r := range []Report{
		e.Submit(on("HPG", buyLO("b", 100, 100))),
		e.Cancel("HPG", "b"),
		e.Replace("HPG", "b", 0, 10),
	} {
		if len(r.Events) != 1 || r.Events[0].Reason != ReasonUnknownSymbol {
			t.Fatalf("got %s", trace(r))
		}
	}
	if _, err := e.SetPhase("HPG", Continuous); err == nil {
		t.Fatal("phase of unknown book")
	}
	if _, err := e.Uncross("HPG"); err == nil {
		t.Fatal("uncross of unknown book")
	}

	// Executions in two books share one increasing ExecID sequence.
	mustOK := func(r Report) Report {
		t.Helper()
		if r.Events[0].Kind == EventRejected {
			t.Fatalf("got %s", trace(r))
		}
		return r
	}
	mustOK(e.Submit(buyLO("b1", 100, 100)))
	mustOK(e.Submit(on("VCB", sellLO("s1", 100, 100))))
	x1 := mustOK(e.Submit(sellLO("s1", 100, 60))).Executions
	x2 := mustOK(e.Submit(on("VCB", buyLO("b1", 100, 100)))).Executions
	x3 := e.Replace("FPT", "b1", vnd(100), 50).Events // 60 of 100 filled
	if len(x1) != 1 || len(x2) != 1 || x1[0].ExecID != 1 || x2[0].ExecID != 2 || x2[0].Symbol != "VCB" {
		t.Fatalf("execs %+v %+v", x1, x2)
	}
	if x3[0].Kind != EventRejected || x3[0].Reason != ReasonQtyNotAboveFilled {
		t.Fatalf("got %+v", x3[0])
	}
	if o, _ := mustBook(t, e, "FPT").Order("b1"); o.LeavesQty != 40 {
		t.Fatalf("b1 %+v", o)
	}
	r := e.Cancel("FPT", "b1")
	if r.Events[0].Kind != EventCancelled {
		t.Fatalf("got %s", trace(r))
	}
	// Leaving the auction for every book runs each auction, in symbol order.
	e.SetPhaseAll(CallAuction)
	mustOK(e.Submit(on("VCB", order("a", Buy, ATO, 0, 10))))
	mustOK(e.Submit(order("a", Sell, ATO, 0, 10)))
	mustOK(e.Submit(buyLO("l", 101, 5)))
	r = e.SetPhaseAll(Continuous)
	if got := trades(r); len(got) != 1 || got[0] != "l/a 5@100 -" { // anchor: the last price, 100
		t.Fatalf("auction trades %v", got)
	}
	if r.Executions[0].ExecID != 3 {
		t.Fatalf("exec id %d", r.Executions[0].ExecID)
	}
	// FPT: ATO sell's remaining 5 cancelled; VCB: ATO buy cancelled.
	if n := len(r.Events); n != 4 || r.Events[2].Order.Symbol != "FPT" || r.Events[3].Order.Symbol != "VCB" {
		t.Fatalf("events %s", trace(r))
	}
}

func mustBook(t *testing.T, e *Engine, sym string) *Book {
	t.Helper()
	b, ok := e.Book(sym)
	if !ok {
		t.Fatalf("no book %s", sym)
	}
	return b
}

// TestEngineConcurrent: 8 goroutines on 4 symbols (two per symbol) enter,
// cancel and replace at once. Every ExecID is unique; each symbol's volume
// is conserved and its book is not crossed afterwards; within one report
// ExecIDs increase.
func TestEngineConcurrent(t *testing.T) {
	syms := []string{"FPT", "VCB", "HPG", "VIC"}
	e := engine(t, syms...)
	e.SetPhaseAll(Continuous)
	const perWorker = 2000
	var (
		mu      sync.Mutex
		execIDs = make(map[uint64]bool)
		buyQty  = make(map[string]int64)
		sellQty = make(map[string]int64)
		execQty = make(map[string]int64)
		wg      sync.WaitGroup
	)
	for w := range 2 * len(syms) {
		sym := syms[w%len(syms)]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var reports []Report
			for i := range perWorker {
				id := fmt.Sprintf("w%d-%d", w, i)
				side := Buy
				if rng.IntN(2) == 0 {
					side = Sell
				}
				switch x := rng.IntN(10); {
				case x < 7:
					reports = append(reports, e.Submit(on(sym, order(id, side, LO, vnd(98+rng.Int64N(5)), 1+rng.Int64N(300)))))
				case x < 8:
					reports = append(reports, e.Submit(on(sym, order(id, side, []OrderType{MAK, MOK, MTL}[rng.IntN(3)], 0, 1+rng.Int64N(300)))))
				case x < 9:
					reports = append(reports, e.Cancel(sym, fmt.Sprintf("w%d-%d", w, rng.IntN(i+1))))
				default:
					reports = append(reports, e.Replace(sym, fmt.Sprintf("w%d-%d", w, rng.IntN(i+1)), vnd(98+rng.Int64N(5)), 1+rng.Int64N(400)))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range reports {
				var last uint64
				for _, x := range r.Executions {
					if execIDs[x.ExecID] || x.ExecID <= last {
						t.Errorf("exec id %d repeated or out of order", x.ExecID)
					}
					execIDs[x.ExecID], last = true, x.ExecID
					execQty[x.Symbol] += x.Qty
				}
				for _, ev := range r.Events {
					if ev.LastQty > 0 && ev.Order.Side == Buy {
						buyQty[ev.Order.Symbol] += ev.LastQty
					} else if ev.LastQty > 0 {
						sellQty[ev.Order.Symbol] += ev.LastQty
					}
				}
			}
		})
	}
	wg.Wait()
	for _, s := range syms {
		if buyQty[s] != sellQty[s] || buyQty[s] != execQty[s] || execQty[s] == 0 {
			t.Errorf("%s: buys %d sells %d execs %d", s, buyQty[s], sellQty[s], execQty[s])
		}
		b := mustBook(t, e, s)
		bid, _, okB := b.Best(Buy)
		ask, _, okA := b.Best(Sell)
		if okB && okA && bid >= ask {
			t.Errorf("%s crossed: %s/%s", s, bid, ask)
		}
	}
	if got := uint64(len(execIDs)); got != e.execSeq.Load() {
		t.Errorf("%d exec ids, sequence at %d", got, e.execSeq.Load())
	}
}
