package backoffice

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// An account decoded from the memo is the caller's own: changing its
// holdings in place (Account.SetHolding) does not change what the next
// decode of the same text returns.
func TestMemoizedAccountsAreCopies(t *testing.T) {
	a := store.Account{AccountCode: "MEMO1", CashAvailable: decimal.NewFromInt(5), CashHold: decimal.Zero,
		Holdings: []store.Holding{{Symbol: "VN000000FPT1", SellableQty: 10, AvgPrice: decimal.NewFromInt(1),
			Pending: []store.DueShares{{Date: "2026-12-08", Qty: 3}}}}}
	text, err := encodeAccount(a)
	if err != nil {
		t.Fatal(err)
	}
	first, err := decodeAccount(text)
	if err != nil {
		t.Fatal(err)
	}
	first.Holdings[0].SellableQty = 999
	first.Holdings[0].Pending[0].Qty = 999
	first.SetHolding(store.Holding{Symbol: "VN000000VNM8", SellableQty: 1, AvgPrice: decimal.NewFromInt(1)})
	again, err := decodeAccount(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Holdings) != 1 || again.Holdings[0].SellableQty != 10 || again.Holdings[0].Pending[0].Qty != 3 {
		t.Fatalf("a second decode sees the first caller's changes: %+v", again.Holdings)
	}
}
