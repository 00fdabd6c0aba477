package trading

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

// The property tests drive the order pipeline through its public API with
// seeded random order streams and, after every step, check the invariants
// of the account model against the store and the books:
//
//   - cash (Σ cash_available + cash_hold) and shares per ISIN (Σ
//     sellable_qty + hold_qty) are conserved across the accounts;
//   - every account's cash and shares move exactly as the venue's
//     executions say (a recording venue keeps them), and every order's
//     filled quantity and value are the sum of its executions;
//   - no balance, hold or quantity is negative (the accounts have no
//     bypass flag and no risk rule allows margin or short selling: only
//     those may go negative, when a fill books what the hold did not cover);
//   - filled ≤ ordered, filled + cancelled ≤ ordered, a done order holds
//     nothing, a working order holds exactly what its open quantity needs;
//   - each account's cash_hold and hold_qty are the sum of its working
//     orders' holds;
//   - the store and the books agree (a working order is live in its book
//     with the same terms, an order held by the OMS is not and only while
//     its session does not take it, a done one is not) and no book is
//     crossed outside a call auction;
//   - every fill is at a price inside the instrument's band.
//
// TestPropertyRandomStreams trades in continuous trading and at the end
// cancels every working order: nothing may stay held. TestPropertyTradingDay
// runs the streams through a whole day, session by session, to the close.
// TestPropertyConcurrentStreams runs four streams at once.
//
// TRADING_PROP_SEEDS=n runs n seeds instead of the default (fewer under
// -race and -short); a failing seed is rerun alone with, e.g.,
// -run 'TestPropertyRandomStreams/seed=17$'. A seed replays the same
// stream, except in the concurrent test, whose interleaving is the
// scheduler's.

const (
	propSteps     = 200
	propSeedsCI   = 16
	propSeedsRace = 4
)

// recVenue is the simulator keeping every execution it reports.
type recVenue struct {
	*Simulator
	mu    sync.Mutex
	execs []venue.Execution
}

func (v *recVenue) rec(r venue.Report) venue.Report {
	v.mu.Lock()
	v.execs = append(v.execs, r.Executions...)
	v.mu.Unlock()
	return r
}

func (v *recVenue) Submit(o venue.Order) venue.Report { return v.rec(v.Simulator.Submit(o)) }
func (v *recVenue) Cancel(symbol, id string) venue.Report {
	return v.rec(v.Simulator.Cancel(symbol, id))
}

func (v *recVenue) Replace(symbol, id string, price venue.Price, qty int64) venue.Report {
	return v.rec(v.Simulator.Replace(symbol, id, price, qty))
}

func (v *recVenue) SetPhase(symbol string, p venue.Phase) venue.Report {
	return v.rec(v.Simulator.SetPhase(symbol, p))
}
func (v *recVenue) Expire(symbol string) venue.Report { return v.rec(v.Simulator.Expire(symbol)) }

func (v *recVenue) executions() []venue.Execution {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]venue.Execution(nil), v.execs...)
}

// propAccount is a seeded account and the user trading it.
type propAccount struct {
	code, user string
	cash       string
	holdings   []store.Holding // ISIN symbols
}

type harness struct {
	t      testing.TB
	ctx    context.Context
	st     *memory.Store
	svc    *Service
	venue  *recVenue
	master *market.Master
	fpt    market.Instrument
	vnm    market.Instrument
	accts  []propAccount
	init   map[string]store.Account // as seeded

	clock   *market.Clock
	session market.Session // the pinned session the books were synced to

	// The orders as last read (see snapshot).
	orders      map[int64]store.Order
	maxID       int64
	reads       int
	changedDone []string
}

// fullEvery is how often (in checks) snapshot reads every order again.
const fullEvery = 20

const (
	viewerUser   = "viewer@example.com"   // VIEW on every account
	strangerUser = "stranger@example.com" // no grant at all
)

func devInstruments(t testing.TB) (*market.Master, market.Instrument, market.Instrument) {
	t.Helper()
	cfg, err := market.Dev()
	if err != nil {
		t.Fatal(err)
	}
	fpt, ok1 := cfg.Instruments.ByTicker("FPT")
	vnm, ok2 := cfg.Instruments.ByTicker("VNM")
	if !ok1 || !ok2 {
		t.Fatal("dev instruments lack FPT or VNM")
	}
	return cfg.Instruments, fpt, vnm
}

