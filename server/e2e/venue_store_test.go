package e2e

// Issue 18: the venue and the store never disagree. Clients that hang up
// mid-request, fills that take a margin, short or bypass_cash account
// negative, a Redis that stalls past the store timeout, and ClOrdIDs of
// other users must not leave an order working in one and not the other,
// a hold behind, or money created or lost.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// vsSeed is the seed of a test's random choices: OMSD_E2E_SEED replays a
// failing run, otherwise a fresh one. It is logged either way.
func vsSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OMSD_E2E_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("OMSD_E2E_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with OMSD_E2E_SEED=%d)", seed, seed)
	return seed
}

// vsAccount writes a trading account with cash and holdings (ISIN → qty)
// straight into the store, with a TRADE grant for each user.
func (e *env) vsAccount(t *testing.T, code, cash string, bypassCash bool, stock map[string]int64, users ...string) {
	t.Helper()
	now := e.clock.Now()
	a := store.Account{AccountCode: code, Name: "Issue 18 " + code, InternalClientCode: code, ClientCode: code,
		CompID: "VOS", AccountType: 1, InvestCode: "8000", FornInvestTypeCode: "00", SenderSubID: "00991",
		Email: strings.ToLower(code) + "@example.vn", Phone: "+84901000099",
		CashAvailable: decimal.RequireFromString(cash), BypassCash: bypassCash, CreatedAt: now, UpdatedAt: now}
	for isin, qty := range stock {
		a.Holdings = append(a.Holdings, store.Holding{Symbol: isin, SellableQty: qty, AvgPrice: decimal.NewFromInt(50000)})
	}
	sort.Slice(a.Holdings, func(i, j int) bool { return a.Holdings[i].Symbol < a.Holdings[j].Symbol })
	var gs []store.Grant
	for _, u := range users {
		gs = append(gs, store.Grant{UserID: u, AccountCode: code, Level: store.LevelTrade, GrantedBy: adminEmail, CreatedAt: now, UpdatedAt: now})
	}
	e.putAccount(t, a, gs...)
}

const (
	isinFPT = "VN000000FPT1"
	isinVNM = "VN000000VNM8"
	isinHPG = "VN000000HPG4"
)

// vsTraders creates n accounts 099C7E<prefix><i> granted to the trader,
// each with ample cash and stock of every vsManySyms, and returns
// their codes.
func (e *env) vsTraders(t *testing.T, prefix string, n int) []string {
	t.Helper()
	var codes []string
	for i := range n {
		code := fmt.Sprintf("099C7E%s%03d", prefix, i)
		stock := map[string]int64{}
		for _, sym := range vsManySyms {
			stock[sym.isin] = 1000000
		}
		e.vsAccount(t, code, "100000000000", false, stock, traderEmail)
		codes = append(codes, code)
	}
	return codes
}

// vsTotals is what the accounts a user sees hold together.
type vsTotals struct {
	cash  decimal.Decimal  // Σ cash_available + cash_hold
	stock map[string]int64 // ISIN → Σ sellable_qty + hold_qty
	holds []string         // every non-zero hold
}

func (e *env) vsTotalsOf(t *testing.T, jwt string) vsTotals {
	t.Helper()
	out := vsTotals{stock: map[string]int64{}}
	for _, a := range e.list(t, "/api/v1/oms/risk/accounts", jwt) {
		// Pending (T+2) cash and shares count: they exist, only not free yet.
		out.cash = out.cash.Add(decimal.NewFromFloat(a["cash_available"].(float64))).Add(decimal.NewFromFloat(a["cash_hold"].(float64))).
			Add(decimal.NewFromFloat(a["omsd_cash_pending"].(float64)))
		if h := a["cash_hold"].(float64); h != 0 {
			out.holds = append(out.holds, fmt.Sprintf("%s cash_hold %s", a["account_id"], decimal.NewFromFloat(h)))
		}
		hs, _ := a["holdings"].([]any)
		for _, h := range hs {
			m := h.(map[string]any)
			isin := m["symbol"].(string)
			out.stock[isin] += int64(m["sellable_qty"].(float64)) + int64(m["hold_qty"].(float64)) + int64(m["omsd_pending_qty"].(float64))
			if q := m["hold_qty"].(float64); q != 0 {
				out.holds = append(out.holds, fmt.Sprintf("%s hold_qty %v of %s", a["account_id"], q, isin))
			}
		}
	}
	return out
}

