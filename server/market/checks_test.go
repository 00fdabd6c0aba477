package market

import (
	"testing"

	"github.com/shopspring/decimal"
)

func inst(t *testing.T, ticker string) Instrument {
	t.Helper()
	in, ok := dev(t).Instruments.ByTicker(ticker)
	if !ok {
		t.Fatalf("no %s in the dev set", ticker)
	}
	return in
}

func code(r *Reject) int {
	if r == nil {
		return 0
	}
	return r.Code
}

func price(s string) *decimal.Decimal {
	p := d(s)
	return &p
}

func TestCheckQty(t *testing.T) {
	fpt, fut := inst(t, "FPT"), inst(t, "VN30F2612")
	noOdd := fpt
	noOdd.OddLotBoard = ""
	for _, c := range []struct {
		name  string
		in    Instrument
		typ   OrderType
		qty   int64
		code  int
		board string
	}{
		{"one lot", fpt, LO, 100, 0, "G1"},
		{"many lots", fpt, LO, 12300, 0, "G1"},
		{"the cap", fpt, LO, 500000, 0, "G1"},
		{"over the cap", fpt, LO, 500100, CodeMaxQty, ""},
		{"over the cap and a mixed lot: lot first", fpt, LO, 500150, CodeLot, ""},
		{"zero", fpt, LO, 0, CodeLot, ""},
		{"negative", fpt, LO, -100, CodeLot, ""},
		{"odd lot 1", fpt, LO, 1, 0, "G4"},
		{"odd lot 99", fpt, LO, 99, 0, "G4"},
		{"odd lot as ATO", fpt, ATO, 50, CodeLot, ""},
		{"odd lot as MAK", fpt, MAK, 50, CodeLot, ""},
		{"mixed lot", fpt, LO, 150, CodeLot, ""},
		{"mixed lot 101", fpt, LO, 101, CodeLot, ""},
		{"odd lot where there is no odd-lot board", noOdd, LO, 50, CodeLot, ""},
		{"market order in lots", fpt, MTL, 1000, 0, "G1"},
		{"future 1 contract", fut, LO, 1, 0, "G1"},
		{"future 500 contracts", fut, MAK, 500, 0, "G1"},
		{"future 501 contracts", fut, LO, 501, CodeMaxQty, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.in.CheckQty(c.typ, c.qty)
			if code(r) != c.code {
				t.Fatalf("CheckQty(%s, %d) = %v, want code %d", c.typ, c.qty, r, c.code)
			}
			if r == nil {
				if b := c.in.BoardFor(c.qty); b != c.board {
					t.Errorf("BoardFor(%d) = %q, want %q", c.qty, b, c.board)
				}
			} else if r.Message == "" {
				t.Error("reject without a message")
			}
		})
	}
}

func TestCheckPrice(t *testing.T) {
	fpt, hpg, fut := inst(t, "FPT"), inst(t, "HPG"), inst(t, "VN30F2612")
	for _, c := range []struct {
		name  string
		in    Instrument
		typ   OrderType
		price *decimal.Decimal
		code  int
	}{
		{"reference", fpt, LO, price("100000"), 0},
		{"ceiling", fpt, LO, price("107000"), 0},
		{"floor", fpt, LO, price("93000"), 0},
		{"above the ceiling", fpt, LO, price("107100"), CodeBand},
		{"below the floor", fpt, LO, price("92900"), CodeBand},
		{"off the 100 tick", fpt, LO, price("100050"), CodeTick},
		{"off tick and outside: tick first", fpt, LO, price("200050"), CodeTick},
		{"fraction", fpt, LO, price("100000.5"), CodeTick},
		{"negative", fpt, LO, price("-100"), CodeBand},
		{"missing", fpt, LO, nil, CodePriceMissing},
		{"zero", fpt, LO, price("0"), CodePriceMissing},
		{"HPG on the 50 tick", hpg, LO, price("27050"), 0},
		{"HPG off the 50 tick", hpg, LO, price("27010"), CodeTick},
		{"HPG ceiling", hpg, LO, price("28900"), 0},
		{"HPG above the ceiling", hpg, LO, price("28950"), CodeBand},
		{"future on the 0.1 tick", fut, LO, price("1350.1"), 0},
		{"future off the tick", fut, LO, price("1350.15"), CodeTick},
		{"future ceiling", fut, LO, price("1444.5"), 0},
		{"future above", fut, LO, price("1444.6"), CodeBand},
		{"ATO ignores the price", fpt, ATO, price("1"), 0},
		{"MAK without a price", fpt, MAK, nil, 0},
		{"MTL off tick ignored", fpt, MTL, price("100050"), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := c.in.CheckPrice(c.typ, c.price); code(r) != c.code {
				t.Fatalf("CheckPrice = %v, want code %d", r, c.code)
			}
		})
	}
}

func TestCheckType(t *testing.T) {
	c := dev(t)
	byMarket := map[MarketID]Instrument{}
	for _, in := range c.Instruments.All() {
		byMarket[in.Market] = in
	}
	want := map[MarketID]map[OrderType]int{
		HOSE:  {ATO: 0, LO: 0, MTL: 0, MAK: CodeMarketOrderNotAllowed, MOK: CodeMarketOrderNotAllowed, ATC: 0},
		HNX:   {ATO: CodeTypeNotOnMarket, LO: 0, MTL: 0, MAK: 0, MOK: 0, ATC: 0},
		UPCoM: {ATO: CodeTypeNotOnMarket, LO: 0, MTL: CodeMTLNotAllowed, MAK: CodeMarketOrderNotAllowed, MOK: CodeMarketOrderNotAllowed, ATC: CodeTypeNotOnMarket},
		Deriv: {ATO: 0, LO: 0, MTL: 0, MAK: 0, MOK: 0, ATC: 0},
	}
	for m, types := range want {
		for typ, wantCode := range types {
			if r := byMarket[m].CheckType(typ); code(r) != wantCode {
				t.Errorf("%s %s: CheckType = %v, want code %d", m, typ, r, wantCode)
			}
		}
		for _, typ := range []OrderType{PLO, BUYIN, "STOP"} {
			if r := byMarket[m].CheckType(typ); code(r) != CodeTypeUnsupported {
				t.Errorf("%s %s: CheckType = %v, want %d", m, typ, r, CodeTypeUnsupported)
			}
		}
	}
}

