package trading

import (
	"fmt"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
)

// Simulator is the in-process KRX exchange simulator: the matching engine
// with one book per board of each instrument of the master, keyed by ISIN
// (ISIN/board for the odd-lot board). Its books
// live in this process only, so exactly one omsd instance may own them
// (see docs/trading.md, "One venue owner").
type Simulator struct {
	e   *venue.Engine
	obs BookObserver // nil: nobody watches the books
}

// BookObserver sees a book after every venue call that touched it (the
// market data feed). It runs in the caller's goroutine, under the book's
// one writer, so it must be quick.
type BookObserver interface {
	Observed(b *venue.Book, rep venue.Report)
}

// observe hands rep and the book of symbol to the observer.
func (v *Simulator) observe(symbol string, rep venue.Report) venue.Report {
	if v.obs != nil {
		if b, ok := v.e.Book(symbol); ok {
			v.obs.Observed(b, rep)
		}
	}
	return rep
}

var _ Venue = (*Simulator)(nil)

// DayObserver is a BookObserver that also learns of each new trading day.
type DayObserver interface {
	NewDay(in market.Instrument)
}

// NewDay starts the trading day on in's books: its reference price and
// band, no last trade; the observer resets its day.
func (v *Simulator) NewDay(in market.Instrument) {
	ref, err := venue.PriceFromDecimal(in.ReferencePrice)
	if err != nil {
		ref = 0
	}
	for _, book := range booksOf(in) {
		if b, ok := v.e.Book(book); ok {
			b.NewDay(ref, limitsOf(in))
		}
	}
	if d, ok := v.obs.(DayObserver); ok {
		d.NewDay(in)
	}
}

// NewSimulator opens a Closed book at the reference price of every
// instrument of m.
func NewSimulator(m *market.Master) *Simulator {
	e := venue.NewEngine()
	for _, in := range m.All() {
		ref, err := venue.PriceFromDecimal(in.ReferencePrice)
		if err != nil {
			ref = 0
		}
		for _, book := range booksOf(in) {
			if b, err := e.AddBook(book, ref); err == nil {
				b.SetLimits(limitsOf(in))
			}
		}
	}
	return &Simulator{e: e}
}

// limitsOf is what a book needs of the instrument's price rules: its band
// and its tick grid (venue.Limits).
func limitsOf(in market.Instrument) venue.Limits {
	floor, err1 := venue.PriceFromDecimal(in.Floor)
	ceiling, err2 := venue.PriceFromDecimal(in.Ceiling)
	if err1 != nil || err2 != nil {
		floor, ceiling = 0, 0
	}
	tt := in.TickTable
	return venue.Limits{Floor: floor, Ceiling: ceiling, Step: func(p venue.Price, up bool) venue.Price {
		next, err := venue.PriceFromDecimal(tt.Next(p.Decimal(), up))
		if err != nil {
			return 0
		}
		return next
	}}
}

func (v *Simulator) Submit(o venue.Order) venue.Report { return v.observe(o.Symbol, v.e.Submit(o)) }

func (v *Simulator) Cancel(symbol, id string) venue.Report {
	return v.observe(symbol, v.e.Cancel(symbol, id))
}

func (v *Simulator) Replace(symbol, id string, price venue.Price, qty int64) venue.Report {
	return v.observe(symbol, v.e.Replace(symbol, id, price, qty))
}

func (v *Simulator) SetPhase(symbol string, p venue.Phase) venue.Report {
	r, _ := v.e.SetPhase(symbol, p)
	return v.observe(symbol, r)
}

func (v *Simulator) Expire(symbol string) venue.Report {
	if b, ok := v.e.Book(symbol); ok {
		return v.observe(symbol, b.Expire())
	}
	return venue.Report{}
}

func (v *Simulator) Live(symbol, id string) (venue.Order, bool) {
	if b, ok := v.e.Book(symbol); ok {
		return b.Order(id)
	}
	return venue.Order{}, false
}

// Book exposes one book (tests, the dev market maker's checks).
func (v *Simulator) Book(symbol string) (*venue.Book, bool) { return v.e.Book(symbol) }

func (v *Simulator) Quiet(o venue.Order) bool {
	if b, ok := v.e.Book(o.Symbol); ok {
		return b.Quiet(o)
	}
	return false
}

func (v *Simulator) Working(symbol string) []venue.Order {
	b, ok := v.e.Book(symbol)
	if !ok {
		return nil
	}
	return append(b.Orders(venue.Buy), b.Orders(venue.Sell)...)
}

// Restore rests o, as it stood in a lost book, in the book o.Symbol names.
func (v *Simulator) Restore(o venue.Order) error {
	b, ok := v.e.Book(o.Symbol)
	if !ok {
		return fmt.Errorf("trading: no book %s to restore order %s to", o.Symbol, o.ID)
	}
	if err := b.Restore(o); err != nil {
		return err
	}
	v.observe(o.Symbol, venue.Report{})
	return nil
}

// SeedExecIDs continues the ExecIDs of the books this one replaces.
func (v *Simulator) SeedExecIDs(after uint64) { v.e.SeedExecIDs(after) }

// Simulator returns the service's venue when it is the in-process
// simulator (tests compare the market data with its books).
func (s *Service) Simulator() *Simulator {
	sim, _ := s.venue.(*Simulator)
	return sim
}
