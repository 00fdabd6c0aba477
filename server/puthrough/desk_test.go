package puthrough

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/reference"
	"github.com/vero-oms/omsd/server/trading"
	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/faultstore"
	"github.com/vero-oms/omsd/store/memory"
)

const (
	deskTrader = "trader@desk.test" // TRADE on both demo accounts
	deskViewer = "viewer@desk.test" // VIEW on both
	deskOther  = "other@desk.test"  // TRADE on both, another user
	an         = workflow.DemoAccountAn
	binh       = workflow.DemoAccountBinh
	fptISIN    = "VN000000FPT1"
)

type deskEnv struct {
	t    *testing.T
	ctx  context.Context
	st   *memory.Store
	svc  *trading.Service
	desk *Desk
	lat  *memory.Latency
	clk  *market.Clock
}

func newDeskEnv(t *testing.T) *deskEnv { t.Helper(); return newDeskEnvWith(t, nil) }

// newDeskEnvWith is newDeskEnv whose trading service (and desk) use
// wrap(the memory store) when wrap is not nil.
func newDeskEnvWith(t *testing.T, wrap func(*memory.Store) trading.Store) *deskEnv {
	t.Helper()
	ctx := context.Background()
	st := memory.New(memory.WithJanitorInterval(0))
	t.Cleanup(func() { _ = st.Close() })
	var tst trading.Store = st
	if wrap != nil {
		tst = wrap(st)
	}
	cfg, err := market.Dev()
	if err != nil {
		t.Fatal(err)
	}
	clk := market.Pinned(market.Continuous)
	lc := latency.NewMonotonicClock()
	lat := memory.NewLatency(memory.LatencyOptions{Clock: lc})
	svc := trading.New(trading.Options{Store: tst, Market: cfg.Instruments, Clock: clk, Latency: latency.NewRecorder(lat, latency.RecorderOptions{Clock: lc})})
	if _, err := workflow.SeedDemo(ctx, st, time.Now(), map[string]store.GrantLevel{
		deskTrader: store.LevelTrade, deskViewer: store.LevelView, deskOther: store.LevelTrade,
	}); err != nil {
		t.Fatal(err)
	}
	ref := reference.New(st, nil)
	for _, ft := range [][2]string{{"099", "T01"}, {"099", "T02"}, {"011", "T11"}} {
		if _, err := ref.AddFirmTrader(ctx, "admin@desk.test", ft[0], ft[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &deskEnv{t: t, ctx: ctx, st: st, svc: svc, desk: New(svc), lat: lat, clk: clk}
}

func sp(s string) *string { return &s }
func ip(n int64) *int64   { return &n }
func i32(n int32) *int32  { return &n }

func role(id string, r int32) Party { return Party{ID: id, Role: i32(r)} }

func (e *deskEnv) account(code string) store.Account {
	e.t.Helper()
	a, err := e.st.Account(e.ctx, code)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *deskEnv) order(reqID string) store.Order {
	e.t.Helper()
	o, err := orderByRef(e.ctx, e.st, reqID)
	if err != nil {
		e.t.Fatalf("order %s: %v", reqID, err)
	}
	return o
}

func holding(a store.Account, isin string) (sellable, held int64, avg string) {
	h, _ := a.Holding(isin)
	return h.SellableQty, h.HoldQty, h.AvgPrice.String()
}

// wantRefusal checks err is a 400 whose detail starts with OMS|code|.
func wantRefusal(t *testing.T, err error, code int) {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.InvalidRequest {
		t.Fatalf("want a 400 refusal with code %d, got %v", code, err)
	}
	if msg := e.Message; !strings.HasPrefix(msg, fmt.Sprintf("OMS|%d|", code)) {
		t.Fatalf("want OMS|%d|…, got %q", code, msg)
	}
}

func wantCode(t *testing.T, err error, code apperr.Code, contains string) {
	t.Helper()
	if apperr.CodeOf(err) != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("want %s containing %q, got %v", code, contains, err)
	}
}

// An sells 1 000 FPT at 101 000 by put-through; Binh accepts.
func sellQuote(msgID string) QuoteRequest {
	return QuoteRequest{QuoteMsgID: msgID, Account: an, Symbol: "FPT", Side: "S", OfferPrice: sp("101000"), OfferSize: ip(1000),
		Parties: []Party{role("099", RoleExecutingFirm), role("T01", RoleExecutingTrader), role("011", RoleContraFirm), role("T11", RoleContraTrader)}}
}

func accept(msgID, quoteID string) QuoteResponseRequest {
	return QuoteResponseRequest{QuoteMsgID: msgID, QuoteID: quoteID, RespType: i32(RespAccept), Account: binh,
		Parties: []Party{role("011", RoleExecutingFirm), role("T11", RoleExecutingTrader)}}
}

func TestPutThroughDealMovesCashAndStock(t *testing.T) {
	e := newDeskEnv(t)
	ack, err := e.desk.Quote(e.ctx, deskTrader, sellQuote("q-1"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.MsgType != latency.MsgQuote || ack.RequestID != "q-1" {
		t.Fatalf("ack %+v", ack)
	}
	// The quote holds An's stock with a NEW order that explains it.
	q := e.order("q-1")
	if q.Status != store.OrderNew || q.QuoteID != "q-1" || q.Hold.Stock != 1000 || q.PartyID != "011" || q.PartyTraderID != "T11" {
		t.Fatalf("quote order: %+v", q)
	}
	if s, h, _ := holding(e.account(an), fptISIN); s != 9000 || h != 1000 {
		t.Fatalf("An while quoting: sellable %d held %d", s, h)
	}
	// A pass and a counter move nothing and leave the quote open.
	pass := accept("pass-1", "q-1")
	pass.RespType = i32(RespPass)
	if _, err := e.desk.RespondQuote(e.ctx, deskTrader, pass); err != nil {
		t.Fatal(err)
	}
	counter := accept("counter-1", "q-1")
	counter.RespType, counter.BidPrice = i32(RespCounter), sp("100500")
	if _, err := e.desk.RespondQuote(e.ctx, deskTrader, counter); err != nil {
		t.Fatal(err)
	}
	if rs := e.desk.QuoteResponses("q-1"); len(rs) != 2 || rs[1].Type != RespCounter || !rs[1].Price.Equal(dec("100500")) || rs[1].Qty != 1000 {
		t.Fatalf("responses: %+v", rs)
	}
	if a := e.account(binh); !a.CashAvailable.Equal(dec("250000000.50")) || !a.CashHold.IsZero() {
		t.Fatalf("Binh after a pass and a counter: %s / %s", a.CashAvailable, a.CashHold)
	}

	ack, err = e.desk.RespondQuote(e.ctx, deskOther, accept("acc-1", "q-1"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.MsgType != latency.MsgQuoteResponse || ack.RequestID != "acc-1" || ack.OrigRequestID != "q-1" {
		t.Fatalf("ack %+v", ack)
	}
	q, r := e.order("q-1"), e.order("acc-1")
	for _, o := range []store.Order{q, r} {
		if o.Status != store.OrderFilled || o.FilledQty != 1000 || !o.AvgFillPrice().Equal(dec("101000")) ||
			o.QuoteID != "q-1" || o.QuoteRespID != "acc-1" || !o.Hold.Cash.IsZero() || o.Hold.Stock != 0 {
			t.Fatalf("deal order: %+v", o)
		}
	}
	if r.Side != "B" || r.AccountCode != binh || r.PartyID != "099" || r.PartyTraderID != "T01" || r.User != deskOther {
		t.Fatalf("responder's order: %+v", r)
	}
	// A put-through deal settles T+2 like a matched trade: An's proceeds
	// and Binh's shares are pending until then.
	due, err := e.clk.SettlementDate(market.Instrument{SettlementDays: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := e.account(an)
	if !a.CashAvailable.Equal(dec("1000000000")) || !a.CashHold.IsZero() ||
		len(a.CashPending) != 1 || a.CashPending[0] != (store.DueCash{Date: due, Amount: a.CashPending[0].Amount}) || !a.PendingCash().Equal(dec("101000000")) {
		t.Fatalf("An's cash: %s / %s, pending %+v (due %s)", a.CashAvailable, a.CashHold, a.CashPending, due)
	}
	if s, h, _ := holding(a, fptISIN); s != 9000 || h != 0 {
		t.Fatalf("An's FPT: sellable %d held %d", s, h)
	}
	b := e.account(binh)
	if !b.CashAvailable.Equal(dec("149000000.50")) || !b.CashHold.IsZero() {
		t.Fatalf("Binh's cash: %s / %s", b.CashAvailable, b.CashHold)
	}
	if s, h, avg := holding(b, fptISIN); s != 0 || h != 0 || avg != "101000" {
		t.Fatalf("Binh's FPT: sellable %d held %d avg %s", s, h, avg)
	}
	if hd, _ := b.Holding(fptISIN); len(hd.Pending) != 1 || hd.Pending[0] != (store.DueShares{Date: due, Qty: 1000}) {
		t.Fatalf("Binh's pending FPT: %+v, want 1000 due %s", hd.Pending, due)
	}
	// Accepted once: a second accept, a pass after the deal are refused.
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, accept("acc-2", "q-1"))
	wantRefusal(t, err, trading.CodeCompleted)
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, pass)
	wantRefusal(t, err, trading.CodeCompleted)

	// A buy quote: Binh bids for 500 FPT, An hits it with quote_resp_id.
	if _, err := e.desk.Quote(e.ctx, deskTrader, QuoteRequest{QuoteMsgID: "q-2", QuoteID: "BID-2", Account: binh, Symbol: "fpt",
		BidPrice: sp("100000"), BidSize: ip(500)}); err != nil {
		t.Fatal(err)
	}
	if b := e.account(binh); !b.CashHold.Equal(dec("50000000")) || !b.CashAvailable.Equal(dec("99000000.50")) {
		t.Fatalf("Binh's bid holds cash: %s / %s", b.CashAvailable, b.CashHold)
	}
	if _, err := e.desk.RespondQuote(e.ctx, deskTrader, QuoteResponseRequest{QuoteMsgID: "acc-3", QuoteRespID: "R-3", QuoteID: "BID-2",
		RespType: i32(RespAccept), Account: an, Side: "S", OrderQty: ip(500), OfferPrice: sp("100000")}); err != nil {
		t.Fatal(err)
	}
	if o := e.order("acc-3"); o.Status != store.OrderFilled || o.QuoteID != "BID-2" || o.QuoteRespID != "R-3" || o.PartyID != FirmID {
		t.Fatalf("An's order: %+v", o)
	}
	if b := e.account(binh); !b.CashHold.IsZero() || !b.CashAvailable.Equal(dec("99000000.50")) {
		t.Fatalf("Binh after the bid filled: %s / %s", b.CashAvailable, b.CashHold)
	}
	if hd, _ := e.account(binh).Holding(fptISIN); hd.PendingQty() != 1500 || hd.AvgPrice.String() != "100666.6667" {
		t.Fatalf("Binh's FPT: %d pending avg %s", hd.PendingQty(), hd.AvgPrice)
	}
	if a := e.account(an); !a.CashAvailable.Equal(dec("1000000000")) || !a.PendingCash().Equal(dec("151000000")) {
		t.Fatalf("An's cash: %s, %s pending", a.CashAvailable, a.PendingCash())
	}
	// T+2: the deals settle.
	for range 2 {
		if _, err := e.svc.NextDay(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s, _, avg := holding(e.account(binh), fptISIN); s != 1500 || avg != "100666.6667" {
		t.Fatalf("Binh's FPT on T+2: %d avg %s", s, avg)
	}
	if a := e.account(an); !a.CashAvailable.Equal(dec("1151000000")) || len(a.CashPending) != 0 {
		t.Fatalf("An's cash on T+2: %s, pending %+v", a.CashAvailable, a.CashPending)
	}

	// Every message left a latency record of its type.
	page, err := e.lat.Raw(e.ctx, latency.RawQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, rec := range page.Records {
		types[rec.MessageType+"/"+rec.Status]++
	}
	if types["S/OK"] != 2 || types["AJ/OK"] != 4 || types["AJ/REJECTED"] != 2 {
		t.Fatalf("latency records: %v", types)
	}
}

func TestQuoteSingleWinnerUnderConcurrentAccepts(t *testing.T) {
	e := newDeskEnv(t)
	if _, err := e.desk.Quote(e.ctx, deskTrader, sellQuote("q-race")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	errs := make([]error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			_, errs[i] = e.desk.RespondQuote(e.ctx, deskTrader, accept(fmt.Sprintf("race-%d", i), "q-race"))
		}()
	}
	close(gate)
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantRefusal(t, err, trading.CodeCompleted)
	}
	if won != 1 {
		t.Fatalf("%d accepts won", won)
	}
	orders, err := e.st.Orders(e.ctx, store.OrderFilter{Status: store.OrderFilled})
	if err != nil || len(orders) != 2 {
		t.Fatalf("filled orders: %d %v", len(orders), err)
	}
	if b := e.account(binh); !b.CashAvailable.Equal(dec("149000000.50")) || !b.CashHold.IsZero() {
		t.Fatalf("Binh paid once: %s / %s", b.CashAvailable, b.CashHold)
	}
	if hd, _ := e.account(binh).Holding(fptISIN); hd.PendingQty() != 1000 {
		t.Fatalf("Binh's FPT: %d pending", hd.PendingQty())
	}
	if a := e.account(an); !a.PendingCash().Equal(dec("101000000")) {
		t.Fatalf("An paid once: %s pending", a.PendingCash())
	}
}

func TestQuoteRefusals(t *testing.T) {
	e := newDeskEnv(t)
	before := e.account(binh)
	try := func(mut func(*QuoteRequest)) error {
		q := QuoteRequest{QuoteMsgID: "bad", Account: binh, Symbol: "FPT", Side: "B", BidPrice: sp("100000"), BidSize: ip(100)}
		mut(&q)
		_, err := e.desk.Quote(e.ctx, deskTrader, q)
		return err
	}
	// Band, minimum size, cash, symbol, parties: 400 with the code.
	wantRefusal(t, try(func(q *QuoteRequest) { q.BidPrice = sp("107100") }), market.CodeBand)
	wantRefusal(t, try(func(q *QuoteRequest) { q.BidPrice = sp("92900") }), market.CodeBand)
	wantRefusal(t, try(func(q *QuoteRequest) { q.Symbol, q.BidPrice, q.BidSize = "SHS", sp("13000"), ip(4900) }), market.CodePutThroughMinQty)
	wantRefusal(t, try(func(q *QuoteRequest) { q.BidSize = ip(10000) }), -900001)
	wantRefusal(t, try(func(q *QuoteRequest) {
		q.Side, q.BidPrice, q.BidSize, q.OfferPrice, q.OfferSize = "S", nil, nil, sp("100000"), ip(100)
	}), -900001)
	wantRefusal(t, try(func(q *QuoteRequest) { q.Symbol = "NOPE" }), market.CodeUnknownSymbol)
	wantRefusal(t, try(func(q *QuoteRequest) { q.Parties = []Party{role("777", RoleContraFirm)} }), CodeUnknownParty)
	wantRefusal(t, try(func(q *QuoteRequest) {
		q.Parties = []Party{role("011", RoleContraFirm), role("T01", RoleContraTrader)}
	}), CodeUnknownParty)
	wantRefusal(t, try(func(q *QuoteRequest) { q.IoiID = "no-such-ioi" }), trading.CodeUnknownOrder)
	// Malformed: 400 naming the field.
	wantCode(t, try(func(q *QuoteRequest) { q.QuoteMsgID = "" }), apperr.InvalidRequest, "quote_msg_id")
	wantCode(t, try(func(q *QuoteRequest) { q.BidPrice = sp("abc") }), apperr.InvalidRequest, "bid_price")
	wantCode(t, try(func(q *QuoteRequest) { q.OfferPrice = sp("100000") }), apperr.InvalidRequest, "offer_price")
	wantCode(t, try(func(q *QuoteRequest) { q.Side = "X" }), apperr.InvalidRequest, "side")
	wantCode(t, try(func(q *QuoteRequest) { q.QuoteType = i32(0) }), apperr.InvalidRequest, "quote_type")
	wantCode(t, try(func(q *QuoteRequest) { q.Parties = []Party{{ID: "099", Role: i32(5)}} }), apperr.InvalidRequest, "parties[0].party_role")
	wantCode(t, try(func(q *QuoteRequest) { q.TradeDate = "19990101" }), apperr.InvalidRequest, "trade_date")
	wantCode(t, try(func(q *QuoteRequest) { q.Private = true }), apperr.InvalidRequest, "private_quote")
	// No TRADE grant, or no such account: 403.
	// The market closed: -131002 (a quote open then would expire).
	e.clk.Pin(market.Closed)
	wantRefusal(t, try(func(q *QuoteRequest) {}), market.CodeMarketClosed)
	e.clk.Pin(market.Continuous)
	if err := try(func(*QuoteRequest) {}); err != nil { // the well-formed quote goes through
		t.Fatal(err)
	}
	_, err := e.desk.Quote(e.ctx, deskViewer, QuoteRequest{QuoteMsgID: "v", Account: binh, Symbol: "FPT", BidPrice: sp("100000"), BidSize: ip(100)})
	wantCode(t, err, apperr.Forbidden, "TRADE")
	_, err = e.desk.Quote(e.ctx, deskTrader, QuoteRequest{QuoteMsgID: "v", Account: "099C999999", Symbol: "FPT", BidPrice: sp("100000"), BidSize: ip(100)})
	wantCode(t, err, apperr.Forbidden, "TRADE")

	// Nothing above stored an order or held anything (the sanity quote
	// "bad" went through once and holds 10 000 000).
	if a := e.account(binh); !a.CashAvailable.Equal(before.CashAvailable.Sub(dec("10000000"))) || !a.CashHold.Equal(dec("10000000")) {
		t.Fatalf("Binh: %s / %s", a.CashAvailable, a.CashHold)
	}
	orders, _ := e.st.Orders(e.ctx, store.OrderFilter{})
	if len(orders) != 1 {
		t.Fatalf("orders stored: %d", len(orders))
	}
	// Reusing the quote_msg_id is refused.
	wantRefusal(t, try(func(q *QuoteRequest) { q.QuoteID = "other" }), trading.CodeDuplicateClOrdID)

	// Responses: unknown quote, own account, wrong terms.
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, accept("r1", "nope"))
	wantRefusal(t, err, trading.CodeUnknownOrder)
	r := accept("r2", "bad")
	r.Account = binh
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, r)
	wantCode(t, err, apperr.InvalidRequest, "quoting account")
	r = accept("r3", "bad")
	r.Account, r.OfferPrice = an, sp("100100")
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, r)
	wantCode(t, err, apperr.InvalidRequest, "offer_price")
	r.OfferPrice, r.OrderQty = nil, ip(200)
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, r)
	wantCode(t, err, apperr.InvalidRequest, "order_qty")
	r.OrderQty, r.Side = nil, "B"
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, r)
	wantCode(t, err, apperr.InvalidRequest, "side")
	r.Side, r.RespType = "", i32(3)
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, r)
	wantCode(t, err, apperr.InvalidRequest, "quote_resp_type")
	r.RespType = i32(RespAccept)
	_, err = e.desk.RespondQuote(e.ctx, deskViewer, r)
	wantCode(t, err, apperr.Forbidden, "TRADE")
	// The refused answers left the quote open.
	if o := e.order("bad"); o.Status != store.OrderNew {
		t.Fatalf("quote after refused answers: %s", o.Status)
	}
	// Withdrawn with /orders/cancel: the hold comes back, accepts refused.
	if _, err := e.svc.Cancel(e.ctx, deskTrader, trading.CancelRequest{OrderID: "bad"}); err != nil {
		t.Fatal(err)
	}
	if a := e.account(binh); !a.CashAvailable.Equal(before.CashAvailable) || !a.CashHold.IsZero() {
		t.Fatalf("Binh after the withdrawal: %s / %s", a.CashAvailable, a.CashHold)
	}
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, accept("r4", "bad"))
	wantRefusal(t, err, trading.CodeCompleted)
}

// KRX put-through rules: no tick and no lot rule (an odd size at an
// off-tick price inside the band is a deal), HNX's 5 000-share minimum,
// and no put-through in pre-opening or the lunch break. Before these
// rules the first two were refused (-131018, -131013) and the sessions
// accepted.
func TestPutThroughKRXRules(t *testing.T) {
	e := newDeskEnv(t)
	q := sellQuote("pt-odd")
	q.OfferPrice, q.OfferSize = sp("100050"), ip(150)
	if _, err := e.desk.Quote(e.ctx, deskTrader, q); err != nil {
		t.Fatalf("an odd-size, off-tick put-through quote: %v", err)
	}
	if _, err := e.desk.RespondQuote(e.ctx, deskTrader, accept("pt-odd-take", "pt-odd")); err != nil {
		t.Fatalf("accepting it: %v", err)
	}
	if o := e.order("pt-odd"); o.Status != store.OrderFilled || o.FilledQty != 150 || !o.AvgFillPrice().Equal(dec("100050")) {
		t.Fatalf("the deal: %s %d at %s", o.Status, o.FilledQty, o.AvgFillPrice())
	}
	bid := QuoteRequest{QuoteMsgID: "pt-shs", Account: binh, Symbol: "SHS", Side: "B", BidPrice: sp("13050"), BidSize: ip(5000)}
	if _, err := e.desk.Quote(e.ctx, deskTrader, bid); err != nil {
		t.Fatalf("an HNX put-through quote of 5 000: %v", err)
	}
	bid.QuoteMsgID, bid.BidSize = "pt-shs-small", ip(4999)
	_, err := e.desk.Quote(e.ctx, deskTrader, bid)
	wantRefusal(t, err, market.CodePutThroughMinQty)
	for _, s := range []market.Session{market.PreOpening, market.Intermission} {
		e.clk.Pin(s)
		q := sellQuote("pt-" + s.String())
		_, err := e.desk.Quote(e.ctx, deskTrader, q)
		wantRefusal(t, err, market.CodeNotInPeriod)
	}
	e.clk.Pin(market.PostClose) // HOSE's put-through window after the close
	if _, err := e.desk.Quote(e.ctx, deskTrader, sellQuote("pt-post-close")); err != nil {
		t.Fatalf("a quote in the put-through window: %v", err)
	}
}

// A quote whose commit landed but whose answer was lost is refused (the
// caller forgets it), so it must not stand in the store either: its order
// is cancelled and its hold given back, and the same quote_msg_id can be
// sent again.
func TestQuoteWithLostCommitReplyDoesNotStand(t *testing.T) {
	var lost *faultstore.Store
	e := newDeskEnvWith(t, func(st *memory.Store) trading.Store {
		lost = faultstore.New(st)
		return lost
	})
	lost.Set(faultstore.OnCall(1, faultstore.Landed), nil)
	_, err := e.desk.Quote(e.ctx, deskTrader, sellQuote("q-lost"))
	wantCode(t, err, apperr.UpstreamUnavailable, "did not confirm the quote")
	if o := e.order("q-lost"); o.Status != store.OrderCanceled || o.Hold.Stock != 0 {
		t.Fatalf("the quote's order after the lost reply: %s hold %d, want CANCELED with nothing held", o.Status, o.Hold.Stock)
	}
	if s, h, _ := holding(e.account(an), fptISIN); s != 10000 || h != 0 {
		t.Fatalf("An after the lost reply: %d sellable / %d held, want 10000 / 0", s, h)
	}
	// It is not on the desk: a response finds no such quote.
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, accept("r-lost", "q-lost"))
	if err == nil {
		t.Fatal("a response to the quote that does not stand was taken")
	}
}