// vsOrders reads every order the user can see, newest first.
func (e *env) vsOrders(t *testing.T, jwt, query string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for off := 0; ; off += store.MaxOrderLimit {
		path := fmt.Sprintf("/api/v1/util/orders?limit=%d&offset=%d%s", store.MaxOrderLimit, off, query)
		m := expect(t, e.do(nil, "GET", path, nil, bearer(jwt)...), 200, "")
		page, _ := m["orders"].([]any)
		for _, o := range page {
			out = append(out, o.(map[string]any))
		}
		if len(page) < store.MaxOrderLimit {
			return out
		}
	}
}

// vsQuiet waits until the store's orders stop changing (two reads 300 ms
// apart are equal), at most 10 s, and returns them.
func (e *env) vsQuiet(t *testing.T, jwt string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	prev := e.vsOrders(t, jwt, "")
	for {
		time.Sleep(300 * time.Millisecond)
		cur := e.vsOrders(t, jwt, "")
		if asJSON(t, cur) == asJSON(t, prev) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store's orders were still changing after 10 s")
		}
		prev = cur
	}
}

func vsNum(o map[string]any, k string) float64 { f, _ := o[k].(float64); return f }

func vsDescribe(o map[string]any) string {
	return fmt.Sprintf("order %v (%v) %v %v %v %v %v@%v: %v filled %v/%v cancelled %v text %q",
		o["orderID"], o["originalReqID"], o["accountID"], o["orderSide"], o["symbol"], o["orderType"],
		o["orderCurrentQty"], o["orderCurrentPrice"], o["orderStatus"], vsNum(o, "filledQty"),
		vsNum(o, "orderCurrentQty"), vsNum(o, "cancelledQty"), vsStr(o, "orderText"))
}

var vsFinal = []string{"FILLED", "CANCELED", "REJECTED", "EXPIRED"}

// vsDisagreements compares the store's orders with the venue's books: an
// order working (NEW/PARTIALLY_FILLED) in one must be working in the other
// with the same leaves quantity and price; nothing is PENDING_NEW while the
// market trades continuously (stored but never routed); nothing is FILLED
// short of its quantity.
func (e *env) vsDisagreements(orders []map[string]any) []string {
	venue := e.app.Trading.VenueOrders()
	var out []string
	seen := map[int64]bool{}
	for _, o := range orders {
		id, _ := strconv.ParseInt(fmt.Sprint(o["orderID"]), 10, 64)
		seen[id] = true
		st := fmt.Sprint(o["orderStatus"])
		v, inVenue := venue[id]
		leaves := int64(vsNum(o, "orderCurrentQty") - vsNum(o, "filledQty"))
		switch {
		case (st == "NEW" || st == "PARTIALLY_FILLED") && !inVenue:
			out = append(out, "working in the store, not in the venue: "+vsDescribe(o))
		case st == "NEW" || st == "PARTIALLY_FILLED":
			if v.LeavesQty != leaves || v.Price.Decimal().InexactFloat64() != vsNum(o, "orderCurrentPrice") {
				out = append(out, fmt.Sprintf("venue has leaves %d at %s: %s", v.LeavesQty, v.Price, vsDescribe(o)))
			}
		case inVenue:
			out = append(out, fmt.Sprintf("working in the venue (leaves %d at %s), %s in the store: %s", v.LeavesQty, v.Price, st, vsDescribe(o)))
		}
		switch {
		case st == "PENDING_NEW":
			out = append(out, "PENDING_NEW during continuous trading: "+vsDescribe(o))
		case st == "FILLED" && vsNum(o, "filledQty") < vsNum(o, "orderCurrentQty"):
			out = append(out, "FILLED with filledQty < qty: "+vsDescribe(o))
		}
	}
	for id, v := range venue {
		if !seen[id] {
			out = append(out, fmt.Sprintf("order %d working in the venue (%s %s leaves %d) is not in the store", id, v.Account, v.Symbol, v.LeavesQty))
		}
	}
	return out
}

