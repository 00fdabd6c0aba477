package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// ---- trading: orders beside the back office ----

// ict is the exchange's zone: times given in it must come back in UTC.
var ict = time.FixedZone("ICT", 7*3600)

// exactQty is 2^53+1: no float64 holds it, so a quantity that passed
// through one comes back changed.
const exactQty = 1<<53 + 1

// normOrder puts an order in the form adapters return: UTC, whole
// milliseconds; a zero time stays zero.
func normOrder(o store.Order) store.Order {
	opt := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return normTime(t)
	}
	o.CreatedAt, o.UpdatedAt = opt(o.CreatedAt), opt(o.UpdatedAt)
	return o
}

func sameOrder(t *testing.T, what string, got, want store.Order) {
	t.Helper()
	sameRecord(t, what, normOrder(got), normOrder(want))
}

// newOrder is an order with every field set; ID and Seq are nonsense that
// NewOrder must replace.
// orderUser enters the suite's orders: the namespace of their ClOrdIDs.
const orderUser = "zoë+trader@exämple.com"

func newOrder(reqID, account string, now time.Time) store.Order {
	return store.Order{
		ID:            999,
		OriginalReqID: reqID,
		ClOrdID:       reqID,
		TradingDate:   now.In(ict).Format(time.DateOnly),
		AccountCode:   account,
		User:          orderUser,
		Symbol:        "VNM",
		ISIN:          "VN000000VNM8",
		MarketID:      "HOSE",
		Board:         "G1",
		Side:          "B",
		Type:          "LO",
		Price:         dec("100000.5"),
		Qty:           exactQty,
		OriginalPrice: dec("0.0001"),
		OriginalQty:   exactQty - 2,
		FilledQty:     3,
		FilledValue:   dec(bigCash),
		CancelledQty:  1,
		Status:        store.OrderNew,
		Text:          `HOSE|-70015|Zoë "quoted" </script> 日本 \ /`,
		Hold:          store.OrderHold{UnitPrice: dec("100000.5"), Cash: dec("0.0001"), Stock: 1 << 40},
		LastExecID:    math.MaxUint64 - 1,
		Priority:      math.MaxInt64 - 3,
		OffBook:       true,
		Stop:          store.StopTerms{Px: dec("100500.25"), Trailing: true, Offset: dec("0.0001"), Triggered: true},
		Seq:           42,
		Channel:       "FIX",
		AlgoID:        "algo-1",
		PositionID:    "pos-1",
		PersisState:   "persisted",
		QuoteID:       "q-1",
		QuoteRespID:   "qr-1",
		PartyID:       "011",
		PartyTraderID: "00111",
		CreatedAt:     now.In(ict).Add(-123*time.Millisecond - 456*time.Microsecond),
		UpdatedAt:     now.Add(789 * time.Microsecond),
	}
}

// newOrders stores each order in its own transaction (index true) and
// returns them as stored.
func newOrders(t *testing.T, s store.Store, os ...store.Order) []store.Order {
	t.Helper()
	out := make([]store.Order, len(os))
	for i, o := range os {
		update(t, s, func(tx store.BackOfficeTx) error {
			var err error
			out[i], err = tx.NewOrder(o, true)
			return err
		})
	}
	return out
}

