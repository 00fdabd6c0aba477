package backoffice

import (
	"encoding/json"
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
		"cash": {Kind: store.OutboxCash, Account: "A1", At: 5, Cash: &cashRecord{Available: price, Hold: decimal.Zero}},
	} {
		want, err := json.Marshal(r)
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
