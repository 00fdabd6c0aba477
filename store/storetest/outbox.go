package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// ---- the outbox ----

// outboxAll is more than any test writes: OutboxAfter's limit for "all".
const outboxAll = 1 << 14

func (su suite) outbox(t *testing.T) {
	su.test(t, "NewAccount", outboxNewAccount)
	su.test(t, "CashChanges", outboxCashChanges)
	su.test(t, "HoldingChanges", outboxHoldingChanges)
	su.test(t, "NoChange", outboxNoChange)
	su.test(t, "Orders", outboxOrders)
	su.test(t, "OrderWithHold", outboxOrderWithHold)
	su.test(t, "Paging", outboxPaging)
	su.test(t, "Ack", outboxAck)
	su.test(t, "AckBatches", outboxAckBatches)
	su.test(t, "Race", outboxRace)
}

// outboxAfter fails the test on an error; it returns the entries as
// values, for the assertions, and checks that none is nil.
func outboxAfter(t *testing.T, s store.Store, after int64, limit int) []store.OutboxEntry {
	t.Helper()
	es, err := s.OutboxAfter(t.Context(), after, limit)
	must(t, err)
	out := make([]store.OutboxEntry, len(es))
	for i, e := range es {
		if e == nil {
			t.Fatalf("OutboxAfter(%d, %d): entry %d is nil", after, limit, i)
		}
		out[i] = *e
	}
	return out
}

// wantIDs asserts es are exactly the entries from..to, in ID order.
func wantIDs(t *testing.T, what string, es []store.OutboxEntry, from, to int64) {
	t.Helper()
	ids := make([]int64, len(es))
	ok := int64(len(es)) == to-from+1 || (to < from && len(es) == 0)
	for i, e := range es {
		ids[i] = e.ID
		ok = ok && e.ID == from+int64(i)
	}
	if !ok {
		t.Errorf("%s: entry IDs %v, want %d..%d", what, ids[:min(len(ids), 16)], from, to)
	}
}

func wantAcked(t *testing.T, s store.Store, want int64) {
	t.Helper()
	got, err := s.OutboxAcked(t.Context())
	must(t, err)
	if got != want {
		t.Errorf("OutboxAcked = %d, want %d", got, want)
	}
}

// wantRecent asserts an entry's commit time is about now.
func wantRecent(t *testing.T, what string, at time.Time) {
	t.Helper()
	if d := time.Since(at); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("%s: At %v is %v from now", what, at, d)
	}
}

func sameDec(a, b decimal.Decimal) bool { return a.Equal(b) && a.String() == b.String() }

func wantCashEntry(t *testing.T, what string, e store.OutboxEntry, account string, want store.Cash) {
	t.Helper()
	if e.Kind != store.OutboxCash || e.AccountCode != account {
		t.Errorf("%s: entry %d is %s of %q, want cash of %q", what, e.ID, e.Kind, e.AccountCode, account)
		return
	}
	c := e.Cash
	if !sameDec(c.Available, want.Available) || !sameDec(c.Hold, want.Hold) || !sameDec(c.Pending, want.Pending) ||
		c.BypassCash != want.BypassCash || c.BypassStock != want.BypassStock {
		t.Errorf("%s: cash %+v, want exactly %+v", what, c, want)
	}
	wantRecent(t, what, e.At)
}

func wantHoldingEntry(t *testing.T, what string, e store.OutboxEntry, account string, want store.Holding) {
	t.Helper()
	if e.Kind != store.OutboxHolding || e.AccountCode != account {
		t.Errorf("%s: entry %d is %s of %q, want holding of %q", what, e.ID, e.Kind, e.AccountCode, account)
		return
	}
	h := e.Holding
	if h.Symbol != want.Symbol || h.SellableQty != want.SellableQty || h.HoldQty != want.HoldQty || !sameDec(h.AvgPrice, want.AvgPrice) ||
		!slices.Equal(h.Pending, want.Pending) {
		t.Errorf("%s: holding %+v, want exactly %+v", what, h, want)
	}
	wantRecent(t, what, e.At)
}

