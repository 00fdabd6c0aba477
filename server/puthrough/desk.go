package puthrough

// The put-through desk (brief §2.1 T4–T8, T10, §3.3, §3.4): the public IOI
// board, put-through (PT) quotes and their responses, and KRX standing
// quotes (kquotes).
//
// # Model
//
//   - The desk's own state (the IOI board, the index of PT quotes and of
//     kquotes) lives in memory, guarded by one mutex, like the venue books:
//     the simulator is single-instance. What moves money lives in the
//     store: every PT quote is an order record (status NEW, QuoteID set,
//     never in the venue book) that carries the hold of the quoting side,
//     so the hold is reserved in the same atomic step as the record that
//     explains it; a kquote is one LO order per leg in the book, QuoteID =
//     the kquote's quote_msg_id. A deal, a replace and a cancel are each one
//     UpdateBackOffice step. A restart loses the desk's memory; Start then
//     cancels the quote orders with their holds (they are not in a book),
//     so nothing is held for a quote the desk no longer knows.
//   - Lock order: an instrument's lock (s.lock) before the desk's mutex,
//     never the other way round.
//
// # Decisions
//
//   - Refusals. Malformed input is 400 with a message naming the field
//     (apperr.InvalidRequest), and so is a request whose terms contradict
//     the quote it answers (symbol, side, price or size of an accept). An
//     account the caller holds no TRADE grant on is 403, whether it exists
//     or not. Business refusals of quote, quote-response, kquote and
//     kquote-cancel are synchronous: 400 with detail {source}|{code}|{message}
//     (source OMS, brief §4 codes) and nothing is stored — a refused accept
//     or kquote has no record to hang a REJECTED status on, and a client
//     sees the reason at once. An IOI is different: the board has a
//     REJECTED status (the upstream UI has a tab for it), so an IOI new or
//     replace the desk refuses for business reasons (unknown or halted
//     symbol -100008/1006, quantity -131013/-131003, price off tick
//     -131018 or outside the band -132004, market closed -131002) is posted
//     on the board as REJECTED with rejReason = the code; only a replace or
//     cancel naming an unknown IOI (-100011), one already ended (-100019) or
//     a duplicate ioi_id (-100001) is a synchronous 400.
//   - Codes beyond the order checks: an unknown quote, kquote or IOI to
//     answer, replace or cancel is -100011; one that is no longer open is
//     -100019; a reused quote_msg_id, quote_id, kquote id or ioi_id on the
//     trading date is -100001; a party not in the firm-trader mappings (and
//     a responder outside a private quote's contra firm/trader) is -100007
//     (the brief has no party code; -100007 is "not known to the OMS").
//   - Sessions: put-through (quote, accept, IOI) is open during the
//     auctions, continuous trading and the window after the close (on HOSE
//     14:45–15:00 is put-through only), not in pre-opening or the lunch
//     break (-132400) nor when closed (-131002): market.PutThroughOpen.
//     Kquote legs are ordinary LO orders and follow the acceptance matrix,
//     held (PENDING_NEW) where it says P.
//   - Terms (market.CheckPutThrough): no tick and no lot rule and no
//     single-order cap, a price inside the day's band (-132004) and at
//     least the market's put-through minimum (HNX 5 000 shares, -132002).
//   - Parties (party_role 1 executing firm, 12 executing trader, 17 contra
//     firm, 37 contra trader; other roles are malformed): a firm must have
//     at least one trader in the firm-trader mappings, a trader must be
//     mapped to the firm of its side (or, with no firm of its side given,
//     to some firm). Parties are optional; a private_quote must name its
//     contra firm, and only a responder giving that executing firm (and the
//     contra trader, when named) may accept or answer it. On the deal's
//     orders partyID/partyTraderID name the counterparty: the quote's order
//     gets its contra firm/trader (or the responder's executing ones), the
//     responder's order the quote's executing firm/trader; omsd's own firm
//     (FirmID) stands in for a firm nobody named.
//   - quote: one-sided; side is the quoting party's side (inferred when
//     only bid or only offer fields are sent). quote_id defaults to
//     quote_msg_id and names the quote for quote-response; the quote's
//     order has originalReqID = quote_msg_id, so /orders/cancel with that
//     id withdraws the quote (its hold is released) and /orders/replace
//     amends it (an accept then takes the amended terms). quote_type 1, 2
//     or 3 (absent = tradeable); 0 (indicative) is refused: advertise with
//     an IOI. order_type, if sent, must be LO. With ioi_id the IOI must be
//     ACTIVE and for the same symbol; its status becomes MATCHED when the
//     quote is accepted.
//   - quote-response: quote_resp_type 1 accepts the whole quote (no
//     partial put-through): the responder's order is created FILLED and the
//     quote's order filled, at the quoted price and size, in one atomic
//     store step that also checks the responder can pay or deliver (holds
//     exactly as for an order) and moves cash and stock on both accounts.
//     The responder's order has originalReqID = the response's
//     quote_msg_id; quoteRespID = quote_resp_id (default quote_msg_id) on
//     both orders. A quote is accepted at most once. The responder's account
//     must not be the quoting account. 2 (counter) needs the responder's
//     price (on tick, in band) and records the counter; 6 (pass) records
//     the pass. Neither moves anything and the quote stays open: the quoting
//     party withdraws it with /orders/cancel, or the counter party posts
//     its own quote with its terms. Other types (3 expired, 4 cover, 5 done
//     away) are venue-side and refused as malformed.
//   - kquote: a one- or two-sided standing quote: each leg (bid_price +
//     bid_size, offer_price + offer_size) is an LO order in the book with
//     originalReqID "<quote_msg_id>-B" / "-S", checked, held and routed as
//     /orders/new would; a two-sided quote must not cross (bid < offer).
//     Legs are stored together or not at all. With orig_quote_msg_id the
//     named ACTIVE kquote is replaced: its working legs are cancelled (holds
//     released) and the new legs stored in the same atomic step, so a
//     replace the account cannot cover leaves the old quote standing.
//   - kquote-cancel: quote_cancel_type 5 (or absent) cancels the kquote
//     named by orig_quote_msg_id; 1 every ACTIVE kquote on symbol, and 4
//     every ACTIVE kquote, of the accounts the caller holds TRADE on. Legs
//     still working are CANCELED, holds released; nothing to cancel is
//     -100011. The acceptance matrix applies to the legs as to any LO
//     cancel (-133007 in the auctions), checked for every instrument
//     before anything is cancelled; types 1 and 4 then cancel instrument
//     by instrument, each in one atomic store step.
//   - The IOI board (GET /util/ioi/advertisements) is public to every
//     signed-in user; it lists the trading date's advertisements, newest
//     first; limit defaults to 100 and is capped at 1000; count is the
//     number on the page. An advertisement's broker is FirmID; ids
//     increase; sourceSeq counts its versions; *_mantissa × 10^-4 are the
//     record's doubles. Posting an IOI needs a TRADE grant on some account
//     (IOIs name no account); only the user who posted an IOI may replace
//     or cancel it (403 otherwise). ioi_trans_type defaults to N. A replace
//     posts a new advertisement (fields not sent are taken from the one it
//     replaces) and marks the old REPLACED.
//   - End of day: PT quotes are not in a book, so the book's expiry does
//     not reach them: ExpireQuotes ends (EXPIRED, hold released) the open
//     quotes of past trading dates and of markets now Closed. Every desk
//     message runs it first; the session driver should call it too.
//   - Latency: every message is traced under its quote_msg_id / ioi_id with
//     its FIX type (S, AJ, R, Z, 6); the desk is the venue's put-through
//     facility, so an accepted message runs through all six stages and a
//     refused one ends at "Risk check completed" with status REJECTED.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vero-oms/omsd/server/trading"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// FirmID is omsd's member firm: the broker of every advertisement and the
// firm of a deal's side nobody named (the demo account codes carry it as
// their prefix).
const FirmID = "099"