func TestQuotePrivateAndExpiry(t *testing.T) {
	e := newDeskEnv(t)
	q := sellQuote("q-priv")
	q.Private = true
	if _, err := e.desk.Quote(e.ctx, deskTrader, q); err != nil {
		t.Fatal(err)
	}
	r := accept("r-1", "q-priv")
	r.Parties = []Party{role("099", RoleExecutingFirm), role("T01", RoleExecutingTrader)}
	_, err := e.desk.RespondQuote(e.ctx, deskTrader, r)
	wantRefusal(t, err, CodeUnknownParty)
	r.Parties = nil
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, r)
	wantRefusal(t, err, CodeUnknownParty)
	// The market closes: the quote expires and its hold is released.
	e.clk.Pin(market.Closed)
	if err := e.desk.ExpireQuotes(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.clk.Pin(market.Continuous)
	if o := e.order("q-priv"); o.Status != store.OrderExpired || o.Hold.Stock != 0 {
		t.Fatalf("expired quote: %+v", o)
	}
	if s, h, _ := holding(e.account(an), fptISIN); s != 10000 || h != 0 {
		t.Fatalf("An after the expiry: %d / %d", s, h)
	}
	_, err = e.desk.RespondQuote(e.ctx, deskTrader, accept("r-2", "q-priv"))
	wantRefusal(t, err, trading.CodeCompleted)
}

