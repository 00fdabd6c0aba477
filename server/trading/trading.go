// Package trading is the order pipeline: an order entered over REST is
// checked (brief §4: instrument, session, quantity, price, restriction
// rules, cash or stock), stored with the hold that pays for it in one
// atomic store step, routed to the venue, and the venue's report (acks,
// fills, cancels) is applied to the orders and both accounts of every
// trade in one atomic step. It also keeps the put-through desk (IOI board,
// quotes, KRX quotes) and stamps the latency of every message.
//
// # Decisions
//
//   - Entry answers 200 with an Ack once the order is stored; a business
//     refusal is a stored REJECTED order whose text is
//     {source}|{code}|{message} (source OMS for omsd's checks, KRX for the
//     venue's). Malformed input is 400 and an account the caller holds no
//     TRADE grant on is 403, whether it exists or not.
//   - The order is processed before the Ack is sent (the venue is in
//     process), so a client that reads /util/orders after the Ack sees the
//     outcome; the contract's asynchronous shape is kept.
//   - Cancel and replace are refused synchronously (400, the code in
//     detail) since nothing new is stored. An order the caller holds no
//     grant on answers like an unknown one (-100011); VIEW only is 403.
//   - One writer per book: every change to the orders of one instrument
//     (entry, cancel, replace, session changes) runs under that
//     instrument's lock, venue call and store steps together, so reports
//     are applied in the order the engine produced them.
//   - Cancel and replace first move the order to PENDING_CANCEL /
//     PENDING_REPLACE in one store step that only one request can win; the
//     hold of a replace is resized in that step (an account that cannot
//     cover the new terms refuses the replace with -913018 / 3011).
//   - Executions are applied once: an order remembers the newest ExecID it
//     took (ids increase per book).
package trading

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// Store is the part of the store the service needs.
type Store interface {
	store.Trading
	Account(ctx context.Context, code string) (store.Account, error)
	AccountCodes(ctx context.Context) ([]string, error)
	GrantsOfUser(ctx context.Context, userID string) ([]store.Grant, error)
	UpdateBackOffice(ctx context.Context, fn func(tx store.BackOfficeTx) error) ([]store.AuditEntry, error)
}

// Venue is where orders go. Symbols are ISINs and order ids the store's
// order ids. The in-process simulator (NewSimulator) is the first
// implementation.
type Venue interface {
	Submit(o venue.Order) venue.Report
	Cancel(symbol, id string) venue.Report
	Replace(symbol, id string, price venue.Price, qty int64) venue.Report
	SetPhase(symbol string, p venue.Phase) venue.Report
	Expire(symbol string) venue.Report
	// Live returns the order as the book holds it, if it is working there.
	Live(symbol, id string) (venue.Order, bool)
	// Quiet reports whether Submit(o) would only accept and rest o.
	Quiet(o venue.Order) bool
	// Working lists every order working in the book of symbol, both
	// sides (reconciliation compares them with the store).
	Working(symbol string) []venue.Order
}

// Sources of order texts.
const (
	SourceOMS   = "OMS"
	SourceVenue = "KRX"
)

// Ack routing fields.
const (
	ServiceName = "omsd"
	GatewayName = "krx-sim"
)

// Options configure a Service; Store, Market and Clock are required.
type Options struct {
	Store  Store
	Market *market.Master
	Clock  *market.Clock
	// Venue defaults to a simulator with one book per instrument, which
	// shows its books to Observer (the market data feed) when set.
	Venue    Venue
	Observer BookObserver
	// Latency stamps each message; nil records nothing.
	Latency *latency.Recorder
	// Now is the wall clock of order times (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger
	// StepTimeout bounds each store step that follows a venue call
	// (DefaultStepTimeout when 0).
	StepTimeout time.Duration
	// ReconcileEvery is how often Run reconciles the books with the store
	// (DefaultReconcileEvery when 0).
	ReconcileEvery time.Duration
}