// wantOrderEntry asserts e reports order id as the store now holds it.
func wantOrderEntry(t *testing.T, s store.Store, what string, e store.OutboxEntry, id int64) {
	t.Helper()
	stored, err := s.Order(t.Context(), id)
	must(t, err)
	if e.Kind != store.OutboxOrder || e.AccountCode != stored.AccountCode {
		t.Errorf("%s: entry %d is %s of %q, want order of %q", what, e.ID, e.Kind, e.AccountCode, stored.AccountCode)
		return
	}
	sameOrder(t, what, e.Order, stored)
	wantRecent(t, what, e.At)
}

// outboxLog follows a store's outbox commit by commit.
type outboxLog struct {
	t    *testing.T
	s    store.Store
	last int64 // the last entry ID seen
}

// commit runs fn and returns the entries its commit appended, asserting
// they follow the last one seen without a gap.
func (l *outboxLog) commit(what string, fn func(tx store.BackOfficeTx) error) []store.OutboxEntry {
	l.t.Helper()
	update(l.t, l.s, fn)
	return l.since(what)
}

func (l *outboxLog) since(what string) []store.OutboxEntry {
	l.t.Helper()
	es := outboxAfter(l.t, l.s, l.last, outboxAll)
	wantIDs(l.t, what, es, l.last+1, l.last+int64(len(es)))
	if len(es) > 0 {
		l.last = es[len(es)-1].ID
	}
	return es
}

// modify reads account code, changes it with f and puts it back.
func (l *outboxLog) modify(what, code string, f func(a *store.Account)) []store.OutboxEntry {
	l.t.Helper()
	return l.commit(what, func(tx store.BackOfficeTx) error {
		a, ok, err := tx.Account(code)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("account %q: %w", code, store.ErrNotFound)
		}
		f(&a)
		return tx.PutAccount(a)
	})
}

// wantCount fails the test unless es has n entries.
func wantCount(t *testing.T, what string, es []store.OutboxEntry, n int) {
	t.Helper()
	if len(es) != n {
		t.Fatalf("%s: %d outbox entries, want %d: %+v", what, len(es), n, es)
	}
}

// A new account reports its cash and every holding; other records nothing.
func outboxNewAccount(t *testing.T, s store.Store) {
	now := msNow()
	wantAcked(t, s, 0)
	if es := outboxAfter(t, s, 0, outboxAll); len(es) != 0 {
		t.Fatalf("fresh store: %d outbox entries", len(es))
	}
	a := newAccount("A1 日本", now)
	b := cashAccount("B2", tinyValue, now)
	update(t, s, func(tx store.BackOfficeTx) error {
		for _, acc := range []store.Account{a, b} {
			if err := tx.PutAccount(acc); err != nil {
				return err
			}
		}
		if err := tx.PutGrant(store.Grant{UserID: "ann@example.com", AccountCode: a.AccountCode, Level: store.LevelTrade, CreatedAt: now}); err != nil {
			return err
		}
		tx.Audit(newAudit("maker@example.com", "ACCOUNT_CREATED", "account", "B2", now))
		_, err := tx.NewGroup(store.Group{Name: "G", CreatedAt: now})
		return err
	})
	es := outboxAfter(t, s, 0, outboxAll)
	wantIDs(t, "first commit", es, 1, 5)
	wantCount(t, "first commit", es, 5)
	seen := map[string]store.OutboxEntry{}
	for _, e := range es {
		k := e.AccountCode + "/" + string(e.Kind) + "/" + e.Holding.Symbol
		if _, dup := seen[k]; dup {
			t.Errorf("two entries for %s", k)
		}
		seen[k] = e
	}
	wantCashEntry(t, "A1 cash", seen["A1 日本/cash/"], "A1 日本",
		store.Cash{Available: dec(bigCash), Hold: dec("-0.0001"), BypassCash: true})
	wantCashEntry(t, "B2 cash", seen["B2/cash/"], "B2", store.Cash{Available: dec(tinyValue), Hold: decimal.Zero})
	for _, h := range a.Holdings {
		wantHoldingEntry(t, "A1 holding "+h.Symbol, seen["A1 日本/holding/"+h.Symbol], "A1 日本", h)
	}
	wantAcked(t, s, 0)

	// Records other than accounts and orders report nothing.
	update(t, s, func(tx store.BackOfficeTx) error {
		tx.Audit(newAudit("maker@example.com", "X", "x", "1", now))
		if err := tx.PutRiskRule(store.RiskRule{Kind: store.RuleMarginAllowed, Scope: store.ScopeSystem, Target: "*", Value: dec("1"), UpdatedAt: now}); err != nil {
			return err
		}
		_, err := tx.NewRequest(newRequest("ACCOUNT_UPDATE", "maker@example.com", `{"a":1}`, now))
		return err
	})
	if es := outboxAfter(t, s, 5, outboxAll); len(es) != 0 {
		t.Errorf("rule, request and audit wrote %d outbox entries: %+v", len(es), es)
	}
}

