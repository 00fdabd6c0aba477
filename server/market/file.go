package market

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Config is a loaded instruments file: the instrument master and the
// trading schedule.
type Config struct {
	Instruments *Master
	Schedule    Schedule
	Indices     []Index // the mkt:vnIndex channels; none when the file defines none
}

//go:embed instruments.dev.json
var devFile []byte

// DevFile is the embedded dev instruments file (instruments.dev.json),
// what `make run` uses when OMS_INSTRUMENTS_FILE is unset.
func DevFile() []byte { return bytes.Clone(devFile) }

// Dev parses the embedded dev instruments file.
func Dev() (*Config, error) { return Parse(devFile) }

// LoadFile reads and parses an instruments file (OMS_INSTRUMENTS_FILE).
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("instruments file: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("instruments file %s: %w", path, err)
	}
	return c, nil
}

// Parse reads an instruments file. The format is one JSON object; unknown
// keys are errors. Prices are decimal strings (JSON numbers are read too),
// VND for stocks and index points for futures.
//
//	{
//	  "instruments": [
//	    {
//	      "ticker": "FPT",             // required, [A-Z0-9]{1,20}, unique
//	      "isin": "VN000000FPT1",      // required, 12 chars with a valid check digit, unique
//	      "market": "STO",             // required: STO HOSE, STX HNX, UPX UPCoM, DVX derivatives
//	      "board": "G1",               // main board; default G1
//	      "odd_lot_board": "G4",       // board for quantities below the lot; default G4 for
//	                                   // stocks, none for DVX; "" refuses odd lots
//	      "product_group": "STO",      // required, [A-Z0-9_]{1,16}; matched by restriction rules
//	      "reference_price": "100000", // required, > 0, on the tick
//	      "band_percent": "7",         // either this (0 < band < 100: ceiling rounded down
//	                                   // and floor rounded up to the tick) ...
//	      "ceiling": "107000",         // ... or both of these, on the tick,
//	      "floor": "93000",            //     0 < floor <= reference <= ceiling
//	      "tick_table": "HOSE",        // a built-in (HOSE, HOSE_FUND, HNX, UPCOM, VN30F) or
//	                                   // [{"from": "0", "tick": "10"}, {"from": "10000", "tick": "50"}, …];
//	                                   // default by market: HOSE, HNX, UPCOM, VN30F
//	      "lot_size": 100,             // required, > 0
//	      "max_order_qty": 500000,     // required, >= lot_size; at most 500 for DVX
//	      "pt_min_qty": 5000,          // smallest put-through deal; default 5000 on STX, else 1
//	      "settlement_days": 2,        // T+n in trading days, 0..5; default 2, 0 for DVX
//	      "multiplier": "100000",      // DVX only: VND per index point (default 100000)
//	      "margin_rate": "0.17",       // DVX only: initial margin, 0 < rate <= 1 (default 0.17)
//	      "position_limit": 5000,      // DVX only: contracts long or short per account (default 5000)
//	      "expiry": "2026-12-17",      // DVX only: last trading day; absent: never expires
//	      "status": "ACTIVE",          // ACTIVE (default), HALTED or SUSPENDED
//	      "order_types": ["LO", "ATO"] // default by market: STO ATO LO MTL ATC, DVX all six
//	                                   // of ATO LO MTL MAK MOK ATC, STX all but ATO, UPX LO
//	    }
//	  ],
//	  "schedule": {                    // optional, per market; markets left out keep DefaultSchedule
//	    "STO": [{"at": "08:00", "session": "pre_opening"}, {"at": "09:00", "session": "opening_auction"}, …]
//	  },
//	  "holidays": ["2026-09-02"],      // optional closed dates, every market
//	  "indices": [                     // optional: indices over the file's stocks (see Index)
//	    {"code": "VN30", "base_value": "1350", // [A-Z0-9]{1,16}, unique; the value on the file's prices
//	     "constituents": [{"ticker": "FPT", "shares": 1471000000}, …]} // stocks of the file, once each
//	  ]
//	}
//
// Errors name the instrument (position and ticker) and the field, and all
// of them are reported at once.
func Parse(b []byte) (*Config, error) {
	var f struct {
		Instruments []json.RawMessage       `json:"instruments"`
		Schedule    map[string][]periodJSON `json:"schedule"`
		Holidays    []string                `json:"holidays"`
		Indices     []indexJSON             `json:"indices"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not an instruments file: %w", err)
	}
	if len(f.Instruments) == 0 {
		return nil, errors.New("instruments: none listed")
	}
	var errs []error
	sched := DefaultSchedule()
	for m, ps := range f.Schedule {
		day, err := parseDay(ps)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule: %s: %w", m, err))
			continue
		}
		sched.Days[MarketID(m)] = day
	}
	for _, h := range f.Holidays {
		sched.Holidays[h] = true
	}
	if err := sched.Validate(); err != nil {
		errs = append(errs, err)
	}
	insts := make([]Instrument, 0, len(f.Instruments))
	for i, raw := range f.Instruments {
		in, ierrs := parseInstrument(raw, sched)
		if len(ierrs) > 0 {
			name := "?"
			if in.Ticker != "" {
				name = strconv.Quote(in.Ticker)
			}
			for _, err := range ierrs {
				errs = append(errs, fmt.Errorf("instrument #%d %s: %w", i+1, name, err))
			}
			continue
		}
		insts = append(insts, in)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := NewMaster(insts)
	if err != nil {
		return nil, err
	}
	indices, err := parseIndices(f.Indices, m)
	if err != nil {
		return nil, err
	}
	return &Config{Instruments: m, Schedule: sched, Indices: indices}, nil
}

type periodJSON struct {
	At      string `json:"at"`
	Session string `json:"session"`
}

var hhmmRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9]))?$`)

func parseDay(ps []periodJSON) (DaySchedule, error) {
	var day DaySchedule
	for i, p := range ps {
		m := hhmmRE.FindStringSubmatch(p.At)
		if m == nil {
			return nil, fmt.Errorf("period %d: at: %q is not HH:MM or HH:MM:SS", i, p.At)
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		sec := 0
		if m[4] != "" {
			sec, _ = strconv.Atoi(m[4])
		}
		s, err := ParseSession(p.Session)
		if err != nil {
			return nil, fmt.Errorf("period %d: session: %w", i, err)
		}
		day = append(day, Period{Start: hm(h, mi) + time.Duration(sec)*time.Second, Session: s})
	}
	return day, nil
}

type instrumentJSON struct {
	Ticker         string          `json:"ticker"`
	ISIN           string          `json:"isin"`
	Market         string          `json:"market"`
	Board          string          `json:"board"`
	OddLotBoard    *string         `json:"odd_lot_board"`
	ProductGroup   string          `json:"product_group"`
	ReferencePrice json.RawMessage `json:"reference_price"`
	BandPercent    json.RawMessage `json:"band_percent"`
	Ceiling        json.RawMessage `json:"ceiling"`
	Floor          json.RawMessage `json:"floor"`
	TickTable      json.RawMessage `json:"tick_table"`
	LotSize        int64           `json:"lot_size"`
	MaxOrderQty    int64           `json:"max_order_qty"`
	PTMinQty       *int64          `json:"pt_min_qty"`
	SettlementDays *int            `json:"settlement_days"`
	Multiplier     json.RawMessage `json:"multiplier"`
	MarginRate     json.RawMessage `json:"margin_rate"`
	PositionLimit  *int64          `json:"position_limit"`
	Expiry         string          `json:"expiry"`
	Status         string          `json:"status"`
	OrderTypes     []string        `json:"order_types"`
}

// derivativesMaxQty is the documented single-order cap for derivatives.
const derivativesMaxQty = 500

// parseInstrument decodes and validates one instrument, returning every
// problem found. On error the returned Instrument carries at least the
// ticker when it could be read.
func parseInstrument(raw json.RawMessage, sched Schedule) (Instrument, []error) {
	var j instrumentJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		// Best effort to name the instrument in the error.
		var probe struct {
			Ticker string `json:"ticker"`
		}
		_ = json.Unmarshal(raw, &probe)
		return Instrument{Ticker: probe.Ticker}, []error{jsonFieldError(err)}
	}
	p := &instrumentParser{j: j, in: Instrument{
		Ticker: j.Ticker, ISIN: j.ISIN, Market: MarketID(j.Market),
		Board: j.Board, ProductGroup: j.ProductGroup,
		LotSize: j.LotSize, MaxOrderQty: j.MaxOrderQty, Status: Status(j.Status),
	}}
	p.identity()
	p.tickTable()
	p.quantities()
	p.orderTypes(sched)
	p.referencePrice()
	p.band()
	p.futures()
	return p.in, p.errs
}

// futures reads the futures terms: defaults on DVX, refused elsewhere.
func (p *instrumentParser) futures() {
	in, j := &p.in, p.j
	if in.Market != Deriv {
		for _, f := range []struct {
			name string
			set  bool
		}{{"multiplier", j.Multiplier != nil}, {"margin_rate", j.MarginRate != nil}, {"position_limit", j.PositionLimit != nil}, {"expiry", j.Expiry != ""}} {
			if f.set {
				p.bad(f.name, "only futures (market DVX) have one")
			}
		}
		return
	}
	in.Multiplier, in.MarginRate, in.PositionLimit = DefaultMultiplier, DefaultMarginRate, DefaultPositionLimit
	if m := decField(j.Multiplier, "multiplier", p.bad); m != nil {
		if !m.IsPositive() {
			p.bad("multiplier", "must be > 0, got %s", m)
		}
		in.Multiplier = *m
	}
	if r := decField(j.MarginRate, "margin_rate", p.bad); r != nil {
		if !r.IsPositive() || r.GreaterThan(decimal.NewFromInt(1)) {
			p.bad("margin_rate", "must be > 0 and at most 1, got %s", r)
		}
		in.MarginRate = *r
	}
	if l := j.PositionLimit; l != nil {
		if *l <= 0 {
			p.bad("position_limit", "must be > 0, got %d", *l)
		}
		in.PositionLimit = *l
	}
	if j.Expiry != "" {
		if _, err := time.Parse(time.DateOnly, j.Expiry); err != nil {
			p.bad("expiry", "%q is not a date (YYYY-MM-DD)", j.Expiry)
		}
		in.Expiry = j.Expiry
	}
}

// instrumentParser checks one instrument's fields, part by part, and
// collects every problem.
type instrumentParser struct {
	j      instrumentJSON
	in     Instrument
	errs   []error
	tickOK bool // the tick table is known and valid
}

func (p *instrumentParser) bad(field, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// identity checks ticker, ISIN, market, boards, product group and status.
func (p *instrumentParser) identity() {
	in, j := &p.in, p.j
	if !tickerRE.MatchString(in.Ticker) {
		p.bad("ticker", "%q: want 1-20 of A-Z 0-9", in.Ticker)
	}
	if err := validISIN(in.ISIN); err != nil {
		p.bad("isin", "%v", err)
	}
	if !in.Market.Valid() {
		p.bad("market", "%q: want STO, STX, UPX or DVX", j.Market)
	}
	if in.Board == "" {
		in.Board = "G1"
	}
	if !boardRE.MatchString(in.Board) {
		p.bad("board", "%q: want 1-4 of A-Z 0-9", in.Board)
	}
	switch {
	case j.OddLotBoard != nil:
		in.OddLotBoard = *j.OddLotBoard
	case in.Market != Deriv:
		in.OddLotBoard = "G4"
	}
	if in.OddLotBoard != "" && (!boardRE.MatchString(in.OddLotBoard) || in.OddLotBoard == in.Board) {
		p.bad("odd_lot_board", "%q: want 1-4 of A-Z 0-9, not the main board", in.OddLotBoard)
	}
	if !groupRE.MatchString(in.ProductGroup) {
		p.bad("product_group", "%q: want 1-16 of A-Z 0-9 _", in.ProductGroup)
	}
	if in.Status == "" {
		in.Status = Active
	}
	if in.Status != Active && in.Status != Halted && in.Status != Suspended {
		p.bad("status", "%q: want ACTIVE, HALTED or SUSPENDED", j.Status)
	}
}

// tickTable reads the tick table: a builtin by name (the market's default
// when absent) or explicit steps.
func (p *instrumentParser) tickTable() {
	in, raw := &p.in, p.j.TickTable
	var spec *tickTableSpec
	if len(raw) > 0 && string(raw) != "null" {
		spec = &tickTableSpec{}
		if err := spec.parse(raw); err != nil {
			p.bad("tick_table", "%v", err)
			spec = nil
		}
	}
	switch {
	case len(raw) == 0 || string(raw) == "null":
		in.TickTableName = defaultTickTable(in.Market)
	case spec == nil:
	case spec.Name != "":
		in.TickTableName = spec.Name
	default:
		in.TickTable = spec.Steps
	}
	if in.TickTableName != "" {
		t, ok := BuiltinTickTable(in.TickTableName)
		if !ok {
			p.bad("tick_table", "unknown table %q (want HOSE, HOSE_FUND, HNX, UPCOM or VN30F)", in.TickTableName)
		}
		in.TickTable = t
	}
	if in.TickTable != nil || spec != nil && spec.Name == "" {
		if err := in.TickTable.Validate(); err != nil {
			p.bad("tick_table", "%v", err)
		} else {
			p.tickOK = true
		}
	}
}

// quantities checks the lot and the single-order cap.
func (p *instrumentParser) quantities() {
	in := &p.in
	if in.LotSize <= 0 {
		p.bad("lot_size", "must be > 0, got %d", in.LotSize)
	}
	switch {
	case in.MaxOrderQty <= 0:
		p.bad("max_order_qty", "must be > 0, got %d", in.MaxOrderQty)
	case in.LotSize > 0 && in.MaxOrderQty < in.LotSize:
		p.bad("max_order_qty", "%d is below the lot size %d", in.MaxOrderQty, in.LotSize)
	case in.Market == Deriv && in.MaxOrderQty > derivativesMaxQty:
		p.bad("max_order_qty", "%d is above the derivatives single-order cap %d", in.MaxOrderQty, derivativesMaxQty)
	}
	in.PutThroughMinQty = defaultPutThroughMinQty(in.Market)
	if m := p.j.PTMinQty; m != nil {
		if *m <= 0 {
			p.bad("pt_min_qty", "must be > 0, got %d", *m)
		}
		in.PutThroughMinQty = *m
	}
	in.SettlementDays = defaultSettlementDays(in.Market)
	if d := p.j.SettlementDays; d != nil {
		if *d < 0 || *d > maxSettlementDays {
			p.bad("settlement_days", "must be 0..%d, got %d", maxSettlementDays, *d)
		}
		in.SettlementDays = *d
	}
}

// maxSettlementDays bounds the settlement cycle a file may give.
const maxSettlementDays = 5

// orderTypes reads the order types (the market's default when absent);
// auction types need their auction in the market's schedule.
func (p *instrumentParser) orderTypes(sched Schedule) {
	in, listed := &p.in, p.j.OrderTypes
	if listed == nil {
		in.OrderTypes = defaultOrderTypes(in.Market)
	} else {
		seen := map[OrderType]bool{}
		for _, s := range listed {
			t, r := ParseOrderType(s)
			if r != nil {
				p.bad("order_types", "%s", r.Message)
				continue
			}
			seen[t] = true
		}
		for _, t := range OrderTypes {
			if seen[t] {
				in.OrderTypes = append(in.OrderTypes, t)
			}
		}
		if len(listed) == 0 {
			p.bad("order_types", "empty: list at least one type or leave the key out")
		}
	}
	if !in.Market.Valid() {
		return
	}
	for _, t := range in.OrderTypes {
		if t == ATO && !sched.Has(in.Market, OpeningAuction) {
			p.bad("order_types", "ATO listed but %s has no opening auction in its schedule", in.Market)
		}
		if t == ATC && !sched.Has(in.Market, ClosingAuction) {
			p.bad("order_types", "ATC listed but %s has no closing auction in its schedule", in.Market)
		}
	}
}

// referencePrice reads the reference price: positive, on the tick.
func (p *instrumentParser) referencePrice() {
	in := &p.in
	ref := decField(p.j.ReferencePrice, "reference_price", p.bad)
	switch {
	case ref == nil:
		p.bad("reference_price", "required")
	case !ref.IsPositive():
		p.bad("reference_price", "must be > 0, got %s", ref)
	default:
		in.ReferencePrice = *ref
		if p.tickOK && !in.TickTable.OnTick(in.ReferencePrice) {
			p.bad("reference_price", "%s is not on the tick %s", in.ReferencePrice, in.TickTable.TickAt(in.ReferencePrice))
		}
	}
}

// band reads the price band: band_percent of the reference price, or an
// explicit ceiling and floor (on the tick, around the reference price).
func (p *instrumentParser) band() {
	bandPct := decField(p.j.BandPercent, "band_percent", p.bad)
	ceiling := decField(p.j.Ceiling, "ceiling", p.bad)
	floor := decField(p.j.Floor, "floor", p.bad)
	switch {
	case bandPct != nil && (ceiling != nil || floor != nil):
		p.bad("band_percent", "give either band_percent or ceiling and floor, not both")
	case bandPct != nil:
		p.percentBand(*bandPct)
	case ceiling == nil && floor == nil:
		p.bad("band_percent", "required: give band_percent, or both ceiling and floor")
	case ceiling == nil:
		p.bad("ceiling", "required (or give band_percent)")
	case floor == nil:
		p.bad("floor", "required (or give band_percent)")
	default:
		p.explicitBand(*ceiling, *floor)
	}
}

func (p *instrumentParser) percentBand(pct decimal.Decimal) {
	in := &p.in
	if !pct.IsPositive() || !pct.LessThan(decimal.NewFromInt(100)) {
		p.bad("band_percent", "must be > 0 and < 100, got %s", pct)
		return
	}
	if in.ReferencePrice.IsPositive() && p.tickOK {
		in.BandPercent = pct
		in.Ceiling, in.Floor = BandLimits(in.ReferencePrice, pct, in.TickTable)
		if !in.Floor.IsPositive() {
			p.bad("band_percent", "%s%% of %s leaves no positive floor", pct, in.ReferencePrice)
		}
	}
}

func (p *instrumentParser) explicitBand(ceiling, floor decimal.Decimal) {
	in := &p.in
	in.Ceiling, in.Floor = ceiling, floor
	if !in.Floor.IsPositive() {
		p.bad("floor", "must be > 0, got %s", in.Floor)
	}
	if p.tickOK && !in.TickTable.OnTick(in.Ceiling) {
		p.bad("ceiling", "%s is not on the tick %s", in.Ceiling, in.TickTable.TickAt(in.Ceiling))
	}
	if p.tickOK && !in.TickTable.OnTick(in.Floor) {
		p.bad("floor", "%s is not on the tick %s", in.Floor, in.TickTable.TickAt(in.Floor))
	}
	if in.ReferencePrice.IsPositive() {
		if in.Ceiling.LessThan(in.ReferencePrice) {
			p.bad("ceiling", "%s is below the reference price %s", in.Ceiling, in.ReferencePrice)
		}
		if in.Floor.GreaterThan(in.ReferencePrice) {
			p.bad("floor", "%s is above the reference price %s", in.Floor, in.ReferencePrice)
		}
	}
}

// decField reads an optional decimal field: a JSON string or number; nil
// when absent or null (a malformed value is reported through bad).
func decField(raw json.RawMessage, field string, bad func(field, format string, args ...any)) *decimal.Decimal {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			bad(field, "want a decimal string such as \"100000\", got %s", raw)
			return nil
		}
		s = n.String()
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		bad(field, "%q is not a decimal number", s)
		return nil
	}
	return &d
}

