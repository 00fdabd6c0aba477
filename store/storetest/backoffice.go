package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// ---- back office ----

// boRacers is how many transactions race for one record.
const boRacers = 16

// Exact amounts no float64 holds.
const (
	bigCash   = "123456789012345.6789"
	tinyValue = "0.000000000000000001"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// update runs fn in UpdateBackOffice and fails the test on an error.
func update(t *testing.T, s store.Store, fn func(tx store.BackOfficeTx) error) []store.AuditEntry {
	t.Helper()
	written, err := s.UpdateBackOffice(t.Context(), fn)
	must(t, err)
	return written
}

// sameRecord compares records as printed: decimals by their exact String,
// times after normalising (the caller's norm function).
func sameRecord(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func normAccount(a store.Account) store.Account {
	a.Holdings = nilIfEmpty(slices.Clone(a.Holdings))
	a.CreatedAt, a.UpdatedAt = normTime(a.CreatedAt), normTime(a.UpdatedAt)
	return a
}

func normGrant(g store.Grant) store.Grant {
	g.CreatedAt, g.UpdatedAt = normTime(g.CreatedAt), normTime(g.UpdatedAt)
	return g
}

func normGroup(g store.Group) store.Group {
	g.CreatedAt, g.UpdatedAt = normTime(g.CreatedAt), normTime(g.UpdatedAt)
	return g
}

func normMember(m store.GroupMember) store.GroupMember {
	m.UpdatedAt = normTime(m.UpdatedAt)
	return m
}

func normRiskRule(r store.RiskRule) store.RiskRule {
	r.UpdatedAt = normTime(r.UpdatedAt)
	return r
}

func normOrderRiskRule(r store.OrderRiskRule) store.OrderRiskRule {
	r.UpdatedAt = normTime(r.UpdatedAt)
	return r
}

// normRequest: zero times stay zero (normTime would make them 1970).
func normRequest(r store.WorkflowRequest) store.WorkflowRequest {
	opt := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return normTime(t)
	}
	r.CreatedAt, r.ReviewedAt, r.AppliedAt = opt(r.CreatedAt), opt(r.ReviewedAt), opt(r.AppliedAt)
	return r
}

func normAll[T any](xs []T, norm func(T) T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = norm(x)
	}
	return out
}

// wantUTCms asserts a stored time came back in UTC at whole milliseconds.
func wantUTCms(t *testing.T, what string, got time.Time) {
	t.Helper()
	if got.Location() != time.UTC || got.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("%s = %v, want UTC at millisecond precision", what, got)
	}
}

func newAccount(code string, now time.Time) store.Account {
	a := store.Account{
		AccountCode:        code,
		Name:               `Zoë "Ops" O'Neil </script> 日本 \ /`,
		InternalClientCode: "ICC-" + code,
		ClientCode:         "011C" + code,
		CompID:             "VOS",
		AccountType:        -7,
		InvestCode:         "1",
		FornInvestTypeCode: "F",
		IsMMAccount:        true,
		SenderSubID:        "00991",
		Email:              "zoë+" + code + "@exämple.com",
		Phone:              "+84 (0)28 1234\t5678",
		CashAvailable:      dec(bigCash),
		CashHold:           dec("-0.0001"),
		BypassCash:         true,
		BypassStock:        false,
		CreatedAt:          now.In(time.FixedZone("ICT", 7*3600)).Add(-48*time.Hour - 123*time.Millisecond - 456*time.Microsecond),
		UpdatedAt:          now.Add(-7 * time.Millisecond),
	}
	// Out of order on purpose: SetHolding keeps them sorted.
	for _, h := range []store.Holding{
		{Symbol: "VN000000VNM8", SellableQty: 1 << 40, HoldQty: 3, AvgPrice: dec("98765.4321")},
		{Symbol: "VN000000FPT1", SellableQty: 100, HoldQty: 0, AvgPrice: dec(tinyValue)},
		{Symbol: "VN000000HPG2", SellableQty: 0, HoldQty: 5, AvgPrice: dec("0")},
	} {
		a.SetHolding(h)
	}
	return a
}

func newRequest(typ, by string, payload string, now time.Time) store.WorkflowRequest {
	return store.WorkflowRequest{
		Type:        typ,
		Payload:     json.RawMessage(payload),
		Status:      store.StatusPending,
		RequestedBy: by,
		CreatedAt:   now.Add(123 * time.Microsecond),
	}
}

// wantNoBackOffice asserts no back-office record and no audit entry exists.
func wantNoBackOffice(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	codes, err := s.AccountCodes(ctx)
	must(t, err)
	grants, err := s.Grants(ctx)
	must(t, err)
	groups, err := s.Groups(ctx)
	must(t, err)
	rules, err := s.RiskRules(ctx)
	must(t, err)
	orules, err := s.OrderRiskRules(ctx)
	must(t, err)
	reqs, err := s.WorkflowRequests(ctx, store.RequestFilter{})
	must(t, err)
	if n := len(codes) + len(grants) + len(groups) + len(rules) + len(orules) + len(reqs); n != 0 {
		t.Errorf("want no back-office records, got accounts %q, %d grants, %d groups, %d risk rules, %d order risk rules, %d requests",
			codes, len(grants), len(groups), len(rules), len(orules), len(reqs))
	}
	wantAudit(t, s, store.AuditFilter{})
}

// writeEverything writes one record of every kind and queues an audit entry.
func writeEverything(tx store.BackOfficeTx, now time.Time) error {
	if err := tx.PutAccount(newAccount("A1", now)); err != nil {
		return err
	}
	if err := tx.PutGrant(store.Grant{UserID: "ann@example.com", AccountCode: "A1", Level: store.LevelTrade, CreatedAt: now}); err != nil {
		return err
	}
	g, err := tx.NewGroup(store.Group{Name: "G", CreatedAt: now})
	if err != nil {
		return err
	}
	if err := tx.PutMember(store.GroupMember{AccountCode: "A1", GroupID: g.ID, UpdatedAt: now}); err != nil {
		return err
	}
	if err := tx.PutRiskRule(store.RiskRule{Kind: store.RuleMarginAllowed, Scope: store.ScopeSystem, Target: "*", Value: dec("1"), UpdatedAt: now}); err != nil {
		return err
	}
	if err := tx.PutOrderRiskRule(store.OrderRiskRule{Kind: "ORDER_BLOCK_TRADE_SYMBOL_BUY", Scope: store.ScopeSymbol, Target: "VNM", Match: "*", Value: dec("1"), UpdatedAt: now}); err != nil {
		return err
	}
	if _, err := tx.NewRequest(newRequest("ACCOUNT_UPDATE", "maker@example.com", `{"a":1}`, now)); err != nil {
		return err
	}
	tx.Audit(newAudit("maker@example.com", "EVERYTHING", "all", "1", now))
	return nil
}

