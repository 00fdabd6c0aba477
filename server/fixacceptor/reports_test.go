package fixacceptor

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/fix"
	"github.com/vero-oms/omsd/store"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// kinds lists the reports of an entry as MsgType/ExecType/OrdStatus.
func kinds(rs [][]fix.Field) string {
	var out []string
	for _, r := range rs {
		m := fix.Message(r)
		v := func(tag int) string { s, _ := m.Get(tag); return s }
		if m.MsgType() == msgOrderCancelReject {
			out = append(out, "9/"+v(tagCxlRejResponseTo)+"/"+v(tagOrdStatus))
			continue
		}
		out = append(out, "8/"+v(tagExecType)+"/"+v(tagOrdStatus))
	}
	return strings.Join(out, " ")
}

// Every order transition the trading service makes is reported with the
// ExecType and OrdStatus of execution-reports.mdx, in the right order.
func TestReportsOfTransitions(t *testing.T) {
	base := store.Order{ID: 7, ClOrdID: "c1", OriginalReqID: "c1", AccountCode: "A", Symbol: "VN30F2612", Side: "B", Type: "LO",
		Qty: 10, Price: d("1350"), Status: store.OrderNew, UpdatedAt: time.Now()}
	prior := func(st store.OrderStatus, filled int64, value string, text string) *store.OrderPrior {
		return &store.OrderPrior{Status: st, Qty: 10, Price: d("1350"), FilledQty: filled, FilledValue: d(value), Text: text}
	}
	with := func(f func(o *store.Order)) store.Order { o := base; f(&o); return o }
	cases := []struct {
		name  string
		o     store.Order
		prior *store.OrderPrior
		want  string
	}{
		{"entered pending", with(func(o *store.Order) { o.Status = store.OrderPendingNew }), nil, "8/A/A"},
		{"entered resting", base, nil, "8/0/0"},
		{"entered rejected", with(func(o *store.Order) { o.Status, o.Text = store.OrderRejected, "OMS|-900001|no cash" }), nil, "8/8/8"},
		{"acknowledged", base, prior(store.OrderPendingNew, 0, "0", ""), "8/0/0"},
		{"acknowledged and filled at once", with(func(o *store.Order) {
			o.Status, o.FilledQty, o.FilledValue = store.OrderPartiallyFill, 4, d("5400")
		}), prior(store.OrderPendingNew, 0, "0", ""), "8/0/0 8/1/1"},
		{"partial fill", with(func(o *store.Order) {
			o.Status, o.FilledQty, o.FilledValue = store.OrderPartiallyFill, 4, d("5400")
		}), prior(store.OrderNew, 0, "0", ""), "8/1/1"},
		{"filled", with(func(o *store.Order) {
			o.Status, o.FilledQty, o.FilledValue = store.OrderFilled, 10, d("13500")
		}), prior(store.OrderPartiallyFill, 4, "5400", ""), "8/2/2"},
		{"IOC: a fill and the rest cancelled in one step", with(func(o *store.Order) {
			o.Status, o.FilledQty, o.FilledValue, o.CancelledQty = store.OrderCanceled, 4, d("5400"), 6
		}), prior(store.OrderNew, 0, "0", ""), "8/1/1 8/4/4"},
		{"pending cancel", with(func(o *store.Order) { o.Status = store.OrderPendingCancel }), prior(store.OrderNew, 0, "0", ""), "8/6/6"},
		{"canceled", with(func(o *store.Order) { o.Status = store.OrderCanceled }), prior(store.OrderPendingCancel, 0, "0", ""), "8/4/4"},
		{"cancel refused by the venue", with(func(o *store.Order) { o.Text = "VENUE|-913999|cancel refused: x" }), prior(store.OrderPendingCancel, 0, "0", ""), "9/1/0"},
		{"pending replace", with(func(o *store.Order) { o.Status = store.OrderPendingReplace }), prior(store.OrderNew, 0, "0", ""), "8/E/E"},
		{"replaced", with(func(o *store.Order) { o.Price = d("1351") }), prior(store.OrderPendingReplace, 0, "0", ""), "8/5/0"},
		{"replace refused by the venue", with(func(o *store.Order) { o.Text = "VENUE|-913999|replace refused: x" }), prior(store.OrderPendingReplace, 0, "0", ""), "9/2/0"},
		{"MTL rest becomes a limit order", with(func(o *store.Order) {
			o.Type, o.Status, o.FilledQty, o.FilledValue, o.Price = "MTL", store.OrderPartiallyFill, 4, d("5400"), d("1350")
		}), &store.OrderPrior{Status: store.OrderPartiallyFill, Qty: 10, Price: decimal.Zero, FilledQty: 4, FilledValue: d("5400")}, "8/5/1"},
		{"accepted and filled at once", with(func(o *store.Order) {
			o.Status, o.FilledQty, o.FilledValue = store.OrderFilled, 10, d("13500")
		}), prior(store.OrderPendingNew, 0, "0", ""), "8/0/0 8/2/2"},
		{"MTL without a contra order", with(func(o *store.Order) { o.Type, o.Status, o.CancelledQty = "MTL", store.OrderCanceled, 10 }),
			prior(store.OrderPendingNew, 0, "0", ""), "8/0/0 8/4/4"},
		{"MAK partly filled, the rest cancelled", with(func(o *store.Order) {
			o.Type, o.Status, o.FilledQty, o.FilledValue, o.CancelledQty = "MAK", store.OrderCanceled, 4, d("5400"), 6
		}), prior(store.OrderPendingNew, 0, "0", ""), "8/0/0 8/1/1 8/4/4"},
		{"expired", with(func(o *store.Order) { o.Status = store.OrderExpired }), prior(store.OrderNew, 0, "0", ""), "8/C/C"},
		{"a hold resized: nothing to say", base, prior(store.OrderNew, 0, "0", ""), ""},
	}
	for _, c := range cases {
		got := kinds(reportsOf(store.OutboxEntry{ID: 3, Kind: store.OutboxOrder, Order: c.o, Prior: c.prior}))
		if got != c.want {
			t.Errorf("%s: reports %q, want %q", c.name, got, c.want)
		}
	}
}