// allOrders reads every order, newest first, page by page.
func allOrders(ctx context.Context, st store.Trading) ([]store.Order, error) {
	var out []store.Order
	for off := 0; ; off += store.MaxOrderLimit {
		page, err := st.Orders(ctx, store.OrderFilter{Limit: store.MaxOrderLimit, Offset: off})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < store.MaxOrderLimit {
			return out, nil
		}
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// newHarness seeds accts in one UpdateBackOffice step and starts a
// service on the memory store with every market in continuous trading.
func newHarness(t testing.TB, accts []propAccount) *harness {
	t.Helper()
	return newHarnessWith(t, accts, nil)
}

// newHarnessWith is newHarness with the service on wrap(memory store) (the
// checks read the memory store itself).
func newHarnessWith(t testing.TB, accts []propAccount, wrap func(*memory.Store) Store) *harness {
	t.Helper()
	master, fpt, vnm := devInstruments(t)
	st := memory.New(memory.WithJanitorInterval(0))
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	h := &harness{t: t, ctx: ctx, st: st, master: master, fpt: fpt, vnm: vnm, accts: accts, init: map[string]store.Account{}}
	_, err := st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		for _, a := range accts {
			acct := store.Account{AccountCode: a.code, Name: "prop " + a.code, CashAvailable: dec(a.cash), CashHold: decimal.Zero}
			for _, hd := range a.holdings {
				acct.SetHolding(hd)
			}
			if err := tx.PutAccount(acct); err != nil {
				return err
			}
			if err := tx.PutGrant(store.Grant{UserID: a.user, AccountCode: a.code, Level: store.LevelTrade}); err != nil {
				return err
			}
			if err := tx.PutGrant(store.Grant{UserID: viewerUser, AccountCode: a.code, Level: store.LevelView}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		acct, err := st.Account(ctx, a.code)
		if err != nil {
			t.Fatal(err)
		}
		h.init[a.code] = acct
	}
	h.venue = &recVenue{Simulator: NewSimulator(master)}
	h.clock, h.session = market.Pinned(market.Continuous), market.Continuous
	var svcStore Store = st
	if wrap != nil {
		svcStore = wrap(st)
	}
	h.svc = New(Options{Store: svcStore, Market: master, Clock: h.clock, Venue: h.venue})
	if err := h.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// setSession pins every market to ss and syncs the books to it.
func (h *harness) setSession(ss market.Session) error {
	h.clock.Pin(ss)
	h.session = ss
	return h.svc.Sync(h.ctx)
}

func propAccounts() []propAccount {
	const fpt, vnm = "VN000000FPT1", "VN000000VNM8"
	return []propAccount{
		{"PROP001", "u1@example.com", "2000000000", []store.Holding{
			{Symbol: fpt, SellableQty: 20000, AvgPrice: dec("95000")}, {Symbol: vnm, SellableQty: 20000, AvgPrice: dec("60000")}}},
		{"PROP002", "u2@example.com", "1000000000", []store.Holding{
			{Symbol: fpt, SellableQty: 10000, AvgPrice: dec("98000")}}},
		{"PROP003", "u3@example.com", "500000000", []store.Holding{
			{Symbol: vnm, SellableQty: 20000, AvgPrice: dec("61000")}}},
		// The poor one: most of its orders cannot be paid for.
		{"PROP004", "u4@example.com", "20000000.5", []store.Holding{
			{Symbol: fpt, SellableQty: 1000, AvgPrice: dec("101000")}, {Symbol: vnm, SellableQty: 1000, AvgPrice: dec("63000")}}},
	}
}

// ---- the invariants ------------------------------------------------------

// snapshot is what the checks read: every account, every order.
type snapshot struct {
	accounts map[string]store.Account
	orders   []store.Order
}

// snapshot reads every account and every order. Decoding every order on
// every step is most of the test's time, so between full reads (full, or
// every fullEvery steps) only the orders that can still change are read
// again: the working ones and the new ones. A done order is terminal; the
// full reads check that it stayed as it was.
func (h *harness) snapshot(full bool) snapshot {
	s := snapshot{accounts: map[string]store.Account{}}
	for _, a := range h.accts {
		acct, err := h.st.Account(h.ctx, a.code)
		if err != nil {
			h.t.Fatalf("account %s: %v", a.code, err)
		}
		s.accounts[a.code] = acct
	}
	h.reads++
	if full || h.orders == nil || h.reads%fullEvery == 0 {
		all, err := allOrders(h.ctx, h.st)
		if err != nil {
			h.t.Fatalf("orders: %v", err)
		}
		fresh := make(map[int64]store.Order, len(all))
		for _, o := range all {
			if old, ok := h.orders[o.ID]; ok && old.Status.Done() && o.Seq != old.Seq {
				h.changedDone = append(h.changedDone, fmt.Sprintf("order %d changed after it was %s: now %s seq %d (was %d)", o.ID, old.Status, o.Status, o.Seq, old.Seq))
			}
			fresh[o.ID] = o
			h.maxID = max(h.maxID, o.ID)
		}
		for id, old := range h.orders {
			if _, ok := fresh[id]; !ok {
				h.changedDone = append(h.changedDone, fmt.Sprintf("order %d (%s) vanished", id, old.Status))
			}
		}
		h.orders = fresh
	} else {
		for id, o := range h.orders {
			if o.Status.Done() {
				continue
			}
			cur, err := h.st.Order(h.ctx, id)
			if err != nil {
				h.t.Fatalf("order %d: %v", id, err)
			}
			h.orders[id] = cur
		}
		const page = 8
		recent, err := h.st.Orders(h.ctx, store.OrderFilter{Limit: page})
		if err != nil {
			h.t.Fatalf("orders: %v", err)
		}
		if len(recent) == page && recent[page-1].ID > h.maxID {
			return h.snapshot(true) // more new orders than one page
		}
		for _, o := range recent {
			if o.ID > h.maxID {
				h.orders[o.ID] = o
			}
		}
		for _, o := range recent {
			h.maxID = max(h.maxID, o.ID)
		}
	}
	s.orders = make([]store.Order, 0, len(h.orders))
	for _, o := range h.orders {
		s.orders = append(s.orders, o)
	}
	return s
}

func qtyDec(q int64) decimal.Decimal { return decimal.NewFromInt(q) }

// checkPending: what is pending is positive and due later than today (the
// service settles what is due when the day starts) but no later than T+2.
func (h *harness) checkPending(code string, a store.Account) []string {
	var bad []string
	today := h.clock.TradingDate()
	latest, err := h.clock.Schedule().AddTradingDays(today, 2)
	if err != nil {
		return []string{err.Error()}
	}
	due := func(what, date string, positive bool) {
		switch {
		case !positive:
			bad = append(bad, fmt.Sprintf("account %s: %s due %s is not positive", code, what, date))
		case date <= today:
			bad = append(bad, fmt.Sprintf("account %s: %s due %s still pending on %s", code, what, date, today))
		case date > latest:
			bad = append(bad, fmt.Sprintf("account %s: %s due %s, after T+2 (%s)", code, what, date, latest))
		}
	}
	for _, d := range a.CashPending {
		due("cash "+d.Amount.String(), d.Date, d.Amount.IsPositive())
	}
	for _, hd := range a.Holdings {
		for _, d := range hd.Pending {
			due(fmt.Sprintf("%d %s", d.Qty, hd.Symbol), d.Date, d.Qty > 0)
		}
	}
	return bad
}

// check verifies every invariant and returns the violations (empty when
// all hold). No request may be in flight: the store, the books and the
// recorded executions are read one after the other.
func (h *harness) check() []string { return h.checkSnap(false) }

// checkAll is check reading every order.
func (h *harness) checkAll() []string { return h.checkSnap(true) }

func (h *harness) checkSnap(full bool) []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	snap := h.snapshot(full)
	bad = append(bad, h.changedDone...)
	h.changedDone = nil
	execs := h.venue.executions()
	for _, x := range execs {
		if x.BuyAccount == x.SellAccount {
			fail("execution %d is a self-trade of %s", x.ExecID, x.BuyAccount)
		}
	}

	// Conservation across accounts, and the ledger per account.
	wantCash := map[string]decimal.Decimal{}
	wantQty := map[string]map[string]int64{} // account -> ISIN -> shares
	totalCash0, totalCash := decimal.Zero, decimal.Zero
	totalQty0, totalQty := map[string]int64{}, map[string]int64{}
	for code, a := range h.init {
		wantCash[code] = a.CashAvailable.Add(a.CashHold)
		wantQty[code] = map[string]int64{}
		totalCash0 = totalCash0.Add(a.CashAvailable).Add(a.CashHold)
		for _, hd := range a.Holdings {
			wantQty[code][hd.Symbol] += hd.SellableQty + hd.HoldQty
			totalQty0[hd.Symbol] += hd.SellableQty + hd.HoldQty
		}
	}
	fillQty := map[string]int64{}
	fillValue := map[string]decimal.Decimal{}
	for _, e := range execs {
		isin, _, _ := strings.Cut(e.Symbol, "/")
		inst, ok := h.master.ByISIN(isin)
		if !ok {
			fail("execution %d on unknown symbol %s", e.ExecID, e.Symbol)
			continue
		}
		px := e.Price.Decimal()
		if px.LessThan(inst.Floor) || px.GreaterThan(inst.Ceiling) || e.Qty <= 0 {
			fail("execution %d: %d @ %s outside the band %s..%s", e.ExecID, e.Qty, px, inst.Floor, inst.Ceiling)
		}
		value := px.Mul(qtyDec(e.Qty))
		if _, ok := wantCash[e.BuyAccount]; !ok {
			fail("execution %d: unknown buy account %s", e.ExecID, e.BuyAccount)
			continue
		}
		if _, ok := wantCash[e.SellAccount]; !ok {
			fail("execution %d: unknown sell account %s", e.ExecID, e.SellAccount)
			continue
		}
		wantCash[e.BuyAccount] = wantCash[e.BuyAccount].Sub(value)
		wantCash[e.SellAccount] = wantCash[e.SellAccount].Add(value)
		wantQty[e.BuyAccount][isin] += e.Qty
		wantQty[e.SellAccount][isin] -= e.Qty
		for _, id := range []string{e.BuyOrderID, e.SellOrderID} {
			fillQty[id] += e.Qty
			fillValue[id] = fillValue[id].Add(value)
		}
	}
	for code, a := range snap.accounts {
		// Pending (bought, sold, not yet settled) counts: the money and
		// the shares exist, they are only not free yet.
		cash := a.CashAvailable.Add(a.CashHold).Add(a.PendingCash())
		totalCash = totalCash.Add(cash)
		if a.CashAvailable.IsNegative() || a.CashHold.IsNegative() {
			fail("account %s: negative cash: available %s, hold %s", code, a.CashAvailable, a.CashHold)
		}
		if !cash.Equal(wantCash[code]) {
			fail("account %s: cash %s (available %s + hold %s + pending %s), the executions say %s", code, cash, a.CashAvailable, a.CashHold, a.PendingCash(), wantCash[code])
		}
		for _, m := range h.checkPending(code, a) {
			fail("%s", m)
		}
		got := map[string]int64{}
		for _, hd := range a.Holdings {
			if hd.SellableQty < 0 || hd.HoldQty < 0 || hd.AvgPrice.IsNegative() {
				fail("account %s: negative holding %+v", code, hd)
			}
			got[hd.Symbol] = hd.Position()
			totalQty[hd.Symbol] += hd.Position()
		}
		for isin, q := range wantQty[code] {
			if got[isin] != q {
				fail("account %s: %d shares of %s, the executions say %d", code, got[isin], isin, q)
			}
		}
		for isin, q := range got {
			if _, ok := wantQty[code][isin]; !ok && q != 0 {
				fail("account %s: %d shares of %s from nowhere", code, q, isin)
			}
		}
	}
	if !totalCash.Equal(totalCash0) {
		fail("cash not conserved: %s across the accounts, seeded %s", totalCash, totalCash0)
	}
	for isin, q0 := range totalQty0 {
		if totalQty[isin] != q0 {
			fail("shares of %s not conserved: %d across the accounts, seeded %d", isin, totalQty[isin], q0)
		}
	}
	for isin, q := range totalQty {
		if _, ok := totalQty0[isin]; !ok {
			fail("shares of %s not conserved: %d from nowhere", isin, q)
		}
	}

	// Orders: quantities, holds, fills.
	cashHold := map[string]decimal.Decimal{}
	stockHold := map[string]map[string]int64{}
	for _, o := range snap.orders {
		id := strconv.FormatInt(o.ID, 10)
		ofail := func(format string, args ...any) {
			tag := fmt.Sprintf("order %d (%s %s %s %s %s qty %d filled %d cancelled %d)", o.ID, o.OriginalReqID, o.Status, o.Side, o.Type, o.Symbol, o.Qty, o.FilledQty, o.CancelledQty)
			fail("%s"+format, append([]any{tag}, args...)...)
		}
		if o.Qty <= 0 || o.FilledQty < 0 || o.CancelledQty < 0 {
			ofail(": negative or zero quantity")
		}
		if o.FilledQty > o.Qty {
			ofail(": filled more than ordered")
		}
		if o.FilledQty+o.CancelledQty > o.Qty {
			ofail(": filled + cancelled exceeds ordered")
		}
		if o.Hold.Cash.IsNegative() || o.Hold.Stock < 0 {
			ofail(": negative hold %s / %d", o.Hold.Cash, o.Hold.Stock)
		}
		if o.FilledQty != fillQty[id] || !o.FilledValue.Equal(fillValue[id]) {
			ofail(": filled %d for %s, the executions say %d for %s", o.FilledQty, o.FilledValue, fillQty[id], fillValue[id])
		}
		if o.FilledQty > 0 {
			inst, _ := h.master.ByISIN(o.ISIN)
			avg := o.AvgFillPrice()
			lo, hi := inst.Floor.Mul(qtyDec(o.FilledQty)), inst.Ceiling.Mul(qtyDec(o.FilledQty))
			if o.FilledValue.LessThan(lo) || o.FilledValue.GreaterThan(hi) || avg.LessThan(inst.Floor) || avg.GreaterThan(inst.Ceiling) {
				ofail(": filled value %s (avg %s) outside the band %s..%s", o.FilledValue, avg, inst.Floor, inst.Ceiling)
			}
		} else if !o.FilledValue.IsZero() {
			ofail(": filled value %s without a fill", o.FilledValue)
		}
		switch {
		case o.Status.Done():
			if !o.Hold.Cash.IsZero() || o.Hold.Stock != 0 {
				ofail(": done but still holds %s cash / %d shares", o.Hold.Cash, o.Hold.Stock)
			}
			switch o.Status {
			case store.OrderFilled:
				if o.FilledQty != o.Qty {
					ofail(": FILLED with %d open", o.Qty-o.FilledQty)
				}
			case store.OrderCanceled, store.OrderExpired:
				if o.FilledQty+o.CancelledQty != o.Qty {
					ofail(": ended with %d neither filled nor cancelled", o.Qty-o.FilledQty-o.CancelledQty)
				}
			case store.OrderRejected:
				if o.FilledQty != 0 {
					ofail(": REJECTED after a fill")
				}
			}
			if _, live := h.venue.Live(bookOf(o), id); live {
				ofail(": done in the store but live in the book")
			}
		default:
			if o.CancelledQty != 0 {
				ofail(": working with a cancelled quantity")
			}
			if o.FilledQty >= o.Qty {
				ofail(": working with nothing open")
			}
			leaves := o.Qty - o.FilledQty
			inst, _ := h.master.ByISIN(o.ISIN)
			if o.Side == "B" {
				unit := inst.Ceiling
				if o.Type == "LO" {
					unit = o.Price
				}
				if !o.Hold.UnitPrice.Equal(unit) {
					ofail(": buy held at %s a share, want %s", o.Hold.UnitPrice, unit)
				}
				if need := o.Hold.UnitPrice.Mul(qtyDec(leaves)); !o.Hold.Cash.Equal(need) {
					ofail(": holds %s cash for %d open at %s (%s)", o.Hold.Cash, leaves, o.Hold.UnitPrice, need)
				}
				if o.Hold.Stock != 0 {
					ofail(": a buy holds %d shares", o.Hold.Stock)
				}
			} else {
				if o.Hold.Stock != leaves || !o.Hold.Cash.IsZero() {
					ofail(": a sell holds %d shares / %s cash for %d open", o.Hold.Stock, o.Hold.Cash, leaves)
				}
			}
			cashHold[o.AccountCode] = cashHold[o.AccountCode].Add(o.Hold.Cash)
			if stockHold[o.AccountCode] == nil {
				stockHold[o.AccountCode] = map[string]int64{}
			}
			stockHold[o.AccountCode][o.ISIN] += o.Hold.Stock
			lv, live := h.venue.Live(bookOf(o), id)
			switch {
			case o.Status == store.OrderPendingNew:
				// Held by the OMS until its session: only while the
				// session does not take it.
				if live {
					ofail(": held by the OMS but live in the book")
				}
				if !o.Waiting() && inst.Permit(h.session, market.OrderType(o.Type), market.New).Verdict == market.Accept {
					ofail(": still held in %s, which takes it", h.session)
				}
			case o.Status != store.OrderNew && o.Status != store.OrderPartiallyFill:
				ofail(": left %s after its request returned", o.Status)
			case !live:
				ofail(": working in the store but not in the book")
			case lv.CumQty != o.FilledQty || lv.LeavesQty != leaves || lv.Qty != o.Qty || !lv.Price.Decimal().Equal(o.Price):
				ofail(": the book has qty %d cum %d leaves %d @ %s, the store qty %d filled %d @ %s",
					lv.Qty, lv.CumQty, lv.LeavesQty, lv.Price, o.Qty, o.FilledQty, o.Price)
			}
		}
	}
	for code, a := range snap.accounts {
		if !a.CashHold.Equal(cashHold[code]) {
			fail("account %s: cash_hold %s, its working orders hold %s", code, a.CashHold, cashHold[code])
		}
		for _, hd := range a.Holdings {
			if hd.HoldQty != stockHold[code][hd.Symbol] {
				fail("account %s: hold_qty of %s is %d, its working orders hold %d", code, hd.Symbol, hd.HoldQty, stockHold[code][hd.Symbol])
			}
		}
		for isin, q := range stockHold[code] {
			if hd, _ := a.Holding(isin); q != 0 && hd.HoldQty != q {
				fail("account %s: working orders hold %d of %s, the holding %d", code, q, isin, hd.HoldQty)
			}
		}
	}

	// Books: never crossed; everything live is a working order.
	byID := map[string]store.Order{}
	for _, o := range snap.orders {
		byID[strconv.FormatInt(o.ID, 10)] = o
	}
	for _, in := range h.master.All() {
		for _, book := range booksOf(in) {
			b, ok := h.venue.Book(book)
			if !ok {
				fail("no book %s for %s", book, in.Ticker)
				continue
			}
			bid, _, okB := b.Best(venue.Buy)
			ask, _, okA := b.Best(venue.Sell)
			// A call auction collects without matching; it is uncrossed when
			// it ends.
			if okB && okA && bid >= ask && b.Phase() != venue.CallAuction {
				fail("book %s crossed: best bid %s ≥ best ask %s", in.Ticker, bid, ask)
			}
			for _, side := range []venue.Side{venue.Buy, venue.Sell} {
				for _, lv := range b.Orders(side) {
					o, ok := byID[lv.ID]
					if !ok || o.Status.Done() || bookOf(o) != book {
						fail("book %s holds order %s (%s %d @ %s) the store has as %q", book, lv.ID, lv.Side, lv.LeavesQty, lv.Price, o.Status)
					}
				}
			}
		}
	}
	return bad
}

// ---- the random stream ---------------------------------------------------

type stats struct {
	submits, storedRejects, fills, cancels, replaces, refusals int
	stopsFired                                                 int // conditional orders triggered
	// why: stored rejects and refusals by code
	why map[string]int
}

func (s *stats) add(o stats) {
	s.submits += o.submits
	s.storedRejects += o.storedRejects
	s.fills += o.fills
	s.cancels += o.cancels
	s.replaces += o.replaces
	s.refusals += o.refusals
	s.stopsFired += o.stopsFired
	if s.why == nil {
		s.why = map[string]int{}
	}
	for k, v := range o.why {
		s.why[k] += v
	}
}

// reason is the {source}|{code} of an order text or a refusal.
func reason(text string) string {
	if i := strings.Index(text, ": "); i >= 0 && !strings.Contains(text[:i], "|") {
		code, rest := text[:i], text[i+2:]
		if !strings.Contains(rest, "|") {
			return code
		}
		text = rest
	}
	parts := strings.SplitN(text, "|", 3)
	if len(parts) < 2 {
		return text
	}
	return parts[0] + "|" + parts[1]
}

type streamer struct {
	h      *harness
	rng    *rand.Rand
	prefix string
	// accounts this streamer trades (all, unless the test splits them).
	accts  []int
	orders []string       // entry ClOrdIDs, oldest first
	owner  map[string]int // entry ClOrdID -> account index
	// auctions adds ATO and ATC orders to the mix.
	auctions bool
	st       stats
	log      []string
}

// prices lists inst's on-tick prices from floor to ceiling.
func prices(inst market.Instrument) []decimal.Decimal {
	var out []decimal.Decimal
	for p := inst.TickTable.RoundUp(inst.Floor); p.LessThanOrEqual(inst.Ceiling); p = p.Add(inst.TickTable.TickAt(p)) {
		out = append(out, p)
	}
	return out
}

var priceCache sync.Map // ISIN -> []decimal.Decimal

func bandPrices(inst market.Instrument) []decimal.Decimal {
	if v, ok := priceCache.Load(inst.ISIN); ok {
		return v.([]decimal.Decimal)
	}
	ps := prices(inst)
	priceCache.Store(inst.ISIN, ps)
	return ps
}

// pickPrice is mostly near the reference (so orders cross and rest), some
// anywhere in the band, a few invalid (off tick, outside the band).
func (s *streamer) pickPrice(inst market.Instrument) string {
	ps := bandPrices(inst)
	ref := 0
	for i, p := range ps {
		if p.LessThanOrEqual(inst.ReferencePrice) {
			ref = i
		}
	}
	switch r := s.rng.IntN(100); {
	case r < 85:
		i := min(max(ref+s.rng.IntN(31)-15, 0), len(ps)-1)
		return ps[i].String()
	case r < 95:
		return ps[s.rng.IntN(len(ps))].String()
	case r < 97:
		return ps[s.rng.IntN(len(ps))].Add(inst.TickTable.TickAt(inst.ReferencePrice).Div(decimal.NewFromInt(2))).String()
	case r < 98:
		return inst.Ceiling.Add(inst.TickTable.TickAt(inst.Ceiling)).String()
	default:
		return inst.TickTable.RoundDown(inst.Floor.Sub(inst.TickTable.TickAt(inst.Floor))).String()
	}
}

// pickQty is mostly a few lots, sometimes far more than any account can
// pay for or holds, sometimes an odd lot.
func (s *streamer) pickQty(inst market.Instrument) int64 {
	switch r := s.rng.IntN(100); {
	case r < 90:
		return inst.LotSize * int64(1+s.rng.IntN(15))
	case r < 96:
		return inst.LotSize * int64(50+s.rng.IntN(400))
	default:
		return 1 + s.rng.Int64N(inst.LotSize-1)
	}
}

// userFor is mostly the account's trader, sometimes a viewer or a
// stranger (403 / unknown order).
func (s *streamer) userFor(acct int) (string, bool) {
	switch r := s.rng.IntN(100); {
	case r < 3:
		return viewerUser, false
	case r < 5:
		return strangerUser, false
	}
	return s.h.accts[acct].user, true
}

// acceptable reports whether err is an expected refusal: 400 or 403.
func acceptable(err error) bool {
	c := apperr.CodeOf(err)
	return c == apperr.InvalidRequest || c == apperr.Forbidden
}

func (s *streamer) step(i int) error {
	ctx := s.h.ctx
	r := s.rng.IntN(100)
	if len(s.orders) == 0 {
		r = 0
	}
	switch {
	case r < 60: // new order
		ai := s.accts[s.rng.IntN(len(s.accts))]
		user, owner := s.userFor(ai)
		inst := s.h.fpt
		if s.rng.IntN(5) < 2 {
			inst = s.h.vnm
		}
		side := "B"
		if s.rng.IntN(2) == 0 {
			side = "S"
		}
		typ := "LO"
		t := s.rng.IntN(100)
		if s.auctions && t < 10 {
			typ = []string{"ATO", "ATC"}[t%2]
		} else {
			switch t := s.rng.IntN(100); {
			case t < 70:
			case t < 80:
				typ = "MAK"
			case t < 90:
				typ = "MOK"
			default:
				typ = "MTL"
			}
		}
		in := NewOrder{Account: s.h.accts[ai].code, Symbol: inst.Ticker, Side: side, Type: typ, Qty: s.pickQty(inst),
			RefOrderID: fmt.Sprintf("%s%d", s.prefix, i)}
		if typ == "LO" {
			p := s.pickPrice(inst)
			in.Price = &p
			if s.rng.IntN(100) < 15 {
				s.conditional(&in, inst)
			}
		}
		desc := fmt.Sprintf("step %d: %s submits %s %s %s %d", i, user, in.Account, side, typ, in.Qty)
		if in.StopPx != nil {
			desc += " stop " + *in.StopPx
		}
		if in.StopOffset != nil {
			desc += " trailing " + *in.StopOffset
		}
		if in.Price != nil {
			desc += " @ " + *in.Price
		}
		s.log = append(s.log, desc+" as "+in.RefOrderID)
		_, err := s.h.svc.Submit(ctx, user, in)
		if err != nil {
			if owner || !acceptable(err) {
				return fmt.Errorf("%s: %w", desc, err)
			}
			s.st.refusals++
			return nil
		}
		if !owner {
			return fmt.Errorf("%s: accepted from a user without a TRADE grant", desc)
		}
		s.orders = append(s.orders, in.RefOrderID)
		s.owner[in.RefOrderID] = ai
		s.st.submits++
		o, err := s.lookup(in.RefOrderID)
		if err != nil {
			return fmt.Errorf("%s: stored order: %w", desc, err)
		}
		if o.Status == store.OrderRejected {
			s.st.storedRejects++
			s.st.why["new "+reason(o.Text)]++
		}
		s.log[len(s.log)-1] += fmt.Sprintf(" -> %d %s filled %d %s", o.ID, o.Status, o.FilledQty, o.Text)
		return nil

	case r < 80: // cancel
		req := s.target()
		if s.rng.IntN(50) == 0 {
			req = "no-such-order"
		}
		user, _ := s.userFor(s.owner[req])
		desc := fmt.Sprintf("step %d: %s cancels %s", i, user, req)
		s.log = append(s.log, desc)
		_, err := s.h.svc.Cancel(ctx, user, CancelRequest{OrderID: req, RequestID: fmt.Sprintf("%sc%d", s.prefix, i)})
		if err != nil {
			if !acceptable(err) {
				return fmt.Errorf("%s: %w", desc, err)
			}
			s.st.refusals++
			s.st.why["cancel "+reason(err.Error())]++
			s.log[len(s.log)-1] += " -> " + err.Error()
			return nil
		}
		s.st.cancels++
		return nil

	default: // replace
		req := s.target()
		o, err := s.lookup(req)
		if err != nil {
			return fmt.Errorf("step %d: replace of %s: %w", i, req, err)
		}
		inst, _ := s.h.master.ByISIN(o.ISIN)
		if o.ISIN == "" {
			inst = s.h.fpt
		}
		price := s.pickPrice(inst)
		if o.Price.IsPositive() && s.rng.IntN(3) == 0 {
			// A small move from the current price, or none.
			step := inst.TickTable.TickAt(o.Price).Mul(decimal.NewFromInt(int64(s.rng.IntN(7) - 3)))
			price = o.Price.Add(step).String()
		}
		qty := o.Qty + inst.LotSize*int64(s.rng.IntN(9)-4)
		if qty <= 0 || s.rng.IntN(4) == 0 {
			qty = s.pickQty(inst)
		}
		user, _ := s.userFor(s.owner[req])
		desc := fmt.Sprintf("step %d: %s replaces %s (%s %s %s %d @ %s filled %d) with %d @ %s", i, user, req, o.Status, o.Side, o.Type, o.Qty, o.Price, o.FilledQty, qty, price)
		s.log = append(s.log, desc)
		_, err = s.h.svc.Replace(ctx, user, ReplaceRequest{OrderID: req, RequestID: fmt.Sprintf("%sr%d", s.prefix, i), Price: price, Qty: qty})
		if err != nil {
			if !acceptable(err) {
				return fmt.Errorf("%s: %w", desc, err)
			}
			s.st.refusals++
			s.st.why["replace "+reason(err.Error())]++
			s.log[len(s.log)-1] += " -> " + err.Error()
			return nil
		}
		s.st.replaces++
		return nil
	}
}

// stopsFired counts the conditional orders whose stop was reached.
func (h *harness) stopsFired() int {
	os, err := allOrders(h.ctx, h.st)
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, o := range os {
		if o.Stop.Triggered {
			n++
		}
	}
	return n
}

// conditional makes the limit order in a stop-limit or trailing stop: its
// stop a few ticks through its price (some on the wrong side of the last
// trade, refused), a trailing offset of a few ticks.
func (s *streamer) conditional(in *NewOrder, inst market.Instrument) {
	p := dec(*in.Price)
	ticks := inst.TickTable.TickAt(p).Mul(decimal.NewFromInt(int64(s.rng.IntN(6))))
	stop := p.Add(ticks)
	if in.Side == "B" {
		stop = p.Sub(ticks)
	}
	px := stop.String()
	in.StopPx = &px
	if s.rng.IntN(2) == 0 {
		off := inst.TickTable.TickAt(p).Mul(decimal.NewFromInt(int64(s.rng.IntN(4)))).String()
		in.StopOffset = &off
	}
}

// lookup reads the order entered under req by its account's trader (a
// ClOrdID names an order in its user's namespace).
func (s *streamer) lookup(req string) (store.Order, error) {
	return s.h.st.OrderByReqID(s.h.ctx, s.h.accts[s.owner[req]].user, req)
}

// orderByRef reads the newest order entered under ref by any user.
func orderByRef(ctx context.Context, st store.Trading, ref string) (store.Order, error) {
	os, err := st.Orders(ctx, store.OrderFilter{OriginalReqID: ref, Limit: 1})
	if err != nil {
		return store.Order{}, err
	}
	if len(os) == 0 {
		return store.Order{}, fmt.Errorf("order %q: %w", ref, store.ErrNotFound)
	}
	return os[0], nil
}

// target picks an earlier order to cancel or replace, a working one more
// often than not.
func (s *streamer) target() string {
	var req string
	for range 4 {
		req = s.orders[s.rng.IntN(len(s.orders))]
		if o, err := s.lookup(req); err == nil && !o.Status.Done() {
			break
		}
	}
	return req
}

func newStreamer(h *harness, seed uint64, prefix string, accts []int) *streamer {
	return &streamer{h: h, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), prefix: prefix, accts: accts, owner: map[string]int{}, st: stats{why: map[string]int{}}}
}

// cancelAll cancels every working order through the API, as its trader.
func (h *harness) cancelAll(owner func(store.Order) string) error {
	snap := h.snapshot(true)
	for _, o := range snap.orders {
		if o.Status.Done() {
			continue
		}
		if _, err := h.svc.Cancel(h.ctx, owner(o), CancelRequest{OrderID: o.OriginalReqID}); err != nil {
			return fmt.Errorf("cancel of working order %d (%s %s): %w", o.ID, o.OriginalReqID, o.Status, err)
		}
	}
	return nil
}

// checkNothingHeld is the end state: every order done, nothing held.
func (h *harness) checkNothingHeld() []string {
	var bad []string
	snap := h.snapshot(true)
	for code, a := range snap.accounts {
		if !a.CashHold.IsZero() {
			bad = append(bad, fmt.Sprintf("account %s still holds %s cash", code, a.CashHold))
		}
		for _, hd := range a.Holdings {
			if hd.HoldQty != 0 {
				bad = append(bad, fmt.Sprintf("account %s still holds %d of %s", code, hd.HoldQty, hd.Symbol))
			}
		}
	}
	for _, o := range snap.orders {
		if !o.Status.Done() {
			bad = append(bad, fmt.Sprintf("order %d (%s) still %s", o.ID, o.OriginalReqID, o.Status))
		}
	}
	for _, in := range h.master.All() {
		for _, book := range booksOf(in) {
			b, _ := h.venue.Book(book)
			if n := len(b.Orders(venue.Buy)) + len(b.Orders(venue.Sell)); n != 0 {
				bad = append(bad, fmt.Sprintf("book %s still has %d orders", book, n))
			}
		}
	}
	return bad
}

// raceEnabled reports whether the test binary was built with -race, which
// makes every step several times slower.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// propSeeds is how many seeds to run: propSeedsCI, fewer under -race or
// -short, TRADING_PROP_SEEDS when set.
func propSeeds(t *testing.T) int {
	n := propSeedsCI
	if raceEnabled() {
		n = propSeedsRace
	}
	if testing.Short() {
		n = max(n/4, 2)
	}
	if v := os.Getenv("TRADING_PROP_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("TRADING_PROP_SEEDS=%q: want a positive integer", v)
		}
	}
	return n
}

func failWith(t *testing.T, what string, bad []string, log []string) {
	t.Helper()
	from := max(len(log)-25, 0)
	t.Fatalf("%s:\n  %s\nlast operations:\n  %s", what, strings.Join(bad, "\n  "), strings.Join(log[from:], "\n  "))
}

// TestPropertyRandomStreams is the property: random order streams
// (seeded) keep every invariant.
func TestPropertyRandomStreams(t *testing.T) {
	var total stats
	for seed := 1; seed <= propSeeds(t); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h := newHarness(t, propAccounts())
			s := newStreamer(h, uint64(seed), "o", []int{0, 1, 2, 3})
			if bad := h.check(); len(bad) > 0 {
				failWith(t, "before any order", bad, nil)
			}
			for i := range propSteps {
				if err := s.step(i); err != nil {
					failWith(t, "unexpected error", []string{err.Error()}, s.log)
				}
				if bad := h.check(); len(bad) > 0 {
					failWith(t, fmt.Sprintf("invariants broken after step %d", i), bad, s.log)
				}
			}
			if err := h.cancelAll(func(o store.Order) string { return h.accts[s.owner[o.OriginalReqID]].user }); err != nil {
				failWith(t, "cancelling what is left", []string{err.Error()}, s.log)
			}
			bad := append(h.checkAll(), h.checkNothingHeld()...)
			if len(bad) > 0 {
				failWith(t, "after cancelling every working order", bad, s.log)
			}
			s.st.fills = len(h.venue.executions())
			s.st.stopsFired = h.stopsFired()
			total.add(s.st)
		})
	}
	t.Logf("over all seeds: %d orders stored (%d rejected), %d executions, %d cancels and %d replaces accepted, %d refusals, %d stops triggered; by code: %v",
		total.submits, total.storedRejects, total.fills, total.cancels, total.replaces, total.refusals, total.stopsFired, total.why)
	// The stream must exercise what it checks.
	if !t.Failed() && (total.fills == 0 || total.storedRejects == 0 || total.cancels == 0 || total.replaces == 0 || total.refusals == 0 || total.stopsFired == 0) {
		t.Fatalf("the stream did not exercise every path: %+v", total)
	}
}

