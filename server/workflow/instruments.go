package workflow

import (
	"fmt"

	"github.com/vero-oms/omsd/server/market"
)

// Instruments is what the workflow reads of the instrument master.
type Instruments interface {
	ByISIN(isin string) (market.Instrument, bool)
	ByTicker(ticker string) (market.Instrument, bool)
}

// WithInstruments returns s checking ADD_STOCK and REMOVE_STOCK against
// the instrument master m (checkStockSymbol).
func (s *Service) WithInstruments(m Instruments) *Service {
	c := *s
	c.instruments = m
	return &c
}

// stockChange is a change of an account's shares (ADD_STOCK,
// REMOVE_STOCK).
type stockChange interface {
	stockSymbol() string
	adds() bool
}

// checkStockSymbol refuses the symbol of a stock change that would make a
// position nothing can trade or that breaks the books:
//   - a future (by ISIN or ticker): a futures position comes only from
//     trades; its margin and mark-to-market basis move with it, and
//     contracts added by hand would have neither, so the next
//     mark-to-market would pay their whole value into cash;
//   - a ticker: holdings are kept by ISIN, so shares added under a ticker
//     would be a second position no order can sell;
//   - for ADD_STOCK, a symbol the master does not list (nothing could
//     trade or value it). REMOVE_STOCK of one is allowed: it takes away
//     shares of an instrument that has left the master.
func (s *Service) checkStockSymbol(symbol string, adding bool) error {
	if s.instruments == nil {
		return nil
	}
	in, byISIN := s.instruments.ByISIN(symbol)
	byTicker := false
	if !byISIN {
		in, byTicker = s.instruments.ByTicker(symbol)
	}
	switch {
	case (byISIN || byTicker) && in.Market == market.Deriv:
		return invalid(fmt.Sprintf("payload.symbol %s is a future (%s): ADD_STOCK and REMOVE_STOCK move shares; a futures position comes only from trades", symbol, in.Ticker))
	case byTicker:
		return invalid(fmt.Sprintf("payload.symbol %s is a ticker: holdings are kept by ISIN; use %s", symbol, in.ISIN))
	case !byISIN && adding:
		return invalid(fmt.Sprintf("payload.symbol %s is not an instrument of the market: ADD_STOCK takes the ISIN of a listed stock", symbol))
	}
	return nil
}
