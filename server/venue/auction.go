package venue

import "slices"

// Uncross runs the call auction on what the book has collected: it picks
// one price (AuctionPrice), executes the maximum volume at it and then
// cancels every ATO/ATC order still open (ReasonAuctionEnd). Priority at
// the auction price: ATO/ATC first (in time order), except that an LO buy
// at the ceiling or sell at the floor entered before them keeps its time
// priority (Limits); then limits by price, best first, then time. Executions have no aggressor (SideNone). The phase
// does not change; SetPhase leaving CallAuction calls it.
//
// Uncross leaves the book uncrossed: the buys filled are the best-priced
// ones, so a buy left at limit b and a sell left at limit a ≤ b would raise
// the volume at price a above the maximum, a contradiction.
func (b *Book) Uncross() Report {
	var r Report
	b.mu.Lock()
	defer b.mu.Unlock()
	b.uncross(&r)
	return r
}

// AuctionResult is the outcome of the auction price search.
type AuctionResult struct {
	Price     Price
	Volume    int64 // executable quantity at Price
	Imbalance int64 // |demand - supply| at Price
	OK        bool  // false when nothing can execute
}

// AuctionPrice is the price Uncross would use now, without executing.
//
// The rule: candidates are the distinct limit prices in the book plus the
// anchor, which is the book's last execution price, or its reference price
// before any execution (0 = none). For each candidate p, demand D(p) is the
// open quantity of ATO/ATC buys plus limit buys at p or higher, supply S(p)
// that of ATO/ATC sells plus limit sells at p or lower; the volume is
// min(D, S). The chosen price, as the exchanges' periodic matching rule
// states it,
//  1. maximises the volume,
//  2. then is equal or closest to the anchor (skipped when there is none),
//  3. then is the higher price (as HOSE does when two prices remain).
//
// There is no "smallest imbalance" step: the exchanges' rule has none, so
// Imbalance is reported for information only.
//
// With only ATO/ATC orders on both sides the only candidate is the anchor.
// A volume of 0 means no auction trade (OK false).
func (b *Book) AuctionPrice() AuctionResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.auctionPrice()
}

func (b *Book) anchor() Price {
	if b.lastPx != 0 {
		return b.lastPx
	}
	return b.ref
}

func (b *Book) auctionPrice() AuctionResult {
	anchor := b.anchor()
	bids, asks := b.bids.levels, b.asks.levels // ascending, descending
	cands := make([]Price, 0, len(bids)+len(asks)+1)
	for _, l := range bids {
		cands = append(cands, l.price)
	}
	for _, l := range asks {
		cands = append(cands, l.price)
	}
	if anchor > 0 {
		cands = append(cands, anchor)
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)

	var totalBid int64
	for _, l := range bids {
		totalBid += l.total
	}
	mktBuy, mktSell := b.market[Buy].total, b.market[Sell].total
	var best AuctionResult
	var bestDist Price
	bi, ai := 0, len(asks)-1 // bids below p consumed from the front, asks at or below p from the back
	var bidBelow, askAtOrBelow int64
	for _, p := range cands {
		for bi < len(bids) && bids[bi].price < p {
			bidBelow += bids[bi].total
			bi++
		}
		for ai >= 0 && asks[ai].price <= p {
			askAtOrBelow += asks[ai].total
			ai--
		}
		d, s := mktBuy+totalBid-bidBelow, mktSell+askAtOrBelow
		vol, imb := min(d, s), d-s
		if imb < 0 {
			imb = -imb
		}
		if vol == 0 {
			continue
		}
		dist := p - anchor
		if dist < 0 {
			dist = -dist
		}
		c := AuctionResult{Price: p, Volume: vol, Imbalance: imb, OK: true}
		if !best.OK || c.beats(best, dist, bestDist, anchor > 0) {
			best, bestDist = c, dist
		}
	}
	return best
}

// beats applies the tie-break chain of AuctionPrice: a (at distance da from
// the anchor) against the incumbent c (at dc).
func (a AuctionResult) beats(c AuctionResult, da, dc Price, hasAnchor bool) bool {
	if a.Volume != c.Volume {
		return a.Volume > c.Volume
	}
	if hasAnchor && da != dc {
		return da < dc
	}
	return a.Price > c.Price
}

func (b *Book) uncross(r *Report) {
	res := b.auctionPrice()
	if res.OK {
		p := res.Price
		for {
			buy := b.auctionHead(Buy, p)
			sell := b.auctionHead(Sell, p)
			if buy == nil || sell == nil {
				break
			}
			q := min(buy.LeavesQty, sell.LeavesQty)
			buy.lvl.total -= q
			sell.lvl.total -= q
			b.fill(buy, sell, p, q, SideNone, OpAuction, r)
			for _, e := range [2]*entry{buy, sell} {
				if e.LeavesQty == 0 {
					b.unrest(e)
					delete(b.orders, e.ID)
					b.release(e)
				}
			}
		}
	}
	b.cancelLevel(&b.market[Buy], OpAuction, ReasonAuctionEnd, r)
	b.cancelLevel(&b.market[Sell], OpAuction, ReasonAuctionEnd, r)
}

// auctionHead is the highest-priority order of side s that may trade at
// p: the oldest ATO/ATC, unless the best limit sits at the band's edge in
// its favour and came first (atLimit).
func (b *Book) auctionHead(s Side, p Price) *entry {
	var lim *entry
	if l := b.sideOf(s).best(); l != nil && (s != Buy || l.price >= p) && (s != Sell || l.price <= p) {
		lim = l.head
	}
	mkt := b.market[s].head
	if mkt == nil || (lim != nil && b.atLimit(s, lim.Price) && lim.Seq < mkt.Seq) {
		return lim
	}
	return mkt
}
