// Package marketdata turns the venue simulator's books into the market
// data of the Streaming API: depth (top 10 levels), the trade log, product
// info (prices, volumes, the session and the auction estimate), product
// statistics and trend (stats.go), OHLCV bars, and the indices of the
// instruments file (index.go). The trading service's simulator calls Observed after every venue
// call; Flush, called every 100 ms by the publisher, returns what changed
// since, so a busy book's depth goes out at most every 100 ms while every
// trade goes out once, in order.
//
// Market data is a view of the books, not a record: it lives in the venue
// owner's memory, restarts with the books and is not in the outbox.
package marketdata

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
)

// DepthLevels is how many price levels a depth snapshot lists per side.
const DepthLevels = 10

// Resolutions are the OHLCV bar lengths served, in seconds.
var Resolutions = []int64{60, 300}

// Publication is one message for one channel.
type Publication struct {
	Channel string
	Data    any
}

// Feed keeps the market data of every book.
type Feed struct {
	master  *market.Master
	indices []*indexState
	now     func() time.Time

	mu      sync.Mutex
	books   map[string]*bookState // by venue book key (ISIN or ISIN/board)
	pending []Publication         // trades and bars since the last Flush, in order
}

// New returns a feed for the instruments and indices of c.
func New(c *market.Config, now func() time.Time) *Feed {
	if now == nil {
		now = time.Now
	}
	f := &Feed{master: c.Instruments, now: now, books: map[string]*bookState{}}
	for _, ix := range c.Indices {
		f.indices = append(f.indices, newIndexState(ix, c.Instruments))
	}
	return f
}

type bookState struct {
	key, ticker, board string
	main               bool // the round-lot board (OHLCV bars follow it)
	ref, ceil, floor   decimal.Decimal
	book               *venue.Book
	dirty              bool
	seq                int64

	last, open, high, low decimal.Decimal
	lastQty, way          int64
	vol                   int64
	val                   decimal.Decimal
	bars                  map[int64]*Bar // by resolution: the current bar
	barChanged            map[int64]bool // by resolution: the bar changed since it was last sent

	traded bool                       // trades since the last Flush (productStat changed)
	prices map[venue.Price]*PriceStat // the day's volume by traded price (and by way)
}

// Bar is one OHLCV bar (the docs' OhlcvBar).
type Bar struct {
	Time   int64   `json:"time"` // start, Unix seconds
	Open   float64 `json:"open"`
	High   float64 `json:"high"`
	Low    float64 `json:"low"`
	Close  float64 `json:"close"`
	Volume int64   `json:"volume"`
}

// state returns the state of book key, created on first use; nil for a
// book of no instrument of the master.
func (f *Feed) state(key string, b *venue.Book) *bookState {
	if s, ok := f.books[key]; ok {
		return s
	}
	isin, board, odd := strings.Cut(key, "/")
	in, ok := f.master.ByISIN(isin)
	if !ok {
		return nil
	}
	if !odd {
		board = in.Board
	}
	s := &bookState{key: key, ticker: in.Ticker, board: board, main: !odd, ref: in.ReferencePrice, ceil: in.Ceiling, floor: in.Floor,
		book: b, bars: map[int64]*Bar{}, barChanged: map[int64]bool{}, prices: map[venue.Price]*PriceStat{}}
	f.books[key] = s
	return s
}

// NewDay starts in's trading day on its books' market data: the new
// reference price and band, the day's statistics and OHLCV bars from zero.
func (f *Feed) NewDay(in market.Instrument) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for book, s := range f.books {
		if isin, _, _ := strings.Cut(book, "/"); isin != in.ISIN { // its books: ISIN, ISIN/odd-lot board
			continue
		}
		s.ref, s.ceil, s.floor = in.ReferencePrice, in.Ceiling, in.Floor
		s.last, s.open, s.high, s.low, s.val = decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero
		s.lastQty, s.way, s.vol = 0, 0, 0
		// A new subscriber to a bar channel gets the day's current bar, none
		// before its first trade; yesterday's last bars go out now if they
		// changed since the last flush.
		f.pending = append(f.pending, s.changedBars(func(int64, *Bar) bool { return true })...)
		clear(s.bars)
		clear(s.prices)
		s.traded = true
		s.dirty = true
	}
	f.touchIndices(in.ISIN)
}

// Observed records what one venue call did to book b.
func (f *Feed) Observed(b *venue.Book, rep venue.Report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.state(b.Symbol(), b)
	if s == nil {
		return
	}
	s.dirty = true
	if s.main && len(rep.Executions) > 0 {
		f.touchIndices(s.key)
	}
	for _, x := range rep.Executions {
		now := f.now()
		if s.main {
			// A bar whose period this trade ends goes out as it closed.
			f.pending = append(f.pending, s.changedBars(func(res int64, b *Bar) bool { return b.Time != now.Unix()/res*res })...)
		}
		f.pending = append(f.pending, s.trade(x, now))
		if s.main {
			for _, res := range Resolutions {
				s.barChanged[res] = true
			}
		}
	}
}

