package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// leases: one holder per name, renewable by it, released only by it,
// gone after its ttl; 16 racers for a free lease, one winner.
func (su suite) leases(t *testing.T) {
	su.test(t, "OneHolder", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		h, err := s.TakeLease(ctx, "venue", "A", time.Minute)
		must(t, err)
		if h != "A" {
			t.Fatalf("free lease: holder %q", h)
		}
		if h, _ = s.TakeLease(ctx, "venue", "B", time.Minute); h != "A" {
			t.Fatalf("held lease taken by B: holder %q", h)
		}
		if h, _ = s.TakeLease(ctx, "venue", "A", time.Minute); h != "A" {
			t.Fatalf("renewal: holder %q", h)
		}
		if h, _ = s.TakeLease(ctx, "other", "B", time.Minute); h != "B" {
			t.Fatalf("another name: holder %q", h)
		}
		must(t, s.ReleaseLease(ctx, "venue", "B")) // not B's: kept
		if h, _ = s.TakeLease(ctx, "venue", "B", time.Minute); h != "A" {
			t.Fatalf("released by a non-holder: holder %q", h)
		}
		must(t, s.ReleaseLease(ctx, "venue", "A"))
		if h, _ = s.TakeLease(ctx, "venue", "B", time.Minute); h != "B" {
			t.Fatalf("after release: holder %q", h)
		}
	})
	su.test(t, "Expires", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		if h, err := s.TakeLease(ctx, "venue", "A", 200*time.Millisecond); err != nil || h != "A" {
			t.Fatalf("take: %q %v", h, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			h, err := s.TakeLease(ctx, "venue", "B", time.Minute)
			must(t, err)
			if h == "B" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the lease never expired: holder %q", h)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	su.test(t, "Race", func(t *testing.T, s store.Store) {
		holders := make([]string, 16)
		errs := race(16, func(i int) error {
			h, err := s.TakeLease(t.Context(), "venue", fmt.Sprint("owner-", i), time.Minute)
			holders[i] = h
			return err
		})
		won := 0
		for i, err := range errs {
			must(t, err)
			if holders[i] == fmt.Sprint("owner-", i) {
				won++
			}
			if holders[i] != holders[0] {
				t.Fatalf("two holders seen: %q and %q", holders[0], holders[i])
			}
		}
		if won != 1 {
			t.Fatalf("%d racers hold the lease", won)
		}
	})
}

// prefetch: prefetched records read as if read one by one, and a change
// to one of them before commit makes the transaction run again.
func (su suite) prefetch(t *testing.T) {
	su.test(t, "ReadsAndChecks", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(newAccount("P1", now)) })
		runs := 0
		update(t, s, func(tx store.BackOfficeTx) error {
			runs++
			must(t, tx.Prefetch(store.Prefetch{Accounts: []string{"P1", "P1", "absent"}, Grants: [][2]string{{"u@x", "P1"}},
				Orders: []int64{7}, OrderReqIDs: []store.OrderKey{{User: "u", ReqID: "R1"}}}))
			a, ok, err := tx.Account("P1")
			must(t, err)
			if !ok {
				t.Fatal("prefetched account not found")
			}
			if _, ok, _ := tx.Account("absent"); ok {
				t.Fatal("absent account found")
			}
			if _, ok, _ := tx.Grant("u@x", "P1"); ok {
				t.Fatal("absent grant found")
			}
			if runs == 1 {
				// Another writer changes the prefetched account: this run
				// must not commit.
				_, err := s.UpdateBackOffice(ctx, func(tx2 store.BackOfficeTx) error {
					b, _, err := tx2.Account("P1")
					if err != nil {
						return err
					}
					b.CashAvailable = b.CashAvailable.Add(decimal.NewFromInt(1))
					return tx2.PutAccount(b)
				})
				must(t, err)
			}
			a.CashHold = a.CashHold.Add(decimal.NewFromInt(5))
			return tx.PutAccount(a)
		})
		if runs != 2 {
			t.Fatalf("fn ran %d times; a change to a prefetched record must make it run again", runs)
		}
		got, err := s.Account(ctx, "P1")
		must(t, err)
		want := newAccount("P1", now)
		if !got.CashAvailable.Equal(want.CashAvailable.Add(decimal.NewFromInt(1))) || !got.CashHold.Equal(want.CashHold.Add(decimal.NewFromInt(5))) {
			t.Fatalf("both changes kept: cash %s hold %s", got.CashAvailable, got.CashHold)
		}
	})
	su.test(t, "RulesVersion", func(t *testing.T, s store.Store) {
		now := msNow()
		version := func() string {
			var v string
			update(t, s, func(tx store.BackOfficeTx) error {
				var err error
				v, err = tx.RulesVersion()
				return err
			})
			return v
		}
		v0 := version()
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(newAccount("V1", now)) })
		if v := version(); v != v0 {
			t.Fatalf("an account change moved the rules' version: %q -> %q", v0, v)
		}
		rule := store.OrderRiskRule{Kind: "ORDER_BLOCK_TRADE_SYMBOL_BUY", Scope: store.ScopeSystem, Target: "*", Match: "X", Value: decimal.NewFromInt(1), UpdatedAt: now}
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutOrderRiskRule(rule) })
		v1 := version()
		if v1 == v0 || v1 == "" {
			t.Fatalf("an order rule change kept the version %q", v1)
		}
		update(t, s, func(tx store.BackOfficeTx) error {
			return tx.DeleteOrderRiskRule(rule.Kind, rule.Scope, rule.Target, rule.Match)
		})
		if v2 := version(); v2 == v1 {
			t.Fatal("deleting a rule kept the version")
		}
		// A transaction that read the version reruns when a rule changes
		// before it commits.
		runs := 0
		update(t, s, func(tx store.BackOfficeTx) error {
			runs++
			if _, err := tx.RulesVersion(); err != nil {
				return err
			}
			if runs == 1 {
				_, err := s.UpdateBackOffice(t.Context(), func(tx2 store.BackOfficeTx) error { return tx2.PutOrderRiskRule(rule) })
				must(t, err)
			}
			return tx.PutAccount(newAccount("V2", now))
		})
		if runs != 2 {
			t.Fatalf("fn ran %d times; a rule change after reading the version must rerun it", runs)
		}
	})
	su.test(t, "TradingRules", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		update(t, s, func(tx store.BackOfficeTx) error { return writeEverything(tx, now) })
		risk, order, err := s.TradingRules(ctx)
		must(t, err)
		wantRisk, err := s.RiskRules(ctx)
		must(t, err)
		wantOrder, err := s.OrderRiskRules(ctx)
		must(t, err)
		sameRecord(t, "risk rules", normAll(risk, normRiskRule), normAll(wantRisk, normRiskRule))
		sameRecord(t, "order rules", normAll(order, normOrderRiskRule), normAll(wantOrder, normOrderRiskRule))
		if len(risk) == 0 || len(order) == 0 {
			t.Fatal("writeEverything wrote rules of both kinds")
		}
	})
}
