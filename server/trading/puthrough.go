package trading

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
//     symbol -100008/-131001, quantity -131013/-131003, price off tick
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
//   - Sessions: put-through (quote, accept) is open in every session but
//     Closed (on HOSE 14:45–15:00 is put-through only); -131002 when the
//     market is closed. Kquote legs are ordinary LO orders and follow the
//     acceptance matrix, held (PENDING_NEW) where it says P.
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
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
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
	seq      int64 // desk messages accepted (the Ack's source_sequence)
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
	return apperr.New(apperr.InvalidRequest, r.Text(SourceOMS))
}

// requiredID checks a mandatory client id.
func requiredID(what, id string) error {
	if strings.TrimSpace(id) == "" {
		return invalid("%s is required", what)
	}
	return checkClientID(what, id)
}

// optionalID checks an id that may be absent.
func optionalID(what, id string) error {
	if id == "" {
		return nil
	}
	return checkClientID(what, id)
}

// checkTradeDate accepts an absent trade_date or today's (YYYYMMDD or
// YYYY-MM-DD).
func (s *Service) checkTradeDate(v string) error {
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
func (s *Service) instrument(symbol string) (market.Instrument, bool) {
	if in, ok := s.master.ByTicker(strings.ToUpper(strings.TrimSpace(symbol))); ok {
		return in, true
	}
	return s.master.ByISIN(strings.TrimSpace(symbol))
}

// tradable resolves symbol for put-through: known (-100008) and active
// (-131001).
func (s *Service) tradable(symbol string) (market.Instrument, *market.Reject) {
	in, ok := s.instrument(symbol)
	if !ok {
		return in, &market.Reject{Code: market.CodeUnknownSymbol, Message: fmt.Sprintf("unknown symbol %s", symbol)}
	}
	return in, in.Tradable()
}

// ptOpen refuses put-through while inst's market is closed.
func (s *Service) ptOpen(inst market.Instrument) *market.Reject {
	if s.clock.Session(inst.Market) == market.Closed {
		return &market.Reject{Code: market.CodeMarketClosed, Message: fmt.Sprintf("the %s market is closed", inst.Market.Name())}
	}
	return nil
}

// tradeGrant answers 403 unless user holds TRADE (or more) on an
// existing account.
func (s *Service) tradeGrant(ctx context.Context, user, account string) error {
	grants, err := s.st.GrantsOfUser(ctx, user)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.AccountCode == account && g.Level.Rank() >= store.LevelTrade.Rank() {
			if _, err := s.st.Account(ctx, account); errors.Is(err, store.ErrNotFound) {
				return errNoTradeGrant
			} else if err != nil {
				return err
			}
			return nil
		}
	}
	return errNoTradeGrant
}

// tradeAccounts is the set of accounts user holds TRADE (or more) on.
func (s *Service) tradeAccounts(ctx context.Context, user string) (trade, granted map[string]bool, err error) {
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
	lvl, err := grantLevel(tx, user, account)
	if err != nil {
		return store.Account{}, err
	}
	acct, exists, err := tx.Account(account)
	if err != nil {
		return acct, err
	}
	if lvl.Rank() < store.LevelTrade.Rank() || !exists {
		return acct, errNoTradeGrant
	}
	return acct, nil
}

// failed ends a trace whose message was refused: a 400 is recorded as
// REJECTED at the risk stage, anything else is not recorded.
func (s *Service) failed(t *latency.Trace, err error) {
	if apperr.CodeOf(err) == apperr.InvalidRequest {
		s.end(t, latency.RiskCompleted, latency.StatusRejected)
		return
	}
	s.abandon(t)
}