func orderIDs(os []store.Order) []int64 {
	ids := make([]int64, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	return ids
}

// wantOrderIDs asserts Orders(f) returns exactly the orders with these IDs,
// in this order.
func wantOrderIDs(t *testing.T, s store.Store, f store.OrderFilter, want []int64) {
	t.Helper()
	got, err := s.Orders(t.Context(), f)
	must(t, err)
	if g := orderIDs(got); !slices.Equal(g, want) {
		t.Errorf("Orders(%+v): %d ids %v..., want %d ids %v...", f, len(g), g[:min(8, len(g))], len(want), want[:min(8, len(want))])
	}
}

// wantAccountCash asserts an account's cash, exactly.
func wantAccountCash(t *testing.T, s store.Store, code, available, hold string) store.Account {
	t.Helper()
	a, err := s.Account(t.Context(), code)
	must(t, err)
	if a.CashAvailable.String() != available || a.CashHold.String() != hold {
		t.Errorf("account %s: available %s hold %s, want %s and %s", code, a.CashAvailable, a.CashHold, available, hold)
	}
	return a
}

func cashAccount(code, cash string, now time.Time) store.Account {
	return store.Account{AccountCode: code, Name: "cash " + code, CashAvailable: dec(cash), CashHold: decimal.Zero, CreatedAt: now}
}

func (su suite) trading(t *testing.T) {
	su.test(t, "Empty", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.Order(ctx, 1)
		wantErr(t, "Order(1)", err, store.ErrNotFound)
		_, err = s.OrderByReqID(ctx, orderUser, "C1")
		wantErr(t, "OrderByReqID", err, store.ErrNotFound)
		for _, f := range []store.OrderFilter{{}, {OrderID: "1"}, {OriginalReqID: "C1"}, {Limit: store.MaxOrderLimit}} {
			got, err := s.Orders(ctx, f)
			must(t, err)
			if len(got) != 0 {
				t.Errorf("Orders(%+v) = %d orders", f, len(got))
			}
		}
		update(t, s, func(tx store.BackOfficeTx) error {
			if _, ok, err := tx.Order(1); err != nil || ok {
				t.Errorf("tx.Order(1) = %v, %v", ok, err)
			}
			if _, ok, err := tx.OrderByReqID(orderUser, "C1"); err != nil || ok {
				t.Errorf("tx.OrderByReqID = %v, %v", ok, err)
			}
			return nil
		})
	})

	su.test(t, "NewOrderRoundTrip", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		given := newOrder("C1 日本", "A1", now)
		var first store.Order
		update(t, s, func(tx store.BackOfficeTx) error {
			var err error
			first, err = tx.NewOrder(given, true)
			return err
		})
		if first.ID != 1 || first.Seq != 1 {
			t.Errorf("first order: ID %d Seq %d, want 1 and 1", first.ID, first.Seq)
		}
		want := given
		want.ID, want.Seq = 1, 1
		sameOrder(t, "NewOrder's result", first, want)

		got, err := s.Order(ctx, 1)
		must(t, err)
		sameOrder(t, "Order(1)", got, want)
		// The exact values, not only as printed.
		for name, c := range map[string]struct {
			got  decimal.Decimal
			want string
		}{
			"Price": {got.Price, "100000.5"}, "OriginalPrice": {got.OriginalPrice, "0.0001"},
			"FilledValue": {got.FilledValue, bigCash}, "Hold.UnitPrice": {got.Hold.UnitPrice, "100000.5"},
			"Hold.Cash": {got.Hold.Cash, "0.0001"}, "Stop.Px": {got.Stop.Px, "100500.25"}, "Stop.Offset": {got.Stop.Offset, "0.0001"},
		} {
			if c.got.String() != c.want || !c.got.Equal(dec(c.want)) {
				t.Errorf("%s = %s, want exactly %s", name, c.got, c.want)
			}
		}
		if got.Qty != exactQty || got.OriginalQty != exactQty-2 || got.Hold.Stock != 1<<40 || got.LastExecID != math.MaxUint64-1 || got.Priority != math.MaxInt64-3 {
			t.Errorf("integers: Qty %d OriginalQty %d Hold.Stock %d LastExecID %d Priority %d", got.Qty, got.OriginalQty, got.Hold.Stock, got.LastExecID, got.Priority)
		}
		if !got.Stop.Trailing || !got.Stop.Triggered {
			t.Errorf("stop terms %+v, want trailing and triggered", got.Stop)
		}
		if got.Status != store.OrderNew || got.OriginalReqID != "C1 日本" || got.Text != given.Text {
			t.Errorf("status %q reqID %q text %q", got.Status, got.OriginalReqID, got.Text)
		}
		wantUTCms(t, "CreatedAt", got.CreatedAt)
		wantUTCms(t, "UpdatedAt", got.UpdatedAt)
		if !got.CreatedAt.Equal(given.CreatedAt.Truncate(time.Millisecond)) || !got.UpdatedAt.Equal(given.UpdatedAt.Truncate(time.Millisecond)) {
			t.Errorf("times %v, %v; want %v, %v", got.CreatedAt, got.UpdatedAt, given.CreatedAt.Truncate(time.Millisecond), given.UpdatedAt.Truncate(time.Millisecond))
		}
		byReq, err := s.OrderByReqID(ctx, orderUser, "C1 日本")
		must(t, err)
		sameOrder(t, "OrderByReqID", byReq, want)

		// A sparse order: zero decimals, zero UpdatedAt, no optional fields.
		sparse := store.Order{OriginalReqID: "C2", User: orderUser, AccountCode: "A1", Status: store.OrderPendingNew, CreatedAt: now}
		var second, third store.Order
		update(t, s, func(tx store.BackOfficeTx) error {
			var err error
			if second, err = tx.NewOrder(sparse, true); err != nil {
				return err
			}
			third, err = tx.NewOrder(newOrder("C3", "B2", now), false)
			return err
		})
		if second.ID != 2 || third.ID != 3 || second.Seq != 1 || third.Seq != 1 {
			t.Errorf("IDs %d, %d Seqs %d, %d; want 2, 3 and 1, 1", second.ID, third.ID, second.Seq, third.Seq)
		}
		got, err = s.Order(ctx, 2)
		must(t, err)
		wantSparse := sparse
		wantSparse.ID, wantSparse.Seq = 2, 1
		sameOrder(t, "Order(2)", got, wantSparse)
		if !got.UpdatedAt.IsZero() || !got.Price.IsZero() || !got.Hold.Cash.IsZero() {
			t.Errorf("sparse order: UpdatedAt %v Price %s Hold.Cash %s, want zero", got.UpdatedAt, got.Price, got.Hold.Cash)
		}
		got, err = s.Order(ctx, 3)
		must(t, err)
		wantThird := newOrder("C3", "B2", now)
		wantThird.ID, wantThird.Seq = 3, 1
		sameOrder(t, "Order(3)", got, wantThird)

		update(t, s, func(tx store.BackOfficeTx) error {
			o, ok, err := tx.Order(1)
			if err != nil || !ok {
				t.Fatalf("tx.Order(1) = %v, %v", ok, err)
			}
			sameOrder(t, "tx.Order(1)", o, want)
			o, ok, err = tx.OrderByReqID(orderUser, "C1 日本")
			if err != nil || !ok {
				t.Fatalf("tx.OrderByReqID = %v, %v", ok, err)
			}
			sameOrder(t, "tx.OrderByReqID", o, want)
			if _, ok, err := tx.Order(4); err != nil || ok {
				t.Errorf("tx.Order(4) = %v, %v; want absent", ok, err)
			}
			if _, ok, err := tx.OrderByReqID(orderUser, "C1"); err != nil || ok {
				t.Errorf("tx.OrderByReqID(orderUser, C1) = %v, %v; want absent (exact match)", ok, err)
			}
			return nil
		})

		for _, id := range []int64{0, -1, 4, 1 << 40} {
			_, err := s.Order(ctx, id)
			wantErr(t, fmt.Sprintf("Order(%d)", id), err, store.ErrNotFound)
		}
		for _, req := range []string{"C1", "c1 日本", "C3", "nope"} { // C3 was not indexed
			_, err := s.OrderByReqID(ctx, orderUser, req)
			wantErr(t, fmt.Sprintf("OrderByReqID(%q)", req), err, store.ErrNotFound)
		}
		all, err := s.Orders(ctx, store.OrderFilter{})
		must(t, err)
		sameRecord(t, "Orders", normAll(all, normOrder), normAll([]store.Order{wantThird, wantSparse, want}, normOrder))
	})

	su.test(t, "ReqIDIndex", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		put := func(o store.Order, index bool) store.Order {
			t.Helper()
			var got store.Order
			update(t, s, func(tx store.BackOfficeTx) error {
				var err error
				got, err = tx.NewOrder(o, index)
				return err
			})
			return got
		}
		byReq := func(reqID string, want int64) {
			t.Helper()
			got, err := s.OrderByReqID(ctx, orderUser, reqID)
			if want == 0 {
				wantErr(t, fmt.Sprintf("OrderByReqID(%q)", reqID), err, store.ErrNotFound)
				return
			}
			must(t, err)
			if got.ID != want {
				t.Errorf("OrderByReqID(%q) = order %d, want %d", reqID, got.ID, want)
			}
			update(t, s, func(tx store.BackOfficeTx) error {
				o, ok, err := tx.OrderByReqID(orderUser, reqID)
				if err != nil || !ok || o.ID != want {
					t.Errorf("tx.OrderByReqID(orderUser, %q) = order %d, %v, %v; want %d", reqID, o.ID, ok, err, want)
				}
				return err
			})
		}

		unindexed := put(newOrder("C1", "A1", now), false)
		byReq("C1", 0)
		first := put(newOrder("C1", "A1", now), true)
		byReq("C1", first.ID)
		// Another trading date reuses the ClOrdID: the index moves to it.
		next := newOrder("C1", "B2", now.Add(24*time.Hour))
		next.Status = store.OrderPendingNew
		newer := put(next, true)
		byReq("C1", newer.ID)
		got, err := s.OrderByReqID(ctx, orderUser, "C1")
		must(t, err)
		if got.AccountCode != "B2" || got.Status != store.OrderPendingNew || got.TradingDate != next.TradingDate {
			t.Errorf("OrderByReqID after repointing: %+v", got)
		}
		// A rejected duplicate does not take it.
		dup := newOrder("C1", "A1", now)
		dup.Status = store.OrderRejected
		rejected := put(dup, false)
		byReq("C1", newer.ID)
		other := put(newOrder("C2", "A1", now), true)
		byReq("C2", other.ID)
		byReq("C1", newer.ID)
		byReq("C", 0)
		byReq("c1", 0)

		// Every one of them is stored all the same.
		for _, o := range []store.Order{unindexed, first, newer, rejected} {
			g, err := s.Order(ctx, o.ID)
			must(t, err)
			sameOrder(t, fmt.Sprintf("Order(%d)", o.ID), g, o)
		}
		wantOrderIDs(t, s, store.OrderFilter{OriginalReqID: "C1"}, []int64{rejected.ID, newer.ID, first.ID, unindexed.ID})
		if ids := []int64{unindexed.ID, first.ID, newer.ID, rejected.ID, other.ID}; !slices.Equal(ids, []int64{1, 2, 3, 4, 5}) {
			t.Errorf("IDs %v, want 1..5", ids)
		}
	})

	su.test(t, "ReqIDPerUser", func(t *testing.T, s store.Store) {
		// ClOrdIDs are a namespace per user: the same id taken by two users
		// names two orders, and a third user finds neither.
		ctx, now := t.Context(), msNow()
		made := map[string]store.Order{}
		for _, u := range []string{orderUser, "other@example.com"} {
			o := newOrder("SAME", "A1", now)
			o.User = u
			update(t, s, func(tx store.BackOfficeTx) error {
				if err := tx.Prefetch(store.Prefetch{NewOrderReqIDs: []store.OrderKey{{User: u, ReqID: "SAME"}}}); err != nil {
					return err
				}
				if _, ok, err := tx.OrderByReqID(u, "SAME"); err != nil || ok {
					return fmt.Errorf("user %s sees SAME taken (%v) before entering it: %w", u, ok, err)
				}
				var err error
				made[u], err = tx.NewOrder(o, true)
				return err
			})
		}
		for u, want := range made {
			got, err := s.OrderByReqID(ctx, u, "SAME")
			must(t, err)
			if got.ID != want.ID || got.User != u {
				t.Errorf("OrderByReqID(%s, SAME) = order %d of %s, want %d", u, got.ID, got.User, want.ID)
			}
		}
		_, err := s.OrderByReqID(ctx, "third@example.com", "SAME")
		wantErr(t, "OrderByReqID(third, SAME)", err, store.ErrNotFound)
		update(t, s, func(tx store.BackOfficeTx) error {
			_, err := tx.NewOrder(store.Order{OriginalReqID: "X", User: "nul\x00user", AccountCode: "A1", CreatedAt: now}, true)
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("NewOrder with a NUL in the user = %v, want ErrInvalid", err)
			}
			return nil
		})
	})

	su.test(t, "PutOrder", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		made := newOrders(t, s, newOrder("C1", "A1", now), newOrder("C2", "A1", now))
		o, bystander := made[0], made[1]

		changed := o
		update(t, s, func(tx store.BackOfficeTx) error {
			cur, ok, err := tx.Order(o.ID)
			if err != nil || !ok {
				t.Fatalf("tx.Order = %v, %v", ok, err)
			}
			changed = cur
			changed.ClOrdID, changed.OrigClOrdID = "C1-r1", "C1"
			changed.Price, changed.Qty = dec("99999.9"), 500
			changed.FilledQty, changed.FilledValue = 200, dec("19999980.0001")
			changed.Status = store.OrderPartiallyFill
			changed.Text = "replaced"
			changed.Hold = store.OrderHold{UnitPrice: dec("99999.9"), Cash: dec("29999970"), Stock: 0}
			changed.LastExecID = 77
			changed.UpdatedAt = now.Add(time.Minute + 5*time.Microsecond)
			return tx.PutOrder(changed)
		})
		want := changed
		want.Seq = 2
		got, err := s.Order(ctx, o.ID)
		must(t, err)
		sameOrder(t, "Order after PutOrder", got, want)
		if got.Seq != 2 || got.FilledValue.String() != "19999980.0001" {
			t.Errorf("Seq %d FilledValue %s, want 2 and 19999980.0001", got.Seq, got.FilledValue)
		}
		// The index still finds it; the other order is untouched.
		byReq, err := s.OrderByReqID(ctx, orderUser, "C1")
		must(t, err)
		sameOrder(t, "OrderByReqID after PutOrder", byReq, want)
		got, err = s.Order(ctx, bystander.ID)
		must(t, err)
		sameOrder(t, "bystander", got, bystander)
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{bystander.ID, o.ID})

		// Two puts in one transaction, each on what the transaction reads.
		update(t, s, func(tx store.BackOfficeTx) error {
			a, _, err := tx.Order(o.ID)
			if err != nil {
				return err
			}
			a.Status = store.OrderPendingCancel
			if err := tx.PutOrder(a); err != nil {
				return err
			}
			b, ok, err := tx.Order(o.ID)
			if err != nil || !ok || b.Seq != 3 || b.Status != store.OrderPendingCancel {
				t.Errorf("tx.Order after put: Seq %d status %s, %v, %v; want 3 PENDING_CANCEL", b.Seq, b.Status, ok, err)
			}
			// Not visible outside before the commit.
			if out, err := s.Order(ctx, o.ID); err != nil || out.Seq != 2 || out.Status != store.OrderPartiallyFill {
				t.Errorf("store sees Seq %d status %s before commit (%v)", out.Seq, out.Status, err)
			}
			b.Status, b.CancelledQty, b.Hold = store.OrderCanceled, 300, store.OrderHold{}
			return tx.PutOrder(b)
		})
		got, err = s.Order(ctx, o.ID)
		must(t, err)
		if got.Seq != 4 || got.Status != store.OrderCanceled || got.CancelledQty != 300 || !got.Hold.Cash.IsZero() || got.LeavesQty() != 0 {
			t.Errorf("after two puts: Seq %d status %s cancelled %d hold %s leaves %d; want 4 CANCELED 300 0 0",
				got.Seq, got.Status, got.CancelledQty, got.Hold.Cash, got.LeavesQty())
		}
		if got.ClOrdID != "C1-r1" || !got.CreatedAt.Equal(o.CreatedAt) {
			t.Errorf("after two puts: ClOrdID %q CreatedAt %v", got.ClOrdID, got.CreatedAt)
		}
	})

	su.test(t, "ReadsOwnWrites", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		committed := newOrders(t, s, newOrder("C1", "A1", now))[0]
		var fresh, dup, retake store.Order
		update(t, s, func(tx store.BackOfficeTx) error {
			var err error
			if fresh, err = tx.NewOrder(newOrder("C2", "A1", now), true); err != nil {
				return err
			}
			if o, ok, err := tx.Order(fresh.ID); err != nil || !ok {
				t.Errorf("tx.Order(new) = %v, %v", ok, err)
			} else {
				sameOrder(t, "tx.Order(new)", o, fresh)
			}
			if o, ok, err := tx.OrderByReqID(orderUser, "C2"); err != nil || !ok || o.ID != fresh.ID {
				t.Errorf("tx.OrderByReqID(orderUser, C2) = %d, %v, %v; want %d", o.ID, ok, err, fresh.ID)
			}
			if _, err := s.Order(ctx, fresh.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("store sees the new order before commit: %v", err)
			}
			if _, err := s.OrderByReqID(ctx, orderUser, "C2"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("store sees the new index before commit: %v", err)
			}

			if dup, err = tx.NewOrder(newOrder("C1", "B2", now), false); err != nil {
				return err
			}
			if o, ok, err := tx.OrderByReqID(orderUser, "C1"); err != nil || !ok || o.ID != committed.ID {
				t.Errorf("tx.OrderByReqID(orderUser, C1) after an unindexed duplicate = %d, %v, %v; want %d", o.ID, ok, err, committed.ID)
			}
			if retake, err = tx.NewOrder(newOrder("C1", "C3", now), true); err != nil {
				return err
			}
			if o, ok, err := tx.OrderByReqID(orderUser, "C1"); err != nil || !ok || o.ID != retake.ID || o.AccountCode != "C3" {
				t.Errorf("tx.OrderByReqID(orderUser, C1) after an indexed one = %d, %v, %v; want %d", o.ID, ok, err, retake.ID)
			}
			if o, err := s.OrderByReqID(ctx, orderUser, "C1"); err != nil || o.ID != committed.ID {
				t.Errorf("store's OrderByReqID(C1) before commit = %d, %v; want %d", o.ID, err, committed.ID)
			}

			c, ok, err := tx.Order(committed.ID)
			if err != nil || !ok {
				t.Fatalf("tx.Order(committed) = %v, %v", ok, err)
			}
			c.Status = store.OrderPendingCancel
			if err := tx.PutOrder(c); err != nil {
				return err
			}
			f := fresh
			f.Status = store.OrderFilled
			return tx.PutOrder(f)
		})
		if committed.ID >= fresh.ID || fresh.ID >= dup.ID || dup.ID >= retake.ID {
			t.Errorf("IDs %d, %d, %d, %d: not increasing", committed.ID, fresh.ID, dup.ID, retake.ID)
		}
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{retake.ID, dup.ID, fresh.ID, committed.ID})
		for id, want := range map[int64]struct {
			status store.OrderStatus
			seq    int64
		}{committed.ID: {store.OrderPendingCancel, 2}, fresh.ID: {store.OrderFilled, 2}, dup.ID: {store.OrderNew, 1}, retake.ID: {store.OrderNew, 1}} {
			got, err := s.Order(ctx, id)
			must(t, err)
			if got.Status != want.status || got.Seq != want.seq {
				t.Errorf("order %d: %s Seq %d, want %s Seq %d", id, got.Status, got.Seq, want.status, want.seq)
			}
		}
		for req, want := range map[string]int64{"C1": retake.ID, "C2": fresh.ID} {
			got, err := s.OrderByReqID(ctx, orderUser, req)
			must(t, err)
			if got.ID != want {
				t.Errorf("OrderByReqID(%s) = %d, want %d", req, got.ID, want)
			}
		}
	})

	su.test(t, "FnErrorWritesNothing", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		acc := cashAccount("A1", "1000000", now)
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(acc) })
		before := newOrders(t, s, newOrder("C1", "A1", now))[0]
		boom := errors.New("boom")
		var lost store.Order
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			a, _, err := tx.Account("A1")
			if err != nil {
				return err
			}
			a.CashAvailable, a.CashHold = a.CashAvailable.Sub(dec("100000")), a.CashHold.Add(dec("100000"))
			if err := tx.PutAccount(a); err != nil {
				return err
			}
			if lost, err = tx.NewOrder(newOrder("C2", "A1", now), true); err != nil {
				return err
			}
			// And a second order taking C1's index, and a change to C1.
			if _, err := tx.NewOrder(newOrder("C1", "A1", now), true); err != nil {
				return err
			}
			b := before
			b.Status = store.OrderCanceled
			if err := tx.PutOrder(b); err != nil {
				return err
			}
			tx.Audit(newAudit("trader@example.com", "ORDER_NEW", "order", "C2", now))
			return fmt.Errorf("after writing: %w", boom)
		})
		wantErr(t, "UpdateBackOffice", err, boom)
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{before.ID})
		_, err = s.Order(ctx, lost.ID)
		wantErr(t, "the failed transaction's order", err, store.ErrNotFound)
		_, err = s.OrderByReqID(ctx, orderUser, "C2")
		wantErr(t, "the failed transaction's index", err, store.ErrNotFound)
		got, err := s.OrderByReqID(ctx, orderUser, "C1")
		must(t, err)
		sameOrder(t, "C1 after the failed transaction", got, before)
		wantAccountCash(t, s, "A1", "1000000", "0")
		wantAudit(t, s, store.AuditFilter{})

		// The failed transaction's ID is a gap; the next order is listed after it.
		next := newOrders(t, s, newOrder("C2", "A1", now))[0]
		if next.ID <= lost.ID {
			t.Errorf("next order ID %d, want past the failed transaction's %d", next.ID, lost.ID)
		}
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{next.ID, before.ID})
		wantOrderIDs(t, s, store.OrderFilter{OriginalReqID: "C2"}, []int64{next.ID})
	})

	su.test(t, "Invalid", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		acc := cashAccount("A1", "1000000", now)
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(acc) })
		existing := newOrders(t, s, newOrder("C1", "A1", now))[0]
		bad := func(mod func(o *store.Order)) store.Order {
			o := newOrder("BAD", "A1", now)
			mod(&o)
			return o
		}
		newBad := func(mod func(o *store.Order)) func(tx store.BackOfficeTx) error {
			return func(tx store.BackOfficeTx) error {
				_, err := tx.NewOrder(bad(mod), true)
				return err
			}
		}
		putBad := func(mod func(o *store.Order)) func(tx store.BackOfficeTx) error {
			return func(tx store.BackOfficeTx) error {
				o := existing
				mod(&o)
				return tx.PutOrder(o)
			}
		}
		for name, fn := range map[string]func(tx store.BackOfficeTx) error{
			"new without ClOrdID":       newBad(func(o *store.Order) { o.OriginalReqID = "" }),
			"new with NUL in ClOrdID":   newBad(func(o *store.Order) { o.OriginalReqID = "C\x001" }),
			"new with negative cash":    newBad(func(o *store.Order) { o.Hold.Cash = dec("-0.0001") }),
			"new with negative stock":   newBad(func(o *store.Order) { o.Hold.Stock = -1 }),
			"new with negative filled":  newBad(func(o *store.Order) { o.FilledQty = -1 }),
			"new with negative cancels": newBad(func(o *store.Order) { o.CancelledQty = -1 }),
			"unindexed without ClOrdID": func(tx store.BackOfficeTx) error {
				_, err := tx.NewOrder(bad(func(o *store.Order) { o.OriginalReqID = "" }), false)
				return err
			},
			"put with ID 0":           putBad(func(o *store.Order) { o.ID = 0 }),
			"put with negative ID":    putBad(func(o *store.Order) { o.ID = -1 }),
			"put without ClOrdID":     putBad(func(o *store.Order) { o.OriginalReqID = "" }),
			"put with negative cash":  putBad(func(o *store.Order) { o.Hold.Cash = dec("-1") }),
			"put with negative stock": putBad(func(o *store.Order) { o.Hold.Stock = -5 }),
			"put a new order without ID": func(tx store.BackOfficeTx) error {
				return tx.PutOrder(bad(func(o *store.Order) { o.ID = 0 }))
			},
			"valid new then invalid put": func(tx store.BackOfficeTx) error {
				o, err := tx.NewOrder(newOrder("BAD", "A1", now), true)
				if err != nil {
					return err
				}
				o.Hold.Cash = dec("-100000")
				return tx.PutOrder(o)
			},
		} {
			_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				// Queued before the failure: must not land either.
				a, _, err := tx.Account("A1")
				if err != nil {
					return err
				}
				a.CashAvailable, a.CashHold = dec("0"), dec("1000000")
				if err := tx.PutAccount(a); err != nil {
					return err
				}
				tx.Audit(newAudit("trader@example.com", "ORDER_NEW", "order", "BAD", now))
				return fn(tx)
			})
			wantErr(t, name, err, store.ErrInvalid)
		}
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{existing.ID})
		got, err := s.Order(ctx, existing.ID)
		must(t, err)
		sameOrder(t, "existing order", got, existing)
		_, err = s.OrderByReqID(ctx, orderUser, "BAD")
		wantErr(t, "OrderByReqID(BAD)", err, store.ErrNotFound)
		wantAccountCash(t, s, "A1", "1000000", "0")
		wantAudit(t, s, store.AuditFilter{})

		// A refused order is not buffered: fn going on after the error
		// commits its other writes without it.
		update(t, s, func(tx store.BackOfficeTx) error {
			_, err := tx.NewOrder(bad(func(o *store.Order) { o.Hold.Cash = dec("-1") }), true)
			wantErr(t, "NewOrder with negative cash", err, store.ErrInvalid)
			err = tx.PutOrder(bad(func(o *store.Order) { o.ID = 0 }))
			wantErr(t, "PutOrder with ID 0", err, store.ErrInvalid)
			return tx.PutAccount(cashAccount("B2", "5", now))
		})
		wantAccountCash(t, s, "B2", "5", "0")
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{existing.ID})
		_, err = s.OrderByReqID(ctx, orderUser, "BAD")
		wantErr(t, "OrderByReqID(BAD) after a refused NewOrder", err, store.ErrNotFound)
	})

	su.test(t, "Filters", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		base := now.Add(-time.Hour)
		type spec struct {
			req, acct, sym, isin string
			status               store.OrderStatus
			orig                 string
			createdMs            int64
			index                bool
		}
		specs := []spec{ // IDs 1..6; creation times out of ID order on purpose
			{"R0", "A1", "VNM", "VN000000VNM8", store.OrderNew, "", 0, true},
			{"R1", "A1", "FPT", "VN000000FPT1", store.OrderFilled, "", 2000, true},
			{"R2", "B2", "VNM", "VN000000VNM8", store.OrderCanceled, "X1", 1000, true},
			{"R3", "C3", "HPG", "VN000000HPG2", store.OrderNew, "", 3000, true},
			{"R4", "B2", "FPT", "VN000000FPT1", store.OrderNew, "X1", 2000, true},
			{"R0", "C3", "VNM", "VN000000VNM8", store.OrderRejected, "", 1000, false},
		}
		made := map[int64]store.Order{}
		for i, sp := range specs {
			o := newOrder(sp.req, sp.acct, now)
			o.Symbol, o.ISIN, o.Status, o.OrigClOrdID = sp.sym, sp.isin, sp.status, sp.orig
			// Sub-millisecond parts are dropped: 999µs past a bound is still at it.
			o.CreatedAt = base.Add(time.Duration(sp.createdMs)*time.Millisecond + 999*time.Microsecond).In(ict)
			update(t, s, func(tx store.BackOfficeTx) error {
				got, err := tx.NewOrder(o, sp.index)
				if err != nil {
					return err
				}
				if got.ID != int64(i+1) {
					t.Errorf("order %d got ID %d", i+1, got.ID)
				}
				made[got.ID] = got
				return nil
			})
		}
		at := func(offMs int64) int64 { return base.UnixMilli() + offMs }
		for name, c := range map[string]struct {
			f    store.OrderFilter
			want []int64
		}{
			"none":                     {store.OrderFilter{}, []int64{6, 5, 4, 3, 2, 1}},
			"order id":                 {store.OrderFilter{OrderID: "3"}, []int64{3}},
			"order id newest":          {store.OrderFilter{OrderID: "6"}, []int64{6}},
			"order id oldest":          {store.OrderFilter{OrderID: "1"}, []int64{1}},
			"order id absent":          {store.OrderFilter{OrderID: "7"}, nil},
			"order id 0":               {store.OrderFilter{OrderID: "0"}, nil},
			"order id negative":        {store.OrderFilter{OrderID: "-1"}, nil},
			"order id not a number":    {store.OrderFilter{OrderID: "abc"}, nil},
			"order id with space":      {store.OrderFilter{OrderID: " 3"}, nil},
			"order id too big":         {store.OrderFilter{OrderID: "99999999999999999999"}, nil},
			"order id and account":     {store.OrderFilter{OrderID: "3", AccountCode: "B2"}, []int64{3}},
			"order id, other account":  {store.OrderFilter{OrderID: "3", AccountCode: "A1"}, nil},
			"order id, not granted":    {store.OrderFilter{OrderID: "3", Accounts: map[string]bool{"A1": true}}, nil},
			"order id, granted":        {store.OrderFilter{OrderID: "3", Accounts: map[string]bool{"B2": true}}, []int64{3}},
			"order id, other status":   {store.OrderFilter{OrderID: "3", Status: store.OrderNew}, nil},
			"order id and status":      {store.OrderFilter{OrderID: "3", Status: store.OrderCanceled}, []int64{3}},
			"order id, offset":         {store.OrderFilter{OrderID: "3", Offset: 1}, nil},
			"order id, other symbol":   {store.OrderFilter{OrderID: "3", Symbol: "FPT"}, nil},
			"order id, out of range":   {store.OrderFilter{OrderID: "3", FromMs: at(1001)}, nil},
			"original req id":          {store.OrderFilter{OriginalReqID: "R0"}, []int64{6, 1}},
			"original req id exact":    {store.OrderFilter{OriginalReqID: "r0"}, nil},
			"orig cl ord id":           {store.OrderFilter{OrigClOrdID: "X1"}, []int64{5, 3}},
			"account":                  {store.OrderFilter{AccountCode: "B2"}, []int64{5, 3}},
			"account exact":            {store.OrderFilter{AccountCode: "B"}, nil},
			"accounts nil":             {store.OrderFilter{Accounts: nil}, []int64{6, 5, 4, 3, 2, 1}},
			"accounts empty":           {store.OrderFilter{Accounts: map[string]bool{}}, nil},
			"accounts two":             {store.OrderFilter{Accounts: map[string]bool{"A1": true, "C3": true}}, []int64{6, 4, 2, 1}},
			"accounts false":           {store.OrderFilter{Accounts: map[string]bool{"B2": true, "A1": false}}, []int64{5, 3}},
			"account outside accounts": {store.OrderFilter{AccountCode: "A1", Accounts: map[string]bool{"C3": true}}, nil},
			"account inside accounts":  {store.OrderFilter{AccountCode: "C3", Accounts: map[string]bool{"C3": true, "A1": true}}, []int64{6, 4}},
			"symbol ticker":            {store.OrderFilter{Symbol: "VNM"}, []int64{6, 3, 1}},
			"symbol isin":              {store.OrderFilter{Symbol: "VN000000FPT1"}, []int64{5, 2}},
			"symbol other":             {store.OrderFilter{Symbol: "HPG"}, []int64{4}},
			"symbol exact":             {store.OrderFilter{Symbol: "vnm"}, nil},
			"status new":               {store.OrderFilter{Status: store.OrderNew}, []int64{5, 4, 1}},
			"status filled":            {store.OrderFilter{Status: store.OrderFilled}, []int64{2}},
			"status none":              {store.OrderFilter{Status: store.OrderExpired}, nil},
			"from":                     {store.OrderFilter{FromMs: at(1000)}, []int64{6, 5, 4, 3, 2}},
			"to":                       {store.OrderFilter{ToMs: at(2000)}, []int64{6, 3, 1}},
			"from to":                  {store.OrderFilter{FromMs: at(1000), ToMs: at(2000)}, []int64{6, 3}},
			"from inclusive":           {store.OrderFilter{FromMs: at(2000), ToMs: at(2001)}, []int64{5, 2}},
			"to exclusive":             {store.OrderFilter{FromMs: at(1999), ToMs: at(2000)}, nil},
			"from past the ms":         {store.OrderFilter{FromMs: at(1001), ToMs: at(3000)}, []int64{5, 2}},
			"from last":                {store.OrderFilter{FromMs: at(3000)}, []int64{4}},
			"to first":                 {store.OrderFilter{ToMs: at(1)}, []int64{1}},
			"to before all":            {store.OrderFilter{ToMs: at(0)}, nil},
			"all together":             {store.OrderFilter{Symbol: "VNM", Status: store.OrderNew, AccountCode: "A1", FromMs: at(0), ToMs: at(1)}, []int64{1}},
			"symbol and status":        {store.OrderFilter{Symbol: "VN000000VNM8", Status: store.OrderNew}, []int64{1}},
			"account and from":         {store.OrderFilter{AccountCode: "C3", FromMs: at(1000)}, []int64{6, 4}},
			"limit":                    {store.OrderFilter{Limit: 2}, []int64{6, 5}},
			"limit and offset":         {store.OrderFilter{Limit: 2, Offset: 2}, []int64{4, 3}},
			"offset":                   {store.OrderFilter{Offset: 5}, []int64{1}},
			"offset past the end":      {store.OrderFilter{Offset: 6}, nil},
			"negative offset":          {store.OrderFilter{Offset: -3, Limit: 2}, []int64{6, 5}},
			"filtered page":            {store.OrderFilter{Status: store.OrderNew, Limit: 1, Offset: 1}, []int64{4}},
			"filtered last page":       {store.OrderFilter{Status: store.OrderNew, Limit: 5, Offset: 2}, []int64{1}},
		} {
			t.Run(name, func(t *testing.T) {
				got, err := s.Orders(ctx, c.f)
				must(t, err)
				want := make([]store.Order, len(c.want))
				for i, id := range c.want {
					want[i] = made[id]
				}
				sameRecord(t, fmt.Sprintf("Orders(%+v)", c.f), normAll(got, normOrder), normAll(want, normOrder))
			})
		}
	})

	// Paging crosses the scan batches (256), the default limit and the cap.
	su.test(t, "Paging", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		base := now.Add(-time.Hour)
		const n = store.MaxOrderLimit + 20
		order := func(i int) store.Order {
			acct := "B"
			if i%3 == 0 {
				acct = "A3" // every third
			}
			o := store.Order{OriginalReqID: fmt.Sprintf("P%04d", i), User: orderUser, AccountCode: acct, Symbol: "VNM", Status: store.OrderNew,
				Price: dec("1000.5"), Qty: int64(i), CreatedAt: base.Add(time.Duration(i) * time.Millisecond)}
			return o
		}
		var ids []int64 // oldest first, ids[i] is order(i)'s
		var gap int64
		boom := errors.New("not this one")
		for _, r := range [][2]int{{0, 500}, {500, n}} {
			update(t, s, func(tx store.BackOfficeTx) error {
				ids = ids[:r[0]]
				for i := r[0]; i < r[1]; i++ {
					o, err := tx.NewOrder(order(i), i%2 == 0)
					if err != nil {
						return err
					}
					ids = append(ids, o.ID)
				}
				return nil
			})
			if r[0] == 0 {
				// A transaction that does not commit leaves a gap in the IDs.
				_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
					o, err := tx.NewOrder(store.Order{OriginalReqID: "gap", AccountCode: "gap", User: orderUser, CreatedAt: now}, true)
					gap = o.ID
					if err != nil {
						return err
					}
					return boom
				})
				wantErr(t, "fn's error", err, boom)
			}
		}
		if len(ids) != n || ids[0] != 1 || gap != 501 || ids[500] != 502 || ids[n-1] != n+1 {
			t.Fatalf("%d ids %v...%v, gap %d", len(ids), ids[:3], ids[len(ids)-3:], gap)
		}
		newest := reversed(ids)
		var third []int64 // newest first
		for i := n - 1; i >= 0; i-- {
			if i%3 == 0 {
				third = append(third, ids[i])
			}
		}
		wantOrderIDs(t, s, store.OrderFilter{}, newest[:store.DefaultOrderLimit])
		wantOrderIDs(t, s, store.OrderFilter{Limit: -1}, newest[:store.DefaultOrderLimit])
		wantOrderIDs(t, s, store.OrderFilter{Limit: 10}, newest[:10])
		wantOrderIDs(t, s, store.OrderFilter{Limit: 10, Offset: 250}, newest[250:260])
		wantOrderIDs(t, s, store.OrderFilter{Limit: 5, Offset: 254}, newest[254:259])
		wantOrderIDs(t, s, store.OrderFilter{Limit: 300, Offset: 200}, newest[200:500])
		wantOrderIDs(t, s, store.OrderFilter{Limit: store.MaxOrderLimit + 500}, newest[:store.MaxOrderLimit])
		wantOrderIDs(t, s, store.OrderFilter{Limit: store.MaxOrderLimit, Offset: store.MaxOrderLimit}, newest[store.MaxOrderLimit:])
		wantOrderIDs(t, s, store.OrderFilter{Offset: n}, nil)

		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "A3"}, third[:store.DefaultOrderLimit])
		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "A3", Limit: 20, Offset: 80}, third[80:100])
		wantOrderIDs(t, s, store.OrderFilter{Accounts: map[string]bool{"A3": true}, Limit: 7, Offset: 83}, third[83:90])
		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "A3", Limit: store.MaxOrderLimit}, third)
		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "A3", Limit: store.MaxOrderLimit, Offset: 300}, third[300:])
		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "A3", Offset: len(third)}, nil)
		// The oldest alone: every batch is scanned to find it.
		wantOrderIDs(t, s, store.OrderFilter{OriginalReqID: "P0000"}, ids[:1])
		wantOrderIDs(t, s, store.OrderFilter{OrderID: strconv.FormatInt(ids[0], 10)}, ids[:1])
		wantOrderIDs(t, s, store.OrderFilter{OrderID: strconv.FormatInt(ids[778], 10), AccountCode: "B"}, ids[778:779])
		// A window of creation times, every third in it.
		var window []int64
		for i := 599; i >= 300; i-- {
			if i%3 == 0 {
				window = append(window, ids[i])
			}
		}
		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "A3", FromMs: base.UnixMilli() + 300, ToMs: base.UnixMilli() + 600, Limit: store.MaxOrderLimit}, window)
		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "A3", FromMs: base.UnixMilli() + 300, ToMs: base.UnixMilli() + 600, Limit: 10, Offset: 95}, window[95:])
		// The uncommitted order is nowhere.
		wantOrderIDs(t, s, store.OrderFilter{AccountCode: "gap", Limit: store.MaxOrderLimit}, nil)
		wantOrderIDs(t, s, store.OrderFilter{OrderID: strconv.FormatInt(gap, 10)}, nil)
		_, err := s.Order(ctx, gap)
		wantErr(t, "the uncommitted order", err, store.ErrNotFound)
		_, err = s.OrderByReqID(ctx, orderUser, "gap")
		wantErr(t, "the uncommitted order's index", err, store.ErrNotFound)
		// Even-numbered ones were indexed, odd ones not.
		got, err := s.OrderByReqID(ctx, orderUser, "P0600")
		must(t, err)
		if got.ID != ids[600] || got.Qty != 600 || got.Price.String() != "1000.5" {
			t.Errorf("OrderByReqID(P0600) = %d qty %d price %s, want %d 600 1000.5", got.ID, got.Qty, got.Price, ids[600])
		}
		_, err = s.OrderByReqID(ctx, orderUser, "P0601")
		wantErr(t, "OrderByReqID(P0601)", err, store.ErrNotFound)
	})

	// The hold an order reserves commits with the order, or neither does.
	su.test(t, "HoldWithAccount", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(cashAccount("A1", "1000000", now)) })
		reserve := dec("250000.5")
		// reserveAndOrder holds cash on A1 for a new order.
		reserveAndOrder := func(tx store.BackOfficeTx, o store.Order) (store.Order, error) {
			a, ok, err := tx.Account("A1")
			if err != nil {
				return store.Order{}, err
			}
			if !ok {
				return store.Order{}, store.ErrNotFound
			}
			a.CashAvailable, a.CashHold = a.CashAvailable.Sub(o.Hold.Cash), a.CashHold.Add(o.Hold.Cash)
			if err := tx.PutAccount(a); err != nil {
				return store.Order{}, err
			}
			return tx.NewOrder(o, true)
		}
		buy := func(req string, hold decimal.Decimal) store.Order {
			o := newOrder(req, "A1", now)
			o.Hold = store.OrderHold{UnitPrice: dec("100000.2"), Cash: hold}
			return o
		}

		var c1 store.Order
		update(t, s, func(tx store.BackOfficeTx) error {
			var err error
			c1, err = reserveAndOrder(tx, buy("C1", reserve))
			return err
		})
		wantAccountCash(t, s, "A1", "749999.5", "250000.5")
		got, err := s.OrderByReqID(ctx, orderUser, "C1")
		must(t, err)
		if got.ID != c1.ID || got.Hold.Cash.String() != "250000.5" {
			t.Errorf("order C1: id %d hold %s", got.ID, got.Hold.Cash)
		}

		// fn's error: neither the hold nor the order.
		boom := errors.New("risk check failed")
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if _, err := reserveAndOrder(tx, buy("C2", reserve)); err != nil {
				return err
			}
			return boom
		})
		wantErr(t, "UpdateBackOffice", err, boom)
		// An invalid order: neither.
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			_, err := reserveAndOrder(tx, buy("C3", reserve.Neg()))
			return err
		})
		wantErr(t, "negative hold", err, store.ErrInvalid)
		wantAccountCash(t, s, "A1", "749999.5", "250000.5")
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{c1.ID})
		for _, req := range []string{"C2", "C3"} {
			_, err := s.OrderByReqID(ctx, orderUser, req)
			wantErr(t, "OrderByReqID("+req+")", err, store.ErrNotFound)
		}

		// The account changes under a transaction: its first run (hold and
		// order) is dropped whole and it runs again on the new balance.
		runs := 0
		var firstRunID int64
		var c4 store.Order
		update(t, s, func(tx store.BackOfficeTx) error {
			runs++
			a, _, err := tx.Account("A1")
			if err != nil {
				return err
			}
			if runs == 1 {
				update(t, s, func(tx store.BackOfficeTx) error {
					d, _, err := tx.Account("A1")
					if err != nil {
						return err
					}
					d.CashAvailable = d.CashAvailable.Add(dec("1000"))
					return tx.PutAccount(d)
				})
			}
			hold := reserve
			if a.CashAvailable.LessThan(hold) {
				hold = a.CashAvailable
			}
			c4, err = reserveAndOrder(tx, buy("C4", hold))
			if runs == 1 {
				firstRunID = c4.ID
			}
			return err
		})
		if runs != 2 {
			t.Errorf("fn ran %d times, want 2 (once more after the deposit)", runs)
		}
		a := wantAccountCash(t, s, "A1", "500999", "500001")
		if sum := a.CashAvailable.Add(a.CashHold); !sum.Equal(dec("1001000")) {
			t.Errorf("available + hold = %s, want 1001000", sum)
		}
		wantOrderIDs(t, s, store.OrderFilter{OriginalReqID: "C4"}, []int64{c4.ID})
		if firstRunID == c4.ID {
			t.Errorf("the dropped run's order ID %d was committed", firstRunID)
		}
		_, err = s.Order(ctx, firstRunID)
		wantErr(t, "the dropped run's order", err, store.ErrNotFound)

		// Cancelling C1 releases its hold in the same step.
		update(t, s, func(tx store.BackOfficeTx) error {
			o, ok, err := tx.OrderByReqID(orderUser, "C1")
			if err != nil || !ok {
				t.Fatalf("tx.OrderByReqID(orderUser, C1) = %v, %v", ok, err)
			}
			a, _, err := tx.Account(o.AccountCode)
			if err != nil {
				return err
			}
			a.CashAvailable, a.CashHold = a.CashAvailable.Add(o.Hold.Cash), a.CashHold.Sub(o.Hold.Cash)
			o.Status, o.CancelledQty, o.Hold = store.OrderCanceled, o.Qty-o.FilledQty, store.OrderHold{}
			if err := tx.PutAccount(a); err != nil {
				return err
			}
			return tx.PutOrder(o)
		})
		a = wantAccountCash(t, s, "A1", "750999.5", "250000.5")
		open, err := s.Orders(ctx, store.OrderFilter{AccountCode: "A1", Status: store.OrderNew})
		must(t, err)
		held := decimal.Zero
		for _, o := range open {
			held = held.Add(o.Hold.Cash)
		}
		if len(open) != 1 || open[0].ID != c4.ID || !held.Equal(a.CashHold) {
			t.Errorf("open orders %v hold %s, want [%d] holding the account's %s", orderIDs(open), held, c4.ID, a.CashHold)
		}
		got, err = s.Order(ctx, c1.ID)
		must(t, err)
		if got.Status != store.OrderCanceled || !got.Hold.Cash.IsZero() || got.Seq != 2 {
			t.Errorf("cancelled C1: %s hold %s Seq %d", got.Status, got.Hold.Cash, got.Seq)
		}
	})

	su.test(t, "CanceledContext", func(t *testing.T, s store.Store) {
		now := msNow()
		newOrders(t, s, newOrder("C1", "A1", now))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		errs := tradingCalls(ctx, s, now)
		for name, err := range errs {
			wantBackendErr(t, name, err)
			wantErr(t, name, err, store.ErrUnavailable)
		}
		if err := errs["Order"]; !errors.Is(err, context.Canceled) {
			t.Errorf("Order: %v does not wrap context.Canceled", err)
		}
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{1})
		got, err := s.Order(t.Context(), 1)
		must(t, err)
		if got.Seq != 1 || got.Status != store.OrderNew {
			t.Errorf("order after canceled calls: Seq %d %s", got.Seq, got.Status)
		}
	})

	su.test(t, "Close", func(t *testing.T, s store.Store) {
		now := msNow()
		newOrders(t, s, newOrder("C1", "A1", now))
		must(t, s.Close())
		for name, err := range tradingCalls(context.Background(), s, now) {
			wantBackendErr(t, name+" after Close", err)
			wantErr(t, name+" after Close", err, store.ErrUnavailable)
		}
	})

	// Races: 16 transactions start together on one account or one order,
	// and every first run reads before any commits.

	su.test(t, "HoldRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		update(t, s, func(tx store.BackOfficeTx) error { return tx.PutAccount(cashAccount("A1", "1000000", now)) })
		step := dec("100000")
		req := func(i int) string { return fmt.Sprintf("H%02d", i) }
		meet := newRendezvous(boRacers)
		errs := race(boRacers, func(i int) error {
			read := meet.racer()
			_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				a, ok, err := tx.Account("A1")
				read()
				if err != nil {
					return err
				}
				if !ok {
					return store.ErrNotFound
				}
				o := store.Order{OriginalReqID: req(i), ClOrdID: req(i), User: orderUser, AccountCode: "A1", Symbol: "VNM", Side: "B", Type: "LO",
					Price: dec("1000"), Qty: 100, CreatedAt: now}
				if a.CashAvailable.GreaterThanOrEqual(step) {
					a.CashAvailable, a.CashHold = a.CashAvailable.Sub(step), a.CashHold.Add(step)
					if err := tx.PutAccount(a); err != nil {
						return err
					}
					o.Status, o.Hold = store.OrderNew, store.OrderHold{UnitPrice: dec("1000"), Cash: step}
				} else {
					o.Status, o.Text = store.OrderRejected, "OMS|INSUFFICIENT_CASH|"+a.CashAvailable.String()
				}
				_, err = tx.NewOrder(o, true)
				return err
			})
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		a := wantAccountCash(t, s, "A1", "0", "1000000")
		all, err := s.Orders(ctx, store.OrderFilter{Limit: store.MaxOrderLimit})
		must(t, err)
		counts := map[store.OrderStatus]int{}
		held := decimal.Zero
		reqs := map[string]bool{}
		for _, o := range all {
			counts[o.Status]++
			reqs[o.OriginalReqID] = true
			switch o.Status {
			case store.OrderNew:
				if !o.Hold.Cash.Equal(step) {
					t.Errorf("NEW order %s holds %s, want %s", o.OriginalReqID, o.Hold.Cash, step)
				}
				held = held.Add(o.Hold.Cash)
			case store.OrderRejected:
				if !o.Hold.Cash.IsZero() {
					t.Errorf("REJECTED order %s holds %s", o.OriginalReqID, o.Hold.Cash)
				}
			}
			byReq, err := s.OrderByReqID(ctx, orderUser, o.OriginalReqID)
			if err != nil || byReq.ID != o.ID {
				t.Errorf("OrderByReqID(%s) = %d, %v; want %d", o.OriginalReqID, byReq.ID, err, o.ID)
			}
		}
		if len(all) != boRacers || len(reqs) != boRacers || counts[store.OrderNew] != 10 || counts[store.OrderRejected] != 6 {
			t.Errorf("%d orders (%d ClOrdIDs): %d NEW, %d REJECTED; want %d: 10 NEW, 6 REJECTED", len(all), len(reqs), counts[store.OrderNew], counts[store.OrderRejected], boRacers)
		}
		if !held.Equal(a.CashHold) || a.CashAvailable.IsNegative() {
			t.Errorf("NEW orders hold %s, account holds %s (available %s): money not conserved", held, a.CashHold, a.CashAvailable)
		}
		wantOrderIDs(t, s, store.OrderFilter{Status: store.OrderNew, Limit: 5, Offset: 8}, orderIDs(filterOrders(all, store.OrderNew))[8:])
	})

	su.test(t, "CancelRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		o := newOrders(t, s, newOrder("C1", "A1", now))[0]
		already := errors.New("not NEW any more")
		cancelID := func(i int) string { return fmt.Sprintf("X%02d", i) }
		meet := newRendezvous(boRacers)
		errs := race(boRacers, func(i int) error {
			read := meet.racer()
			_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				cur, ok, err := tx.OrderByReqID(orderUser, "C1")
				read()
				if err != nil {
					return err
				}
				if !ok {
					return store.ErrNotFound
				}
				if cur.Status != store.OrderNew {
					return fmt.Errorf("order %d is %s: %w", cur.ID, cur.Status, already)
				}
				cur.Status, cur.OrigClOrdID, cur.ClOrdID = store.OrderPendingCancel, cur.ClOrdID, cancelID(i)
				return tx.PutOrder(cur)
			})
			return err
		})
		w := oneWinner(t, errs, already)
		got, err := s.Order(ctx, o.ID)
		must(t, err)
		if got.Status != store.OrderPendingCancel || got.Seq != 2 || got.ClOrdID != cancelID(w) || got.OrigClOrdID != "C1" {
			t.Errorf("order after the race: %s Seq %d ClOrdID %q OrigClOrdID %q; want PENDING_CANCEL Seq 2 by the winner %q",
				got.Status, got.Seq, got.ClOrdID, got.OrigClOrdID, cancelID(w))
		}
		wantOrderIDs(t, s, store.OrderFilter{}, []int64{o.ID})
	})

	su.test(t, "DuplicateClOrdIDRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		made := make([]store.Order, boRacers)
		meet := newRendezvous(boRacers)
		errs := race(boRacers, func(i int) error {
			read := meet.racer()
			_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				_, exists, err := tx.OrderByReqID(orderUser, "D1")
				read()
				if err != nil {
					return err
				}
				// One user's namespace; the racers' accounts tell them apart.
				o := newOrder("D1", fmt.Sprintf("A%02d", i), now)
				if exists {
					o.Status, o.Text, o.Hold = store.OrderRejected, "OMS|DUPLICATE_CLORDID|", store.OrderHold{}
				}
				made[i], err = tx.NewOrder(o, !exists) // the last run is the one committed
				return err
			})
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		all, err := s.Orders(ctx, store.OrderFilter{OriginalReqID: "D1", Limit: store.MaxOrderLimit})
		must(t, err)
		var news []store.Order
		users := map[string]bool{} // accounts, one per racer
		for _, o := range all {
			users[o.AccountCode] = true
			if o.Status == store.OrderNew {
				news = append(news, o)
			} else if o.Status != store.OrderRejected {
				t.Errorf("order %d is %s", o.ID, o.Status)
			}
		}
		if len(all) != boRacers || len(users) != boRacers || len(news) != 1 {
			t.Fatalf("%d orders from %d racers, %d NEW; want %d, %d, 1", len(all), len(users), len(news), boRacers, boRacers)
		}
		byReq, err := s.OrderByReqID(ctx, orderUser, "D1")
		must(t, err)
		if byReq.ID != news[0].ID {
			t.Errorf("OrderByReqID(D1) = order %d (%s), want the NEW one %d", byReq.ID, byReq.Status, news[0].ID)
		}
		for i, m := range made {
			got, err := s.Order(ctx, m.ID)
			if err != nil {
				t.Errorf("racer %d's committed order %d: %v", i, m.ID, err)
				continue
			}
			sameOrder(t, fmt.Sprintf("racer %d's order", i), got, m)
		}
	})
}

