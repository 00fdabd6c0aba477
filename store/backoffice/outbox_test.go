package backoffice

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// encodeOutbox writes the same bytes as encoding the record with
// json.Marshal, for order entries with and without a prior state, and
// defers to it for the others.
func TestEncodeOutbox(t *testing.T) {
	o := store.Order{ID: 7, OriginalReqID: "c1", ClOrdID: "c1", AccountCode: `A"1<&>`, Symbol: "FPT", Side: "B", Type: "LO",
		Price: decimal.RequireFromString("100000.5"), Qty: 10, Text: `OMS|-1|Zoë <script>&"quoted" 日本`,
		Stop:      store.StopTerms{Px: decimal.RequireFromString("99.5"), Trailing: true, Offset: decimal.RequireFromString("0.1")},
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	text, err := encodeOrder(o)
	if err != nil {
		t.Fatal(err)
	}
	price := decimal.RequireFromString("1.5")
	for name, r := range map[string]outboxRecord{
		"new order": {Kind: store.OutboxOrder, Account: o.AccountCode, At: 1 << 60, Order: json.RawMessage(text)},
		"changed order": {Kind: store.OutboxOrder, Account: o.AccountCode, At: -3, Order: json.RawMessage(text),
			Prior: &priorRecord{Status: store.OrderNew, Qty: 3, Price: price, Text: "<&>", StopPx: &price}},
		"cash":            {Kind: store.OutboxCash, Account: "A1", At: 5, Cash: &cashRecord{Available: price, Hold: decimal.Zero}},
		"built new order": {Kind: store.OutboxOrder, Account: o.AccountCode, At: 1 << 60, orderText: text},
		"built order": {Kind: store.OutboxOrder, Account: o.AccountCode, At: 9, orderText: text,
			Prior: &priorRecord{Status: store.OrderNew, Qty: 3, Price: price}},
	} {
		m := r
		if m.orderText != "" { // what changesOf sets in place of Order
			m.Order = json.RawMessage(m.orderText)
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeOutbox(r)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

// The outbox feed keeps nothing until a publisher reads, hands out only a
// run that starts right after the reader's position (a gap, or an entry
// it never had, sends the reader to the store), gives an entry once, and
// forgets what is acknowledged.
func TestOutboxFeed(t *testing.T) {
	f := &outboxFeed{byID: map[int64]fedEntry{}}
	texts := func(n int) []string { return make([]string, n) }
	decoded := func(n int) []store.OutboxEntry {
		out := make([]store.OutboxEntry, n)
		for i := range out {
			out[i] = store.OutboxEntry{Kind: store.OutboxOrder}
		}
		return out
	}
	ids := func(run []fedEntry) []int64 {
		var out []int64
		for _, e := range run {
			out = append(out, e.entry().ID)
		}
		return out
	}
	f.add(2, texts(2), decoded(2))
	if run := f.take(0, 10); run != nil {
		t.Fatalf("kept %v before any read", ids(run))
	}
	f.add(5, texts(3), decoded(3)) // 3, 4, 5
	f.add(9, texts(2), decoded(2)) // 8, 9: 6 and 7 are another instance's
	for _, c := range []struct {
		after int64
		n     int
		want  []int64
	}{
		{0, 10, nil}, {2, 2, []int64{3, 4}}, {2, 10, nil}, {4, 10, []int64{5}}, {5, 10, nil}, {7, 10, []int64{8, 9}}, {7, 10, nil},
	} {
		if got := ids(f.take(c.after, c.n)); !slices.Equal(got, c.want) {
			t.Fatalf("take(%d, %d) = %v, want %v", c.after, c.n, got, c.want)
		}
	}
	f.add(12, texts(3), decoded(3)) // 10, 11, 12
	f.drop(10)
	if got := ids(f.take(10, 10)); !slices.Equal(got, []int64{11, 12}) {
		t.Fatalf("after drop(10): %v, want [11 12]", got)
	}
	f.add(10, texts(1), decoded(1)) // acknowledged already: not kept
	if run := f.take(9, 10); run != nil {
		t.Fatalf("kept %v at or below the acknowledged ID", ids(run))
	}
}

// fedEntries hands out the entries the feed kept, not copies, across
// commits, with their IDs.
func TestFedEntriesRuns(t *testing.T) {
	f := &outboxFeed{byID: map[int64]fedEntry{}}
	f.take(0, 1) // on
	batch := func(n int) []store.OutboxEntry { return make([]store.OutboxEntry, n) }
	texts := func(n int) []string { return make([]string, n) }
	first, second := batch(3), batch(2)
	f.add(3, texts(3), first) // 1, 2, 3
	f.add(5, texts(2), second)
	r := &Records{}
	run, err := r.fedEntries(t.Context(), 0, f.take(0, 2))
	if err != nil || len(run) != 2 || run[0] != &first[0] || run[1].ID != 2 {
		t.Fatalf("part of one commit: %v %v", run, err)
	}
	run, err = r.fedEntries(t.Context(), 2, f.take(2, 10))
	if err != nil || len(run) != 3 || run[0] != &first[2] || run[1] != &second[0] || run[0].ID != 3 || run[2].ID != 5 {
		t.Fatalf("a run of two commits: %v %v", run, err)
	}
}