// completed runs an accepted desk message through the remaining stages.
func (s *Service) completed(t *latency.Trace) {
	s.mark(t, latency.RiskCompleted)
	s.mark(t, latency.SentToGateway)
	s.mark(t, latency.GatewayAccepted)
	s.mark(t, latency.MarketStarted)
	s.end(t, latency.MarketCompleted, latency.StatusOK)
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
func (s *Service) checkParties(ctx context.Context, p parties) error {
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
	p, err := parsePrice(priceField, price)
	if err != nil {
		return l, err
	}
	l.price, l.price0, l.sz0 = p, p != nil, size != nil
	l.present = l.price0 || l.sz0
	if size != nil {
		if *size <= 0 {
			return l, invalid("%s must be greater than 0, got %d", sizeField, *size)
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

// ---- IOI (T8) and the board (T10) -------------------------------------------

// IOI posts, replaces or cancels an advertisement (POST /orders/ioi).
func (s *Service) IOI(ctx context.Context, user string, in IOIRequest) (Ack, error) {
	if err := requiredID("ioi_id", in.IoiID); err != nil {
		return Ack{}, err
	}
	trans := in.TransType
	if trans == "" {
		trans = "N"
	}
	switch trans {
	case "N":
		if in.IoiRefID != "" {
			return Ack{}, invalid("ioi_ref_id applies to ioi_trans_type R and C only")
		}
	case "R", "C":
		if err := requiredID("ioi_ref_id", in.IoiRefID); err != nil {
			return Ack{}, invalid("ioi_ref_id is required with ioi_trans_type %s: it names the IOI to %s", trans, map[string]string{"R": "replace", "C": "cancel"}[trans])
		}
	default:
		return Ack{}, invalid("ioi_trans_type must be N (new), R (replace) or C (cancel), got %q", in.TransType)
	}
	if in.Side != "" {
		if _, err := parseSide(in.Side); err != nil {
			return Ack{}, err
		}
	}
	if in.Qty != nil && *in.Qty <= 0 {
		return Ack{}, invalid("ioi_qty must be greater than 0, got %d", *in.Qty)
	}
	price, err := parsePrice("price", in.Price)
	if err != nil {
		return Ack{}, err
	}
	if len(in.ContactNo) > 64 {
		return Ack{}, invalid("contact_no must be at most 64 characters")
	}
	haircut, err := mantissa("repo_haircut_ratio_mantissa", in.RepoHaircutRatioMantissa)
	if err != nil {
		return Ack{}, err
	}
	collateral, err := mantissa("collateral_value_mantissa", in.CollateralValueMantissa)
	if err != nil {
		return Ack{}, err
	}
	if trans == "N" {
		switch {
		case strings.TrimSpace(in.Symbol) == "":
			return Ack{}, invalid("symbol is required for a new IOI")
		case in.Side == "":
			return Ack{}, invalid("side is required for a new IOI: B or S")
		case in.Qty == nil:
			return Ack{}, invalid("ioi_qty is required for a new IOI")
		}
	}
	trade, _, err := s.tradeAccounts(ctx, user)
	if err != nil {
		return Ack{}, err
	}
	if len(trade) == 0 {
		return Ack{}, apperr.New(apperr.Forbidden, "you hold no TRADE grant on any account: only traders post IOIs")
	}
	trace := s.begin(in.IoiID, latency.MsgIOI, in.Body, user)
	s.sweep(ctx)
	now, date := s.now(), s.clock.TradingDate()

	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	fail := func(err error) (Ack, error) {
		s.failed(trace, err)
		return Ack{}, err
	}
	if prev, ok := d.adByIOI[in.IoiID]; ok && prev.TradingDate == date && trans != "C" {
		return fail(reject(&market.Reject{Code: CodeDuplicateClOrdID, Message: fmt.Sprintf("ioi_id %s is already on the board", in.IoiID)}))
	}
	var old *Advertisement
	if trans != "N" {
		o, ok := d.adByIOI[in.IoiRefID]
		switch {
		case !ok || o.TradingDate != date:
			return fail(reject(&market.Reject{Code: CodeUnknownOrder, Message: fmt.Sprintf("unknown IOI %s", in.IoiRefID)}))
		case o.owner != user:
			s.abandon(trace)
			return Ack{}, apperr.New(apperr.Forbidden, fmt.Sprintf("IOI %s was posted by another user", in.IoiRefID))
		case o.Status != IOIActive:
			return fail(reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("IOI %s is %s and can no longer be changed", in.IoiRefID, o.Status)}))
		}
		old = o
	}
	ack := Ack{MsgType: latency.MsgIOI, RequestID: in.IoiID, OrigRequestID: in.IoiRefID, ClientID: user}
	if trans == "C" {
		old.Status = IOICancelled
		old.SourceSeq++
		ack.SourceSequence = d.next()
		s.completed(trace)
		return ack, nil
	}
	if len(d.ads) >= maxBoard {
		return fail(reject(&market.Reject{Code: 1003, Message: fmt.Sprintf("the IOI board holds its maximum of %d advertisements for today", maxBoard)}))
	}
	ad := &Advertisement{IoiID: in.IoiID, IoiRefID: in.IoiRefID, Broker: FirmID, Symbol: strings.TrimSpace(in.Symbol), Side: in.Side,
		Price: price, TransType: trans, RepoHaircutRatio: haircut, CollateralValue: collateral, ContactNo: in.ContactNo,
		Status: IOIActive, SourceSeq: 1, CreatedAt: now, TradingDate: date, owner: user}
	if in.Qty != nil {
		ad.Qty = *in.Qty
	}
	if old != nil { // a replace keeps what it does not change
		if ad.Symbol == "" {
			ad.Symbol = old.Symbol
		}
		if ad.Side == "" {
			ad.Side = old.Side
		}
		if ad.Qty == 0 {
			ad.Qty = old.Qty
		}
		if ad.Price == nil {
			ad.Price = old.Price
		}
		if ad.ContactNo == "" {
			ad.ContactNo = old.ContactNo
		}
		if ad.RepoHaircutRatio == nil {
			ad.RepoHaircutRatio = old.RepoHaircutRatio
		}
		if ad.CollateralValue == nil {
			ad.CollateralValue = old.CollateralValue
		}
	}
	if r := s.checkIOI(ad); r != nil {
		ad.Status, ad.RejReason = IOIRejected, r.Code
	} else if old != nil {
		old.Status = IOIReplaced
		old.SourceSeq++
	}
	d.lastAd++
	ad.ID = d.lastAd
	d.ads = append(d.ads, ad)
	d.adByIOI[ad.IoiID] = ad
	ack.SourceSequence = d.next()
	if ad.Status == IOIRejected {
		s.end(trace, latency.RiskCompleted, latency.StatusRejected)
	} else {
		s.completed(trace)
	}
	return ack, nil
}

// checkIOI runs the instrument checks on an advertisement and fills in
// its ticker and ISIN.
func (s *Service) checkIOI(ad *Advertisement) *market.Reject {
	inst, r := s.tradable(ad.Symbol)
	if inst.ISIN != "" {
		ad.Symbol, ad.ISIN = inst.Ticker, inst.ISIN
	}
	if r != nil {
		return r
	}
	if r := s.ptOpen(inst); r != nil {
		return r
	}
	if r := inst.CheckQty(market.LO, ad.Qty); r != nil {
		return r
	}
	if ad.Price != nil {
		return inst.CheckPrice(market.LO, ad.Price)
	}
	return nil
}

// AdFilter selects advertisements; empty fields match everything.
type AdFilter struct {
	Symbol, Status, Side string
	// Limit <= 0 means DefaultIOILimit, capped at MaxIOILimit.
	Limit, Offset int
}

// Page returns the effective limit and offset.
func (f AdFilter) Page() (limit, offset int) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultIOILimit
	}
	return min(limit, MaxIOILimit), max(f.Offset, 0)
}

// Advertisements lists the trading date's IOI board, newest first (GET
// /util/ioi/advertisements): public to every signed-in user.
func (s *Service) Advertisements(ctx context.Context, f AdFilter) ([]Advertisement, error) {
	if f.Limit < 0 || f.Offset < 0 {
		return nil, invalid("limit must be at least 1 and offset at least 0")
	}
	if f.Status != "" && !slices.Contains(IOIStatuses, IOIStatus(f.Status)) {
		names := make([]string, len(IOIStatuses))
		for i, st := range IOIStatuses {
			names[i] = string(st)
		}
		return nil, invalid("status must be one of %s, got %q", strings.Join(names, ", "), f.Status)
	}
	if f.Side != "" && f.Side != "B" && f.Side != "S" {
		return nil, invalid("side must be B or S, got %q", f.Side)
	}
	limit, offset := f.Page()
	date := s.clock.TradingDate()
	sym := strings.TrimSpace(f.Symbol)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Advertisement{}
	skipped := 0
	for i := len(d.ads) - 1; i >= 0 && len(out) < limit; i-- {
		a := d.ads[i]
		if a.TradingDate != date ||
			(f.Status != "" && string(a.Status) != f.Status) ||
			(f.Side != "" && a.Side != f.Side) ||
			(sym != "" && !strings.EqualFold(a.Symbol, sym) && a.ISIN != sym) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		out = append(out, *a)
	}
	return out, nil
}

// ---- put-through quote (T4) ------------------------------------------------

