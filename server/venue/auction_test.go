package venue

import "testing"

func wantAuction(t *testing.T, b *Book, price, vol, imb int64) {
	t.Helper()
	got := b.AuctionPrice()
	want := AuctionResult{Price: vnd(price), Volume: vol, Imbalance: imb, OK: true}
	if got != want {
		t.Fatalf("auction %s vol %d imb %d ok %v, want %s vol %d imb %d",
			got.Price, got.Volume, got.Imbalance, got.OK, want.Price, vol, imb)
	}
}

// TestAuctionMaxVolume works the classic example by hand (reference 100).
//
//	buys:  ATO 200, LO 300@102, LO 200@101, LO 100@99
//	sells: ATO 100, LO 200@99,  LO 300@100, LO 200@101
//
//	price  demand D(p)              supply S(p)              volume  imbalance
//	  99   200+300+200+100 = 800    100+200 = 300              300     500
//	 100   200+300+200     = 700    100+200+300 = 600          600     100
//	 101   200+300+200     = 700    100+200+300+200 = 800      700     100
//	 102   200+300         = 500    800                        500     300
//
// 101 maximises the volume (700). All 700 of demand fills; supply fills in
// priority order: the ATO sell, 200@99, 300@100, then 100 of the 200@101.
func TestAuctionMaxVolume(t *testing.T) {
	b := book(t, CallAuction)
	mustSubmit(t, b,
		order("ba", Buy, ATO, 0, 200), buyLO("b102", 102, 300), buyLO("b101", 101, 200), buyLO("b99", 99, 100),
		sellLO("s99", 99, 200), order("sa", Sell, ATO, 0, 100), sellLO("s100", 100, 300), sellLO("s101", 101, 200))
	wantAuction(t, b, 101, 700, 100)
	r := b.Uncross()
	wantTrades(t, r,
		"ba/sa 100@101 -", "ba/s99 100@101 -", "b102/s99 100@101 -", "b102/s100 200@101 -",
		"b101/s100 100@101 -", "b101/s101 100@101 -")
	wantIDs(t, b, Buy, "b99")
	wantIDs(t, b, Sell, "s101")
	if o, _ := b.Order("s101"); o.LeavesQty != 100 || o.CumQty != 100 {
		t.Fatalf("s101 = %+v", o)
	}
	if b.LastPrice() != vnd(101) {
		t.Fatalf("last %s", b.LastPrice())
	}
}

// TestAuctionNoImbalanceStep: buy 100@101; sells 100@99, 50@101;
// reference 101.
//
//	 99: D 100, S 100 -> volume 100, imbalance 0
//	101: D 100, S 150 -> volume 100, imbalance 50
//
// Equal volume: the price equal to the reference wins. (The exchanges'
// rule has no "smallest imbalance" step; omsd used to pick 99 here.)
func TestAuctionNoImbalanceStep(t *testing.T) {
	b := NewBook("FPT", vnd(101))
	b.SetPhase(CallAuction)
	mustSubmit(t, b, buyLO("b", 101, 100), sellLO("s1", 99, 100), sellLO("s2", 101, 50))
	wantAuction(t, b, 101, 100, 50)
	wantTrades(t, b.Uncross(), "b/s1 100@101 -")
}

// TestAuctionReferenceTieBreak: buy 100@101, sell 100@99. Every candidate
// between trades 100 with imbalance 0, so the reference decides:
//
//	reference 100 -> 100 (a candidate itself, distance 0)
//	reference 98  -> 99  (distance 1 against 3 for 101; the reference 98
//	                      itself trades nothing: S(98) = 0)
//	reference 104 -> 101 (distance 3 against 5 for 99; D(104) = 0)
//	reference 0   -> no anchor: the higher price, 101
func TestAuctionReferenceTieBreak(t *testing.T) {
	for _, tc := range []struct{ ref, want int64 }{{100, 100}, {98, 99}, {104, 101}, {0, 101}} {
		b := NewBook("FPT", vnd(tc.ref))
		b.SetPhase(CallAuction)
		mustSubmit(t, b, buyLO("b", 101, 100), sellLO("s", 99, 100))
		wantAuction(t, b, tc.want, 100, 0)
		wantTrades(t, b.Uncross(), "b/s 100@"+vnd(tc.want).String()+" -")
	}
}