func TestIOILifecycle(t *testing.T) {
	e := newDeskEnv(t)
	board := func(f AdFilter) []Advertisement {
		t.Helper()
		ads, err := e.desk.Advertisements(e.ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return ads
	}
	ack, err := e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-1", Symbol: "FPT", Side: "S", Qty: ip(5000), Price: sp("101000"),
		ContactNo: "0901", RepoHaircutRatioMantissa: ip(1500), CollateralValueMantissa: ip(12345678)})
	if err != nil || ack.MsgType != latency.MsgIOI || ack.RequestID != "ioi-1" || ack.OrigRequestID != "" {
		t.Fatalf("new: %+v %v", ack, err)
	}
	ads := board(AdFilter{})
	if len(ads) != 1 || ads[0].Status != IOIActive || ads[0].Broker != FirmID || ads[0].ISIN != fptISIN || ads[0].TransType != "N" ||
		!ads[0].RepoHaircutRatio.Equal(dec("0.15")) || !ads[0].CollateralValue.Equal(dec("1234.5678")) || ads[0].SourceSeq != 1 {
		t.Fatalf("board after N: %+v", ads)
	}
	// R: the old one is REPLACED, the new one takes what it does not change.
	ack, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-2", IoiRefID: "ioi-1", TransType: "R", Price: sp("100500")})
	if err != nil || ack.OrigRequestID != "ioi-1" {
		t.Fatalf("replace: %+v %v", ack, err)
	}
	ads = board(AdFilter{})
	if len(ads) != 2 || ads[0].IoiID != "ioi-2" || ads[0].Status != IOIActive || ads[0].Qty != 5000 || ads[0].Symbol != "FPT" ||
		!ads[0].Price.Equal(dec("100500")) || ads[0].ContactNo != "0901" || ads[0].ID <= ads[1].ID ||
		ads[1].Status != IOIReplaced || ads[1].SourceSeq != 2 {
		t.Fatalf("board after R: %+v", ads)
	}
	// Another user may not touch it; the replaced one is over.
	_, err = e.desk.IOI(e.ctx, deskOther, IOIRequest{IoiID: "x", IoiRefID: "ioi-2", TransType: "C"})
	wantCode(t, err, apperr.Forbidden, "another user")
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-3", IoiRefID: "ioi-1", TransType: "R", Qty: ip(100)})
	wantRefusal(t, err, trading.CodeCompleted)
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-3", IoiRefID: "nope", TransType: "C"})
	wantRefusal(t, err, trading.CodeUnknownOrder)
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-2", Symbol: "FPT", Side: "B", Qty: ip(100)})
	wantRefusal(t, err, trading.CodeDuplicateClOrdID)
	// C: CANCELLED.
	if _, err := e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-c", IoiRefID: "ioi-2", TransType: "C"}); err != nil {
		t.Fatal(err)
	}
	if ads := board(AdFilter{Status: "CANCELLED"}); len(ads) != 1 || ads[0].IoiID != "ioi-2" {
		t.Fatalf("cancelled: %+v", ads)
	}
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-c2", IoiRefID: "ioi-2", TransType: "C"})
	wantRefusal(t, err, trading.CodeCompleted)
	// A business refusal is a REJECTED advertisement with its code.
	for i, in := range []IOIRequest{
		{Symbol: "FPT", Side: "B", Qty: ip(100), Price: sp("107100")},
		{Symbol: "SHS", Side: "B", Qty: ip(4900)},
		{Symbol: "NOPE", Side: "B", Qty: ip(100)},
	} {
		in.IoiID = fmt.Sprintf("rej-%d", i)
		if _, err := e.desk.IOI(e.ctx, deskTrader, in); err != nil {
			t.Fatal(err)
		}
	}
	rej := board(AdFilter{Status: "REJECTED"})
	if len(rej) != 3 || rej[0].RejReason != market.CodeUnknownSymbol || rej[1].RejReason != market.CodePutThroughMinQty || rej[2].RejReason != market.CodeBand {
		t.Fatalf("rejected: %+v", rej)
	}
	// Malformed, and not a trader: 400 and 403.
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "m", Symbol: "FPT", Side: "B"})
	wantCode(t, err, apperr.InvalidRequest, "ioi_qty")
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "m", TransType: "X"})
	wantCode(t, err, apperr.InvalidRequest, "ioi_trans_type")
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "m", TransType: "C"})
	wantCode(t, err, apperr.InvalidRequest, "ioi_ref_id")
	_, err = e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "m", Symbol: "FPT", Side: "B", Qty: ip(100), RepoHaircutRatioMantissa: ip(-1)})
	wantCode(t, err, apperr.InvalidRequest, "repo_haircut_ratio_mantissa")
	_, err = e.desk.IOI(e.ctx, deskViewer, IOIRequest{IoiID: "m", Symbol: "FPT", Side: "B", Qty: ip(100)})
	wantCode(t, err, apperr.Forbidden, "TRADE")

	// A quote answering an ACTIVE IOI; the deal marks it MATCHED.
	if _, err := e.desk.IOI(e.ctx, deskTrader, IOIRequest{IoiID: "ioi-4", Symbol: "FPT", Side: "B", Qty: ip(1000), Price: sp("101000")}); err != nil {
		t.Fatal(err)
	}
	q := sellQuote("q-ioi")
	q.IoiID = "ioi-2"
	_, err = e.desk.Quote(e.ctx, deskTrader, q)
	wantRefusal(t, err, trading.CodeCompleted) // cancelled
	q.IoiID = "ioi-4"
	if _, err := e.desk.Quote(e.ctx, deskTrader, q); err != nil {
		t.Fatal(err)
	}
	if ads := board(AdFilter{Status: "ACTIVE", Side: "B"}); len(ads) != 1 || ads[0].IoiID != "ioi-4" {
		t.Fatalf("still active until the deal: %+v", ads)
	}
	if _, err := e.desk.RespondQuote(e.ctx, deskTrader, accept("acc-ioi", "q-ioi")); err != nil {
		t.Fatal(err)
	}
	if ads := board(AdFilter{Status: "MATCHED"}); len(ads) != 1 || ads[0].IoiID != "ioi-4" || ads[0].SourceSeq != 2 {
		t.Fatalf("matched: %+v", ads)
	}

	// Filters and paging: newest first, limit/offset, symbol by ticker or ISIN.
	all := board(AdFilter{})
	if len(all) != 6 {
		t.Fatalf("board: %d", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID <= all[i].ID {
			t.Fatalf("not newest first: %+v", all)
		}
	}
	if p := board(AdFilter{Limit: 2, Offset: 1}); len(p) != 2 || p[0].ID != all[1].ID || p[1].ID != all[2].ID {
		t.Fatalf("page: %+v", p)
	}
	if p := board(AdFilter{Symbol: fptISIN}); len(p) != 4 { // the SHS refusal is not FPT
		t.Fatalf("by ISIN: %d", len(p))
	}
	if p := board(AdFilter{Symbol: "fpt", Side: "S"}); len(p) != 2 {
		t.Fatalf("FPT sells: %+v", p)
	}
	if f := (AdFilter{Limit: 5000}); func() int { l, _ := f.Page(); return l }() != MaxIOILimit {
		t.Fatal("limit not capped")
	}
	_, err = e.desk.Advertisements(e.ctx, AdFilter{Status: "OPEN"})
	wantCode(t, err, apperr.InvalidRequest, "status")
	_, err = e.desk.Advertisements(e.ctx, AdFilter{Side: "X"})
	wantCode(t, err, apperr.InvalidRequest, "side")
}