// TestPropertyConcurrentStreams runs four seeded streams at once, one per
// account, in rounds, and checks the invariants between rounds when the
// service is quiet: the per-book lock and the atomic store steps must keep
// them under concurrency (and -race must stay silent). The interleaving is
// the scheduler's, so a failure here may not reproduce from its seed.
func TestPropertyConcurrentStreams(t *testing.T) {
	seeds := max(propSeeds(t)/4, 2)
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h := newHarness(t, propAccounts())
			ss := make([]*streamer, len(h.accts))
			for a := range ss {
				ss[a] = newStreamer(h, uint64(seed*10+a), fmt.Sprintf("g%d-", a), []int{a})
			}
			owners := map[string]string{}
			for round := range 4 {
				var wg sync.WaitGroup
				errs := make([]error, len(ss))
				for a, s := range ss {
					wg.Go(func() {
						for i := round * propSteps / 8; i < (round+1)*propSteps/8; i++ {
							if err := s.step(i); err != nil {
								errs[a] = err
								return
							}
						}
					})
				}
				wg.Wait()
				var log []string
				for _, s := range ss {
					log = append(log, s.log...)
				}
				if err := errors.Join(errs...); err != nil {
					failWith(t, "concurrent stream", []string{err.Error()}, log)
				}
				if bad := h.checkAll(); len(bad) > 0 {
					failWith(t, fmt.Sprintf("invariants broken after round %d", round), bad, log)
				}
			}
			for _, s := range ss {
				for req, a := range s.owner {
					owners[req] = h.accts[a].user
				}
			}
			if err := h.cancelAll(func(o store.Order) string { return owners[o.OriginalReqID] }); err != nil {
				t.Fatal(err)
			}
			if bad := append(h.checkAll(), h.checkNothingHeld()...); len(bad) > 0 {
				failWith(t, "after cancelling every working order", bad, nil)
			}
		})
	}
}

