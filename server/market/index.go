package market

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/shopspring/decimal"
)

// Index is a price index over some of the master's stocks, weighted by
// each constituent's shares, as HOSE's VNINDEX and VN30 are weighted by
// capitalisation: its value is BaseValue × Σ shares × price / Σ shares ×
// base price, where a constituent's price is its last matched price of
// the day (its reference before its first trade) and its base price the
// reference price the instruments file gave it. So the index is BaseValue
// on the file's prices, and its previous close (the same sum on the day's
// reference prices) follows the roll with no state of its own.
type Index struct {
	Code         string // e.g. VN30; the channel mkt:vnIndex:{Code}
	BaseValue    decimal.Decimal
	Constituents []Constituent
}

// Constituent is one stock of an index.
type Constituent struct {
	Ticker    string
	Shares    int64
	BasePrice decimal.Decimal // its reference price in the instruments file
}

type indexJSON struct {
	Code         string `json:"code"`
	BaseValue    string `json:"base_value"`
	Constituents []struct {
		Ticker string `json:"ticker"`
		Shares int64  `json:"shares"`
	} `json:"constituents"`
}

var indexCodeRE = regexp.MustCompile(`^[A-Z0-9]{1,16}$`)

// parseIndices checks the file's indices against the master m (every
// constituent a stock of m, once) and takes the base prices from it.
func parseIndices(in []indexJSON, m *Master) ([]Index, error) {
	var errs []error
	seen := map[string]bool{}
	out := make([]Index, 0, len(in))
	for i, j := range in {
		ix, err := parseIndex(j, m)
		if err == nil && seen[ix.Code] {
			err = errors.New("code: duplicate")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("index #%d %q: %w", i+1, j.Code, err))
			continue
		}
		seen[ix.Code] = true
		out = append(out, ix)
	}
	return out, errors.Join(errs...)
}

func parseIndex(j indexJSON, m *Master) (Index, error) {
	if !indexCodeRE.MatchString(j.Code) {
		return Index{}, errors.New("code: want [A-Z0-9]{1,16}")
	}
	base, err := decimal.NewFromString(j.BaseValue)
	if err != nil || !base.IsPositive() {
		return Index{}, fmt.Errorf("base_value: want a positive decimal, got %q", j.BaseValue)
	}
	if len(j.Constituents) == 0 {
		return Index{}, errors.New("constituents: none listed")
	}
	ix := Index{Code: j.Code, BaseValue: base}
	seen := map[string]bool{}
	for _, c := range j.Constituents {
		in, ok := m.ByTicker(c.Ticker)
		switch {
		case !ok:
			return Index{}, fmt.Errorf("constituent %q: not an instrument of the file", c.Ticker)
		case in.Market == Deriv:
			return Index{}, fmt.Errorf("constituent %q: a future, not a stock", c.Ticker)
		case seen[c.Ticker]:
			return Index{}, fmt.Errorf("constituent %q: listed twice", c.Ticker)
		case c.Shares <= 0:
			return Index{}, fmt.Errorf("constituent %q: shares: want > 0", c.Ticker)
		}
		seen[c.Ticker] = true
		ix.Constituents = append(ix.Constituents, Constituent{Ticker: c.Ticker, Shares: c.Shares, BasePrice: in.ReferencePrice})
	}
	return ix, nil
}
