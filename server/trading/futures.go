package trading

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/store"
)

// The futures' end of day (see pretrade's futures notes): every position
// is marked to its contract's settlement price, one account per store
// step with its audit entry, once per trading date (store.Holding.MarkedOn),
// and on the last trading day the positions close at that price.

// Audit vocabulary of the mark-to-market step.
const (
	ActionMarkedToMarket = "MARKED_TO_MARKET"
	MarkUser             = "system:mark-to-market"
)

// SettlementPrice is a futures contract's settlement price for the
// current trading date: the last price it traded at that day (the closing
// auction's when it had one), or its reference price when it has not
// traded. The exchange computes the VN30 futures' settlement price from
// the closing session; omsd's simulated market has only its own trades to
// go by. It is read from the store (store.MarketDay), so a restart during
// the day changes nothing.
func (s *Service) SettlementPrice(ctx context.Context, inst market.Instrument) (decimal.Decimal, error) {
	day, ok, err := s.marketDay(ctx, inst.ISIN)
	if err != nil {
		return decimal.Zero, err
	}
	if ok && day.Date == s.clock.TradingDate() && day.Traded() {
		return day.Last, nil
	}
	return inst.ReferencePrice, nil
}

// MarkToMarket marks every futures position to its settlement price for
// the current trading date and returns how many positions it marked. A
// position already marked on the date is left alone, so running it again
// (a retry, another instance) moves nothing twice.
func (s *Service) MarkToMarket(ctx context.Context) (int, error) {
	date := s.clock.TradingDate()
	codes, err := s.st.AccountCodes(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, inst := range s.master.All() {
		if !inst.IsFuture() {
			continue
		}
		settle, err := s.SettlementPrice(ctx, inst)
		if err != nil {
			return n, err
		}
		expiry := inst.Expiry != "" && date >= inst.Expiry
		for _, code := range codes {
			marked, err := s.markAccount(ctx, code, inst, settle, date, expiry)
			if err != nil {
				return n, fmt.Errorf("marking %s of account %s: %w", inst.Ticker, code, err)
			}
			if marked {
				n++
			}
		}
		s.log.Info("futures marked to market", "symbol", inst.Ticker, "date", date, "settlement_price", settle.String(), "expiry", expiry)
	}
	return n, nil
}

// markAccount marks one account's position in inst, with its audit entry.
func (s *Service) markAccount(ctx context.Context, code string, inst market.Instrument, settle decimal.Decimal, date string, expiry bool) (bool, error) {
	return s.accountStep(ctx, code, MarkUser, ActionMarkedToMarket, func(a store.Account) (store.Account, any, bool) {
		before, _ := a.Holding(inst.ISIN)
		na, m, ok := pretrade.MarkToMarket(a, inst, settle, date, expiry)
		return na, map[string]any{"account_id": code, "symbol": inst.ISIN, "ticker": inst.Ticker,
			"trading_date": date, "settlement_price": settle.String(), "position": before.SellableQty,
			"variation": m.Variation.String(), "margin_before": before.Margin.String(), "margin_after": m.Margin.String(),
			"cash_available_before": a.CashAvailable.String(), "cash_available_after": na.CashAvailable.String(),
			"expiry": expiry, "closed": m.Closed}, ok
	})
}