// TestPropertyTradingDay runs each seeded stream through a whole trading
// day: pre-opening (everything held by the OMS), the opening auction (ATO
// and LO collected, uncrossed when it ends), continuous trading, the
// intermission, continuous again, the closing auction (ATC) and the close,
// which expires everything. The invariants are checked after every step
// and every session change; at the close nothing may be held.
//
// Replaces during the intermission are sent too: an order in the closed
// book refuses them (see TestReplaceDuringIntermissionKeepsHold).
func TestPropertyTradingDay(t *testing.T) {
	day := []struct {
		session market.Session
		steps   int
	}{
		{market.PreOpening, 15}, {market.OpeningAuction, 25}, {market.Continuous, 70}, {market.Intermission, 20},
		{market.Continuous, 45}, {market.ClosingAuction, 20}, {market.PostClose, 5},
	}
	var total stats
	for seed := 1; seed <= max(propSeeds(t)/2, 2); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h := newHarness(t, propAccounts())
			s := newStreamer(h, uint64(seed)+1000, "d", []int{0, 1, 2, 3})
			s.auctions = true
			i := 0
			for _, part := range day {
				s.log = append(s.log, fmt.Sprintf("-- session %s", part.session))
				if err := h.setSession(part.session); err != nil {
					failWith(t, "session change to "+part.session.String(), []string{err.Error()}, s.log)
				}
				if bad := h.check(); len(bad) > 0 {
					failWith(t, "invariants broken on entering "+part.session.String(), bad, s.log)
				}
				for range part.steps {
					if err := s.step(i); err != nil {
						failWith(t, "unexpected error", []string{err.Error()}, s.log)
					}
					if bad := h.check(); len(bad) > 0 {
						failWith(t, fmt.Sprintf("invariants broken after step %d (%s)", i, part.session), bad, s.log)
					}
					i++
				}
			}
			if bad := append(h.checkAll(), h.checkNothingHeld()...); len(bad) > 0 {
				failWith(t, "after the close", bad, s.log)
			}
			h.nextDays(t, s, &i)
			s.st.fills = len(h.venue.executions())
			total.add(s.st)
		})
	}
	t.Logf("over all seeds: %d orders stored (%d rejected), %d executions, %d cancels and %d replaces accepted, %d refusals; by code: %v",
		total.submits, total.storedRejects, total.fills, total.cancels, total.replaces, total.refusals, total.why)
}

