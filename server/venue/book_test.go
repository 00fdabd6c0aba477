package venue

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
)

func TestLimitMatchesBestPriceThenTime(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, sellLO("s1", 101, 100), sellLO("s2", 100, 100), sellLO("s3", 100, 100))
	r := b.Submit(buyLO("b1", 101, 250))
	// 100 is the best ask: s2 (older) then s3 fill there, then s1 at 101.
	wantTrades(t, r, "b1/s2 100@100 B", "b1/s3 100@100 B", "b1/s1 50@101 B")
	wantTrace(t, r, `
b1 accepted 0/250
b1 partially-filled 100/150 100@100
s2 filled 100/0 100@100
b1 partially-filled 200/50 100@100
s3 filled 100/0 100@100
b1 filled 250/0 50@101
s1 partially-filled 50/50 50@101
`)
	for i, x := range r.Executions {
		if x.ExecID != uint64(i+1) {
			t.Fatalf("exec %d has id %d", i, x.ExecID)
		}
	}
	wantIDs(t, b, Sell, "s1")
	wantIDs(t, b, Buy)
	if o, _ := b.Order("s1"); o.LeavesQty != 50 || o.CumQty != 50 || o.Qty != 100 {
		t.Fatalf("s1 = %+v", o)
	}
}

func TestLimitRestsWhenNotCrossing(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, sellLO("s1", 101, 100), buyLO("b1", 100, 100), buyLO("b2", 99, 100), buyLO("b3", 100, 100))
	wantIDs(t, b, Buy, "b1", "b3", "b2")
	if d := b.Depth(Buy); len(d) != 2 || d[0] != (Level{vnd(100), 200, 2}) || d[1] != (Level{vnd(99), 100, 1}) {
		t.Fatalf("depth %+v", d)
	}
	// A sell at the bid price takes the oldest order at the best bid.
	r := b.Submit(sellLO("s2", 99, 150))
	wantTrades(t, r, "b1/s2 100@100 S", "b3/s2 50@100 S")
}

func TestMAKKillsRemainder(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, sellLO("s1", 100, 100), sellLO("s2", 105, 100))
	r := b.Submit(order("m", Buy, MAK, vnd(1), 250)) // price is ignored
	wantTrades(t, r, "m/s1 100@100 B", "m/s2 100@105 B")
	wantTrace(t, r, `
m accepted 0/250
m partially-filled 100/150 100@100
s1 filled 100/0 100@100
m partially-filled 200/50 100@105
s2 filled 100/0 100@105
m cancelled/ioc-remainder 200/0
`)
	if _, ok := b.Order("m"); ok {
		t.Fatal("MAK rests")
	}
	r = b.Submit(order("m2", Sell, MAK, 0, 10))
	wantTrace(t, r, `
m2 accepted 0/10
m2 cancelled/ioc-remainder 0/0
`)
}

func TestMOKAllOrNothing(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, buyLO("b1", 100, 100), buyLO("b2", 99, 100))
	r := b.Submit(order("k1", Sell, MOK, 0, 201))
	wantTrades(t, r)
	wantTrace(t, r, `
k1 accepted 0/201
k1 cancelled/fok-not-fillable 0/0
`)
	wantIDs(t, b, Buy, "b1", "b2")
	r = b.Submit(order("k2", Sell, MOK, 0, 200))
	wantTrades(t, r, "b1/k2 100@100 S", "b2/k2 100@99 S")
	if last := r.Events[len(r.Events)-1]; last.Order.ID != "k2" || last.Kind != EventFilled || last.Order.CumQty != 200 {
		t.Fatalf("last event %+v", last)
	}
	wantIDs(t, b, Buy)
}