// Quote posts a put-through quote (POST /orders/quote).
func (s *Service) Quote(ctx context.Context, user string, in QuoteRequest) (Ack, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return Ack{}, err
	}
	if err := optionalID("quote_id", in.QuoteID); err != nil {
		return Ack{}, err
	}
	quoteID := in.QuoteID
	if quoteID == "" {
		quoteID = in.QuoteMsgID
	}
	if strings.TrimSpace(in.Account) == "" {
		return Ack{}, invalid("account is required")
	}
	if strings.TrimSpace(in.Symbol) == "" {
		return Ack{}, invalid("symbol is required")
	}
	bid, err := readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize)
	if err != nil {
		return Ack{}, err
	}
	offer, err := readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize)
	if err != nil {
		return Ack{}, err
	}
	side := in.Side
	switch side {
	case "":
		switch {
		case bid.present && !offer.present:
			side = "B"
		case offer.present && !bid.present:
			side = "S"
		default:
			return Ack{}, invalid("side is required (B or S) unless only the bid or only the offer fields are sent")
		}
	case "B", "S":
	default:
		return Ack{}, invalid("side must be B or S, got %q", in.Side)
	}
	l, other := bid, offer
	if side == "S" {
		l, other = offer, bid
	}
	if other.present {
		return Ack{}, invalid("%s and %s must be absent on a %s quote: a put-through quote is one-sided (a two-sided standing quote is a kquote)",
			other.priceField, other.sizeField, map[string]string{"B": "buy", "S": "sell"}[side])
	}
	if l.price == nil {
		return Ack{}, invalid("%s is required for a %s quote", l.priceField, map[string]string{"B": "buy", "S": "sell"}[side])
	}
	if !l.sz0 {
		return Ack{}, invalid("%s is required for a %s quote", l.sizeField, map[string]string{"B": "buy", "S": "sell"}[side])
	}
	if in.QuoteType != nil {
		switch *in.QuoteType {
		case 1, 2, 3:
		case 0:
			return Ack{}, invalid("quote_type 0 (indicative) is not supported: advertise interest with an IOI")
		default:
			return Ack{}, invalid("quote_type must be 1 (tradeable), 2 (restricted tradeable) or 3 (counter), got %d", *in.QuoteType)
		}
	}
	if in.OrderType != "" && in.OrderType != "LO" {
		return Ack{}, invalid("order_type must be LO or absent: a put-through deal is priced, got %q", in.OrderType)
	}
	if err := s.checkTradeDate(in.TradeDate); err != nil {
		return Ack{}, err
	}
	if err := optionalID("ioi_id", in.IoiID); err != nil {
		return Ack{}, err
	}
	p, err := parseParties(in.Parties)
	if err != nil {
		return Ack{}, err
	}
	if in.Private && p.ContraFirm == "" {
		return Ack{}, invalid("a private_quote must name its contra firm in parties (party_role 17)")
	}
	if err := s.tradeGrant(ctx, user, in.Account); err != nil {
		return Ack{}, err
	}

	trace := s.begin(in.QuoteMsgID, latency.MsgQuote, in.Body, user)
	fail := func(err error) (Ack, error) {
		s.failed(trace, err)
		return Ack{}, err
	}
	s.sweep(ctx)
	inst, r := s.tradable(in.Symbol)
	if r == nil {
		r = s.ptOpen(inst)
	}
	if r == nil {
		r = inst.CheckQty(market.LO, l.size)
	}
	if r == nil {
		r = inst.CheckPrice(market.LO, l.price)
	}
	if r != nil {
		return fail(reject(r))
	}
	if err := s.checkParties(ctx, p); err != nil {
		return fail(err)
	}
	date := s.clock.TradingDate()
	q := &ptQuote{QuoteID: quoteID, MsgID: in.QuoteMsgID, ISIN: inst.ISIN, Market: inst.Market, Side: side, Account: in.Account,
		IoiID: in.IoiID, Private: in.Private, Parties: p, TradingDate: date}
	if err := s.desk.reserveQuote(q, inst); err != nil {
		return fail(err)
	}
	stored, err := s.enterQuote(ctx, user, q, inst, *l.price, l.size)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		delete(d.quotes, q.QuoteID)
		delete(d.quoteMsg, q.MsgID)
		return fail(err)
	}
	q.OrderID = stored.ID
	s.completed(trace)
	return Ack{MsgType: latency.MsgQuote, RequestID: in.QuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
}

// reserveQuote takes the quote's ids for the trading date and checks the
// IOI it answers.
func (d *desk) reserveQuote(q *ptQuote, inst market.Instrument) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.quotes[q.QuoteID]; ok && prev.TradingDate == q.TradingDate {
		return reject(&market.Reject{Code: CodeDuplicateClOrdID, Message: fmt.Sprintf("quote_id %s is already used on trading date %s", q.QuoteID, q.TradingDate)})
	}
	if prev, ok := d.quoteMsg[q.MsgID]; ok && prev.TradingDate == q.TradingDate {
		return reject(&market.Reject{Code: CodeDuplicateClOrdID, Message: fmt.Sprintf("quote_msg_id %s is already used on trading date %s", q.MsgID, q.TradingDate)})
	}
	if q.IoiID != "" {
		ad, ok := d.adByIOI[q.IoiID]
		switch {
		case !ok || ad.TradingDate != q.TradingDate:
			return reject(&market.Reject{Code: CodeUnknownOrder, Message: fmt.Sprintf("unknown IOI %s", q.IoiID)})
		case ad.Status != IOIActive:
			return reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("IOI %s is %s, not ACTIVE", q.IoiID, ad.Status)})
		case ad.ISIN != inst.ISIN:
			return invalid("ioi_id %s advertises %s, not %s", q.IoiID, ad.Symbol, inst.Ticker)
		}
	}
	d.quotes[q.QuoteID] = q
	d.quoteMsg[q.MsgID] = q
	return nil
}

// enterQuote stores the quote's order with its hold in one step.
func (s *Service) enterQuote(ctx context.Context, user string, q *ptQuote, inst market.Instrument, price decimal.Decimal, size int64) (store.Order, error) {
	ctx, done, err := s.openBook(ctx, inst.ISIN)
	if err != nil {
		return store.Order{}, err
	}
	defer done()
	now := s.now()
	o := store.Order{
		OriginalReqID: q.MsgID, ClOrdID: q.MsgID, TradingDate: q.TradingDate, AccountCode: q.Account, User: user,
		Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.BoardFor(size), Side: q.Side, Type: "LO",
		Price: price, OriginalPrice: price, Qty: size, OriginalQty: size, Status: store.OrderNew, OffBook: true,
		QuoteID: q.QuoteID, PartyID: q.Parties.ContraFirm, PartyTraderID: q.Parties.ContraTrader,
		CreatedAt: now, UpdatedAt: now,
	}
	vp, err := venue.PriceFromDecimal(price)
	if err != nil {
		return store.Order{}, invalid("price %s has more than %d decimal places", price, venue.PriceScale)
	}
	var stored store.Order
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		acct, err := txTrade(tx, user, q.Account)
		if err != nil {
			return err
		}
		riskRules, orderRules, err := s.rulesIn(ctx, tx)
		if err != nil {
			return err
		}
		if prev, ok, err := tx.OrderByReqID(user, q.MsgID); err != nil {
			return err
		} else if ok && prev.TradingDate == q.TradingDate {
			return reject(&market.Reject{Code: CodeDuplicateClOrdID, Message: fmt.Sprintf("duplicate ClOrdID %s for trading date %s", q.MsgID, q.TradingDate)})
		}
		side := sideOf(q.Side)
		if r := pretrade.CheckRestrictions(orderRules, q.Account, inst, side); r != nil {
			return reject(r)
		}
		vo := venue.Order{ID: "0", Account: q.Account, Symbol: inst.ISIN, Side: side, Type: venue.LO, Price: vp, Qty: size}
		h, r := pretrade.Hold(vo, acct, inst, pretrade.Flags(riskRules, q.Account, inst.ISIN))
		if r != nil {
			return reject(r)
		}
		acct2, err := pretrade.Apply(acct, h)
		if err != nil {
			return err
		}
		if err := tx.PutAccount(acct2); err != nil {
			return err
		}
		ord := o
		ord.Hold = orderHold(h)
		stored, err = tx.NewOrder(ord, true)
		return err
	})
	return stored, err
}