// nextDays runs the two trading days after the stream's day: T+1 trades
// again in continuous trading (sells only what has settled), T+2 settles
// the first day's trades. The invariants (money conserved counting what
// is pending, nothing pending past its date) hold after each step.
func (h *harness) nextDays(t *testing.T, s *streamer, i *int) {
	t.Helper()
	fills := len(h.venue.executions())
	for day := 1; day <= 2; day++ {
		change, err := h.svc.NextDay(h.ctx)
		if err != nil {
			failWith(t, "next day", []string{err.Error()}, s.log)
		}
		s.log = append(s.log, fmt.Sprintf("-- next day %s -> %s, %d accounts settled", change.From, change.To, change.Settled.Accounts))
		if bad := append(h.checkAll(), h.checkNothingHeld()...); len(bad) > 0 {
			failWith(t, "after the next day "+change.To, bad, s.log)
		}
		if day == 2 {
			if fills > 0 && change.Settled.Accounts == 0 {
				failWith(t, "T+2 settled nothing", []string{fmt.Sprintf("%d executions on the first day", fills)}, s.log)
			}
			return
		}
		if err := h.setSession(market.Continuous); err != nil {
			failWith(t, "continuous on the next day", []string{err.Error()}, s.log)
		}
		for range 30 {
			if err := s.step(*i); err != nil {
				failWith(t, "unexpected error", []string{err.Error()}, s.log)
			}
			if bad := h.check(); len(bad) > 0 {
				failWith(t, fmt.Sprintf("invariants broken after step %d (next day)", *i), bad, s.log)
			}
			*i++
		}
	}
}

