package trading

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// A ClOrdID used again on a later trading date names the new order, even
// one this service did not enter itself (another writer of the store):
// the service's memory of the ClOrdIDs it entered (reqids.go) is trusted
// only on the date it was made.
func TestClOrdIDReusedNextDayNamesTheNewOrder(t *testing.T) {
	h := newHarness(t, propAccounts())
	h.mustSubmit(0, "B", "99000", 100, "again")
	first := h.order("again")
	if _, err := h.svc.NextDay(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.setSession(market.Continuous); err != nil {
		t.Fatal(err)
	}
	next := first
	next.ID, next.TradingDate, next.Status, next.Hold, next.Text = 0, h.clock.TradingDate(), store.OrderPendingNew, store.OrderHold{}, ""
	if _, err := h.st.UpdateBackOffice(h.ctx, func(tx store.BackOfficeTx) error {
		_, err := tx.NewOrder(next, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Cancel(h.ctx, h.accts[0].user, CancelRequest{OrderID: "again", RequestID: "again-x"}); err != nil {
		t.Fatal(err)
	}
	second := h.order("again")
	if second.ID == first.ID || second.Status != store.OrderCanceled {
		t.Fatalf("the cancel reached order %d (%s, first %d), want the new order, cancelled", second.ID, second.Status, first.ID)
	}
}

func reqIDOrder(id int64, user, reqID, isin, date string) store.Order {
	return store.Order{ID: id, User: user, OriginalReqID: reqID, ISIN: isin, TradingDate: date}
}

func TestReqIDCacheHitsOnlyTodaysExactKey(t *testing.T) {
	c := newReqIDCache(8)
	const today = "2026-12-07"
	c.add(reqIDOrder(1, "u1", "ab", "VN000000FPT1", today), today)
	c.add(reqIDOrder(2, "u1", "old", "VN000000FPT1", "2026-12-04"), today) // not today's: not kept
	if id, isin, ok := c.get("u1", "ab", today); !ok || id != 1 || isin != "VN000000FPT1" {
		t.Fatalf("get(u1, ab) = %d %q %v", id, isin, ok)
	}
	for _, k := range [][2]string{{"u2", "ab"}, {"u1", "a"}, {"u1a", "b"}, {"u", "1ab"}, {"u1", "old"}} {
		if id, _, ok := c.get(k[0], k[1], today); ok {
			t.Errorf("get(%q, %q) hit order %d", k[0], k[1], id)
		}
	}
	if _, _, ok := c.get("u1", "ab", "2026-12-08"); ok {
		t.Error("an entry of yesterday hit on the next trading date")
	}
	// The next date's first entry starts the cache again.
	c.add(reqIDOrder(3, "u1", "cd", "VN000000HPG1", "2026-12-08"), "2026-12-08")
	if _, _, ok := c.get("u1", "ab", today); ok {
		t.Error("yesterday's entry survived the next date's first")
	}
	if id, isin, ok := c.get("u1", "cd", "2026-12-08"); !ok || id != 3 || isin != "VN000000HPG1" {
		t.Errorf("get(u1, cd) = %d %q %v", id, isin, ok)
	}
}

// The cache keeps its size most recent additions: the oldest goes first,
// and adding a key again updates it in place.
func TestReqIDCacheEvictsTheOldest(t *testing.T) {
	const size, today = 4, "2026-12-07"
	c := newReqIDCache(size)
	for i := range size {
		c.add(reqIDOrder(int64(i), "u", fmt.Sprint(i), "I", today), today)
	}
	c.add(reqIDOrder(100, "u", "0", "J", today), today) // again: no new place
	if id, isin, ok := c.get("u", "0", today); !ok || id != 100 || isin != "J" {
		t.Fatalf("updated entry: %d %q %v", id, isin, ok)
	}
	c.add(reqIDOrder(4, "u", "4", "I", today), today) // evicts "0", the oldest
	c.add(reqIDOrder(5, "u", "5", "I", today), today) // evicts "1"
	for i := range 6 {
		_, _, ok := c.get("u", fmt.Sprint(i), today)
		if want := i >= 2; ok != want {
			t.Errorf("entry %d: remembered %v, want %v", i, ok, want)
		}
	}
	if len(c.byKey) != size || len(c.ring) != size {
		t.Errorf("%d keys, ring of %d; want %d", len(c.byKey), len(c.ring), size)
	}
}

// The collector never scans the cache's map or ring: neither their keys
// nor their values may hold a pointer (a string, a slice, a map).
func TestReqIDCacheHoldsNoPointers(t *testing.T) {
	for _, v := range []any{reqIDKey{}, reqIDSlot{}} {
		if p := pointerIn(reflect.TypeOf(v)); p != "" {
			t.Errorf("%T holds a pointer: %s", v, p)
		}
	}
}

func pointerIn(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Array:
		return pointerIn(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if p := pointerIn(t.Field(i).Type); p != "" {
				return t.Field(i).Name + ": " + p
			}
		}
		return ""
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	default:
		return t.String()
	}
}

func TestReqIDCacheConcurrent(t *testing.T) {
	const today = "2026-12-07"
	c := newReqIDCache(64)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				ref := fmt.Sprintf("%d-%d", g, i)
				c.add(reqIDOrder(int64(g*1000+i), "u", ref, fmt.Sprint("I", i%7), today), today)
				if id, _, ok := c.get("u", ref, today); ok && id != int64(g*1000+i) {
					t.Errorf("%s: order %d", ref, id)
				}
			}
		})
	}
	wg.Wait()
	if len(c.byKey) != 64 {
		t.Errorf("%d keys, want 64", len(c.byKey))
	}
}
