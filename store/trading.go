package store

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Trading records: orders with the hold each one keeps on its account, put-
// through quotes and the IOI board. They live beside the back office so an
// order and the account change that pays for it commit in one
// UpdateBackOffice step: a hold is reserved with the order that explains
// it, a fill moves both accounts and both orders at once.

// OrderStatus is an order's lifecycle state (the overlay's enum on
// Order.orderStatus).
type OrderStatus string

const (
	OrderPendingNew     OrderStatus = "PENDING_NEW"
	OrderNew            OrderStatus = "NEW"
	OrderPartiallyFill  OrderStatus = "PARTIALLY_FILLED"
	OrderFilled         OrderStatus = "FILLED"
	OrderPendingCancel  OrderStatus = "PENDING_CANCEL"
	OrderCanceled       OrderStatus = "CANCELED"
	OrderPendingReplace OrderStatus = "PENDING_REPLACE"
	OrderRejected       OrderStatus = "REJECTED"
	OrderExpired        OrderStatus = "EXPIRED"
)

// OrderStatuses lists every status.
var OrderStatuses = []OrderStatus{OrderPendingNew, OrderNew, OrderPartiallyFill, OrderFilled,
	OrderPendingCancel, OrderCanceled, OrderPendingReplace, OrderRejected, OrderExpired}

// Done reports whether the status is terminal: no fill, cancel or replace
// can change the order any more.
func (s OrderStatus) Done() bool {
	return s == OrderFilled || s == OrderCanceled || s == OrderRejected || s == OrderExpired
}

// Pending reports whether a cancel or replace is in flight.
func (s OrderStatus) Pending() bool { return s == OrderPendingCancel || s == OrderPendingReplace }

// OrderHold is what an order still reserves on its account (see
// pretrade.HoldResult): cash for a buy, shares of ISIN for a sell.
type OrderHold struct {
	UnitPrice decimal.Decimal // a buy's hold price per share
	Cash      decimal.Decimal
	Stock     int64
}

// Order is one order. ID is the service's order id (orderID on the wire);
// OriginalReqID the entry ClOrdID that names the order for its whole life
// (cancel and replace address it); ClOrdID the latest request's id.
type Order struct {
	ID            int64
	OriginalReqID string
	ClOrdID       string
	OrigClOrdID   string
	TradingDate   string // YYYY-MM-DD, Asia/Ho_Chi_Minh: ClOrdIDs are unique per trading date
	AccountCode   string
	User          string // the identity that entered it

	Symbol   string // ticker
	ISIN     string
	MarketID string
	Board    string
	Side     string // B or S
	Type     string // LO, ATO, ...

	Price         decimal.Decimal // current limit price (0 for market types)
	Qty           int64           // current total quantity
	OriginalPrice decimal.Decimal
	OriginalQty   int64
	FilledQty     int64
	FilledValue   decimal.Decimal // Σ price × qty of the fills, exact
	CancelledQty  int64

	Status OrderStatus
	Text   string // {source}|{code}|{message} of the last reject or cancel
	Hold   OrderHold
	// LastExecID is the newest execution applied (execution ids increase
	// per book), so a redelivered execution is applied once.
	LastExecID uint64
	// Seq counts the order's updates (sourceSeq on the wire).
	Seq int64
	// Priority is the order's time priority in its book: it increases with
	// every order that (re)enters a queue and is renewed when a replace
	// loses priority, so books rebuilt after a restart keep their order.
	Priority int64
	// OffBook marks an order no venue book ever holds (a put-through
	// quote's order: the desk deals it itself).
	OffBook bool
	// Stop is the condition of a conditional order (FIX OrdType 4), zero
	// for every other order.
	Stop StopTerms

	// Channel is what the order came in on (pretrade.ChannelFIX); empty
	// for the REST API (CHANNEL-scoped rules read it).
	Channel string

	AlgoID, PositionID, PersisState string
	QuoteID, QuoteRespID            string
	PartyID, PartyTraderID          string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// StopTerms is what a conditional order waits for (order-entry.mdx): a
// stop-limit order goes to the venue as a limit order at Price once a
// trade reaches Px (a buy at or above, a sell at or below); a trailing
// stop also moves Px and Price along with the market by keeping Px
// Offset away from the best trade since entry (the highest for a sell,
// the lowest for a buy).
type StopTerms struct {
	Px        decimal.Decimal // the trigger price; zero: not conditional
	Trailing  bool
	Offset    decimal.Decimal // a trailing stop's distance from the best trade
	Triggered bool            // the condition was met: it is an ordinary order now
}

// Conditional reports whether these are a conditional order's terms.
func (t StopTerms) Conditional() bool { return t.Px.IsPositive() }

// Equal reports whether t and u are the same terms.
func (t StopTerms) Equal(u StopTerms) bool {
	return t.Px.Equal(u.Px) && t.Trailing == u.Trailing && t.Offset.Equal(u.Offset) && t.Triggered == u.Triggered
}

// Waiting reports whether o is a conditional order whose condition has
// not been met: stored, holding, not in any book, and not routed by the
// session changes that route other held orders.
func (o Order) Waiting() bool {
	return o.Stop.Conditional() && !o.Stop.Triggered && o.Status == OrderPendingNew
}

// LeavesQty is the open quantity: ordered, not filled, not cancelled.
func (o Order) LeavesQty() int64 {
	if o.Status.Done() {
		return 0
	}
	return max(o.Qty-o.FilledQty, 0)
}

// AvgFillPrice is the average price of the fills (0 before any).
func (o Order) AvgFillPrice() decimal.Decimal {
	if o.FilledQty == 0 {
		return decimal.Zero
	}
	return o.FilledValue.DivRound(decimal.NewFromInt(o.FilledQty), 4)
}

// Paging of orders.
const (
	DefaultOrderLimit = 200
	MaxOrderLimit     = 1000
)

// OrderFilter selects orders; empty fields match everything. Accounts,
// when not nil, restricts to those account codes (the caller's grants).
type OrderFilter struct {
	OrderID       string
	OriginalReqID string
	OrigClOrdID   string
	AccountCode   string
	Accounts      map[string]bool
	Symbol        string
	Status        OrderStatus
	// FromMs/ToMs bound the creation time [From, To) in Unix ms; 0 = open.
	FromMs, ToMs int64
	// Limit <= 0 means DefaultOrderLimit, capped at MaxOrderLimit.
	Limit, Offset int
}

// Match reports whether o passes the filter (paging aside).
func (f OrderFilter) Match(o Order) bool {
	created := o.CreatedAt.UnixMilli()
	return (f.OrderID == "" || fmt.Sprint(o.ID) == f.OrderID) &&
		(f.OriginalReqID == "" || o.OriginalReqID == f.OriginalReqID) &&
		(f.OrigClOrdID == "" || o.OrigClOrdID == f.OrigClOrdID) &&
		(f.AccountCode == "" || o.AccountCode == f.AccountCode) &&
		(f.Accounts == nil || f.Accounts[o.AccountCode]) &&
		(f.Symbol == "" || o.Symbol == f.Symbol || o.ISIN == f.Symbol) &&
		(f.Status == "" || o.Status == f.Status) &&
		(f.FromMs == 0 || created >= f.FromMs) &&
		(f.ToMs == 0 || created < f.ToMs)
}

// Page returns the effective limit and offset.
func (f OrderFilter) Page() (limit, offset int) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultOrderLimit
	}
	return min(limit, MaxOrderLimit), max(f.Offset, 0)
}

// Validate refuses an order the store cannot hold.
func (o Order) Validate() error {
	if o.ID <= 0 {
		return fmt.Errorf("order id %d: %w", o.ID, ErrInvalid)
	}
	if err := ValidateKeyPart("order ClOrdID", o.OriginalReqID); err != nil {
		return err
	}
	if o.Hold.Cash.IsNegative() || o.Hold.Stock < 0 || o.FilledQty < 0 || o.CancelledQty < 0 {
		return fmt.Errorf("order %d: negative hold or quantity: %w", o.ID, ErrInvalid)
	}
	if o.Stop.Px.IsNegative() || o.Stop.Offset.IsNegative() || (!o.Stop.Conditional() && (o.Stop.Trailing || o.Stop.Triggered)) {
		return fmt.Errorf("order %d: stop terms without a positive stop price: %w", o.ID, ErrInvalid)
	}
	return nil
}