// vsReport fails the test with the problems found, listing at most 30.
func vsReport(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) == 0 {
		return
	}
	shown := problems[:min(len(problems), 30)]
	t.Errorf("%s: %d problem(s):\n  %s", what, len(problems), strings.Join(shown, "\n  "))
}

// vsCancelAll cancels every order not in a final state with a normal
// client: 200, or 400 -100019 for one that finished meanwhile. Anything
// else (a cancel refused as pending, -100013/-100014) is returned.
func (e *env) vsCancelAll(t *testing.T, jwt string, orders []map[string]any) []string {
	t.Helper()
	var refused []string
	for _, o := range orders {
		if slices.Contains(vsFinal, fmt.Sprint(o["orderStatus"])) {
			continue
		}
		r := e.post(nil, "/api/v1/orders/cancel", map[string]any{"order_id": o["originalReqID"]}, bearer(jwt)...)
		if r.status == 200 || (r.status == 400 && contains(string(r.body), "-100019")) {
			continue
		}
		refused = append(refused, fmt.Sprintf("cancel answered %d %s: %s", r.status, bytes.TrimSpace(r.body), vsDescribe(o)))
	}
	return refused
}

// vsSettled checks the end state after a cancel-all: every order final,
// the venue's books empty, no hold left, cash and each stock conserved.
func (e *env) vsSettled(t *testing.T, jwt string, before vsTotals) {
	t.Helper()
	orders := e.vsOrders(t, jwt, "")
	var notFinal []string
	for _, o := range orders {
		if !slices.Contains(vsFinal, fmt.Sprint(o["orderStatus"])) {
			notFinal = append(notFinal, vsDescribe(o))
		}
	}
	vsReport(t, "orders not final after the cancel-all", notFinal)
	vsReport(t, "venue and store after the cancel-all", e.vsDisagreements(orders))
	after := e.vsTotalsOf(t, jwt)
	vsReport(t, "holds left after the cancel-all", after.holds)
	if !after.cash.Equal(before.cash) {
		t.Errorf("cash not conserved: %s before, %s after (%s)", before.cash, after.cash, after.cash.Sub(before.cash))
	}
	for isin := range vsUnion(before.stock, after.stock) {
		if after.stock[isin] != before.stock[isin] {
			t.Errorf("%s not conserved: %d before, %d after", isin, before.stock[isin], after.stock[isin])
		}
	}
}

func vsUnion(a, b map[string]int64) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// vsSym is an instrument the random orders trade.
type vsSym struct {
	ticker, isin string
	ref          int
}

var (
	vsTwoSyms  = []vsSym{{"FPT", isinFPT, 100000}, {"VNM", isinVNM, 62000}}
	vsManySyms = append(slices.Clone(vsTwoSyms), vsSym{"HPG", isinHPG, 27050}, vsSym{"SHS", "VN000000SHS3", 13000},
		vsSym{"PVS", "VN000000PVS0", 35000}, vsSym{"ACV", "VN000000ACV6", 90000}, vsSym{"MCH", "VN000000MCH0", 120000})
)

// vsRandomOrder is an order on one of syms at a few ticks around the
// reference, buy or sell, mostly LO and some MAK, so orders cross.
func vsRandomOrder(rng *rand.Rand, accounts []string, syms []vsSym, ref string) map[string]any {
	sym := syms[rng.IntN(len(syms))]
	side := []string{"B", "S"}[rng.IntN(2)]
	qty := 100 * (1 + rng.IntN(5))
	acct := accounts[rng.IntN(len(accounts))]
	if rng.IntN(10) == 0 {
		return map[string]any{"account_id": acct, "symbol": sym.ticker, "side": side, "qty": qty, "order_type": "MAK", "ref_order_id": ref}
	}
	return lo(acct, sym.ticker, side, qty, strconv.Itoa(sym.ref+100*(rng.IntN(5)-2)), ref)
}