// wantOpen asserts OpenOrders lists exactly these ids, newest first.
func wantOpen(t *testing.T, s store.Store, want ...int64) {
	t.Helper()
	got, err := s.OpenOrders(t.Context())
	must(t, err)
	if g := orderIDs(got); !slices.Equal(g, want) {
		t.Errorf("OpenOrders = %v, want %v", g, want)
	}
}

func (su suite) openOrders(t *testing.T) {
	su.test(t, "OpenOrders", func(t *testing.T, s store.Store) {
		now := msNow()
		wantOpen(t, s)
		done := newOrder("O0", "A1", now)
		done.Status = store.OrderRejected // entered already done
		os := newOrders(t, s, done, newOrder("O1", "A1", now), newOrder("O2", "A1", now), newOrder("O3", "A2", now))
		wantOpen(t, s, os[3].ID, os[2].ID, os[1].ID)
		// A pending state is open; filled and cancelled are not.
		for i, st := range map[int]store.OrderStatus{1: store.OrderPendingCancel, 2: store.OrderFilled, 3: store.OrderCanceled} {
			update(t, s, func(tx store.BackOfficeTx) error {
				o, _, err := tx.Order(os[i].ID)
				if err != nil {
					return err
				}
				o.Status = st
				return tx.PutOrder(o)
			})
		}
		wantOpen(t, s, os[1].ID)
		got, err := s.OpenOrders(t.Context())
		must(t, err)
		if len(got) == 1 && got[0].Status != store.OrderPendingCancel {
			t.Errorf("the open order is %s, want its stored PENDING_CANCEL", got[0].Status)
		}
		// A rolled-back transaction leaves the index as it was.
		_, _ = s.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
			o, _, err := tx.Order(os[1].ID)
			if err != nil {
				return err
			}
			o.Status = store.OrderCanceled
			if err := tx.PutOrder(o); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		wantOpen(t, s, os[1].ID)
	})

	su.test(t, "OpenOrdersRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		seed := make([]store.Order, boRacers)
		for i := range seed {
			seed[i] = newOrder(fmt.Sprintf("R%02d", i), "A1", now)
		}
		seed = newOrders(t, s, seed...)
		// Each racer ends its own order (odd ones) or enters a new one and
		// amends its own (even ones), all at once.
		meet := newRendezvous(boRacers)
		errs := race(boRacers, func(i int) error {
			read := meet.racer()
			_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				o, _, err := tx.Order(seed[i].ID)
				read()
				if err != nil {
					return err
				}
				if i%2 == 1 {
					o.Status = store.OrderFilled
					return tx.PutOrder(o)
				}
				o.Status = store.OrderPartiallyFill
				if err := tx.PutOrder(o); err != nil {
					return err
				}
				_, err = tx.NewOrder(newOrder(fmt.Sprintf("N%02d", i), "A2", now), true)
				return err
			})
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		all, err := s.Orders(ctx, store.OrderFilter{Limit: store.MaxOrderLimit})
		must(t, err)
		var want []int64
		for _, o := range all {
			if !o.Status.Done() {
				want = append(want, o.ID)
			}
		}
		if len(want) != boRacers {
			t.Errorf("%d open orders after the race, want %d", len(want), boRacers)
		}
		wantOpen(t, s, want...)
	})
}