// ---- quote response (T5) ---------------------------------------------------

// RespondQuote accepts, counters or passes a put-through quote (POST
// /orders/quote-response).
func (s *Service) RespondQuote(ctx context.Context, user string, in QuoteResponseRequest) (Ack, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return Ack{}, err
	}
	if err := optionalID("quote_resp_id", in.QuoteRespID); err != nil {
		return Ack{}, err
	}
	respID := in.QuoteRespID
	if respID == "" {
		respID = in.QuoteMsgID
	}
	if err := requiredID("quote_id", in.QuoteID); err != nil {
		return Ack{}, err
	}
	if in.RespType == nil {
		return Ack{}, invalid("quote_resp_type is required: 1 (accept), 2 (counter) or 6 (pass)")
	}
	typ := *in.RespType
	if typ != RespAccept && typ != RespCounter && typ != RespPass {
		return Ack{}, invalid("quote_resp_type must be 1 (accept), 2 (counter) or 6 (pass), got %d", typ)
	}
	if strings.TrimSpace(in.Account) == "" {
		return Ack{}, invalid("account is required")
	}
	if in.Side != "" {
		if _, err := parseSide(in.Side); err != nil {
			return Ack{}, err
		}
	}
	if in.OrderQty != nil && *in.OrderQty <= 0 {
		return Ack{}, invalid("order_qty must be greater than 0, got %d", *in.OrderQty)
	}
	bid, err := readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize)
	if err != nil {
		return Ack{}, err
	}
	offer, err := readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize)
	if err != nil {
		return Ack{}, err
	}
	if err := s.checkTradeDate(in.TradeDate); err != nil {
		return Ack{}, err
	}
	if err := optionalID("ioi_id", in.IoiID); err != nil {
		return Ack{}, err
	}
	p, err := parseParties(in.Parties)
	if err != nil {
		return Ack{}, err
	}
	if err := s.tradeGrant(ctx, user, in.Account); err != nil {
		return Ack{}, err
	}

	trace := s.begin(in.QuoteMsgID, latency.MsgQuoteResponse, in.Body, user)
	fail := func(err error) (Ack, error) {
		s.failed(trace, err)
		return Ack{}, err
	}
	s.sweep(ctx)
	date := s.clock.TradingDate()
	q, ok := s.desk.quote(in.QuoteID, date)
	if !ok {
		return fail(reject(&market.Reject{Code: CodeUnknownOrder, Message: fmt.Sprintf("unknown quote %s", in.QuoteID)}))
	}
	inst, _ := s.master.ByISIN(q.ISIN)
	if in.Symbol != "" {
		if x, ok := s.instrument(in.Symbol); !ok || x.ISIN != q.ISIN {
			return fail(invalid("symbol %s is not the quote's symbol %s", in.Symbol, inst.Ticker))
		}
	}
	respSide := opposite(q.Side)
	if in.Side != "" && in.Side != respSide {
		return fail(invalid("side must be %s, the opposite of the quote's side %s", respSide, q.Side))
	}
	if in.IoiID != "" && in.IoiID != q.IoiID {
		return fail(invalid("ioi_id %s is not the IOI quote %s answers", in.IoiID, in.QuoteID))
	}
	l := bid
	if respSide == "S" {
		l = offer
	}
	if in.OrderQty != nil && l.sz0 && *in.OrderQty != l.size {
		return fail(invalid("order_qty %d and %s %d disagree", *in.OrderQty, l.sizeField, l.size))
	}
	qty := l.size
	if in.OrderQty != nil {
		qty = *in.OrderQty
	}
	if q.Private && (p.Firm != q.Parties.ContraFirm || (q.Parties.ContraTrader != "" && p.Trader != q.Parties.ContraTrader)) {
		who := "firm " + q.Parties.ContraFirm
		if q.Parties.ContraTrader != "" {
			who += ", trader " + q.Parties.ContraTrader
		}
		return fail(reject(&market.Reject{Code: CodeUnknownParty, Message: fmt.Sprintf("quote %s is private to %s: give them as executing firm/trader (party_role 1/12)", in.QuoteID, who)}))
	}
	if err := s.checkParties(ctx, p); err != nil {
		return fail(err)
	}
	rec := QuoteResponseRecord{MsgID: in.QuoteMsgID, RespID: respID, Type: typ, Account: in.Account, User: user, Qty: qty, At: s.now()}
	if typ != RespAccept {
		if err := s.answer(ctx, q, inst, l, &rec); err != nil {
			return fail(err)
		}
		d := &s.desk
		d.mu.Lock()
		defer d.mu.Unlock()
		q.Responses = append(q.Responses, rec)
		s.completed(trace)
		return Ack{MsgType: latency.MsgQuoteResponse, RequestID: in.QuoteMsgID, OrigRequestID: q.QuoteID, ClientID: user, SourceSequence: d.next()}, nil
	}
	if err := s.deal(ctx, user, q, inst, in, respID, l, p); err != nil {
		return fail(err)
	}
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	q.closed = true
	q.Responses = append(q.Responses, rec)
	if ad, ok := d.adByIOI[q.IoiID]; ok && q.IoiID != "" && ad.Status == IOIActive && ad.TradingDate == date {
		ad.Status = IOIMatched
		ad.SourceSeq++
	}
	s.completed(trace)
	return Ack{MsgType: latency.MsgQuoteResponse, RequestID: in.QuoteMsgID, OrigRequestID: q.QuoteID, ClientID: user, SourceSequence: d.next()}, nil
}

// quote finds an entered quote by quote id, or by its quote_msg_id.
func (d *desk) quote(id, date string) (*ptQuote, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q, ok := d.quotes[id]
	if !ok {
		q, ok = d.quoteMsg[id]
	}
	if !ok || q.TradingDate != date || q.OrderID == 0 {
		return nil, false
	}
	return q, true
}

// answer checks a counter or a pass: the quote is still open, a counter
// names its price.
func (s *Service) answer(ctx context.Context, q *ptQuote, inst market.Instrument, l leg, rec *QuoteResponseRecord) error {
	o, err := s.st.Order(ctx, q.OrderID)
	if err != nil {
		return err
	}
	if o.Status != store.OrderNew || o.FilledQty > 0 {
		return reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("quote %s is no longer open (its order is %s)", q.QuoteID, o.Status)})
	}
	if rec.Qty == 0 {
		rec.Qty = o.Qty
	}
	if rec.Type != RespCounter {
		return nil
	}
	if l.price == nil {
		return invalid("%s is required on a counter (quote_resp_type 2): it is your price", l.priceField)
	}
	if r := inst.CheckQty(market.LO, rec.Qty); r != nil {
		return reject(r)
	}
	if r := inst.CheckPrice(market.LO, l.price); r != nil {
		return reject(r)
	}
	rec.Price = *l.price
	return nil
}