// A conditional order is reported as order-entry.mdx says: pending (A)
// with OrdType 4, StopPx and DiscretionOffset; a trailing move or a modify
// while pending is Replaced (5) with the new Price, still A; the trigger
// says nothing; activation is New; a cancel while pending is only
// Canceled.
func TestReportsOfConditionalOrders(t *testing.T) {
	wait := store.Order{ID: 8, ClOrdID: "s1", OriginalReqID: "s1", AccountCode: "A", Symbol: "VN30F2612", Side: "S", Type: "LO",
		Qty: 2, Price: d("1340"), Status: store.OrderPendingNew, UpdatedAt: time.Now(),
		Stop: store.StopTerms{Px: d("1345"), Trailing: true, Offset: d("5")}}
	pending := &store.OrderPrior{Status: store.OrderPendingNew, Qty: 2, Price: d("1340"), StopPx: d("1345")}
	with := func(f func(o *store.Order)) store.Order { o := wait; f(&o); return o }
	moved := with(func(o *store.Order) { o.Price, o.Stop.Px = d("1342"), d("1347") })
	triggered := with(func(o *store.Order) { o.Stop.Triggered = true })
	active := with(func(o *store.Order) { o.Status, o.Stop.Triggered = store.OrderNew, true })
	for _, c := range []struct {
		name  string
		o     store.Order
		prior *store.OrderPrior
		want  string
	}{
		{"entered", wait, nil, "8/A/A"},
		{"trailing move", moved, pending, "8/5/A"},
		{"stop changed by a modify", with(func(o *store.Order) { o.Stop.Px = d("1350") }), pending, "8/5/A"},
		{"triggered", triggered, pending, ""},
		{"activated", active, pending, "8/0/0"},
		{"cancelled while pending", with(func(o *store.Order) { o.Status = store.OrderCanceled }), pending, "8/4/4"},
	} {
		rs := reportsOf(store.OutboxEntry{ID: 4, Kind: store.OutboxOrder, Order: c.o, Prior: c.prior})
		if got := kinds(rs); got != c.want {
			t.Errorf("%s: reports %q, want %q", c.name, got, c.want)
		}
		for _, r := range rs {
			m := fix.Message(r)
			for tag, want := range map[int]string{tagOrdType: "4", tagTimeInForce: "0", tagStopPx: c.o.Stop.Px.String(), tagDiscretionOffset: "5", tagPrice: c.o.Price.String()} {
				if got, _ := m.Get(tag); got != want {
					t.Errorf("%s: tag %d = %q, want %q", c.name, tag, got, want)
				}
			}
		}
	}
}

