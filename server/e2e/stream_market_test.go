package e2e

import (
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/venue"
)

// A sequence of orders on one book yields depth snapshots equal to the
// book, one trade log entry per execution, product info with the last
// price and volumes, and OHLCV bars whose values match the trades.
func TestStreamMarketData(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		s := e.stream(t, tr)
		depth, trades, info := "mkt:depth:HPG-G1", "mkt:tradeLog:HPG-G1", "mkt:productInfo:HPG-G1"
		bar60, bar300 := "mkt:OhlcvDTO:HPG:60", "mkt:OhlcvDTO:HPG:300"
		stat, trend, vn30 := "mkt:productStat:HPG-G1", "mkt:ProductTrend:HPG-G1", "mkt:vnIndex:VN30"
		s.subscribeAll(depth, trades, info, bar60, bar300, stat, trend, vn30)

		e.order(t, tr, lo(accountBinh, "HPG", "S", 100, "27500", "md-s1"))
		e.order(t, tr, lo(accountBinh, "HPG", "S", 200, "27600", "md-s2"))
		e.order(t, tr, lo(accountAn, "HPG", "B", 500, "27000", "md-b1"))
		e.order(t, tr, lo(accountAn, "HPG", "B", 300, "27600", "md-b2")) // takes 100 @27500, 200 @27600
		s.within(5*time.Second, "two trades", func() bool { return len(s.pubs[trades]) == 2 })
		time.Sleep(2 * venueFlush) // the depth after the last trade
		s.settle()

		tl := s.received(trades)
		if len(tl) != 2 || tl[0].data["price"] != 27500.0 || tl[0].data["volume"] != 100.0 || tl[0].data["way"] != 1.0 ||
			tl[1].data["price"] != 27600.0 || tl[1].data["volume"] != 200.0 || tl[0].data["symbol"] != "HPG" || tl[0].data["boardID"] != "G1" ||
			tl[0].data["change"] != 27500.0-27050.0 {
			t.Fatalf("trade log: %v", tl)
		}
		wantFields(t, "trade log", tl[0].data, []string{"id", "seq", "symbol", "unixTime", "price", "volume", "change", "way", "boardID"})

		d := last(s.received(depth), func(map[string]any) bool { return true })
		wantDepth(t, e, d)

		p := last(s.received(info), func(map[string]any) bool { return true })
		if p["lsPrc"] != 27600.0 || p["lsVol"] != 200.0 || p["totVol"] != 300.0 || p["totVal"] != 100*27500.0+200*27600.0 ||
			p["openPrc"] != 27500.0 || p["highPrc"] != 27600.0 || p["lowPrc"] != 27500.0 || p["nomiPrc"] != 27050.0 ||
			p["isAuction"] != false || p["tradingSession"] != "continuous" {
			t.Fatalf("product info: %v", p)
		}
		for _, ch := range []string{bar60, bar300} {
			b := last(s.received(ch), func(map[string]any) bool { return true })
			if b["open"] != 27500.0 || b["high"] != 27600.0 || b["low"] != 27500.0 || b["close"] != 27600.0 || b["volume"] != 300.0 {
				t.Fatalf("%s bar: %v", ch, b)
			}
		}

		wantStatAndTrend(t, last(s.received(stat), func(map[string]any) bool { return true }),
			last(s.received(trend), func(map[string]any) bool { return true }))
		// VN30 of the dev file: HPG last at 27 600 (reference 27 050), FPT and
		// VNM untraded: 1350 × Σ shares × price / Σ shares × reference.
		ix := last(s.received(vn30), func(map[string]any) bool { return true })
		wantFields(t, "index", ix, []string{"indexCode", "time", "value", "prevClose", "change", "changePct", "totVol", "totVal",
			"advances", "declines", "unchanged", "constituents"})
		if ix["value"] != 1360.56 || ix["prevClose"] != 1350.0 || ix["change"] != 10.56 || ix["changePct"] != 0.78 ||
			ix["totVol"] != 300.0 || ix["advances"] != 1.0 || ix["unchanged"] != 2.0 || ix["constituents"] != 3.0 {
			t.Fatalf("VN30: %v", ix)
		}

		// A late subscriber gets the current messages with its subscription.
		late := e.stream(t, tr)
		late.subscribeAll(depth, stat, trend)
		late.within(5*time.Second, "the snapshots", func() bool {
			return len(late.pubs[depth]) > 0 && len(late.pubs[stat]) > 0 && len(late.pubs[trend]) > 0
		})
		wantDepth(t, e, late.received(depth)[0].data)
		wantStatAndTrend(t, late.received(stat)[0].data, late.received(trend)[0].data)
	})
}