// Each change of an account's cash state is one cash entry.
func outboxCashChanges(t *testing.T, s store.Store) {
	l := &outboxLog{t: t, s: s}
	a := newAccount("A1", msNow())
	wantCount(t, "new account", l.commit("new account", func(tx store.BackOfficeTx) error { return tx.PutAccount(a) }), 4)
	want := store.CashOf(a)

	steps := []struct {
		what string
		f    func(a *store.Account)
	}{
		{"CashAvailable", func(a *store.Account) { a.CashAvailable = a.CashAvailable.Add(dec(tinyValue)) }},
		{"CashHold", func(a *store.Account) { a.CashHold = dec("250000.5") }},
		{"BypassCash", func(a *store.Account) { a.BypassCash = false }},
		{"BypassStock", func(a *store.Account) { a.BypassStock = true }},
		{"cash and name", func(a *store.Account) { a.CashHold, a.Name = decimal.Zero, "renamed" }},
	}
	for _, st := range steps {
		acc := a
		st.f(&acc)
		want = store.CashOf(acc)
		a = acc
		es := l.modify(st.what, "A1", st.f)
		wantCount(t, st.what, es, 1)
		wantCashEntry(t, st.what, es[0], "A1", want)
	}
	if want.Available.String() != "123456789012345.678900000000000001" {
		t.Fatalf("fixture: cash %s", want.Available)
	}
	got, err := s.Account(t.Context(), "A1")
	must(t, err)
	if !store.CashOf(got).Equal(want) {
		t.Errorf("account cash %+v, the last entry reported %+v", store.CashOf(got), want)
	}
}