// Desk reject codes (see the package decisions).
const (
	CodeUnknownParty = -100007
)

// MantissaExp is the exponent of the contract's *_mantissa fields:
// value = mantissa × 10^MantissaExp.
const MantissaExp = -4

// Paging of the IOI board.
const (
	DefaultIOILimit = 100
	MaxIOILimit     = 1000
)

// maxBoard bounds the advertisements kept for one trading date.
const maxBoard = 100_000

// IOIStatus is an advertisement's state on the board.
type IOIStatus string

const (
	IOIActive    IOIStatus = "ACTIVE"
	IOIReplaced  IOIStatus = "REPLACED"
	IOICancelled IOIStatus = "CANCELLED"
	IOIMatched   IOIStatus = "MATCHED"
	IOIRejected  IOIStatus = "REJECTED"
)

// IOIStatuses lists every board status.
var IOIStatuses = []IOIStatus{IOIActive, IOIReplaced, IOICancelled, IOIMatched, IOIRejected}

// Advertisement is one IOI on the board.
type Advertisement struct {
	ID        int64
	IoiID     string
	IoiRefID  string
	Broker    string
	Symbol    string // ticker (as sent when unknown)
	ISIN      string // empty when the symbol is unknown
	Side      string
	Qty       int64
	Price     *decimal.Decimal
	TransType string // N or R (a cancel changes the status of the IOI it names)
	// RepoHaircutRatio and CollateralValue are the request's mantissas
	// scaled by 10^MantissaExp; nil when not sent.
	RepoHaircutRatio, CollateralValue *decimal.Decimal
	ContactNo                         string
	Status                            IOIStatus
	RejReason                         int // the reject code of a REJECTED advertisement
	SourceSeq                         int64
	CreatedAt                         time.Time
	TradingDate                       string

	owner string
}

