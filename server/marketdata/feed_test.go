package marketdata

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
)

// feedNow is the dev feed's clock.
var feedNow = time.Unix(1_800_000_030, 0)

// devFeed is a feed of the dev instruments file at feedNow and an empty
// HPG book.
func devFeed(t *testing.T) (*Feed, *venue.Book) {
	f, b, _ := devFeedConfig(t)
	return f, b
}

// devFeedConfig is devFeed and the configuration the feed reads (its
// master is the feed's).
func devFeedConfig(t *testing.T) (*Feed, *venue.Book, *market.Config) {
	t.Helper()
	cfg, err := market.Dev()
	if err != nil {
		t.Fatal(err)
	}
	f := New(cfg, func() time.Time { return feedNow })
	b := venue.NewBook("VN000000HPG4", venue.Price(27050_0000))
	return f, b, cfg
}

// order is an order of the account "buyer" or "seller" by its side (an
// account never trades with itself).
func order(id string, side venue.Side, px venue.Price, qty int64) venue.Order {
	acct := map[venue.Side]string{venue.Buy: "buyer", venue.Sell: "seller"}[side]
	return venue.Order{ID: id, Account: acct, Symbol: "VN000000HPG4", Side: side, Type: venue.LO, Price: px, Qty: qty}
}

// cross submits a sell and then a buy of qty at px: they trade.
func cross(f *Feed, b *venue.Book, id string, px venue.Price, qty int64) {
	f.Observed(b, b.Submit(order(id+"-s", venue.Sell, px, qty)))
	f.Observed(b, b.Submit(order(id+"-b", venue.Buy, px, qty)))
}

// Many changes between two flushes give one depth, one product info and
// one bar message per resolution (coalesced, the bars as they stand),
// while every trade is kept, in order.
func TestFlushCoalescesDepthNotTrades(t *testing.T) {
	f, b := devFeed(t)
	b.SetPhase(venue.Continuous)
	for i := range 10 {
		f.Observed(b, b.Submit(order("s"+string(rune('a'+i)), venue.Sell, venue.Price(27500_0000+int64(i)*50_0000), 100)))
	}
	f.Observed(b, b.Submit(order("b1", venue.Buy, venue.Price(27600_0000), 300)))
	pubs := f.Flush()
	var trades, depths, infos, bars int
	for _, p := range pubs {
		switch p.Data.(type) {
		case TradeLog:
			trades++
		case Depth:
			depths++
		case ProductInfo:
			infos++
		case Bar:
			bars++
		}
	}
	if trades != 3 || depths != 1 || infos != 1 || bars != len(Resolutions) {
		t.Fatalf("trades %d depths %d infos %d bars %d: %+v", trades, depths, infos, bars, pubs)
	}
	if again := f.Flush(); len(again) != 0 {
		t.Fatalf("a flush with no change: %+v", again)
	}
	d, _ := f.Snapshot("mkt:depth:HPG-G1")
	if got := d.(Depth).AskPriceDepth; len(got) != 7 || got[0].Prc != 27650 || got[0].Vol != 100 {
		t.Fatalf("asks: %+v", got)
	}
}

// During a call auction product info says so, with the price and volume
// the auction would use now.
func TestProductInfoInAnAuction(t *testing.T) {
	f, b := devFeed(t)
	b.SetPhase(venue.CallAuction)
	f.Observed(b, b.Submit(order("s", venue.Sell, venue.Price(27000_0000), 300)))
	f.Observed(b, b.Submit(order("b", venue.Buy, venue.Price(27200_0000), 200)))
	v, ok := f.Snapshot("mkt:productInfo:HPG-G1")
	p := v.(ProductInfo)
	want := b.AuctionPrice()
	if !ok || !p.IsAuction || !want.OK || p.AucEstVol != 200 || p.AucEstPrc != want.Price.Decimal().InexactFloat64() ||
		p.TradingSession != "call-auction" || p.TotVol != 0 {
		t.Fatalf("product info in the auction: %+v (engine: %+v)", p, want)
	}
}

