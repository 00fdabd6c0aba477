package marketdata

import (
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/venue"
)

// Channel names a market channel of one board: mkt:{kind}:{ticker}-{board}.
func Channel(kind, ticker, board string) string { return "mkt:" + kind + ":" + ticker + "-" + board }

// OhlcvChannel names a bar channel: mkt:OhlcvDTO:{ticker}:{resolution}.
func OhlcvChannel(ticker string, res int64) string {
	return "mkt:OhlcvDTO:" + ticker + ":" + strconv.FormatInt(res, 10)
}

// Served reports whether channel is a market channel this feed serves
// (for an instrument of the master): depth, tradeLog, productInfo,
// productStat and ProductTrend of a board, OHLCV bars of 60 s and 300 s,
// and the indices of the instruments file (vnIndex).
func (f *Feed) Served(channel string) bool {
	rest, ok := strings.CutPrefix(channel, "mkt:")
	if !ok {
		return false
	}
	kind, arg, _ := strings.Cut(rest, ":")
	switch kind {
	case "depth", "tradeLog", "productInfo", "productStat", "ProductTrend":
		i := strings.LastIndexByte(arg, '-')
		if i < 0 {
			return false
		}
		in, ok := f.master.ByTicker(arg[:i])
		return ok && (arg[i+1:] == in.Board || (in.OddLotBoard != "" && arg[i+1:] == in.OddLotBoard))
	case "vnIndex":
		return f.index(arg) != nil
	case "OhlcvDTO":
		ticker, res, _ := strings.Cut(arg, ":")
		_, ok := f.master.ByTicker(ticker)
		return ok && (res == "60" || res == "300")
	}
	return false
}

// Level is one depth level.
type Level struct {
	Prc float64 `json:"prc"`
	Vol int64   `json:"vol"`
}

// Depth is the docs' Depth: the top DepthLevels levels of each side.
type Depth struct {
	Seq           int64   `json:"seq"`
	Time          int64   `json:"time"` // Unix ms
	Symbol        string  `json:"symbol"`
	BoardID       string  `json:"boardID"`
	BidPriceDepth []Level `json:"bidPriceDepth"`
	AskPriceDepth []Level `json:"askPriceDepth"`
}

func (s *bookState) depth(now time.Time) Depth {
	side := func(sd venue.Side) []Level {
		ls := s.book.Depth(sd)
		out := make([]Level, 0, min(len(ls), DepthLevels))
		for _, l := range ls[:min(len(ls), DepthLevels)] {
			out = append(out, Level{Prc: l.Price.Decimal().InexactFloat64(), Vol: l.Qty})
		}
		return out
	}
	return Depth{Seq: s.seq, Time: now.UnixMilli(), Symbol: s.ticker, BoardID: s.board,
		BidPriceDepth: side(venue.Buy), AskPriceDepth: side(venue.Sell)}
}

// TradeLog is the docs' TradeLog: one execution.
type TradeLog struct {
	ID       string  `json:"id"` // the execution id
	Seq      int64   `json:"seq"`
	Symbol   string  `json:"symbol"`
	UnixTime int64   `json:"unixTime"` // Unix ms
	Price    float64 `json:"price"`
	Volume   int64   `json:"volume"`
	Change   float64 `json:"change"` // price - reference price
	Way      int64   `json:"way"`
	BoardID  string  `json:"boardID"`
}

// ProductInfo is the docs' ProductInfo. Foreign room, put-through totals
// and open interest are not simulated (0); the text fields the docs leave
// open are "" except tradingSession (the book's phase).
type ProductInfo struct {
	ID                   string  `json:"id"`
	Seq                  int64   `json:"seq"`
	Time                 int64   `json:"time"`
	Symbol               string  `json:"symbol"`
	BoardID              string  `json:"boardID"`
	CurrFR               float64 `json:"currFR"`
	TotalFR              float64 `json:"totalFR"`
	TotBuyFR             float64 `json:"totBuyFR"`
	TotSellFR            float64 `json:"totSellFR"`
	NomiPrc              float64 `json:"nomiPrc"`
	CeilPrc              float64 `json:"ceilPrc"`
	FloorPrc             float64 `json:"floorPrc"`
	LsPrc                float64 `json:"lsPrc"`
	LsVol                int64   `json:"lsVol"`
	AucEstPrc            float64 `json:"AucEstPrc"`
	AucEstVol            int64   `json:"AucEstVol"`
	IsAuction            bool    `json:"isAuction"`
	OpenPrc              float64 `json:"openPrc"`
	ClosePrc             float64 `json:"closePrc"`
	HighPrc              float64 `json:"highPrc"`
	LowPrc               float64 `json:"lowPrc"`
	VWAP                 float64 `json:"vWAP"`
	TotVol               int64   `json:"totVol"`
	TotVal               float64 `json:"totVal"`
	TotVolPT             int64   `json:"totVolPT"`
	TotValPT             float64 `json:"totValPT"`
	LsWay                int64   `json:"lsWay"`
	DynInfo              string  `json:"dynInfo"`
	MarketMakingPossible string  `json:"marketMakingPossible"`
	Halt                 string  `json:"halt"`
	LiquidationTrading   string  `json:"liquidationTrading"`
	TradingSession       string  `json:"tradingSession"`
	BoardEventID         string  `json:"boardEventID"`
	SessionOpenCloseCode string  `json:"sessionOpenCloseCode"`
	OpenInterest         int64   `json:"openInterest"`
}

func (s *bookState) info(now time.Time) ProductInfo {
	p := ProductInfo{ID: s.ticker + "-" + s.board, Seq: s.seq, Time: now.UnixMilli(), Symbol: s.ticker, BoardID: s.board,
		NomiPrc: s.ref.InexactFloat64(), CeilPrc: s.ceil.InexactFloat64(), FloorPrc: s.floor.InexactFloat64(),
		LsPrc: s.last.InexactFloat64(), LsVol: s.lastQty, OpenPrc: s.open.InexactFloat64(),
		HighPrc: s.high.InexactFloat64(), LowPrc: s.low.InexactFloat64(), TotVol: s.vol, TotVal: s.val.InexactFloat64(),
		LsWay: s.way, TradingSession: s.book.Phase().String()}
	if s.book.Phase() == venue.Closed && s.vol > 0 {
		p.ClosePrc = p.LsPrc
	}
	if s.vol > 0 {
		p.VWAP = s.val.Div(decimal.NewFromInt(s.vol)).Round(4).InexactFloat64()
	}
	if s.book.Phase() == venue.CallAuction {
		a := s.book.AuctionPrice()
		p.IsAuction = true
		if a.OK {
			p.AucEstPrc, p.AucEstVol = a.Price.Decimal().InexactFloat64(), a.Volume
		}
	}
	return p
}
