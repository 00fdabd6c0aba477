package trading

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// The order-entry core other order channels build on (the put-through
// desk in server/puthrough): the books' lock and backlog, the pre-trade
// checks, the store steps that follow the venue, the latency trace. What
// is here is a thin exported face of what the REST order routes use, so
// every channel keeps the same guarantees (see backlog.go).

// Step is one store step of a book's backlog (see After).
type Step = step

// Store is the store the service trades on.
func (s *Service) Store() Store { return s.st }

// Clock is the market clock.
func (s *Service) Clock() *market.Clock { return s.clock }

// Now is the wall clock of order times.
func (s *Service) Now() time.Time { return s.now() }

// Log is the service's logger.
func (s *Service) Log() *slog.Logger { return s.log }

// Ready refuses trading when this instance does not run the venue.
func (s *Service) Ready() error { return s.ready() }

// OpenBook starts an operation on the books of isin (see openBook): the
// caller defers the returned func and uses the returned context.
func (s *Service) OpenBook(ctx context.Context, isin string) (context.Context, func(), error) {
	return s.openBook(ctx, isin)
}

// After queues steps on the (opened) book of isin and runs its backlog; an
// error means a step waits for the store and will be retried.
func (s *Service) After(ctx context.Context, isin string, steps ...Step) error {
	return s.after(ctx, isin, steps...)
}

// CancelStep cancels o in its book and books the report.
func (s *Service) CancelStep(o store.Order) Step { return s.cancelStep(o) }

// RouteStep submits a stored order to the venue and books the report.
func (s *Service) RouteStep(o store.Order) Step { return s.routeStep(o, false) }

// InBook reports whether o's book holds it.
func (s *Service) InBook(o store.Order) bool {
	_, ok := s.venue.Live(bookOf(o), strconv.FormatInt(o.ID, 10))
	return ok
}

// RulesIn returns the risk rules in force as tx sees them.
func (s *Service) RulesIn(ctx context.Context, tx store.BackOfficeTx) ([]store.RiskRule, []store.OrderRiskRule, error) {
	return s.rulesIn(ctx, tx)
}

// Check runs the order checks of brief §4 on o (see check).
func (s *Service) Check(tx store.BackOfficeTx, o *store.Order, acct store.Account, inst market.Instrument, price *decimal.Decimal,
	side venue.Side, orderRules []store.OrderRiskRule, riskRules []store.RiskRule,
) (*market.Reject, market.Verdict, store.Account, store.OrderHold, error) {
	return s.check(tx, o, acct, inst, true, price, side, orderRules, riskRules, o.TradingDate)
}

// OnEndOfDay registers fn to run when a market's trading day ends (the
// session driver calls it after the books expired).
func (s *Service) OnEndOfDay(fn func(ctx context.Context) error) {
	s.sessionMu.Lock()
	defer s.sessionMu.Unlock()
	s.endOfDay = append(s.endOfDay, fn)
}

// Begin, Mark, End and Abandon drive a message's latency trace (nil when
// the service records none).
func (s *Service) Begin(reqID, msgType string, body []byte, user string) *latency.Trace {
	return s.begin(reqID, msgType, body, user)
}

// Mark stamps a stage of t.
func (s *Service) Mark(t *latency.Trace, st latency.Stage) { s.mark(t, st) }

// End ends t at stage st with status.
func (s *Service) End(t *latency.Trace, st latency.Stage, status string) { s.end(t, st, status) }

// Abandon forgets t without a record.
func (s *Service) Abandon(t *latency.Trace) { s.abandon(t) }

// CancelInStore ends an order no book holds (status, cancelled quantity,
// hold released).
func CancelInStore(tx store.BackOfficeTx, o store.Order, why string, status store.OrderStatus) error {
	return cancelInStore(tx, o, why, status)
}

// HoldOf is what an order's record says it holds, as pretrade counts it.
func HoldOf(o store.Order) pretrade.HoldResult { return holdOf(o) }

// StoreHold is what an order's record keeps of a hold (HoldOf's inverse).
func StoreHold(h pretrade.HoldResult) store.OrderHold { return orderHold(h) }

// Refused is a synchronous business refusal: 400 with
// {source}|{code}|{message} as the detail.
func Refused(code int, format string, args ...any) error { return refused(code, format, args...) }

// ErrNoTradeGrant refuses an account the caller holds no TRADE grant on.
var ErrNoTradeGrant = errNoTradeGrant

// GrantLevel is user's level on account inside tx.
func GrantLevel(tx store.BackOfficeTx, user, account string) (store.GrantLevel, error) {
	return grantLevel(tx, user, account)
}

// CheckClientID accepts a client-chosen id: 1–64 printable characters.
func CheckClientID(what, id string) error { return checkClientID(what, id) }

// CheckQty accepts a quantity in 1..store.MaxQuantity.
func CheckQty(field string, q int64) error { return checkQty(field, q) }

// ParsePrice parses an optional decimal price (nil when absent).
func ParsePrice(field string, p *string) (*decimal.Decimal, error) { return parsePrice(field, p) }

// ParseSide parses B or S.
func ParseSide(s string) (venue.Side, error) { return parseSide(s) }

// SettleEntry settles an order entry whose commit's outcome is unknown:
// it finds the order tried (committed) or fences its ClOrdID with a
// REJECTED record so the commit can never land (see resolve.go).
func (s *Service) SettleEntry(ctx context.Context, tried store.Order) (store.Order, bool, error) {
	return s.settleEntry(ctx, tried)
}

// StepFunc makes a backlog step of run (named for the logs).
func StepFunc(name string, run func(ctx context.Context) ([]Step, error)) Step {
	return step{name: name, run: run}
}