// Each holding that changes, appears or goes is one holding entry.
func outboxHoldingChanges(t *testing.T, s store.Store) {
	l := &outboxLog{t: t, s: s}
	a := newAccount("A1", msNow())
	wantCount(t, "new account", l.commit("new account", func(tx store.BackOfficeTx) error { return tx.PutAccount(a) }), 4)
	vnm, _ := a.Holding("VN000000VNM8")

	vnm.SellableQty, vnm.HoldQty = vnm.SellableQty-1, vnm.HoldQty+1
	es := l.modify("one holding changed", "A1", func(a *store.Account) { a.SetHolding(vnm) })
	wantCount(t, "one holding changed", es, 1)
	wantHoldingEntry(t, "one holding changed", es[0], "A1", vnm)

	vnm.AvgPrice = dec("98765.43210001")
	es = l.modify("avg price changed", "A1", func(a *store.Account) { a.SetHolding(vnm) })
	wantCount(t, "avg price changed", es, 1)
	wantHoldingEntry(t, "avg price changed", es[0], "A1", vnm)

	gone := store.Holding{Symbol: "VN000000HPG2", AvgPrice: decimal.Zero}
	es = l.modify("holding removed", "A1", func(a *store.Account) { a.SetHolding(store.Holding{Symbol: "VN000000HPG2"}) })
	wantCount(t, "holding removed", es, 1)
	wantHoldingEntry(t, "holding removed", es[0], "A1", gone)
	if es[0].Holding.SellableQty != 0 || es[0].Holding.HoldQty != 0 {
		t.Errorf("removed holding reported with quantities %+v", es[0].Holding)
	}

	added := store.Holding{Symbol: "VN000000ACB5", SellableQty: 7, AvgPrice: dec("12.5")}
	es = l.modify("holding added", "A1", func(a *store.Account) { a.SetHolding(added) })
	wantCount(t, "holding added", es, 1)
	wantHoldingEntry(t, "holding added", es[0], "A1", added)

	// Cash and two holdings in one commit: three entries.
	fpt, _ := a.Holding("VN000000FPT1")
	fpt.HoldQty = 40
	es = l.modify("cash and holdings", "A1", func(a *store.Account) {
		a.CashHold = dec("1")
		a.SetHolding(fpt)
		a.SetHolding(store.Holding{Symbol: "VN000000ACB5"})
	})
	wantCount(t, "cash and holdings", es, 3)
	kinds := map[string]store.OutboxEntry{}
	for _, e := range es {
		kinds[string(e.Kind)+e.Holding.Symbol] = e
	}
	wantCashEntry(t, "cash and holdings: cash", kinds["cash"], "A1", store.Cash{Available: dec(bigCash), Hold: dec("1"), BypassCash: true})
	wantHoldingEntry(t, "cash and holdings: FPT", kinds["holdingVN000000FPT1"], "A1", fpt)
	wantHoldingEntry(t, "cash and holdings: ACB", kinds["holdingVN000000ACB5"], "A1", store.Holding{Symbol: "VN000000ACB5", AvgPrice: decimal.Zero})
}

// A commit that changes no cash and no holding reports nothing, and a
// transaction that fails reports nothing.
func outboxNoChange(t *testing.T, s store.Store) {
	ctx, now := t.Context(), msNow()
	l := &outboxLog{t: t, s: s}
	a := newAccount("A1", now)
	wantCount(t, "new account", l.commit("new account", func(tx store.BackOfficeTx) error { return tx.PutAccount(a) }), 4)

	wantCount(t, "identical put", l.modify("identical put", "A1", func(*store.Account) {}), 0)
	wantCount(t, "other fields", l.modify("other fields", "A1", func(a *store.Account) {
		a.Name, a.Email, a.UpdatedAt = "renamed", "new@example.com", now.Add(time.Hour)
		slices.Reverse(a.Holdings) // PutAccount sorts them again
	}), 0)
	wantCount(t, "changed and changed back", l.commit("changed and changed back", func(tx store.BackOfficeTx) error {
		cur, _, err := tx.Account("A1")
		if err != nil {
			return err
		}
		moved := cur
		moved.CashAvailable, moved.Holdings = dec("1"), nil
		if err := tx.PutAccount(moved); err != nil {
			return err
		}
		return tx.PutAccount(cur)
	}), 0)

	boom := errors.New("boom")
	_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		cur, _, err := tx.Account("A1")
		if err != nil {
			return err
		}
		cur.CashAvailable, cur.Holdings = dec("1"), nil
		if err := tx.PutAccount(cur); err != nil {
			return err
		}
		if err := tx.PutAccount(cashAccount("B2", "5", now)); err != nil {
			return err
		}
		if _, err := tx.NewOrder(newOrder("C1", "A1", now), true); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateBackOffice = %v, want fn's error", err)
	}
	wantCount(t, "failed transaction", l.since("failed transaction"), 0)

	// The sequence did not move: the next entry follows the last one.
	es := l.modify("after the failure", "A1", func(a *store.Account) { a.CashHold = dec("3") })
	wantCount(t, "after the failure", es, 1)
	if es[0].ID != 5 {
		t.Errorf("entry after the failure has ID %d, want 5", es[0].ID)
	}
}