// TestAuctionEquidistantTakesHigher: reference 100; buys 100@102, sells
// 100@98 and a sell 100@100.
//
//	 98: D 100, S 100 -> 100, imbalance 0, distance 2
//	100: D 100, S 200 -> 100, imbalance 100, distance 0
//	102: D 100, S 200 -> 100, imbalance 100, distance 2
//
// 100, the reference, wins. Now add a buy 100@100 instead:
//
//	buys 100@102, 100@100; sells 100@98, 100@102
//	 98: D 200, S 100 -> 100, imb 100, distance 2
//	100: D 200, S 100 -> 100, imb 100, distance 0   <- wins
//	102: D 100, S 200 -> 100, imb 100, distance 2
//
// and with reference 101 both 100 and 102 are at distance 1 (101 itself:
// D 100, S 100, imbalance 0, so the reference wins outright); with the
// reference at 0 the rule falls through to the higher price, 102.
func TestAuctionEquidistantTakesHigher(t *testing.T) {
	b := book(t, CallAuction)
	mustSubmit(t, b, buyLO("b", 102, 100), sellLO("s1", 98, 100), sellLO("s2", 100, 100))
	wantAuction(t, b, 100, 100, 100)

	b = book(t, CallAuction)
	mustSubmit(t, b, buyLO("b1", 102, 100), buyLO("b2", 100, 100), sellLO("s1", 98, 100), sellLO("s2", 102, 100))
	wantAuction(t, b, 100, 100, 100)

	b = NewBook("FPT", 0)
	b.SetPhase(CallAuction)
	mustSubmit(t, b, buyLO("b1", 102, 100), buyLO("b2", 100, 100), sellLO("s1", 98, 100), sellLO("s2", 102, 100))
	wantAuction(t, b, 102, 100, 100)
}

// TestAuctionMarketPriority: ATO orders fill before limits at the auction
// price even when they came later; then time among limits.
//
//	buys: LO 100@100 (first), ATO 100, LO 100@100 (third); sell LO 150@100
//	100: D 300, S 150 -> the ATO takes 100, the first LO 50; the third LO
//	gets nothing. The ATO is done, nothing is left to cancel.
func TestAuctionMarketPriority(t *testing.T) {
	b := book(t, CallAuction)
	mustSubmit(t, b, buyLO("l1", 100, 100), order("a", Buy, ATO, 0, 100), buyLO("l2", 100, 100), sellLO("s", 100, 150))
	wantIDs(t, b, Buy, "a", "l1", "l2")
	r := b.Uncross()
	wantTrades(t, r, "a/s 100@100 -", "l1/s 50@100 -")
	wantIDs(t, b, Buy, "l1", "l2")
	if o, _ := b.Order("l1"); o.LeavesQty != 50 {
		t.Fatalf("l1 = %+v", o)
	}
}

// TestAuctionCancelsUnfilledMarketOrders: ATC buy 300 against an LO sell
// 100@99 and an ATC sell 50 (reference 100).
//
//	 99: D 300, S 150 -> 150, imbalance 150, distance 1
//	100: D 300, S 150 -> 150, imbalance 150, distance 0 <- the reference
//
// 150 trades at 100; the ATC buy's remaining 150 is cancelled.
func TestAuctionCancelsUnfilledMarketOrders(t *testing.T) {
	b := book(t, CallAuction)
	mustSubmit(t, b, order("a", Buy, ATC, 0, 300), sellLO("s", 99, 100), order("sa", Sell, ATC, 0, 50))
	r := b.Uncross()
	wantTrades(t, r, "a/sa 50@100 -", "a/s 100@100 -")
	wantTrace(t, r, `
a partially-filled 50/250 50@100
sa filled 50/0 50@100
a partially-filled 150/150 100@100
s filled 100/0 100@100
a cancelled/auction-end 150/0
`)
	wantIDs(t, b, Buy)
	wantIDs(t, b, Sell)
}

