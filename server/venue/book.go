package venue

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// entry is a live order in the book: an intrusive node of its level's FIFO.
type entry struct {
	Order
	prev, next *entry
	lvl        *level
}

// level is the FIFO of live orders at one price (or the market queue of
// one side in a call auction, price 0).
type level struct {
	price      Price
	head, tail *entry
	total      int64 // sum of LeavesQty
	count      int
}

func (l *level) push(e *entry) {
	e.lvl, e.prev, e.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.total += e.LeavesQty
	l.count++
}

func (l *level) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	l.total -= e.LeavesQty
	l.count--
	e.prev, e.next, e.lvl = nil, nil, nil
}

// bookSide holds one side's price levels sorted from worst to best, so the
// best level is the last element and consuming it is a pop.
type bookSide struct {
	side   Side
	levels []*level
}

// worse reports whether price a ranks behind price b on this side.
func (s *bookSide) worse(a, b Price) bool {
	if s.side == Buy {
		return a < b
	}
	return a > b
}

// search is the index of the first level not worse than p.
func (s *bookSide) search(p Price) int {
	return sort.Search(len(s.levels), func(i int) bool { return !s.worse(s.levels[i].price, p) })
}

func (s *bookSide) best() *level {
	if n := len(s.levels); n > 0 {
		return s.levels[n-1]
	}
	return nil
}

// levelFor returns the level at p, creating it when absent.
func (s *bookSide) levelFor(p Price, b *Book) *level {
	n := len(s.levels)
	if n > 0 && s.levels[n-1].price == p { // the common case: at the touch
		return s.levels[n-1]
	}
	i := s.search(p)
	if i < n && s.levels[i].price == p {
		return s.levels[i]
	}
	l := b.newLevel(p)
	s.levels = append(s.levels, nil)
	copy(s.levels[i+1:], s.levels[i:])
	s.levels[i] = l
	return l
}

// drop removes the (empty) level l.
func (s *bookSide) drop(l *level, b *Book) {
	n := len(s.levels)
	if n > 0 && s.levels[n-1] == l {
		s.levels[n-1] = nil
		s.levels = s.levels[:n-1]
	} else {
		i := s.search(l.price)
		copy(s.levels[i:], s.levels[i+1:])
		s.levels[n-1] = nil
		s.levels = s.levels[:n-1]
	}
	b.freeLevels = append(b.freeLevels, l)
}

// Book is the order book of one instrument. It is safe for concurrent use:
// every method takes the book's mutex. A Book made by NewBook starts in the
// Closed phase.
type Book struct {
	mu      sync.Mutex
	symbol  string
	phase   Phase
	ref     Price // the caller's reference price (auction tie-break)
	lastPx  Price // last execution price, 0 before the first
	seq     uint64
	execSeq *atomic.Uint64

	limits Limits // the day's band and the tick grid (SetLimits)

	bids, asks bookSide
	market     [3]level // ATO/ATC resting in a call auction, by Side
	orders     map[string]*entry

	freeEntries []*entry
	freeLevels  []*level
}

// NewBook makes an empty, Closed book with its own ExecID sequence. Books
// of an Engine share the engine's sequence instead.
func NewBook(symbol string, ref Price) *Book {
	return newBook(symbol, ref, new(atomic.Uint64))
}

func newBook(symbol string, ref Price, execSeq *atomic.Uint64) *Book {
	return &Book{
		symbol:  symbol,
		ref:     ref,
		execSeq: execSeq,
		bids:    bookSide{side: Buy},
		asks:    bookSide{side: Sell},
		orders:  make(map[string]*entry),
	}
}

// Symbol is the book's instrument.
func (b *Book) Symbol() string { return b.symbol }

// Phase is the book's current phase.
func (b *Book) Phase() Phase {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.phase
}

// SetReference sets the reference price used to break auction ties before
// the book's first execution.
func (b *Book) SetReference(p Price) {
	b.mu.Lock()
	b.ref = p
	b.mu.Unlock()
}

// NewDay starts a trading day: the day's reference price and limits, and
// no last execution yet (an auction before the first trade anchors on the
// reference).
func (b *Book) NewDay(ref Price, l Limits) {
	b.mu.Lock()
	b.ref, b.limits, b.lastPx = ref, l, 0
	b.mu.Unlock()
}

// Limits are the instrument's price rules the book applies itself (the
// OMS checks orders against them before they arrive): the day's band and
// the tick grid. An MTL remainder is priced from them, and in a call
// auction an LO buy at the ceiling or sell at the floor keeps its time
// priority over later ATO/ATC orders. The zero value applies neither.
type Limits struct {
	Floor, Ceiling Price
	// Step is the on-tick price one tick above p (up) or below it.
	Step func(p Price, up bool) Price
}

// SetLimits sets the book's limits (see Limits), e.g. when the reference
// price rolls.
func (b *Book) SetLimits(l Limits) {
	b.mu.Lock()
	b.limits = l
	b.mu.Unlock()
}

// mtlLimit is the price an MTL remainder of side s rests at after a last
// fill at last: KRX prices it one tick through the last matched price (a
// buy one tick higher, a sell one tick lower), within the band. Without
// limits it is the last fill price.
func (b *Book) mtlLimit(s Side, last Price) Price {
	l := b.limits
	if l.Step == nil {
		return last
	}
	p := l.Step(last, s == Buy)
	switch {
	case p <= 0:
		return last
	case s == Buy && l.Ceiling > 0 && p > l.Ceiling:
		return l.Ceiling
	case s == Sell && l.Floor > 0 && p < l.Floor:
		return l.Floor
	}
	return p
}

// atLimit reports whether a limit of side s at p sits at the band's edge
// in its favour (a buy at the ceiling, a sell at the floor): such an order
// keeps time priority over ATO/ATC orders in a call auction.
func (b *Book) atLimit(s Side, p Price) bool {
	if s == Buy {
		return b.limits.Ceiling > 0 && p == b.limits.Ceiling
	}
	return b.limits.Floor > 0 && p == b.limits.Floor
}

// LastPrice is the price of the book's last execution (0 before any).
func (b *Book) LastPrice() Price {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastPx
}

// SetPhase moves the book to phase p. Leaving CallAuction runs the auction
// first (Uncross), so no order collected for an auction is left behind and
// continuous trading starts from an uncrossed book; the report holds the
// auction's events. Entering Closed cancels nothing: the end-of-day expiry
// is Expire, so Closed can also stand for an intermission.
func (b *Book) SetPhase(p Phase) Report {
	var r Report
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.phase == CallAuction && p != CallAuction {
		b.uncross(&r)
	}
	b.phase = p
	return r
}

func (b *Book) sideOf(s Side) *bookSide {
	if s == Buy {
		return &b.bids
	}
	return &b.asks
}

func (b *Book) newEntry(o Order) *entry {
	var e *entry
	if n := len(b.freeEntries); n > 0 {
		e = b.freeEntries[n-1]
		b.freeEntries = b.freeEntries[:n-1]
	} else {
		e = new(entry)
	}
	e.Order = o
	return e
}

func (b *Book) newLevel(p Price) *level {
	if n := len(b.freeLevels); n > 0 {
		l := b.freeLevels[n-1]
		b.freeLevels = b.freeLevels[:n-1]
		*l = level{price: p}
		return l
	}
	return &level{price: p}
}

// Restore rests a live order as it stood in a book that was lost (the
// owner restarted): no matching, no event. Orders are restored in their
// time priority, oldest first; o.Qty is the total ordered, o.CumQty what
// has filled. A restored book is one that was not crossed, so nothing is
// checked against the other side; the next call auction or the next
// incoming order trades with it as with any resting order.
func (b *Book) Restore(o Order) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o.Symbol == "" {
		o.Symbol = b.symbol
	}
	switch {
	case o.Side != Buy && o.Side != Sell, o.Type < LO || o.Type > MOK, o.ID == "", o.Symbol != b.symbol,
		o.CumQty < 0, o.Qty <= o.CumQty, o.Price < 0:
		return fmt.Errorf("venue: order %s cannot be restored to %s: %w", o.ID, b.symbol, ErrInvalidRestore)
	}
	if _, dup := b.orders[o.ID]; dup {
		return fmt.Errorf("venue: order %s is already in %s: %w", o.ID, b.symbol, ErrInvalidRestore)
	}
	o.LeavesQty = o.Qty - o.CumQty
	e := b.newEntry(o)
	b.orders[e.ID] = e
	b.rest(e)
	return nil
}

// ErrInvalidRestore: an order Restore cannot rest.
var ErrInvalidRestore = errors.New("venue: invalid order to restore")

// release returns a done entry to the free list; nothing references it any
// more (events carry copies of the Order).
func (b *Book) release(e *entry) {
	*e = entry{}
	b.freeEntries = append(b.freeEntries, e)
}

// rest puts a live entry at the back of its level (or of its side's market
// queue when it has no price) with a fresh time priority.
func (b *Book) rest(e *entry) {
	b.seq++
	e.Seq = b.seq
	if e.Price == 0 {
		b.market[e.Side].push(e)
		return
	}
	b.sideOf(e.Side).levelFor(e.Price, b).push(e)
}

// unrest takes a live entry out of its level, dropping the level if empty.
func (b *Book) unrest(e *entry) {
	l := e.lvl
	l.unlink(e)
	if l.count == 0 && l.price != 0 {
		b.sideOf(e.Side).drop(l, b)
	}
}

func emit(r *Report, kind EventKind, op Op, reason Reason, o *Order) {
	r.Events = append(r.Events, Event{Kind: kind, Op: op, Reason: reason, Order: *o})
}

func reject(r *Report, op Op, reason Reason, o Order) {
	o.LeavesQty = 0
	r.Events = append(r.Events, Event{Kind: EventRejected, Op: op, Reason: reason, Order: o})
}

// Submit enters a new order. In Continuous an LO matches what crosses and
// rests the rest, MAK kills its remainder, MOK fills completely or not at
// all, MTL sweeps the other side and rests its remainder as a limit one
// tick through its last fill price (Limits; cancelled when nothing
// matched); ATO/ATC are rejected.
// In CallAuction LO, ATO and ATC collect without matching; MTL/MAK/MOK are
// rejected (the OMS holds them until continuous trading). In Closed every
// order is rejected.
func (b *Book) Submit(o Order) Report {
	var r Report
	b.SubmitTo(o, &r)
	return r
}

// SubmitTo is Submit appending to r, for callers that reuse a Report.
func (b *Book) SubmitTo(o Order, r *Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.submit(o, r)
}

func (b *Book) submit(o Order, r *Report) {
	o.CumQty, o.LeavesQty, o.Seq = 0, o.Qty, 0
	if o.Symbol == "" {
		o.Symbol = b.symbol
	}
	switch {
	case o.Side != Buy && o.Side != Sell, o.Type < LO || o.Type > MOK, o.Qty <= 0, o.ID == "",
		o.Symbol != b.symbol, o.Type.priced() && o.Price <= 0:
		reject(r, OpNew, ReasonInvalidOrder, o)
		return
	}
	if !o.Type.priced() {
		o.Price = 0
	}
	switch b.phase {
	case Closed:
		reject(r, OpNew, ReasonMarketClosed, o)
		return
	case Continuous:
		if o.Type.auctionOnly() {
			reject(r, OpNew, ReasonTypeNotInPhase, o)
			return
		}
	case CallAuction:
		if o.Type.continuousOnly() {
			reject(r, OpNew, ReasonTypeNotInPhase, o)
			return
		}
	}
	if _, dup := b.orders[o.ID]; dup {
		reject(r, OpNew, ReasonDuplicateOrderID, o)
		return
	}
	if b.phase == CallAuction && b.restsOpposite(o) {
		// Both sides of one stock from one account in one auction.
		reject(r, OpNew, ReasonSelfTrade, o)
		return
	}
	e := b.newEntry(o)
	emit(r, EventAccepted, OpNew, ReasonNone, &e.Order)
	if b.phase == CallAuction {
		b.orders[e.ID] = e
		b.rest(e)
		return
	}
	if !b.continuous(e, r) {
		return
	}
	if e.LeavesQty > 0 {
		b.orders[e.ID] = e
		b.rest(e)
	} else {
		b.release(e)
	}
}

// continuous matches a new order in continuous trading by its type. It
// reports whether a remainder is left to rest (false: the order ended).
// Meeting an order of its own account stops the match and cancels the
// rest (self-trade prevention, see match).
func (b *Book) continuous(e *entry, r *Report) bool {
	switch e.Type {
	case LO:
		if _, self := b.match(e, true, OpNew, r); self {
			b.cancelled(e, OpNew, ReasonSelfTrade, r)
			return false
		}
	case MAK:
		_, self := b.match(e, false, OpNew, r)
		if e.LeavesQty > 0 {
			b.cancelled(e, OpNew, pick(self, ReasonSelfTrade, ReasonIOCRemainder), r)
			return false
		}
	case MOK:
		if ok, self := b.fillable(e); !ok {
			b.cancelled(e, OpNew, pick(self, ReasonSelfTrade, ReasonFOKNotFillable), r)
			return false
		}
		b.match(e, false, OpNew, r)
	case MTL:
		last, self := b.match(e, false, OpNew, r)
		if e.CumQty == 0 || self {
			b.cancelled(e, OpNew, pick(self, ReasonSelfTrade, ReasonNoLiquidity), r)
			return false
		}
		if e.LeavesQty > 0 {
			// The sweep emptied the other side, so the limit cannot cross.
			e.Price = b.mtlLimit(e.Side, last)
			emit(r, EventReplaced, OpNew, ReasonMTLToLimit, &e.Order)
		}
	}
	return true
}

// restsOpposite reports whether an order of o's account rests on the
// other side of the book (a scan: only call auctions ask).
func (b *Book) restsOpposite(o Order) bool {
	if o.Account == "" {
		return false
	}
	for _, e := range b.orders {
		if e.Account == o.Account && e.Side != o.Side {
			return true
		}
	}
	return false
}

// crossesOwn reports whether e at price p would cross a resting order of
// its own account on the other side (an ATO/ATC one crosses any price).
func (b *Book) crossesOwn(e *entry, p Price) bool {
	for _, o := range b.orders {
		if o == e || !sameAccount(e, o) || o.Side == e.Side {
			continue
		}
		if o.Price == 0 || p == 0 || (e.Side == Buy && p >= o.Price) || (e.Side == Sell && p <= o.Price) {
			return true
		}
	}
	return false
}

func pick(cond bool, yes, no Reason) Reason {
	if cond {
		return yes
	}
	return no
}

// sameAccount reports whether two orders belong to one account (orders
// without an account never do).
func sameAccount(a, b *entry) bool { return a.Account != "" && a.Account == b.Account }

// cancelled ends a live entry that is not (or no longer) in the book.
func (b *Book) cancelled(e *entry, op Op, reason Reason, r *Report) {
	e.LeavesQty = 0
	emit(r, EventCancelled, op, reason, &e.Order)
	b.release(e)
}

// fillable reports whether the opposite side offers in's whole quantity
// before, in priority order, an order of in's own account, which matching
// would stop at (self is true when that is what fell short).
func (b *Book) fillable(in *entry) (ok, self bool) {
	qty := in.LeavesQty
	levels := b.sideOf(in.Side.Opposite()).levels
	for i := len(levels) - 1; i >= 0 && qty > 0; i-- {
		for m := levels[i].head; m != nil && qty > 0; m = m.next {
			if sameAccount(in, m) {
				return false, true
			}
			qty -= m.LeavesQty
		}
	}
	return qty <= 0, false
}

// match runs the live, unrested entry in against the other side, best
// level first, oldest order first, while it crosses (limited) or while
// there is liquidity (market). It returns the last fill price, and self
// true when it stopped at an order of in's own account: an account never
// trades with itself, and the incoming order's rest is what the caller
// cancels (KRX's prevention mode "cancel the newest").
func (b *Book) match(in *entry, limited bool, op Op, r *Report) (last Price, self bool) {
	opp := b.sideOf(in.Side.Opposite())
	for in.LeavesQty > 0 {
		l := opp.best()
		if l == nil {
			break
		}
		if limited && ((in.Side == Buy && l.price > in.Price) || (in.Side == Sell && l.price < in.Price)) {
			break
		}
		for in.LeavesQty > 0 && l.head != nil {
			m := l.head
			if sameAccount(in, m) {
				return last, true
			}
			last = l.price
			q := min(in.LeavesQty, m.LeavesQty)
			l.total -= q
			if in.Side == Buy {
				b.fill(in, m, l.price, q, Buy, op, r)
			} else {
				b.fill(m, in, l.price, q, Sell, op, r)
			}
			if m.LeavesQty == 0 {
				l.unlink(m)
				delete(b.orders, m.ID)
				b.release(m)
			}
		}
		if l.count == 0 {
			opp.drop(l, b)
		}
	}
	return last, false
}

// fill executes q between buy and sell at price px. The caller keeps the
// level totals right.
func (b *Book) fill(buy, sell *entry, px Price, q int64, aggressor Side, op Op, r *Report) {
	id := b.execSeq.Add(1)
	b.lastPx = px
	r.Executions = append(r.Executions, Execution{
		ExecID: id, Symbol: b.symbol, BuyOrderID: buy.ID, SellOrderID: sell.ID,
		BuyAccount: buy.Account, SellAccount: sell.Account, Price: px, Qty: q, Aggressor: aggressor,
	})
	for _, e := range [2]*entry{buy, sell} {
		e.CumQty += q
		e.LeavesQty -= q
		kind := EventPartiallyFilled
		if e.LeavesQty == 0 {
			kind = EventFilled
		}
		r.Events = append(r.Events, Event{Kind: kind, Op: op, Order: e.Order, ExecID: id, LastPx: px, LastQty: q})
	}
}

// Cancel cancels a live order. An unknown or already completed order gets
// a rejected event (Op OpCancel, ReasonUnknownOrder). Cancel works in every
// phase, so the OMS can cancel what it must; the session matrix (no LO
// cancel during an auction, …) is the OMS's to apply.
func (b *Book) Cancel(id string) Report {
	var r Report
	b.CancelTo(id, &r)
	return r
}

// CancelTo is Cancel appending to r.
func (b *Book) CancelTo(id string, r *Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.orders[id]
	if !ok {
		reject(r, OpCancel, ReasonUnknownOrder, Order{ID: id, Symbol: b.symbol})
		return
	}
	b.unrest(e)
	delete(b.orders, id)
	b.cancelled(e, OpCancel, ReasonUser, r)
}

// Replace changes a live order's price and total quantity. newQty is the
// new total ordered quantity and must exceed the filled quantity; newPrice
// 0 keeps the current price (and is the only price an ATO/ATC accepts). A
// price change or a quantity increase sends the order to the back of its
// (new) level; a pure decrease keeps its place. In Continuous a new price
// that crosses matches at once, the replaced order being the aggressor.
// Replace is rejected in Closed.
func (b *Book) Replace(id string, newPrice Price, newQty int64) Report {
	var r Report
	b.ReplaceTo(id, newPrice, newQty, &r)
	return r
}

// ReplaceTo is Replace appending to r.
func (b *Book) ReplaceTo(id string, newPrice Price, newQty int64, r *Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.orders[id]
	switch {
	case b.phase == Closed:
		o := Order{ID: id, Symbol: b.symbol}
		if ok {
			o = e.Order
		}
		reject(r, OpReplace, ReasonMarketClosed, o)
		return
	case !ok:
		reject(r, OpReplace, ReasonUnknownOrder, Order{ID: id, Symbol: b.symbol})
		return
	case newQty <= e.CumQty:
		reject(r, OpReplace, ReasonQtyNotAboveFilled, e.Order)
		return
	case newPrice < 0, e.Price == 0 && newPrice != 0:
		reject(r, OpReplace, ReasonInvalidOrder, e.Order)
		return
	}
	if newPrice == 0 {
		newPrice = e.Price
	}
	if b.phase == CallAuction && b.crossesOwn(e, newPrice) {
		// The auction would match the account with itself.
		reject(r, OpReplace, ReasonSelfTrade, e.Order)
		return
	}
	if newPrice == e.Price && newQty <= e.Qty {
		// Same price, no increase: keeps its time priority.
		d := e.Qty - newQty
		e.Qty, e.LeavesQty = newQty, e.LeavesQty-d
		e.lvl.total -= d
		emit(r, EventReplaced, OpReplace, ReasonNone, &e.Order)
		return
	}
	b.unrest(e)
	e.Price, e.Qty, e.LeavesQty = newPrice, newQty, newQty-e.CumQty
	emit(r, EventReplaced, OpReplace, ReasonNone, &e.Order)
	if b.phase == Continuous && e.Price != 0 {
		if _, self := b.match(e, true, OpReplace, r); self {
			delete(b.orders, id)
			b.cancelled(e, OpReplace, ReasonSelfTrade, r)
			return
		}
		if e.LeavesQty == 0 {
			delete(b.orders, id)
			b.release(e)
			return
		}
	}
	b.rest(e)
}