// Trading reads orders. Changes go through UpdateBackOffice (TradingTx).
type Trading interface {
	// Order returns one order by ID; ErrNotFound when absent.
	Order(ctx context.Context, id int64) (Order, error)
	// OrderByReqID returns the order user entered under the ClOrdID reqID
	// (the newest trading date's when reused on another date); ErrNotFound
	// when absent. ClOrdIDs are a namespace per user (Order.User): one
	// user's ids neither block nor reveal another's.
	OrderByReqID(ctx context.Context, user, reqID string) (Order, error)
	// Orders lists orders matching f, newest (highest ID) first.
	Orders(ctx context.Context, f OrderFilter) ([]Order, error)
	// OpenOrders lists every order not yet done (Status.Done false),
	// newest first. Its cost follows the open orders, not the day's total:
	// the books' reconciliation and session changes read it every few
	// seconds.
	OpenOrders(ctx context.Context) ([]Order, error)
	// TradingRules reads the OMS and the order risk rules together (one
	// round trip), sorted by key as RiskRules and OrderRiskRules are.
	TradingRules(ctx context.Context) ([]RiskRule, []OrderRiskRule, error)
}

// OrderKey names an order by the entry ClOrdID its user gave it.
type OrderKey struct{ User, ReqID string }

// Prefetch names records a transaction is about to read, so the adapter
// can fetch them in one round trip; later reads of them are served from
// the transaction (and checked at commit like any read).
//
// An adapter may also start a transaction from values it saw earlier
// instead of reading them (the Redis adapter keeps accounts, grants and
// the rules' version it last saw). That is safe because the commit checks
// every value read: a value that has changed since makes the transaction
// run again on fresh reads, and a transaction that ends in an error or
// writes nothing after such a guess runs again too, so no answer is given
// on a guess.
type Prefetch struct {
	Accounts    []string
	Grants      [][2]string // (user, account)
	Orders      []int64
	OrderReqIDs []OrderKey
	// NewOrderReqIDs are ClOrdIDs the caller expects to be unused (a new
	// order's). The adapter may take them as unused without reading them;
	// the commit checks it, and a ClOrdID in use makes the transaction run
	// again on a real read, where it finds the order.
	NewOrderReqIDs []OrderKey
	// RulesVersion asks for the rules' version too (TradingTx.RulesVersion).
	RulesVersion bool
}

// TradingTx is the trading part of a back-office transaction.
type TradingTx interface {
	// Prefetch reads the named records ahead (see Prefetch).
	Prefetch(p Prefetch) error
	// RulesVersion changes whenever an OMS or order risk rule is written
	// ("" before any was). It is read like a record: a rule change before
	// the commit makes the transaction run again, so rules cached under a
	// version are exactly the rules in force when the transaction commits.
	RulesVersion() (string, error)
	Order(id int64) (Order, bool, error)
	// OrderByReqID finds the order user entered under reqID (see
	// Trading.OrderByReqID).
	OrderByReqID(user, reqID string) (Order, bool, error)
	// NewOrder stores o under the next order ID and returns it. When index
	// is true the entry ClOrdID is indexed in o.User's namespace
	// (OrderByReqID finds it); a rejected duplicate is stored without
	// taking the index.
	NewOrder(o Order, index bool) (Order, error)
	// PutOrder replaces an existing order (its Seq is incremented).
	PutOrder(o Order) error
	// MarketDay returns an instrument's trading day record (found false
	// before its first); PutMarketDay replaces it.
	MarketDay(isin string) (MarketDay, bool, error)
	PutMarketDay(isin string, d MarketDay) error
}

// MarketDay is one instrument's trading day: the reference price in force
// on Date and the day's matched trading so far (the last price, and the
// value and volume its volume-weighted average comes from). The next
// trading day's reference is rolled from it (server/trading's roll).
type MarketDay struct {
	Date      string // YYYY-MM-DD
	Reference decimal.Decimal
	Last      decimal.Decimal // 0 before the day's first trade
	Value     decimal.Decimal // Σ price × qty of the day's trades
	Volume    int64           // Σ qty
}

// Traded reports whether the day has had a trade.
func (d MarketDay) Traded() bool { return d.Volume > 0 }

// Leases name one holder of a role among processes sharing a store (the
// venue simulator's books: exactly one omsd may own them). A lease lasts
// ttl unless its holder takes it again.
type Leases interface {
	// TakeLease makes owner the holder of name for ttl when nobody holds it
	// or owner already does, and returns the holder after the call (owner
	// when it got it).
	TakeLease(ctx context.Context, name, owner string, ttl time.Duration) (holder string, err error)
	// ReleaseLease ends owner's lease on name; another holder's is kept.
	ReleaseLease(ctx context.Context, name, owner string) error
}