// A fill report carries the fill (LastShares, LastPx) and the order's
// totals; the New before an immediate fill shows the order as accepted.
func TestReportsOfFillFields(t *testing.T) {
	o := store.Order{ID: 7, ClOrdID: "c1", AccountCode: "A", Symbol: "VN30F2612", Side: "S", Type: "LO", Qty: 10, Price: d("1350"),
		Status: store.OrderPartiallyFill, FilledQty: 6, FilledValue: d("8103"), UpdatedAt: time.Now()}
	rs := reportsOf(store.OutboxEntry{ID: 9, Kind: store.OutboxOrder, Order: o,
		Prior: &store.OrderPrior{Status: store.OrderPendingNew, Qty: 10, Price: d("1350")}})
	if len(rs) != 2 {
		t.Fatalf("reports %v", rs)
	}
	want := []map[int]string{
		{tagExecType: "0", tagCumQty: "0", tagLeavesQty: "10", tagAvgPx: "0", tagExecID: "9-0", tagSide: "2"},
		{tagExecType: "1", tagCumQty: "6", tagLeavesQty: "4", tagAvgPx: "1350.5", tagLastShares: "6", tagLastPx: "1350.5", tagExecID: "9-1", tagOrdType: "2", tagTimeInForce: "0"},
	}
	for i, w := range want {
		for tag, v := range w {
			if got, _ := fix.Message(rs[i]).Get(tag); got != v {
				t.Errorf("report %d: tag %d = %q, want %q", i, tag, got, v)
			}
		}
	}
	// What is queued comes back as it was.
	back := decodeBody(encodeBody(rs[1]))
	if len(back) != len(rs[1]) || back[0] != rs[1][0] || back[len(back)-1] != rs[1][len(rs[1])-1] {
		t.Fatalf("body round trip: %v", back)
	}
}

// The order-type mapping of order-entry.mdx, both ways; unsupported
// combinations have no type.
func TestOrderTypeMapping(t *testing.T) {
	for name, want := range map[string][2]string{"MAK": {"1", "3"}, "MOK": {"1", "4"}, "MTL": {"1", "0"}, "ATO": {"1", "2"}, "LO": {"2", "0"}, "ATC": {"5", "0"}} {
		typ, tif, ok := fixType(name)
		if !ok || typ != want[0] || tif != want[1] {
			t.Errorf("%s → %s/%s", name, typ, tif)
		}
		if back, ok := omsType(typ, tif); !ok || back != name {
			t.Errorf("%s/%s → %s", typ, tif, back)
		}
	}
	for _, c := range [][2]string{{"2", "3"}, {"2", "4"}, {"2", "2"}, {"5", "3"}, {"1", "1"}, {"4", "0"}} {
		if typ, ok := omsType(c[0], c[1]); ok {
			t.Errorf("OrdType %s TimeInForce %s mapped to %s", c[0], c[1], typ)
		}
	}
}
