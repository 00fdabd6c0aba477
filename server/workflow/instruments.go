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
// the instrument master m: they move shares, and a futures position comes
// only from trades. Its margin and its mark-to-market basis move with it;
// contracts added by hand would have neither, and the next mark-to-market
// would pay their whole value into cash.
func (s *Service) WithInstruments(m Instruments) *Service {
	c := *s
	c.instruments = m
	return &c
}

// stockChange is a change of an account's shares (ADD_STOCK,
// REMOVE_STOCK).
type stockChange interface {
	stockSymbol() string
}

// sharesOnly refuses symbol (an ISIN or a ticker) when it is a future.
func (s *Service) sharesOnly(symbol string) error {
	if s.instruments == nil {
		return nil
	}
	in, ok := s.instruments.ByISIN(symbol)
	if !ok {
		in, ok = s.instruments.ByTicker(symbol)
	}
	if ok && in.Market == market.Deriv {
		return invalid(fmt.Sprintf("payload.symbol %s is a future (%s): ADD_STOCK and REMOVE_STOCK move shares; a futures position comes only from trades", symbol, in.Ticker))
	}
	return nil
}