func TestAuctionNothingCrosses(t *testing.T) {
	b := book(t, CallAuction)
	mustSubmit(t, b, buyLO("b", 99, 100), sellLO("s", 101, 100), order("a", Buy, ATC, 0, 10))
	wantTrades(t, b.Cancel("a")) // cancel is allowed in an auction (the OMS applies the matrix)
	// 99: S 0; 100 (ref): D 0, S 0; 101: D 0: no candidate trades.
	if res := b.AuctionPrice(); res.OK {
		t.Fatalf("auction %+v", res)
	}
	mustSubmit(t, b, order("a2", Buy, ATO, 0, 10), order("sa", Sell, ATO, 0, 5))
	// An ATO buy has no limit: 99: D 110, S 5 -> 5; 100: D 10, S 5 -> 5
	// imb 5; 101: D 10, S 105 -> 10. It takes the ATO sell, then 5 of s at
	// 101.
	wantAuction(t, b, 101, 10, 95)
	wantTrades(t, b.Uncross(), "a2/sa 5@101 -", "a2/s 5@101 -")
	wantIDs(t, b, Buy, "b")
	wantIDs(t, b, Sell, "s")
	// Now nothing crosses: no trade, the book stays.
	r := b.Uncross()
	if len(r.Events) != 0 {
		t.Fatalf("got %s", trace(r))
	}
}

func TestAuctionOnlyMarketOrdersUseAnchor(t *testing.T) {
	b := book(t, CallAuction) // reference 100
	mustSubmit(t, b, order("a", Buy, ATO, 0, 100), order("s", Sell, ATO, 0, 60))
	wantTrades(t, b.Uncross(), "a/s 60@100 -")

	b = NewBook("FPT", 0)
	b.SetPhase(CallAuction)
	mustSubmit(t, b, order("a", Buy, ATO, 0, 100), order("s", Sell, ATO, 0, 60))
	r := b.Uncross()
	wantTrades(t, r)
	wantTrace(t, r, "a cancelled/auction-end 0/0\ns cancelled/auction-end 0/0\n")
}

// TestAuctionAnchorIsLastPrice: after a trade at 105 the closing auction
// breaks ties towards 105, not the reference 100.
func TestAuctionAnchorIsLastPrice(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, buyLO("x", 105, 10), sellLO("y", 105, 10))
	b.SetPhase(CallAuction)
	mustSubmit(t, b, buyLO("b", 106, 100), sellLO("s", 99, 100))
	wantAuction(t, b, 105, 100, 0)
}

func TestCallAuctionCollectsThenOpens(t *testing.T) {
	b := book(t, CallAuction)
	// Crossing limits collect without matching.
	r := b.Submit(buyLO("b", 101, 100))
	r2 := b.Submit(sellLO("s", 100, 60))
	wantTrades(t, r)
	wantTrades(t, r2)
	if bid, _, _ := b.Best(Buy); bid != vnd(101) {
		t.Fatal("bid missing")
	}
	// LO cannot be cancelled in an auction by the matrix, but that is the
	// OMS's rule: the engine allows it.
	mustSubmit(t, b, order("a", Sell, ATO, 0, 10))
	// Leaving the auction uncrosses: candidates 100 (ref) and 101:
	// 100: D 100, S 70 -> 70 imb 30; 101: D 100, S 70 -> 70 imb 30; ref 100.
	r = b.SetPhase(Continuous)
	wantTrades(t, r, "b/a 10@100 -", "b/s 60@100 -")
	if b.Phase() != Continuous {
		t.Fatal("phase")
	}
	wantIDs(t, b, Buy, "b")
	// Continuous trading now matches immediately.
	wantTrades(t, b.Submit(sellLO("s2", 101, 30)), "b/s2 30@101 S")
}

func TestSetPhaseWithoutAuction(t *testing.T) {
	b := book(t, Continuous)
	if r := b.SetPhase(Closed); len(r.Events) != 0 {
		t.Fatal("events")
	}
	if r := b.SetPhase(CallAuction); len(r.Events) != 0 {
		t.Fatal("events")
	}
	if r := b.SetPhase(CallAuction); len(r.Events) != 0 {
		t.Fatal("events")
	}
}