// BandLimits derives a price band from the reference price and a band
// percentage, rounded inward to the tick table: the ceiling is the largest
// on-tick price ≤ ref × (1 + pct/100), the floor the smallest on-tick price
// ≥ ref × (1 − pct/100). When rounding brings a limit back to the
// reference (a low price against a coarse tick: HNX reference 500 at
// ±10 % is 550..450 before rounding), the limit moves one tick away from
// it, as the exchanges do, so the band is 400..600 and not 500..500. The
// floor never goes below one tick.
func BandLimits(ref, pct decimal.Decimal, tt TickTable) (ceiling, floor decimal.Decimal) {
	d := ref.Mul(pct).Shift(-2)
	ceiling, floor = tt.RoundDown(ref.Add(d)), tt.RoundUp(ref.Sub(d))
	if pct.IsPositive() && ceiling.LessThanOrEqual(ref) {
		ceiling = tt.Next(ref, true)
	}
	if pct.IsPositive() && floor.GreaterThanOrEqual(ref) {
		floor = decimal.Max(tt.Next(ref, false), tt[0].Tick)
	}
	return ceiling, floor
}

// jsonFieldError rewrites encoding/json's errors to lead with the field.
func jsonFieldError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("%s: unknown field", strings.Trim(f, `"`))
	}
	return err
}
