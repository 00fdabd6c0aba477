package trading

import "testing"

// Odd lots trade in their own book: an odd-lot buy does not match a
// round-lot sell at its price, and does match an odd-lot sell.
func TestOddLotsHaveTheirOwnBook(t *testing.T) {
	h := newHarness(t, propAccounts())
	submit := func(acct int, side, price string, qty int64, ref string) {
		t.Helper()
		if _, err := h.svc.Submit(h.ctx, h.accts[acct].user, NewOrder{Account: h.accts[acct].code, Symbol: "FPT", Side: side, Type: "LO", Price: &price, Qty: qty, RefOrderID: ref}); err != nil {
			t.Fatal(err)
		}
	}
	status := func(ref string) (string, int64, string) {
		t.Helper()
		o, err := orderByRef(h.ctx, h.st, ref)
		if err != nil {
			t.Fatal(err)
		}
		return string(o.Status), o.FilledQty, o.Board
	}
	submit(0, "S", "100000", 100, "round-sell")
	submit(1, "B", "100000", 50, "odd-buy")
	if st, filled, board := status("odd-buy"); st != "NEW" || filled != 0 || board != "G4" {
		t.Fatalf("odd-lot buy against a round-lot sell: %s filled %d on %s", st, filled, board)
	}
	submit(0, "S", "100000", 30, "odd-sell")
	if st, filled, _ := status("odd-buy"); st != "PARTIALLY_FILLED" || filled != 30 {
		t.Fatalf("odd-lot buy against an odd-lot sell: %s filled %d", st, filled)
	}
	if st, filled, _ := status("round-sell"); st != "NEW" || filled != 0 {
		t.Fatalf("the round-lot sell: %s filled %d", st, filled)
	}
	if bad := h.checkAll(); len(bad) > 0 {
		t.Fatal(bad)
	}
}
