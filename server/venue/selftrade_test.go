package venue

import "testing"

// own is order o entered by account acct.
func own(acct string, o Order) Order {
	o.Account = acct
	return o
}

// An incoming order stops at a resting order of its own account: what it
// met before trades, the rest is cancelled (self-trade), and the resting
// order and everything behind it stay.
func TestSelfTradeCancelsTheIncomingRest(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, sellLO("s-other", 100, 100), own("A", sellLO("s-own", 100, 100)), sellLO("s-behind", 101, 100))
	r := b.Submit(own("A", buyLO("b", 101, 300)))
	wantTrades(t, r, "b/s-other 100@100 B")
	wantTrace(t, r, `
b accepted 0/300
b partially-filled 100/200 100@100
s-other filled 100/0 100@100
b cancelled/self-trade 100/0
`)
	wantIDs(t, b, Sell, "s-own", "s-behind")
	wantIDs(t, b, Buy)
}

// Each type: LO and MTL with nothing traded yet are cancelled whole, MAK
// keeps what it traded, MOK is not filled at all when its own order is in
// the way; a replace that would cross its own account's order is
// cancelled too.
func TestSelfTradeByType(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Order
		want string
	}{
		{"LO", own("A", buyLO("in", 100, 100)), "in cancelled/self-trade 0/0"},
		{"MTL", own("A", order("in", Buy, MTL, 0, 100)), "in cancelled/self-trade 0/0"},
		{"MAK", own("A", order("in", Buy, MAK, 0, 100)), "in cancelled/self-trade 0/0"},
		{"MOK", own("A", order("in", Buy, MOK, 0, 100)), "in cancelled/self-trade 0/0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := book(t, Continuous)
			mustSubmit(t, b, own("A", sellLO("own", 100, 100)), sellLO("other", 100, 100))
			r := b.Submit(c.in)
			wantTrades(t, r)
			if got := trace(r); got != "in accepted 0/100\n"+c.want+"\n" {
				t.Fatalf("events:\n%s", got)
			}
			wantIDs(t, b, Sell, "own", "other")
		})
	}
	b := book(t, Continuous)
	mustSubmit(t, b, own("A", sellLO("own", 101, 100)), own("A", buyLO("bid", 99, 100)))
	r := b.Replace("bid", vnd(101), 100)
	wantTrades(t, r)
	wantTrace(t, r, `
bid replaced 0/100
bid cancelled/self-trade 0/0
`)
	wantIDs(t, b, Buy)
	wantIDs(t, b, Sell, "own")
}

// In a call auction one account may not have both sides of a book: the
// second side is rejected whatever its type; more of the same side is
// fine.
func TestSelfTradeAuctionRefusesTheOtherSide(t *testing.T) {
	b := book(t, CallAuction)
	mustSubmit(t, b, own("A", buyLO("b1", 99, 100)), own("A", buyLO("b2", 100, 100)), own("B", sellLO("s-b", 99, 100)))
	for _, o := range []Order{own("A", sellLO("s1", 101, 100)), own("A", order("s2", Sell, ATO, 0, 100))} {
		r := b.Submit(o)
		if got := trace(r); got != o.ID+" rejected/self-trade 0/0\n" {
			t.Fatalf("%s: %s", o.ID, got)
		}
	}
	wantTrades(t, b.Uncross(), "b2/s-b 100@100 -")
}

// In a call auction a replace that would make an account's order cross
// its own on the other side is refused (the uncross would match them);
// one that does not cross them is served. Found by
// TestPropertySelfTradeAndLimits.
func TestSelfTradeAuctionRefusesACrossingReplace(t *testing.T) {
	b := book(t, Continuous)
	mustSubmit(t, b, own("A", buyLO("bid", 97, 100)), own("A", sellLO("ask", 99, 100)))
	b.SetPhase(CallAuction)
	r := b.Replace("bid", vnd(99), 100)
	if got := trace(r); got != "bid rejected/self-trade 0/0\n" {
		t.Fatalf("crossing replace: %s", got)
	}
	r = b.Replace("bid", vnd(98), 100)
	if got := trace(r); got != "bid replaced 0/100\n" {
		t.Fatalf("a replace that stays below the own ask: %s", got)
	}
	wantTrades(t, b.Uncross())
}