func (su suite) backOffice(t *testing.T) {
	su.test(t, "Empty", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		wantNoBackOffice(t, s)
		_, err := s.Account(ctx, "A1")
		wantErr(t, "Account", err, store.ErrNotFound)
		_, err = s.Group(ctx, 1)
		wantErr(t, "Group", err, store.ErrNotFound)
		_, err = s.WorkflowRequest(ctx, 1)
		wantErr(t, "WorkflowRequest", err, store.ErrNotFound)
		for name, codes := range map[string][]string{"nil": nil, "empty": {}, "absent": {"A1", "B2"}} {
			got, err := s.Accounts(ctx, codes)
			must(t, err)
			if len(got) != 0 {
				t.Errorf("Accounts(%s) = %d accounts", name, len(got))
			}
		}
		gs, err := s.GrantsOfUser(ctx, "ann@example.com")
		must(t, err)
		ms, err := s.GroupMembers(ctx, 1)
		must(t, err)
		if len(gs)+len(ms) != 0 {
			t.Errorf("empty store: %d grants of user, %d members", len(gs), len(ms))
		}
	})

	su.test(t, "Accounts", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		b := newAccount("B2", now)
		a := newAccount("A1", now)
		a.Holdings, a.CashAvailable, a.CashHold = nil, decimal.Decimal{}, dec("0.01")
		c := newAccount("C3 日本", now)
		c.CashAvailable = dec("-" + bigCash)
		audit := newAudit("maker@example.com", "ACCOUNT_CREATED", "account", "B2", now)
		written := update(t, s, func(tx store.BackOfficeTx) error {
			for _, acc := range []store.Account{b, a, c} {
				if err := tx.PutAccount(acc); err != nil {
					return err
				}
			}
			tx.Audit(audit)
			return nil
		})
		if len(written) != 1 {
			t.Fatalf("%d audit entries written, want 1", len(written))
		}
		wantWritten(t, "UpdateBackOffice", written[0], audit)

		got, err := s.Account(ctx, "B2")
		must(t, err)
		sameRecord(t, "Account(B2)", normAccount(got), normAccount(b))
		if !got.CashAvailable.Equal(dec(bigCash)) || got.CashAvailable.String() != bigCash {
			t.Errorf("CashAvailable = %s, want exactly %s", got.CashAvailable, bigCash)
		}
		if !got.CashHold.Equal(dec("-0.0001")) {
			t.Errorf("CashHold = %s, want -0.0001", got.CashHold)
		}
		wantUTCms(t, "CreatedAt", got.CreatedAt)
		wantUTCms(t, "UpdatedAt", got.UpdatedAt)
		if !got.CreatedAt.Equal(b.CreatedAt.Truncate(time.Millisecond)) {
			t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, b.CreatedAt.Truncate(time.Millisecond))
		}
		var symbols []string
		for _, h := range got.Holdings {
			symbols = append(symbols, h.Symbol)
		}
		if want := []string{"VN000000FPT1", "VN000000HPG2", "VN000000VNM8"}; !slices.Equal(symbols, want) {
			t.Errorf("holdings %q, want %q (sorted by symbol)", symbols, want)
		}
		if h, ok := got.Holding("VN000000FPT1"); !ok || h.AvgPrice.String() != tinyValue || h.SellableQty != 100 {
			t.Errorf("Holding(FPT) = %+v, %v; want avg price exactly %s", h, ok, tinyValue)
		}
		if h, ok := got.Holding("VN000000VNM8"); !ok || h.SellableQty != 1<<40 || h.HoldQty != 3 || !h.AvgPrice.Equal(dec("98765.4321")) {
			t.Errorf("Holding(VNM) = %+v, %v", h, ok)
		}

		got, err = s.Account(ctx, "A1")
		must(t, err)
		sameRecord(t, "Account(A1)", normAccount(got), normAccount(a))
		if !got.CashAvailable.IsZero() || len(got.Holdings) != 0 {
			t.Errorf("A1: cash %s, %d holdings; want 0 and none", got.CashAvailable, len(got.Holdings))
		}
		got, err = s.Account(ctx, "C3 日本")
		must(t, err)
		if got.CashAvailable.String() != "-"+bigCash {
			t.Errorf("C3 cash = %s, want -%s", got.CashAvailable, bigCash)
		}
		_, err = s.Account(ctx, "a1")
		wantErr(t, "Account(a1)", err, store.ErrNotFound)

		list, err := s.Accounts(ctx, []string{"C3 日本", "missing", "A1", "B2", "b2"})
		must(t, err)
		sameRecord(t, "Accounts", normAll(list, normAccount), normAll([]store.Account{c, a, b}, normAccount))
		codes, err := s.AccountCodes(ctx)
		must(t, err)
		if want := []string{"A1", "B2", "C3 日本"}; !slices.Equal(codes, want) {
			t.Errorf("AccountCodes = %q, want %q", codes, want)
		}

		// A later put replaces the account: cash moves, a holding goes.
		b.CashAvailable = b.CashAvailable.Add(dec("0.0001"))
		b.SetHolding(store.Holding{Symbol: "VN000000HPG2"})
		b.Name = "renamed"
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(b) })
		got, err = s.Account(ctx, "B2")
		must(t, err)
		sameRecord(t, "Account(B2) replaced", normAccount(got), normAccount(b))
		if got.CashAvailable.String() != "123456789012345.679" {
			t.Errorf("cash after adding 0.0001 = %s", got.CashAvailable)
		}
		if _, ok := got.Holding("VN000000HPG2"); ok || len(got.Holdings) != 2 {
			t.Errorf("holdings after removing HPG: %+v", got.Holdings)
		}
	})

	su.test(t, "HoldingsKeptSorted", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		a := store.Account{AccountCode: "A1", CreatedAt: now, Holdings: []store.Holding{
			{Symbol: "C", SellableQty: 3, AvgPrice: dec("3.3")},
			{Symbol: "A", SellableQty: 1, AvgPrice: dec("1.1")},
			{Symbol: "B", SellableQty: 2, AvgPrice: dec("2.2")},
		}}
		given := slices.Clone(a.Holdings)
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(a) })
		if !slices.EqualFunc(a.Holdings, given, func(x, y store.Holding) bool { return x.Symbol == y.Symbol }) {
			t.Error("PutAccount reordered the caller's slice")
		}
		got, err := s.Account(ctx, "A1")
		must(t, err)
		var symbols []string
		for _, h := range got.Holdings {
			symbols = append(symbols, h.Symbol)
		}
		if !slices.Equal(symbols, []string{"A", "B", "C"}) {
			t.Errorf("holdings %q, want sorted by symbol", symbols)
		}
		if h, ok := got.Holding("B"); !ok || h.SellableQty != 2 || h.AvgPrice.String() != "2.2" {
			t.Errorf("Holding(B) = %+v, %v", h, ok)
		}

		dup := a
		dup.Holdings = append(slices.Clone(a.Holdings), store.Holding{Symbol: "A", SellableQty: 9})
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error { return tx.PutAccount(dup) })
		wantErr(t, "two holdings of one symbol", err, store.ErrInvalid)
	})

	su.test(t, "Grants", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		g := func(user, acc string, level store.GrantLevel, i int) store.Grant {
			return store.Grant{UserID: user, AccountCode: acc, Level: level, GrantedBy: "admin@example.com",
				CreatedAt: now.Add(time.Duration(i)*time.Millisecond + 999*time.Microsecond), UpdatedAt: now.Add(time.Duration(i) * time.Second)}
		}
		// "ann" is a prefix of "ann@example.com": the per-user index must not mix them.
		grants := []store.Grant{
			g("bob@example.com", "A1", store.LevelView, 0),
			g("ann@example.com", "B2", store.LevelTrade, 1),
			g("ann@example.com", "A1", store.LevelAdmin, 2),
			g("ann", "A1", store.LevelView, 3),
			g("ann@example.com", "C3", store.LevelView, 4),
		}
		update(t, s, func(tx store.BackOfficeTx) error {
			for _, gr := range grants {
				if err := tx.PutGrant(gr); err != nil {
					return err
				}
			}
			return nil
		})
		all, err := s.Grants(ctx)
		must(t, err)
		sameRecord(t, "Grants", normAll(all, normGrant), normAll([]store.Grant{grants[3], grants[2], grants[1], grants[4], grants[0]}, normGrant))
		ofAnn, err := s.GrantsOfUser(ctx, "ann@example.com")
		must(t, err)
		sameRecord(t, "GrantsOfUser(ann@)", normAll(ofAnn, normGrant), normAll([]store.Grant{grants[2], grants[1], grants[4]}, normGrant))
		ofAnn, err = s.GrantsOfUser(ctx, "ann")
		must(t, err)
		sameRecord(t, "GrantsOfUser(ann)", normAll(ofAnn, normGrant), normAll([]store.Grant{grants[3]}, normGrant))
		none, err := s.GrantsOfUser(ctx, "carol@example.com")
		must(t, err)
		if len(none) != 0 {
			t.Errorf("GrantsOfUser(carol) = %d grants", len(none))
		}

		// A second put of one (user, account) updates that grant.
		up := grants[1]
		up.Level, up.GrantedBy, up.UpdatedAt = store.LevelAdmin, "root@example.com", now.Add(time.Hour)
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutGrant(up) })
		// And a delete removes one from both views.
		update(t, s, func(tx store.BackOfficeTx) error { return tx.DeleteGrant("ann@example.com", "A1") })
		all, err = s.Grants(ctx)
		must(t, err)
		sameRecord(t, "Grants after update and delete", normAll(all, normGrant), normAll([]store.Grant{grants[3], up, grants[4], grants[0]}, normGrant))
		ofAnn, err = s.GrantsOfUser(ctx, "ann@example.com")
		must(t, err)
		sameRecord(t, "GrantsOfUser after update and delete", normAll(ofAnn, normGrant), normAll([]store.Grant{up, grants[4]}, normGrant))

		// Deleting an absent grant is no error and changes nothing.
		update(t, s, func(tx store.BackOfficeTx) error { return tx.DeleteGrant("ann@example.com", "A1") })
		// Deleting a user's last grant empties their list.
		update(t, s, func(tx store.BackOfficeTx) error { return tx.DeleteGrant("bob@example.com", "A1") })
		ofBob, err := s.GrantsOfUser(ctx, "bob@example.com")
		must(t, err)
		if len(ofBob) != 0 {
			t.Errorf("bob still has %d grants", len(ofBob))
		}
		all, err = s.Grants(ctx)
		must(t, err)
		if len(all) != 3 {
			t.Errorf("%d grants, want 3", len(all))
		}
	})

	su.test(t, "GroupsAndMembers", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		var made []store.Group
		for i, name := range []string{"Zeta 日本", "alpha", "Beta \"quoted\""} {
			update(t, s, func(tx store.BackOfficeTx) error {
				g, err := tx.NewGroup(store.Group{ID: 999, Name: name, Description: "desc " + name, CreatedBy: "admin@example.com",
					CreatedAt: now.Add(time.Duration(i) * time.Millisecond), UpdatedAt: now.Add(time.Duration(i) * time.Second)})
				if err != nil {
					return err
				}
				made = append(made, g)
				return nil
			})
		}
		for i := 1; i < len(made); i++ {
			if made[i].ID <= made[i-1].ID {
				t.Errorf("group IDs %d then %d: not increasing", made[i-1].ID, made[i].ID)
			}
		}
		if made[0].ID <= 0 {
			t.Errorf("first group ID %d", made[0].ID)
		}
		groups, err := s.Groups(ctx)
		must(t, err)
		sameRecord(t, "Groups", normAll(groups, normGroup), normAll(made, normGroup))
		for _, want := range made {
			got, err := s.Group(ctx, want.ID)
			must(t, err)
			sameRecord(t, "Group", normGroup(got), normGroup(want))
			wantUTCms(t, "group CreatedAt", got.CreatedAt)
		}
		_, err = s.Group(ctx, made[2].ID+1)
		wantErr(t, "Group(unknown)", err, store.ErrNotFound)

		// GroupByName finds committed groups; a taken name is a conflict.
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			g, ok, err := tx.GroupByName("alpha")
			if err != nil {
				return err
			}
			if !ok || g.ID != made[1].ID {
				t.Errorf("GroupByName(alpha) = %+v, %v", g, ok)
			}
			if _, ok, err := tx.GroupByName("Alpha"); err != nil || ok {
				t.Errorf("GroupByName(Alpha) = %v, %v; want not found (exact)", ok, err)
			}
			_, err = tx.NewGroup(store.Group{Name: "alpha"})
			return err
		})
		wantErr(t, "NewGroup with a taken name", err, store.ErrConflict)

		g1, g2, g3 := made[0].ID, made[1].ID, made[2].ID
		m := func(acc string, gid int64) store.GroupMember {
			return store.GroupMember{AccountCode: acc, GroupID: gid, MovedBy: "admin@example.com", UpdatedAt: now.Add(time.Duration(gid) * time.Millisecond)}
		}
		members := []store.GroupMember{m("C3", g1), m("A1", g2), m("B2", g1), m("D4", g2), m("E5", g1)}
		update(t, s, func(tx store.BackOfficeTx) error {
			for _, mem := range members {
				if err := tx.PutMember(mem); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := s.GroupMembers(ctx, g1)
		must(t, err)
		sameRecord(t, "GroupMembers(g1)", normAll(got, normMember), normAll([]store.GroupMember{members[2], members[0], members[4]}, normMember))
		got, err = s.GroupMembers(ctx, g2)
		must(t, err)
		sameRecord(t, "GroupMembers(g2)", normAll(got, normMember), normAll([]store.GroupMember{members[1], members[3]}, normMember))
		got, err = s.GroupMembers(ctx, g3)
		must(t, err)
		if len(got) != 0 {
			t.Errorf("GroupMembers(g3) = %d members", len(got))
		}

		// An account is in one group: moving it takes it out of the other;
		// a delete takes it out of all.
		moved := m("C3", g3)
		update(t, s, func(tx store.BackOfficeTx) error {
			if err := tx.PutMember(moved); err != nil {
				return err
			}
			return tx.DeleteMember("E5")
		})
		got, err = s.GroupMembers(ctx, g1)
		must(t, err)
		sameRecord(t, "GroupMembers(g1) after move", normAll(got, normMember), normAll([]store.GroupMember{members[2]}, normMember))
		got, err = s.GroupMembers(ctx, g3)
		must(t, err)
		sameRecord(t, "GroupMembers(g3) after move", normAll(got, normMember), normAll([]store.GroupMember{moved}, normMember))
		update(t, s, func(tx store.BackOfficeTx) error {
			mem, ok, err := tx.Member("C3")
			if err != nil {
				return err
			}
			if !ok || mem.GroupID != g3 {
				t.Errorf("Member(C3) = %+v, %v", mem, ok)
			}
			if _, ok, err := tx.Member("E5"); err != nil || ok {
				t.Errorf("Member(E5) after delete = %v, %v", ok, err)
			}
			return nil
		})
	})

	su.test(t, "RiskRules", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := func(kind, scope, target, value string) store.RiskRule {
			return store.RiskRule{Kind: kind, Scope: scope, Target: target, Value: dec(value), UpdatedBy: "risk@example.com", UpdatedAt: now.Add(789 * time.Microsecond)}
		}
		o := func(kind, scope, target, match, value string) store.OrderRiskRule {
			return store.OrderRiskRule{Kind: kind, Scope: scope, Target: target, Match: match, Value: dec(value), UpdatedBy: "risk@example.com", UpdatedAt: now}
		}
		rules := []store.RiskRule{
			r(store.RuleShortAllowed, store.ScopeAccount, "A1", "1"),
			r(store.RuleMarginRateSymbolISIN, store.ScopeSymbol, "VN000000VNM8", "0.333333333333333333"),
			r(store.RuleMarginAllowed, store.ScopeSystem, "*", "0"),
			r(store.RuleMarginAllowed, store.ScopeAccount, "A1", bigCash),
			r(store.RuleMarginAllowed, store.ScopeAccount, "A", tinyValue),
		}
		orules := []store.OrderRiskRule{
			o("ORDER_BLOCK_TRADE_SYMBOL_SELL", store.ScopeAccount, "A1", "VNM", "1"),
			o("ORDER_BLOCK_TRADE_MARKET_ALL", store.ScopeSystem, "*", "HOSE", "1"),
			o("ORDER_BLOCK_TRADE_SYMBOL_SELL", store.ScopeAccount, "A1", "FPT", "0"),
			o("ORDER_BLOCK_TRADE_PRODUCT_GROUP_BUY", store.ScopeChannel, "WEB", "STO", "1"),
		}
		update(t, s, func(tx store.BackOfficeTx) error {
			for _, x := range rules {
				if err := tx.PutRiskRule(x); err != nil {
					return err
				}
			}
			for _, x := range orules {
				if err := tx.PutOrderRiskRule(x); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := s.RiskRules(ctx)
		must(t, err)
		// Sorted by kind, scope, target (byte order, NUL-joined).
		sameRecord(t, "RiskRules", normAll(got, normRiskRule), normAll([]store.RiskRule{rules[4], rules[3], rules[2], rules[1], rules[0]}, normRiskRule))
		for _, x := range got {
			if x.Kind == store.RuleMarginAllowed && x.Target == "A1" && x.Value.String() != bigCash {
				t.Errorf("rule value %s, want exactly %s", x.Value, bigCash)
			}
		}
		ogot, err := s.OrderRiskRules(ctx)
		must(t, err)
		sameRecord(t, "OrderRiskRules", normAll(ogot, normOrderRiskRule), normAll([]store.OrderRiskRule{orules[1], orules[3], orules[2], orules[0]}, normOrderRiskRule))

		// Update one, delete one of each.
		up := rules[2]
		up.Value, up.UpdatedBy = dec("1"), "boss@example.com"
		update(t, s, func(tx store.BackOfficeTx) error {
			if err := tx.PutRiskRule(up); err != nil {
				return err
			}
			if err := tx.DeleteRiskRule(store.RuleShortAllowed, store.ScopeAccount, "A1"); err != nil {
				return err
			}
			return tx.DeleteOrderRiskRule("ORDER_BLOCK_TRADE_SYMBOL_SELL", store.ScopeAccount, "A1", "FPT")
		})
		got, err = s.RiskRules(ctx)
		must(t, err)
		sameRecord(t, "RiskRules after change", normAll(got, normRiskRule), normAll([]store.RiskRule{rules[4], rules[3], up, rules[1]}, normRiskRule))
		ogot, err = s.OrderRiskRules(ctx)
		must(t, err)
		sameRecord(t, "OrderRiskRules after delete", normAll(ogot, normOrderRiskRule), normAll([]store.OrderRiskRule{orules[1], orules[3], orules[0]}, normOrderRiskRule))
		update(t, s, func(tx store.BackOfficeTx) error {
			x, ok, err := tx.RiskRule(store.RuleMarginRateSymbolISIN, store.ScopeSymbol, "VN000000VNM8")
			if err != nil {
				return err
			}
			if !ok || x.Value.String() != "0.333333333333333333" {
				t.Errorf("tx.RiskRule = %+v, %v", x, ok)
			}
			if _, ok, err := tx.RiskRule(store.RuleShortAllowed, store.ScopeAccount, "A1"); err != nil || ok {
				t.Errorf("deleted tx.RiskRule = %v, %v", ok, err)
			}
			ox, ok, err := tx.OrderRiskRule("ORDER_BLOCK_TRADE_SYMBOL_SELL", store.ScopeAccount, "A1", "VNM")
			if err != nil {
				return err
			}
			if !ok || !ox.Value.Equal(decimal.NewFromInt(1)) {
				t.Errorf("tx.OrderRiskRule = %+v, %v", ox, ok)
			}
			return nil
		})
	})

	su.test(t, "Requests", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		// Spacing, escapes, key order and big numbers are kept byte for byte.
		payload := "{ \"b\" : [1, 2.50, 1e3],\n \"a\": \"\\u00e9 é \\\"q\\\" \\/ <&>\", \"cash\": 123456789012345.6789, \"n\": {\"x\": null} }"
		specs := []struct{ typ, by string }{
			{"ACCOUNT_UPDATE", "ann@example.com"},
			{"GRANT_CHANGE", "bob@example.com"},
			{"ACCOUNT_UPDATE", "bob@example.com"},
			{"RISK_RULE", "ann@example.com"},
			{"ACCOUNT_UPDATE", "ann@example.com"},
		}
		var made []store.WorkflowRequest // oldest first
		for i, sp := range specs {
			update(t, s, func(tx store.BackOfficeTx) error {
				r := newRequest(sp.typ, sp.by, payload, now.Add(time.Duration(i)*time.Millisecond))
				r.ID = 999 // NewRequest assigns the ID
				got, err := tx.NewRequest(r)
				if err != nil {
					return err
				}
				if string(got.Payload) != payload {
					t.Errorf("NewRequest payload %q", got.Payload)
				}
				made = append(made, got)
				return nil
			})
		}
		for i := 1; i < len(made); i++ {
			if made[i].ID <= made[i-1].ID {
				t.Errorf("request IDs %d then %d: not increasing", made[i-1].ID, made[i].ID)
			}
		}
		for _, want := range made {
			got, err := s.WorkflowRequest(ctx, want.ID)
			must(t, err)
			sameRecord(t, "WorkflowRequest", normRequest(got), normRequest(want))
			if string(got.Payload) != payload {
				t.Errorf("payload\n got %q\nwant %q", got.Payload, payload)
			}
			wantUTCms(t, "request CreatedAt", got.CreatedAt)
			if !got.ReviewedAt.IsZero() || !got.AppliedAt.IsZero() {
				t.Errorf("new request has ReviewedAt %v AppliedAt %v, want zero", got.ReviewedAt, got.AppliedAt)
			}
		}
		_, err := s.WorkflowRequest(ctx, made[4].ID+100)
		wantErr(t, "WorkflowRequest(unknown)", err, store.ErrNotFound)

		// Review two.
		reviewed := made[1]
		reviewed.Status, reviewed.ReviewedBy, reviewed.ReviewNote, reviewed.ReviewedAt = store.StatusRejected, "checker@example.com", `no "way"`, now.Add(time.Minute+5*time.Microsecond)
		applied := made[2]
		applied.Status, applied.ReviewedBy, applied.ReviewedAt = store.StatusFailed, "checker@example.com", now.Add(time.Minute)
		applied.ApplyError, applied.AppliedAt = "risk engine: 日本 timeout", now.Add(2*time.Minute)
		update(t, s, func(tx store.BackOfficeTx) error {
			if err := tx.PutRequest(reviewed); err != nil {
				return err
			}
			return tx.PutRequest(applied)
		})
		made[1], made[2] = reviewed, applied
		for _, want := range []store.WorkflowRequest{reviewed, applied} {
			got, err := s.WorkflowRequest(ctx, want.ID)
			must(t, err)
			sameRecord(t, "reviewed WorkflowRequest", normRequest(got), normRequest(want))
			wantUTCms(t, "ReviewedAt", got.ReviewedAt)
		}

		pick := func(idx ...int) []store.WorkflowRequest {
			out := make([]store.WorkflowRequest, len(idx))
			for i, j := range idx {
				out[i] = normRequest(made[j])
			}
			return out
		}
		for name, c := range map[string]struct {
			f    store.RequestFilter
			want []int
		}{
			"none":                {store.RequestFilter{}, []int{4, 3, 2, 1, 0}},
			"status":              {store.RequestFilter{Status: store.StatusPending}, []int{4, 3, 0}},
			"status failed":       {store.RequestFilter{Status: store.StatusFailed}, []int{2}},
			"type":                {store.RequestFilter{Type: "ACCOUNT_UPDATE"}, []int{4, 2, 0}},
			"requested by":        {store.RequestFilter{RequestedBy: "bob@example.com"}, []int{2, 1}},
			"requested by exact":  {store.RequestFilter{RequestedBy: "bob"}, nil},
			"all together":        {store.RequestFilter{Status: store.StatusPending, Type: "ACCOUNT_UPDATE", RequestedBy: "ann@example.com"}, []int{4, 0}},
			"paged":               {store.RequestFilter{Type: "ACCOUNT_UPDATE", Limit: 1, Offset: 1}, []int{2}},
			"offset past the end": {store.RequestFilter{Offset: 5}, nil},
			"negative offset":     {store.RequestFilter{Offset: -3, Limit: 2}, []int{4, 3}},
			"no match":            {store.RequestFilter{Status: store.StatusApplied}, nil},
		} {
			t.Run(name, func(t *testing.T) {
				got, err := s.WorkflowRequests(ctx, c.f)
				must(t, err)
				sameRecord(t, fmt.Sprintf("WorkflowRequests(%+v)", c.f), normAll(got, normRequest), pick(c.want...))
			})
		}
	})

	// Paging crosses the engine's scan batches, the default limit and the cap.
	su.test(t, "RequestPaging", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		const n = store.MaxRequestLimit + 20
		var ids []int64 // oldest first
		update(t, s, func(tx store.BackOfficeTx) error {
			ids = ids[:0]
			for i := range n {
				by := "odd@example.com"
				if i%2 == 0 {
					by = "even@example.com"
				}
				r, err := tx.NewRequest(newRequest("T", by, fmt.Sprintf(`{"i":%d}`, i), now))
				if err != nil {
					return err
				}
				ids = append(ids, r.ID)
			}
			return nil
		})
		// A transaction that does not commit leaves a gap in the IDs.
		changed := errors.New("changed my mind")
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if _, err := tx.NewRequest(newRequest("T", "gap@example.com", `{}`, now)); err != nil {
				return err
			}
			return changed
		})
		wantErr(t, "fn's error", err, changed)
		update(t, s, func(tx store.BackOfficeTx) error {
			r, err := tx.NewRequest(newRequest("T", "odd@example.com", `{"i":"last"}`, now))
			ids = append(ids, r.ID)
			return err
		})
		newest := reversed(ids)
		wantIDs := func(f store.RequestFilter, want []int64) {
			t.Helper()
			got, err := s.WorkflowRequests(ctx, f)
			must(t, err)
			gotIDs := make([]int64, len(got))
			for i, r := range got {
				gotIDs[i] = r.ID
			}
			if !slices.Equal(gotIDs, want) {
				t.Errorf("WorkflowRequests(%+v): %d ids %v..., want %d ids %v...", f, len(gotIDs), gotIDs[:min(5, len(gotIDs))], len(want), want[:min(5, len(want))])
			}
		}
		wantIDs(store.RequestFilter{}, newest[:store.DefaultRequestLimit])
		wantIDs(store.RequestFilter{Limit: -1}, newest[:store.DefaultRequestLimit])
		wantIDs(store.RequestFilter{Limit: 10}, newest[:10])
		wantIDs(store.RequestFilter{Limit: 10, Offset: 250}, newest[250:260])
		wantIDs(store.RequestFilter{Limit: 5, Offset: 254}, newest[254:259])
		wantIDs(store.RequestFilter{Limit: store.MaxRequestLimit + 500}, newest[:store.MaxRequestLimit])
		wantIDs(store.RequestFilter{Limit: store.MaxRequestLimit, Offset: store.MaxRequestLimit}, newest[store.MaxRequestLimit:])
		wantIDs(store.RequestFilter{Offset: len(newest)}, nil)
		var even []int64
		for i := len(ids) - 2; i >= 0; i-- { // the last one is odd's
			if i%2 == 0 {
				even = append(even, ids[i])
			}
		}
		wantIDs(store.RequestFilter{RequestedBy: "even@example.com", Limit: 20, Offset: 120}, even[120:140])
		wantIDs(store.RequestFilter{RequestedBy: "even@example.com", Limit: store.MaxRequestLimit, Offset: 500}, even[500:])
		wantIDs(store.RequestFilter{RequestedBy: "gap@example.com"}, nil)
		got, err := s.WorkflowRequest(ctx, ids[n-1]+1)
		wantErr(t, fmt.Sprintf("the uncommitted request (got %+v)", got), err, store.ErrNotFound)
	})

	su.test(t, "ReadsOwnWrites", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		// Committed before: a grant to delete and an account to change.
		update(t, s, func(tx store.BackOfficeTx) error {
			if err := tx.PutAccount(newAccount("A1", now)); err != nil {
				return err
			}
			return tx.PutGrant(store.Grant{UserID: "ann@example.com", AccountCode: "A1", Level: store.LevelView, CreatedAt: now})
		})
		update(t, s, func(tx store.BackOfficeTx) error {
			a, ok, err := tx.Account("A1")
			if err != nil || !ok {
				t.Fatalf("tx.Account(A1) = %v, %v", ok, err)
			}
			a.CashAvailable = a.CashAvailable.Add(dec("0.0011"))
			if err := tx.PutAccount(a); err != nil {
				return err
			}
			if again, _, err := tx.Account("A1"); err != nil || again.CashAvailable.String() != "123456789012345.68" {
				t.Errorf("tx.Account after put: cash %s, %v", again.CashAvailable, err)
			}
			if _, ok, err := tx.Account("B2"); err != nil || ok {
				t.Errorf("tx.Account(B2) = %v, %v", ok, err)
			}
			if err := tx.PutAccount(newAccount("B2", now)); err != nil {
				return err
			}
			if b, ok, err := tx.Account("B2"); err != nil || !ok || b.AccountCode != "B2" {
				t.Errorf("tx.Account(B2) after put = %v, %v", ok, err)
			}
			// Not visible outside before the commit.
			if _, err := s.Account(ctx, "B2"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("store sees B2 before commit: %v", err)
			}

			if err := tx.DeleteGrant("ann@example.com", "A1"); err != nil {
				return err
			}
			if _, ok, err := tx.Grant("ann@example.com", "A1"); err != nil || ok {
				t.Errorf("tx.Grant after delete = %v, %v", ok, err)
			}
			if err := tx.PutGrant(store.Grant{UserID: "bob@example.com", AccountCode: "B2", Level: store.LevelTrade}); err != nil {
				return err
			}
			if err := tx.PutGrant(store.Grant{UserID: "bob@example.com", AccountCode: "B2", Level: store.LevelAdmin}); err != nil {
				return err
			}
			if g, ok, err := tx.Grant("bob@example.com", "B2"); err != nil || !ok || g.Level != store.LevelAdmin {
				t.Errorf("tx.Grant(bob) = %+v, %v, %v", g, ok, err)
			}

			g, err := tx.NewGroup(store.Group{Name: "G1", CreatedAt: now})
			if err != nil {
				return err
			}
			if byName, ok, err := tx.GroupByName("G1"); err != nil || !ok || byName.ID != g.ID {
				t.Errorf("tx.GroupByName(G1) = %+v, %v, %v", byName, ok, err)
			}
			if byID, ok, err := tx.Group(g.ID); err != nil || !ok || byID.Name != "G1" {
				t.Errorf("tx.Group = %+v, %v, %v", byID, ok, err)
			}
			if _, err := tx.NewGroup(store.Group{Name: "G1"}); !errors.Is(err, store.ErrConflict) {
				t.Errorf("second NewGroup(G1) in one transaction: %v, want ErrConflict", err)
			}
			if err := tx.PutMember(store.GroupMember{AccountCode: "B2", GroupID: g.ID}); err != nil {
				return err
			}
			if m, ok, err := tx.Member("B2"); err != nil || !ok || m.GroupID != g.ID {
				t.Errorf("tx.Member = %+v, %v, %v", m, ok, err)
			}

			if err := tx.PutRiskRule(store.RiskRule{Kind: store.RuleShortAllowed, Scope: store.ScopeAccount, Target: "B2", Value: dec("1")}); err != nil {
				return err
			}
			if r, ok, err := tx.RiskRule(store.RuleShortAllowed, store.ScopeAccount, "B2"); err != nil || !ok || !r.Value.Equal(dec("1")) {
				t.Errorf("tx.RiskRule = %+v, %v, %v", r, ok, err)
			}
			if err := tx.PutOrderRiskRule(store.OrderRiskRule{Kind: "ORDER_BLOCK_TRADE_SYMBOL_ALL", Scope: store.ScopeAccount, Target: "B2", Match: "VNM", Value: dec("1")}); err != nil {
				return err
			}
			if err := tx.DeleteOrderRiskRule("ORDER_BLOCK_TRADE_SYMBOL_ALL", store.ScopeAccount, "B2", "VNM"); err != nil {
				return err
			}
			if _, ok, err := tx.OrderRiskRule("ORDER_BLOCK_TRADE_SYMBOL_ALL", store.ScopeAccount, "B2", "VNM"); err != nil || ok {
				t.Errorf("tx.OrderRiskRule after delete = %v, %v", ok, err)
			}

			r, err := tx.NewRequest(newRequest("ACCOUNT_CREATE", "maker@example.com", `{"code":"B2"}`, now))
			if err != nil {
				return err
			}
			r.Status = store.StatusApproved
			if err := tx.PutRequest(r); err != nil {
				return err
			}
			if got, ok, err := tx.Request(r.ID); err != nil || !ok || got.Status != store.StatusApproved || string(got.Payload) != `{"code":"B2"}` {
				t.Errorf("tx.Request = %+v, %v, %v", got, ok, err)
			}
			if _, ok, err := tx.Request(r.ID + 1); err != nil || ok {
				t.Errorf("tx.Request(unknown) = %v, %v", ok, err)
			}
			return nil
		})
		// And all of it committed.
		a, err := s.Account(ctx, "A1")
		must(t, err)
		if a.CashAvailable.String() != "123456789012345.68" {
			t.Errorf("committed cash %s", a.CashAvailable)
		}
		grants, err := s.Grants(ctx)
		must(t, err)
		if len(grants) != 1 || grants[0].UserID != "bob@example.com" || grants[0].Level != store.LevelAdmin {
			t.Errorf("committed grants %+v", grants)
		}
		groups, err := s.Groups(ctx)
		must(t, err)
		if len(groups) != 1 || groups[0].Name != "G1" {
			t.Errorf("committed groups %+v", groups)
		}
		ms, err := s.GroupMembers(ctx, groups[0].ID)
		must(t, err)
		if len(ms) != 1 || ms[0].AccountCode != "B2" {
			t.Errorf("committed members %+v", ms)
		}
		rules, err := s.RiskRules(ctx)
		must(t, err)
		orules, err := s.OrderRiskRules(ctx)
		must(t, err)
		if len(rules) != 1 || len(orules) != 0 {
			t.Errorf("committed %d risk rules, %d order risk rules; want 1, 0", len(rules), len(orules))
		}
		reqs, err := s.WorkflowRequests(ctx, store.RequestFilter{})
		must(t, err)
		if len(reqs) != 1 || reqs[0].Status != store.StatusApproved {
			t.Errorf("committed requests %+v", reqs)
		}
		wantAudit(t, s, store.AuditFilter{})
	})

	su.test(t, "FnErrorWritesNothing", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		boom := errors.New("boom")
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if err := writeEverything(tx, now); err != nil {
				return err
			}
			return fmt.Errorf("after writing: %w", boom)
		})
		wantErr(t, "UpdateBackOffice", err, boom)
		// A store sentinel from fn comes back as it is.
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if err := writeEverything(tx, now); err != nil {
				return err
			}
			return store.ErrWrongState
		})
		wantErr(t, "UpdateBackOffice", err, store.ErrWrongState)
		wantNoBackOffice(t, s)
		_, err = s.Account(ctx, "A1")
		wantErr(t, "Account", err, store.ErrNotFound)
		gs, err := s.GrantsOfUser(ctx, "ann@example.com")
		must(t, err)
		if len(gs) != 0 {
			t.Errorf("%d grants of ann after a failed transaction", len(gs))
		}
		// The failed transaction's group name is still free.
		update(t, s, func(tx store.BackOfficeTx) error { return writeEverything(tx, now) })
	})

	su.test(t, "Invalid", func(t *testing.T, s store.Store) {
		now := msNow()
		ok := newAudit("maker@example.com", "X", "x", "1", now)
		for name, fn := range map[string]func(tx store.BackOfficeTx) error{
			"audit without actor": func(tx store.BackOfficeTx) error {
				if err := writeEverything(tx, now); err != nil {
					return err
				}
				a := ok
				a.Actor = ""
				tx.Audit(a)
				return nil
			},
			"audit without action": func(tx store.BackOfficeTx) error {
				a := ok
				a.Action = ""
				tx.Audit(a)
				return nil
			},
			"audit with array detail": func(tx store.BackOfficeTx) error {
				a := ok
				a.Detail = json.RawMessage(`[1]`)
				tx.Audit(ok)
				tx.Audit(a)
				return tx.PutAccount(store.Account{AccountCode: "A1"})
			},
			"empty account code": func(tx store.BackOfficeTx) error { return tx.PutAccount(store.Account{}) },
			"NUL in account code": func(tx store.BackOfficeTx) error {
				return tx.PutAccount(store.Account{AccountCode: "A\x001"})
			},
			"unknown grant level": func(tx store.BackOfficeTx) error {
				return tx.PutGrant(store.Grant{UserID: "u", AccountCode: "A1", Level: "view"})
			},
			"no grant level": func(tx store.BackOfficeTx) error { return tx.PutGrant(store.Grant{UserID: "u", AccountCode: "A1"}) },
			"grant without user": func(tx store.BackOfficeTx) error {
				return tx.PutGrant(store.Grant{AccountCode: "A1", Level: store.LevelView})
			},
			"grant without account": func(tx store.BackOfficeTx) error {
				return tx.PutGrant(store.Grant{UserID: "u", Level: store.LevelView})
			},
			"delete grant NUL": func(tx store.BackOfficeTx) error { return tx.DeleteGrant("u\x00", "A1") },
			"group without name": func(tx store.BackOfficeTx) error {
				_, err := tx.NewGroup(store.Group{})
				return err
			},
			"member without group": func(tx store.BackOfficeTx) error {
				return tx.PutMember(store.GroupMember{AccountCode: "A1"})
			},
			"member without account": func(tx store.BackOfficeTx) error {
				return tx.PutMember(store.GroupMember{GroupID: 1})
			},
			"unknown rule kind": func(tx store.BackOfficeTx) error {
				return tx.PutRiskRule(store.RiskRule{Kind: "OMS_NOPE", Scope: store.ScopeSystem, Target: "*"})
			},
			"order rule kind as risk rule": func(tx store.BackOfficeTx) error {
				return tx.PutRiskRule(store.RiskRule{Kind: "ORDER_BLOCK_TRADE_SYMBOL_ALL", Scope: store.ScopeSystem, Target: "*"})
			},
			"unknown rule scope": func(tx store.BackOfficeTx) error {
				return tx.PutRiskRule(store.RiskRule{Kind: store.RuleMarginAllowed, Scope: "GLOBAL", Target: "*"})
			},
			"rule without target": func(tx store.BackOfficeTx) error {
				return tx.PutRiskRule(store.RiskRule{Kind: store.RuleMarginAllowed, Scope: store.ScopeSystem})
			},
			"delete unknown rule kind": func(tx store.BackOfficeTx) error {
				return tx.DeleteRiskRule("nope", store.ScopeSystem, "*")
			},
			"unknown order rule kind": func(tx store.BackOfficeTx) error {
				return tx.PutOrderRiskRule(store.OrderRiskRule{Kind: store.RuleMarginAllowed, Scope: store.ScopeSystem, Target: "*", Match: "*"})
			},
			"unknown order rule scope": func(tx store.BackOfficeTx) error {
				return tx.PutOrderRiskRule(store.OrderRiskRule{Kind: "ORDER_BLOCK_TRADE_SYMBOL_ALL", Scope: "system", Target: "*", Match: "*"})
			},
			"order rule without match": func(tx store.BackOfficeTx) error {
				return tx.PutOrderRiskRule(store.OrderRiskRule{Kind: "ORDER_BLOCK_TRADE_SYMBOL_ALL", Scope: store.ScopeSystem, Target: "*"})
			},
			"request with array payload": func(tx store.BackOfficeTx) error {
				_, err := tx.NewRequest(newRequest("T", "m", `[{"a":1}]`, now))
				return err
			},
			"request with string payload": func(tx store.BackOfficeTx) error {
				_, err := tx.NewRequest(newRequest("T", "m", `"{}"`, now))
				return err
			},
			"request with broken payload": func(tx store.BackOfficeTx) error {
				_, err := tx.NewRequest(newRequest("T", "m", `{"a":`, now))
				return err
			},
			"request without payload": func(tx store.BackOfficeTx) error {
				_, err := tx.NewRequest(newRequest("T", "m", ``, now))
				return err
			},
			"put request without id": func(tx store.BackOfficeTx) error {
				return tx.PutRequest(newRequest("T", "m", `{}`, now))
			},
			"put request with array payload": func(tx store.BackOfficeTx) error {
				r := newRequest("T", "m", `[]`, now)
				r.ID = 1
				return tx.PutRequest(r)
			},
		} {
			_, err := s.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
				tx.Audit(ok) // queued before the failure: must not land either
				return fn(tx)
			})
			wantErr(t, name, err, store.ErrInvalid)
		}
		wantNoBackOffice(t, s)
	})

	su.test(t, "AuditEntries", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		given := []store.AuditEntry{
			newAudit("maker@example.com", "ACCOUNT_CREATED", "account", "A1", now),
			newAudit("maker@example.com", "GRANT_ADDED", "grant", "ann@example.com:A1", now.Add(-time.Hour)),
			newAudit("checker@example.com", "REQUEST_APPROVED", "workflow_request", "1", now),
		}
		given[1].Detail = nil
		given[2].RequestID = 1 << 40
		written := update(t, s, func(tx store.BackOfficeTx) error {
			tx.Audit(given[0])
			if err := tx.PutAccount(newAccount("A1", now)); err != nil {
				return err
			}
			tx.Audit(given[1])
			tx.Audit(given[2])
			return tx.PutGrant(store.Grant{UserID: "ann@example.com", AccountCode: "A1", Level: store.LevelView})
		})
		if len(written) != len(given) {
			t.Fatalf("%d audit entries written, want %d", len(written), len(given))
		}
		for i := range given {
			wantWritten(t, fmt.Sprint("entry ", i), written[i], given[i])
			if i > 0 && written[i].ID <= written[i-1].ID {
				t.Errorf("audit IDs %d then %d: not increasing", written[i-1].ID, written[i].ID)
			}
		}
		// An audit-only transaction is written too.
		alone := newAudit("auditor@example.com", "EXPORT", "audit", "", now)
		more := update(t, s, func(tx store.BackOfficeTx) error {
			if _, _, err := tx.Account("A1"); err != nil {
				return err
			}
			tx.Audit(alone)
			return nil
		})
		if len(more) != 1 {
			t.Fatalf("%d audit entries written, want 1", len(more))
		}
		wantWritten(t, "audit-only", more[0], alone)
		if more[0].ID <= written[2].ID {
			t.Errorf("audit ID %d after %d", more[0].ID, written[2].ID)
		}
		// The back office shares the audit sequence with the other domains.
		ref := putRef(t, s, newRefValue(store.RefCompID, "VOS", "m", now), newAudit("m", "REFERENCE_ADDED", "reference", "comp_id:VOS", now))
		if ref.ID <= more[0].ID {
			t.Errorf("reference audit ID %d after %d", ref.ID, more[0].ID)
		}
		wantAudit(t, s, store.AuditFilter{}, ref, more[0], written[2], written[1], written[0])

		// Nothing written, nothing queued: nothing to commit.
		for name, fn := range map[string]func(tx store.BackOfficeTx) error{
			"empty": func(store.BackOfficeTx) error { return nil },
			"reads only": func(tx store.BackOfficeTx) error {
				_, _, err := tx.Account("A1")
				if err == nil {
					_, _, err = tx.Grant("ann@example.com", "A1")
				}
				return err
			},
		} {
			none, err := s.UpdateBackOffice(ctx, fn)
			must(t, err)
			if len(none) != 0 {
				t.Errorf("%s: %d audit entries", name, len(none))
			}
		}
		wantAuditCount(t, s, store.AuditFilter{}, 5)
	})

	su.test(t, "IDs", func(t *testing.T, s store.Store) {
		var groups, reqs []int64
		for i := range 5 {
			update(t, s, func(tx store.BackOfficeTx) error {
				g, err := tx.NewGroup(store.Group{Name: fmt.Sprint("g", i)})
				if err != nil {
					return err
				}
				r, err := tx.NewRequest(newRequest("T", "m", `{}`, msNow()))
				if err != nil {
					return err
				}
				groups, reqs = append(groups, g.ID), append(reqs, r.ID)
				return nil
			})
		}
		for _, ids := range [][]int64{groups, reqs} {
			if ids[0] <= 0 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
				t.Errorf("IDs %v: want positive and increasing", ids)
			}
		}
	})

	// A run's reads are not one snapshot: a commit between two of them
	// shows fn half of it. An error fn decides on that is not the answer;
	// the run is decided again on fresh reads (each of the first two runs
	// sees a transfer land between its reads, so at least one that did not
	// start from remembered values does). An error on reads that still hold
	// is returned as it is.
	su.test(t, "ErrorOnChangedReadsRunsAgain", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		a1, a2 := newAccount("A1", now), newAccount("A2", now)
		update(t, s, func(tx store.BackOfficeTx) error {
			if err := tx.PutAccount(a1); err != nil {
				return err
			}
			return tx.PutAccount(a2)
		})
		total := a1.CashAvailable.Add(a2.CashAvailable)
		transfer := func() {
			update(t, s, func(tx store.BackOfficeTx) error {
				from, _, err := tx.Account("A1")
				if err != nil {
					return err
				}
				to, _, err := tx.Account("A2")
				if err != nil {
					return err
				}
				from.CashAvailable = from.CashAvailable.Sub(dec("10"))
				to.CashAvailable = to.CashAvailable.Add(dec("10"))
				if err := tx.PutAccount(from); err != nil {
					return err
				}
				return tx.PutAccount(to)
			})
		}
		errTorn := errors.New("the transfer is half seen")
		runs := 0
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			runs++
			from, _, err := tx.Account("A1")
			if err != nil {
				return err
			}
			if runs <= 2 {
				transfer()
			}
			to, _, err := tx.Account("A2")
			if err != nil {
				return err
			}
			if !from.CashAvailable.Add(to.CashAvailable).Equal(total) {
				return errTorn
			}
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateBackOffice = %v after %d runs; want the run decided again on fresh reads", err, runs)
		}
		if runs < 3 {
			t.Errorf("%d runs; want at least 3 (two torn, one whole)", runs)
		}
		// Reads that still hold: the error is the answer, after one run.
		runs = 0
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			runs++
			if _, _, err := tx.Account("A1"); err != nil {
				return err
			}
			return errTorn
		})
		if !errors.Is(err, errTorn) || runs > 2 {
			t.Errorf("UpdateBackOffice = %v after %d runs; want the error of a run whose reads held, after at most one guessed run", err, runs)
		}
	})

	// Races: fn re-runs on fresh reads when what it read has changed.

	su.test(t, "ApproveRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		var req store.WorkflowRequest
		update(t, s, func(tx store.BackOfficeTx) error {
			var err error
			req, err = tx.NewRequest(newRequest("ACCOUNT_UPDATE", "maker@example.com", `{"code":"A1"}`, now))
			return err
		})
		checker := func(i int) string { return fmt.Sprintf("checker%d@example.com", i) }
		written := make([][]store.AuditEntry, boRacers)
		errs := race(boRacers, func(i int) error {
			var err error
			written[i], err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				r, ok, err := tx.Request(req.ID)
				if err != nil {
					return err
				}
				if !ok {
					return store.ErrNotFound
				}
				if r.Status != store.StatusPending {
					return fmt.Errorf("request %d is %s: %w", r.ID, r.Status, store.ErrWrongState)
				}
				r.Status, r.ReviewedBy, r.ReviewedAt = store.StatusApproved, checker(i), now
				if err := tx.PutRequest(r); err != nil {
					return err
				}
				tx.Audit(newAudit(checker(i), "REQUEST_APPROVED", "workflow_request", fmt.Sprint(r.ID), now))
				return nil
			})
			return err
		})
		w := oneWinner(t, errs, store.ErrWrongState)
		if len(written[w]) != 1 {
			t.Fatalf("winner wrote %d audit entries", len(written[w]))
		}
		wantAudit(t, s, store.AuditFilter{Action: "REQUEST_APPROVED"}, written[w][0])
		if written[w][0].Actor != checker(w) {
			t.Errorf("audit actor %q, want the winner %q", written[w][0].Actor, checker(w))
		}
		got, err := s.WorkflowRequest(ctx, req.ID)
		must(t, err)
		if got.Status != store.StatusApproved || got.ReviewedBy != checker(w) {
			t.Errorf("request is %s by %q, want APPROVED by the winner %q", got.Status, got.ReviewedBy, checker(w))
		}
		wantAuditCount(t, s, store.AuditFilter{}, 1)
	})

	su.test(t, "DepositRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		start := newAccount("A1", now)
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(start) })
		amount := func(i int) decimal.Decimal { return decimal.New(int64(i), -2).Add(decimal.NewFromInt(1000)) } // 0.01*i + 1000
		want := start.CashAvailable
		for i := range boRacers {
			want = want.Add(amount(i + 1))
		}
		written := make([][]store.AuditEntry, boRacers)
		errs := race(boRacers, func(i int) error {
			var err error
			written[i], err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				a, ok, err := tx.Account("A1")
				if err != nil {
					return err
				}
				if !ok {
					return store.ErrNotFound
				}
				a.CashAvailable = a.CashAvailable.Add(amount(i + 1))
				a.UpdatedAt = now
				if err := tx.PutAccount(a); err != nil {
					return err
				}
				tx.Audit(newAudit(fmt.Sprintf("teller%d@example.com", i), "CASH_DEPOSIT", "account", "A1", now))
				return nil
			})
			return err
		})
		ids := map[int64]bool{}
		for i, err := range errs {
			if err != nil {
				t.Errorf("deposit %d: %v", i, err)
				continue
			}
			if len(written[i]) != 1 {
				t.Errorf("deposit %d wrote %d audit entries", i, len(written[i]))
				continue
			}
			ids[written[i][0].ID] = true
		}
		if len(ids) != boRacers {
			t.Errorf("%d distinct audit IDs, want %d", len(ids), boRacers)
		}
		got, err := s.Account(ctx, "A1")
		must(t, err)
		if !got.CashAvailable.Equal(want) || got.CashAvailable.String() != "123456789028347.0389" {
			t.Errorf("cash %s, want exactly %s (every deposit once)", got.CashAvailable, want)
		}
		sameRecord(t, "holdings after deposits", got.Holdings, start.Holdings)
		wantAuditCount(t, s, store.AuditFilter{Action: "CASH_DEPOSIT"}, boRacers)
	})

	su.test(t, "GroupNameRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		made := make([]store.Group, boRacers)
		errs := race(boRacers, func(i int) error {
			_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				if _, ok, err := tx.GroupByName("Desk 日本"); err != nil {
					return err
				} else if ok {
					return fmt.Errorf("group Desk 日本: %w", store.ErrConflict)
				}
				g, err := tx.NewGroup(store.Group{Name: "Desk 日本", CreatedBy: fmt.Sprintf("admin%d@example.com", i), CreatedAt: now})
				made[i] = g
				return err
			})
			return err
		})
		w := oneWinner(t, errs, store.ErrConflict)
		groups, err := s.Groups(ctx)
		must(t, err)
		sameRecord(t, "Groups", normAll(groups, normGroup), []store.Group{normGroup(made[w])})
	})

	// Without a GroupByName check NewGroup itself refuses a taken name.
	su.test(t, "NewGroupRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		made := make([]store.Group, boRacers)
		errs := race(boRacers, func(i int) error {
			_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				g, err := tx.NewGroup(store.Group{Name: "Desk", CreatedBy: fmt.Sprintf("admin%d@example.com", i), CreatedAt: now})
				made[i] = g
				return err
			})
			return err
		})
		w := oneWinner(t, errs, store.ErrConflict)
		groups, err := s.Groups(ctx)
		must(t, err)
		sameRecord(t, "Groups", normAll(groups, normGroup), []store.Group{normGroup(made[w])})
		update(t, s, func(tx store.BackOfficeTx) error {
			g, ok, err := tx.GroupByName("Desk")
			if err != nil || !ok || g.ID != made[w].ID {
				t.Errorf("GroupByName(Desk) = %+v, %v, %v; want the winner's group %d", g, ok, err, made[w].ID)
			}
			return err
		})
	})

	su.test(t, "CanceledContext", func(t *testing.T, s store.Store) {
		now := msNow()
		update(t, s, func(tx store.BackOfficeTx) error { return writeEverything(tx, now) })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		errs := boCalls(ctx, s, now)
		for name, err := range errs {
			wantBackendErr(t, name, err)
			wantErr(t, name, err, store.ErrUnavailable)
		}
		if err := errs["Account"]; !errors.Is(err, context.Canceled) {
			t.Errorf("Account: %v does not wrap context.Canceled", err)
		}
		// Nothing changed.
		wantAuditCount(t, s, store.AuditFilter{}, 1)
		codes, err := s.AccountCodes(t.Context())
		must(t, err)
		if !slices.Equal(codes, []string{"A1"}) {
			t.Errorf("AccountCodes = %q", codes)
		}
		gs, err := s.Groups(t.Context())
		must(t, err)
		if len(gs) != 1 {
			t.Errorf("%d groups, want 1", len(gs))
		}
	})

	su.test(t, "Close", func(t *testing.T, s store.Store) {
		now := msNow()
		update(t, s, func(tx store.BackOfficeTx) error { return writeEverything(tx, now) })
		must(t, s.Close())
		for name, err := range boCalls(context.Background(), s, now) {
			wantBackendErr(t, name+" after Close", err)
			wantErr(t, name+" after Close", err, store.ErrUnavailable)
		}
	})
}