// Every order written with a new value is one order entry.
func outboxOrders(t *testing.T, s store.Store) {
	now := msNow()
	l := &outboxLog{t: t, s: s}
	var o store.Order
	es := l.commit("NewOrder", func(tx store.BackOfficeTx) error {
		var err error
		o, err = tx.NewOrder(newOrder("C1 日本", "A1", now), true)
		return err
	})
	wantCount(t, "NewOrder", es, 1)
	wantOrderEntry(t, s, "NewOrder", es[0], o.ID)
	if es[0].Prior != nil {
		t.Errorf("NewOrder entry: prior %+v, want none for a new order", es[0].Prior)
	}

	put := func(what string, f func(o *store.Order)) []store.OutboxEntry {
		return l.commit(what, func(tx store.BackOfficeTx) error {
			cur, ok, err := tx.Order(o.ID)
			if err != nil || !ok {
				return fmt.Errorf("order %d: %v, %w", o.ID, ok, err)
			}
			f(&cur)
			return tx.PutOrder(cur)
		})
	}
	es = put("PutOrder", func(o *store.Order) {
		o.Status, o.FilledQty, o.FilledValue = store.OrderPartiallyFill, 7, dec("700003.5")
		o.Stop = store.StopTerms{Px: dec("99.5"), Triggered: true}
	})
	wantCount(t, "PutOrder", es, 1)
	wantOrderEntry(t, s, "PutOrder", es[0], o.ID)
	if es[0].Order.Seq != 2 || es[0].Order.Status != store.OrderPartiallyFill || es[0].Order.FilledValue.String() != "700003.5" {
		t.Errorf("PutOrder entry: Seq %d status %s filled value %s", es[0].Order.Seq, es[0].Order.Status, es[0].Order.FilledValue)
	}
	if p := es[0].Prior; p == nil || p.Status != o.Status || p.FilledQty != o.FilledQty || p.Qty != o.Qty || !p.Price.Equal(o.Price) {
		t.Errorf("PutOrder entry: prior %+v, want the order as entered (%s, qty %d, price %s)", p, o.Status, o.Qty, o.Price)
	}

	// Two puts of one order in one commit: one entry, the last version.
	es = l.commit("two puts", func(tx store.BackOfficeTx) error {
		for _, st := range []store.OrderStatus{store.OrderPendingCancel, store.OrderCanceled} {
			cur, _, err := tx.Order(o.ID)
			if err != nil {
				return err
			}
			cur.Status = st
			if err := tx.PutOrder(cur); err != nil {
				return err
			}
		}
		return nil
	})
	wantCount(t, "two puts", es, 1)
	wantOrderEntry(t, s, "two puts", es[0], o.ID)
	if es[0].Order.Seq != 4 || es[0].Order.Status != store.OrderCanceled {
		t.Errorf("two puts: entry Seq %d status %s, want 4 CANCELED", es[0].Order.Seq, es[0].Order.Status)
	}
	// The prior state is the one before the commit, not between its puts.
	if p := es[0].Prior; p == nil || p.Status != store.OrderPartiallyFill || p.FilledQty != 7 || p.FilledValue.String() != "700003.5" || p.StopPx.String() != "99.5" {
		t.Errorf("two puts: prior %+v, want PARTIALLY_FILLED 7 for 700003.5, stop 99.5", p)
	}

	// An order read and not written reports nothing.
	wantCount(t, "order read", l.commit("order read", func(tx store.BackOfficeTx) error {
		_, _, err := tx.Order(o.ID)
		return err
	}), 0)
}