const venueFlush = 100 * time.Millisecond

// wantDepth compares a depth message with the simulator's book.
func wantDepth(t *testing.T, e *env, d map[string]any) {
	t.Helper()
	book, ok := e.app.Trading.Simulator().Book("VN000000HPG4")
	if !ok {
		t.Fatal("no HPG book")
	}
	for side, field := range map[venue.Side]string{venue.Buy: "bidPriceDepth", venue.Sell: "askPriceDepth"} {
		levels := book.Depth(side)
		got, _ := d[field].([]any)
		if len(got) != min(len(levels), 10) {
			t.Fatalf("%s: %v, book %v", field, got, levels)
		}
		for i, l := range got {
			m := l.(map[string]any)
			if m["prc"] != levels[i].Price.Decimal().InexactFloat64() || m["vol"] != float64(levels[i].Qty) {
				t.Fatalf("%s level %d: %v, book %v", field, i, m, levels[i])
			}
		}
	}
	if asks, bids := d["askPriceDepth"].([]any), d["bidPriceDepth"].([]any); len(asks) != 0 || len(bids) != 1 {
		t.Fatalf("after the trades: asks %v, bids %v", asks, bids)
	}
}

// wantStatAndTrend checks productStat and ProductTrend after the test's
// trades (100 @27 500 and 200 @27 600, both a buyer taking the offer, the
// reference 27 050) with 500 left to buy at 27 000.
func wantStatAndTrend(t *testing.T, st, tr map[string]any) {
	t.Helper()
	wantFields(t, "product stat", st, []string{"id", "seq", "time", "symbol", "boardID", "nomiPrc", "lsPrc", "change", "changePct",
		"trades", "totVol", "totVal", "buyUpVol", "sellDownVol", "auctionVol", "priceStats"})
	ps, _ := st["priceStats"].([]any)
	if st["totVol"] != 300.0 || st["buyUpVol"] != 300.0 || st["sellDownVol"] != 0.0 || st["trades"] != 2.0 || st["lsPrc"] != 27600.0 ||
		st["change"] != 550.0 || st["changePct"] != 2.03 || st["totVal"] != 100*27500.0+200*27600.0 || len(ps) != 2 {
		t.Fatalf("product stat: %v", st)
	}
	if p := ps[0].(map[string]any); p["prc"] != 27600.0 || p["vol"] != 200.0 || p["buyUpVol"] != 200.0 || p["trades"] != 1.0 {
		t.Fatalf("product stat, first price: %v", p)
	}
	wantFields(t, "product trend", tr, []string{"id", "seq", "time", "symbol", "boardID", "trend", "totBidVol", "totAskVol",
		"bidLevels", "askLevels", "buyUpVol", "sellDownVol", "bookPressure", "tradePressure"})
	if tr["trend"] != "UP" || tr["totBidVol"] != 500.0 || tr["totAskVol"] != 0.0 || tr["bidLevels"] != 1.0 ||
		tr["bookPressure"] != 1.0 || tr["tradePressure"] != 1.0 || tr["buyUpVol"] != 300.0 {
		t.Fatalf("product trend: %v", tr)
	}
}
