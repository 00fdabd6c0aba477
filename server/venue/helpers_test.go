package venue

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// vnd is a whole-VND price.
func vnd(v int64) Price { return Price(v) * 10_000 }

func order(id string, side Side, typ OrderType, px Price, qty int64) Order {
	return Order{ID: id, Account: "acc-" + id, Symbol: "FPT", Side: side, Type: typ, Price: px, Qty: qty}
}

func buyLO(id string, px, qty int64) Order  { return order(id, Buy, LO, vnd(px), qty) }
func sellLO(id string, px, qty int64) Order { return order(id, Sell, LO, vnd(px), qty) }

func book(t *testing.T, p Phase) *Book {
	t.Helper()
	b := NewBook("FPT", vnd(100))
	b.SetPhase(p)
	return b
}

// trace renders a report's events one per line: "id kind[/reason] cum/leaves [lastQty@lastPx]".
func trace(r Report) string {
	var sb strings.Builder
	for _, ev := range r.Events {
		fmt.Fprintf(&sb, "%s %s", ev.Order.ID, ev.Kind)
		if ev.Reason != ReasonNone {
			fmt.Fprintf(&sb, "/%s", ev.Reason)
		}
		fmt.Fprintf(&sb, " %d/%d", ev.Order.CumQty, ev.Order.LeavesQty)
		if ev.LastQty > 0 {
			fmt.Fprintf(&sb, " %d@%s", ev.LastQty, ev.LastPx)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// trades renders executions as "buy/sell qty@price aggressor".
func trades(r Report) []string {
	var out []string
	for _, x := range r.Executions {
		out = append(out, fmt.Sprintf("%s/%s %d@%s %s", x.BuyOrderID, x.SellOrderID, x.Qty, x.Price, x.Aggressor))
	}
	return out
}

func wantTrace(t *testing.T, r Report, want string) {
	t.Helper()
	got := trace(r)
	want = strings.TrimLeft(want, "\n")
	if got != want {
		t.Fatalf("events:\n%s\nwant:\n%s", got, want)
	}
}

func wantTrades(t *testing.T, r Report, want ...string) {
	t.Helper()
	got := trades(r)
	if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("trades:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// ids lists side s's live orders in priority order.
func ids(b *Book, s Side) []string {
	var out []string
	for _, o := range b.Orders(s) {
		out = append(out, o.ID)
	}
	return out
}

func wantIDs(t *testing.T, b *Book, s Side, want ...string) {
	t.Helper()
	if got := ids(b, s); !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("%s orders %v, want %v", s, got, want)
	}
}

func mustSubmit(t *testing.T, b *Book, os ...Order) {
	t.Helper()
	for _, o := range os {
		r := b.Submit(o)
		if len(r.Events) == 0 || r.Events[0].Kind != EventAccepted {
			t.Fatalf("submit %s: %s", o.ID, trace(r))
		}
	}
}