// Service is the order pipeline.
type Service struct {
	st     Store
	master *market.Master
	clock  *market.Clock
	venue  Venue
	lat    *latency.Recorder
	now    func() time.Time
	log    *slog.Logger

	books        sync.Map // ISIN -> *book: one writer per instrument's books, and its backlog
	dayOf        sync.Map // ISIN -> the trading date its books were started on (Roll)
	stepTimeout  time.Duration
	stepFailures atomic.Int64
	priority     atomic.Int64 // the last time priority given (see nextPriority)
	// entryCommits and entriesCommitted count the group commit's
	// transactions and the order entries they took (batch.go).
	entryCommits, entriesCommitted atomic.Int64
	// reconcileEvery is how often Run compares the books with the store.
	reconcileEvery time.Duration

	sessionMu sync.Mutex
	sessions  map[market.MarketID]market.Session // last session applied to the books
	endOfDay  []func(ctx context.Context) error  // what else ends with the day (OnEndOfDay)

	venueState venueState  // why this instance cannot trade, if it cannot
	stops      stopIndex   // the conditional orders waiting for their trigger
	reqIDs     *reqIDCache // see reqids.go
	rules      rulesCache  // the risk rules by version
}

// rulesCache keeps the OMS and order risk rules of one version, so an order
// reads the rules' version with its other records instead of every rule.
type rulesCache struct {
	mu      sync.Mutex
	loaded  bool
	version string
	risk    []store.RiskRule
	order   []store.OrderRiskRule
}

// at returns the rules of version. Rules loaded just after a change may be
// newer than version; the transaction that asked for version then fails
// its commit check (the version changed) and asks again, so rules used by
// a committed transaction are always those of its version.
func (c *rulesCache) at(ctx context.Context, st Store, version string) ([]store.RiskRule, []store.OrderRiskRule, error) {
	c.mu.Lock()
	if c.loaded && c.version == version {
		defer c.mu.Unlock()
		return c.risk, c.order, nil
	}
	c.mu.Unlock()
	risk, order, err := st.TradingRules(ctx)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	c.loaded, c.version, c.risk, c.order = true, version, risk, order
	c.mu.Unlock()
	return risk, order, nil
}

// rulesIn returns the rules in force as tx sees them: cached under the
// rules' version, which tx reads and so checks at commit.
func (s *Service) rulesIn(ctx context.Context, tx store.BackOfficeTx) ([]store.RiskRule, []store.OrderRiskRule, error) {
	version, err := tx.RulesVersion()
	if err != nil {
		return nil, nil, err
	}
	return s.rules.at(ctx, s.st, version)
}

// New returns the service; call Start to bring the books to the market's
// session.
func New(o Options) *Service {
	s := &Service{st: o.Store, master: o.Market, clock: o.Clock, venue: o.Venue, lat: o.Latency, now: o.Now, log: o.Log,
		stepTimeout: o.StepTimeout, reconcileEvery: o.ReconcileEvery, reqIDs: newReqIDCache(reqIDCacheSize)}
	if s.stepTimeout <= 0 {
		s.stepTimeout = DefaultStepTimeout
	}
	if s.reconcileEvery <= 0 {
		s.reconcileEvery = DefaultReconcileEvery
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.venue == nil {
		sim := NewSimulator(o.Market)
		sim.obs = o.Observer
		s.venue = sim
	}
	s.sessions = map[market.MarketID]market.Session{}
	return s
}

// Instruments is the instrument master the service trades.
func (s *Service) Instruments() *market.Master { return s.master }

// nextPriority returns a time priority greater than every one given
// before, in this process or (wall clock permitting) an earlier one: the
// order books are rebuilt in this order after a restart.
func (s *Service) nextPriority() int64 {
	for {
		last := s.priority.Load()
		next := max(time.Now().UnixNano(), last+1)
		if s.priority.CompareAndSwap(last, next) {
			return next
		}
	}
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewClOrdID returns a 17-character base62 id (the upstream UI's shape).
func NewClOrdID() string {
	var b [17]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}

// Ack is what a trading POST answers.
type Ack struct {
	MsgType        string
	RequestID      string
	OrigRequestID  string
	ClientID       string
	SourceSequence int64
	// Repeated: the entry repeated one already made (same ClOrdID and
	// terms on this trading date); nothing new was entered.
	Repeated bool
}