// A new order and its account's hold in one commit: one entry of each.
func outboxOrderWithHold(t *testing.T, s store.Store) {
	now := msNow()
	l := &outboxLog{t: t, s: s}
	wantCount(t, "new account", l.commit("new account", func(tx store.BackOfficeTx) error {
		return tx.PutAccount(cashAccount("A2", "899.5", now))
	}), 1)
	var o store.Order
	es := l.commit("order and hold", func(tx store.BackOfficeTx) error {
		cur, _, err := tx.Account("A2")
		if err != nil {
			return err
		}
		cur.CashHold = cur.CashHold.Add(dec("100.5"))
		if err := tx.PutAccount(cur); err != nil {
			return err
		}
		o, err = tx.NewOrder(newOrder("C2", "A2", now), true)
		return err
	})
	wantCount(t, "order and hold", es, 2)
	if es[0].Kind == es[1].Kind {
		t.Errorf("order and hold: two %s entries, want an order and a cash entry", es[0].Kind)
	}
	for _, e := range es {
		if e.Kind == store.OutboxOrder {
			wantOrderEntry(t, s, "order and hold: order", e, o.ID)
		} else {
			wantCashEntry(t, "order and hold: cash", e, "A2", store.Cash{Available: dec("899.5"), Hold: dec("100.5")})
		}
	}
}

// addCash adds delta to an account's CashAvailable, creating the account
// (with delta) when it is missing.
func addCash(t *testing.T, s store.Store, code string, delta int64) {
	t.Helper()
	update(t, s, func(tx store.BackOfficeTx) error {
		a, ok, err := tx.Account(code)
		if err != nil {
			return err
		}
		if !ok {
			return tx.PutAccount(cashAccount(code, strconv.FormatInt(delta, 10), msNow()))
		}
		a.CashAvailable = a.CashAvailable.Add(decimal.NewFromInt(delta))
		return tx.PutAccount(a)
	})
}

// wantCashSeries asserts es report cash first, first+1, ... in ID order.
func wantCashSeries(t *testing.T, what string, es []store.OutboxEntry, first int64) {
	t.Helper()
	for i, e := range es {
		want := decimal.NewFromInt(first + int64(i))
		if e.Kind != store.OutboxCash || !e.Cash.Available.Equal(want) {
			t.Errorf("%s: entry %d (%s) cash %s, want %s", what, e.ID, e.Kind, e.Cash.Available, want)
			return
		}
	}
}

// OutboxAfter pages in ID order; entry i reports cash i here.
func outboxPaging(t *testing.T, s store.Store) {
	for range 10 {
		addCash(t, s, "A1", 1)
	}
	for _, c := range []struct {
		after    int64
		limit    int
		from, to int64
	}{
		{0, outboxAll, 1, 10}, {0, 3, 1, 3}, {3, 3, 4, 6}, {6, 4, 7, 10}, {9, 5, 10, 10},
		{10, 5, 11, 10}, {100, 5, 101, 100}, {0, 0, 1, 0}, {0, -1, 1, 0},
	} {
		what := fmt.Sprintf("OutboxAfter(%d, %d)", c.after, c.limit)
		es := outboxAfter(t, s, c.after, c.limit)
		wantIDs(t, what, es, c.from, c.to)
		wantCashSeries(t, what, es, c.from)
	}
}