// rendezvous makes racing transactions overlap for certain: each racer's
// first run waits, after its reads, until every racer has read, so all of
// them read the same state before any commits. Later runs (after a stale
// commit) go straight on.
type rendezvous struct{ wg sync.WaitGroup }

func newRendezvous(n int) *rendezvous {
	r := &rendezvous{}
	r.wg.Add(n)
	return r
}

// racer returns the function one racer calls after its reads on every run.
func (r *rendezvous) racer() func() {
	first := true
	return func() {
		if first {
			first = false
			r.wg.Done()
			r.wg.Wait()
		}
	}
}

func filterOrders(os []store.Order, status store.OrderStatus) []store.Order {
	var out []store.Order
	for _, o := range os {
		if o.Status == status {
			out = append(out, o)
		}
	}
	return out
}

// tradingCalls makes every trading call once and returns the errors by name.
func tradingCalls(ctx context.Context, s store.Store, now time.Time) map[string]error {
	errs := map[string]error{}
	_, errs["Order"] = s.Order(ctx, 1)
	_, errs["OrderByReqID"] = s.OrderByReqID(ctx, orderUser, "C1")
	_, errs["Orders"] = s.Orders(ctx, store.OrderFilter{})
	_, errs["Orders by id"] = s.Orders(ctx, store.OrderFilter{OrderID: "1"})
	_, errs["OpenOrders"] = s.OpenOrders(ctx)
	_, errs["UpdateBackOffice reading order"] = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		o, _, err := tx.OrderByReqID(orderUser, "C1")
		if err != nil {
			return err
		}
		o.Status = store.OrderPendingCancel
		return tx.PutOrder(o)
	})
	_, errs["UpdateBackOffice new order"] = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		_, err := tx.NewOrder(newOrder("C2", "A1", now), true)
		return err
	})
	// A blind put: only the commit meets the backend.
	_, errs["UpdateBackOffice put order"] = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		o := newOrder("C1", "A1", now)
		o.ID = 1
		return tx.PutOrder(o)
	})
	return errs
}
