package marketdata

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
)

// IndexChannel names an index channel: mkt:vnIndex:{code}.
func IndexChannel(code string) string { return "mkt:vnIndex:" + code }

// IndexValue is omsd's mkt:vnIndex message (the docs leave its shape
// open): an index of the instruments file (market.Index) computed from
// its constituents' round-lot trades. Published with the next flush after
// a constituent trades, and at the roll.
type IndexValue struct {
	IndexCode    string  `json:"indexCode"`
	Time         int64   `json:"time"`      // Unix ms
	Value        float64 `json:"value"`     // 2 decimals
	PrevClose    float64 `json:"prevClose"` // the value on the day's reference prices, 2 decimals
	Change       float64 `json:"change"`    // value - prevClose
	ChangePct    float64 `json:"changePct"` // change as a percentage of prevClose, 2 decimals
	TotVol       int64   `json:"totVol"`    // the constituents' matched volume today (round-lot boards)
	TotVal       float64 `json:"totVal"`
	Advances     int     `json:"advances"`  // constituents whose last price is above their reference
	Declines     int     `json:"declines"`  // ... below it
	Unchanged    int     `json:"unchanged"` // at it, or not traded today
	Constituents int     `json:"constituents"`
}

// indexState is one index and what the feed needs to compute it.
type indexState struct {
	ix      market.Index
	isins   []string        // the constituents' ISINs, in ix's order
	baseCap decimal.Decimal // Σ shares × base price
	dirty   bool
}

func newIndexState(ix market.Index, m *market.Master) *indexState {
	st := &indexState{ix: ix, baseCap: decimal.Zero}
	for _, c := range ix.Constituents {
		in, _ := m.ByTicker(c.Ticker) // market.Parse checked it is there
		st.isins = append(st.isins, in.ISIN)
		st.baseCap = st.baseCap.Add(c.BasePrice.Mul(decimal.NewFromInt(c.Shares)))
	}
	return st
}

// value computes the index now: a constituent's price is its round-lot
// book's last price today, else its reference (the master's, which the
// roll moves).
func (f *Feed) value(st *indexState, now time.Time) IndexValue {
	v := IndexValue{IndexCode: st.ix.Code, Time: now.UnixMilli(), Constituents: len(st.isins)}
	capNow, capRef, val := decimal.Zero, decimal.Zero, decimal.Zero
	for i, isin := range st.isins {
		in, _ := f.master.ByISIN(isin)
		ref, px := in.ReferencePrice, in.ReferencePrice
		if s, ok := f.books[isin]; ok && s.vol > 0 {
			px = s.last
			v.TotVol += s.vol
			val = val.Add(s.val)
		}
		shares := decimal.NewFromInt(st.ix.Constituents[i].Shares)
		capNow, capRef = capNow.Add(px.Mul(shares)), capRef.Add(ref.Mul(shares))
		switch px.Cmp(ref) {
		case 1:
			v.Advances++
		case -1:
			v.Declines++
		default:
			v.Unchanged++
		}
	}
	value := st.ix.BaseValue.Mul(capNow).Div(st.baseCap).Round(2)
	prev := st.ix.BaseValue.Mul(capRef).Div(st.baseCap).Round(2)
	v.Value, v.PrevClose, v.TotVal = value.InexactFloat64(), prev.InexactFloat64(), val.InexactFloat64()
	v.Change = value.Sub(prev).InexactFloat64()
	if prev.IsPositive() {
		v.ChangePct = value.Sub(prev).Div(prev).Shift(2).Round(2).InexactFloat64()
	}
	return v
}

// touchIndices marks the indices of isin changed.
func (f *Feed) touchIndices(isin string) {
	for _, st := range f.indices {
		for _, c := range st.isins {
			if c == isin {
				st.dirty = true
			}
		}
	}
}

// index is the state of index code (nil: no such index).
func (f *Feed) index(code string) *indexState {
	for _, st := range f.indices {
		if st.ix.Code == code {
			return st
		}
	}
	return nil
}