func TestKQuotePlaceReplaceCancel(t *testing.T) {
	e := newDeskEnv(t)
	ack, err := e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "k-1", Account: an, Symbol: "FPT",
		BidPrice: sp("99000"), BidSize: ip(200), OfferPrice: sp("101000"), OfferSize: ip(300)})
	if err != nil || ack.MsgType != latency.MsgKQuote || ack.RequestID != "k-1" {
		t.Fatalf("kquote: %+v %v", ack, err)
	}
	bid, offer := e.order("k-1-B"), e.order("k-1-S")
	if bid.Status != store.OrderNew || offer.Status != store.OrderNew || bid.QuoteID != "k-1" || offer.QuoteID != "k-1" {
		t.Fatalf("legs: %+v %+v", bid, offer)
	}
	if live := e.svc.InBook(bid); !live {
		t.Fatal("the bid is not in the book")
	}
	a := e.account(an)
	if !a.CashHold.Equal(dec("19800000")) {
		t.Fatalf("An's cash hold: %s", a.CashHold)
	}
	if s, h, _ := holding(a, fptISIN); s != 9700 || h != 300 {
		t.Fatalf("An's FPT: %d / %d", s, h)
	}
	// A crossing two-sided quote and a bad leg are refused, nothing placed.
	_, err = e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "k-x", Account: an, Symbol: "FPT",
		BidPrice: sp("101000"), BidSize: ip(100), OfferPrice: sp("101000"), OfferSize: ip(100)})
	wantCode(t, err, apperr.InvalidRequest, "bid_price")
	_, err = e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "k-x", Account: an, Symbol: "FPT",
		BidPrice: sp("98000"), BidSize: ip(100), OfferPrice: sp("107100"), OfferSize: ip(100)})
	wantRefusal(t, err, market.CodeBand)
	if _, err := orderByRef(e.ctx, e.st, "k-x-B"); err == nil {
		t.Fatal("a refused kquote stored a leg")
	}

	// Binh hits part of the offer through the book.
	if _, err := e.svc.Submit(e.ctx, deskTrader, trading.NewOrder{Account: binh, Symbol: "FPT", Side: "B", Type: "LO", Price: sp("101000"), Qty: 100, RefOrderID: "hit"}); err != nil {
		t.Fatal(err)
	}
	if o := e.order("k-1-S"); o.Status != store.OrderPartiallyFill || o.FilledQty != 100 {
		t.Fatalf("offer after the hit: %+v", o)
	}
	// Replace: the old legs end, the new ones stand; holds follow.
	ack, err = e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "k-2", OrigQuoteMsgID: "k-1", BidPrice: sp("98000"), BidSize: ip(100)})
	if err != nil || ack.OrigRequestID != "k-1" {
		t.Fatalf("replace: %+v %v", ack, err)
	}
	if o := e.order("k-1-B"); o.Status != store.OrderCanceled || o.CancelledQty != 200 {
		t.Fatalf("old bid: %+v", o)
	}
	if o := e.order("k-1-S"); o.Status != store.OrderCanceled || o.CancelledQty != 200 || o.FilledQty != 100 {
		t.Fatalf("old offer: %+v", o)
	}
	if live := e.svc.InBook(offer); live {
		t.Fatal("the replaced offer is still in the book")
	}
	a = e.account(an)
	if !a.CashHold.Equal(dec("9800000")) {
		t.Fatalf("An's cash hold after the replace: %s", a.CashHold)
	}
	if s, h, _ := holding(a, fptISIN); s != 9900 || h != 0 {
		t.Fatalf("An's FPT after the replace: %d / %d", s, h)
	}
	_, err = e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "k-3", OrigQuoteMsgID: "k-1", BidPrice: sp("98000"), BidSize: ip(100)})
	wantRefusal(t, err, trading.CodeCompleted)
	// A replace the account cannot cover leaves the quote standing.
	_, err = e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "k-4", OrigQuoteMsgID: "k-2", OfferPrice: sp("101000"), OfferSize: ip(20000)})
	wantRefusal(t, err, -900001)
	if o := e.order("k-2-B"); o.Status != store.OrderNew {
		t.Fatalf("k-2 after a refused replace: %+v", o)
	}

	// Cancel: unknown target, the viewer, then the quote named.
	_, err = e.desk.KQuoteCancel(e.ctx, deskTrader, KQuoteCancelRequest{QuoteMsgID: "c-0", OrigQuoteMsgID: "nope"})
	wantRefusal(t, err, trading.CodeUnknownOrder)
	_, err = e.desk.KQuoteCancel(e.ctx, deskViewer, KQuoteCancelRequest{QuoteMsgID: "c-0", OrigQuoteMsgID: "k-2"})
	wantCode(t, err, apperr.Forbidden, "TRADE")
	_, err = e.desk.KQuoteCancel(e.ctx, deskTrader, KQuoteCancelRequest{QuoteMsgID: "c-0", CancelType: i32(2)})
	wantCode(t, err, apperr.InvalidRequest, "quote_cancel_type")
	ack, err = e.desk.KQuoteCancel(e.ctx, deskTrader, KQuoteCancelRequest{QuoteMsgID: "c-1", OrigQuoteMsgID: "k-2"})
	if err != nil || ack.MsgType != latency.MsgKQuoteCancel || ack.OrigRequestID != "k-2" {
		t.Fatalf("cancel: %+v %v", ack, err)
	}
	if o := e.order("k-2-B"); o.Status != store.OrderCanceled {
		t.Fatalf("cancelled leg: %+v", o)
	}
	if a := e.account(an); !a.CashHold.IsZero() {
		t.Fatalf("An's cash hold after the cancel: %s", a.CashHold)
	}
	_, err = e.desk.KQuoteCancel(e.ctx, deskTrader, KQuoteCancelRequest{QuoteMsgID: "c-2", OrigQuoteMsgID: "k-2"})
	wantRefusal(t, err, trading.CodeCompleted)

	// By symbol and all: every active kquote of the caller's accounts.
	for i, acct := range []string{an, binh} {
		if _, err := e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: fmt.Sprintf("m-%d", i), Account: acct, Symbol: "FPT", BidPrice: sp("95000"), BidSize: ip(100)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "m-hpg", Account: binh, Symbol: "HPG", OfferPrice: sp("28000"), OfferSize: ip(1000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.desk.KQuoteCancel(e.ctx, deskTrader, KQuoteCancelRequest{QuoteMsgID: "c-3", Symbol: "FPT", CancelType: i32(CancelBySymbol)}); err != nil {
		t.Fatal(err)
	}
	if o := e.order("m-0-B"); o.Status != store.OrderCanceled {
		t.Fatalf("m-0: %s", o.Status)
	}
	if o := e.order("m-hpg-S"); o.Status != store.OrderNew {
		t.Fatalf("m-hpg after the FPT cancel: %s", o.Status)
	}
	if _, err := e.desk.KQuoteCancel(e.ctx, deskTrader, KQuoteCancelRequest{QuoteMsgID: "c-4", CancelType: i32(CancelAll)}); err != nil {
		t.Fatal(err)
	}
	if o := e.order("m-hpg-S"); o.Status != store.OrderCanceled {
		t.Fatalf("m-hpg: %s", o.Status)
	}
	_, err = e.desk.KQuoteCancel(e.ctx, deskTrader, KQuoteCancelRequest{QuoteMsgID: "c-5", CancelType: i32(CancelAll)})
	wantRefusal(t, err, trading.CodeUnknownOrder)
	for _, code := range []string{an, binh} {
		if a := e.account(code); !a.CashHold.IsZero() {
			t.Fatalf("%s still holds cash %s", code, a.CashHold)
		}
		for _, h := range e.account(code).Holdings {
			if h.HoldQty != 0 {
				t.Fatalf("%s still holds %d %s", code, h.HoldQty, h.Symbol)
			}
		}
	}
}

func TestKQuoteConcurrentReplacesOneWins(t *testing.T) {
	e := newDeskEnv(t)
	if _, err := e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: "k", Account: an, Symbol: "FPT", BidPrice: sp("99000"), BidSize: ip(100)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	errs := make([]error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			_, errs[i] = e.desk.KQuote(e.ctx, deskTrader, KQuoteRequest{QuoteMsgID: fmt.Sprintf("r-%d", i), OrigQuoteMsgID: "k", BidPrice: sp("98000"), BidSize: ip(100)})
		}()
	}
	close(gate)
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			wantRefusal(t, err, trading.CodeCompleted)
		}
	}
	if won != 1 {
		t.Fatalf("%d replaces won", won)
	}
	if a := e.account(an); !a.CashHold.Equal(dec("9800000")) {
		t.Fatalf("An's cash hold: %s", a.CashHold)
	}
}

