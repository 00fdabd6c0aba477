package trading

import (
	"context"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// The reference price rolls at the start of each trading day (KRX and
// HNX rules): a stock's reference is its previous trading day's closing
// price (its last matched price), an UPCoM stock's the previous day's
// volume-weighted average of matched trades, a future's its settlement
// price (omsd's: the last price, see SettlementPrice); an instrument that
// did not trade keeps its reference. The band (ceiling, floor) is
// recomputed around it (market.Instrument.WithReference). The day's
// trading is kept per instrument in the store (store.MarketDay, written
// with the fills), so the roll is the same after a restart; put-through
// deals do not count (they are not matched trades).

// Roll rolls every instrument to the current trading date: its stored
// market day moves to the date with the new reference (once: a record
// already on the date is used as it is), and the master, the venue's books
// and the market data take the day's reference and band.
func (s *Service) Roll(ctx context.Context) error {
	date := s.clock.TradingDate()
	for _, in := range s.master.All() {
		var day store.MarketDay
		_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			cur, ok, err := tx.MarketDay(in.ISIN)
			if err != nil {
				return err
			}
			if ok && cur.Date >= date {
				day = cur
				return nil
			}
			day = rollDay(cur, ok, in, date)
			return tx.PutMarketDay(in.ISIN, day)
		})
		if err != nil {
			return err
		}
		if started := s.dayStarted(in.ISIN, date); started && day.Reference.Equal(in.ReferencePrice) {
			continue
		}
		inst, _ := s.master.SetReference(in.ISIN, day.Reference)
		if v, ok := s.venue.(interface{ NewDay(market.Instrument) }); ok {
			v.NewDay(inst)
		}
		if !day.Reference.Equal(in.ReferencePrice) {
			s.log.Info("reference price rolled", "symbol", in.Ticker, "date", date, "reference", inst.ReferencePrice.String(),
				"ceiling", inst.Ceiling.String(), "floor", inst.Floor.String(), "previous", in.ReferencePrice.String())
		}
	}
	return nil
}

// marketDay reads isin's market day (found false before its first).
func (s *Service) marketDay(ctx context.Context, isin string) (day store.MarketDay, found bool, err error) {
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		day, found, err = tx.MarketDay(isin)
		return err
	})
	return day, found, err
}

// dayStarted records that isin's books started date, and reports whether
// they had already.
func (s *Service) dayStarted(isin, date string) bool {
	prev, loaded := s.dayOf.Swap(isin, date)
	return loaded && prev == date
}

// rollDay is the market day of in on date following prev (found false:
// none yet, the instrument's reference as loaded stands).
func rollDay(prev store.MarketDay, found bool, in market.Instrument, date string) store.MarketDay {
	next := store.MarketDay{Date: date, Reference: in.ReferencePrice, Last: decimal.Zero, Value: decimal.Zero}
	switch {
	case !found:
	case !prev.Traded():
		next.Reference = prev.Reference
	case in.Market == market.UPCoM:
		next.Reference = prev.Value.DivRound(decimal.NewFromInt(prev.Volume), 8)
	default:
		next.Reference = prev.Last
	}
	// On the tick, as a reference must be.
	next.Reference = in.WithReference(next.Reference).ReferencePrice
	return next
}