// boCalls makes every back-office call once and returns the errors by name.
func boCalls(ctx context.Context, s store.Store, now time.Time) map[string]error {
	errs := map[string]error{}
	_, errs["Account"] = s.Account(ctx, "A1")
	_, errs["Accounts"] = s.Accounts(ctx, []string{"A1"})
	_, errs["AccountCodes"] = s.AccountCodes(ctx)
	_, errs["GrantsOfUser"] = s.GrantsOfUser(ctx, "ann@example.com")
	_, errs["Grants"] = s.Grants(ctx)
	_, errs["Groups"] = s.Groups(ctx)
	_, errs["Group"] = s.Group(ctx, 1)
	_, errs["GroupMembers"] = s.GroupMembers(ctx, 1)
	_, errs["RiskRules"] = s.RiskRules(ctx)
	_, errs["OrderRiskRules"] = s.OrderRiskRules(ctx)
	_, errs["WorkflowRequest"] = s.WorkflowRequest(ctx, 1)
	_, errs["WorkflowRequests"] = s.WorkflowRequests(ctx, store.RequestFilter{})
	_, errs["UpdateBackOffice reading"] = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		a, _, err := tx.Account("A1")
		if err != nil {
			return err
		}
		a.Name = "changed"
		if err := tx.PutAccount(a); err != nil {
			return err
		}
		tx.Audit(newAudit("m@example.com", "ACCOUNT_UPDATED", "account", "A1", now))
		return nil
	})
	// Blind writes: only the commit meets the backend.
	_, errs["UpdateBackOffice writing"] = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if err := tx.PutAccount(store.Account{AccountCode: "B2"}); err != nil {
			return err
		}
		tx.Audit(newAudit("m@example.com", "ACCOUNT_CREATED", "account", "B2", now))
		return nil
	})
	_, errs["UpdateBackOffice new group"] = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		_, err := tx.NewGroup(store.Group{Name: "G2"})
		return err
	})
	_, errs["UpdateBackOffice new request"] = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		_, err := tx.NewRequest(newRequest("T", "m", `{}`, now))
		return err
	})
	return errs
}