// vsHangUp sends POST path with body over a raw TCP connection and hangs
// up at a random moment: 1 in 10 before the body is complete, 7 in 10 a
// random 0–3 ms after the request is written, 2 in 10 after the first
// byte of the response. It returns which.
func (e *env) vsHangUp(t *testing.T, rng *rand.Rand, jwt, path string, body []byte) string {
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Errorf("dial: %v", err)
		return "no connection"
	}
	defer conn.Close()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		path, strings.TrimPrefix(e.base, "http://"), jwt, len(body))
	req := append([]byte(head), body...)
	switch n := rng.IntN(10); {
	case n == 0:
		_, _ = conn.Write(req[:len(head)+rng.IntN(len(body))])
		return "cut body"
	case n <= 7:
		pause := time.Duration(rng.IntN(3001)) * time.Microsecond
		_, _ = conn.Write(req)
		time.Sleep(pause)
		return "after write"
	default:
		_, _ = conn.Write(req)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = bufio.NewReader(conn).ReadByte()
		return "after first byte"
	}
}

func vsJSON(t *testing.T, v any) []byte { return []byte(asJSON(t, v)) }

// 400 orders from 16 clients that each hang up at random mid-request:
// once the store is quiet, the venue's books and the store agree; after
// a cancel-all every order is final, no hold is left and cash and stock
// are conserved.
func TestVenueStoreHangUps(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		tr := e.login(nil, traderEmail, traderPass).jwt
		accounts := e.vsTraders(t, "1", 4)
		before := e.vsTotalsOf(t, tr)
		seed := vsSeed(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		modes := map[string]int{}
		for c := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(c)))
				for i := range 25 {
					body := vsRandomOrder(rng, accounts, vsTwoSyms, fmt.Sprintf("hu-%02d-%02d", c, i))
					m := e.vsHangUp(t, rng, tr, "/api/v1/orders/new", vsJSON(t, body))
					mu.Lock()
					modes[m]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		orders := e.vsQuiet(t, tr)
		statuses := map[string]int{}
		for _, o := range orders {
			statuses[fmt.Sprint(o["orderStatus"])]++
		}
		t.Logf("hang-ups %v; %d orders stored: %v", modes, len(orders), statuses)
		vsReport(t, "venue and store disagree after the hang-ups (lost orders)", e.vsDisagreements(orders))
		vsReport(t, "cancel-all refused", e.vsCancelAll(t, tr, orders))
		e.vsSettled(t, tr, before)
	})
}

// A client that hangs up on cancels and replaces of resting orders: the
// books and the store agree afterwards, and a normal cancel of each order
// ends it and releases every hold.
func TestVenueStoreCancelReplaceHangUps(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		tr := e.login(nil, traderEmail, traderPass).jwt
		accounts := e.vsTraders(t, "2", 2)
		before := e.vsTotalsOf(t, tr)
		seed := vsSeed(t)
		began := time.Now()
		// 16 clients each rest 10 orders that never cross (buys below
		// the reference, sells above; replaces stay on their side) and
		// hang up on replaces and cancels of each.
		var wg sync.WaitGroup
		for c := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(c)))
				for i := range 10 {
					side := []string{"B", "S"}[i%2]
					ref := fmt.Sprintf("cr-%02d-%d", c, i)
					body := lo(accounts[c%2], "FPT", side, 100*(1+rng.IntN(5)), vsRestPrice(rng, side), ref)
					if r := e.post(nil, "/api/v1/orders/new", body, bearer(tr)...); r.status != 200 {
						t.Errorf("entering %v: %d %s", body, r.status, r.body)
						return
					}
					e.vsCancelReplace(t, rng, tr, ref, side)
				}
			}()
		}
		wg.Wait()
		t.Logf("160 orders entered, replaced and cancelled with hang-ups in %s", time.Since(began).Round(time.Millisecond))
		orders := e.vsQuiet(t, tr)
		vsReport(t, "venue and store disagree after the cancel/replace hang-ups", e.vsDisagreements(orders))
		vsReport(t, "a normal cancel after the hang-ups was refused", e.vsCancelAll(t, tr, orders))
		e.vsSettled(t, tr, before)
	})
}

