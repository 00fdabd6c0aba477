package trading

import (
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