// TestReplaceDuringIntermissionKeepsHold: during the intermission the
// matrix would hold a modify (P), but the order sits in a closed book. It
// was once sent there, refused by the book, and left the order with a hold
// sized for the refused terms, so a later fill overdrew the account. Now
// the replace is refused up front (-134007) and the hold is untouched.
func TestReplaceDuringIntermissionKeepsHold(t *testing.T) {
	h := newHarness(t, propAccounts())
	submit := func(acct int, side, price string, qty int64, ref string) error {
		_, err := h.svc.Submit(h.ctx, h.accts[acct].user, NewOrder{Account: h.accts[acct].code, Symbol: "FPT", Side: side, Type: "LO", Price: &price, Qty: qty, RefOrderID: ref})
		return err
	}
	mustCheck := func(what string) {
		t.Helper()
		if bad := h.checkAll(); len(bad) > 0 {
			t.Fatalf("%s:\n  %s", what, strings.Join(bad, "\n  "))
		}
	}
	// PROP002 (1 000 000 000 VND) bids 1 000 at 100 000: 100 000 000 held.
	if err := submit(1, "B", "100000", 1000, "b1"); err != nil {
		t.Fatal(err)
	}
	if err := h.setSession(market.Intermission); err != nil {
		t.Fatal(err)
	}
	// It asks for 100 at 99 000: refused while the book is closed.
	_, err := h.svc.Replace(h.ctx, h.accts[1].user, ReplaceRequest{OrderID: "b1", Price: "99000", Qty: 100})
	if err == nil || !strings.Contains(err.Error(), "|-134007|") {
		t.Fatalf("replace in the intermission: %v, want a -134007 refusal", err)
	}
	mustCheck("after a refused replace during the intermission")
	// It spends what the replace freed on an order held until continuous.
	if err := submit(1, "B", "93000", 9900, "b2"); err != nil {
		t.Fatal(err)
	}
	if err := h.setSession(market.Continuous); err != nil {
		t.Fatal(err)
	}
	// A seller meets the bid the book still has.
	if err := submit(0, "S", "100000", 1000, "s1"); err != nil {
		t.Fatalf("the sell that meets the bid: %v", err)
	}
	mustCheck("after the fill")
}