// A new trading day starts the bars again: after the roll a new
// subscriber gets no bar until the day's first trade, and that bar holds
// the day's trades only.
func TestNewDayStartsTheBarsAgain(t *testing.T) {
	f, b, cfg := devFeedConfig(t)
	b.SetPhase(venue.Continuous)
	cross(f, b, "x1", venue.Price(27500_0000), 100)
	channel := OhlcvChannel("HPG", 60)
	if bar, ok := f.Snapshot(channel); !ok || bar.(Bar).Volume != 100 {
		t.Fatalf("the first day's bar: %+v %v", bar, ok)
	}
	in, ok := cfg.Instruments.ByISIN("VN000000HPG4")
	if !ok {
		t.Fatal("no HPG in the dev master")
	}
	f.NewDay(in)
	// The day's last bar, not flushed before the roll, still goes out.
	var last []Bar
	for _, p := range f.Flush() {
		if b, ok := p.Data.(Bar); ok && p.Channel == channel {
			last = append(last, b)
		}
	}
	if len(last) != 1 || last[0].Volume != 100 {
		t.Fatalf("the first day's last bar at the roll: %+v", last)
	}
	if bar, ok := f.Snapshot(channel); ok {
		t.Fatalf("a bar before the new day's first trade: %+v", bar)
	}
	if v, _ := f.Snapshot("mkt:productStat:HPG-G1"); v.(ProductStat).TotVol != 0 || len(v.(ProductStat).PriceStats) != 0 {
		t.Fatalf("the new day's statistics: %+v", v)
	}
	cross(f, b, "x2", venue.Price(27400_0000), 30)
	bar, ok := f.Snapshot(channel)
	if got := bar.(Bar); !ok || got.Volume != 30 || got.Open != 27400 || got.High != 27400 {
		t.Fatalf("the new day's bar: %+v %v", bar, ok)
	}
}

// productStat splits the day's volume by who took liquidity and by price;
// ProductTrend weighs the book's two sides and the day's trades. A flush
// sends the trend of every changed book and the statistics of a book that
// traded.
func TestProductStatAndTrend(t *testing.T) {
	f, b := devFeed(t)
	b.SetPhase(venue.CallAuction)
	f.Observed(b, b.Submit(order("a-s", venue.Sell, venue.Price(27000_0000), 100)))
	f.Observed(b, b.Submit(order("a-b", venue.Buy, venue.Price(27200_0000), 100)))
	f.Observed(b, b.SetPhase(venue.Continuous)) // the auction trade: way 0
	f.Observed(b, b.Submit(order("s1", venue.Sell, venue.Price(27500_0000), 100)))
	f.Observed(b, b.Submit(order("s2", venue.Sell, venue.Price(27600_0000), 200)))
	f.Observed(b, b.Submit(order("b0", venue.Buy, venue.Price(27000_0000), 500)))
	f.Observed(b, b.Submit(order("b1", venue.Buy, venue.Price(27600_0000), 300))) // buy-up: 100 @27500, 200 @27600
	f.Observed(b, b.Submit(order("s3", venue.Sell, venue.Price(27000_0000), 50))) // sell-down: 50 @27000
	var stats []ProductStat
	var trends []ProductTrend
	for _, p := range f.Flush() {
		switch v := p.Data.(type) {
		case ProductStat:
			stats = append(stats, v)
			if p.Channel != "mkt:productStat:HPG-G1" {
				t.Fatalf("stat on %s", p.Channel)
			}
		case ProductTrend:
			trends = append(trends, v)
			if p.Channel != "mkt:ProductTrend:HPG-G1" {
				t.Fatalf("trend on %s", p.Channel)
			}
		}
	}
	if len(stats) != 1 || len(trends) != 1 {
		t.Fatalf("stats %+v trends %+v", stats, trends)
	}
	s := stats[0]
	if s.TotVol != 450 || s.Trades != 4 || s.BuyUpVol != 300 || s.SellDownVol != 50 || s.AuctionVol != 100 ||
		s.LsPrc != 27000 || s.Change != -50 || s.ChangePct != -0.18 || s.NomiPrc != 27050 || s.Symbol != "HPG" || s.BoardID != "G1" ||
		len(s.PriceStats) != 4 ||
		s.PriceStats[0] != (PriceStat{Prc: 27600, Vol: 200, BuyUpVol: 200, Trades: 1}) ||
		s.PriceStats[1] != (PriceStat{Prc: 27500, Vol: 100, BuyUpVol: 100, Trades: 1}) ||
		s.PriceStats[2] != (PriceStat{Prc: 27050, Vol: 100, AuctionVol: 100, Trades: 1}) || // the auction, at the reference
		s.PriceStats[3] != (PriceStat{Prc: 27000, Vol: 50, SellDownVol: 50, Trades: 1}) {
		t.Fatalf("product stat: %+v", s)
	}
	// Left resting: 450 of b0 @27000; no sells.
	if tr := trends[0]; tr.Trend != "DOWN" || tr.TotBidVol != 450 || tr.TotAskVol != 0 || tr.BidLevels != 1 || tr.AskLevels != 0 ||
		tr.BookPressure != 1 || tr.TradePressure != 0.7143 || tr.BuyUpVol != 300 || tr.SellDownVol != 50 {
		t.Fatalf("product trend: %+v", tr)
	}
	if v, ok := f.Snapshot("mkt:productStat:HPG-G1"); !ok || v.(ProductStat).TotVol != 450 {
		t.Fatalf("stat snapshot: %+v %v", v, ok)
	}
	// A resting order changes the trend, not the statistics.
	f.Observed(b, b.Submit(order("s4", venue.Sell, venue.Price(28000_0000), 150)))
	var kinds []string
	for _, p := range f.Flush() {
		kinds = append(kinds, p.Channel)
	}
	if !slices.Contains(kinds, "mkt:ProductTrend:HPG-G1") || slices.Contains(kinds, "mkt:productStat:HPG-G1") {
		t.Fatalf("after a resting order: %v", kinds)
	}
	if v, _ := f.Snapshot("mkt:ProductTrend:HPG-G1"); v.(ProductTrend).BookPressure != 0.5 {
		t.Fatalf("trend snapshot: %+v", v) // (450-150)/600
	}
}