// deal makes the put-through deal of an accept in one store step: the
// responder's order (FILLED) and the quote's order filled, cash and stock
// moved on both accounts.
func (s *Service) deal(ctx context.Context, user string, q *ptQuote, inst market.Instrument, in QuoteResponseRequest, respID string, l leg, p parties) error {
	ctx, done, err := s.openBook(ctx, inst.ISIN)
	if err != nil {
		return err
	}
	defer done()
	now, date := s.now(), s.clock.TradingDate()
	respSide := opposite(q.Side)
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		acct, err := txTrade(tx, user, in.Account)
		if err != nil {
			return err
		}
		riskRules, orderRules, err := s.rulesIn(ctx, tx)
		if err != nil {
			return err
		}
		qo, ok, err := tx.Order(q.OrderID)
		if err != nil {
			return err
		}
		if !ok {
			return reject(&market.Reject{Code: CodeUnknownOrder, Message: fmt.Sprintf("unknown quote %s", q.QuoteID)})
		}
		if qo.Status != store.OrderNew || qo.FilledQty > 0 {
			return reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("quote %s is no longer open (its order is %s)", q.QuoteID, qo.Status)})
		}
		if qo.AccountCode == in.Account {
			return invalid("account %s is the quoting account: a put-through deal needs two accounts", in.Account)
		}
		qty, price := qo.Qty, qo.Price
		if l.sz0 && l.size != qty {
			return invalid("%s %d must equal the quoted size %d: an accept takes the whole quote", l.sizeField, l.size, qty)
		}
		if in.OrderQty != nil && *in.OrderQty != qty {
			return invalid("order_qty %d must equal the quoted size %d: an accept takes the whole quote", *in.OrderQty, qty)
		}
		if l.price != nil && !l.price.Equal(price) {
			return invalid("%s %s must equal the quoted price %s", l.priceField, l.price, price)
		}
		if prev, ok, err := tx.OrderByReqID(user, in.QuoteMsgID); err != nil {
			return err
		} else if ok && prev.TradingDate == date {
			return reject(&market.Reject{Code: CodeDuplicateClOrdID, Message: fmt.Sprintf("duplicate ClOrdID %s for trading date %s", in.QuoteMsgID, date)})
		}
		if r := s.ptOpen(inst); r != nil {
			return reject(r)
		}
		if r := inst.CheckPrice(market.LO, &price); r != nil {
			return reject(r)
		}
		side := sideOf(respSide)
		if r := pretrade.CheckRestrictions(orderRules, in.Account, inst, side); r != nil {
			return reject(r)
		}
		vp, err := venue.PriceFromDecimal(price)
		if err != nil {
			return err
		}
		vo := venue.Order{ID: "0", Account: in.Account, Symbol: inst.ISIN, Side: side, Type: venue.LO, Price: vp, Qty: qty}
		h, r := pretrade.Hold(vo, acct, inst, pretrade.Flags(riskRules, in.Account, inst.ISIN))
		if r != nil {
			return reject(r)
		}
		if acct, err = pretrade.Apply(acct, h); err != nil {
			return err
		}
		if acct, err = settle(acct, h, price, qty, "your account"); err != nil {
			return err
		}
		qa, ok, err := tx.Account(qo.AccountCode)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("trading: account %s of quote %s is gone", qo.AccountCode, q.QuoteID)
		}
		if qa, err = settle(qa, holdOf(qo), price, qty, "the quoting account"); err != nil {
			return err
		}
		if err := tx.PutAccount(acct); err != nil {
			return err
		}
		if err := tx.PutAccount(qa); err != nil {
			return err
		}
		value := price.Mul(decimal.NewFromInt(qty))
		qo.Status, qo.FilledQty, qo.FilledValue = store.OrderFilled, qty, value
		qo.Hold = store.OrderHold{UnitPrice: qo.Hold.UnitPrice}
		qo.QuoteRespID, qo.UpdatedAt = respID, now
		if qo.PartyID == "" {
			qo.PartyID, qo.PartyTraderID = orDefault(p.Firm, FirmID), p.Trader
		}
		if err := tx.PutOrder(qo); err != nil {
			return err
		}
		ro := store.Order{
			OriginalReqID: in.QuoteMsgID, ClOrdID: in.QuoteMsgID, TradingDate: date, AccountCode: in.Account, User: user,
			Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.BoardFor(qty), Side: respSide, Type: "LO",
			Price: price, OriginalPrice: price, Qty: qty, OriginalQty: qty, FilledQty: qty, FilledValue: value,
			Status: store.OrderFilled, Hold: store.OrderHold{UnitPrice: h.UnitPrice},
			QuoteID: q.QuoteID, QuoteRespID: respID, PartyID: orDefault(q.Parties.Firm, FirmID), PartyTraderID: q.Parties.Trader,
			CreatedAt: now, UpdatedAt: now,
		}
		_, err = tx.NewOrder(ro, true)
		return err
	})
	return err
}

// settle fills one side of a deal on a and gives back what the hold kept
// beyond the fill. The deal is made here, before anything has traded, so
// an account whose hold and free balance do not cover it (a bypassed or
// partly covered hold) refuses the deal with the cash or stock code; a
// venue fill, already traded, is booked even into a loan or a short.
func settle(a store.Account, h pretrade.HoldResult, price decimal.Decimal, qty int64, whose string) (store.Account, error) {
	out, rest, err := pretrade.Fill(a, h, price, qty)
	if err != nil {
		return a, err
	}
	if r := uncovered(a, out, h, whose); r != nil {
		return a, reject(r)
	}
	if !rest.Empty() {
		return pretrade.Release(out, rest)
	}
	return out, nil
}

// uncovered refuses a deal that took the free balance below zero, or
// further below it.
func uncovered(before, after store.Account, h pretrade.HoldResult, whose string) *market.Reject {
	if h.Side == venue.Buy {
		if after.CashAvailable.IsNegative() && after.CashAvailable.LessThan(before.CashAvailable) {
			return &market.Reject{Code: pretrade.CodeInsufficientCash, Message: fmt.Sprintf(
				"insufficient cash: %s cannot settle the deal (cash_available would be %s)", whose, after.CashAvailable)}
		}
		return nil
	}
	was, _ := before.Holding(h.Symbol)
	now, _ := after.Holding(h.Symbol)
	if now.SellableQty < 0 && now.SellableQty < was.SellableQty {
		return &market.Reject{Code: pretrade.CodeInsufficientStock, Message: fmt.Sprintf(
			"insufficient stock: %s cannot settle the deal (sellable_qty would be %d)", whose, now.SellableQty)}
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ---- KRX quote (T6) and its cancel (T7) ------------------------------------

// KQuote places, or with OrigQuoteMsgID replaces, a standing quote (POST
// /orders/kquote).
func (s *Service) KQuote(ctx context.Context, user string, in KQuoteRequest) (Ack, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return Ack{}, err
	}
	if len(in.QuoteMsgID) > 62 {
		return Ack{}, invalid("quote_msg_id must be at most 62 characters (its legs are named <quote_msg_id>-B and -S)")
	}
	if err := optionalID("orig_quote_msg_id", in.OrigQuoteMsgID); err != nil {
		return Ack{}, err
	}
	if in.OrigQuoteMsgID == in.QuoteMsgID {
		return Ack{}, invalid("orig_quote_msg_id must name an earlier kquote, not this one")
	}
	bid, err := readLeg("B", "bid_price", "bid_size", in.BidPrice, in.BidSize)
	if err != nil {
		return Ack{}, err
	}
	offer, err := readLeg("S", "offer_price", "offer_size", in.OfferPrice, in.OfferSize)
	if err != nil {
		return Ack{}, err
	}
	switch in.Side {
	case "":
	case "B":
		if offer.present {
			return Ack{}, invalid("offer_price and offer_size must be absent with side B (a bid-only quote)")
		}
	case "S":
		if bid.present {
			return Ack{}, invalid("bid_price and bid_size must be absent with side S (an offer-only quote)")
		}
	default:
		return Ack{}, invalid("side must be B or S, got %q", in.Side)
	}
	var legs []leg
	for _, l := range []leg{bid, offer} {
		if !l.present {
			continue
		}
		if err := l.complete(); err != nil {
			return Ack{}, err
		}
		legs = append(legs, l)
	}
	if len(legs) == 0 {
		return Ack{}, invalid("a kquote needs bid_price and bid_size, or offer_price and offer_size, or both")
	}
	if len(legs) == 2 && !bid.price.LessThan(*offer.price) {
		return Ack{}, invalid("bid_price %s must be below offer_price %s: a two-sided quote must not cross itself", bid.price, offer.price)
	}
	if err := s.checkTradeDate(in.TradeDate); err != nil {
		return Ack{}, err
	}
	date := s.clock.TradingDate()
	account, symbol := strings.TrimSpace(in.Account), strings.TrimSpace(in.Symbol)
	var old *kQuote
	if in.OrigQuoteMsgID != "" {
		s.desk.mu.Lock()
		if k, ok := s.desk.kquotes[in.OrigQuoteMsgID]; ok && k.TradingDate == date && k.Status != kqPending {
			cp := *k
			old = &cp
		}
		s.desk.mu.Unlock()
		if old != nil {
			oldInst, _ := s.master.ByISIN(old.ISIN)
			if account == "" {
				account = old.Account
			} else if account != old.Account {
				return Ack{}, invalid("account %s is not the account %s of kquote %s", account, old.Account, in.OrigQuoteMsgID)
			}
			if symbol == "" {
				symbol = oldInst.Ticker
			} else if x, ok := s.instrument(symbol); !ok || x.ISIN != old.ISIN {
				return Ack{}, invalid("symbol %s is not the symbol %s of kquote %s", symbol, oldInst.Ticker, in.OrigQuoteMsgID)
			}
		}
	}
	if account == "" {
		return Ack{}, invalid("account is required")
	}
	if symbol == "" {
		return Ack{}, invalid("symbol is required")
	}
	if err := s.tradeGrant(ctx, user, account); err != nil {
		return Ack{}, err
	}

	trace := s.begin(in.QuoteMsgID, latency.MsgKQuote, in.Body, user)
	fail := func(err error) (Ack, error) {
		s.failed(trace, err)
		return Ack{}, err
	}
	s.sweep(ctx)
	if in.OrigQuoteMsgID != "" {
		if old == nil {
			return fail(reject(&market.Reject{Code: CodeUnknownOrder, Message: fmt.Sprintf("unknown kquote %s", in.OrigQuoteMsgID)}))
		}
		if old.Status != kqActive {
			return fail(reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("kquote %s is %s and can no longer be replaced", in.OrigQuoteMsgID, old.Status)}))
		}
	}
	inst, r := s.tradable(symbol)
	if r != nil {
		return fail(reject(r))
	}
	k := &kQuote{MsgID: in.QuoteMsgID, OrigMsgID: in.OrigQuoteMsgID, Account: account, ISIN: inst.ISIN, Status: kqPending, TradingDate: date}
	if err := s.desk.reserveKQuote(k); err != nil {
		return fail(err)
	}
	legs2, err := s.placeKQuote(ctx, user, k, old, inst, legs, trace)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if k.Status == kqPending {
			delete(d.kquotes, k.MsgID)
		}
		if legs2 == nil {
			return fail(err)
		}
		// Stored, but routing failed: the quote stands with what the store
		// has; the caller sees the failure.
		s.abandon(trace)
		return Ack{}, err
	}
	return Ack{MsgType: latency.MsgKQuote, RequestID: in.QuoteMsgID, OrigRequestID: in.OrigQuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
}

// reserveKQuote takes a kquote id for the trading date.
func (d *desk) reserveKQuote(k *kQuote) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.kquotes[k.MsgID]; ok && prev.TradingDate == k.TradingDate {
		return reject(&market.Reject{Code: CodeDuplicateClOrdID, Message: fmt.Sprintf("kquote %s already exists on trading date %s", k.MsgID, k.TradingDate)})
	}
	d.kquotes[k.MsgID] = k
	return nil
}

// placeKQuote stores the new legs with their holds (and ends the replaced
// quote's legs) in one step, then takes the old legs out of the book and
// routes the new ones. It returns the stored legs (nil when nothing was
// stored).
func (s *Service) placeKQuote(ctx context.Context, user string, k, old *kQuote, inst market.Instrument, legs []leg, trace *latency.Trace) ([]store.Order, error) {
	ctx, done, err := s.openBook(ctx, inst.ISIN)
	if err != nil {
		return nil, err
	}
	defer done()
	if old != nil {
		// Kquote statuses change under the instrument's lock: re-read, so
		// of two replaces of one quote only the first goes through.
		s.desk.mu.Lock()
		status := s.desk.kquotes[old.MsgID].Status
		s.desk.mu.Unlock()
		if status != kqActive {
			return nil, reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("kquote %s is %s and can no longer be replaced", old.MsgID, status)})
		}
	}
	now, date := s.now(), s.clock.TradingDate()
	var stored []store.Order
	var verdicts []market.Verdict
	var outOfBook []int64 // old legs the book holds
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		stored, verdicts, outOfBook = nil, nil, nil
		if _, err := txTrade(tx, user, k.Account); err != nil {
			return err
		}
		riskRules, orderRules, err := s.rulesIn(ctx, tx)
		if err != nil {
			return err
		}
		if old != nil {
			var err error
			if outOfBook, err = s.endLegs(tx, old, inst, "replaced by kquote "+k.MsgID); err != nil {
				return err
			}
		}
		acct, _, err := tx.Account(k.Account)
		if err != nil {
			return err
		}
		var orders []store.Order
		for _, l := range legs {
			price := *l.price
			if inst.BoardFor(l.size) != inst.Board {
				// A kquote stands on the main board: its legs are round lots.
				return refused(market.CodeLot, "a kquote's sizes must be round lots (multiples of %d), got %d", inst.LotSize, l.size)
			}
			o := store.Order{
				OriginalReqID: k.MsgID + "-" + l.side, TradingDate: date, AccountCode: k.Account, User: user,
				Symbol: inst.Ticker, ISIN: inst.ISIN, MarketID: string(inst.Market), Board: inst.BoardFor(l.size), Side: l.side, Type: "LO",
				Price: price, OriginalPrice: price, Qty: l.size, OriginalQty: l.size, Status: store.OrderPendingNew,
				QuoteID: k.MsgID, CreatedAt: now, UpdatedAt: now,
			}
			o.ClOrdID = o.OriginalReqID
			rej, v, acct2, hold, err := s.check(tx, &o, acct, inst, true, &price, sideOf(l.side), orderRules, riskRules, date)
			if err != nil {
				return err
			}
			if rej != nil {
				return apperr.New(apperr.InvalidRequest, rej.Text(SourceOMS)+fmt.Sprintf(" (%s leg)", map[string]string{"B": "bid", "S": "offer"}[l.side]))
			}
			acct, o.Hold = acct2, hold
			orders = append(orders, o)
			verdicts = append(verdicts, v)
		}
		if err := tx.PutAccount(acct); err != nil {
			return err
		}
		for _, o := range orders {
			so, err := tx.NewOrder(o, true)
			if err != nil {
				return err
			}
			stored = append(stored, so)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := &s.desk
	d.mu.Lock()
	for _, o := range stored {
		k.Legs = append(k.Legs, o.ID)
	}
	k.Status = kqActive
	if old != nil {
		if cur, ok := d.kquotes[old.MsgID]; ok {
			cur.Status = kqReplaced
		}
	}
	d.mu.Unlock()
	// From here the venue acts: the store follows through the backlog,
	// whatever happens to this request.
	var steps []step
	for _, id := range outOfBook {
		steps = append(steps, s.cancelStep(store.Order{ID: id, ISIN: inst.ISIN, OriginalReqID: strconv.FormatInt(id, 10)}))
	}
	routed := false
	for i, o := range stored {
		if verdicts[i] == market.Accept {
			steps, routed = append(steps, s.routeStep(o, false)), true
		}
	}
	if routed {
		s.mark(trace, latency.RiskCompleted)
		s.mark(trace, latency.SentToGateway)
		s.mark(trace, latency.GatewayAccepted)
		s.mark(trace, latency.MarketStarted)
	}
	if err := s.after(ctx, inst.ISIN, steps...); err != nil {
		s.log.Warn("a kquote reached the venue; booking its reports waits for the store", "kquote", k.MsgID, "err", err)
	}
	if routed {
		s.end(trace, latency.MarketCompleted, latency.StatusOK)
	} else {
		s.end(trace, latency.RiskCompleted, "HELD")
	}
	return stored, nil
}

// endLegs cancels, in tx, the working legs of k (holds released) and
// returns those the book still holds, to be taken out of it after the
// commit. The caller holds the instrument's lock.
func (s *Service) endLegs(tx store.BackOfficeTx, k *kQuote, inst market.Instrument, why string) ([]int64, error) {
	var inBook []int64
	for _, id := range k.Legs {
		o, ok, err := tx.Order(id)
		if err != nil {
			return nil, err
		}
		if !ok || o.Status.Done() {
			continue
		}
		if o.Status.Pending() {
			return nil, reject(&market.Reject{Code: CodeCancelPending, Message: fmt.Sprintf("leg %s of kquote %s has a cancel or replace in progress", o.OriginalReqID, k.MsgID)})
		}
		if d := s.clock.Permit(inst, market.LO, market.Cancel); d.Verdict == market.Refuse {
			return nil, reject(d.Reject)
		}
		if _, live := s.venue.Live(inst.ISIN, strconv.FormatInt(id, 10)); live {
			inBook = append(inBook, id)
		}
		if err := cancelInStore(tx, o, why, store.OrderCanceled); err != nil {
			return nil, err
		}
	}
	return inBook, nil
}

// KQuoteCancel cancels standing quotes (POST /orders/kquote-cancel).
func (s *Service) KQuoteCancel(ctx context.Context, user string, in KQuoteCancelRequest) (Ack, error) {
	if err := requiredID("quote_msg_id", in.QuoteMsgID); err != nil {
		return Ack{}, err
	}
	if err := optionalID("orig_quote_msg_id", in.OrigQuoteMsgID); err != nil {
		return Ack{}, err
	}
	typ := int32(CancelQuote)
	if in.CancelType != nil {
		typ = *in.CancelType
	}
	symbol := strings.TrimSpace(in.Symbol)
	switch typ {
	case CancelQuote:
		if in.OrigQuoteMsgID == "" {
			return Ack{}, invalid("orig_quote_msg_id is required with quote_cancel_type 5 (or absent): it names the kquote to cancel")
		}
	case CancelBySymbol:
		if symbol == "" {
			return Ack{}, invalid("symbol is required with quote_cancel_type 1 (cancel by symbol)")
		}
	case CancelAll:
	default:
		return Ack{}, invalid("quote_cancel_type must be 1 (by symbol), 4 (all) or 5 (the quote named), got %d", typ)
	}
	trade, granted, err := s.tradeAccounts(ctx, user)
	if err != nil {
		return Ack{}, err
	}

	trace := s.begin(in.QuoteMsgID, latency.MsgKQuoteCancel, in.Body, user)
	fail := func(err error) (Ack, error) {
		s.failed(trace, err)
		return Ack{}, err
	}
	s.sweep(ctx)
	date := s.clock.TradingDate()
	var isin string
	if symbol != "" {
		inst, ok := s.instrument(symbol)
		if !ok {
			return fail(reject(&market.Reject{Code: market.CodeUnknownSymbol, Message: fmt.Sprintf("unknown symbol %s", symbol)}))
		}
		isin = inst.ISIN
	}
	// Pick the targets.
	byISIN := map[string][]*kQuote{}
	d := &s.desk
	d.mu.Lock()
	var refusal error
	switch typ {
	case CancelQuote:
		k, ok := d.kquotes[in.OrigQuoteMsgID]
		switch {
		case !ok || k.TradingDate != date || k.Status == kqPending || !granted[k.Account]:
			refusal = reject(&market.Reject{Code: CodeUnknownOrder, Message: fmt.Sprintf("unknown kquote %s", in.OrigQuoteMsgID)})
		case !trade[k.Account]:
			refusal = errNoTradeGrant
		case k.Status != kqActive:
			refusal = reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("kquote %s is %s", in.OrigQuoteMsgID, k.Status)})
		case isin != "" && k.ISIN != isin:
			refusal = invalid("symbol %s is not the symbol of kquote %s", symbol, in.OrigQuoteMsgID)
		default:
			cp := *k
			byISIN[k.ISIN] = append(byISIN[k.ISIN], &cp)
		}
	default:
		for _, k := range d.kquotes {
			if k.Status == kqActive && k.TradingDate == date && trade[k.Account] && (isin == "" || k.ISIN == isin) {
				cp := *k
				byISIN[k.ISIN] = append(byISIN[k.ISIN], &cp)
			}
		}
		if len(byISIN) == 0 {
			refusal = reject(&market.Reject{Code: CodeUnknownOrder, Message: "no open kquote to cancel"})
		}
	}
	d.mu.Unlock()
	if refusal != nil {
		if apperr.CodeOf(refusal) == apperr.Forbidden {
			s.abandon(trace)
			return Ack{}, refusal
		}
		return fail(refusal)
	}
	isins := make([]string, 0, len(byISIN))
	for i := range byISIN {
		isins = append(isins, i)
	}
	sort.Strings(isins)
	// The session must allow cancelling every leg before any is cancelled.
	for _, i := range isins {
		inst, _ := s.master.ByISIN(i)
		if dc := s.clock.Permit(inst, market.LO, market.Cancel); dc.Verdict == market.Refuse {
			return fail(reject(dc.Reject))
		}
	}
	s.mark(trace, latency.RiskCompleted)
	s.mark(trace, latency.SentToGateway)
	s.mark(trace, latency.GatewayAccepted)
	s.mark(trace, latency.MarketStarted)
	for _, i := range isins {
		inst, _ := s.master.ByISIN(i)
		if err := s.cancelKQuotes(ctx, user, inst, byISIN[i], in.QuoteMsgID, typ == CancelQuote); err != nil {
			if apperr.CodeOf(err) == apperr.InvalidRequest {
				s.end(trace, latency.MarketCompleted, latency.StatusRejected)
				return Ack{}, err
			}
			s.abandon(trace)
			return Ack{}, err
		}
	}
	s.end(trace, latency.MarketCompleted, latency.StatusOK)
	d.mu.Lock()
	defer d.mu.Unlock()
	return Ack{MsgType: latency.MsgKQuoteCancel, RequestID: in.QuoteMsgID, OrigRequestID: in.OrigQuoteMsgID, ClientID: user, SourceSequence: d.next()}, nil
}

// cancelKQuotes cancels the legs of ks (all on inst) in one store step,
// takes them out of the book and marks the quotes CANCELLED.
func (s *Service) cancelKQuotes(ctx context.Context, user string, inst market.Instrument, ks []*kQuote, msgID string, named bool) error {
	ctx, done, err := s.openBook(ctx, inst.ISIN)
	if err != nil {
		return err
	}
	defer done()
	// Kquote statuses change under the instrument's lock: keep those still
	// active.
	s.desk.mu.Lock()
	live := ks[:0:0]
	for _, k := range ks {
		cur, ok := s.desk.kquotes[k.MsgID]
		switch {
		case ok && cur.Status == kqActive:
			live = append(live, k)
		case named:
			s.desk.mu.Unlock()
			return reject(&market.Reject{Code: CodeCompleted, Message: fmt.Sprintf("kquote %s is no longer active", k.MsgID)})
		}
	}
	s.desk.mu.Unlock()
	ks = live
	var inBook []int64
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		inBook = nil
		for _, k := range ks {
			if _, err := txTrade(tx, user, k.Account); err != nil {
				return err
			}
			ids, err := s.endLegs(tx, k, inst, "kquote cancelled by "+msgID)
			if err != nil {
				return err
			}
			inBook = append(inBook, ids...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d := &s.desk
	d.mu.Lock()
	for _, k := range ks {
		if cur, ok := d.kquotes[k.MsgID]; ok && cur.Status == kqActive {
			cur.Status = kqCancelled
		}
	}
	d.mu.Unlock()
	var steps []step
	for _, id := range inBook {
		steps = append(steps, s.cancelStep(store.Order{ID: id, ISIN: inst.ISIN, OriginalReqID: strconv.FormatInt(id, 10)}))
	}
	if err := s.after(ctx, inst.ISIN, steps...); err != nil {
		s.log.Warn("kquote legs were cancelled in the book; booking the reports waits for the store", "err", err)
	}
	return nil
}

// ---- end of day ------------------------------------------------------------

// sweep runs ExpireQuotes for a desk message; a failure is logged and
// retried with the next message.
func (s *Service) sweep(ctx context.Context) {
	if err := s.ExpireQuotes(ctx); err != nil {
		s.log.Error("expiring put-through quotes failed", "err", err)
	}
}

// ExpireQuotes ends the open put-through quotes of past trading dates and
// of markets now Closed: their orders become EXPIRED and their holds are
// released. It then forgets the desk's records of past trading dates (the
// board starts empty each trading date). Quotes are not in a venue book,
// so the book's end-of-day expiry does not reach them: every desk message
// runs this first, and the session driver should run it when a market
// closes.
func (s *Service) ExpireQuotes(ctx context.Context) error {
	date := s.clock.TradingDate()
	d := &s.desk
	d.mu.Lock()
	var due []*ptQuote
	for _, q := range d.quotes {
		if !q.closed && q.OrderID != 0 && (q.TradingDate != date || s.clock.Session(q.Market) == market.Closed) {
			due = append(due, q)
		}
	}
	d.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].OrderID < due[j].OrderID })
	for _, q := range due {
		bctx, unlock, err := s.openBook(ctx, q.ISIN)
		if err != nil {
			return err
		}
		_, err = s.st.UpdateBackOffice(bctx, func(tx store.BackOfficeTx) error {
			o, ok, err := tx.Order(q.OrderID)
			if err != nil || !ok || o.Status.Done() || o.Status.Pending() {
				return err
			}
			return cancelInStore(tx, o, "the put-through quote expired at the end of the trading day", store.OrderExpired)
		})
		unlock()
		if err != nil {
			return err
		}
		d.mu.Lock()
		q.closed = true
		d.mu.Unlock()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, q := range d.quotes {
		if q.TradingDate != date && (q.closed || q.OrderID == 0) {
			delete(d.quotes, id)
			if d.quoteMsg[q.MsgID] == q {
				delete(d.quoteMsg, q.MsgID)
			}
		}
	}
	for id, k := range d.kquotes {
		if k.TradingDate != date && k.Status != kqPending {
			delete(d.kquotes, id)
		}
	}
	if len(d.ads) > 0 && d.ads[0].TradingDate != date {
		keep := d.ads[:0]
		for _, a := range d.ads {
			if a.TradingDate == date {
				keep = append(keep, a)
			} else if d.adByIOI[a.IoiID] == a {
				delete(d.adByIOI, a.IoiID)
			}
		}
		clear(d.ads[len(keep):])
		d.ads = keep
	}
	return nil
}

// QuoteResponses returns the answers quote id received (tests, demos).
func (s *Service) QuoteResponses(id string) []QuoteResponseRecord {
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	q, ok := d.quotes[id]
	if !ok {
		return nil
	}
	return slices.Clone(q.Responses)
}