func TestMTL(t *testing.T) {
	t.Run("remainder becomes a limit at the last fill price", func(t *testing.T) {
		b := book(t, Continuous)
		mustSubmit(t, b, sellLO("s1", 100, 100), sellLO("s2", 101, 100))
		r := b.Submit(order("t", Buy, MTL, 0, 300))
		wantTrades(t, r, "t/s1 100@100 B", "t/s2 100@101 B")
		wantTrace(t, r, `
t accepted 0/300
t partially-filled 100/200 100@100
s1 filled 100/0 100@100
t partially-filled 200/100 100@101
s2 filled 100/0 100@101
t replaced/mtl-to-limit 200/100
`)
		o, ok := b.Order("t")
		if !ok || o.Price != vnd(101) || o.LeavesQty != 100 || o.Type != MTL {
			t.Fatalf("t = %+v %v", o, ok)
		}
		// It now trades as a limit at 101: a sell at 102 rests, one at 101 fills.
		mustSubmit(t, b, sellLO("s3", 102, 50))
		wantTrades(t, b.Submit(sellLO("s4", 101, 50)), "t/s4 50@101 S")
	})
	t.Run("full fill", func(t *testing.T) {
		b := book(t, Continuous)
		mustSubmit(t, b, buyLO("b1", 100, 100))
		wantTrace(t, b.Submit(order("t", Sell, MTL, 0, 100)), `
t accepted 0/100
b1 filled 100/0 100@100
t filled 100/0 100@100
`)
	})
	t.Run("no contra is cancelled", func(t *testing.T) {
		b := book(t, Continuous)
		mustSubmit(t, b, buyLO("b1", 100, 100))
		wantTrace(t, b.Submit(order("t", Buy, MTL, 0, 100)), `
t accepted 0/100
t cancelled/no-liquidity 0/0
`)
	})
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		phase Phase
		o     Order
		want  Reason
	}{
		{"closed", Closed, buyLO("x", 100, 100), ReasonMarketClosed},
		{"ATO in continuous", Continuous, order("x", Buy, ATO, 0, 100), ReasonTypeNotInPhase},
		{"ATC in continuous", Continuous, order("x", Sell, ATC, 0, 100), ReasonTypeNotInPhase},
		{"MAK in auction", CallAuction, order("x", Buy, MAK, 0, 100), ReasonTypeNotInPhase},
		{"MOK in auction", CallAuction, order("x", Buy, MOK, 0, 100), ReasonTypeNotInPhase},
		{"MTL in auction", CallAuction, order("x", Buy, MTL, 0, 100), ReasonTypeNotInPhase},
		{"zero qty", Continuous, buyLO("x", 100, 0), ReasonInvalidOrder},
		{"LO without price", Continuous, buyLO("x", 0, 100), ReasonInvalidOrder},
		{"no side", Continuous, order("x", SideNone, LO, vnd(100), 100), ReasonInvalidOrder},
		{"bad type", Continuous, order("x", Buy, OrderType(42), vnd(100), 100), ReasonInvalidOrder},
		{"no id", Continuous, buyLO("", 100, 100), ReasonInvalidOrder},
		{"other symbol", Continuous, Order{ID: "x", Symbol: "VCB", Side: Buy, Type: LO, Price: 1, Qty: 1}, ReasonInvalidOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := book(t, tc.phase)
			r := b.Submit(tc.o)
			if len(r.Events) != 1 || r.Events[0].Kind != EventRejected || r.Events[0].Reason != tc.want || r.Events[0].Op != OpNew {
				t.Fatalf("got %s", trace(r))
			}
			wantIDs(t, b, Buy)
			wantIDs(t, b, Sell)
		})
	}
	t.Run("duplicate live id", func(t *testing.T) {
		b := book(t, Continuous)
		mustSubmit(t, b, buyLO("x", 100, 100))
		r := b.Submit(buyLO("x", 99, 100))
		if r.Events[0].Reason != ReasonDuplicateOrderID {
			t.Fatalf("got %s", trace(r))
		}
		if o, _ := b.Order("x"); o.Price != vnd(100) {
			t.Fatalf("x changed: %+v", o)
		}
	})
}

func TestCancel(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, buyLO("b1", 100, 100), buyLO("b2", 100, 100), sellLO("s1", 100, 40))
	wantTrace(t, b.Cancel("b1"), "b1 cancelled/user 40/0\n")
	wantIDs(t, b, Buy, "b2")
	if d := b.Depth(Buy); d[0].Qty != 100 || d[0].Orders != 1 {
		t.Fatalf("depth %+v", d)
	}
	for _, id := range []string{"b1", "s1", "nope"} { // cancelled, filled, unknown
		r := b.Cancel(id)
		if len(r.Events) != 1 || r.Events[0].Kind != EventRejected || r.Events[0].Reason != ReasonUnknownOrder || r.Events[0].Op != OpCancel {
			t.Fatalf("cancel %s: %s", id, trace(r))
		}
	}
	wantTrace(t, b.Cancel("b2"), "b2 cancelled/user 0/0\n")
	if d := b.Depth(Buy); len(d) != 0 {
		t.Fatalf("depth %+v", d)
	}
}

