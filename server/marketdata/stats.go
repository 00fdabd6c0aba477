package marketdata

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/vero-oms/omsd/server/venue"
)

// The docs name productStat ("product trading statistics") and ProductTrend
// ("TrendMaster, buy/sell pressure") without a shape; these are omsd's,
// documented in docs/streaming.md and kept stable. Both describe one board
// of one trading day and start from zero at the roll. Volumes are split by
// who took liquidity, the trade log's way: 1 the buyer took the offer
// ("buy-up"), 2 the seller hit the bid ("sell-down"), 0 an auction trade.

// ProductStat is the day's matched trading of one board: totals, the split
// by way, and the volume matched at each price (what a terminal's "matched
// by price" table shows). Published with a board's next flush after any
// trade, and at the roll.
type ProductStat struct {
	ID          string      `json:"id"` // {ticker}-{board}, as productInfo
	Seq         int64       `json:"seq"`
	Time        int64       `json:"time"` // Unix ms
	Symbol      string      `json:"symbol"`
	BoardID     string      `json:"boardID"`
	NomiPrc     float64     `json:"nomiPrc"`   // the reference price
	LsPrc       float64     `json:"lsPrc"`     // the last trade's price, 0 before the first
	Change      float64     `json:"change"`    // lsPrc - nomiPrc, 0 before the first trade
	ChangePct   float64     `json:"changePct"` // change as a percentage of nomiPrc, 2 decimals
	Trades      int64       `json:"trades"`    // executions today
	TotVol      int64       `json:"totVol"`
	TotVal      float64     `json:"totVal"`
	BuyUpVol    int64       `json:"buyUpVol"`    // way 1
	SellDownVol int64       `json:"sellDownVol"` // way 2
	AuctionVol  int64       `json:"auctionVol"`  // way 0
	PriceStats  []PriceStat `json:"priceStats"`  // one per traded price, highest first
}

// PriceStat is the day's volume matched at one price.
type PriceStat struct {
	Prc         float64 `json:"prc"`
	Vol         int64   `json:"vol"`
	BuyUpVol    int64   `json:"buyUpVol"`
	SellDownVol int64   `json:"sellDownVol"`
	AuctionVol  int64   `json:"auctionVol"`
	Trades      int64   `json:"trades"`
}

// ProductTrend is the buy/sell pressure on one board: in the book now
// (resting quantity on each side, every level) and in the day's trades
// (who took liquidity). Published with the board's depth, at most every
// 100 ms while the book changes.
type ProductTrend struct {
	ID          string `json:"id"`
	Seq         int64  `json:"seq"`
	Time        int64  `json:"time"` // Unix ms
	Symbol      string `json:"symbol"`
	BoardID     string `json:"boardID"`
	Trend       string `json:"trend"`     // the last price against the reference: UP, DOWN or FLAT; "" before the first trade
	TotBidVol   int64  `json:"totBidVol"` // resting buy quantity, all levels
	TotAskVol   int64  `json:"totAskVol"` // resting sell quantity, all levels
	BidLevels   int    `json:"bidLevels"` // price levels with resting buys
	AskLevels   int    `json:"askLevels"`
	BuyUpVol    int64  `json:"buyUpVol"`
	SellDownVol int64  `json:"sellDownVol"`
	// BookPressure is (totBidVol - totAskVol) / (totBidVol + totAskVol):
	// from -1 (only sellers wait) to 1 (only buyers wait), 0 for an empty
	// book; 4 decimals.
	BookPressure float64 `json:"bookPressure"`
	// TradePressure is (buyUpVol - sellDownVol) / (buyUpVol + sellDownVol):
	// 1 when every continuous trade was a buyer taking the offer, -1 when
	// every one was a seller hitting the bid, 0 before any; 4 decimals.
	TradePressure float64 `json:"tradePressure"`
}

// recordStat adds execution x, whose way is s.way, to the day's
// statistics by price (byWay sums them).
func (s *bookState) recordStat(x venue.Execution) {
	s.traded = true
	p := s.prices[x.Price]
	if p == nil {
		p = &PriceStat{Prc: x.Price.Decimal().InexactFloat64()}
		s.prices[x.Price] = p
	}
	p.Vol += x.Qty
	p.Trades++
	switch s.way {
	case 1:
		p.BuyUpVol += x.Qty
	case 2:
		p.SellDownVol += x.Qty
	default:
		p.AuctionVol += x.Qty
	}
}

// byWay sums the day's volume by way over the traded prices.
func (s *bookState) byWay() (sum PriceStat) {
	for _, p := range s.prices {
		sum.Vol += p.Vol
		sum.BuyUpVol += p.BuyUpVol
		sum.SellDownVol += p.SellDownVol
		sum.AuctionVol += p.AuctionVol
		sum.Trades += p.Trades
	}
	return sum
}

func (s *bookState) stat(now time.Time) ProductStat {
	w := s.byWay()
	p := ProductStat{ID: s.ticker + "-" + s.board, Seq: s.seq, Time: now.UnixMilli(), Symbol: s.ticker, BoardID: s.board,
		NomiPrc: s.ref.InexactFloat64(), TotVol: s.vol, TotVal: s.val.InexactFloat64(), Trades: w.Trades,
		AuctionVol: w.AuctionVol, BuyUpVol: w.BuyUpVol, SellDownVol: w.SellDownVol, PriceStats: make([]PriceStat, 0, len(s.prices))}
	if s.vol > 0 {
		p.LsPrc = s.last.InexactFloat64()
		p.Change = s.last.Sub(s.ref).InexactFloat64()
		if !s.ref.IsZero() {
			p.ChangePct = s.last.Sub(s.ref).Div(s.ref).Shift(2).Round(2).InexactFloat64()
		}
	}
	for _, ps := range s.prices {
		p.PriceStats = append(p.PriceStats, *ps)
	}
	slices.SortFunc(p.PriceStats, func(a, b PriceStat) int { return cmp.Compare(b.Prc, a.Prc) })
	return p
}

func (s *bookState) trend(now time.Time) ProductTrend {
	w := s.byWay()
	t := ProductTrend{ID: s.ticker + "-" + s.board, Seq: s.seq, Time: now.UnixMilli(), Symbol: s.ticker, BoardID: s.board,
		BuyUpVol: w.BuyUpVol, SellDownVol: w.SellDownVol}
	bids, asks := s.book.Depth(venue.Buy), s.book.Depth(venue.Sell)
	t.BidLevels, t.AskLevels = len(bids), len(asks)
	for _, l := range bids {
		t.TotBidVol += l.Qty
	}
	for _, l := range asks {
		t.TotAskVol += l.Qty
	}
	if s.vol > 0 {
		t.Trend = [...]string{"DOWN", "FLAT", "UP"}[s.last.Cmp(s.ref)+1]
	}
	t.BookPressure = pressure(t.TotBidVol, t.TotAskVol)
	t.TradePressure = pressure(t.BuyUpVol, t.SellDownVol)
	return t
}

// pressure is (up - down) / (up + down) to 4 decimals, 0 when both are 0.
func pressure(up, down int64) float64 {
	if up+down == 0 {
		return 0
	}
	return math.Round(float64(up-down)/float64(up+down)*1e4) / 1e4
}
