package trading

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// Settlement (T+2). A fill books the buyer's shares and the seller's
// proceeds as pending, due on the instrument's settlement date
// (market.Clock.SettlementDate); the start-of-day step below moves what is
// due to sellable_qty and cash_available, one account at a time, each in
// one store step with its audit entry. It is idempotent: what settled is
// no longer pending, so every instance may run it and a retry settles
// nothing twice.

// Audit vocabulary of the settlement step (entity: admin.EntityAccount).
const (
	ActionSettled  = "SETTLED"
	SettlementUser = "system:settlement" // the actor of the start-of-day step
)

// Settled is what one settlement run moved.
type Settled struct {
	Date     string // the trading date settled up to (inclusive)
	Accounts int    // accounts that had something due
}

// Settle settles everything due on or before today's trading date on
// every account.
func (s *Service) Settle(ctx context.Context) (Settled, error) {
	date := s.clock.TradingDate()
	out := Settled{Date: date}
	codes, err := s.st.AccountCodes(ctx)
	if err != nil {
		return out, err
	}
	for _, code := range codes {
		moved, err := s.settleAccount(ctx, code, date)
		if err != nil {
			return out, fmt.Errorf("settling account %s: %w", code, err)
		}
		if moved {
			out.Accounts++
		}
	}
	if out.Accounts > 0 {
		s.log.Info("settlement", "date", date, "accounts", out.Accounts)
	}
	return out, nil
}

// settleAccount settles one account's dues up to date in one store step
// with the audit entry that explains it.
func (s *Service) settleAccount(ctx context.Context, code, date string) (bool, error) {
	return s.accountStep(ctx, code, SettlementUser, ActionSettled, func(a store.Account) (store.Account, any, bool) {
		na, done := a.Settle(date)
		return na, settlementDetail(code, date, a, na, done), !done.Empty()
	})
}

// accountStep changes one account in one store step with its audit entry
// (actor, action, the detail change returns), when change says it changed
// something; it reports whether it did. An account deleted meanwhile is
// left alone.
func (s *Service) accountStep(ctx context.Context, code, actor, action string,
	change func(store.Account) (store.Account, any, bool)) (bool, error) {
	changed := false
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		a, ok, err := tx.Account(code)
		if changed = false; err != nil || !ok {
			return err
		}
		na, detail, ok := change(a)
		if !ok {
			return nil
		}
		c := admin.Change{Actor: actor, At: s.now()}
		na.UpdatedAt = c.At
		if err := tx.PutAccount(na); err != nil {
			return err
		}
		tx.Audit(c.Audit(action, admin.EntityAccount, code, detail))
		changed = true
		return nil
	})
	return changed, err
}

// settlementDetail is the audit entry's detail: what became available and
// sellable, with the balances before and after.
func settlementDetail(code, date string, before, after store.Account, done store.Settlement) map[string]any {
	shares := []map[string]any{}
	for _, isin := range slices.Sorted(maps.Keys(done.Shares)) {
		b, _ := before.Holding(isin)
		a, _ := after.Holding(isin)
		shares = append(shares, map[string]any{"symbol": isin, "quantity": done.Shares[isin],
			"sellable_qty_before": b.SellableQty, "sellable_qty_after": a.SellableQty})
	}
	return map[string]any{"account_id": code, "settlement_date": date,
		"cash": done.Cash.String(), "cash_available_before": before.CashAvailable.String(),
		"cash_available_after": after.CashAvailable.String(), "shares": shares}
}

// settlementDate is the date a fill of inst made now settles.
func (s *Service) settlementDate(isin string) (string, error) {
	inst, ok := s.master.ByISIN(isin)
	if !ok {
		return "", nil // not in the master: nothing to settle later
	}
	return s.clock.SettlementDate(inst)
}

// DayChange is what the dev next-day step did.
type DayChange struct {
	From, To string
	Settled  Settled
}

// NextDay is the dev "next trading day": the day's working orders end as
// at the close (CANCELED, their holds released), futures positions are
// marked to market (closed on their last trading day), the clock moves to the
// next trading day (market.Clock.NextTradingDay), the reference prices
// roll, the books take that day's session and what is due settles.
func (s *Service) NextDay(ctx context.Context) (DayChange, error) {
	out := DayChange{From: s.clock.TradingDate()}
	if err := s.closeDay(ctx); err != nil {
		return out, err
	}
	out.To = s.clock.NextTradingDay()
	s.log.Info("dev: the trading day moved", "from", out.From, "to", out.To, "days_ahead", s.clock.DaysAhead())
	if err := s.Roll(ctx); err != nil {
		return out, err
	}
	if err := s.Sync(ctx); err != nil {
		return out, err
	}
	var err error
	out.Settled, err = s.Settle(ctx)
	return out, err
}

// closeDay takes every market to Closed, as the end of the day does.
func (s *Service) closeDay(ctx context.Context) error {
	s.sessionMu.Lock()
	defer s.sessionMu.Unlock()
	held, err := s.openWhere(ctx, func(o store.Order) bool { return o.Status == store.OrderPendingNew })
	if err != nil {
		return err
	}
	for _, m := range market.Markets {
		for _, in := range s.master.All() {
			if in.Market != m {
				continue
			}
			if err := s.moveBook(ctx, in, market.Closed, held); err != nil {
				return err
			}
		}
		s.sessions[m] = market.Closed
	}
	for _, fn := range s.endOfDay {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	_, err = s.MarkToMarket(ctx)
	return err
}
