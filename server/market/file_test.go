package market

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func dev(t *testing.T) *Config {
	t.Helper()
	c, err := Dev()
	if err != nil {
		t.Fatalf("dev instruments file: %v", err)
	}
	return c
}

func TestDevFileLoads(t *testing.T) {
	c := dev(t)
	if err := c.Schedule.Validate(); err != nil {
		t.Fatal(err)
	}
	perMarket := map[MarketID]int{}
	for _, in := range c.Instruments.All() {
		perMarket[in.Market]++
		if r := in.Tradable(); r != nil {
			t.Errorf("%s: %v", in.Ticker, r)
		}
		if !in.TickTable.OnTick(in.Ceiling) || !in.TickTable.OnTick(in.Floor) || !in.TickTable.OnTick(in.ReferencePrice) {
			t.Errorf("%s: band %s..%s (ref %s) off the tick", in.Ticker, in.Floor, in.Ceiling, in.ReferencePrice)
		}
	}
	for m, want := range map[MarketID]int{HOSE: 3, HNX: 2, UPCoM: 2, Deriv: 1} {
		if perMarket[m] < want {
			t.Errorf("market %s: %d instruments, want at least %d", m, perMarket[m], want)
		}
	}

	fpt, ok := c.Instruments.ByTicker("FPT")
	if !ok {
		t.Fatal("no FPT")
	}
	if byISIN, _ := c.Instruments.ByISIN("VN000000FPT1"); byISIN.Ticker != "FPT" {
		t.Errorf("ByISIN(VN000000FPT1) = %q", byISIN.Ticker)
	}
	for _, c := range []struct{ what, got, want string }{
		{"isin", fpt.ISIN, "VN000000FPT1"},
		{"market", string(fpt.Market), "STO"},
		{"board", fpt.Board, "G1"},
		{"reference", fpt.ReferencePrice.String(), "100000"},
		{"ceiling", fpt.Ceiling.String(), "107000"},
		{"floor", fpt.Floor.String(), "93000"},
		{"tick at reference", fpt.TickTable.TickAt(fpt.ReferencePrice).String(), "100"},
		{"band", fpt.BandPercent.String(), "7"},
	} {
		if c.got != c.want {
			t.Errorf("FPT %s = %s, want %s", c.what, c.got, c.want)
		}
	}
	if fpt.LotSize != 100 || fpt.MaxOrderQty != 500000 {
		t.Errorf("FPT lot %d max %d", fpt.LotSize, fpt.MaxOrderQty)
	}
	for ticker, isin := range map[string]string{"VNM": "VN000000VNM8", "HPG": "VN000000HPG4"} {
		in, ok := c.Instruments.ByTicker(ticker)
		if !ok || in.ISIN != isin || in.Market != HOSE {
			t.Errorf("%s = %+v, want %s on HOSE", ticker, in, isin)
		}
	}
	var fut Instrument
	for _, in := range c.Instruments.All() {
		if in.Market == Deriv {
			fut = in
		}
	}
	if !strings.HasPrefix(fut.Ticker, "VN30F") || fut.LotSize != 1 || fut.SettlementDays != 0 || fut.MaxOrderQty > 500 ||
		!fut.TickTable.TickAt(fut.ReferencePrice).Equal(d("0.1")) || !fut.BandPercent.Equal(d("7")) || fut.OddLotBoard != "" {
		t.Errorf("VN30 future = %+v", fut)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "instruments.json")
	if err := os.WriteFile(path, DevFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Instruments.Len() != dev(t).Instruments.Len() {
		t.Errorf("LoadFile and Dev differ")
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "instruments file") {
		t.Errorf("missing file: %v", err)
	}
}

const goodFPT = `"ticker": "FPT", "isin": "VN000000FPT1", "market": "STO", "product_group": "STO",
 "reference_price": "100000", "band_percent": "7", "lot_size": 100, "max_order_qty": 500000`

func one(fields string) string { return `{"instruments": [{` + fields + `}]}` }

func TestParseDefaultsAndForms(t *testing.T) {
	c, err := Parse([]byte(`{"instruments": [
	  {` + goodFPT + `},
	  {"ticker": "SHS", "isin": "VN000000SHS3", "market": "STX", "product_group": "STX",
	   "reference_price": 13000, "ceiling": "14300", "floor": "11700", "lot_size": 100, "max_order_qty": 1000,
	   "odd_lot_board": "", "status": "HALTED"},
	  {"ticker": "E1VFVN30", "isin": "VN0E1VFVN306", "market": "STO", "product_group": "EFO",
	   "reference_price": "25010", "band_percent": "7", "lot_size": 100, "max_order_qty": 500000,
	   "tick_table": [{"from": "0", "tick": "10"}], "order_types": ["LO", "atc"], "settlement_days": 1}
	], "holidays": ["2026-09-02"],
	 "schedule": {"UPX": [{"at": "09:00", "session": "continuous"}, {"at": "15:00:30", "session": "closed"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	fpt, _ := c.Instruments.ByTicker("FPT")
	if fpt.Board != "G1" || fpt.OddLotBoard != "G4" || fpt.TickTableName != "HOSE" || fpt.Status != Active ||
		!slices.Equal(fpt.OrderTypes, []OrderType{ATO, LO, MTL, ATC}) || fpt.SettlementDays != 2 {
		t.Errorf("FPT defaults: %+v", fpt)
	}
	shs, _ := c.Instruments.ByTicker("SHS")
	if !shs.Ceiling.Equal(d("14300")) || !shs.Floor.Equal(d("11700")) || !shs.BandPercent.IsZero() ||
		shs.OddLotBoard != "" || shs.Status != Halted || !slices.Equal(shs.OrderTypes, []OrderType{LO, MTL, MAK, MOK, ATC}) {
		t.Errorf("SHS: %+v", shs)
	}
	etf, _ := c.Instruments.ByTicker("E1VFVN30")
	if etf.TickTableName != "" || !etf.TickTable.OnTick(d("25010")) || !slices.Equal(etf.OrderTypes, []OrderType{LO, ATC}) ||
		!etf.Ceiling.Equal(d("26760")) || !etf.Floor.Equal(d("23260")) || etf.SettlementDays != 1 {
		t.Errorf("E1VFVN30: %+v", etf)
	}
	if !c.Schedule.Holidays["2026-09-02"] {
		t.Error("holiday not loaded")
	}
	if got := c.Schedule.Days[UPCoM]; len(got) != 2 || got[1].Start != hm(15, 0)+30e9 {
		t.Errorf("UPX schedule = %v", got)
	}
	if len(c.Schedule.Days[HOSE]) != len(DefaultSchedule().Days[HOSE]) {
		t.Error("HOSE schedule not defaulted")
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"not JSON", `{`, []string{"not an instruments file"}},
		{"unknown top-level key", `{"instruments": [], "extra": 1}`, []string{"extra"}},
		{"no instruments", `{"instruments": []}`, []string{"instruments: none listed"}},
		{"unknown field", one(goodFPT + `, "colour": "red"`), []string{`#1 "FPT"`, "colour"}},
		{"wrong JSON type", one(goodFPT + `, "board": 7`), []string{`#1 "FPT"`, "board"}},
		{"lot size as string", one(strings.Replace(goodFPT, `"lot_size": 100`, `"lot_size": "100"`, 1)), []string{`#1 "FPT"`, "lot_size"}},
		{"bad ticker", one(strings.Replace(goodFPT, `"FPT"`, `"fpt!"`, 1)), []string{"ticker", `"fpt!"`}},
		{"bad ISIN check digit", one(strings.Replace(goodFPT, "VN000000FPT1", "VN000000FPT2", 1)), []string{`"FPT"`, "isin", "check digit"}},
		{"short ISIN", one(strings.Replace(goodFPT, "VN000000FPT1", "FPT1", 1)), []string{"isin", "12-character"}},
		{"bad market", one(strings.Replace(goodFPT, `"STO", "product`, `"XXX", "product`, 1)), []string{"market", "XXX"}},
		{"missing product group", one(strings.Replace(goodFPT, `"product_group": "STO",`, ``, 1)), []string{"product_group"}},
		{"missing reference", one(strings.Replace(goodFPT, `"reference_price": "100000",`, ``, 1)), []string{`"FPT"`, "reference_price: required"}},
		{"malformed reference", one(strings.Replace(goodFPT, `"100000"`, `"1e5x"`, 1)), []string{"reference_price", "not a decimal"}},
		{"reference as bool", one(strings.Replace(goodFPT, `"100000"`, `true`, 1)), []string{"reference_price", "decimal string"}},
		{"negative reference", one(strings.Replace(goodFPT, `"100000"`, `"-5"`, 1)), []string{"reference_price: must be > 0"}},
		{"reference off tick", one(strings.Replace(goodFPT, `"100000"`, `"100050"`, 1)), []string{"reference_price", "not on the tick 100"}},
		{"band too wide", one(strings.Replace(goodFPT, `"band_percent": "7"`, `"band_percent": "100"`, 1)), []string{"band_percent"}},
		{"band and limits", one(goodFPT + `, "ceiling": "107000", "floor": "93000"`), []string{"band_percent", "not both"}},
		{"no band", one(strings.Replace(goodFPT, `"band_percent": "7",`, ``, 1)), []string{"band_percent: required"}},
		{"ceiling without floor", one(strings.Replace(goodFPT, `"band_percent": "7"`, `"ceiling": "107000"`, 1)), []string{"floor: required"}},
		{"ceiling off tick", one(strings.Replace(goodFPT, `"band_percent": "7"`, `"ceiling": "107050", "floor": "93000"`, 1)), []string{"ceiling", "not on the tick"}},
		{"floor above reference", one(strings.Replace(goodFPT, `"band_percent": "7"`, `"ceiling": "107000", "floor": "100100"`, 1)), []string{"floor", "above the reference"}},
		{"zero lot", one(strings.Replace(goodFPT, `"lot_size": 100`, `"lot_size": 0`, 1)), []string{"lot_size: must be > 0"}},
		{"missing max qty", one(strings.Replace(goodFPT, `, "max_order_qty": 500000`, ``, 1)), []string{"max_order_qty: must be > 0"}},
		{"max qty below lot", one(strings.Replace(goodFPT, `500000`, `50`, 1)), []string{"max_order_qty", "below the lot"}},
		{"unknown tick table", one(goodFPT + `, "tick_table": "NYSE"`), []string{"tick_table", "NYSE"}},
		{"tick table not a table", one(goodFPT + `, "tick_table": 5`), []string{"tick_table", "built-in"}},
		{"bad inline tick table", one(goodFPT + `, "tick_table": [{"from": "0", "tick": "30"}, {"from": "10000", "tick": "50"}]`), []string{"tick_table", "multiple"}},
		{"bad status", one(goodFPT + `, "status": "OPEN"`), []string{"status", "OPEN"}},
		{"settlement cycle too long", one(goodFPT + `, "settlement_days": 6`), []string{"settlement_days", "0..5"}},
		{"negative settlement cycle", one(goodFPT + `, "settlement_days": -1`), []string{"settlement_days"}},
		{"bad order type", one(goodFPT + `, "order_types": ["LO", "STOP"]`), []string{"order_types", "STOP"}},
		{"PLO order type", one(goodFPT + `, "order_types": ["PLO"]`), []string{"order_types", "PLO"}},
		{"ATO without an opening auction", one(strings.NewReplacer(`"STO", "product`, `"UPX", "product`, `"band_percent": "7"`, `"band_percent": "15"`).Replace(goodFPT) + `, "order_types": ["LO", "ATO"]`), []string{"order_types", "ATO", "no opening auction"}},
		{"derivatives cap", `{"instruments": [{"ticker": "VN30F2612", "isin": "VN41I1G20009", "market": "DVX", "product_group": "FIO", "reference_price": "1350", "band_percent": "7", "lot_size": 1, "max_order_qty": 501}]}`, []string{`"VN30F2612"`, "max_order_qty", "500"}},
		{"odd-lot board same as main", one(goodFPT + `, "odd_lot_board": "G1"`), []string{"odd_lot_board"}},
		{"duplicate ticker", `{"instruments": [{` + goodFPT + `}, {` + goodFPT + `}]}`, []string{`"FPT"`, "ticker: duplicate", "isin"}},
		{"bad schedule time", `{"instruments": [{` + goodFPT + `}], "schedule": {"STO": [{"at": "9:00", "session": "continuous"}]}}`, []string{"schedule", "STO", "at", "9:00"}},
		{"bad schedule session", `{"instruments": [{` + goodFPT + `}], "schedule": {"STO": [{"at": "09:00", "session": "lunch"}]}}`, []string{"schedule", "session", "lunch"}},
		{"schedule out of order", `{"instruments": [{` + goodFPT + `}], "schedule": {"STO": [{"at": "10:00", "session": "continuous"}, {"at": "09:00", "session": "closed"}]}}`, []string{"schedule", "STO", "period 1"}},
		{"schedule unknown market", `{"instruments": [{` + goodFPT + `}], "schedule": {"NYSE": [{"at": "09:00", "session": "continuous"}]}}`, []string{"schedule", "NYSE"}},
		{"bad holiday", `{"instruments": [{` + goodFPT + `}], "holidays": ["2 Sept"]}`, []string{"holiday", "2 Sept"}},
		{"index of an unknown ticker", withIndex(`{"code": "VN30", "base_value": "1350", "constituents": [{"ticker": "NOPE", "shares": 1}]}`), []string{`index #1 "VN30"`, `"NOPE"`, "not an instrument"}},
		{"index of a future", `{"instruments": [{` + goodFPT + `}, {"ticker": "VN30F2612", "isin": "VN41I1G20009", "market": "DVX", "product_group": "FIO", "reference_price": "1350", "band_percent": "7", "lot_size": 1, "max_order_qty": 500}], "indices": [{"code": "X", "base_value": "1", "constituents": [{"ticker": "VN30F2612", "shares": 1}]}]}`, []string{"VN30F2612", "a future"}},
		{"index constituent twice", withIndex(`{"code": "VN30", "base_value": "1350", "constituents": [{"ticker": "FPT", "shares": 1}, {"ticker": "FPT", "shares": 2}]}`), []string{`"FPT"`, "listed twice"}},
		{"index without shares", withIndex(`{"code": "VN30", "base_value": "1350", "constituents": [{"ticker": "FPT", "shares": 0}]}`), []string{`"FPT"`, "shares"}},
		{"index without constituents", withIndex(`{"code": "VN30", "base_value": "1350", "constituents": []}`), []string{"constituents: none"}},
		{"index base value", withIndex(`{"code": "VN30", "base_value": "-1", "constituents": [{"ticker": "FPT", "shares": 1}]}`), []string{"base_value", `"-1"`}},
		{"index code", withIndex(`{"code": "vn 30", "base_value": "1", "constituents": [{"ticker": "FPT", "shares": 1}]}`), []string{"code", "[A-Z0-9]"}},
		{"index code twice", withIndex(`{"code": "VN30", "base_value": "1", "constituents": [{"ticker": "FPT", "shares": 1}]}, {"code": "VN30", "base_value": "2", "constituents": [{"ticker": "FPT", "shares": 1}]}`), []string{`index #2 "VN30"`, "duplicate"}},
		{"several errors at once", `{"instruments": [{` + goodFPT + `, "status": "X"}, {"ticker": "VNM"}]}`, []string{`#1 "FPT": status`, `#2 "VNM"`, "isin", "market", "lot_size"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.file))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// withIndex is a file of goodFPT with the indices given.
func withIndex(indices string) string {
	return `{"instruments": [{` + goodFPT + `}], "indices": [` + indices + `]}`
}

// TestDevIndices: the dev file's indices, their base prices the file's
// references.
func TestDevIndices(t *testing.T) {
	c := dev(t)
	var codes []string
	for _, ix := range c.Indices {
		codes = append(codes, ix.Code)
		for _, k := range ix.Constituents {
			in, ok := c.Instruments.ByTicker(k.Ticker)
			if !ok || !k.BasePrice.Equal(in.ReferencePrice) || k.Shares <= 0 {
				t.Errorf("%s: constituent %+v (instrument %+v)", ix.Code, k, in)
			}
		}
	}
	if strings.Join(codes, ",") != "VNINDEX,VN30,HNX30" {
		t.Errorf("dev indices %v", codes)
	}
}

// TestREADMEExampleParses keeps the example file of docs/trading.md honest.
func TestREADMEExampleParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "trading.md"))
	if err != nil {
		t.Skip("no docs/trading.md:", err)
	}
	_, sec, ok := strings.Cut(string(b), "## Instrument master (`OMS_INSTRUMENTS_FILE`)")
	if !ok {
		t.Fatal("docs/trading.md has no instrument master section")
	}
	_, block, ok := strings.Cut(sec, "```json\n")
	if !ok {
		t.Fatal("no JSON example in the section")
	}
	block, _, _ = strings.Cut(block, "```")
	c, err := Parse([]byte(block))
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	if fpt, ok := c.Instruments.ByTicker("FPT"); !ok || !fpt.Floor.Equal(d("93000")) || !fpt.Ceiling.Equal(d("107000")) {
		t.Errorf("README FPT = %+v", fpt)
	}
}