func TestReplacePriority(t *testing.T) {
	setup := func(t *testing.T) *Book {
		b := book(t, Continuous)
		mustSubmit(t, b, buyLO("a", 100, 300), buyLO("b", 100, 300))
		return b
	}
	t.Run("qty down keeps priority", func(t *testing.T) {
		b := setup(t)
		wantTrace(t, b.Replace("a", 0, 200), "a replaced 0/200\n")
		wantIDs(t, b, Buy, "a", "b")
		wantTrades(t, b.Submit(sellLO("s", 100, 100)), "a/s 100@100 S")
		if d := b.Depth(Buy); d[0].Qty != 400 {
			t.Fatalf("depth %+v", d)
		}
	})
	t.Run("same price given explicitly, qty down keeps priority", func(t *testing.T) {
		b := setup(t)
		b.Replace("a", vnd(100), 100)
		wantIDs(t, b, Buy, "a", "b")
	})
	t.Run("qty up loses priority", func(t *testing.T) {
		b := setup(t)
		wantTrace(t, b.Replace("a", 0, 400), "a replaced 0/400\n")
		wantIDs(t, b, Buy, "b", "a")
		wantTrades(t, b.Submit(sellLO("s", 100, 100)), "b/s 100@100 S")
	})
	t.Run("price change loses priority", func(t *testing.T) {
		b := setup(t)
		b.Replace("a", vnd(99), 300)
		b.Replace("a", vnd(100), 300)
		wantIDs(t, b, Buy, "b", "a")
	})
	t.Run("price up to a better level leads it", func(t *testing.T) {
		b := setup(t)
		b.Replace("b", vnd(101), 300)
		wantIDs(t, b, Buy, "b", "a")
		if d := b.Depth(Buy); len(d) != 2 || d[0].Price != vnd(101) {
			t.Fatalf("depth %+v", d)
		}
	})
	t.Run("auction: decrease keeps, increase loses", func(t *testing.T) {
		b := book(t, CallAuction)
		mustSubmit(t, b, order("a", Buy, ATO, 0, 100), order("b", Buy, ATO, 0, 100))
		b.Replace("a", 0, 50)
		wantIDs(t, b, Buy, "a", "b")
		b.Replace("a", 0, 150)
		wantIDs(t, b, Buy, "b", "a")
		if r := b.Replace("a", vnd(100), 150); r.Events[0].Reason != ReasonInvalidOrder {
			t.Fatalf("priced ATO: %s", trace(r))
		}
	})
}

func TestReplaceEdges(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, buyLO("a", 100, 300), sellLO("s", 100, 100))
	// a has 100 filled: the new qty must exceed it.
	for _, q := range []int64{100, 50, 0} {
		r := b.Replace("a", 0, q)
		if r.Events[0].Kind != EventRejected || r.Events[0].Reason != ReasonQtyNotAboveFilled || r.Events[0].Op != OpReplace {
			t.Fatalf("replace to %d: %s", q, trace(r))
		}
	}
	wantTrace(t, b.Replace("a", 0, 101), "a replaced 100/1\n")
	if r := b.Replace("zz", 0, 10); r.Events[0].Reason != ReasonUnknownOrder {
		t.Fatalf("unknown: %s", trace(r))
	}
	if r := b.Replace("a", -1, 200); r.Events[0].Reason != ReasonInvalidOrder {
		t.Fatalf("negative price: %s", trace(r))
	}
	b.SetPhase(Closed)
	if r := b.Replace("a", 0, 200); r.Events[0].Reason != ReasonMarketClosed {
		t.Fatalf("closed: %s", trace(r))
	}
	// Cancel still works when closed (the OMS applies the session matrix).
	wantTrace(t, b.Cancel("a"), "a cancelled/user 100/0\n")
}

func TestReplaceThatCrossesMatches(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, sellLO("s1", 101, 100), sellLO("s2", 102, 100), buyLO("b", 99, 150))
	r := b.Replace("b", vnd(101), 150)
	wantTrace(t, r, `
b replaced 0/150
b partially-filled 100/50 100@101
s1 filled 100/0 100@101
`)
	wantTrades(t, r, "b/s1 100@101 B")
	o, _ := b.Order("b")
	if o.Price != vnd(101) || o.LeavesQty != 50 {
		t.Fatalf("b = %+v", o)
	}
	// Crossing through completely: the order is done and leaves the book.
	r = b.Replace("b", vnd(102), 200)
	wantTrades(t, r, "b/s2 100@102 B")
	if _, ok := b.Order("b"); ok {
		t.Fatal("filled order rests")
	}
	if ev := r.Events[len(r.Events)-2]; ev.Kind != EventFilled || ev.Order.ID != "b" || ev.Op != OpReplace {
		t.Fatalf("got %s", trace(r))
	}
}

