package marketdata

import (
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
)

func devFeed(t *testing.T) (*Feed, *venue.Book) {
	t.Helper()
	cfg, err := market.Dev()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_030, 0)
	f := New(cfg.Instruments, func() time.Time { return now })
	b := venue.NewBook("VN000000HPG4", venue.Price(27050_0000))
	return f, b
}

// order is an order of the account "buyer" or "seller" by its side (an
// account never trades with itself).
func order(id string, side venue.Side, px venue.Price, qty int64) venue.Order {
	acct := map[venue.Side]string{venue.Buy: "buyer", venue.Sell: "seller"}[side]
	return venue.Order{ID: id, Account: acct, Symbol: "VN000000HPG4", Side: side, Type: venue.LO, Price: px, Qty: qty}
}

// Many changes between two flushes give one depth and one product info
// message (coalesced), while every trade is kept, in order.
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
	if trades != 3 || depths != 1 || infos != 1 || bars != 3*len(Resolutions) {
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
