package market

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/shopspring/decimal"
)

// TickStep says that prices at or above From move in steps of Tick (until
// the next step's From).
type TickStep struct {
	From decimal.Decimal `json:"from"`
	Tick decimal.Decimal `json:"tick"`
}

// TickTable is a price-dependent tick size: steps sorted by From, the first
// From being 0. Each From is a multiple of its own tick and of the previous
// step's tick, so rounding to the tick never leaves the grid.
type TickTable []TickStep

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Built-in tick tables, by the name an instruments file may use.
var builtinTickTables = map[string]TickTable{
	// HOSE stocks: < 10,000 VND → 10; 10,000–49,950 → 50; ≥ 50,000 → 100.
	"HOSE": {{dec("0"), dec("10")}, {dec("10000"), dec("50")}, {dec("50000"), dec("100")}},
	// HOSE ETFs and covered warrants: 10 VND at every price.
	"HOSE_FUND": {{dec("0"), dec("10")}},
	// HNX and UPCoM stocks: 100 VND at every price.
	"HNX":   {{dec("0"), dec("100")}},
	"UPCOM": {{dec("0"), dec("100")}},
	// VN30 index futures: 0.1 index point.
	"VN30F": {{dec("0"), dec("0.1")}},
}

// BuiltinTickTable returns a copy of a built-in tick table by name (HOSE,
// HOSE_FUND, HNX, UPCOM, VN30F).
func BuiltinTickTable(name string) (TickTable, bool) {
	t, ok := builtinTickTables[name]
	return slices.Clone(t), ok
}

// defaultTickTable is the table an instrument of market m gets when the
// file names none.
func defaultTickTable(m MarketID) string {
	switch m {
	case HOSE:
		return "HOSE"
	case HNX:
		return "HNX"
	case UPCoM:
		return "UPCOM"
	case Deriv:
		return "VN30F"
	}
	return ""
}

// Validate checks the table's shape.
func (tt TickTable) Validate() error {
	if len(tt) == 0 {
		return errors.New("empty tick table")
	}
	for i, s := range tt {
		if !s.Tick.IsPositive() {
			return fmt.Errorf("step %d: tick must be > 0, got %s", i, s.Tick)
		}
		if i == 0 {
			if !s.From.IsZero() {
				return fmt.Errorf("step 0: from must be 0, got %s", s.From)
			}
			continue
		}
		prev := tt[i-1]
		if !s.From.GreaterThan(prev.From) {
			return fmt.Errorf("step %d: from %s must be above the previous step's %s", i, s.From, prev.From)
		}
		if !s.From.Mod(s.Tick).IsZero() || !s.From.Mod(prev.Tick).IsZero() {
			return fmt.Errorf("step %d: from %s must be a multiple of its tick %s and of the previous tick %s", i, s.From, s.Tick, prev.Tick)
		}
	}
	return nil
}

// TickAt is the tick that applies at price p (the first step's for p < 0).
func (tt TickTable) TickAt(p decimal.Decimal) decimal.Decimal {
	i := sort.Search(len(tt), func(i int) bool { return tt[i].From.GreaterThan(p) })
	if i == 0 {
		return tt[0].Tick
	}
	return tt[i-1].Tick
}

// OnTick reports whether p is a multiple of the tick at p.
func (tt TickTable) OnTick(p decimal.Decimal) bool {
	return p.Mod(tt.TickAt(p)).IsZero()
}

// RoundDown is the largest on-tick price ≤ p (p ≥ 0).
func (tt TickTable) RoundDown(p decimal.Decimal) decimal.Decimal {
	t := tt.TickAt(p)
	q, _ := p.QuoRem(t, 0)
	return q.Mul(t)
}

// RoundUp is the smallest on-tick price ≥ p (p ≥ 0).
func (tt TickTable) RoundUp(p decimal.Decimal) decimal.Decimal {
	t := tt.TickAt(p)
	q, r := p.QuoRem(t, 0)
	if !r.IsZero() {
		q = q.Add(decimal.NewFromInt(1))
	}
	return q.Mul(t)
}

// Next is the on-tick price one tick above p (up) or below it, for an
// on-tick p: the tick taken is the one of the step the new price falls in
// (HOSE 10 000 goes down to 9 990, 9 990 up to 10 000). Below the first
// tick it returns 0.
func (tt TickTable) Next(p decimal.Decimal, up bool) decimal.Decimal {
	// The smallest step a price can take (PriceScale decimal places).
	eps := decimal.New(1, -4)
	if up {
		return tt.RoundUp(p.Add(eps))
	}
	if !p.GreaterThan(eps) {
		return decimal.Zero
	}
	return tt.RoundDown(p.Sub(eps))
}

// tickTableSpec is the file form: a built-in table's name or inline steps.
type tickTableSpec struct {
	Name  string
	Steps TickTable
}

func (s *tickTableSpec) parse(b []byte) error {
	if err := json.Unmarshal(b, &s.Name); err == nil {
		return nil
	}
	s.Name = ""
	if err := json.Unmarshal(b, &s.Steps); err != nil {
		return errors.New("want a built-in table name (HOSE, HOSE_FUND, HNX, UPCOM, VN30F) or an array of {\"from\", \"tick\"} steps")
	}
	return nil
}