// An accept the accounts' holds and free balances do not cover is refused
// (the deal is made in the OMS, before anything has traded), unlike a
// venue fill, which is booked into a loan or a short.
func TestPutThroughUncoveredDealRefused(t *testing.T) {
	e := newDeskEnv(t)
	edit := func(code string, f func(*store.Account)) {
		t.Helper()
		if _, err := e.st.UpdateBackOffice(e.ctx, func(tx store.BackOfficeTx) error {
			a, _, err := tx.Account(code)
			if err != nil {
				return err
			}
			f(&a)
			return tx.PutAccount(a)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Binh (bypass_cash, 50 000 000) takes An's 1 000 FPT at 101 000.
	edit(binh, func(a *store.Account) { a.BypassCash, a.CashAvailable = true, dec("50000000") })
	if _, err := e.desk.Quote(e.ctx, deskTrader, sellQuote("q-1")); err != nil {
		t.Fatal(err)
	}
	anBefore, binhBefore := e.account(an), e.account(binh)
	_, err := e.desk.RespondQuote(e.ctx, deskOther, accept("acc-1", "q-1"))
	wantRefusal(t, err, pretrade.CodeInsufficientCash)
	// An (bypass_stock, 10 000 FPT) offers 12 000: Binh, now rich, cannot take it.
	edit(binh, func(a *store.Account) { a.CashAvailable = dec("2000000000") })
	edit(an, func(a *store.Account) { a.BypassStock = true })
	q := sellQuote("q-2")
	q.OfferSize = ip(12000)
	if _, err := e.desk.Quote(e.ctx, deskTrader, q); err != nil {
		t.Fatal(err)
	}
	_, err = e.desk.RespondQuote(e.ctx, deskOther, accept("acc-2", "q-2"))
	wantRefusal(t, err, pretrade.CodeInsufficientStock)
	if o := e.order("q-1"); o.Status != store.OrderNew || o.Hold.Stock != 1000 {
		t.Fatalf("quote after the refused accept: %+v", o)
	}
	if a := e.account(an); !a.CashAvailable.Equal(anBefore.CashAvailable) {
		t.Fatalf("An's cash moved: %s", a.CashAvailable)
	}
	if s, h, _ := holding(e.account(an), fptISIN); s != 0 || h != 10000 {
		t.Fatalf("An's FPT: sellable %d held %d", s, h)
	}
	if b := e.account(binh); !b.CashHold.Equal(binhBefore.CashHold) {
		t.Fatalf("Binh's hold moved: %s", b.CashHold)
	}
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

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }
