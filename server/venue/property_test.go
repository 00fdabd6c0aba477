package venue

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
)

// The property tests drive one book with seeded random streams of every
// request (new orders of every type, cancels, replaces, phase changes,
// auctions, expiry) and check after each call that the report and the book
// keep the engine's invariants against an independent model built only
// from the events.

const (
	propSeeds = 200
	propOps   = 500
)

// modelOrder is what the events say about one order.
type modelOrder struct {
	side      Side
	typ       OrderType
	qty, cum  int64
	limit     Price // 0 = no limit (market)
	lastPx    Price
	done      bool
	everFills int
}

type model struct {
	t        *testing.T
	limits   Limits // the book's: an MTL remainder rests one tick through
	orders   map[string]*modelOrder
	lastExec uint64
	buyFills int64
	sellFill int64
	execQty  int64
}

func newModel(t *testing.T) *model { return &model{t: t, orders: make(map[string]*modelOrder)} }

// mtlPrice is where an MTL remainder rests: its last fill price, or with
// limits one tick through it (a buy up, a sell down) inside the band.
func (m *model) mtlPrice(mo *modelOrder) Price {
	if m.limits.Step == nil {
		return mo.lastPx
	}
	p := m.limits.Step(mo.lastPx, mo.side == Buy)
	return min(max(p, m.limits.Floor), m.limits.Ceiling)
}

func (m *model) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf(format, args...)
}

// apply checks one report against the model and folds it in.
func (m *model) apply(r Report) {
	m.t.Helper()
	execs := make(map[uint64]Execution, len(r.Executions))
	for _, x := range r.Executions {
		if x.ExecID <= m.lastExec {
			m.fatalf("exec id %d not above %d", x.ExecID, m.lastExec)
		}
		m.lastExec = x.ExecID
		if x.Qty <= 0 {
			m.fatalf("exec %d qty %d", x.ExecID, x.Qty)
		}
		execs[x.ExecID] = x
		m.execQty += x.Qty
	}
	seen := make(map[uint64]int)
	for _, ev := range r.Events {
		o := ev.Order
		mo := m.orders[o.ID]
		switch ev.Kind {
		case EventAccepted:
			if mo != nil && !mo.done {
				m.fatalf("%s accepted while live", o.ID)
			}
			m.orders[o.ID] = &modelOrder{side: o.Side, typ: o.Type, qty: o.Qty, limit: o.Price}
			continue
		case EventRejected:
			continue // nothing changes; checked by the book comparison
		}
		if mo == nil || mo.done {
			m.fatalf("%s %s on an order not live", o.ID, ev.Kind)
		}
		switch ev.Kind {
		case EventPartiallyFilled, EventFilled:
			x, ok := execs[ev.ExecID]
			if !ok {
				m.fatalf("%s fill with unknown exec %d", o.ID, ev.ExecID)
			}
			seen[ev.ExecID]++
			if ev.LastQty != x.Qty || ev.LastPx != x.Price {
				m.fatalf("%s fill %d@%s, exec %d@%s", o.ID, ev.LastQty, ev.LastPx, x.Qty, x.Price)
			}
			// The price is within the order's limit as it stood.
			if mo.limit != 0 && ((mo.side == Buy && x.Price > mo.limit) || (mo.side == Sell && x.Price < mo.limit)) {
				m.fatalf("%s %s limit %s filled at %s", o.ID, mo.side, mo.limit, x.Price)
			}
			if (mo.side == Buy && x.BuyOrderID != o.ID) || (mo.side == Sell && x.SellOrderID != o.ID) {
				m.fatalf("%s fill on the wrong side of exec %+v", o.ID, x)
			}
			mo.cum += ev.LastQty
			mo.lastPx = x.Price
			mo.everFills++
			if mo.side == Buy {
				m.buyFills += ev.LastQty
			} else {
				m.sellFill += ev.LastQty
			}
			if (ev.Kind == EventFilled) != (mo.cum == mo.qty) {
				m.fatalf("%s %s with cum %d of %d", o.ID, ev.Kind, mo.cum, mo.qty)
			}
			mo.done = mo.cum == mo.qty
		case EventCancelled:
			mo.done = true
			if o.LeavesQty != 0 {
				m.fatalf("%s cancelled with leaves %d", o.ID, o.LeavesQty)
			}
		case EventReplaced:
			if ev.Reason == ReasonMTLToLimit && (mo.typ != MTL || o.Price != m.mtlPrice(mo) || mo.limit != 0) {
				m.fatalf("%s re-priced at %s, last fill %s", o.ID, o.Price, mo.lastPx)
			}
			mo.qty, mo.limit = o.Qty, o.Price
		}
		// The event's snapshot agrees with the model.
		if o.CumQty != mo.cum || o.Qty != mo.qty {
			m.fatalf("%s %s: cum %d qty %d, model cum %d qty %d", o.ID, ev.Kind, o.CumQty, o.Qty, mo.cum, mo.qty)
		}
		if mo.cum > mo.qty {
			m.fatalf("%s filled %d > ordered %d", o.ID, mo.cum, mo.qty)
		}
		if !mo.done && o.LeavesQty != mo.qty-mo.cum {
			m.fatalf("%s leaves %d != %d - %d", o.ID, o.LeavesQty, mo.qty, mo.cum)
		}
		if mo.done && mo.typ == MOK && mo.cum != 0 && mo.cum != mo.qty {
			m.fatalf("MOK %s done partially filled %d/%d", o.ID, mo.cum, mo.qty)
		}
	}
	for id, x := range execs {
		if seen[id] != 2 {
			m.fatalf("exec %d has %d fill events", id, seen[id])
		}
		_ = x
	}
	if m.buyFills != m.sellFill || m.buyFills != m.execQty {
		m.fatalf("volume: buys %d sells %d execs %d", m.buyFills, m.sellFill, m.execQty)
	}
}

// check compares the book with the model and checks its structure.
func (m *model) check(b *Book) {
	m.t.Helper()
	live := make(map[string]bool)
	for id, mo := range m.orders {
		if !mo.done {
			live[id] = true
		}
		if mo.done && mo.typ == MOK && mo.cum != 0 && mo.cum != mo.qty {
			m.fatalf("MOK %s partial", id)
		}
	}
	if len(b.orders) != len(live) {
		m.fatalf("book has %d orders, model %d live", len(b.orders), len(live))
	}
	resting := 0
	checkEntry := func(e *entry, l *level, prevSeq *uint64) {
		mo := m.orders[e.ID]
		if mo == nil || mo.done || b.orders[e.ID] != e {
			m.fatalf("%s rests but is not live (model %+v)", e.ID, mo)
		}
		if e.LeavesQty <= 0 || e.LeavesQty != e.Qty-e.CumQty || e.CumQty != mo.cum || e.Qty != mo.qty || e.Price != mo.limit {
			m.fatalf("%s rests as %+v, model %+v", e.ID, e.Order, mo)
		}
		if e.Type == MAK || e.Type == MOK {
			m.fatalf("%s %s rests", e.ID, e.Type)
		}
		if e.lvl != l || e.Price != l.price {
			m.fatalf("%s in the wrong level", e.ID)
		}
		if e.Seq <= *prevSeq {
			m.fatalf("%s out of time order", e.ID)
		}
		*prevSeq = e.Seq
		resting++
	}
	for _, s := range []*bookSide{&b.bids, &b.asks} {
		for i, l := range s.levels {
			if i > 0 && !s.worse(s.levels[i-1].price, l.price) {
				m.fatalf("%s levels out of order", s.side)
			}
			var total int64
			n := 0
			var seq uint64
			for e := l.head; e != nil; e = e.next {
				if e.Side != s.side {
					m.fatalf("%s on the wrong side", e.ID)
				}
				checkEntry(e, l, &seq)
				total += e.LeavesQty
				n++
			}
			if n == 0 || n != l.count || total != l.total {
				m.fatalf("level %s: %d orders (count %d), total %d (kept %d)", l.price, n, l.count, total, l.total)
			}
		}
	}
	for s := Buy; s <= Sell; s++ {
		l := &b.market[s]
		var seq uint64
		var total int64
		for e := l.head; e != nil; e = e.next {
			if !e.Type.auctionOnly() || e.Side != s {
				m.fatalf("%s %s in the market queue", e.ID, e.Type)
			}
			checkEntry(e, l, &seq)
			total += e.LeavesQty
		}
		if total != l.total {
			m.fatalf("market queue total %d, kept %d", total, l.total)
		}
		if b.phase != CallAuction && l.head != nil {
			m.fatalf("market orders outside an auction")
		}
	}
	if resting != len(live) {
		m.fatalf("%d resting, %d live", resting, len(live))
	}
	// Never crossed outside the auction's collection.
	if b.phase != CallAuction {
		if bid, ask := b.bids.best(), b.asks.best(); bid != nil && ask != nil && bid.price >= ask.price {
			m.fatalf("crossed book: bid %s ask %s", bid.price, ask.price)
		}
	}
}