// vsRestPrice is a price that rests: 1–5 ticks below the FPT reference for
// a buy, above it for a sell.
func vsRestPrice(rng *rand.Rand, side string) string {
	off := 100 * (1 + rng.IntN(5))
	if side == "B" {
		off = -off
	}
	return strconv.Itoa(100000 + off)
}

// vsCancelReplace hangs up on three to six replaces of the order entered
// under ref, then, half the time, on a cancel of it.
func (e *env) vsCancelReplace(t *testing.T, rng *rand.Rand, jwt, ref, side string) {
	for range 3 + rng.IntN(4) {
		body := map[string]any{"order_id": ref, "price": vsRestPrice(rng, side), "qty": 100 * (1 + rng.IntN(5))}
		e.vsHangUp(t, rng, jwt, "/api/v1/orders/replace", vsJSON(t, body))
	}
	if rng.IntN(2) == 0 {
		e.vsHangUp(t, rng, jwt, "/api/v1/orders/cancel", vsJSON(t, map[string]any{"order_id": ref}))
	}
}

// vsCross rests one order, then enters the order that crosses it (the
// one under test, that takes its account negative): both must fill whole.
func (e *env) vsCross(t *testing.T, jwt string, rest, hit map[string]any) {
	t.Helper()
	e.order(t, jwt, rest)
	r := e.post(nil, "/api/v1/orders/new", hit, bearer(jwt)...)
	if r.status != 200 {
		t.Fatalf("%v crossing %v: status %d: %s; server errors: %s", hit, rest, r.status, bytes.TrimSpace(r.body), e.vsLastError())
	}
	for _, b := range []map[string]any{rest, hit} {
		wantOrder(t, e.orderByReq(t, jwt, b["ref_order_id"].(string)), "FILLED", float64(b["qty"].(int)))
	}
}

// vsWantAccount checks an account's cash (available, pending) and its
// holding of one ISIN (sellable, pending); nothing is held.
func (e *env) vsWantAccount(t *testing.T, jwt, code string, cash, cashPending float64, isin string, sellable, pending float64) {
	t.Helper()
	gotCash, hold, hs := e.account(t, jwt, code)
	gotPending := e.stlAccount(t, jwt, code)["omsd_cash_pending"]
	if gotCash != cash || gotPending != cashPending || hold != 0 || hs[isin] != [3]float64{sellable, 0, pending} {
		t.Fatalf("%s: cash_available %v pending %v cash_hold %v %s %v (sellable, hold, pending); want %v, %v, 0, [%v 0 %v]",
			code, gotCash, gotPending, hold, isin, hs[isin], cash, cashPending, sellable, pending)
	}
}

