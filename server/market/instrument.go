package market

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/shopspring/decimal"
)

// Status is an instrument's trading status.
type Status string

// Instrument statuses. Only Active instruments take orders.
const (
	Active    Status = "ACTIVE"
	Halted    Status = "HALTED"
	Suspended Status = "SUSPENDED"
)

// Instrument is one tradable symbol of the instrument master. Values handed
// out by Master are copies; treat their slices as read-only.
type Instrument struct {
	Ticker string // REST symbol, e.g. FPT
	ISIN   string // 12-character ISIN, e.g. VN000000FPT1
	Market MarketID
	// Board is the main (round-lot) board, G1 by default. OddLotBoard is
	// where quantities below LotSize go; empty when odd lots are refused.
	Board, OddLotBoard string
	// ProductGroup is matched by order-restriction rules (with Market and
	// ISIN).
	ProductGroup string
	// ReferencePrice, Ceiling and Floor are VND for stocks and index points
	// for futures. BandPercent is the band the limits were derived from,
	// zero when the file gave them explicitly.
	ReferencePrice, Ceiling, Floor, BandPercent decimal.Decimal
	TickTableName                               string // built-in name, empty for an inline table
	TickTable                                   TickTable
	LotSize, MaxOrderQty                        int64
	// PutThroughMinQty is the smallest put-through deal (HNX: 5 000
	// shares; 1 elsewhere by default).
	PutThroughMinQty int64
	// SettlementDays is the settlement cycle in trading days: bought
	// shares and sale proceeds settle on T+SettlementDays (equities 2,
	// the futures 0: they settle cash daily, not by delivery). 0 settles
	// at once.
	SettlementDays int
	// Futures terms (Market DVX; zero for everything else): Multiplier is
	// VND per index point per contract; MarginRate the initial margin, a
	// fraction of the notional (price × Multiplier × qty) held in cash for
	// every open contract; PositionLimit the most contracts one account may
	// be long or short, working orders included; Expiry the last trading
	// day (YYYY-MM-DD), when open positions close at the final settlement
	// price ("" never expires).
	Multiplier    decimal.Decimal
	MarginRate    decimal.Decimal
	PositionLimit int64
	Expiry        string
	Status        Status
	// OrderTypes the instrument trades, in the order of OrderTypes.
	OrderTypes []OrderType
}

// Master is the instrument master: instruments by ticker and by ISIN.
// Only the reference price and the band it gives change, once a trading
// day (SetReference); it is safe for concurrent use.
type Master struct {
	mu       sync.RWMutex
	list     []Instrument // sorted by ticker
	byTicker map[string]int
	byISIN   map[string]int
}