// An index of the instruments file moves with its constituents' trades,
// weighted by their shares, and its previous close follows the roll.
func TestIndexFromConstituents(t *testing.T) {
	f, b, cfg := devFeedConfig(t)
	b.SetPhase(venue.Continuous)
	if !f.Served("mkt:vnIndex:VN30") || f.Served("mkt:vnIndex:NOPE") || f.Served("mkt:vnIndex:") {
		t.Fatal("served index channels")
	}
	cross(f, b, "x1", venue.Price(27500_0000), 100)
	got := map[string]IndexValue{}
	for _, p := range f.Flush() {
		if v, ok := p.Data.(IndexValue); ok {
			got[p.Channel] = v
		}
	}
	// VN30 = 1350 × (FPT 1.471e9 × 100 000 + VNM 2.09e9 × 62 000 + HPG 6.395e9 × 27 500)
	//             / (the same with HPG at its reference, 27 050) = 1358.6397.
	want := IndexValue{IndexCode: "VN30", Time: feedNow.UnixMilli(), Value: 1358.64, PrevClose: 1350, Change: 8.64, ChangePct: 0.64,
		TotVol: 100, TotVal: 2_750_000, Advances: 1, Unchanged: 2, Constituents: 3}
	if len(got) != 2 || got["mkt:vnIndex:VN30"] != want || got["mkt:vnIndex:VNINDEX"].Value != 1258 {
		t.Fatalf("indices after an HPG trade: %+v", got) // HNX30 has no HPG
	}
	if v, ok := f.Snapshot("mkt:vnIndex:HNX30"); !ok || v.(IndexValue).Value != 230 || v.(IndexValue).Unchanged != 2 {
		t.Fatalf("HNX30 snapshot: %+v", v)
	}
	// The roll: HPG's reference is now 27 500, so VN30 closed at 1358.64 and
	// opens there.
	in, ok := cfg.Instruments.SetReference("VN000000HPG4", decimal.RequireFromString("27500"))
	if !ok {
		t.Fatal("no HPG")
	}
	f.NewDay(in)
	var rolled []IndexValue
	for _, p := range f.Flush() {
		if v, ok := p.Data.(IndexValue); ok && v.IndexCode == "VN30" {
			rolled = append(rolled, v)
		}
	}
	if len(rolled) != 1 || rolled[0].Value != 1358.64 || rolled[0].PrevClose != 1358.64 || rolled[0].Change != 0 || rolled[0].TotVol != 0 {
		t.Fatalf("VN30 after the roll: %+v", rolled)
	}
}

// A bar whose period ends between two flushes goes out as it closed,
// before the trade that opened the next one; a flush sends the bars as
// they stand, and nothing when they have not changed.
func TestBarsGoOutCoalescedAndWhenTheyClose(t *testing.T) {
	cfg, err := market.Dev()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_030, 0) // 30 s into a minute and into a 300 s bar
	f := New(cfg, func() time.Time { return now })
	b := venue.NewBook("VN000000HPG4", venue.Price(27050_0000))
	b.SetPhase(venue.Continuous)
	cross(f, b, "x1", venue.Price(27500_0000), 100)
	cross(f, b, "x2", venue.Price(27600_0000), 50)
	now = now.Add(40 * time.Second) // the next minute, the same 300 s bar
	cross(f, b, "x3", venue.Price(27400_0000), 30)
	var got []string
	for _, p := range f.Flush() {
		switch d := p.Data.(type) {
		case TradeLog:
			got = append(got, fmt.Sprintf("trade %v", d.Price))
		case Bar:
			got = append(got, fmt.Sprintf("%s %d %v/%v/%v/%v %d", p.Channel, d.Time, d.Open, d.High, d.Low, d.Close, d.Volume))
		}
	}
	want := []string{
		"trade 27500", "trade 27600",
		"mkt:OhlcvDTO:HPG:60 1800000000 27500/27600/27500/27600 150", // closed by x3
		"trade 27400",
		"mkt:OhlcvDTO:HPG:60 1800000060 27400/27400/27400/27400 30",
		"mkt:OhlcvDTO:HPG:300 1800000000 27500/27600/27400/27400 180",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("flush:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range f.Flush() {
		if _, ok := p.Data.(Bar); ok {
			t.Fatalf("a bar again with no trade: %+v", p)
		}
	}
}
