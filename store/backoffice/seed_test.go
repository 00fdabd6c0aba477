package backoffice

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// A record's encoding seeds the memo with exactly what decoding its text
// gives, for values whose computed form differs from the decoded one: a
// decimal with trailing zeros (100.5 + 0.5), zeros in omitzero fields,
// empty lists in omitempty fields, times with a monotonic reading and a
// zone, characters JSON escapes.
func TestSeededRecordsAreWhatTheirTextDecodesTo(t *testing.T) {
	now := time.Now().In(time.FixedZone("ICT", 7*3600))
	sum := decimal.RequireFromString("100.5").Add(decimal.RequireFromString("0.5"))
	o := store.Order{ID: 7, OriginalReqID: "seed-<&>\u2028", ClOrdID: "C7", TradingDate: "2026-12-07", AccountCode: "SEED1",
		Symbol: "FPT", ISIN: "VN000000FPT1", MarketID: "HOSE", Side: "B", Type: "LO", Status: store.OrderStatus("NEW"),
		Price: sum, Qty: 100, OriginalPrice: sum, OriginalQty: 100, FilledValue: decimal.Zero,
		Hold:      store.OrderHold{UnitPrice: sum, Cash: sum.Mul(decimal.NewFromInt(100))},
		Stop:      store.StopTerms{Px: sum, Offset: decimal.Zero},
		CreatedAt: now, UpdatedAt: now}
	a := store.Account{AccountCode: "SEED1", Name: "Nguyễn <Seed>", CashAvailable: sum, CashHold: decimal.Zero,
		CashPending: []store.DueCash{}, CreatedAt: now, UpdatedAt: now,
		Holdings: []store.Holding{
			{Symbol: "VN000000FPT1", SellableQty: 10, AvgPrice: sum, Pending: []store.DueShares{}, Margin: decimal.Zero, Basis: sum},
			{Symbol: "VN000000VNM8", AvgPrice: decimal.Zero, Pending: []store.DueShares{{Date: "2026-12-09", Qty: 5}}},
		}}
	due := a
	due.CashPending = []store.DueCash{{Date: "2026-12-09", Amount: sum}}

	check := func(what, text string, seeded any, ok bool, fresh any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !ok {
			t.Fatalf("%s: not seeded", what)
		}
		if !reflect.DeepEqual(seeded, fresh) {
			t.Fatalf("%s: %s\nseeded  %#v\ndecoded %#v", what, text, seeded, fresh)
		}
	}
	text, err := encodeOrder(o)
	if err != nil {
		t.Fatal(err)
	}
	seededOrder, ok := orderMemo.c.Get(text)
	freshOrder, err := decodeOrderJSON(text)
	check("order", text, seededOrder, ok, freshOrder, err)
	for _, acc := range []store.Account{a, due} {
		if text, err = encodeAccount(acc); err != nil {
			t.Fatal(err)
		}
		seededAccount, ok := accountMemo.c.Get(text)
		freshAccount, err := decodeAccountJSON(text)
		check("account", text, seededAccount, ok, freshAccount, err)
	}
}

// A string that is not UTF-8 is written with replacement characters, so
// its record is not seeded, and decoding it gives what the text says.
func TestRecordsWithBrokenUTF8AreNotSeeded(t *testing.T) {
	o := store.Order{ID: 8, OriginalReqID: "r8", ClOrdID: "C\xff8", TradingDate: "2026-12-07", AccountCode: "SEED1",
		Symbol: "FPT", ISIN: "VN000000FPT1", MarketID: "HOSE", Side: "B", Type: "LO", Status: store.OrderStatus("NEW"),
		Price: decimal.NewFromInt(1), Qty: 100, OriginalPrice: decimal.NewFromInt(1), OriginalQty: 100}
	text, err := encodeOrder(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := orderMemo.c.Get(text); ok {
		t.Fatal("an order with a broken string was seeded")
	}
	got, err := decodeOrder(text)
	if err != nil || got.ClOrdID != "C\ufffd8" {
		t.Fatalf("decoded ClOrdID %q (%v)", got.ClOrdID, err)
	}
	a := store.Account{AccountCode: "SEED2", CashAvailable: decimal.NewFromInt(1), CashHold: decimal.Zero,
		Holdings: []store.Holding{{Symbol: "VN\xff", AvgPrice: decimal.NewFromInt(1)}}}
	if text, err = encodeAccount(a); err != nil {
		t.Fatal(err)
	}
	if _, ok := accountMemo.c.Get(text); ok {
		t.Fatal("an account with a broken holding symbol was seeded")
	}
}

// encode writes what json.Marshal writes (the pooled buffer is only a
// copy fewer), buffer after buffer.
func TestEncodeIsMarshal(t *testing.T) {
	for _, v := range []any{
		map[string]any{"a": "<&>\u2028", "n": 1.5},
		holdingRecord{Symbol: "VN000000FPT1", AvgPrice: decimal.RequireFromString("100.50")},
		accountRecord{AccountCode: strings.Repeat("x", 70<<10)}, // past the pool's bound
		[]string{},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := encode(v)
			if err != nil || got != string(want) {
				t.Fatalf("encode %T: %.80q (%v), Marshal %.80q", v, got, err, want)
			}
		}
	}
	if _, err := encode(func() {}); err == nil {
		t.Fatal("encode of a func: no error")
	}
}