// vsSettleAll moves two trading days on: every trade so far settles.
func (e *env) vsSettleAll(t *testing.T) {
	t.Helper()
	for range 2 {
		if _, err := e.app.Trading.NextDay(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// A margin account (OMS_MARGIN_ALLOWED, margin rate 0.5 on FPT), a
// short-allowed account (OMS_SHORT_ALLOWED) and a bypass_cash account
// each buy and sell through fills that take them negative where allowed:
// the fills are booked exactly and money is conserved across accounts.
func TestVenueStoreNegativeBalances(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		tr := e.login(nil, traderEmail, traderPass).jwt
		maker, checker := e.login(nil, makerEmail, makerPass).jwt, e.login(nil, checkerEmail, checkerPass).jwt
		const cp, margin, short, bypass = "099C7E3000", "099C7E3001", "099C7E3002", "099C7E3003"
		e.vsAccount(t, cp, "10000000000", false, map[string]int64{isinFPT: 100000, isinVNM: 100000, isinHPG: 100000}, traderEmail)
		e.vsAccount(t, margin, "10000000", false, nil, traderEmail)
		e.vsAccount(t, short, "100000000", false, nil, traderEmail)
		e.vsAccount(t, bypass, "5000000", true, nil, traderEmail)
		for _, r := range []map[string]any{
			{"kind": "OMS_MARGIN_ALLOWED", "scope": "ACCOUNT", "target": margin, "value": 1},
			{"kind": "OMS_MARGIN_RATE_SYMBOL_ISIN", "scope": "SYMBOL", "target": isinFPT, "value": 0.5},
			{"kind": "OMS_SHORT_ALLOWED", "scope": "ACCOUNT", "target": short, "value": 1},
		} {
			if a := e.fileAndApprove(t, maker, checker, "CREATE_RISK_RULE", r); a["status"] != "APPLIED" {
				t.Fatalf("rule %v: %v", r, a)
			}
		}
		before := e.vsTotalsOf(t, tr)
		// Each trade settles T+2: the shares bought become sellable and the
		// proceeds available two trading days on (vsSettleAll).
		t.Run("margin", func(t *testing.T) {
			// 200 × 100 000 = 20 000 000 against 10 000 000 at rate 0.5.
			e.vsCross(t, tr, lo(cp, "FPT", "S", 200, "100000", "m-rest-1"), lo(margin, "FPT", "B", 200, "100000", "m-buy"))
			e.vsWantAccount(t, tr, margin, -10000000, 0, isinFPT, 0, 200)
			e.vsSettleAll(t)
			e.vsWantAccount(t, tr, margin, -10000000, 0, isinFPT, 200, 0)
			e.vsCross(t, tr, lo(cp, "FPT", "B", 200, "100000", "m-rest-2"), lo(margin, "FPT", "S", 200, "100000", "m-sell"))
			e.vsWantAccount(t, tr, margin, -10000000, 20000000, isinFPT, 0, 0)
			e.vsSettleAll(t)
			e.vsWantAccount(t, tr, margin, 10000000, 0, isinFPT, 0, 0)
		})
		t.Run("short", func(t *testing.T) {
			// Sells 300 VNM it does not hold, then buys them back.
			e.vsCross(t, tr, lo(cp, "VNM", "B", 300, "62000", "s-rest-1"), lo(short, "VNM", "S", 300, "62000", "s-sell"))
			e.vsWantAccount(t, tr, short, 100000000, 18600000, isinVNM, -300, 0)
			e.vsCross(t, tr, lo(cp, "VNM", "S", 300, "62000", "s-rest-2"), lo(short, "VNM", "B", 300, "62000", "s-buy"))
			e.vsWantAccount(t, tr, short, 81400000, 18600000, isinVNM, -300, 300)
			e.vsSettleAll(t)
			e.vsWantAccount(t, tr, short, 100000000, 0, isinVNM, 0, 0)
		})
		t.Run("bypass_cash", func(t *testing.T) {
			// 200 × 27 050 = 5 410 000 against 5 000 000.
			e.vsCross(t, tr, lo(cp, "HPG", "S", 200, "27050", "p-rest-1"), lo(bypass, "HPG", "B", 200, "27050", "p-buy"))
			e.vsWantAccount(t, tr, bypass, -410000, 0, isinHPG, 0, 200)
			e.vsSettleAll(t)
			e.vsCross(t, tr, lo(cp, "HPG", "B", 200, "27050", "p-rest-2"), lo(bypass, "HPG", "S", 200, "27050", "p-sell"))
			e.vsWantAccount(t, tr, bypass, -410000, 5410000, isinHPG, 0, 0)
			e.vsSettleAll(t)
			e.vsWantAccount(t, tr, bypass, 5000000, 0, isinHPG, 0, 0)
		})
		for _, isin := range []string{isinFPT, isinVNM, isinHPG} {
			if _, _, hs := e.account(t, tr, cp); hs[isin] != [3]float64{100000, 0, 0} {
				t.Errorf("counterparty %s: %v, want [100000 0 0]", isin, hs[isin])
			}
		}
		vsReport(t, "venue and store", e.vsDisagreements(e.vsOrders(t, tr, "")))
		vsReport(t, "cancel-all refused", e.vsCancelAll(t, tr, e.vsOrders(t, tr, "")))
		e.vsSettled(t, tr, before)
	})
}

// vsEntry is one order entry of the stall test and its first answer.
type vsEntry struct {
	body   map[string]any
	status int
	answer string
}

// vsStall pauses Redis past the store timeout each time done reaches one
// of the marks, while entries are in flight.
func (e *env) vsStall(t *testing.T, done *atomic.Int64, marks ...int64) {
	t.Helper()
	defer e.redis.Resume()
	for _, mark := range marks {
		deadline := time.Now().Add(30 * time.Second)
		for done.Load() < mark {
			if time.Now().After(deadline) {
				t.Fatalf("only %d entries answered in 30 s", done.Load())
			}
			time.Sleep(2 * time.Millisecond)
		}
		e.redis.Pause()
		time.Sleep(e.cfg.StoreTimeout + 500*time.Millisecond)
		e.redis.Resume()
	}
}

// vsSettle polls until the venue and the store agree, at most within.
func (e *env) vsSettle(t *testing.T, jwt string, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		problems := e.vsDisagreements(e.vsOrders(t, jwt, ""))
		if len(problems) == 0 || time.Now().After(deadline) {
			return problems
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Redis paused past the store timeout while order entries are in flight:
// afterwards nothing is left stored but unrouted, and a retry of every
// entry with the same ClOrdID and terms answers 200 naming the one order
// (the first attempt's when it answered 200); money is conserved.
func TestVenueStoreRedisStall(t *testing.T) {
	t.Parallel()
	e := start(t, "redis")
	tr := e.login(nil, traderEmail, traderPass).jwt
	accounts := e.vsTraders(t, "4", 4)
	before := e.vsTotalsOf(t, tr)
	seed := vsSeed(t)
	entries := make([][]vsEntry, 16)
	var done atomic.Int64
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			for i := range 10 {
				body := vsRandomOrder(rng, accounts, vsManySyms, fmt.Sprintf("st-%02d-%d", c, i))
				r := e.post(nil, "/api/v1/orders/new", body, bearer(tr)...)
				entries[c] = append(entries[c], vsEntry{body, r.status, string(r.body)})
				done.Add(1)
			}
		}()
	}
	e.vsStall(t, &done, 16, 64, 112)
	wg.Wait()
	answered := map[int]int{}
	var ok, failed []vsEntry
	for _, en := range slices.Concat(entries...) {
		answered[en.status]++
		if en.status == 200 {
			ok = append(ok, en)
		} else {
			failed = append(failed, en)
		}
	}
	t.Logf("first attempts answered %v", answered)
	vsReport(t, "stored but unrouted after the stall (5 s to settle)", e.vsSettle(t, tr, 5*time.Second))
	vsReport(t, "retries of the entries whose first attempt failed", e.vsRetries(t, tr, failed))
	vsReport(t, "retries of the entries whose first attempt answered 200", e.vsRetries(t, tr, ok))
	orders := e.vsQuiet(t, tr)
	vsReport(t, "venue and store after the retries", e.vsDisagreements(orders))
	vsReport(t, "cancel-all refused", e.vsCancelAll(t, tr, orders))
	e.vsSettled(t, tr, before)
}

// vsRetries retries every entry with the same ClOrdID and terms: each
// answers 200 with that request_id, and exactly one order carries the
// ClOrdID afterwards: the first attempt's when it answered 200.
func (e *env) vsRetries(t *testing.T, jwt string, entries []vsEntry) []string {
	t.Helper()
	var problems []string
	byReq := func(ref string) []map[string]any { return e.vsOrders(t, jwt, "&original_req_id="+ref) }
	for _, en := range entries {
		ref := en.body["ref_order_id"].(string)
		var first string
		if en.status == 200 {
			found := byReq(ref)
			if len(found) != 1 {
				problems = append(problems, fmt.Sprintf("%s answered 200 but %d orders carry it before the retry", ref, len(found)))
				continue
			}
			first = fmt.Sprint(found[0]["orderID"])
		}
		r := e.post(nil, "/api/v1/orders/new", en.body, bearer(jwt)...)
		if r.status != 200 || !contains(string(r.body), `"request_id":"`+ref+`"`) {
			problems = append(problems, fmt.Sprintf("retry of %s (first answered %d): %d %s", ref, en.status, r.status, bytes.TrimSpace(r.body)))
			continue
		}
		found := byReq(ref)
		var descr []string
		for _, o := range found {
			descr = append(descr, vsDescribe(o))
		}
		switch {
		case len(found) != 1:
			problems = append(problems, fmt.Sprintf("%s (first answered %d): %d orders after the retry:\n    %s", ref, en.status, len(found), strings.Join(descr, "\n    ")))
		case first != "" && fmt.Sprint(found[0]["orderID"]) != first:
			problems = append(problems, fmt.Sprintf("%s: the retry names order %v, the first attempt was %s", ref, found[0]["orderID"], first))
		}
	}
	return problems
}

// ClOrdIDs are scoped per user: another user's rejected order with
// ClOrdID X does not stop you using X, while reusing your own X on the
// same day with different terms is still REJECTED -100001.
func TestVenueStoreClOrdIDPerUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		const x = "shared-clordid-1"
		// The trader's order with X is rejected: 1 000 000 000 > Binh's cash.
		e.order(t, tr, lo(accountBinh, "FPT", "B", 10000, "100000", x))
		if o := e.orderByReq(t, tr, x); o["orderStatus"] != "REJECTED" || !strings.HasPrefix(fmt.Sprint(o["orderText"]), "OMS|-900001|") {
			t.Fatalf("the trader's order: %s", vsDescribe(o))
		}
		const own = "099C7E5001"
		other := e.newUser(t, "second.trader@oms.example", "trader")
		e.vsAccount(t, own, "1000000000", false, map[string]int64{isinFPT: 1000}, "second.trader@oms.example")

		e.order(t, other.jwt, lo(own, "FPT", "B", 100, "95000", x))
		if o := e.orderByReq(t, other.jwt, x); o["orderStatus"] != "NEW" {
			t.Fatalf("another user's rejected order with X stops this one: %s", vsDescribe(o))
		}
		// The same user reusing X with other terms is a duplicate.
		e.order(t, other.jwt, lo(own, "FPT", "B", 200, "95000", x))
		rej := e.vsOrders(t, other.jwt, "&original_req_id="+x+"&order_status=REJECTED")
		if len(rej) != 1 || !strings.HasPrefix(fmt.Sprint(rej[0]["orderText"]), "OMS|-100001|") {
			t.Fatalf("reusing one's own ClOrdID with other terms: %v", rej)
		}
		if nw := e.vsOrders(t, other.jwt, "&original_req_id="+x+"&order_status=NEW"); len(nw) != 1 || nw[0]["orderCurrentQty"] != 100.0 {
			t.Fatalf("the first order with X: %v", nw)
		}
		// The trader still sees only its own order with X.
		if mine := e.vsOrders(t, tr, "&original_req_id="+x); len(mine) != 1 || mine[0]["orderStatus"] != "REJECTED" {
			t.Fatalf("the trader's orders with X: %v", mine)
		}
	})
}

func vsStr(o map[string]any, k string) string { s, _ := o[k].(string); return s }

// vsLastError is the last error the server logged, for failure messages.
func (e *env) vsLastError() string {
	lines := strings.Split(e.logs.String(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], `"level":"ERROR"`) {
			return lines[i]
		}
	}
	return "none"
}
