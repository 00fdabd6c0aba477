package trading

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

// futuresEnv trades the dev VN30 future (position limit lowered to 40) on
// a memory store with its clock fixed on Thursday 10 December 2026, 10:00,
// a week before the contract's expiry, sessions pinned to continuous.
type futuresEnv struct {
	mu    sync.Mutex
	now   time.Time // the clock's time source
	t     *testing.T
	ctx   context.Context
	st    *memory.Store
	svc   *Service
	clock *market.Clock
	fut   market.Instrument
	accts []string
}

func newFuturesEnv(t *testing.T, limit int64, cash string, accts ...string) *futuresEnv {
	t.Helper()
	cfg, err := market.Dev()
	if err != nil {
		t.Fatal(err)
	}
	var insts []market.Instrument
	var fut market.Instrument
	for _, in := range cfg.Instruments.All() {
		if in.IsFuture() {
			in.PositionLimit = limit
			fut = in
		}
		insts = append(insts, in)
	}
	master, err := market.NewMaster(insts)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(memory.WithJanitorInterval(0))
	t.Cleanup(func() { _ = st.Close() })
	e := &futuresEnv{t: t, ctx: context.Background(), st: st, fut: fut, accts: accts}
	_, err = st.UpdateBackOffice(e.ctx, func(tx store.BackOfficeTx) error {
		for _, code := range accts {
			if err := tx.PutAccount(store.Account{AccountCode: code, CashAvailable: dec(cash), CashHold: decimal.Zero}); err != nil {
				return err
			}
			if err := tx.PutGrant(store.Grant{UserID: userOf(code), AccountCode: code, Level: store.LevelTrade}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.now = time.Date(2026, 12, 10, 10, 0, 0, 0, market.Location)
	e.clock = market.NewClock(cfg.Schedule, func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now })
	e.clock.Pin(market.Continuous)
	e.svc = New(Options{Store: st, Market: master, Clock: e.clock})
	if err := e.svc.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func userOf(code string) string { return strings.ToLower(code) + "@example.com" }

func (e *futuresEnv) submit(acct, side, typ, price string, qty int64, ref string) (store.Order, error) {
	in := NewOrder{Account: acct, Symbol: e.fut.Ticker, Side: side, Type: typ, Qty: qty, RefOrderID: ref}
	if price != "" {
		in.Price = &price
	}
	if _, err := e.svc.Submit(e.ctx, userOf(acct), in); err != nil {
		return store.Order{}, err
	}
	return orderByRef(e.ctx, e.st, ref)
}

func (e *futuresEnv) account(code string) (store.Account, store.Holding) {
	e.t.Helper()
	a, err := e.st.Account(e.ctx, code)
	if err != nil {
		e.t.Fatal(err)
	}
	h, _ := a.Holding(e.fut.ISIN)
	return a, h
}

// invariants: money is conserved (free + held + futures margin, nothing
// pending: futures do not settle by delivery), positions net to zero,
// orders' holds add up to each account's cash_hold, no position past the
// limit, margins never negative.
func (e *futuresEnv) invariants(total0 decimal.Decimal) []string {
	var bad []string
	total, net := decimal.Zero, int64(0)
	orders, err := allOrders(e.ctx, e.st)
	if err != nil {
		return []string{err.Error()}
	}
	held := map[string]decimal.Decimal{}
	for _, o := range orders {
		held[o.AccountCode] = held[o.AccountCode].Add(o.Hold.Cash)
	}
	for _, code := range e.accts {
		a, h := e.account(code)
		total = total.Add(a.CashAvailable).Add(a.CashHold).Add(a.PositionMargin()).Add(a.PendingCash())
		net += h.SellableQty
		if !a.CashHold.Equal(held[code]) {
			bad = append(bad, fmt.Sprintf("%s: cash_hold %s, its orders hold %s", code, a.CashHold, held[code]))
		}
		if h.Margin.IsNegative() || h.HoldQty != 0 || len(h.Pending) != 0 {
			bad = append(bad, fmt.Sprintf("%s: futures holding %+v", code, h))
		}
		if h.SellableQty > e.fut.PositionLimit || -h.SellableQty > e.fut.PositionLimit {
			bad = append(bad, fmt.Sprintf("%s: position %d past the limit %d", code, h.SellableQty, e.fut.PositionLimit))
		}
	}
	if !total.Equal(total0) {
		bad = append(bad, fmt.Sprintf("money not conserved: %s, started with %s", total, total0))
	}
	if net != 0 {
		bad = append(bad, fmt.Sprintf("positions net to %d, not 0", net))
	}
	return bad
}

// TestFuturesMarginShortsAndDailySettlement walks the example: a
// buy of 10 at 1 350.0 holds margin rate × 1 350 × 100 000 × 10; the
// seller, flat, goes short; a later trade at 1 360.0 sets the settlement
// price and the end of the day moves (1 360 − 1 350) × 100 000 × 10
// from the short to the long; the position limit refuses the order that
// would pass it.
func TestFuturesMarginShortsAndDailySettlement(t *testing.T) {
	e := newFuturesEnv(t, 15, "1000000000", "LONG01", "SHORT1")
	total0 := dec("2000000000")
	check := func(what string) {
		t.Helper()
		if bad := e.invariants(total0); len(bad) > 0 {
			t.Fatalf("%s:\n  %s", what, strings.Join(bad, "\n  "))
		}
	}
	// 0.17 × 1 350 × 100 000 × 10 = 229 500 000
	b, err := e.submit("LONG01", "B", "LO", "1350.0", 10, "l-1")
	if err != nil || b.Status != store.OrderNew || !b.Hold.Cash.Equal(dec("229500000")) {
		t.Fatalf("buy 10 at 1350: %v %+v", err, b)
	}
	if a, _ := e.account("LONG01"); !a.CashHold.Equal(dec("229500000")) || !a.CashAvailable.Equal(dec("770500000")) {
		t.Fatalf("LONG01 after the bid: available %s hold %s", a.CashAvailable, a.CashHold)
	}
	if s, err := e.submit("SHORT1", "S", "LO", "1350.0", 10, "s-1"); err != nil || s.Status != store.OrderFilled {
		t.Fatalf("the flat seller's sell: %v %+v", err, s)
	}
	check("after the first trade")
	a, long := e.account("LONG01")
	if long.SellableQty != 10 || !long.Margin.Equal(dec("229500000")) || !a.CashHold.IsZero() || !a.CashAvailable.Equal(dec("770500000")) {
		t.Fatalf("LONG01: available %s hold %s position %+v", a.CashAvailable, a.CashHold, long)
	}
	a, short := e.account("SHORT1")
	if short.SellableQty != -10 || !short.Margin.Equal(dec("229500000")) || !a.CashAvailable.Equal(dec("770500000")) || !short.AvgPrice.Equal(dec("1350")) {
		t.Fatalf("SHORT1 opened a short: available %s position %+v", a.CashAvailable, short)
	}

	// The short buys one back from the long at 1 360.0: the last price.
	if _, err := e.submit("LONG01", "S", "LO", "1360.0", 1, "l-2"); err != nil {
		t.Fatal(err)
	}
	if o, err := e.submit("SHORT1", "B", "LO", "1360.0", 1, "s-2"); err != nil || o.Status != store.OrderFilled || !o.Hold.Cash.IsZero() {
		t.Fatalf("closing buy (holds no margin): %v %+v", err, o)
	}
	check("after the closing trade")
	if p, err := e.svc.SettlementPrice(e.ctx, e.fut); err != nil || !p.Equal(dec("1360")) {
		t.Fatalf("settlement price %s %v", p, err)
	}

	// The position limit (15): long 9, a buy of 7 would make 16.
	r, err := e.submit("LONG01", "B", "LO", "1355.0", 7, "l-3")
	if err != nil || r.Status != store.OrderRejected || !strings.HasPrefix(r.Text, "OMS|3004|") {
		t.Fatalf("past the position limit: %v %s %s", err, r.Status, r.Text)
	}
	if o, err := e.submit("LONG01", "B", "LO", "1355.0", 6, "l-4"); err != nil || o.Status != store.OrderNew {
		t.Fatalf("up to the limit: %v %+v", err, o)
	}
	if r, _ := e.submit("LONG01", "B", "LO", "1354.0", 1, "l-5"); r.Status != store.OrderRejected {
		t.Fatalf("working orders count toward the limit: %s %s", r.Status, r.Text)
	}

	// The end of the day: the working bid ends, positions are marked at
	// 1 360: LONG01 gains (1 360 − 1 350) × 100 000 × 10 = 10 000 000 (on
	// the 9 it keeps and the 1 it sold), SHORT1 loses as much; margins
	// follow the settlement price: 0.17 × 1 360 × 100 000 × 9.
	aL0, _ := e.account("LONG01")
	aS0, _ := e.account("SHORT1")
	if _, err := e.svc.NextDay(e.ctx); err != nil {
		t.Fatal(err)
	}
	check("after the mark-to-market")
	aL, long := e.account("LONG01")
	aS, short := e.account("SHORT1")
	margin9 := dec("208080000")
	if !long.Margin.Equal(margin9) || !short.Margin.Equal(margin9) {
		t.Fatalf("margins after the mark: long %s short %s, want %s", long.Margin, short.Margin, margin9)
	}
	gainL := aL.CashAvailable.Add(aL.PositionMargin()).Sub(aL0.CashAvailable.Add(aL0.CashHold).Add(aL0.PositionMargin()))
	lossS := aS.CashAvailable.Add(aS.PositionMargin()).Sub(aS0.CashAvailable.Add(aS0.CashHold).Add(aS0.PositionMargin()))
	if !gainL.Equal(dec("10000000")) || !lossS.Equal(dec("-10000000")) {
		t.Fatalf("variation: long %s, short %s, want ±10 000 000", gainL, lossS)
	}
	if long.MarkedOn != "2026-12-10" || !long.Basis.Equal(dec("12240")) || short.SellableQty != -9 {
		t.Fatalf("marked positions: long %+v short %+v", long, short)
	}
	// The next day with no trade marks at the same price: no variation;
	// marking again that day marks nothing.
	if n, err := e.svc.MarkToMarket(e.ctx); err != nil || n != 2 {
		t.Fatalf("mark on the next day: %d %v", n, err)
	}
	if n, err := e.svc.MarkToMarket(e.ctx); err != nil || n != 0 {
		t.Fatalf("second mark the same day: %d %v", n, err)
	}
	if a, _ := e.account("LONG01"); !a.CashAvailable.Equal(aL.CashAvailable) {
		t.Fatal("marking at an unchanged price moved cash")
	}
}

// TestFuturesExpiryClosesPositions: on the last trading day the mark
// closes every position at the final settlement price and releases its
// margin; the day after, the contract takes no order.
func TestFuturesExpiryClosesPositions(t *testing.T) {
	e := newFuturesEnv(t, 5000, "1000000000", "LONG01", "SHORT1")
	if _, err := e.submit("LONG01", "B", "LO", "1350.0", 3, "l-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.submit("SHORT1", "S", "LO", "1350.0", 3, "s-1"); err != nil {
		t.Fatal(err)
	}
	for e.clock.TradingDate() < e.fut.Expiry {
		if _, err := e.svc.NextDay(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if e.clock.TradingDate() != "2026-12-17" {
		t.Fatalf("walked to %s", e.clock.TradingDate())
	}
	if _, h := e.account("LONG01"); h.SellableQty != 3 {
		t.Fatalf("before expiry: %+v", h)
	}
	if _, err := e.svc.NextDay(e.ctx); err != nil { // the close of 17 December
		t.Fatal(err)
	}
	for _, code := range e.accts {
		a, h := e.account(code)
		if h.SellableQty != 0 || !h.Margin.IsZero() || !a.CashAvailable.Equal(dec("1000000000")) {
			t.Fatalf("%s after expiry: available %s, holding %+v", code, a.CashAvailable, h)
		}
	}
	r, err := e.submit("LONG01", "B", "LO", "1350.0", 1, "late")
	if err != nil || r.Status != store.OrderRejected || !strings.Contains(r.Text, "expired") {
		t.Fatalf("an order after expiry: %v %s %s", err, r.Status, r.Text)
	}
}

// TestPropertyFuturesConserveMoney: random order streams of three
// accounts on the future (limit and market orders, cancels) over three
// trading days, each ended by the mark-to-market. After every step money
// is conserved (free + held + margin), positions net to zero, holds add
// up and no position passes the limit.
func TestPropertyFuturesConserveMoney(t *testing.T) {
	positions, refusals := 0, map[string]int{}
	defer func() {
		t.Logf("open positions at the marks: %d; refusals by code: %v", positions, refusals)
		if positions == 0 {
			t.Error("no position was ever open at a mark: the streams test nothing")
		}
	}()
	for seed := range uint64(max(propSeeds(t)/2, 2)) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			e := newFuturesEnv(t, 40, "3000000000", "F1", "F2", "F3")
			total0 := dec("9000000000")
			rng := rand.New(rand.NewPCG(seed, 16))
			var log []string
			fail := func(what string, bad []string) {
				t.Fatalf("%s (seed %d):\n  %s\nsteps:\n  %s", what, seed, strings.Join(bad, "\n  "), strings.Join(log, "\n  "))
			}
			n := 0
			for day := 0; day < 3; day++ {
				for range 50 {
					log = append(log, e.randomStep(rng, &n))
					if bad := e.invariants(total0); len(bad) > 0 {
						fail("after a step", bad)
					}
				}
				change, err := e.svc.NextDay(e.ctx)
				if err != nil {
					fail("next day", []string{err.Error()})
				}
				log = append(log, fmt.Sprintf("-- next day %s -> %s", change.From, change.To))
				for _, code := range e.accts {
					if _, h := e.account(code); h.SellableQty != 0 {
						positions++
					}
				}

				if bad := append(e.invariants(total0), e.marked(change.From)...); len(bad) > 0 {
					fail("after the mark-to-market", bad)
				}
			}
			all, _ := allOrders(e.ctx, e.st)
			for _, o := range all {
				if o.Status == store.OrderRejected {
					refusals[strings.SplitN(o.Text, "|", 3)[1]]++
				}
			}
		})
	}
}

// randomStep enters a random order or cancels a random working one.
func (e *futuresEnv) randomStep(rng *rand.Rand, n *int) string {
	*n++
	acct := e.accts[rng.IntN(len(e.accts))]
	if rng.IntN(6) == 0 {
		open, _ := e.st.OpenOrders(e.ctx)
		if len(open) == 0 {
			return "no order to cancel"
		}
		o := open[rng.IntN(len(open))]
		_, err := e.svc.Cancel(e.ctx, userOf(o.AccountCode), CancelRequest{OrderID: o.OriginalReqID, RequestID: fmt.Sprintf("c%d", *n)})
		return fmt.Sprintf("%s cancels %s: %v", o.AccountCode, o.OriginalReqID, err)
	}
	side := []string{"B", "S"}[rng.IntN(2)]
	ref := fmt.Sprintf("o%d", *n)
	qty := int64(1 + rng.IntN(25))
	if rng.IntN(5) == 0 {
		o, err := e.submit(acct, side, "MAK", "", qty, ref)
		return fmt.Sprintf("%s %s MAK %d -> %s filled %d %s %v", acct, side, qty, o.Status, o.FilledQty, o.Text, err)
	}
	price := e.fut.ReferencePrice.Add(decimal.New(int64(rng.IntN(21)-10), -1)).StringFixed(1)
	o, err := e.submit(acct, side, "LO", price, qty, ref)
	return fmt.Sprintf("%s %s LO %d @ %s -> %s filled %d %s %v", acct, side, qty, price, o.Status, o.FilledQty, o.Text, err)
}

// marked checks every open position was marked on date with its margin
// at the settlement price.
func (e *futuresEnv) marked(date string) []string {
	var bad []string
	// The mark's price: the new day's reference, rolled from it.
	inst, _ := e.svc.Instruments().ByISIN(e.fut.ISIN)
	settle := inst.ReferencePrice
	for _, code := range e.accts {
		_, h := e.account(code)
		if h.SellableQty == 0 && h.Margin.IsZero() && h.Basis.IsZero() {
			continue
		}
		want := e.fut.MarginRate.Mul(settle).Mul(e.fut.Multiplier).Mul(decimal.NewFromInt(h.SellableQty).Abs())
		if h.MarkedOn != date || !h.Margin.Equal(want) || !h.Basis.Equal(settle.Mul(decimal.NewFromInt(h.SellableQty))) {
			bad = append(bad, fmt.Sprintf("%s: %+v not marked on %s at %s (margin %s)", code, h, date, settle, want))
		}
	}
	return bad
}

// TestFuturesMarkedWhenTheMarketCloses: with the clock following the
// schedule (not pinned), the futures market's close at 14:45 marks the
// day's positions; a start on a market already closed marks nothing.
func TestFuturesMarkedWhenTheMarketCloses(t *testing.T) {
	e := newFuturesEnv(t, 5000, "1000000000", "LONG01", "SHORT1")
	set := func(hh, mm int) {
		e.mu.Lock()
		e.now = time.Date(2026, 12, 10, hh, mm, 0, 0, market.Location)
		e.mu.Unlock()
		if err := e.svc.Sync(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Unpin()
	set(14, 0) // continuous
	if _, err := e.submit("LONG01", "B", "LO", "1350.0", 2, "l-1"); err != nil {
		t.Fatal(err)
	}
	if o, err := e.submit("SHORT1", "S", "LO", "1349.0", 2, "s-1"); err != nil || o.Status != store.OrderFilled {
		t.Fatalf("%v %+v", err, o)
	}
	if _, h := e.account("LONG01"); h.MarkedOn != "" {
		t.Fatalf("marked before the close: %+v", h)
	}
	set(14, 46) // DVX closed at 14:45
	for _, code := range e.accts {
		if _, h := e.account(code); h.MarkedOn != "2026-12-10" || !h.Basis.Equal(dec("1350").Mul(decimal.NewFromInt(h.SellableQty))) {
			t.Fatalf("%s not marked at the close: %+v", code, h)
		}
	}
	// A service started after the close (a restart) does not mark again.
	again := New(Options{Store: e.st, Market: e.svc.Instruments(), Clock: e.clock})
	if err := again.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := again.MarkToMarket(e.ctx); err != nil || n != 0 {
		t.Fatalf("marked twice: %d %v", n, err)
	}
}

// A conditional order waiting for its trigger counts toward the position
// limit like a working one: it enters the book, unchecked, when it
// triggers, so stops placed one under the limit each must not add up past
// it. Limit 15 here; the buy stop is above the reference (1 350.0).
func TestWaitingStopsCountTowardThePositionLimit(t *testing.T) {
	e := newFuturesEnv(t, 15, "1000000000", "LONG01")
	price, stopPx := "1360.0", "1355.0"
	in := NewOrder{Account: "LONG01", Symbol: e.fut.Ticker, Side: "B", Type: "LO", Price: &price, StopPx: &stopPx, Qty: 10, RefOrderID: "stop"}
	if _, err := e.svc.Submit(e.ctx, userOf("LONG01"), in); err != nil {
		t.Fatal(err)
	}
	if o, err := orderByRef(e.ctx, e.st, "stop"); err != nil || !o.Waiting() {
		t.Fatalf("the buy stop does not wait: %v %+v", err, o)
	}
	if r, err := e.submit("LONG01", "B", "LO", "1340.0", 6, "b-6"); err != nil || r.Status != store.OrderRejected || !strings.HasPrefix(r.Text, "OMS|3004|") {
		t.Fatalf("10 waiting + 6 past the limit of 15: %v %s %s", err, r.Status, r.Text)
	}
	if o, err := e.submit("LONG01", "B", "LO", "1340.0", 5, "b-5"); err != nil || o.Status != store.OrderNew {
		t.Fatalf("10 waiting + 5, up to the limit: %v %+v", err, o)
	}
	// Another stop counts the first one too.
	in.RefOrderID, in.Qty = "stop-2", 1
	if _, err := e.svc.Submit(e.ctx, userOf("LONG01"), in); err != nil {
		t.Fatal(err)
	}
	if r, _ := orderByRef(e.ctx, e.st, "stop-2"); r.Status != store.OrderRejected || !strings.HasPrefix(r.Text, "OMS|3004|") {
		t.Fatalf("a second stop past the limit: %s %s", r.Status, r.Text)
	}
	// A change of the waiting stop counts the others (5 working) with its
	// new quantity, not its old one: 10 stays allowed, 11 does not.
	user := userOf("LONG01")
	if _, err := e.svc.Replace(e.ctx, user, ReplaceRequest{OrderID: "stop", RequestID: "m-10", Price: "1361.0", Qty: 10}); err != nil {
		t.Fatalf("the stop's price changed, 10 + 5: %v", err)
	}
	if _, err := e.svc.Replace(e.ctx, user, ReplaceRequest{OrderID: "stop", RequestID: "m-11", Price: "1361.0", Qty: 11}); err == nil || !strings.Contains(err.Error(), "3004") {
		t.Fatalf("the stop grown to 11 + 5: %v", err)
	}
}

// A cancelled stop stops counting: Cancel ends a waiting order in the
// store (no book holds it), and the waiting orders the limit adds up must
// let it go too, or the account stays blocked until a restart.
func TestCancelledStopLeavesThePositionLimit(t *testing.T) {
	e := newFuturesEnv(t, 15, "1000000000", "LONG01")
	price, stopPx := "1360.0", "1355.0"
	in := NewOrder{Account: "LONG01", Symbol: e.fut.Ticker, Side: "B", Type: "LO", Price: &price, StopPx: &stopPx, Qty: 10, RefOrderID: "stop"}
	if _, err := e.svc.Submit(e.ctx, userOf("LONG01"), in); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cancel(e.ctx, userOf("LONG01"), CancelRequest{OrderID: "stop", RequestID: "c-stop"}); err != nil {
		t.Fatal(err)
	}
	if o, err := orderByRef(e.ctx, e.st, "stop"); err != nil || o.Status != store.OrderCanceled {
		t.Fatalf("the stop after its cancel: %v %s", err, o.Status)
	}
	if o, err := e.submit("LONG01", "B", "LO", "1340.0", 15, "b-15"); err != nil || o.Status != store.OrderNew {
		t.Fatalf("15 after the 10 waiting were cancelled, up to the limit: %v %s %s", err, o.Status, o.Text)
	}
}

// Orders the OMS holds until the session takes them are not in the book
// at entry, so two that fit the limit one by one may not fit together:
// each is checked again when it is released, oldest first, and the one
// that would pass the limit is rejected (OMS|3004|), its margin hold
// given back.
func TestHeldFuturesOrdersMeetThePositionLimitWhenReleased(t *testing.T) {
	e := newFuturesEnv(t, 15, "1000000000", "LONG01")
	e.clock.Pin(market.PreOpening)
	if err := e.svc.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"h-1", "h-2"} {
		if o, err := e.submit("LONG01", "B", "LO", "1340.0", 10, ref); err != nil || o.Status != store.OrderPendingNew {
			t.Fatalf("%s held before the open: %v %+v", ref, err, o)
		}
	}
	e.clock.Pin(market.Continuous)
	if err := e.svc.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	if o, _ := orderByRef(e.ctx, e.st, "h-1"); o.Status != store.OrderNew {
		t.Fatalf("the older held order: %s %s", o.Status, o.Text)
	}
	o, _ := orderByRef(e.ctx, e.st, "h-2")
	if o.Status != store.OrderRejected || !strings.HasPrefix(o.Text, "OMS|3004|") || !o.Hold.Cash.IsZero() {
		t.Fatalf("the newer one, 10 + 10 past 15: %s %s hold %s", o.Status, o.Text, o.Hold.Cash)
	}
	// 0.17 × 1 340 × 100 000 × 10 = 227 800 000 held, by h-1 alone.
	if a, _ := e.account("LONG01"); !a.CashHold.Equal(dec("227800000")) {
		t.Fatalf("LONG01 holds %s, want h-1's 227800000", a.CashHold)
	}
	if bad := e.invariants(dec("1000000000")); len(bad) > 0 {
		t.Fatal(strings.Join(bad, "\n"))
	}
}
