package trading

import (
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/store"
)

// An order keeps the channel it came in on: a replace is checked on it,
// whoever sends the replace. Short selling is allowed on FIX only here, so
// a FIX sell may grow past the shares held and a REST sell may not.
func TestReplaceIsCheckedOnTheOrdersChannel(t *testing.T) {
	const fpt = "VN000000FPT1"
	h := newHarness(t, []propAccount{
		{"CHAN01", "chan1@example.com", "0", []store.Holding{{Symbol: fpt, SellableQty: 100, AvgPrice: dec("100000")}}},
		{"CHAN02", "chan2@example.com", "0", []store.Holding{{Symbol: fpt, SellableQty: 100, AvgPrice: dec("100000")}}},
	})
	if _, err := h.st.UpdateBackOffice(h.ctx, func(tx store.BackOfficeTx) error {
		return tx.PutRiskRule(store.RiskRule{Kind: store.RuleShortAllowed, Scope: store.ScopeChannel, Target: pretrade.ChannelFIX, Value: dec("1")})
	}); err != nil {
		t.Fatal(err)
	}
	price := "101000"
	sell := func(a propAccount, ref, channel string) {
		t.Helper()
		if _, err := h.svc.Submit(h.ctx, a.user, NewOrder{Account: a.code, Symbol: "FPT", Side: "S", Type: "LO", Price: &price, Qty: 100, RefOrderID: ref, Channel: channel}); err != nil {
			t.Fatalf("sell %s: %v", ref, err)
		}
		if o := h.order(ref); o.Status != store.OrderNew || o.Channel != channel {
			t.Fatalf("sell %s: %s on %q", ref, o.Status, o.Channel)
		}
	}
	sell(h.accts[0], "over-fix", pretrade.ChannelFIX)
	sell(h.accts[1], "over-rest", "")

	if _, err := h.svc.Replace(h.ctx, h.accts[0].user, ReplaceRequest{OrderID: "over-fix", RequestID: "over-fix-2", Price: price, Qty: 200}); err != nil {
		t.Fatalf("a FIX order's replace past its shares, short selling allowed on FIX: %v", err)
	}
	_, err := h.svc.Replace(h.ctx, h.accts[1].user, ReplaceRequest{OrderID: "over-rest", RequestID: "over-rest-2", Price: price, Qty: 200})
	if err == nil || !strings.Contains(err.Error(), "|-900001|") {
		t.Fatalf("a REST order's replace past its shares: %v, want the -900001 refusal", err)
	}
	if o := h.order("over-rest"); o.Qty != 100 || o.Hold.Stock != 100 {
		t.Fatalf("the refused replace changed the order: qty %d, holding %d shares", o.Qty, o.Hold.Stock)
	}
	// The short: 200 offered, the 100 shares held (mustAgree's invariants
	// assume no short selling, so they are not asked here).
	if o := h.order("over-fix"); o.Qty != 200 || o.Hold.Stock != 100 {
		t.Fatalf("the FIX order after its replace: qty %d, holding %d shares", o.Qty, o.Hold.Stock)
	}
}

// A trailing stop's move is checked on the order's channel too: short
// selling is allowed on FIX only, and a FIX trailing sell for more than
// the shares held follows the market up (checked as REST, its new hold
// would be refused and the stop would stay where it was).
func TestTrailingMoveIsCheckedOnTheOrdersChannel(t *testing.T) {
	h := newHarness(t, propAccounts())
	if _, err := h.st.UpdateBackOffice(h.ctx, func(tx store.BackOfficeTx) error {
		return tx.PutRiskRule(store.RiskRule{Kind: store.RuleShortAllowed, Scope: store.ScopeChannel, Target: pretrade.ChannelFIX, Value: dec("1")})
	}); err != nil {
		t.Fatal(err)
	}
	price, stopPx, offset := "98500", "99000", "1000"
	a := h.accts[3] // 1 000 FPT
	in := NewOrder{Account: a.code, Symbol: "FPT", Side: "S", Type: "LO", Price: &price, StopPx: &stopPx, StopOffset: &offset,
		Qty: 1500, RefOrderID: "trail-fix", Channel: pretrade.ChannelFIX}
	if _, err := h.svc.Submit(h.ctx, a.user, in); err != nil {
		t.Fatal(err)
	}
	if o := h.order("trail-fix"); o.Hold.Stock != 1000 || o.Channel != pretrade.ChannelFIX {
		t.Fatalf("the FIX trailing sell holds %d shares on %q, want 1 000 on FIX", o.Hold.Stock, o.Channel)
	}
	h.trade("100500", 100, "up") // 100 500 - 1 000 = 99 500 > 99 000: moves up by 500
	wantWaiting(t, h.order("trail-fix"), "99000", "99500")
	if o := h.order("trail-fix"); o.Hold.Stock != 1000 {
		t.Fatalf("after the move the stop holds %d shares, want 1 000", o.Hold.Stock)
	}
}