// Expire cancels every live order (end of the trading day), best price
// first on each side, bids before asks, then the auction queues.
func (b *Book) Expire() Report {
	var r Report
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range []*bookSide{&b.bids, &b.asks} {
		for i := len(s.levels) - 1; i >= 0; i-- {
			b.cancelLevel(s.levels[i], OpExpire, ReasonExpired, &r)
			b.freeLevels = append(b.freeLevels, s.levels[i])
			s.levels[i] = nil
		}
		s.levels = s.levels[:0]
	}
	b.cancelLevel(&b.market[Buy], OpExpire, ReasonExpired, &r)
	b.cancelLevel(&b.market[Sell], OpExpire, ReasonExpired, &r)
	return r
}

// cancelLevel cancels every order of l in time order, leaving l empty.
func (b *Book) cancelLevel(l *level, op Op, reason Reason, r *Report) {
	for l.head != nil {
		e := l.head
		l.unlink(e)
		delete(b.orders, e.ID)
		b.cancelled(e, op, reason, r)
	}
}

// Order returns a live order's current state.
func (b *Book) Order(id string) (Order, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.orders[id]; ok {
		return e.Order, true
	}
	return Order{}, false
}

// Level is one price level of a side: its price, open quantity and number
// of orders.
type Level struct {
	Price  Price
	Qty    int64
	Orders int
}

// Depth lists side s's price levels, best first (market orders waiting for
// an auction are not included; see Orders).
func (b *Book) Depth(s Side) []Level {
	b.mu.Lock()
	defer b.mu.Unlock()
	levels := b.sideOf(s).levels
	out := make([]Level, 0, len(levels))
	for i := len(levels) - 1; i >= 0; i-- {
		out = append(out, Level{Price: levels[i].price, Qty: levels[i].total, Orders: levels[i].count})
	}
	return out
}

// Orders lists side s's live orders in priority order: the auction market
// queue first, then price levels best first, each oldest first.
func (b *Book) Orders(s Side) []Order {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Order
	for e := b.market[s].head; e != nil; e = e.next {
		out = append(out, e.Order)
	}
	levels := b.sideOf(s).levels
	for i := len(levels) - 1; i >= 0; i-- {
		for e := levels[i].head; e != nil; e = e.next {
			out = append(out, e.Order)
		}
	}
	return out
}

// Best returns the best price and its open quantity on side s.
func (b *Book) Best(s Side) (Price, int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.sideOf(s).best(); l != nil {
		return l.price, l.total, true
	}
	return 0, 0, false
}

// Quiet reports whether Submit(o) would do nothing but accept o and rest
// it: no execution, no cancel, no reject. The OMS uses it, under the one
// writer of the book, to store a resting order as working in the same step
// that reserves its hold. The order id is not looked at.
func (b *Book) Quiet(o Order) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if (o.Side != Buy && o.Side != Sell) || o.Type < LO || o.Type > MOK || o.Qty <= 0 || (o.Type.priced() && o.Price <= 0) {
		return false
	}
	switch b.phase {
	case CallAuction:
		return !o.Type.continuousOnly()
	case Continuous:
		if o.Type != LO {
			return false
		}
		best := b.sideOf(o.Side.Opposite()).best()
		if best == nil {
			return true
		}
		if o.Side == Buy {
			return best.price > o.Price
		}
		return best.price < o.Price
	}
	return false
}
