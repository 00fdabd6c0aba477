package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/vero-oms/omsd/store"
)

// Settlement (T+2): pending shares and cash are part of the account
// record, reported by the outbox, and settled once however many instances
// run the start-of-day step at the same time.
func (su suite) settlement(t *testing.T) {
	su.test(t, "PendingRoundTrip", settlementRoundTrip)
	su.test(t, "SettleRace", settlementRace)
}

func pendingAccount() store.Account {
	a := store.Account{AccountCode: "S1", CashAvailable: dec("1000"), CashHold: dec("0")}
	fpt := store.Holding{Symbol: "VN000000FPT1", SellableQty: 10, AvgPrice: dec("100.5")}
	fpt.AddPending("2027-01-12", 100)
	fpt.AddPending("2027-01-11", 1<<40)
	a.SetHolding(fpt)
	// Bought and not settled is a position of its own.
	mwg := store.Holding{Symbol: "VN000000MWG3", AvgPrice: dec("45678.9")}
	mwg.AddPending("2027-01-12", 7)
	a.SetHolding(mwg)
	a.AddPendingCash("2027-01-12", dec(tinyValue))
	a.AddPendingCash("2027-01-11", dec(bigCash))
	return a
}

func settlementRoundTrip(t *testing.T, s store.Store) {
	a := pendingAccount()
	a.CreatedAt, a.UpdatedAt = msNow(), msNow()
	update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(a) })
	got, err := s.Account(t.Context(), "S1")
	must(t, err)
	sameRecord(t, "account with pending", normAccount(got), normAccount(a))
	update(t, s, func(tx store.BackOfficeTx) error {
		in, ok, err := tx.Account("S1")
		if err == nil && ok {
			sameRecord(t, "account with pending in a transaction", normAccount(in), normAccount(a))
		}
		return err
	})
	es := outboxAfter(t, s, 0, outboxAll)
	if len(es) != 3 {
		t.Fatalf("outbox: %d entries, want cash and two holdings: %+v", len(es), es)
	}
	wantCashEntry(t, "cash", es[0], "S1", store.CashOf(a))
	for i, h := range a.Holdings {
		wantHoldingEntry(t, "holding "+h.Symbol, es[i+1], "S1", h)
	}
	// A change of the pending amounts alone is a change.
	settled, _ := a.Settle("2027-01-11")
	update(t, s, func(tx store.BackOfficeTx) error {
		if _, _, err := tx.Account("S1"); err != nil { // read first: only changes are reported
			return err
		}
		return tx.PutAccount(settled)
	})
	es = outboxAfter(t, s, 3, outboxAll)
	if len(es) != 2 {
		t.Fatalf("outbox after settling the 11th: %d entries, want cash and FPT: %+v", len(es), es)
	}
	wantCashEntry(t, "cash after", es[0], "S1", store.CashOf(settled))
	fpt, _ := settled.Holding("VN000000FPT1")
	wantHoldingEntry(t, "FPT after", es[1], "S1", fpt)
}

// settlementRace: 16 racers settle one account, each reading before it
// decides, as the trading service's start-of-day step does; one moves the
// dues and writes the audit entry, the others find nothing due.
func settlementRace(t *testing.T, s store.Store) {
	a := pendingAccount()
	update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(a) })
	const racers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range racers {
		wg.Go(func() {
			moved := false
			_, err := s.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
				moved = false
				cur, _, err := tx.Account("S1")
				if err != nil {
					return err
				}
				next, done := cur.Settle("2027-01-12")
				if done.Empty() {
					return nil
				}
				moved = true
				tx.Audit(newAudit("system:settlement", "SETTLED", "ACCOUNT", "S1", msNow()))
				return tx.PutAccount(next)
			})
			if err != nil {
				t.Errorf("settle: %v", err)
			}
			mu.Lock()
			if moved {
				wins++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racers settled, want exactly 1", wins)
	}
	got, err := s.Account(t.Context(), "S1")
	must(t, err)
	want, _ := a.Settle("2027-01-12")
	if !got.CashAvailable.Equal(want.CashAvailable) || len(got.CashPending) != 0 {
		t.Errorf("cash after the race: %s pending %+v, want %s", got.CashAvailable, got.CashPending, want.CashAvailable)
	}
	if h, _ := got.Holding("VN000000FPT1"); h.SellableQty != 10+100+1<<40 || len(h.Pending) != 0 {
		t.Errorf("FPT after the race: %+v", h)
	}
	audits, err := s.ListAudit(t.Context(), store.AuditFilter{Action: "SETTLED"})
	must(t, err)
	if len(audits) != 1 {
		t.Errorf("%d settlement audit entries, want 1", len(audits))
	}
}

// marketDays: an instrument's trading day round-trips exactly, a bad one
// is refused, and 16 racers adding trades to it lose none.
func (su suite) marketDays(t *testing.T) {
	su.test(t, "RoundTrip", func(t *testing.T, s store.Store) {
		d := store.MarketDay{Date: "2026-12-07", Reference: dec("102000"), Last: dec("101900.5"), Value: dec(bigCash), Volume: 1 << 40}
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutMarketDay("VN000000FPT1", d) })
		update(t, s, func(tx store.BackOfficeTx) error {
			got, ok, err := tx.MarketDay("VN000000FPT1")
			if err == nil {
				sameRecord(t, "market day", got, d)
				if !ok {
					t.Error("market day not found")
				}
			}
			if _, ok, err := tx.MarketDay("VN000000VNM8"); err != nil || ok {
				t.Errorf("absent market day: %v %v", ok, err)
			}
			return err
		})
		for _, bad := range []store.MarketDay{{Date: "7 Dec", Reference: dec("1")}, {Date: "2026-12-07"}, {Date: "2026-12-07", Reference: dec("1"), Volume: -1}} {
			_, err := s.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error { return tx.PutMarketDay("X", bad) })
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("market day %+v: %v, want ErrInvalid", bad, err)
			}
		}
	})
	su.test(t, "Race", func(t *testing.T, s store.Store) {
		update(t, s, func(tx store.BackOfficeTx) error {
			return tx.PutMarketDay("VN000000FPT1", store.MarketDay{Date: "2026-12-07", Reference: dec("100000")})
		})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				_, err := s.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
					d, _, err := tx.MarketDay("VN000000FPT1")
					if err != nil {
						return err
					}
					d.Volume += 100
					d.Value = d.Value.Add(dec("10000000"))
					return tx.PutMarketDay("VN000000FPT1", d)
				})
				if err != nil {
					t.Errorf("add a trade: %v", err)
				}
			})
		}
		wg.Wait()
		// Checked after the update returns: a run may start from this
		// process's last seen values (guesses), and a guessed run that
		// writes nothing is thrown away and read again. Concurrent commits
		// can leave an older value last seen, so only the final run's
		// value is the store's.
		var d store.MarketDay
		update(t, s, func(tx store.BackOfficeTx) error {
			var err error
			d, _, err = tx.MarketDay("VN000000FPT1")
			return err
		})
		if d.Volume != 1600 || !d.Value.Equal(dec("160000000")) {
			t.Errorf("after 16 racers: %+v", d)
		}
	})
}