// ---- one deterministic scenario -----------------------------------------

func TestFillsPaySellerAndAverageBuyer(t *testing.T) {
	const fpt = "VN000000FPT1"
	accts := []propAccount{
		{"SELLER1", "seller@example.com", "1000000", []store.Holding{{Symbol: fpt, SellableQty: 1000, AvgPrice: dec("90000")}}},
		{"BUYER01", "buyer@example.com", "200000000", []store.Holding{{Symbol: fpt, SellableQty: 1000, AvgPrice: dec("95000")}}},
		{"SELLER2", "seller2@example.com", "0", []store.Holding{{Symbol: fpt, SellableQty: 300, AvgPrice: dec("99000")}}},
	}
	h := newHarness(t, accts)
	ctx := h.ctx
	submit := func(user, acct, side, typ, price string, qty int64, ref string) store.Order {
		t.Helper()
		in := NewOrder{Account: acct, Symbol: "FPT", Side: side, Type: typ, Qty: qty, RefOrderID: ref}
		if price != "" {
			in.Price = &price
		}
		if _, err := h.svc.Submit(ctx, user, in); err != nil {
			t.Fatalf("submit %s: %v", ref, err)
		}
		o, err := orderByRef(ctx, h.st, ref)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	account := func(code string) (store.Account, store.Holding) {
		t.Helper()
		a, err := h.st.Account(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		hd, _ := a.Holding(fpt)
		return a, hd
	}
	order := func(ref string) store.Order {
		t.Helper()
		o, err := orderByRef(ctx, h.st, ref)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	// Proceeds and bought shares are pending until T+2.
	wantCash := func(code, avail, hold, pending string) {
		t.Helper()
		a, _ := account(code)
		if !a.CashAvailable.Equal(dec(avail)) || !a.CashHold.Equal(dec(hold)) || !a.PendingCash().Equal(dec(pending)) {
			t.Fatalf("%s cash %s available / %s held / %s pending, want %s / %s / %s", code, a.CashAvailable, a.CashHold, a.PendingCash(), avail, hold, pending)
		}
	}
	wantPos := func(code string, sellable, hold, pending int64, avg string) {
		t.Helper()
		_, hd := account(code)
		if hd.SellableQty != sellable || hd.HoldQty != hold || hd.PendingQty() != pending || !hd.AvgPrice.Equal(dec(avg)) {
			t.Fatalf("%s FPT %d sellable / %d held / %d pending avg %s, want %d / %d / %d avg %s", code, hd.SellableQty, hd.HoldQty, hd.PendingQty(), hd.AvgPrice, sellable, hold, pending, avg)
		}
	}
	checkAll := func(what string) {
		t.Helper()
		if bad := h.check(); len(bad) > 0 {
			t.Fatalf("%s:\n  %s", what, strings.Join(bad, "\n  "))
		}
	}

	// The seller rests 500 at 101 000.
	if o := submit("seller@example.com", "SELLER1", "S", "LO", "101000", 500, "s1"); o.Status != store.OrderNew || o.Hold.Stock != 500 {
		t.Fatalf("sell: %s holding %d", o.Status, o.Hold.Stock)
	}
	wantPos("SELLER1", 500, 500, 0, "90000")

	// The buyer takes 300 with a limit of 102 000: it pays the resting
	// price, 300 × 101 000, and its 102 000 hold is released in full.
	b1 := submit("buyer@example.com", "BUYER01", "B", "LO", "102000", 300, "b1")
	if b1.Status != store.OrderFilled || b1.FilledQty != 300 || !b1.FilledValue.Equal(dec("30300000")) || !b1.AvgFillPrice().Equal(dec("101000")) {
		t.Fatalf("b1: %s filled %d for %s avg %s", b1.Status, b1.FilledQty, b1.FilledValue, b1.AvgFillPrice())
	}
	wantCash("SELLER1", "1000000", "0", "30300000") // 300 × 101 000 due on T+2
	wantPos("SELLER1", 500, 200, 0, "90000")
	wantCash("BUYER01", "169700000", "0", "0") // 200 000 000 − 30 300 000, paid at the trade
	// (1 000 × 95 000 + 300 × 101 000) / 1 300 = 96 384.615384… → 96 384.6154
	wantPos("BUYER01", 1000, 0, 300, "96384.6154")
	if s1 := order("s1"); s1.Status != store.OrderPartiallyFill || s1.FilledQty != 300 || !s1.FilledValue.Equal(dec("30300000")) || s1.Hold.Stock != 200 {
		t.Fatalf("s1: %s filled %d for %s holding %d", s1.Status, s1.FilledQty, s1.FilledValue, s1.Hold.Stock)
	}
	checkAll("after b1")

	// The buyer bids 400 at 101 500: 200 fill at 101 000 (the seller's
	// rest), 200 rest holding 200 × 101 500.
	b2 := submit("buyer@example.com", "BUYER01", "B", "LO", "101500", 400, "b2")
	if b2.Status != store.OrderPartiallyFill || b2.FilledQty != 200 || !b2.FilledValue.Equal(dec("20200000")) || !b2.Hold.Cash.Equal(dec("20300000")) {
		t.Fatalf("b2: %s filled %d for %s holding %s", b2.Status, b2.FilledQty, b2.FilledValue, b2.Hold.Cash)
	}
	wantCash("SELLER1", "1000000", "0", "50500000") // + 200 × 101 000
	wantPos("SELLER1", 500, 0, 0, "90000")
	if s1 := order("s1"); s1.Status != store.OrderFilled || s1.FilledQty != 500 || !s1.AvgFillPrice().Equal(dec("101000")) || s1.Hold.Stock != 0 {
		t.Fatalf("s1: %s filled %d avg %s holding %d", s1.Status, s1.FilledQty, s1.AvgFillPrice(), s1.Hold.Stock)
	}
	// 169 700 000 − 20 200 000 paid − 20 300 000 held
	wantCash("BUYER01", "129200000", "20300000", "0")
	// (1 300 × 96 384.6154 + 200 × 101 000) / 1 500 = 97 000.00001… → 97 000
	wantPos("BUYER01", 1000, 0, 500, "97000")
	checkAll("after b2")

	// An MTL sell of 300 hits the 200 resting at 101 500; its other 100
	// rest one tick lower (KRX: the last matched price − 1 tick) until
	// cancelled, which releases their hold.
	m := submit("seller2@example.com", "SELLER2", "S", "MTL", "", 300, "m1")
	if m.Status != store.OrderPartiallyFill || m.FilledQty != 200 || !m.Price.Equal(dec("101400")) || m.Hold.Stock != 100 {
		t.Fatalf("m1: %s filled %d at limit %s holding %d", m.Status, m.FilledQty, m.Price, m.Hold.Stock)
	}
	wantPos("SELLER2", 0, 100, 0, "99000")
	if _, err := h.svc.Cancel(h.ctx, "seller2@example.com", CancelRequest{OrderID: "m1", RequestID: "m1-cancel"}); err != nil {
		t.Fatal(err)
	}
	if m = order("m1"); m.Status != store.OrderCanceled || m.FilledQty != 200 || m.CancelledQty != 100 || !m.FilledValue.Equal(dec("20300000")) || m.Hold.Stock != 0 {
		t.Fatalf("m1: %s filled %d cancelled %d for %s holding %d", m.Status, m.FilledQty, m.CancelledQty, m.FilledValue, m.Hold.Stock)
	}
	wantCash("SELLER2", "0", "0", "20300000")
	wantPos("SELLER2", 100, 0, 0, "99000")
	wantCash("BUYER01", "129200000", "0", "0")
	// (1 500 × 97 000 + 200 × 101 500) / 1 700 = 97 529.4117… → 97 529.4118
	wantPos("BUYER01", 1000, 0, 700, "97529.4118")
	if b2 = order("b2"); b2.Status != store.OrderFilled || b2.FilledQty != 400 || !b2.FilledValue.Equal(dec("40500000")) || !b2.AvgFillPrice().Equal(dec("101250")) {
		t.Fatalf("b2: %s filled %d for %s avg %s", b2.Status, b2.FilledQty, b2.FilledValue, b2.AvgFillPrice())
	}
	checkAll("after m1")
	if bad := h.checkNothingHeld(); len(bad) > 0 {
		t.Fatal(strings.Join(bad, "\n"))
	}
	// T+1 settles nothing; T+2 makes the shares sellable and the proceeds
	// available.
	if _, err := h.svc.NextDay(ctx); err != nil {
		t.Fatal(err)
	}
	wantCash("SELLER1", "1000000", "0", "50500000")
	wantPos("BUYER01", 1000, 0, 700, "97529.4118")
	if _, err := h.svc.NextDay(ctx); err != nil {
		t.Fatal(err)
	}
	wantCash("SELLER1", "51500000", "0", "0")
	wantCash("SELLER2", "20300000", "0", "0")
	wantPos("BUYER01", 1700, 0, 0, "97529.4118")
	checkAll("after T+2")
}
