package store

import (
	"testing"

	"github.com/shopspring/decimal"
)

// Pending quantities and cash keep one entry per date, sorted; Settle
// moves exactly what is due on or before the date and nothing else.
func TestSettleMovesWhatIsDue(t *testing.T) {
	d := decimal.RequireFromString
	a := Account{AccountCode: "A1", CashAvailable: d("100")}
	a.AddPendingCash("2027-01-12", d("50"))
	a.AddPendingCash("2027-01-11", d("7"))
	a.AddPendingCash("2027-01-12", d("0.5"))
	fpt := Holding{Symbol: "FPT", SellableQty: 10}
	fpt.AddPending("2027-01-12", 100)
	fpt.AddPending("2027-01-13", 5)
	fpt.AddPending("2027-01-12", 1)
	a.SetHolding(fpt)
	vnm := Holding{Symbol: "VNM"} // only pending: still a position
	vnm.AddPending("2027-01-13", 300)
	a.SetHolding(vnm)
	if len(a.Holdings) != 2 || a.PendingCash().String() != "57.5" || len(a.CashPending) != 2 || a.CashPending[0].Date != "2027-01-11" {
		t.Fatalf("pending: %+v", a)
	}
	if h, _ := a.Holding("FPT"); h.PendingQty() != 106 || h.Position() != 116 || len(h.Pending) != 2 {
		t.Fatalf("FPT pending: %+v", h)
	}

	same, none := a.Settle("2027-01-10")
	if !none.Empty() || !same.CashAvailable.Equal(a.CashAvailable) || same.PendingCash().String() != "57.5" {
		t.Fatalf("nothing is due on the 10th: %+v %+v", none, same)
	}
	b, done := a.Settle("2027-01-12")
	if done.Cash.String() != "57.5" || done.Shares["FPT"] != 101 || len(done.Shares) != 1 {
		t.Fatalf("settled %+v", done)
	}
	if b.CashAvailable.String() != "157.5" || len(b.CashPending) != 0 {
		t.Fatalf("cash after: %s pending %+v", b.CashAvailable, b.CashPending)
	}
	if h, _ := b.Holding("FPT"); h.SellableQty != 111 || h.PendingQty() != 5 {
		t.Fatalf("FPT after: %+v", h)
	}
	if h, _ := b.Holding("VNM"); h.PendingQty() != 300 || h.SellableQty != 0 {
		t.Fatalf("VNM after: %+v", h)
	}
	if h, _ := a.Holding("FPT"); h.SellableQty != 10 || a.CashAvailable.String() != "100" {
		t.Fatal("Settle changed its receiver")
	}
	c, done := b.Settle("2027-01-13")
	if done.Shares["VNM"] != 300 || done.Shares["FPT"] != 5 || !done.Cash.IsZero() {
		t.Fatalf("settled on the 13th: %+v", done)
	}
	if _, again := c.Settle("2027-01-20"); !again.Empty() {
		t.Fatalf("settled twice: %+v", again)
	}
}