// step performs one random request on b.
// stream is how step makes orders: pool > 0 draws each order's account
// from that many (so self-trade prevention meets work), else every order
// has its own account.
type stream struct{ pool int }

func (st stream) account(rng *rand.Rand, o Order) Order {
	if st.pool > 0 {
		o.Account = fmt.Sprintf("acc-%d", rng.IntN(st.pool))
	}
	return o
}

// fillableBefore is what side s offers ahead of (in priority order) the
// first order of account acct: what a MOK of acct can fill.
func fillableBefore(b *Book, s Side, acct string) int64 {
	var n int64
	for _, o := range b.Orders(s) {
		if o.Account == acct {
			break
		}
		n += o.LeavesQty
	}
	return n
}

func step(rng *rand.Rand, st stream, m *model, b *Book, next *int, liveIDs func() []string) (string, Report) {
	randPrice := func() Price { return vnd(95 + rng.Int64N(11)) }
	randQty := func() int64 { return 1 + rng.Int64N(10)*rng.Int64N(10) + rng.Int64N(3)*100 }
	side := Buy
	if rng.IntN(2) == 1 {
		side = Sell
	}
	newID := func() string { *next++; return fmt.Sprintf("o%d", *next) }
	pickLive := func() string {
		ids := liveIDs()
		if len(ids) == 0 || rng.IntN(20) == 0 {
			return fmt.Sprintf("o%d", rng.IntN(*next+2)) // often done or unknown
		}
		return ids[rng.IntN(len(ids))]
	}
	x := rng.IntN(100)
	switch {
	case x < 2:
		ph := []Phase{Continuous, Continuous, Continuous, CallAuction, CallAuction, Closed}[rng.IntN(6)]
		return "phase " + ph.String(), b.SetPhase(ph)
	case x < 3:
		want := naiveAuction(b)
		if got := b.AuctionPrice(); got != want {
			m.fatalf("auction %+v, naive %+v", got, want)
		}
		r := b.Uncross()
		var vol int64
		for _, x := range r.Executions {
			vol += x.Qty
			if x.Price != want.Price || x.Aggressor != SideNone {
				m.fatalf("auction exec %+v at %s", x, want.Price)
			}
		}
		if vol != want.Volume {
			m.fatalf("auction executed %d, volume %d", vol, want.Volume)
		}
		return "uncross", r
	case x < 4 && rng.IntN(4) == 0:
		return "expire", b.Expire()
	case x < 45:
		o := st.account(rng, order(newID(), side, LO, randPrice(), randQty()))
		if rng.IntN(50) == 0 {
			o.ID = pickLive() // a duplicate now and then
		}
		return "new " + o.ID, b.Submit(o)
	case x < 60:
		typ := []OrderType{MTL, MAK, MOK, ATO, ATC, LO}[rng.IntN(6)]
		o := st.account(rng, order(newID(), side, typ, randPrice(), randQty()))
		avail := fillableBefore(b, side.Opposite(), o.Account)
		r := b.Submit(o)
		if typ == MOK && b.Phase() == Continuous {
			// Oracle: a MOK fills exactly when the other side holds enough
			// ahead of its own account's first order.
			filled := slices.ContainsFunc(r.Events, func(ev Event) bool { return ev.Order.ID == o.ID && ev.Kind == EventFilled })
			if filled != (avail >= o.Qty) {
				m.fatalf("MOK %d against %d: filled %v", o.Qty, avail, filled)
			}
		}
		return "new " + typ.String() + " " + o.ID, r
	case x < 78:
		id := pickLive()
		return "cancel " + id, b.Cancel(id)
	default:
		id := pickLive()
		var px Price
		if rng.IntN(3) > 0 {
			px = randPrice()
		}
		q := randQty()
		if o, ok := b.Order(id); ok && rng.IntN(3) == 0 {
			q = o.CumQty + rng.Int64N(o.Qty-o.CumQty+1) // a decrease, or down to the filled qty
			if o.Price == 0 {
				px = 0
			}
		}
		before, wasLive := b.Order(id)
		r := b.Replace(id, px, q)
		if after, live := b.Order(id); wasLive && live && r.Events[0].Kind == EventReplaced {
			// Oracle: priority is lost exactly on a price change or a
			// quantity increase.
			lose := after.Price != before.Price || after.Qty > before.Qty
			if lose != (after.Seq != before.Seq) || (lose && after.Seq != b.seq) {
				m.fatalf("replace %+v -> %+v: seq %d -> %d", before, after, before.Seq, after.Seq)
			}
		}
		return fmt.Sprintf("replace %s %s %d", id, px, q), r
	}
}