func TestReplaceInAuctionDoesNotMatch(t *testing.T) {
	b := book(t, CallAuction)
	mustSubmit(t, b, sellLO("s", 100, 100), buyLO("b", 99, 100))
	r := b.Replace("b", vnd(101), 100)
	wantTrades(t, r)
	if bid, _, _ := b.Best(Buy); bid != vnd(101) {
		t.Fatalf("bid %s", bid)
	}
}

func TestExpire(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, buyLO("b1", 99, 100), buyLO("b2", 100, 100), sellLO("s1", 101, 100))
	b.SetPhase(CallAuction)
	mustSubmit(t, b, order("a", Buy, ATC, 0, 100))
	wantTrace(t, b.Expire(), `
b2 cancelled/expired 0/0
b1 cancelled/expired 0/0
s1 cancelled/expired 0/0
a cancelled/expired 0/0
`)
	wantIDs(t, b, Buy)
	wantIDs(t, b, Sell)
	mustSubmit(t, b, buyLO("b1", 99, 100)) // ids are free again
}

func TestPrice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Price
		out  string
	}{
		{"100000", 1_000_000_000, "100000"},
		{"1234.5", 12_345_000, "1234.5"},
		{"0.0001", 1, "0.0001"},
		{"42.10", 421_000, "42.1"},
	} {
		p, err := ParsePrice(tc.in)
		if err != nil || p != tc.want || p.String() != tc.out {
			t.Fatalf("%s: %d %q %v", tc.in, p, p.String(), err)
		}
		if !p.Decimal().Equal(decimal.RequireFromString(tc.in)) {
			t.Fatalf("%s: decimal %s", tc.in, p.Decimal())
		}
	}
	for _, bad := range []string{"0.00001", "abc", "1e30"} {
		if _, err := ParsePrice(bad); err == nil {
			t.Fatalf("%s parsed", bad)
		}
	}
}

func TestNames(t *testing.T) {
	for _, typ := range []OrderType{LO, ATO, ATC, MTL, MAK, MOK} {
		if got, ok := ParseOrderType(typ.String()); !ok || got != typ {
			t.Fatalf("%s round trip", typ)
		}
	}
	if _, ok := ParseOrderType("PLO"); ok {
		t.Fatal("PLO parsed")
	}
	if Buy.Opposite() != Sell || Sell.Opposite() != Buy || Buy.String() != "B" {
		t.Fatal("sides")
	}
}

// A restored book keeps the priority it is given and trades like the
// book it replaces; invalid orders are refused.
func TestRestoreKeepsPriority(t *testing.T) {
	b := NewBook("FPT", 0)
	b.SetPhase(Continuous)
	for _, o := range []Order{
		{ID: "old", Side: Sell, Type: LO, Price: 1000, Qty: 300, CumQty: 100},
		{ID: "new", Side: Sell, Type: LO, Price: 1000, Qty: 100},
	} {
		if err := b.Restore(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Restore(Order{ID: "old", Side: Sell, Type: LO, Price: 1000, Qty: 100}); !errors.Is(err, ErrInvalidRestore) {
		t.Fatalf("duplicate restore: %v", err)
	}
	if err := b.Restore(Order{ID: "done", Side: Sell, Type: LO, Price: 1000, Qty: 100, CumQty: 100}); !errors.Is(err, ErrInvalidRestore) {
		t.Fatalf("restore of a filled order: %v", err)
	}
	if o, ok := b.Order("old"); !ok || o.LeavesQty != 200 || o.CumQty != 100 {
		t.Fatalf("restored order: %+v %v", o, ok)
	}
	r := b.Submit(Order{ID: "buy", Side: Buy, Type: LO, Price: 1000, Qty: 250})
	if len(r.Executions) != 2 || r.Executions[0].SellOrderID != "old" || r.Executions[0].Qty != 200 || r.Executions[1].SellOrderID != "new" {
		t.Fatalf("the oldest restored order fills first: %+v", r.Executions)
	}
}

func TestSeedExecIDs(t *testing.T) {
	e := NewEngine()
	b, _ := e.AddBook("FPT", 0)
	b.SetPhase(Continuous)
	e.SeedExecIDs(41)
	e.SeedExecIDs(7) // never backwards
	b.Submit(Order{ID: "s", Side: Sell, Type: LO, Price: 1000, Qty: 100})
	r := b.Submit(Order{ID: "b", Side: Buy, Type: LO, Price: 1000, Qty: 100})
	if len(r.Executions) != 1 || r.Executions[0].ExecID != 42 {
		t.Fatalf("executions after seeding 41: %+v", r.Executions)
	}
}