// Party is one entry of a request's parties.
type Party struct {
	ID, Source string
	Role       *int32
}

// FIX PartyRole values the desk understands.
const (
	RoleExecutingFirm   = 1
	RoleExecutingTrader = 12
	RoleContraFirm      = 17
	RoleContraTrader    = 37
)

// parties are the four roles of a put-through message.
type parties struct {
	Firm, Trader, ContraFirm, ContraTrader string
}

// IOIRequest is POST /orders/ioi after decoding.
type IOIRequest struct {
	IoiID, IoiRefID, TransType string
	Symbol, Side               string
	Qty                        *int64
	Price                      *string
	ContactNo                  string
	RepoHaircutRatioMantissa   *int64
	CollateralValueMantissa    *int64
	Body                       []byte
}

// QuoteRequest is POST /orders/quote after decoding.
type QuoteRequest struct {
	QuoteMsgID, QuoteID         string
	Account, Symbol, Side       string
	BidPrice, OfferPrice        *string
	BidSize, OfferSize          *int64
	QuoteType                   *int32
	Private                     bool
	Parties                     []Party
	OrderType, TradeDate, IoiID string
	Body                        []byte
}

// QuoteResponseRequest is POST /orders/quote-response after decoding.
type QuoteResponseRequest struct {
	QuoteMsgID, QuoteRespID, QuoteID string
	RespType                         *int32
	Parties                          []Party
	Account, Symbol, Side            string
	OrderQty                         *int64
	BidPrice, OfferPrice             *string
	BidSize, OfferSize               *int64
	TradeDate, IoiID                 string
	Body                             []byte
}

// KQuoteRequest is POST /orders/kquote after decoding.
type KQuoteRequest struct {
	QuoteMsgID, OrigQuoteMsgID string
	Account, Symbol, Side      string
	BidPrice, OfferPrice       *string
	BidSize, OfferSize         *int64
	TradeDate                  string
	Body                       []byte
}

// KQuoteCancelRequest is POST /orders/kquote-cancel after decoding.
type KQuoteCancelRequest struct {
	QuoteMsgID, OrigQuoteMsgID, Symbol string
	CancelType                         *int32
	Body                               []byte
}

// Quote response types (FIX QuoteRespType) the desk takes.
const (
	RespAccept  = 1
	RespCounter = 2
	RespPass    = 6
)

// Kquote cancel types (FIX QuoteCancelType) the desk takes.
const (
	CancelBySymbol = 1
	CancelAll      = 4
	CancelQuote    = 5
)

// QuoteResponseRecord is one answer a PT quote received.
type QuoteResponseRecord struct {
	MsgID, RespID string
	Type          int32
	Account, User string
	Price         decimal.Decimal // counter price (zero for accept and pass)
	Qty           int64
	At            time.Time
}

// ptQuote indexes one PT quote; the order record holds its terms.
type ptQuote struct {
	QuoteID, MsgID string
	OrderID        int64 // 0 while being entered
	ISIN           string
	Market         market.MarketID
	Side           string
	Account        string
	IoiID          string
	Private        bool
	Parties        parties
	TradingDate    string
	Responses      []QuoteResponseRecord
	closed         bool // accepted or expired
}

// kquote statuses.
const (
	kqPending   = "PENDING" // being entered
	kqActive    = "ACTIVE"
	kqReplaced  = "REPLACED"
	kqCancelled = "CANCELLED"
)

// kQuote indexes one standing quote; its legs are orders.
type kQuote struct {
	MsgID, OrigMsgID string
	Account          string
	ISIN             string
	Legs             []int64 // order ids
	Status           string
	TradingDate      string
}

// desk is the put-through desk: the IOI board, put-through quotes and KRX
// quotes (see the decisions above).
type desk struct {
	mu       sync.Mutex
	seq      int64 // desk messages accepted (the trading.Ack's source_sequence)
	lastAd   int64
	ads      []*Advertisement // in id order
	adByIOI  map[string]*Advertisement
	quotes   map[string]*ptQuote // by quote id
	quoteMsg map[string]*ptQuote // by quote_msg_id
	kquotes  map[string]*kQuote  // by quote_msg_id
}

func (d *desk) init() {
	d.adByIOI = map[string]*Advertisement{}
	d.quotes = map[string]*ptQuote{}
	d.quoteMsg = map[string]*ptQuote{}
	d.kquotes = map[string]*kQuote{}
}

// next counts one accepted desk message; d.mu held.
func (d *desk) next() int64 {
	d.seq++
	return d.seq
}

// ---- shared helpers --------------------------------------------------------

// reject is a synchronous business refusal carrying r's code.
func reject(r *market.Reject) error {
	return apperr.New(apperr.InvalidRequest, r.Text(trading.SourceOMS))
}

// requiredID checks a mandatory client id.
func requiredID(what, id string) error {
	if strings.TrimSpace(id) == "" {
		return invalid("%s is required", what)
	}
	return trading.CheckClientID(what, id)
}

// optionalID checks an id that may be absent.
func optionalID(what, id string) error {
	if id == "" {
		return nil
	}
	return trading.CheckClientID(what, id)
}

// checkTradeDate accepts an absent trade_date or today's (YYYYMMDD or
// YYYY-MM-DD).
func (s *Desk) checkTradeDate(v string) error {
	if v == "" {
		return nil
	}
	today := s.clock.TradingDate()
	if v == today || v == strings.ReplaceAll(today, "-", "") {
		return nil
	}
	return invalid("trade_date must be the current trading date %s (or %s), got %q", strings.ReplaceAll(today, "-", ""), today, v)
}

// instrument resolves a ticker (any case) or an ISIN.
func (s *Desk) instrument(symbol string) (market.Instrument, bool) {
	if in, ok := s.master.ByTicker(strings.ToUpper(strings.TrimSpace(symbol))); ok {
		return in, true
	}
	return s.master.ByISIN(strings.TrimSpace(symbol))
}

// tradable resolves symbol for put-through: known (-100008) and active
// (1006).
func (s *Desk) tradable(symbol string) (market.Instrument, *market.Reject) {
	in, ok := s.instrument(symbol)
	if !ok {
		return in, &market.Reject{Code: market.CodeUnknownSymbol, Message: fmt.Sprintf("unknown symbol %s", symbol)}
	}
	return in, in.Tradable()
}

// ptOpen refuses put-through outside its hours on inst's market
// (market.PutThroughOpen): -131002 when the market is closed, -132400 in
// pre-opening and the lunch break.
func (s *Desk) ptOpen(inst market.Instrument) *market.Reject {
	switch now := s.clock.Session(inst.Market); {
	case now == market.Closed:
		return &market.Reject{Code: market.CodeMarketClosed, Message: fmt.Sprintf("the %s market is closed", inst.Market.Name())}
	case !market.PutThroughOpen(now):
		return &market.Reject{Code: market.CodeNotInPeriod, Message: fmt.Sprintf("put-through is not allowed in period: %s on %s", now, inst.Market.Name())}
	}
	return nil
}

// tradeGrant answers 403 unless user holds TRADE (or more) on an
// existing account.
func (s *Desk) tradeGrant(ctx context.Context, user, account string) error {
	grants, err := s.st.GrantsOfUser(ctx, user)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.AccountCode == account && g.Level.Rank() >= store.LevelTrade.Rank() {
			if _, err := s.st.Account(ctx, account); errors.Is(err, store.ErrNotFound) {
				return trading.ErrNoTradeGrant
			} else if err != nil {
				return err
			}
			return nil
		}
	}
	return trading.ErrNoTradeGrant
}

// tradeAccounts is the set of accounts user holds TRADE (or more) on.
func (s *Desk) tradeAccounts(ctx context.Context, user string) (trade, granted map[string]bool, err error) {
	grants, err := s.st.GrantsOfUser(ctx, user)
	if err != nil {
		return nil, nil, err
	}
	trade, granted = map[string]bool{}, map[string]bool{}
	for _, g := range grants {
		if g.Level.Rank() > 0 {
			granted[g.AccountCode] = true
		}
		if g.Level.Rank() >= store.LevelTrade.Rank() {
			trade[g.AccountCode] = true
		}
	}
	return trade, granted, nil
}

// txTrade re-checks the TRADE grant and reads the account inside a
// transaction.
func txTrade(tx store.BackOfficeTx, user, account string) (store.Account, error) {
	lvl, err := trading.GrantLevel(tx, user, account)
	if err != nil {
		return store.Account{}, err
	}
	acct, exists, err := tx.Account(account)
	if err != nil {
		return acct, err
	}
	if lvl.Rank() < store.LevelTrade.Rank() || !exists {
		return acct, trading.ErrNoTradeGrant
	}
	return acct, nil
}

// failed ends a trace whose message was refused: a 400 is recorded as
// REJECTED at the risk stage, anything else is not recorded.
func (s *Desk) failed(t *latency.Trace, err error) {
	if apperr.CodeOf(err) == apperr.InvalidRequest {
		s.t.End(t, latency.RiskCompleted, latency.StatusRejected)
		return
	}
	s.t.Abandon(t)
}

// completed runs an accepted desk message through the remaining stages.
func (s *Desk) completed(t *latency.Trace) {
	s.t.Mark(t, latency.RiskCompleted)
	s.t.Mark(t, latency.SentToGateway)
	s.t.Mark(t, latency.GatewayAccepted)
	s.t.Mark(t, latency.MarketStarted)
	s.t.End(t, latency.MarketCompleted, latency.StatusOK)
}

func sideOf(s string) venue.Side {
	if s == "S" {
		return venue.Sell
	}
	return venue.Buy
}

func opposite(s string) string {
	if s == "B" {
		return "S"
	}
	return "B"
}

func mantissa(field string, m *int64) (*decimal.Decimal, error) {
	if m == nil {
		return nil, nil
	}
	if *m < 0 {
		return nil, invalid("%s must not be negative, got %d", field, *m)
	}
	d := decimal.New(*m, MantissaExp)
	return &d, nil
}

// parseParties reads a parties list (see the decisions for the roles).
func parseParties(in []Party) (parties, error) {
	var p parties
	for i, x := range in {
		field := fmt.Sprintf("parties[%d]", i)
		if err := requiredID(field+".party_id", x.ID); err != nil {
			return p, err
		}
		if len(x.Source) > 8 {
			return p, invalid("%s.party_id_source must be at most 8 characters", field)
		}
		if x.Role == nil {
			return p, invalid("%s.party_role is required: 1 (executing firm), 12 (executing trader), 17 (contra firm) or 37 (contra trader)", field)
		}
		var dst *string
		switch *x.Role {
		case RoleExecutingFirm:
			dst = &p.Firm
		case RoleExecutingTrader:
			dst = &p.Trader
		case RoleContraFirm:
			dst = &p.ContraFirm
		case RoleContraTrader:
			dst = &p.ContraTrader
		default:
			return p, invalid("%s.party_role must be 1 (executing firm), 12 (executing trader), 17 (contra firm) or 37 (contra trader), got %d", field, *x.Role)
		}
		if *dst != "" {
			return p, invalid("%s.party_role %d is given twice", field, *x.Role)
		}
		*dst = x.ID
	}
	return p, nil
}

// firmTraders is the mapping lookup; the memory and Redis stores have it.
type firmTraders interface {
	FirmTraders(ctx context.Context, firmID string) ([]store.FirmTrader, error)
}

// checkParties checks the named firms and traders against the firm-trader
// mappings.
func (s *Desk) checkParties(ctx context.Context, p parties) error {
	if p == (parties{}) {
		return nil
	}
	ft, ok := s.st.(firmTraders)
	if !ok {
		return reject(&market.Reject{Code: CodeUnknownParty, Message: "the firm-trader mappings are not available to check the parties"})
	}
	check := func(firm, trader string, firmRole, traderRole int) error {
		if firm == "" && trader == "" {
			return nil
		}
		list, err := ft.FirmTraders(ctx, firm) // "" = every firm
		if err != nil {
			return err
		}
		if firm != "" && len(list) == 0 {
			return reject(&market.Reject{Code: CodeUnknownParty, Message: fmt.Sprintf("firm %s (party_role %d) is not in the firm-trader mappings", firm, firmRole)})
		}
		if trader == "" || slices.ContainsFunc(list, func(f store.FirmTrader) bool { return f.TraderID == trader }) {
			return nil
		}
		if firm == "" {
			return reject(&market.Reject{Code: CodeUnknownParty, Message: fmt.Sprintf("trader %s (party_role %d) is not mapped to any firm", trader, traderRole)})
		}
		return reject(&market.Reject{Code: CodeUnknownParty, Message: fmt.Sprintf("trader %s (party_role %d) is not mapped to firm %s", trader, traderRole, firm)})
	}
	if err := check(p.Firm, p.Trader, RoleExecutingFirm, RoleExecutingTrader); err != nil {
		return err
	}
	return check(p.ContraFirm, p.ContraTrader, RoleContraFirm, RoleContraTrader)
}

// leg is one side of a quote as sent: price and size fields.
type leg struct {
	side        string
	price       *decimal.Decimal
	size        int64
	priceField  string
	sizeField   string
	present     bool
	price0, sz0 bool // fields sent
}

// readLeg parses one side's price and size; present when either is sent.
func readLeg(side, priceField, sizeField string, price *string, size *int64) (leg, error) {
	l := leg{side: side, priceField: priceField, sizeField: sizeField}
	p, err := trading.ParsePrice(priceField, price)
	if err != nil {
		return l, err
	}
	l.price, l.price0, l.sz0 = p, p != nil, size != nil
	l.present = l.price0 || l.sz0
	if size != nil {
		if err := trading.CheckQty(sizeField, *size); err != nil {
			return l, err
		}
		l.size = *size
	}
	return l, nil
}

// complete requires both fields of a leg that is used.
func (l leg) complete() error {
	if l.price == nil {
		return invalid("%s is required with %s", l.priceField, l.sizeField)
	}
	if !l.sz0 {
		return invalid("%s is required with %s", l.sizeField, l.priceField)
	}
	return nil
}

// Desk is the put-through desk on the order-entry core t.
type Desk struct {
	t      *trading.Service
	st     trading.Store
	master *market.Master
	clock  *market.Clock
	log    *slog.Logger
	desk   desk
}

// New returns the desk trading through t; t ends the desk's quotes with
// each trading day.
func New(t *trading.Service) *Desk {
	d := &Desk{t: t, st: t.Store(), master: t.Instruments(), clock: t.Clock(), log: t.Log()}
	d.desk.init()
	t.OnEndOfDay(d.ExpireQuotes)
	return d
}

func (s *Desk) now() time.Time { return s.t.Now() }

func invalid(format string, args ...any) error {
	return apperr.New(apperr.InvalidRequest, fmt.Sprintf(format, args...))
}