func runProperty(t *testing.T, seed uint64, ops int, h func(Report)) {
	runPropertyOf(t, stream{}, Limits{}, seed, ops, h)
}

func runPropertyOf(t *testing.T, st stream, lim Limits, seed uint64, ops int, h func(Report)) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := NewBook("FPT", vnd(100))
	b.SetLimits(lim)
	b.SetPhase(Continuous)
	m := newModel(t)
	m.limits = lim
	next := 0
	liveIDs := func() []string {
		var ids []string
		for id, mo := range m.orders {
			if !mo.done {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids) // map order must not leak into the stream
		return ids
	}
	for i := range ops {
		what, r := step(rng, st, m, b, &next, liveIDs)
		func() {
			defer func() {
				if t.Failed() {
					t.Logf("seed %d op %d: %s\n%s", seed, i, what, trace(r))
				}
			}()
			m.apply(r)
			m.check(b)
		}()
		if h != nil {
			h(r)
		}
	}
}

// naiveAuction recomputes the auction price from the order list by brute
// force over every tick in the range, with the documented rule.
func naiveAuction(b *Book) AuctionResult {
	orders := append(b.Orders(Buy), b.Orders(Sell)...)
	anchor := b.anchor()
	var best AuctionResult
	var bestDist Price
	isCand := func(p Price) bool {
		if p == anchor {
			return true
		}
		for _, o := range orders {
			if o.Price == p {
				return true
			}
		}
		return false
	}
	for p := vnd(1); p <= vnd(200); p += vnd(1) {
		if !isCand(p) {
			continue
		}
		var d, s int64
		for _, o := range orders {
			switch {
			case o.Side == Buy && (o.Price == 0 || o.Price >= p):
				d += o.LeavesQty
			case o.Side == Sell && (o.Price == 0 || o.Price <= p):
				s += o.LeavesQty
			}
		}
		vol, imb, dist := min(d, s), max(d-s, s-d), max(p-anchor, anchor-p)
		if vol == 0 {
			continue
		}
		switch {
		case !best.OK, vol > best.Volume,
			vol == best.Volume && anchor > 0 && dist < bestDist,
			vol == best.Volume && (anchor == 0 || dist == bestDist) && p > best.Price:
			best, bestDist = AuctionResult{Price: p, Volume: vol, Imbalance: imb, OK: true}, dist
		}
	}
	return best
}

func TestPropertyInvariants(t *testing.T) {
	for seed := range uint64(propSeeds) {
		runProperty(t, seed, propOps, nil)
		if t.Failed() {
			return
		}
	}
}

// TestPropertySelfTradeAndLimits: the invariants hold with orders of
// three accounts and the book's band and tick (the model checks an MTL
// remainder rests one tick through its last fill, inside the band), and
// no execution is between one account's orders.
func TestPropertySelfTradeAndLimits(t *testing.T) {
	lim := Limits{Floor: vnd(95), Ceiling: vnd(105), Step: func(p Price, up bool) Price {
		if up {
			return p + vnd(1)
		}
		return p - vnd(1)
	}}
	var selfStops int
	for seed := range uint64(propSeeds) {
		runPropertyOf(t, stream{pool: 3}, lim, seed, propOps, func(r Report) {
			for _, x := range r.Executions {
				if x.BuyAccount == x.SellAccount {
					t.Fatalf("seed %d: a self-trade %+v", seed, x)
				}
			}
			for _, ev := range r.Events {
				if ev.Reason == ReasonSelfTrade {
					selfStops++
				}
			}
		})
		if t.Failed() {
			return
		}
	}
	if selfStops == 0 {
		t.Fatal("the streams never met self-trade prevention")
	}
}

// TestPropertyDeterministic: the same stream gives the same reports.
func TestPropertyDeterministic(t *testing.T) {
	digest := func(seed uint64) uint64 {
		h := fnv.New64a()
		runProperty(t, seed, propOps, func(r Report) {
			fmt.Fprintf(h, "%s%v", trace(r), trades(r))
		})
		return h.Sum64()
	}
	for seed := range uint64(5) {
		if a, b := digest(seed), digest(seed); a != b {
			t.Fatalf("seed %d: %x then %x", seed, a, b)
		}
	}
}