// NewMaster builds a master from validated instruments; it refuses a
// ticker or ISIN seen twice.
func NewMaster(insts []Instrument) (*Master, error) {
	list := slices.Clone(insts)
	sort.Slice(list, func(i, j int) bool { return list[i].Ticker < list[j].Ticker })
	m := &Master{list: list, byTicker: map[string]int{}, byISIN: map[string]int{}}
	var errs []error
	for i, in := range list {
		if _, dup := m.byTicker[in.Ticker]; dup {
			errs = append(errs, fmt.Errorf("instrument %q: ticker: duplicate", in.Ticker))
		}
		if j, dup := m.byISIN[in.ISIN]; dup {
			errs = append(errs, fmt.Errorf("instrument %q: isin: %s already used by %q", in.Ticker, in.ISIN, list[j].Ticker))
		}
		m.byTicker[in.Ticker] = i
		m.byISIN[in.ISIN] = i
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// All returns every instrument sorted by ticker.
func (m *Master) All() []Instrument {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.list)
}

// Len is the number of instruments.
func (m *Master) Len() int { return len(m.list) }

// ByTicker finds an instrument by its ticker.
func (m *Master) ByTicker(ticker string) (Instrument, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.byTicker[ticker]
	if !ok {
		return Instrument{}, false
	}
	return m.list[i], true
}

// ByISIN finds an instrument by its ISIN.
func (m *Master) ByISIN(isin string) (Instrument, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.byISIN[isin]
	if !ok {
		return Instrument{}, false
	}
	return m.list[i], true
}

// SetReference makes ref the instrument's reference price, with the band
// it gives (WithReference), and returns the instrument as it now is.
func (m *Master) SetReference(isin string, ref decimal.Decimal) (Instrument, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.byISIN[isin]
	if !ok {
		return Instrument{}, false
	}
	m.list[i] = m.list[i].WithReference(ref)
	return m.list[i], true
}

// WithReference is the instrument on a day whose reference price is ref
// (rounded to the nearest tick, half up): a percentage band is recomputed
// around it (BandLimits: HOSE ±7 % rounded inwards, one tick off the
// reference when the rounding would reach it); a band the file gave
// explicitly (no band_percent) is kept as given and the reference kept
// inside it.
func (in Instrument) WithReference(ref decimal.Decimal) Instrument {
	if down, up := in.TickTable.RoundDown(ref), in.TickTable.RoundUp(ref); ref.Sub(down).LessThan(up.Sub(ref)) {
		ref = down
	} else {
		ref = up
	}
	if !ref.IsPositive() {
		return in
	}
	in.ReferencePrice = ref
	if in.BandPercent.IsPositive() {
		in.Ceiling, in.Floor = BandLimits(ref, in.BandPercent, in.TickTable)
		return in
	}
	in.ReferencePrice = decimal.Min(decimal.Max(ref, in.Floor), in.Ceiling)
	return in
}

// Resolve is §4 step 5 for an order's symbol (a ticker, matched without
// regard to case): the instrument, or -100008 when unknown and 1006 when
// it is not Active.
func (m *Master) Resolve(ticker string) (Instrument, *Reject) {
	in, ok := m.ByTicker(strings.ToUpper(ticker))
	if !ok {
		return Instrument{}, reject(CodeUnknownSymbol, "unknown symbol %q", ticker)
	}
	if r := in.Tradable(); r != nil {
		return Instrument{}, r
	}
	return in, nil
}

// Tradable refuses an instrument that is halted or suspended (1006).
func (in Instrument) Tradable() *Reject {
	if in.Status != Active {
		return reject(CodeNotTradable, "instrument %s is not tradable (status %s)", in.Ticker, in.Status)
	}
	return nil
}

var (
	tickerRE = regexp.MustCompile(`^[A-Z0-9]{1,20}$`)
	isinRE   = regexp.MustCompile(`^[A-Z]{2}[A-Z0-9]{9}[0-9]$`)
	boardRE  = regexp.MustCompile(`^[A-Z0-9]{1,4}$`)
	groupRE  = regexp.MustCompile(`^[A-Z0-9_]{1,16}$`)
)

// isinCheckDigit computes an ISIN's check digit (Luhn over the letters
// expanded to two digits) from its first 11 characters.
func isinCheckDigit(s string) byte {
	var digits []byte
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c-'0')
		case c >= 'A' && c <= 'Z':
			v := c - 'A' + 10
			digits = append(digits, v/10, v%10)
		}
	}
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i])
		if (len(digits)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// validISIN checks an ISIN's shape and check digit.
func validISIN(s string) error {
	if !isinRE.MatchString(s) {
		return fmt.Errorf("%q is not a 12-character ISIN (2 letters, 9 alphanumerics, a check digit)", s)
	}
	if want := isinCheckDigit(s[:11]); s[11] != want {
		return fmt.Errorf("%q has check digit %c, want %c", s, s[11], want)
	}
	return nil
}

// defaultPutThroughMinQty is the smallest put-through deal on market m
// when the file names none: HNX 5 000 shares (HNX trading rules), none
// elsewhere.
func defaultPutThroughMinQty(m MarketID) int64 {
	if m == HNX {
		return 5000
	}
	return 1
}

// IsFuture reports whether the instrument is a futures contract: positions
// long or short with margin and daily settlement instead of delivery.
func (in Instrument) IsFuture() bool { return in.Multiplier.IsPositive() }

// Expired reports whether a futures contract is past its last trading day
// on date (YYYY-MM-DD).
func (in Instrument) Expired(date string) bool { return in.Expiry != "" && date > in.Expiry }

// Futures defaults (DVX): the VN30 index future's contract terms (HNX's
// contract specification: 100 000 VND per index point), the initial margin
// rate VSDC has applied to VN30 futures (17 %; VSDC changes it by notice,
// so the file may name another) and the position limit for an individual
// investor (5 000 contracts; HNX derivatives rules give institutions more).
var (
	DefaultMultiplier    = decimal.NewFromInt(100_000)
	DefaultMarginRate    = decimal.RequireFromString("0.17")
	DefaultPositionLimit = int64(5_000)
)

// defaultSettlementDays is market m's settlement cycle when the file
// names none: T+2 for the stock markets (HOSE, HNX and UPCoM equities,
// ETFs, covered warrants and fund certificates settle on the second
// trading day; Circular 120/2020/TT-BTC as amended), 0 for the VN30
// futures, which have no delivery (their gains and losses move daily).
func defaultSettlementDays(m MarketID) int {
	if m == Deriv {
		return 0
	}
	return 2
}

// defaultOrderTypes are the order types each market trades when the file
// lists none: HOSE LO, ATO, ATC and MTL (the KRX system live since May
// 2025 kept HOSE's order types; MAK and MOK are HNX's and the futures');
// the VN30 futures every type; HNX no ATO (it has no opening auction);
// UPCoM limit orders only (no auctions, no market orders).
func defaultOrderTypes(m MarketID) []OrderType {
	switch m {
	case HOSE:
		return []OrderType{ATO, LO, MTL, ATC}
	case Deriv:
		return []OrderType{ATO, LO, MTL, MAK, MOK, ATC}
	case HNX:
		return []OrderType{LO, MTL, MAK, MOK, ATC}
	case UPCoM:
		return []OrderType{LO}
	}
	return nil
}