// changedBars returns the bars that changed since they were last sent and
// that pick chooses, as publications, and marks them sent.
func (s *bookState) changedBars(pick func(res int64, b *Bar) bool) []Publication {
	var out []Publication
	for _, res := range Resolutions {
		if bar := s.bars[res]; bar != nil && s.barChanged[res] && pick(res, bar) {
			out = append(out, Publication{OhlcvChannel(s.ticker, res), *bar})
			s.barChanged[res] = false
		}
	}
	return out
}

// trade applies one execution and returns its trade log entry.
func (s *bookState) trade(x venue.Execution, now time.Time) Publication {
	px := x.Price.Decimal()
	if s.vol == 0 {
		s.open, s.high, s.low = px, px, px
	}
	s.high, s.low = decimal.Max(s.high, px), decimal.Min(s.low, px)
	s.last, s.lastQty, s.way = px, x.Qty, way(x.Aggressor)
	s.vol += x.Qty
	s.recordStat(x)
	s.val = s.val.Add(px.Mul(decimal.NewFromInt(x.Qty)))
	s.seq++
	for _, res := range Resolutions {
		start := now.Unix() / res * res
		bar := s.bars[res]
		f := px.InexactFloat64()
		if bar == nil || bar.Time != start {
			bar = &Bar{Time: start, Open: f, High: f, Low: f}
			s.bars[res] = bar
		}
		bar.High, bar.Low, bar.Close = max(bar.High, f), min(bar.Low, f), f
		bar.Volume += x.Qty
	}
	return Publication{Channel("tradeLog", s.ticker, s.board), TradeLog{
		ID: strconv.FormatUint(x.ExecID, 10), Seq: s.seq, Symbol: s.ticker, UnixTime: now.UnixMilli(),
		Price: px.InexactFloat64(), Volume: x.Qty, Change: px.Sub(s.ref).InexactFloat64(), Way: s.way, BoardID: s.board,
	}}
}

// way is the docs' "way" of a trade: 1 the buyer took the offer, 2 the
// seller hit the bid, 0 an auction trade (no aggressor).
func way(aggressor venue.Side) int64 {
	switch aggressor {
	case venue.Buy:
		return 1
	case venue.Sell:
		return 2
	}
	return 0
}

// Flush returns the trades and bars since the last Flush, in order, then
// the depth and product info of every book that changed.
func (f *Feed) Flush() []Publication {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.pending
	f.pending = nil
	now := f.now()
	for _, s := range f.books {
		if !s.dirty {
			continue
		}
		s.dirty = false
		out = append(out, Publication{Channel("depth", s.ticker, s.board), s.depth(now)},
			Publication{Channel("productInfo", s.ticker, s.board), s.info(now)},
			Publication{Channel("ProductTrend", s.ticker, s.board), s.trend(now)})
		if s.traded {
			s.traded = false
			out = append(out, Publication{Channel("productStat", s.ticker, s.board), s.stat(now)})
		}
		out = append(out, s.changedBars(func(int64, *Bar) bool { return true })...)
	}
	for _, st := range f.indices {
		if st.dirty {
			st.dirty = false
			out = append(out, Publication{IndexChannel(st.ix.Code), f.value(st, now)})
		}
	}
	return out
}

// Snapshot returns the current message of a depth, productInfo,
// productStat, ProductTrend, OHLCV or index channel (false when there is
// none yet), for a new subscriber.
func (f *Feed) Snapshot(channel string) (any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kind, arg, _ := strings.Cut(strings.TrimPrefix(channel, "mkt:"), ":")
	if kind == "vnIndex" {
		if st := f.index(arg); st != nil {
			return f.value(st, f.now()), true
		}
		return nil, false
	}
	for _, s := range f.books {
		if kind == "OhlcvDTO" {
			if bar, ok := s.bars[resolutionOf(arg, s.ticker)]; ok && s.main {
				return *bar, true
			}
			continue
		}
		if arg == s.ticker+"-"+s.board {
			return s.message(kind, f.now())
		}
	}
	return nil, false
}

// resolutionOf is the resolution of a bar channel's "{ticker}:{seconds}"
// when it names ticker (0 otherwise: no bar has it).
func resolutionOf(arg, ticker string) int64 {
	t, res, _ := strings.Cut(arg, ":")
	if t != ticker {
		return 0
	}
	n, _ := strconv.ParseInt(res, 10, 64)
	return n
}

// message is the current message of one of a board's channels.
func (s *bookState) message(kind string, now time.Time) (any, bool) {
	switch kind {
	case "depth":
		return s.depth(now), true
	case "productInfo":
		return s.info(now), true
	case "productStat":
		return s.stat(now), true
	case "ProductTrend":
		return s.trend(now), true
	}
	return nil, false
}