// AckOutbox removes the entries up to an ID, once.
func outboxAck(t *testing.T, s store.Store) {
	ctx := t.Context()
	for range 10 {
		addCash(t, s, "A1", 1)
	}
	must(t, s.AckOutbox(ctx, 4))
	wantAcked(t, s, 4)
	for _, c := range []struct {
		after    int64
		limit    int
		from, to int64
	}{
		{0, outboxAll, 5, 10}, {4, 3, 5, 7}, {2, 1, 5, 5}, {0, 3, 5, 7},
	} {
		what := fmt.Sprintf("after AckOutbox(4): OutboxAfter(%d, %d)", c.after, c.limit)
		es := outboxAfter(t, s, c.after, c.limit)
		wantIDs(t, what, es, c.from, c.to)
		wantCashSeries(t, what, es, c.from)
	}

	// An acknowledgement at or below the acknowledged ID changes nothing.
	for _, id := range []int64{2, 4, 0} {
		must(t, s.AckOutbox(ctx, id))
		wantAcked(t, s, 4)
		wantIDs(t, fmt.Sprintf("after AckOutbox(%d)", id), outboxAfter(t, s, 4, outboxAll), 5, 10)
	}

	must(t, s.AckOutbox(ctx, 10))
	wantAcked(t, s, 10)
	wantIDs(t, "after AckOutbox(10)", outboxAfter(t, s, 0, outboxAll), 1, 0)
	// The sequence goes on after the acknowledged ID.
	addCash(t, s, "A1", 1)
	es := outboxAfter(t, s, 0, outboxAll)
	wantIDs(t, "after a new commit", es, 11, 11)
	wantCashSeries(t, "after a new commit", es, 11)
	wantAcked(t, s, 10)
}

// An acknowledgement of more entries than one batch removes them all.
func outboxAckBatches(t *testing.T, s store.Store) {
	ctx, now := t.Context(), msNow()
	const commits, perCommit = 3, 400 // a new account with no holdings: one entry each
	for c := range commits {
		update(t, s, func(tx store.BackOfficeTx) error {
			for i := range perCommit {
				n := c*perCommit + i + 1
				if err := tx.PutAccount(cashAccount(fmt.Sprintf("A%04d", n), strconv.Itoa(n), now)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	const total = commits * perCommit
	es := outboxAfter(t, s, 0, outboxAll)
	wantIDs(t, "before the acknowledgement", es, 1, total)
	wantCashSeries(t, "before the acknowledgement", es, 1)

	must(t, s.AckOutbox(ctx, 1100))
	wantAcked(t, s, 1100)
	es = outboxAfter(t, s, 1000, 200) // across the batch boundary at 1024
	wantIDs(t, "after AckOutbox(1100): OutboxAfter(1000, 200)", es, 1101, total)
	es = outboxAfter(t, s, 0, outboxAll)
	wantIDs(t, "after AckOutbox(1100)", es, 1101, total)
	wantCashSeries(t, "after AckOutbox(1100)", es, 1101)

	must(t, s.AckOutbox(ctx, total))
	wantAcked(t, s, total)
	wantIDs(t, "after acknowledging all", outboxAfter(t, s, 0, outboxAll), 1, 0)
}

// Racing commits report in commit order: the cash each entry reports is
// one more than the entry before's.
func outboxRace(t *testing.T, s store.Store) {
	const perRacer = 10
	addCash(t, s, "A1", 0) // entry 1: cash 0
	errs := race(boRacers, func(int) error {
		for range perRacer {
			_, err := s.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
				a, ok, err := tx.Account("A1")
				if err != nil || !ok {
					return fmt.Errorf("account A1: %v, %w", ok, err)
				}
				a.CashAvailable = a.CashAvailable.Add(decimal.NewFromInt(1))
				return tx.PutAccount(a)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	const n = boRacers * perRacer
	es := outboxAfter(t, s, 0, outboxAll)
	wantIDs(t, "after the race", es, 1, n+1)
	wantCount(t, "after the race", es, n+1)
	wantCashSeries(t, "after the race", es, 0)
	got, err := s.Account(t.Context(), "A1")
	must(t, err)
	if last := es[len(es)-1].Cash.Available; !got.CashAvailable.Equal(last) || !last.Equal(decimal.NewFromInt(n)) {
		t.Errorf("account cash %s, last entry %s, want both %d", got.CashAvailable, last, n)
	}
}