func TestParseOrderType(t *testing.T) {
	for s, want := range map[string]OrderType{"LO": LO, "lo": LO, " ATO ": ATO, "ATC": ATC, "MTL": MTL, "MAK": MAK, "MOK": MOK} {
		if got, r := ParseOrderType(s); r != nil || got != want {
			t.Errorf("ParseOrderType(%q) = %q, %v", s, got, r)
		}
	}
	for _, s := range []string{"PLO", "BUYIN", "", "STOP", "MP"} {
		if _, r := ParseOrderType(s); code(r) != CodeTypeUnsupported {
			t.Errorf("ParseOrderType(%q) = %v, want %d", s, r, CodeTypeUnsupported)
		}
	}
}

func TestResolveAndCheckOrder(t *testing.T) {
	c, err := Parse([]byte(`{"instruments": [{` + goodFPT + `},
	  {"ticker": "VNM", "isin": "VN000000VNM8", "market": "STO", "product_group": "STO", "status": "HALTED",
	   "reference_price": "62000", "band_percent": "7", "lot_size": 100, "max_order_qty": 500000}]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Instruments
	if _, r := m.Resolve("NOPE"); code(r) != CodeUnknownSymbol {
		t.Errorf("unknown symbol: %v", r)
	}
	if _, r := m.Resolve("VN000000FPT1"); code(r) != CodeUnknownSymbol {
		t.Errorf("an ISIN is not a ticker: %v", r)
	}
	if _, r := m.Resolve("VNM"); code(r) != CodeNotTradable {
		t.Errorf("halted: %v", r)
	}
	if got, r := m.Resolve("fpt"); r != nil || got.Ticker != "FPT" {
		t.Errorf("Resolve(fpt) = %+v, %v", got, r)
	}
	fpt, r := m.Resolve("FPT")
	if r != nil || fpt.ISIN != "VN000000FPT1" {
		t.Fatalf("Resolve(FPT) = %+v, %v", fpt, r)
	}
	vnm, _ := m.ByTicker("VNM")
	for _, c := range []struct {
		name string
		in   Instrument
		o    OrderSpec
		code int
	}{
		{"good LO", fpt, OrderSpec{LO, 1000, price("101000")}, 0},
		{"good ATO", fpt, OrderSpec{ATO, 1000, nil}, 0},
		{"halted first", vnm, OrderSpec{LO, 150, price("1")}, CodeNotTradable},
		{"type before qty", fpt, OrderSpec{PLO, 150, nil}, CodeTypeUnsupported},
		{"qty before price", fpt, OrderSpec{LO, 150, price("100050")}, CodeLot},
		{"cap before price", fpt, OrderSpec{LO, 600000, nil}, CodeMaxQty},
		{"price last", fpt, OrderSpec{LO, 100, price("100050")}, CodeTick},
	} {
		if r := c.in.CheckOrder(c.o); code(r) != c.code {
			t.Errorf("%s: CheckOrder = %v, want code %d", c.name, r, c.code)
		}
	}
}

func TestRejectText(t *testing.T) {
	r := inst(t, "FPT").CheckPrice(LO, price("107100"))
	if got, want := r.Text("OMS"), "OMS|-132004|price 107100 is above the ceiling 107000"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

// Put-through terms (KRX): no lot, no tick, no single-order cap, the band,
// and HNX's 5 000-share minimum; hours exclude pre-opening, the lunch
// break and the closed market.
func TestCheckPutThrough(t *testing.T) {
	c := dev(t)
	fpt, _ := c.Instruments.ByTicker("FPT")
	shs, _ := c.Instruments.ByTicker("SHS")
	p := func(s string) *decimal.Decimal { v := decimal.RequireFromString(s); return &v }
	for _, tc := range []struct {
		name string
		in   Instrument
		qty  int64
		px   *decimal.Decimal
		code int
	}{
		{"odd size off the tick", fpt, 150, p("100050"), 0},
		{"above the 500 000 single-order cap", fpt, 600000, p("100000"), 0},
		{"above the ceiling", fpt, 100, p("107100"), CodeBand},
		{"no price", fpt, 100, nil, CodePriceMissing},
		{"HNX at the minimum", shs, 5000, p("13050"), 0},
		{"HNX below the minimum", shs, 4999, p("13000"), CodePutThroughMinQty},
	} {
		if r := tc.in.CheckPutThrough(tc.qty, tc.px); code(r) != tc.code {
			t.Errorf("%s: %v, want code %d", tc.name, r, tc.code)
		}
	}
	if r := fpt.CheckQty(LO, 600000); code(r) != CodeMaxQty {
		t.Errorf("an order of 600 000 is still capped: %v", r)
	}
	for s, open := range map[Session]bool{PreOpening: false, OpeningAuction: true, Continuous: true, Intermission: false, ClosingAuction: true, PostClose: true, Closed: false} {
		if PutThroughOpen(s) != open {
			t.Errorf("PutThroughOpen(%s) = %v", s, !open)
		}
	}
}
